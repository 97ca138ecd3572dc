"""Gradient estimators against closed forms: REINFORCE and reparameterization variances for
d/dmu E_{N(mu,1)} z^2, Gumbel-max against softmax probabilities (chi-square), the Gumbel-softmax
backward pass against finite differences, and the categorical score function by enumeration.

Statistical tests are seeded, so they are deterministic; their tolerances are a fixed number of
standard errors (Z) of the quantity tested, computed from the samples, not tuned to pass."""
import numpy as np
import pytest
from scipy import stats

from minivae import estimators as E
from minivae.errors import InputTypeError, ValidationError
from minivae.gradcheck import check_gradient, numerical_gradient, relative_error
from minivae.kl import kl_categorical_uniform, kl_categorical_uniform_backward

Z = 5.0          # standard errors allowed: a true formula fails with probability < 1e-6
N = 400_000      # Monte Carlo samples per closed-form check


def _var_and_se(a):
    """Sample variance of a and its standard error sqrt((m4 - s^4) / n) (m4: 4th central moment)."""
    c = a - a.mean()
    s2 = np.mean(c * c)
    m4 = np.mean(c ** 4)
    return s2, np.sqrt((m4 - s2 * s2) / len(a))


def _gaussian_estimates(mu, seed):
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(N)
    z = mu + eps
    f = z * z
    plain = E.reinforce_gaussian(f, z, mu, 0.0)[0]
    with_mean = E.reinforce_gaussian(f, z, mu, 0.0, baseline=mu * mu + 1.0)[0]
    reparam = E.reparam_gaussian_gradient(lambda z: 2 * z, mu, 0.0, eps)[0]
    return {"reinforce": plain, "reinforce-exact-mean": with_mean, "reparam": reparam}


VARIANCE = {
    "reinforce": lambda mu: mu ** 4 + 14 * mu ** 2 + 15,
    "reinforce-exact-mean": lambda mu: 8 * mu ** 2 + 10,
    "reparam": lambda mu: 4.0,
}


@pytest.mark.parametrize("mu", [0.0, 0.7, -1.5, 2.5])
def test_gaussian_estimators_unbiased_with_closed_form_variances(mu):
    est = _gaussian_estimates(mu, seed=int(100 * abs(mu)) + (mu < 0))
    for name, a in est.items():
        se_mean = a.std() / np.sqrt(N)
        assert abs(a.mean() - 2 * mu) < Z * se_mean, f"{name}: mean {a.mean()} vs 2 mu = {2 * mu}"
        s2, se = _var_and_se(a)
        want = VARIANCE[name](mu)
        assert abs(s2 - want) < Z * se, f"{name}: variance {s2:.3f} vs {want:.3f} (se {se:.3f})"
        # The test can tell the three formulas apart: each is far from the others here.
        others = [VARIANCE[o](mu) for o in VARIANCE if o != name]
        assert all(abs(o - want) > 2 * Z * se for o in others)


def test_log_var_estimates_agree_between_reinforce_and_reparameterization():
    # d/dlog_var E z^2 = d/dlog_var (mu^2 + exp(log_var)) = exp(log_var)
    rng = np.random.default_rng(7)
    mu, lv = 0.4, np.log(0.5)
    eps = rng.standard_normal(N)
    z = mu + np.exp(lv / 2) * eps
    _, r = E.reinforce_gaussian(z * z, z, mu, lv, baseline="leave-one-out")
    _, p = E.reparam_gaussian_gradient(lambda z: 2 * z, mu, lv, eps)
    for a in (r, p):
        assert abs(a.mean() - np.exp(lv)) < Z * a.std() / np.sqrt(N)
    assert p.var() < r.var()


def test_gaussian_score_is_the_derivative_of_the_log_density():
    from minivae.kl import log_normal_diag
    rng = np.random.default_rng(3)
    z = rng.standard_normal((1, 4))
    params = np.concatenate([rng.standard_normal(4), rng.standard_normal(4) * 0.5])
    dmu, dlv = E.gaussian_score(z[0], params[:4], params[4:])
    num = numerical_gradient(lambda: float(log_normal_diag(z, params[:4], params[4:])[0]), params)
    assert relative_error(np.concatenate([dmu, dlv]), num) < 1e-8


def test_leave_one_out_and_running_mean_baselines_stay_unbiased_and_cut_variance():
    rng = np.random.default_rng(11)
    mu, S = 1.0, 4
    z = mu + rng.standard_normal((S, N // S))
    f = z * z
    plain = E.reinforce_gaussian(f, z, mu, 0.0)[0]
    loo = E.reinforce_gaussian(f, z, mu, 0.0, baseline="leave-one-out")[0]
    for a in (plain, loo):
        assert abs(a.mean() - 2 * mu) < Z * a.std() / np.sqrt(a.size)
    # b is independent of (f, eps) with mean E f, so the variance is that of the exact-mean
    # baseline plus Var(b) E[eps^2] = (8 mu^2 + 10) + Var(z^2) / (S - 1), Var(z^2) = 4 mu^2 + 2.
    s2, se = _var_and_se(loo.ravel())
    assert abs(s2 - (8 * mu ** 2 + 10 + (4 * mu ** 2 + 2) / (S - 1))) < Z * se
    assert loo.var() < 0.7 * plain.var()
    # a running mean uses only earlier batches: unbiased, and close to the exact-mean baseline
    rm = E.RunningMeanBaseline(decay=0.9)
    chunks = [E.reinforce_gaussian(f[:, i:i + 100], z[:, i:i + 100], mu, 0.0, baseline=rm)[0]
              for i in range(0, f.shape[1], 100)]
    est = np.concatenate([c.ravel() for c in chunks[5:]])
    assert abs(est.mean() - 2 * mu) < Z * est.std() / np.sqrt(est.size)
    assert rm.value == pytest.approx(mu * mu + 1, abs=0.3)
    # ... and nearly as good as the exact mean: b's own noise adds a few percent at most
    s2, se = _var_and_se(est)
    assert s2 < 1.05 * (8 * mu ** 2 + 10) + Z * se


def test_score_function_baselines_arithmetic():
    f = np.array([1.0, 2.0, 6.0])
    score = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(E.score_function(f, score), f[:, None] * score)
    np.testing.assert_allclose(E.score_function(f, score, baseline=2.0), (f - 2)[:, None] * score)
    loo = np.array([4.0, 3.5, 1.5])   # means of the other two samples
    np.testing.assert_allclose(E.score_function(f, score, "leave-one-out"), (f - loo)[:, None] * score)
    rm = E.RunningMeanBaseline(decay=0.5)
    np.testing.assert_allclose(E.score_function(f, score, rm), f[:, None] * score)   # first call: b = 0
    assert rm.value == pytest.approx(3.0)
    np.testing.assert_allclose(E.score_function(f, score, rm), (f - 3.0)[:, None] * score)
    assert rm.value == pytest.approx(3.0)


# ------------------------------------------------------------------------------------------------
# Categorical: score function, REINFORCE by enumeration
# ------------------------------------------------------------------------------------------------
LOGITS = np.array([0.8, -1.2, 0.1, 2.0, -0.3])
FVALS = np.array([3.0, -1.0, 0.5, 2.0, 7.0])


def test_categorical_score_has_zero_expectation():
    q = E.softmax(LOGITS)
    K = len(LOGITS)
    scores = E.categorical_score(LOGITS, np.arange(K))           # one row per class
    np.testing.assert_allclose(q @ scores, 0.0, atol=1e-15)
    # the score is the derivative of log q(z)
    logits = LOGITS.copy()
    for k in range(K):
        num = numerical_gradient(lambda: float(E.log_softmax(logits)[k]), logits)
        assert relative_error(scores[k], num) < 1e-8


@pytest.mark.parametrize("baseline", [None, 2.5, "leave-one-out"])
def test_categorical_reinforce_unbiased_against_enumeration(baseline):
    q = E.softmax(LOGITS)
    exact = q * (FVALS - q @ FVALS)            # d/dl sum_k softmax(l)_k f_k
    # enumeration through the log-derivative trick gives the same
    np.testing.assert_allclose(q @ (FVALS[:, None] * E.categorical_score(LOGITS, np.arange(5))), exact)
    rng = np.random.default_rng(5)
    S, M = 2, 150_000
    idx = E.gumbel_max(LOGITS, E.sample_gumbel((S, M, 5), rng))
    terms = E.reinforce_categorical(FVALS[idx], idx, LOGITS, baseline=baseline)
    est = terms.reshape(-1, 5)
    se = est.std(axis=0) / np.sqrt(len(est))
    assert np.all(np.abs(est.mean(axis=0) - exact) < Z * se), (est.mean(axis=0), exact, se)


def test_reinforce_categorical_accepts_one_hot_samples():
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 5, size=(3, 4))
    f = rng.standard_normal((3, 4))
    a = E.reinforce_categorical(f, idx, LOGITS)
    b = E.reinforce_categorical(f, E.one_hot(idx, 5), LOGITS)
    np.testing.assert_allclose(a, b)


# ------------------------------------------------------------------------------------------------
# Gumbel-max and Gumbel-softmax
# ------------------------------------------------------------------------------------------------
def test_gumbel_noise_has_the_gumbel_distribution():
    g = E.sample_gumbel(200_000, np.random.default_rng(0))
    assert stats.kstest(g, stats.gumbel_r.cdf).pvalue > 1e-3
    assert abs(g.mean() - np.euler_gamma) < Z * g.std() / np.sqrt(g.size)


def test_gumbel_max_samples_follow_softmax_probabilities():
    rng = np.random.default_rng(42)
    n = 200_000
    idx = E.gumbel_max(LOGITS, E.sample_gumbel((n, 5), rng))
    counts = np.bincount(idx, minlength=5)
    q = E.softmax(LOGITS)
    assert stats.chisquare(counts, n * q).pvalue > 1e-3
    # and the test has power: the counts are far from plausible under nearby wrong probabilities
    wrong = E.softmax(1.1 * LOGITS)
    assert stats.chisquare(counts, n * wrong).pvalue < 1e-10


@pytest.mark.parametrize("tau", [0.2, 1.0, 3.0])
def test_gumbel_softmax_backward_matches_finite_differences(tau):
    rng = np.random.default_rng(int(10 * tau))
    logits = rng.standard_normal((3, 4, 6))
    g = E.sample_gumbel(logits.shape, rng)           # the noise is held fixed
    w = rng.standard_normal(logits.shape)            # L = sum w * y, so dL/dy = w
    f = lambda: float(np.sum(w * E.gumbel_softmax(logits, g, tau)))
    grad = lambda: E.gumbel_softmax_backward(w, E.gumbel_softmax(logits, g, tau), tau)
    err, _, _ = check_gradient(f, grad, logits)
    assert err < 1e-7


def test_gumbel_softmax_limits_and_straight_through():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((50, 7))
    g = E.sample_gumbel(logits.shape, rng)
    y = E.gumbel_softmax(logits, g, 1.0)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0)
    hard = E.one_hot(E.gumbel_max(logits, g), 7)
    # as tau -> 0 the relaxed sample becomes the one-hot Gumbel-max sample: with tau a 40th of
    # the smallest gap between the two largest perturbed logits, every entry is within e^-40.
    top2 = np.sort(logits + g, axis=-1)[:, -2:]
    tau = float(np.min(top2[:, 1] - top2[:, 0])) / 40
    np.testing.assert_allclose(E.gumbel_softmax(logits, g, tau), hard, atol=7 * np.exp(-40))
    np.testing.assert_allclose(E.gumbel_softmax(logits, g, 1e4), 1 / 7, atol=1e-3)
    z, y2 = E.gumbel_softmax_straight_through(logits, g, 0.5)
    np.testing.assert_array_equal(z, hard)
    np.testing.assert_allclose(y2, E.gumbel_softmax(logits, g, 0.5))


def test_temperature_schedule():
    assert E.temperature(0, 1e-4) == 1.0
    assert E.temperature(1000, 1e-4) == pytest.approx(np.exp(-0.1))
    assert E.temperature(10 ** 6, 1e-4, tau_min=0.5) == 0.5
    taus = E.temperature(np.arange(0, 20000, 500), 1e-4, tau_min=0.3, tau0=2.0)
    assert np.all(np.diff(taus) <= 0) and taus[0] == 2.0 and taus.min() >= 0.3
    with pytest.raises(ValidationError, match="tau_min"):
        E.temperature(0, 1e-4, tau_min=0.0)
    with pytest.raises(ValidationError, match="step"):
        E.temperature(-1, 1e-4)


# ------------------------------------------------------------------------------------------------
# KL of a categorical to the uniform distribution
# ------------------------------------------------------------------------------------------------
def test_kl_categorical_uniform_closed_form_and_gradient():
    rng = np.random.default_rng(9)
    logits = rng.standard_normal((4, 3, 5)) * 2
    q = E.softmax(logits)
    direct = np.sum(q * np.log(q / (1 / 5)), axis=(1, 2))   # sum_k q log(q / p), by definition
    np.testing.assert_allclose(kl_categorical_uniform(logits), direct)
    per_var = kl_categorical_uniform(logits, per_variable=True)
    assert per_var.shape == (4, 3)
    np.testing.assert_allclose(per_var, np.sum(q * np.log(q / (1 / 5)), axis=2))
    assert kl_categorical_uniform(np.zeros((2, 5))) == pytest.approx([0, 0], abs=1e-15)
    np.testing.assert_allclose(kl_categorical_uniform(np.array([[50.0, 0, 0, 0]])), np.log(4), rtol=1e-12)
    err, _, _ = check_gradient(lambda: float(kl_categorical_uniform(logits).sum()),
                               lambda: kl_categorical_uniform_backward(logits), logits)
    assert err < 1e-8


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------
def test_bad_input_gets_clear_errors():
    with pytest.raises(ValidationError, match="tau: expected a positive"):
        E.gumbel_softmax(LOGITS, np.zeros(5), 0.0)
    with pytest.raises(InputTypeError, match="tau"):
        E.gumbel_softmax(LOGITS, np.zeros(5), "hot")
    with pytest.raises(ValidationError, match="K >= 2"):
        E.gumbel_max(np.zeros((3, 1)), np.zeros((3, 1)))
    with pytest.raises(ValidationError, match="leave-one-out.*at least 2"):
        E.score_function(np.ones(1), np.ones((1, 2)), "leave-one-out")
    with pytest.raises(ValidationError, match="baseline"):
        E.score_function(np.ones(3), np.ones((3, 2)), "mean")
    with pytest.raises(ValidationError, match="f and score"):
        E.score_function(np.ones(3), np.ones((4, 2)))
    with pytest.raises(ValidationError, match="f: expected one value per sample"):
        E.reinforce_gaussian(np.ones(3), np.ones(4), 0.0, 0.0)
    with pytest.raises(ValidationError, match="df_dz"):
        E.reparam_gaussian_gradient(lambda z: z[:1], 0.0, 0.0, np.ones(3))
    with pytest.raises(ValidationError, match="decay"):
        E.RunningMeanBaseline(decay=1.0)
    with pytest.raises(ValidationError, match="logits: expected finite"):
        E.gumbel_max(np.array([0.0, np.nan]), np.zeros(2))


def test_sample_gumbel_takes_a_seed_like_a_generator():
    np.testing.assert_array_equal(E.sample_gumbel((2, 3), 5), E.sample_gumbel((2, 3), np.random.default_rng(5)))
    assert E.sample_gumbel(4, 0, dtype="float32").dtype == np.float32


def test_reparameterize_broadcasts_parameters_to_the_noise():
    z, _ = E.reparameterize(np.ones(2), np.zeros((1, 2)), np.zeros((3, 2)))
    np.testing.assert_array_equal(z, np.ones((3, 2)))
