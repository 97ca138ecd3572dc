"""The lecture identities that tie several pieces of minivae together, checked numerically.

One test per claim of the derivation map (docs/derivations.md) that no single-function test
covers: the AE objective (item 1), log p(x) = ELBO + KL(q || posterior) on a model with a known
posterior (3, 4), the entropy form (5), the properties of the KL (6), least squares (7), the
Monte Carlo ELBO and mini-batches (13), lecture 000's algorithm with corrected constants (14)
and the testing stage (15). The notebooks derive the same identities step by step.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minivae
from minivae.estimators import reparameterize
from minivae.gradcheck import relative_error
from minivae.kl import gaussian_entropy, kl_diag_normal, log_normal_diag, log_standard_normal
from minivae.likelihoods import Gaussian


def _kl_between(mu1, lv1, mu2, lv2):
    """KL(N(mu1, e^lv1) || N(mu2, e^lv2)), diagonal, through the map z -> (z - mu2) / sigma2,
    which sends the second Gaussian to N(0, I) and leaves the KL unchanged."""
    return kl_diag_normal((mu1 - mu2) * np.exp(-0.5 * lv2), lv1 - lv2)


def test_item1_ae_with_half_variance_gaussian_is_sum_of_squares(rng):
    model = minivae.AE(20, 3, (6,), likelihood={"name": "gaussian", "sigma": 1 / math.sqrt(2)},
                       dtype="float64", seed=0)
    x = rng.random((7, 20))
    sse = np.mean(np.sum((x - model.reconstruct(x)) ** 2, axis=1))
    assert model.loss(x)["loss"] == pytest.approx(sse + 20 / 2 * math.log(math.pi), rel=1e-12)


def test_item3_4_evidence_is_elbo_plus_kl_to_the_posterior(rng, linear_gaussian):
    W, b, x, s, m, S, log_px = linear_gaussian(rng)
    lik = Gaussian(s)
    for trial in range(20):
        mu, lv = rng.normal(0, 1.5, 3), rng.normal(0, 1, 3)
        # E_q log p(x|z) = log N(x | W mu + b, s^2 I) - sum_j ||W_j||^2 e^lv_j / (2 s^2)
        recon = -lik.nll(x[None], (W @ mu + b)[None])[0] - np.sum(np.sum(W**2, 0) * np.exp(lv)) / (2 * s**2)
        elbo = recon - kl_diag_normal(mu[None], lv[None])[0]
        gap = _kl_between(mu[None], lv[None], m[None], np.log(S)[None])[0]
        assert elbo < log_px
        assert elbo + gap == pytest.approx(log_px, abs=1e-10)
    # q = posterior: the bound is tight
    recon = -lik.nll(x[None], (W @ m + b)[None])[0] - np.sum(np.sum(W**2, 0) * S) / (2 * s**2)
    assert recon - kl_diag_normal(m[None], np.log(S)[None])[0] == pytest.approx(log_px, abs=1e-10)


def test_item3_monte_carlo_version_with_reparameterized_samples(rng, linear_gaussian):
    W, b, x, s, m, S, log_px = linear_gaussian(rng)
    mu, lv = np.array([0.2, -0.4, 1.0]), np.array([-0.7, 0.1, -0.2])
    n = 200_000
    z, _ = reparameterize(np.tile(mu, (n, 1)), np.tile(lv, (n, 1)), rng.standard_normal((n, 3)))
    terms = -Gaussian(s).nll(np.tile(x, (n, 1)), z @ W.T + b) + log_standard_normal(z) - log_normal_diag(z, mu, lv)
    gap = _kl_between(mu[None], lv[None], m[None], np.log(S)[None])[0]
    se = terms.std() / math.sqrt(n)
    assert abs(terms.mean() + gap - log_px) < 4 * se


def test_item5_entropy_form_equals_the_kl_form(rng):
    """-KL(q || N(0, I)) = E_q log p(z) + H(q), with E_q log p(z) by Monte Carlo."""
    mu, lv = rng.standard_normal((1, 4)), rng.standard_normal((1, 4))
    n = 400_000
    z, _ = reparameterize(np.tile(mu, (n, 1)), np.tile(lv, (n, 1)), rng.standard_normal((n, 4)))
    lp = log_standard_normal(z)
    lhs = -kl_diag_normal(mu, lv)[0]
    assert abs(lp.mean() + gaussian_entropy(lv)[0] - lhs) < 4 * lp.std() / math.sqrt(n)
    # and in closed form: E_q log N(z | 0, I) = -1/2 (d log 2 pi + ||mu||^2 + sum e^lv)
    exact = -0.5 * (4 * math.log(2 * math.pi) + np.sum(mu**2) + np.sum(np.exp(lv)))
    assert exact + gaussian_entropy(lv)[0] == pytest.approx(lhs, abs=1e-12)


@given(seed=st.integers(0, 10_000), d=st.integers(1, 6))
def test_item6_kl_nonnegative_zero_only_at_equality_and_asymmetric(seed, d):
    g = np.random.default_rng(seed)
    mu1, mu2 = g.normal(0, 2, (1, d)), g.normal(0, 2, (1, d))
    lv1, lv2 = g.normal(0, 1.5, (1, d)), g.normal(0, 1.5, (1, d))
    forward, backward = _kl_between(mu1, lv1, mu2, lv2)[0], _kl_between(mu2, lv2, mu1, lv1)[0]
    assert forward > 0 and backward > 0
    assert abs(_kl_between(mu1, lv1, mu1, lv1)[0]) < 1e-12
    assert not math.isclose(forward, backward, rel_tol=1e-6)


def test_item6_kl_direction_example():
    """q = N(1, 0.5^2), p = N(0, 1): the two directions of the KL differ."""
    q, p = (np.array([[1.0]]), np.log([[0.25]])), (np.zeros((1, 1)), np.zeros((1, 1)))
    assert _kl_between(*q, *p)[0] == pytest.approx(0.5 * (0.25 + 1 - 1 - math.log(0.25)))
    assert _kl_between(*p, *q)[0] == pytest.approx(0.5 * (4 + 4 - 1 + math.log(0.25)))


@pytest.mark.parametrize("sigma", [0.1, 1.0, 3.0])
def test_item7_gaussian_likelihood_is_least_squares_plus_constant(sigma, rng):
    x, m = rng.random((5, 30)), rng.random((5, 30))
    nll = Gaussian(sigma).nll(x, m)
    const = 30 * math.log(sigma) + 15 * math.log(2 * math.pi)
    np.testing.assert_allclose(nll, np.sum((x - m) ** 2, 1) / (2 * sigma**2) + const, rtol=1e-12)


def test_item13_monte_carlo_elbo_is_unbiased_for_every_L_and_minibatches_average_exactly(rng):
    model = minivae.VAE(12, 3, (8,), dtype="float64", seed=0)
    x = rng.random((6, 12))
    single = np.array([model.loss(x, rng=rng)["loss"] for _ in range(4000)])
    many = np.array([model.loss(np.repeat(x, 16, axis=0), rng=rng)["loss"] for _ in range(250)])
    se = math.hypot(single.std() / math.sqrt(len(single)), many.std() / math.sqrt(len(many)))
    assert abs(single.mean() - many.mean()) < 4 * se
    assert many.std() < 0.4 * single.std()          # 1/sqrt(16) = 0.25 in expectation
    # with the noise fixed, the full-batch gradient is the mean of equal-size mini-batch gradients
    x = rng.random((40, 12))
    eps = rng.standard_normal((40, 3))
    model.loss_and_grad(x, eps)
    full = model.params.grad.copy()
    parts = []
    for i in range(0, 40, 10):
        model.loss_and_grad(x[i:i + 10], eps[i:i + 10])
        parts.append(model.params.grad.copy())
    assert relative_error(full, np.mean(parts, axis=0)) < 1e-13


def test_item14_lecture_000_algorithm_with_corrected_constants(rng):
    model = minivae.VAE(30, 4, (10,), likelihood="gaussian-learned", posterior="shared", dtype="float64", seed=1)
    model.params["log_sigma"][0] = math.log(0.4)
    X = rng.random((9, 30))
    m, D, d = 9, 30, 4
    sigma = 0.4
    E = rng.standard_normal((m, d))
    e = model.embed(X)
    Z, _ = reparameterize(e, np.full((m, d), 2 * math.log(sigma)), E)
    L_kl = -m * d * math.log(sigma) - m * d / 2 + 0.5 * np.sum(e**2) + 0.5 * sigma**2 * m * d
    L_data = -m * D * math.log(sigma) - m * D / 2 * math.log(2 * math.pi) - np.sum((X - model.decode(Z)) ** 2) / (2 * sigma**2)
    stats = model.loss(X, eps=E)
    assert stats["kl"] == pytest.approx(L_kl / m, rel=1e-12)
    assert stats["recon"] == pytest.approx(-L_data / m, rel=1e-12)
    slide_kl = -m * math.log(sigma) + 0.5 * np.sum(e**2) + 0.5 * sigma**2 * m * d
    assert abs(slide_kl - m * d / 2 - L_kl) > 1.0      # the slide's -m log sigma is off by (d - 1) m log sigma


def test_item15_testing_stage_embeds_with_the_mean_and_generates_from_the_prior(rng):
    model = minivae.VAE(12, 3, (8,), seed=0)
    x = rng.random((5, 12)).astype(np.float32)
    mu, _ = model.encode(x)
    assert np.array_equal(model.embed(x), mu)
    assert np.array_equal(model.embed(x), model.embed(x))          # deterministic
    z = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.sample(4, np.random.default_rng(3)), model.decode(z))


def test_item9_second_moment_of_a_normal_vector(rng):
    """E||z||^2 = ||mu||^2 + d sigma^2 and E||z - mu||^2 = d sigma^2 (lecture 000)."""
    d, sigma, n = 7, 0.6, 200_000
    mu = rng.standard_normal(d)
    z, _ = reparameterize(np.tile(mu, (n, 1)), np.full((n, d), 2 * math.log(sigma)), rng.standard_normal((n, d)))
    sq, sqc = np.sum(z**2, 1), np.sum((z - mu) ** 2, 1)
    assert abs(sq.mean() - (mu @ mu + d * sigma**2)) < 4 * sq.std() / math.sqrt(n)
    assert abs(sqc.mean() - d * sigma**2) < 4 * sqc.std() / math.sqrt(n)


def test_item22_separate_g_and_h_networks_and_per_pixel_variance(rng):
    """Lecture 004: the mean comes from g alone and the log-variance from h alone; the decoder
    emits a mean and a log-variance for every pixel."""
    model = minivae.VAE(10, 2, (6,), encoder="separate", likelihood="gaussian-perpixel", dtype="float64", seed=0)
    x = rng.random((4, 10))
    mu, lv = model.encode(x)
    for name in model.params.names():
        if name.startswith("enc_h"):
            model.params[name][...] += 0.5
    mu2, lv2 = model.encode(x)
    assert np.array_equal(mu, mu2) and not np.allclose(lv, lv2)
    out, _ = model.decoder.forward(model.params, mu)
    assert out.shape == (4, 20)
    np.testing.assert_array_equal(model.decode(mu), out[:, :10])


def test_the_derivation_map_names_real_tests_functions_and_notebooks():
    """docs/derivations.md must not drift: every test, function and notebook it names exists."""
    import importlib
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    text = (root / "docs" / "derivations.md").read_text()
    tests = set(re.findall(r"`(tests/\w+\.py)::(\w+)`", text))
    assert len(tests) > 20
    for path, name in tests:
        assert re.search(rf"^def {name}\(", (root / path).read_text(), re.M), f"{path}::{name} does not exist"
    names = set(re.findall(r"`(minivae(?:\.\w+)+)", text))
    assert len(names) > 20
    for dotted in names:
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):      # longest importable module prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            # the module where it lives, not an alias kept for old import paths
            assert obj.__name__ == ".".join(parts[:i]), f"{dotted}: minivae.{'.'.join(parts[1:i])} is now {obj.__name__}"
            for attr in parts[i:]:
                assert hasattr(obj, attr), f"{dotted}: {attr} not found"
                obj = getattr(obj, attr)
            break
    notebooks = set(re.findall(r"`(\d\d_\w+)` §", text))
    assert notebooks
    for stem in notebooks:
        assert (root / "notebooks" / f"{stem}.ipynb").exists(), f"notebook {stem} does not exist"
