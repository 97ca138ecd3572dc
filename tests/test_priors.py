"""The prior as a part of the VAE (minivae.priors): the default N(0, I) computes what the VAE
computed before priors were parts, the sampled-KL path that priors without a closed form take is
checked against the closed form and against central differences, and a prior with parameters of
its own gets its gradient through the seam."""
import math

import numpy as np
import pytest
from scipy.stats import norm

import minivae
from minivae.errors import ValidationError
from minivae.gradcheck import check_gradient, check_model_gradient
from minivae.kl import LOG_2PI
from minivae.models import build_model
from minivae.priors import Prior, StandardNormal, make_prior


class LearnedDiagonalNormal(Prior):
    """p(z) = N(m, diag(exp(v))) with learned m and v: a prior with parameters of its own and
    no closed form declared, to drive the seam a mixture prior will use."""

    name = "test-learned-normal"

    def param_shapes(self):
        return {"prior.m": (self.dim,), "prior.v": (self.dim,)}

    def init(self, params, rng=None):
        params["prior.m"][...] = 0.3
        params["prior.v"][...] = -0.2

    def log_prob(self, z, params):
        m, v = params["prior.m"], params["prior.v"]
        r = z - m
        return -0.5 * np.sum(LOG_2PI + v + r * r * np.exp(-v), axis=-1)

    def log_prob_and_grad(self, z, params, weight):
        m, v = params["prior.m"], params["prior.v"]
        r = z - m
        prec = np.exp(-v)
        dlogp_dz = -r * prec
        # the loss holds -weight * log p(z): d/dm = -weight * sum_b r prec, d/dv = weight/2 sum_b (1 - r^2 prec)
        params.g("prior.m")[...] += -weight * np.sum(r * prec, axis=0)
        params.g("prior.v")[...] += 0.5 * weight * np.sum(1 - r * r * prec, axis=0)
        return self.log_prob(z, params), dlogp_dz

    def sample(self, n, rng, params=None, dtype=np.float64):
        z = params["prior.m"] + np.exp(0.5 * params["prior.v"]) * rng.standard_normal((n, self.dim))
        return z.astype(dtype)


def test_standard_normal_log_prob_and_gradient(rng):
    p = StandardNormal()
    z = rng.standard_normal((5, 3))
    np.testing.assert_allclose(p.log_prob(z), norm.logpdf(z).sum(axis=1), rtol=1e-12)
    err, _, _ = check_gradient(lambda: p.log_prob(z).sum(), lambda: p.log_prob_and_grad(z)[1], z)
    assert err < 1e-8


def test_default_vae_has_the_standard_normal_prior_with_closed_form_kl(rng):
    model = minivae.VAE(10, 3, (6,), dtype="float64")
    assert isinstance(model.prior, StandardNormal) and model.prior.closed_form
    assert model.get_config()["prior"] == {"name": "normal"}
    x, eps = rng.random((4, 10)), rng.standard_normal((4, 3))
    mu, lv = model.encode(x)
    from minivae.kl import kl_diag_normal
    assert model.loss(x, eps)["kl"] == pytest.approx(kl_diag_normal(mu, lv).mean(), rel=1e-14)


@pytest.mark.parametrize("posterior,likelihood", [("diagonal", "bernoulli"), ("isotropic", "gaussian"),
                                                  ("shared", "gaussian-learned")])
def test_sampled_kl_has_the_closed_form_as_its_mean(posterior, likelihood, rng):
    """-H(q) - log p(z) at z ~ q averages to the closed-form KL (same model, same x)."""
    closed = minivae.VAE(8, 3, (6,), likelihood=likelihood, posterior=posterior, dtype="float64", seed=4)
    sampled = minivae.VAE(8, 3, (6,), likelihood=likelihood, posterior=posterior, dtype="float64", seed=4,
                          prior={"name": "normal", "kl": "sampled"})
    x = np.repeat(rng.random((1, 8)), 20000, axis=0)
    eps = rng.standard_normal((20000, 3))
    exact = closed.loss(x[:1], eps[:1])["kl"]
    mu, lv = closed.encode(x[:1])
    z = mu + np.exp(0.5 * lv) * eps
    from minivae.kl import gaussian_entropy, log_standard_normal
    terms = -gaussian_entropy(np.repeat(lv, len(z), 0)) - log_standard_normal(z)
    assert sampled.loss(x, eps)["kl"] == pytest.approx(terms.mean(), rel=1e-12)
    assert abs(terms.mean() - exact) < 4 * terms.std() / math.sqrt(len(terms))


@pytest.mark.parametrize("posterior,encoder,likelihood", [
    ("diagonal", "fused", "bernoulli"), ("diagonal", "separate", "gaussian-perpixel"),
    ("isotropic", "fused", "laplace"), ("shared", "fused", "gaussian-learned")])
def test_sampled_kl_gradient_on_the_whole_model(posterior, encoder, likelihood, rng):
    model = minivae.VAE(9, 3, (7,), "tanh", likelihood, beta=1.3, posterior=posterior, encoder=encoder,
                        dtype="float64", seed=2, prior={"name": "normal", "kl": "sampled"})
    report = check_model_gradient(model, rng.random((5, 9)), rng.standard_normal((5, 3)))
    assert max(report.values()) < 1e-6, report


@pytest.mark.parametrize("posterior,likelihood", [("diagonal", "bernoulli"), ("shared", "gaussian-learned")])
def test_a_prior_with_parameters_gets_its_gradient_through_the_seam(posterior, likelihood, rng):
    model = minivae.VAE(9, 2, (6,), "tanh", likelihood, posterior=posterior, dtype="float64", seed=1,
                        prior=LearnedDiagonalNormal())
    assert "prior.m" in model.params.accumulated and "prior.v" in model.params.accumulated
    assert model.params.names()[-2:] == ["prior.m", "prior.v"]
    report = check_model_gradient(model, rng.random((6, 9)), rng.standard_normal((6, 2)))
    assert report["prior.m"] < 1e-6 and report["prior.v"] < 1e-6 and report["total"] < 1e-6, report
    # sampling goes through the prior: the sample mean sits at the prior's mean
    z = model.prior.sample(20000, rng, model.params)
    np.testing.assert_allclose(z.mean(axis=0), 0.3, atol=0.03)


def test_prior_config_round_trips_and_bad_priors_are_refused():
    model = minivae.VAE(6, 2, (4,), prior={"name": "normal", "kl": "sampled"})
    again = build_model(model.get_config())
    assert not again.prior.closed_form and again.get_config() == model.get_config()
    with pytest.raises(ValidationError, match=r"prior: expected one of \['mog', 'normal', 'vamp'\], got 'flow'"):
        minivae.VAE(6, 2, (4,), prior="flow")
    with pytest.raises(ValidationError, match=r"prior 'normal': unknown option\(s\) \['components'\]; it takes \['kl'\]"):
        make_prior({"name": "normal", "components": 3})
    with pytest.raises(ValidationError, match=r"kl: expected one of"):
        make_prior({"name": "normal", "kl": "exact"})
    with pytest.raises(ValidationError, match="prior: expected a name"):
        make_prior(3)
