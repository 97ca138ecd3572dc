"""Numerical extremes: every loss and gradient kernel stays finite and accurate for logits up to
+-1e4, log-variances up to +-80 (float64) and +-30 (float32), pixels exactly 0 and 1, and a
learned log sigma at +-40 (float64) and +-15 (float32), i.e. sigma^2 at the same limits as
the log-variances. Properties are checked with hypothesis; gradients against central
differences on random shapes."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

import minivae
from minivae import kl, likelihoods, nn
from minivae.estimators import reparameterize, reparameterize_backward
from minivae.gradcheck import check_model_gradient, numerical_gradient, relative_error
from minivae.params import Params

LV_MAX = {np.float64: 80.0, np.float32: 30.0}
DTYPES = [np.float64, np.float32]


def _finite(*arrays):
    return all(np.all(np.isfinite(a)) for a in arrays)


# ------------------------------------------------------------------------------------------------
# KL to the prior
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@given(b=st.integers(1, 4), d=st.integers(1, 8), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1e-9, 1e-4, 1.0, 1.0e2]))
def test_kl_is_non_negative_and_finite(dtype, b, d, seed, scale):
    lv_max = LV_MAX[dtype]
    rng = np.random.default_rng(seed)
    mu = (rng.standard_normal((b, d)) * scale).astype(dtype)
    lv = np.clip(rng.standard_normal((b, d)) * scale * 10, -lv_max, lv_max).astype(dtype)
    value = kl.kl_diag_normal(mu, lv)
    gmu, glv = kl.kl_diag_normal_backward(mu, lv)
    assert value.dtype == dtype and _finite(value, gmu, glv)
    assert np.all(value >= 0)
    # accurate: against float64 with its error bound. Rounding expm1(v) to the dtype costs up to
    # eps |v|, so that much absolute error is unavoidable; a naive exp(v) - 1 - v loses eps per
    # element instead, which near the prior is far larger than the KL itself.
    ref = 0.5 * np.sum(np.expm1(lv.astype(np.float64)) - lv + mu.astype(np.float64) ** 2, axis=1)
    eps = np.finfo(dtype).eps
    bound = 4 * eps * (np.abs(ref) + np.sum(np.abs(lv.astype(np.float64)), axis=1))
    assert np.all(np.abs(value - ref) <= bound), (value, ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_at_the_log_variance_limits(dtype):
    c = LV_MAX[dtype]
    lv = np.array([[-c, c, 0.0]], dtype)
    mu = np.zeros_like(lv)
    value = kl.kl_diag_normal(mu, lv)[0]
    exact = 0.5 * (math.expm1(-c) + c) + 0.5 * (math.expm1(c) - c)
    assert np.isfinite(value) and value == pytest.approx(exact, rel=1e-6)
    _, glv = kl.kl_diag_normal_backward(mu, lv)
    np.testing.assert_allclose(glv, [[0.5 * math.expm1(-c), 0.5 * math.expm1(c), 0.0]], rtol=1e-6)
    iso = kl.kl_isotropic_normal(mu, dtype(c / 2))
    _, gs = kl.kl_isotropic_normal_backward(mu, dtype(-c / 2))
    assert np.all(np.isfinite(iso)) and np.isfinite(gs)


@pytest.mark.parametrize("dtype", DTYPES)
@given(d=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_kl_is_zero_only_at_the_prior(dtype, d, seed):
    rng = np.random.default_rng(seed)
    zero = np.zeros((1, d), dtype)
    assert kl.kl_diag_normal(zero, zero)[0] == 0
    assert kl.kl_isotropic_normal(zero, dtype(0))[0] == 0
    # move one coordinate of mu or of log_var away from the prior by at least 1e-3
    i = rng.integers(d)
    step = dtype(rng.choice([-1, 1]) * rng.uniform(1e-3, 10))
    moved = zero.copy()
    moved[0, i] = step
    assert kl.kl_diag_normal(moved, zero)[0] > 0
    assert kl.kl_diag_normal(zero, moved)[0] > 0
    assert kl.kl_isotropic_normal(zero, step / 2)[0] > 0


# ------------------------------------------------------------------------------------------------
# Bernoulli
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@given(b=st.integers(1, 4), D=st.integers(1, 10), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1.0, 30.0, 1e3, 1e4]))
def test_bernoulli_log_prob_is_at_most_zero(dtype, b, D, seed, scale):
    rng = np.random.default_rng(seed)
    logits = np.clip(rng.standard_normal((b, D)) * scale, -1e4, 1e4).astype(dtype)
    x = (rng.random((b, D)) < 0.5).astype(dtype)              # pixels exactly 0 and 1
    nll, g = likelihoods.bernoulli_nll(x, logits)
    assert _finite(nll, g)
    assert np.all(-nll <= 0)                                   # log p(x | z) <= 0 for binary x
    assert np.all(np.abs(g) <= 1)                              # sigmoid(l) - x lies in [-1, 1]
    l64 = logits.astype(np.float64)
    ref = np.sum(np.logaddexp(0, l64) - x * l64, axis=1)       # softplus(l) - x l
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(nll, ref, rtol=tol, atol=tol * D)
    np.testing.assert_allclose(g, special.expit(l64) - x, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bernoulli_saturated_logits_exact(dtype):
    logits = np.array([[1e4, -1e4, 1e4, -1e4]], dtype)
    x = np.array([[1, 0, 0, 1]], dtype)
    nll, g = likelihoods.bernoulli_nll(x, logits)
    assert nll[0] == pytest.approx(2e4, rel=1e-7)              # two confident mistakes
    np.testing.assert_array_equal(g, [[0, 0, 1, -1]])
    p = likelihoods.Bernoulli().mean(logits)
    np.testing.assert_array_equal(p, [[1, 0, 1, 0]])
    assert _finite(nn.softplus(logits), nn.sigmoid(logits))


# ------------------------------------------------------------------------------------------------
# Gaussians near their limits
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s_frac", [-1.0, -0.5, 0.5, 1.0])
def test_learned_sigma_at_its_limits(dtype, s_frac):
    s = s_frac * LV_MAX[dtype] / 2          # log sigma: sigma^2 = exp(2 s) at the log-variance limits
    lik = likelihoods.GaussianLearnedSigma()
    P = Params({"log_sigma": (1,)}, dtype)
    P["log_sigma"][0] = s
    rng = np.random.default_rng(0)
    x = rng.random((3, 5)).astype(dtype)
    x[0, :2] = [0, 1]
    out = (x + rng.standard_normal(x.shape) * 0.1).astype(dtype)
    nll, g = lik.nll_and_grad(x, out, P, weight=1 / 3)
    assert _finite(nll, g, P.grad)
    ref = -stats.norm.logpdf(x.astype(np.float64), out.astype(np.float64), math.exp(s)).sum(1)
    np.testing.assert_allclose(nll, ref, rtol=1e-5 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_per_pixel_variance_at_its_limits(dtype):
    c = LV_MAX[dtype]
    x = np.array([[0.0, 1.0, 0.5, 0.0]], dtype)
    m = np.array([[0.1, 0.9, 0.5, 1.0]], dtype)
    v = np.array([[-c, c, -c, 0.0]], dtype)
    nll, g = likelihoods.GaussianPerPixel().nll_and_grad(x, np.concatenate([m, v], 1), None, 1.0)
    assert _finite(nll, g)
    ref = -stats.norm.logpdf(x.astype(np.float64), m.astype(np.float64),
                             np.exp(0.5 * v.astype(np.float64))).sum(1)
    np.testing.assert_allclose(nll, ref, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reparameterization_at_the_log_variance_limits(dtype):
    c = LV_MAX[dtype]
    mu = np.zeros((2, 2), dtype)
    lv = np.array([[-c, c], [c, -c]], dtype)
    eps = np.ones_like(mu)
    z, std = reparameterize(mu, lv, eps)
    dmu, dlv = reparameterize_backward(np.ones_like(z), eps, std)
    assert _finite(z, std, dmu, dlv)
    np.testing.assert_allclose(std, np.exp(0.5 * lv.astype(np.float64)), rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# Whole models at the extremes
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vae_loss_and_gradient_finite_with_saturated_decoder_and_extreme_log_variance(dtype):
    model = minivae.VAE(12, 2, (6,), dtype=dtype, seed=0)
    c = LV_MAX[np.dtype(dtype).type]
    P = model.params
    enc_b = [n for n in P.names() if n.startswith("enc") and n.endswith(".b")][-1]
    dec_b = [n for n in P.names() if n.startswith("dec") and n.endswith(".b")][-1]
    P[enc_b][2:] = c                               # every log-variance at the upper limit
    P[dec_b][:] = np.where(np.arange(12) % 2, 1e4, -1e4)
    x = np.tile([0.0, 1.0], (4, 6)).astype(dtype)    # pixels exactly 0 and 1
    eps = np.random.default_rng(0).standard_normal((4, 2))
    for sign in (1, -1):
        P[enc_b][2:] = sign * c
        stats_ = model.loss_and_grad_checked(x, eps)
        assert all(math.isfinite(v) for v in stats_.values()) and np.all(np.isfinite(P.grad))


def test_logvar_clamp_keeps_float32_finite_where_the_plain_model_overflows():
    x = np.full((2, 12), 0.5, np.float32)
    eps = np.zeros((2, 2), np.float32)
    plain = minivae.VAE(12, 2, (6,), seed=0)
    clamped = minivae.VAE(12, 2, (6,), seed=0, logvar_clamp=30)
    for m in (plain, clamped):
        enc_b = [n for n in m.params.names() if n.startswith("enc") and n.endswith(".b")][-1]
        m.params[enc_b][2:] = 200.0                # exp(200) overflows float32 (and float64)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not math.isfinite(plain.loss(x, eps)["kl"])
    kl_c = clamped.loss(x, eps)["kl"]
    assert math.isfinite(kl_c) and kl_c == pytest.approx(2 * 0.5 * (math.expm1(30) - 30), rel=1e-5)
    _, lv = clamped.encode(x)
    assert np.all(lv <= 30)


# ------------------------------------------------------------------------------------------------
# Gradient checks on random shapes, with values toward the extremes a gradient check can resolve
# ------------------------------------------------------------------------------------------------
@given(b=st.integers(1, 4), D=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
       name=st.sampled_from(["bernoulli", "gaussian-learned", "gaussian-perpixel"]))
def test_likelihood_gradients_on_random_shapes(b, D, seed, name):
    rng = np.random.default_rng(seed)
    lik = likelihoods.make_likelihood(name)
    P = Params(lik.param_shapes() or {"unused": (1,)}, np.float64)
    if "log_sigma" in P:
        P["log_sigma"][0] = rng.uniform(-3, 3)
    x = (rng.random((b, D)) < 0.5).astype(np.float64)
    out = rng.standard_normal((b, lik.out_dim(D)))
    if name == "bernoulli":
        # Logits up to +-10. Beyond that the loss of a pixel predicted right is below 5e-5 and
        # the kernel's absolute rounding (about 1e-16 per pixel, from log(1 + e)) is a visible
        # share of what a central difference measures; the exact gradient there is checked
        # against sigmoid(l) - x in test_bernoulli_log_prob_is_at_most_zero instead.
        out = np.clip(out * 5, -10, 10)
    if name == "gaussian-perpixel":
        out[:, D:] = rng.uniform(-8, 8, (b, D))      # log-variances far from 0
    f = lambda: float(np.sum(lik.nll(x, out, P)))
    P.zero_grad()
    _, g = lik.nll_and_grad(x, out, P, weight=1.0)
    assert relative_error(g, numerical_gradient(f, out)) < 1e-6
    if lik.param_shapes():
        assert relative_error(P.grad, numerical_gradient(f, P.data)) < 1e-6


@given(b=st.integers(1, 4), d=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_kl_gradient_far_from_the_prior(b, d, seed):
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal((b, d)) * 10
    lv = rng.uniform(-10, 10, (b, d))
    f = lambda: float(np.sum(kl.kl_diag_normal(mu, lv)))
    gmu, glv = kl.kl_diag_normal_backward(mu, lv)
    assert relative_error(gmu, numerical_gradient(f, mu)) < 1e-6
    assert relative_error(glv, numerical_gradient(f, lv)) < 1e-6
    s = np.array(rng.uniform(-4, 4))
    fs = lambda: float(np.sum(kl.kl_isotropic_normal(mu, s)))
    _, gs = kl.kl_isotropic_normal_backward(mu, s)
    assert relative_error(b * gs, _num_scalar(fs, s)) < 1e-6     # gs is per example; fs sums b rows


def _num_scalar(f, s, h=1e-5):
    old = float(s)
    s[...] = old + h
    fp = f()
    s[...] = old - h
    fm = f()
    s[...] = old
    return (fp - fm) / (2 * h)


@given(b=st.integers(1, 3), D=st.integers(2, 6), d=st.integers(1, 3), seed=st.integers(0, 999))
def test_vae_gradient_with_a_large_log_variance_on_random_shapes(b, D, d, seed):
    model = minivae.VAE(D, d, (4,), likelihood="bernoulli", dtype="float64", seed=seed)
    enc_b = [n for n in model.params.names() if n.startswith("enc") and n.endswith(".b")][-1]
    model.params[enc_b][d:] = -6.0                    # sigma^2 = e^-6: a confident encoder
    rng = np.random.default_rng(seed)
    x = (rng.random((b, D)) < 0.5).astype(np.float64)
    report = check_model_gradient(model, x, rng.standard_normal((b, d)))
    assert max(report.values()) < 1e-6, report
