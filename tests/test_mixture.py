"""Gaussian mixture by EM (minivae.mixture): the ELBO identity, monotone EM, the M-step as the
maximizer of Q, densities against scipy, parameter recovery, degenerate data, bad input, and the
clustering accuracy (by hand and on real MNIST)."""
import contextlib
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.optimize import linear_sum_assignment

from minivae import blas
from minivae.errors import DataFileError, DownloadError, InputTypeError, ValidationError
from minivae.mixture import (EMPTY_MASS, GaussianMixture, cluster_accuracy,
                             expected_complete_log_likelihood, gmm_elbo)

CTYPES = ["full", "diag", "spherical"]


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """The matrices here are small (at most 3000 x 30): BLAS threads only add their waiting,
    which on a machine shared with other processes makes the tests ten times slower."""
    with blas.threads(1) if blas.available() else contextlib.nullcontext():
        yield


# -- helpers: the same quantities computed directly with scipy -----------------------------------
def dense(cov, ctype, d):
    """(K, D, D) covariance matrices of any covariance type."""
    cov = np.asarray(cov, dtype=np.float64)
    if ctype == "full":
        return cov
    if ctype == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([c * np.eye(d) for c in cov])


def scipy_log_joint(x, weights, means, cov, ctype):
    """(N, K) log pi_c + log N(x | m_c, S_c) with scipy.stats.multivariate_normal."""
    covs = dense(cov, ctype, x.shape[1])
    return np.stack([math.log(w) + stats.multivariate_normal(m, s).logpdf(x).reshape(len(x))
                     for w, m, s in zip(weights, means, covs)], axis=1)


def log_evidence(lj):
    m = lj.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(lj - m).sum(axis=1, keepdims=True)))[:, 0]


def random_params(rng, k, d, ctype):
    weights = rng.dirichlet(np.ones(k) * 2)
    means = rng.normal(0, 2, (k, d))
    if ctype == "full":
        a = rng.normal(size=(k, d, d))
        cov = a @ np.swapaxes(a, 1, 2) + 0.3 * np.eye(d)
    elif ctype == "diag":
        cov = rng.uniform(0.3, 2.0, (k, d))
    else:
        cov = rng.uniform(0.3, 2.0, k)
    return weights, means, cov


def blobs(rng, n, d, k, spread=3.0):
    centres = rng.normal(0, spread, (k, d))
    return centres[rng.integers(k, size=n)] + rng.normal(size=(n, d))


def reg_bound(gm, n):
    """How far one EM iteration may lower the mean log-likelihood because reg_covar is added.

    The drop is at most Q(exact M-step) - Q(M-step + reg I). For a component with scatter
    eigenvalues lam_i (the covariance's minus reg) that is N_c / 2 sum_i [log(1 + r / lam_i) -
    r / (lam_i + r)], which tends to 0 with r and is infinite for a collapsed component.
    """
    r, d = gm.reg_covar, gm.means_.shape[1]
    if gm.covariance_type == "full":
        lam = np.linalg.eigvalsh(gm.covariances_) - r
    elif gm.covariance_type == "diag":
        lam = gm.covariances_ - r
    else:
        lam = np.repeat((gm.covariances_ - r)[:, None], d, axis=1)
    safe = np.where(lam > 0, lam, 1.0)
    g = np.where(lam > 0, np.log1p(r / safe) - r / (safe + r), np.inf)
    return float(np.sum(gm.weights_ * n * g.sum(axis=1)) / (2 * n))


# -- the ELBO view of EM -------------------------------------------------------------------------
@given(seed=st.integers(0, 2 ** 32 - 1), k=st.integers(1, 4), d=st.integers(1, 3),
       n=st.integers(1, 6), ctype=st.sampled_from(CTYPES), sharp=st.floats(0.1, 30.0),
       zeros=st.booleans())
def test_elbo_plus_kl_is_log_evidence(seed, k, d, n, ctype, sharp, zeros):
    """ELBO(q) + KL(q || p(c|x)) = log p(x) for any q on the simplex (lecture 000)."""
    rng = np.random.default_rng(seed)
    weights, means, cov = random_params(rng, k, d, ctype)
    x = rng.normal(0, 3, (n, d))
    logits = sharp * rng.normal(size=(n, k))
    if zeros and k > 1:     # some q_c exactly 0: 0 log 0 = 0 in the entropy and in the KL
        logits[:, 0] = -np.inf
    q = np.exp(logits - logits.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    lj = scipy_log_joint(x, weights, means, cov, ctype)
    log_px = log_evidence(lj)
    log_post = lj - log_px[:, None]
    kl = np.sum(np.where(q > 0, q * (np.log(np.where(q > 0, q, 1)) - log_post), 0), axis=1)
    elbo = gmm_elbo(x, q, weights, means, cov, ctype)
    assert elbo.shape == (n,)
    np.testing.assert_allclose(elbo + kl, log_px, rtol=1e-10, atol=1e-10)
    assert np.all(elbo <= log_px + 1e-10)
    # ELBO = Q + entropy of q
    q_term = expected_complete_log_likelihood(x, q, weights, means, cov, ctype)
    ent = -np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1)), 0), axis=1)
    np.testing.assert_allclose(elbo, q_term + ent, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ctype", CTYPES)
def test_elbo_is_log_evidence_after_e_step(ctype):
    rng = np.random.default_rng(3)
    x = blobs(rng, 60, 2, 3)
    gm = GaussianMixture(3, covariance_type=ctype)
    gm.m_step(x, gm.initial_responsibilities(x, 1))
    q = gm.e_step(x)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(gm.elbo(x, q), gm.score_samples(x), rtol=1e-12, atol=1e-12)
    # any other q gives strictly less
    other = np.roll(q, 1, axis=1)
    assert np.all(gm.elbo(x, other) < gm.score_samples(x))
    np.testing.assert_array_equal(q, gm.predict_proba(x))


@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(5, 40), d=st.integers(1, 3),
       k=st.integers(1, 4), ctype=st.sampled_from(CTYPES), init=st.sampled_from(["kmeans++", "random"]))
@settings(max_examples=20)
def test_log_likelihood_never_decreases(seed, n, d, k, ctype, init):
    """Each E-step + M-step raises log p(x), except by the (bounded, tiny) effect of reg_covar."""
    rng = np.random.default_rng(seed)
    x = blobs(rng, n, d, k)
    gm = GaussianMixture(k, covariance_type=ctype, init=init)
    gm.m_step(x, gm.initial_responsibilities(x, seed))
    prev = gm.score(x)
    checked = 0
    for _ in range(15):
        gm.m_step(x, gm.e_step(x))
        ll = gm.score(x)
        if len(gm.reseeded_) == 0:       # a re-seed is not an EM step (documented)
            assert ll >= prev - reg_bound(gm, n) - 1e-12 * (1 + abs(ll)), (prev, ll)
            checked += 1
        prev = ll
    assert checked > 0


@pytest.mark.parametrize("ctype", CTYPES)
def test_fit_is_the_public_steps_in_a_loop(ctype):
    """fit = initial responsibilities, then M-step, E-step, ... with restart j drawing from
    default_rng(SeedSequence(seed).spawn(n_init)[j]); its history_ is the by-hand sequence,
    so the monotonicity checked above holds for fit too."""
    x = blobs(np.random.default_rng(4), 80, 2, 3)
    fit = GaussianMixture(3, covariance_type=ctype, seed=6, tol=1e-7, max_iter=500).fit(x)
    gm = GaussianMixture(3, covariance_type=ctype)
    q = gm.initial_responsibilities(x, np.random.default_rng(np.random.SeedSequence(6).spawn(1)[0]))
    by_hand = []
    for _ in range(fit.n_iter_):
        gm.m_step(x, q)
        by_hand.append(gm.score(x))
        q = gm.e_step(x)
    np.testing.assert_allclose(fit.history_, by_hand, rtol=1e-12)
    np.testing.assert_allclose(fit.means_, gm.means_, rtol=1e-12)
    assert fit.converged_ and abs(fit.history_[-1] - fit.history_[-2]) < 1e-7
    assert fit.n_reseeded_ == 0
    assert np.all(np.diff(fit.history_) >= -reg_bound(fit, 80) - 1e-12)


def test_reg_bound_is_what_limits_the_drop():
    """Sanity of the helper above: exact when no reg, and zero drop allowed as reg -> 0."""
    gm = GaussianMixture(1, covariance_type="diag", reg_covar=1e-12)
    x = np.random.default_rng(0).normal(size=(50, 2))
    gm.m_step(x, np.ones((50, 1)))
    assert 0 <= reg_bound(gm, 50) < 1e-20


@pytest.mark.parametrize("ctype", CTYPES)
@given(seed=st.integers(0, 2 ** 32 - 1), k=st.integers(1, 3), d=st.integers(1, 3))
@settings(max_examples=10)
def test_m_step_maximizes_q(ctype, seed, k, d):
    """Moving any parameter away from the M-step's (weight on the simplex, mean entry,
    covariance entry keeping it SPD) lowers the expected complete-data log-likelihood Q."""
    rng = np.random.default_rng(seed)
    n = 30
    x = rng.normal(0, 2, (n, d))
    q = rng.dirichlet(np.ones(k), size=n)
    gm = GaussianMixture(k, covariance_type=ctype, reg_covar=1e-12).m_step(x, q)
    w, m, s = gm.weights_, gm.means_, gm.covariances_

    def Q(w_, m_, s_):
        return float(np.sum(expected_complete_log_likelihood(x, q, w_, m_, s_, ctype)))

    best = Q(w, m, s)
    eps = 1e-3
    for sign in (1.0, -1.0):
        for a in range(k):
            for b in range(k):
                if a != b:
                    w2 = w.copy()
                    w2[a] += sign * eps
                    w2[b] -= sign * eps
                    if np.all(w2 > 0):
                        assert Q(w2, m, s) < best
            for i in range(d):
                m2 = m.copy()
                m2[a, i] += sign * eps
                assert Q(w, m2, s) < best
        for idx in np.ndindex(s.shape):
            s2 = s.copy()
            s2[idx] += sign * eps
            if ctype == "full":
                s2[idx[0], idx[2], idx[1]] = s2[idx]     # keep it symmetric
                if np.linalg.eigvalsh(s2[idx[0]]).min() <= 0:
                    continue
            elif s2[idx] <= 0:
                continue
            assert Q(w, m, s2) < best


@pytest.mark.parametrize("ctype", CTYPES)
def test_m_step_is_the_weighted_moments(ctype):
    """The closed form, written out: N_c = sum_n q_nc, pi_c = N_c / N, m_c the q-weighted mean,
    S_c the q-weighted scatter (its diagonal for diag, the mean of that for spherical) + reg I."""
    rng = np.random.default_rng(12)
    n, d, k, reg = 50, 3, 4, 1e-6
    x = rng.normal(2.0, 1.5, (n, d)) * [1.0, 3.0, 0.2]
    q = rng.dirichlet(np.ones(k), size=n)
    gm = GaussianMixture(k, covariance_type=ctype, reg_covar=reg).m_step(x, q)
    np.testing.assert_allclose(gm.weights_, q.sum(axis=0) / n, rtol=1e-12)
    for c in range(k):
        m = np.average(x, axis=0, weights=q[:, c])
        s = np.cov(x.T, aweights=q[:, c], bias=True)
        expected = {"full": s + reg * np.eye(d), "diag": np.diag(s) + reg,
                    "spherical": np.mean(np.diag(s)) + reg}[ctype]
        np.testing.assert_allclose(gm.means_[c], m, rtol=1e-12)
        np.testing.assert_allclose(gm.covariances_[c], expected, rtol=1e-10)
    assert gm.reseeded_.size == 0


@pytest.mark.parametrize("ctype", CTYPES)
def test_data_far_from_the_origin_keep_their_variances(ctype):
    """x = 1e6 + noise of variance 1e-4: E[x^2] - E[x]^2 would cancel every digit; the M-step
    and the densities work on centred values and keep them."""
    rng = np.random.default_rng(13)
    x = 1e6 + 1e-2 * rng.normal(size=(400, 2)) + np.repeat([[0.0, 0.0], [0.1, 0.0]], 200, axis=0)
    gm = GaussianMixture(2, covariance_type=ctype, reg_covar=1e-12, seed=0).fit(x)
    q = gm.predict_proba(x)
    for c in range(2):
        s = np.cov(x.T, aweights=q[:, c], bias=True)
        expected = {"full": s, "diag": np.diag(s), "spherical": np.mean(np.diag(s))}[ctype]
        np.testing.assert_allclose(gm.covariances_[c], expected, rtol=1e-4)
    lj = scipy_log_joint(x, gm.weights_, gm.means_, gm.covariances_, ctype)
    np.testing.assert_allclose(gm.score_samples(x), log_evidence(lj), rtol=1e-7)
    assert cluster_accuracy(np.repeat([0, 1], 200), gm.predict(x)) == 1.0


def test_kmeanspp_seeds_every_far_cluster():
    """k-means++ draws the next seed with probability proportional to the squared distance to
    the nearest seed, so two clusters of 5 points far from one of 1000 still each get a seed
    (probability about 0.9998 each time); uniform seeding would almost always miss them."""
    rng = np.random.default_rng(14)
    sizes = [1000, 5, 5]
    x = np.concatenate([c + 0.1 * rng.normal(size=(m, 2))
                        for c, m in zip([[0, 0], [100, 0], [0, 100]], sizes)])
    truth = np.repeat([0, 1, 2], sizes)
    gm = GaussianMixture(3)
    for seed in range(10):
        q = gm.initial_responsibilities(x, seed)
        assert set(np.unique(q)) == {0.0, 1.0}
        assert cluster_accuracy(truth, np.argmax(q, axis=1)) == 1.0
    r = GaussianMixture(3, init="random").initial_responsibilities(x, 0)
    assert np.all(r > 0) and np.allclose(r.sum(axis=1), 1)


# -- densities, predictions and sampling against direct computations -----------------------------
@pytest.mark.parametrize("ctype", CTYPES)
def test_scores_agree_with_scipy(ctype):
    rng = np.random.default_rng(7)
    x = blobs(rng, 200, 3, 3)
    gm = GaussianMixture(3, covariance_type=ctype, seed=1).fit(x)
    x_new = rng.normal(0, 4, (50, 3))
    lj = scipy_log_joint(x_new, gm.weights_, gm.means_, gm.covariances_, ctype)
    np.testing.assert_allclose(gm.score_samples(x_new), log_evidence(lj), rtol=1e-10)
    assert gm.score(x_new) == pytest.approx(np.mean(log_evidence(lj)), rel=1e-10)
    np.testing.assert_allclose(gm.predict_proba(x_new), np.exp(lj - log_evidence(lj)[:, None]),
                               rtol=1e-8, atol=1e-14)
    np.testing.assert_array_equal(gm.predict(x_new), np.argmax(lj, axis=1))
    assert gm.lower_bound_ == pytest.approx(gm.score(x), rel=1e-12)
    assert gm.history_[-1] == gm.lower_bound_ and len(gm.history_) == gm.n_iter_


def test_far_away_points_do_not_overflow():
    """log p(x) thousands of nats below zero: log-sum-exp keeps it, and the responsibilities."""
    gm = GaussianMixture(2, covariance_type="full").fit(np.random.default_rng(0).normal(size=(40, 2)))
    x = np.array([[300.0, -200.0], [1e3, 1e3]])
    lj = scipy_log_joint(x, gm.weights_, gm.means_, gm.covariances_, "full")
    np.testing.assert_allclose(gm.score_samples(x), log_evidence(lj), rtol=1e-10)
    assert np.all(np.isfinite(gm.predict_proba(x)))
    np.testing.assert_allclose(gm.predict_proba(x).sum(axis=1), 1.0)


@pytest.mark.parametrize("ctype", CTYPES)
def test_recovers_known_parameters(ctype):
    """Well-separated clusters: weights, means, covariances up to a permutation of the labels.

    Tolerances are about 5 standard errors at these sizes: weight sd = sqrt(w(1-w)/N) <= 0.009,
    mean sd = sigma / sqrt(N_c) <= 0.05, variance sd = sigma^2 sqrt(2 / N_c) <= 0.09.
    """
    rng = np.random.default_rng(11)
    n, d = 3000, 2
    weights = np.array([0.5, 0.3, 0.2])
    means = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    cov = {"full": np.array([[[1.0, 0.5], [0.5, 1.0]], [[0.5, 0.0], [0.0, 1.5]], [[1.0, -0.3], [-0.3, 0.5]]]),
           "diag": np.array([[1.0, 0.5], [0.5, 1.5], [1.2, 0.7]]),
           "spherical": np.array([1.0, 0.5, 1.5])}[ctype]
    labels = rng.choice(3, size=n, p=weights)
    covs = dense(cov, ctype, d)
    x = np.empty((n, d))
    for c in range(3):
        x[labels == c] = rng.multivariate_normal(means[c], covs[c], size=int(np.sum(labels == c)))
    gm = GaussianMixture(3, covariance_type=ctype, seed=0).fit(x)
    assert gm.converged_
    cost = ((gm.means_[:, None, :] - means[None]) ** 2).sum(-1)
    est, tru = linear_sum_assignment(cost)
    perm = est[np.argsort(tru)]
    np.testing.assert_allclose(gm.weights_[perm], weights, atol=0.045)
    np.testing.assert_allclose(gm.means_[perm], means, atol=0.25)
    np.testing.assert_allclose(gm.covariances_[perm], cov, atol=0.45 if ctype == "full" else 0.3)
    assert cluster_accuracy(labels, gm.predict(x)) > 0.99


def test_sample_follows_the_mixture():
    rng = np.random.default_rng(5)
    gm = GaussianMixture(2, covariance_type="full").fit(blobs(rng, 300, 2, 2, spread=6.0))
    x, c = gm.sample(20000, np.random.default_rng(1))
    assert x.shape == (20000, 2) and c.shape == (20000,) and c.dtype == np.int64
    # about 4 standard errors each
    np.testing.assert_allclose(np.bincount(c, minlength=2) / 20000, gm.weights_, atol=0.015)
    for j in range(2):
        np.testing.assert_allclose(x[c == j].mean(axis=0), gm.means_[j], atol=0.05)
        np.testing.assert_allclose(np.cov(x[c == j].T), gm.covariances_[j], atol=0.06)
    x2, c2 = gm.sample(20000, np.random.default_rng(1))
    np.testing.assert_array_equal(x, x2)
    for ctype in ("diag", "spherical"):
        g = GaussianMixture(2, covariance_type=ctype).fit(x[:500])
        xs, cs = g.sample(20000, 2)
        sd = np.sqrt(g.covariances_[cs] if ctype == "diag" else g.covariances_[cs][:, None])
        z = (xs - g.means_[cs]) / sd
        np.testing.assert_allclose(z.mean(axis=0), 0, atol=0.03)
        np.testing.assert_allclose(z.std(axis=0), 1, atol=0.03)


# -- seeds and restarts --------------------------------------------------------------------------
def test_reproducible_from_the_seed():
    x = blobs(np.random.default_rng(2), 200, 3, 5, spread=2.0)
    a = GaussianMixture(5, seed=4).fit(x)
    b = GaussianMixture(5, seed=4).fit(x)
    for name in ("weights_", "means_", "covariances_", "history_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = GaussianMixture(5, seed=5).fit(x)
    assert not np.array_equal(a.means_, c.means_)
    # float32 input is fitted in float64: same result
    d = GaussianMixture(5, seed=4).fit(x.astype(np.float32).astype(np.float64))
    e = GaussianMixture(5, seed=4).fit(x.astype(np.float32))
    np.testing.assert_array_equal(d.means_, e.means_)
    assert e.means_.dtype == np.float64


def test_n_init_keeps_the_best_restart():
    x = blobs(np.random.default_rng(8), 150, 2, 6, spread=2.5)
    one = GaussianMixture(6, init="random", seed=3, n_init=1).fit(x)
    many = GaussianMixture(6, init="random", seed=3, n_init=6).fit(x)
    lbs = many.restart_lower_bounds_
    assert lbs.shape == (6,)
    assert lbs[0] == one.lower_bound_            # restart 0 is the single run
    assert len(np.unique(np.round(lbs, 8))) > 1   # the restarts really differ here
    assert many.lower_bound_ == lbs.max() >= one.lower_bound_
    assert many.score(x) == pytest.approx(lbs.max(), rel=1e-12)


def test_select_balance_keeps_the_restart_with_the_most_even_weights():
    """Unequal blobs: the restarts differ, and the kept one is the argmax of the weights'
    entropy (balance) or of the log-likelihood (likelihood), over the same restarts."""
    rng = np.random.default_rng(8)
    x = np.concatenate([blobs(rng, n, 2, 1, spread=0.0) + 4.0 * c for c, n in enumerate((40, 90, 20, 150))])
    lik = GaussianMixture(6, init="random", seed=3, n_init=8).fit(x)
    bal = GaussianMixture(6, init="random", seed=3, n_init=8, select="balance").fit(x)
    np.testing.assert_array_equal(lik.restart_lower_bounds_, bal.restart_lower_bounds_)
    ent = bal.restart_weight_entropies_
    assert ent.shape == (8,) and len(np.unique(np.round(ent, 8))) > 1
    assert np.argmax(ent) != np.argmax(lik.restart_lower_bounds_)    # the two criteria disagree here
    assert -np.sum(bal.weights_ * np.log(bal.weights_)) == pytest.approx(ent.max(), rel=1e-12)
    assert bal.lower_bound_ == bal.restart_lower_bounds_[np.argmax(ent)]
    assert lik.lower_bound_ == lik.restart_lower_bounds_.max()
    assert -np.sum(lik.weights_ * np.log(lik.weights_)) == pytest.approx(ent[np.argmax(lik.restart_lower_bounds_)])
    assert "select='balance'" in repr(bal)


# -- degenerate data -----------------------------------------------------------------------------
@pytest.mark.parametrize("ctype", CTYPES)
@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_duplicate_points_stay_finite(ctype, init):
    """All examples equal: every covariance is reg_covar I, log p = -D/2 log(2 pi reg_covar)."""
    d, reg = 3, 1e-6
    x = np.tile([[1.0, -2.0, 0.5]], (20, 1))
    gm = GaussianMixture(2, covariance_type=ctype, init=init, reg_covar=reg).fit(x)
    expected = -0.5 * d * math.log(2 * math.pi * reg)
    np.testing.assert_allclose(gm.score_samples(x), expected, rtol=1e-9)
    np.testing.assert_allclose(gm.means_, x[:2], atol=1e-9)
    np.testing.assert_allclose(dense(gm.covariances_, ctype, d), np.stack([reg * np.eye(d)] * 2),
                               rtol=1e-6, atol=1e-15)
    if init == "kmeans++":    # both seeds on the same point: the second component starts empty
        assert gm.n_reseeded_ >= 1


@pytest.mark.parametrize("ctype", CTYPES)
def test_one_example_one_component(ctype):
    x = np.array([[3.0, 4.0]])
    gm = GaussianMixture(1, covariance_type=ctype).fit(x)
    np.testing.assert_array_equal(gm.weights_, [1.0])
    np.testing.assert_allclose(gm.means_, x)
    np.testing.assert_allclose(dense(gm.covariances_, ctype, 2)[0], 1e-6 * np.eye(2), rtol=1e-9)
    assert gm.score(x) == pytest.approx(-math.log(2 * math.pi * 1e-6), rel=1e-12)
    assert gm.converged_ and gm.predict(x).tolist() == [0]


@pytest.mark.parametrize("ctype", CTYPES)
def test_empty_component_is_reseeded_on_the_worst_explained_point(ctype):
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.normal(0, 1, (40, 2)), [[8.0, 8.0]]])
    dust = EMPTY_MASS / 100 / 41                           # N_1 = EMPTY_MASS / 100: empty
    q = np.zeros((41, 3))
    q[:, 1] = dust
    q[:20, 0] = 1 - dust
    q[20:, 2] = 1 - dust
    gm = GaussianMixture(3, covariance_type=ctype).m_step(x, q)
    assert gm.reseeded_.tolist() == [1]
    # what the other two components alone say about every example
    kept = GaussianMixture(2, covariance_type=ctype).m_step(x, q[:, [0, 2]] / q[:, [0, 2]].sum(1, keepdims=True))
    worst = int(np.argmin(kept.score_samples(x)))
    np.testing.assert_array_equal(gm.means_[1], x[worst])
    np.testing.assert_allclose(gm.covariances_[1], gm.covariances_[[0, 2]].mean(axis=0))
    assert gm.weights_[1] == pytest.approx(1 / 42) and gm.weights_.sum() == pytest.approx(1.0)
    assert np.all(np.isfinite(gm.score_samples(x)))
    # the EM that follows keeps going and uses the new component
    for _ in range(5):
        gm.m_step(x, gm.e_step(x))
    assert gm.weights_.min() > EMPTY_MASS


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,err,word", [
    ({"n_components": 0}, ValidationError, "n_components"),
    ({"n_components": 2.5}, InputTypeError, "n_components"),
    ({"covariance_type": "tied"}, ValidationError, "covariance_type"),
    ({"init": "kmeans"}, ValidationError, "init"),
    ({"reg_covar": 0.0}, ValidationError, "reg_covar"),
    ({"reg_covar": -1e-6}, ValidationError, "reg_covar"),
    ({"tol": 0}, ValidationError, "tol"),
    ({"tol": -1.0}, ValidationError, "tol"),
    ({"max_iter": 0}, ValidationError, "max_iter"),
    ({"n_init": 0}, ValidationError, "n_init"),
    ({"select": "bic"}, ValidationError, "select"),
    ({"seed": -1}, ValidationError, "seed"),
    ({"seed": "a"}, InputTypeError, "seed"),
])
def test_bad_constructor_arguments(kwargs, err, word):
    with pytest.raises(err, match=word):
        GaussianMixture(**{"n_components": 2, **kwargs})


def test_bad_data():
    x = np.random.default_rng(0).normal(size=(10, 3))
    gm = GaussianMixture(2)
    with pytest.raises(ValidationError, match="call fit first"):
        gm.predict(x)
    with pytest.raises(ValidationError, match="call fit first"):
        gm.score(x)
    with pytest.raises(ValidationError, match="call fit first"):
        gm.sample(3, 0)
    with pytest.raises(ValidationError, match="2-D"):
        gm.fit(x[:, 0])
    with pytest.raises(ValidationError, match="n_components.*at most.*3"):
        GaussianMixture(4).fit(x[:3])
    bad = x.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValidationError, match="finite.*row 4"):
        gm.fit(bad)
    bad[4, 1] = np.inf
    with pytest.raises(ValidationError, match="finite"):
        gm.fit(bad)
    with pytest.raises(InputTypeError, match="x"):
        gm.fit("data")
    with pytest.raises(InputTypeError, match="boolean"):
        gm.fit(x > 0)
    gm.fit(x)
    with pytest.raises(ValidationError, match="3 features"):
        gm.predict(x[:, :2])
    with pytest.raises(ValidationError, match="n: expected a positive integer"):
        gm.sample(0, 0)
    # integer data are numbers like any other
    assert GaussianMixture(1).fit(np.arange(12).reshape(6, 2)).means_.tolist() == [[5.0, 6.0]]


def test_bad_responsibilities_and_parameters():
    x = np.random.default_rng(0).normal(size=(6, 2))
    gm = GaussianMixture(2)
    q = np.full((6, 2), 0.5)
    with pytest.raises(ValidationError, match=r"q: expected shape \(N, K\) = \(6, 2\)"):
        gm.m_step(x, q[:, :1])
    with pytest.raises(ValidationError, match="row 3 sums to"):
        q2 = q.copy()
        q2[3] = [0.5, 0.6]
        gm.m_step(x, q2)
    with pytest.raises(ValidationError, match="non-negative"):
        gm.m_step(x, np.array([[1.5, -0.5]] * 6))
    w, m, s = np.array([0.5, 0.5]), np.zeros((2, 2)), np.stack([np.eye(2)] * 2)
    with pytest.raises(ValidationError, match="positive definite"):
        gmm_elbo(x, q, w, m, np.stack([np.eye(2), -np.eye(2)]), "full")
    with pytest.raises(ValidationError, match="symmetric"):
        gmm_elbo(x, q, w, m, np.stack([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]]), "full")
    with pytest.raises(ValidationError, match="weights"):
        gmm_elbo(x, q, np.array([0.5, 0.6]), m, s, "full")
    with pytest.raises(ValidationError, match=r"covariances: expected shape \(2, 2\)"):
        gmm_elbo(x, q, w, m, s, "diag")
    with pytest.raises(ValidationError, match="positive variances"):
        gmm_elbo(x, q, w, m, np.array([1.0, 0.0]), "spherical")
    with pytest.raises(ValidationError, match="means: expected 2 columns"):
        gmm_elbo(x, q, w, np.zeros((2, 3)), s, "full")


# -- clustering accuracy -------------------------------------------------------------------------
def test_cluster_accuracy_by_hand():
    truth = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    perm = np.array([2, 0, 1])[truth]
    assert cluster_accuracy(truth, perm) == 1.0
    assert cluster_accuracy([5, 5, -1], [7, 7, 3]) == 1.0       # any integer names
    # classes x clusters: class 0 -> {c1: 3, c0: 1}, class 1 -> {c0: 2, c2: 1}, class 2 -> {c2: 3}:
    # best matching 0-c1, 1-c0, 2-c2 keeps 3 + 2 + 3 = 8 of 10
    t = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    p = np.array([1, 1, 1, 0, 0, 0, 2, 2, 2, 2])
    assert cluster_accuracy(t, p) == pytest.approx(0.8)
    # more clusters than classes: c1 and c3 stay unmatched, their examples are errors
    assert cluster_accuracy([0, 0, 0, 1, 1, 1], [0, 0, 1, 2, 2, 3]) == pytest.approx(4 / 6)
    # fewer clusters than classes: one class has no cluster
    assert cluster_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 1, 1]) == pytest.approx(4 / 6)
    # class 0 -> {c0: 2, c1: 1}, class 1 -> {c0: 2}: a greedy matching (first largest cell)
    # takes 0-c0 and leaves class 1 with nothing, 2/5; the best is 0-c1, 1-c0, 3/5
    assert cluster_accuracy([0, 0, 0, 1, 1], [0, 0, 1, 0, 0]) == pytest.approx(3 / 5)


def test_cluster_accuracy_bad_input():
    with pytest.raises(ValidationError, match="as many labels"):
        cluster_accuracy([0, 1, 1], [0, 1])
    with pytest.raises(InputTypeError, match="labels_pred: expected integer"):
        cluster_accuracy([0, 1], [0.0, 1.0])
    with pytest.raises(ValidationError, match="labels_true: expected at least one"):
        cluster_accuracy(np.array([], dtype=int), np.array([], dtype=int))
    with pytest.raises(ValidationError, match="1-D"):
        cluster_accuracy(np.zeros((2, 2), dtype=int), np.zeros((2, 2), dtype=int))


# -- real data -----------------------------------------------------------------------------------
def _mnist(split):
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set: real MNIST is not available")
    from minivae import datasets
    try:
        return datasets.load("mnist", split, download=False)
    except (DataFileError, DownloadError, OSError) as e:
        pytest.skip(f"MNIST not found under MINIVAE_DATA: {e}")


def test_em_clusters_mnist_above_chance():
    """EM with 10 full-covariance components on a 20-D PCA (numpy SVD) of 2000 training
    digits: the clusters of 3000 test digits match their classes far above chance (0.1)."""
    train, test = _mnist("train"), _mnist("test")
    x = train.x[:2000].astype(np.float64)
    centre = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - centre, full_matrices=False)
    basis = vt[:20].T
    z = (x - centre) @ basis
    scale = z.std()
    gm = GaussianMixture(10, covariance_type="full", seed=0, max_iter=200).fit(z / scale)
    assert gm.converged_
    zt = (test.x[:3000].astype(np.float64) - centre) @ basis / scale
    acc = cluster_accuracy(test.y[:3000], gm.predict(zt))
    assert acc > 0.3, acc
