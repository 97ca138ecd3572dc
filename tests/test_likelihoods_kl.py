"""Likelihoods, KL terms, entropy and the reparameterization: values against closed forms or
direct formulas, gradients against central differences (float64)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from minivae import kl, likelihoods
from minivae.estimators import reparameterize, reparameterize_backward
from minivae.gradcheck import numerical_gradient, relative_error
from minivae.params import Params

TOL = 1e-6
LIKS = [("bernoulli", {}), ("gaussian", {"sigma": 0.7}), ("gaussian-learned", {}),
        ("gaussian-perpixel", {}), ("laplace", {"scale": 0.3})]


def _setup(name, opts, rng, b=4, D=6):
    lik = likelihoods.make_likelihood({"name": name, **opts})
    P = Params(lik.param_shapes() or {"unused": (1,)}, np.float64)
    lik.init(P)
    if "log_sigma" in P:
        P["log_sigma"][...] = -0.4
    x = rng.random((b, D))
    out = rng.standard_normal((b, lik.out_dim(D)))
    if name == "laplace":   # keep |out - x| away from the kink at 0
        r = out[:, :D] - x
        out[:, :D] += np.where(np.abs(r) < 1e-3, 1e-2, 0)
    return lik, P, x, out


@pytest.mark.parametrize("name,opts", LIKS)
def test_likelihood_gradient(name, opts, rng):
    lik, P, x, out = _setup(name, opts, rng)
    f_plain = lambda: float(np.sum(lik.nll(x, out, P)))
    num_out = numerical_gradient(f_plain, out)
    # weight = 1, and the weight the model passes (1 / B): the gradient must scale with it
    for weight in (1.0, 0.25):
        P.zero_grad()
        nll, g = lik.nll_and_grad(x, out.copy(), P, weight=weight)
        np.testing.assert_allclose(nll, lik.nll(x, out, P), rtol=1e-12)
        assert relative_error(g, weight * num_out) < TOL
        if lik.param_shapes():
            assert relative_error(P.grad, weight * numerical_gradient(f_plain, P.data)) < TOL


@pytest.mark.parametrize("name,opts", LIKS)
def test_likelihood_matches_scipy(name, opts, rng):
    """Each nll is the full normalized -log density, constants included."""
    lik, P, x, out = _setup(name, opts, rng)
    D = x.shape[1]
    nll = lik.nll(x, out, P)
    if name == "bernoulli":
        p = 1 / (1 + np.exp(-out))
        ref = -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(1)
    elif name == "gaussian":
        ref = -stats.norm.logpdf(x, out, 0.7).sum(1)
    elif name == "gaussian-learned":
        ref = -stats.norm.logpdf(x, out, math.exp(-0.4)).sum(1)
    elif name == "gaussian-perpixel":
        ref = -stats.norm.logpdf(x, out[:, :D], np.exp(0.5 * out[:, D:])).sum(1)
    else:
        ref = -stats.laplace.logpdf(x, out, 0.3).sum(1)
    np.testing.assert_allclose(nll, ref, rtol=1e-10)


def test_bernoulli_stable_for_huge_logits():
    logits = np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]])
    x = np.array([[0.0, 1.0, 0.5, 0.0, 1.0]])
    nll, g = likelihoods.bernoulli_nll(x, logits)
    assert np.all(np.isfinite(nll)) and np.all(np.isfinite(g))
    # exact: softplus(l) - x l per pixel
    per = np.array([0.0, 100.0, math.log(2), 100.0, 0.0])
    np.testing.assert_allclose(nll, per.sum(), rtol=1e-12)
    np.testing.assert_allclose(g, [[0.0, -1.0, 0.0, 1.0, 0.0]], atol=1e-15)
    for dt in (np.float32, np.float64):
        n32, g32 = likelihoods.bernoulli_nll(x.astype(dt), logits.astype(dt))
        assert np.all(np.isfinite(n32)) and np.all(np.isfinite(g32))


@given(b=st.integers(1, 5), d=st.integers(1, 6), seed=st.integers(0, 9999))
def test_kl_diag_value_and_gradient(b, d, seed):
    rng = np.random.default_rng(seed)
    mu, lv = rng.standard_normal((b, d)), rng.standard_normal((b, d))
    value = kl.kl_diag_normal(mu, lv)
    # against the general formula for two Gaussians, term by term
    ref = np.sum(np.log(1 / np.exp(0.5 * lv)) + (np.exp(lv) + mu ** 2) / 2 - 0.5, axis=1)
    np.testing.assert_allclose(value, ref, rtol=1e-10, atol=1e-12)
    assert np.all(value >= 0)
    f = lambda: float(np.sum(kl.kl_diag_normal(mu, lv)))
    gmu, glv = kl.kl_diag_normal_backward(mu, lv)
    assert relative_error(gmu, numerical_gradient(f, mu)) < TOL
    assert relative_error(glv, numerical_gradient(f, lv)) < TOL


def test_kl_diag_zero_only_at_prior():
    assert kl.kl_diag_normal(np.zeros((1, 5)), np.zeros((1, 5)))[0] == 0.0
    assert kl.kl_diag_normal(np.full((1, 5), 1e-3), np.zeros((1, 5)))[0] > 0


def test_kl_diag_against_monte_carlo(rng):
    mu, lv = np.array([[0.5, -1.0, 0.2]]), np.array([[-0.3, 0.4, -1.2]])
    z = mu + np.exp(0.5 * lv) * rng.standard_normal((200_000, 3))
    mc = np.mean(kl.log_normal_diag(z, mu, lv) - kl.log_standard_normal(z))
    assert abs(mc - kl.kl_diag_normal(mu, lv)[0]) < 0.01


@pytest.mark.parametrize("d", [1, 2, 20])
def test_kl_isotropic_has_d_log_sigma(d, rng):
    """Lecture 000's isotropic KL needs -d log sigma: it must equal the diagonal KL with all
    log-variances 2 log sigma, and vanish at the prior for every d."""
    mu = rng.standard_normal((3, d))
    s = -0.37
    np.testing.assert_allclose(kl.kl_isotropic_normal(mu, s),
                               kl.kl_diag_normal(mu, np.full((3, d), 2 * s)), rtol=1e-12)
    assert abs(kl.kl_isotropic_normal(np.zeros((1, d)), 0.0)[0]) < 1e-15
    # the slide's version (-log sigma) is not zero at the prior's sigma... it is, at s = 0, but
    # it is wrong elsewhere: it disagrees with the diagonal formula whenever d > 1 and s != 0
    slide = -s - 0.5 * d + 0.5 * np.sum(mu * mu, 1) + 0.5 * d * math.exp(2 * s)
    if d > 1:
        assert np.all(np.abs(slide - kl.kl_diag_normal(mu, np.full((3, d), 2 * s))) > 1e-3)
    sarr = np.array([s])
    f = lambda: float(np.sum(kl.kl_isotropic_normal(mu, sarr[0])))
    gmu, gs = kl.kl_isotropic_normal_backward(mu, sarr[0])
    assert relative_error(gmu, numerical_gradient(f, mu)) < TOL
    assert relative_error(3 * gs, numerical_gradient(f, sarr)) < TOL


def test_gaussian_entropy(rng):
    lv = rng.standard_normal((4, 3))
    ref = stats.multivariate_normal(np.zeros(3), np.diag(np.exp(lv[0]))).entropy()
    np.testing.assert_allclose(kl.gaussian_entropy(lv)[0], ref, rtol=1e-12)
    f = lambda: float(np.sum(kl.gaussian_entropy(lv)))
    assert relative_error(kl.gaussian_entropy_backward(lv), numerical_gradient(f, lv)) < TOL


def test_log_normal_diag_matches_scipy(rng):
    z, mu, lv = rng.standard_normal((3, 5, 4))
    ref = stats.norm.logpdf(z, mu, np.exp(0.5 * lv)).sum(-1)
    np.testing.assert_allclose(kl.log_normal_diag(z, mu, lv), ref, rtol=1e-12)
    np.testing.assert_allclose(kl.log_standard_normal(z), stats.norm.logpdf(z).sum(-1), rtol=1e-12)


@given(b=st.integers(1, 5), d=st.integers(1, 5), seed=st.integers(0, 9999))
def test_reparameterization_gradient(b, d, seed):
    rng = np.random.default_rng(seed)
    mu, lv, eps, w = rng.standard_normal((4, b, d))
    f = lambda: float(np.sum(w * reparameterize(mu, lv, eps)[0]))
    z, std = reparameterize(mu, lv, eps)
    np.testing.assert_allclose(z, mu + np.exp(lv / 2) * eps)
    dmu, dlv = reparameterize_backward(w.copy(), eps, std)
    assert relative_error(dmu, numerical_gradient(f, mu)) < TOL
    assert relative_error(dlv, numerical_gradient(f, lv)) < TOL


def test_reparameterized_samples_have_the_right_moments(rng):
    mu, lv = np.array([[1.0, -2.0]]), np.array([[0.0, np.log(4.0)]])
    z, _ = reparameterize(mu, lv, rng.standard_normal((100_000, 2)))
    np.testing.assert_allclose(z.mean(0), [1.0, -2.0], atol=0.03)
    np.testing.assert_allclose(z.var(0), [1.0, 4.0], rtol=0.03)


def test_kl_and_logsumexp_accept_lists_like_arrays():
    from minivae.kl import kl_categorical_uniform, kl_diag_normal
    from minivae.logspace import logsumexp
    logits = [[0.5, -1.0, 2.0]]
    np.testing.assert_array_equal(kl_categorical_uniform(logits), kl_categorical_uniform(np.array(logits)))
    np.testing.assert_array_equal(kl_diag_normal([[1.0, 0.0]], [[0.0, 0.5]]),
                                  kl_diag_normal(np.array([[1.0, 0.0]]), np.array([[0.0, 0.5]])))
    assert logsumexp([1, 2, 3]) == logsumexp(np.array([1.0, 2.0, 3.0]))
