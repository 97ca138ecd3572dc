"""The mixture-of-Gaussians prior (and VaDE's bound) and the VampPrior: their densities against
direct computation, their KL against Monte Carlo, and every gradient against central
differences in float64, piece by piece and on the whole model for every posterior and encoder."""
import copy
import math

import numpy as np
import pytest
from scipy.special import logsumexp as scipy_logsumexp
from scipy.stats import multivariate_normal, norm

import minivae
from minivae.errors import ValidationError
from minivae.gradcheck import check_model_gradient, numerical_gradient, relative_error
from minivae.kl import gaussian_entropy, log_normal_diag
from minivae.params import Params
from minivae.priors import MixturePrior, VampPrior, make_prior
from minivae.priors.base import component_gradients, gaussian_components

TOL = 1e-6


def _mixture(rng, K=3, d=2, kl="vade"):
    prior = MixturePrior(K, kl=kl)
    prior.dim = d
    P = Params(prior.param_shapes(), np.float64, accumulate=list(prior.param_shapes()))
    prior.init(P, rng)
    P["prior.logits"][...] = rng.normal(0, 1, K)
    P["prior.log_vars"][...] = rng.normal(0, 0.5, (K, d))
    return prior, P


def test_components_sum_over_dimensions_before_any_mixing(rng):
    """log N_k(z) is the log of the product over coordinates (scipy's multivariate density)."""
    z, m, s = rng.normal(0, 2, (5, 3)), rng.normal(0, 1, (4, 3)), rng.normal(0, 0.7, (4, 3))
    got = gaussian_components(z, m, s)
    for k in range(4):
        want = multivariate_normal(m[k], np.diag(np.exp(s[k]))).logpdf(z)
        np.testing.assert_allclose(got[:, k], want, rtol=1e-10)
    # leading axes are kept: (n, samples, d) -> (n, samples, K)
    assert gaussian_components(z.reshape(5, 1, 3), m, s).shape == (5, 1, 4)


def test_component_gradients_against_central_differences(rng):
    z, m, s = rng.normal(0, 1, (6, 2)), rng.normal(0, 1, (3, 2)), rng.normal(0, 0.5, (3, 2))
    w = rng.random((6, 3))
    F = lambda: np.sum(w * gaussian_components(z, m, s))
    dz, dm, ds = component_gradients(z, w, m, s)
    for analytic, x in ((dz, z), (dm, m), (ds, s)):
        assert relative_error(analytic, numerical_gradient(F, x)) < 1e-8


def test_mixture_density_is_the_mixture_of_its_components(rng):
    prior, P = _mixture(rng)
    z = rng.normal(0, 2, (7, 2))
    pi = np.exp(P["prior.logits"]) / np.exp(P["prior.logits"]).sum()
    dens = sum(pi[k] * multivariate_normal(P["prior.means"][k], np.diag(np.exp(P["prior.log_vars"][k]))).pdf(z)
               for k in range(3))
    np.testing.assert_allclose(prior.log_prob(z, P), np.log(dens), rtol=1e-10)
    r = prior.responsibilities(z, P)
    np.testing.assert_allclose(r.sum(axis=1), 1.0)


def test_mixture_log_prob_gradients(rng):
    prior, P = _mixture(rng)
    z = rng.normal(0, 1.5, (6, 2))
    w = 0.3
    P.zero_accumulated()
    lp, dz = prior.log_prob_and_grad(z, P, weight=w)
    assert relative_error(dz, numerical_gradient(lambda: prior.log_prob(z, P).sum(), z)) < 1e-8
    analytic = P.grad.copy()
    numeric = numerical_gradient(lambda: -w * prior.log_prob(z, P).sum(), P.data)
    assert relative_error(analytic, numeric) < 1e-8


def test_vade_kl_is_the_joint_kl_given_gamma(rng):
    """VaDE's closed form equals E_q(z|x) q(c|x) [log q(z|x) q(c|x) - log p(z|c) p(c)] by Monte
    Carlo, with q(c | x) = gamma held at its value, and is at least KL(q(z|x) || p(z))."""
    prior, P = _mixture(rng)
    mu, lv = rng.normal(0, 1, (1, 2)), rng.normal(-0.5, 0.3, (1, 2))
    z0 = mu + np.exp(0.5 * lv) * rng.standard_normal((1, 2))
    kl = prior.kl_estimate(mu, lv, z0, P)[0]
    gamma = prior.responsibilities(z0, P)[0]
    n = 400_000
    zs = mu + np.exp(0.5 * lv) * rng.standard_normal((n, 2))
    log_q = log_normal_diag(zs, mu, lv)
    log_pi = prior.log_weights(P)
    comp = gaussian_components(zs, P["prior.means"], P["prior.log_vars"])
    terms = log_q + np.sum(gamma * np.log(gamma)) - comp @ gamma - np.sum(gamma * log_pi)
    assert abs(terms.mean() - kl) < 5 * terms.std() / math.sqrt(n)
    marginal = log_q - prior.log_prob(zs, P)
    assert kl >= marginal.mean() - 5 * marginal.std() / math.sqrt(n)


def test_vade_with_one_component_is_the_kl_to_one_gaussian(rng):
    prior, P = _mixture(rng, K=1, d=3)
    mu, lv = rng.normal(0, 1, (4, 3)), rng.normal(0, 0.5, (4, 3))
    z = rng.normal(0, 1, (4, 3))
    m, s = P["prior.means"][0], P["prior.log_vars"][0]
    exact = 0.5 * np.sum(s - lv + (np.exp(lv) + (mu - m) ** 2) * np.exp(-s) - 1, axis=1)
    np.testing.assert_allclose(prior.kl_estimate(mu, lv, z, P), exact, rtol=1e-10)


@pytest.mark.parametrize("kl", ["vade", "sampled"])
def test_mixture_kl_gradients_piece_by_piece(kl, rng):
    prior, P = _mixture(rng, K=4, d=3, kl=kl)
    mu, lv, z = rng.normal(0, 1, (5, 3)), rng.normal(0, 0.5, (5, 3)), rng.normal(0, 1, (5, 3))
    w = 0.7
    P.zero_accumulated()
    _, g_mu, g_lv, g_z = prior.kl_and_grad(mu, lv, z, P, weight=w)
    total = lambda: w * prior.kl_estimate(mu, lv, z, P).sum()
    if g_mu is not None:
        assert relative_error(g_mu, numerical_gradient(total, mu)) < 1e-8
    else:
        assert relative_error(np.zeros_like(mu), numerical_gradient(total, mu)) < 1e-8
    assert relative_error(g_lv, numerical_gradient(total, lv)) < 1e-8
    assert relative_error(g_z, numerical_gradient(total, z)) < 1e-8
    assert relative_error(P.grad.copy(), numerical_gradient(total, P.data)) < 1e-8


PRIORS = {"mog-vade": {"name": "mog", "components": 3},
          "mog-sampled": {"name": "mog", "components": 3, "kl": "sampled"},
          "vamp": {"name": "vamp", "components": 4}}
COMBOS = [("diagonal", "fused", "bernoulli"), ("diagonal", "separate", "gaussian-perpixel"),
          ("isotropic", "fused", "laplace"), ("shared", "fused", "gaussian-learned")]


@pytest.mark.parametrize("posterior,encoder,likelihood", COMBOS)
@pytest.mark.parametrize("prior", sorted(PRIORS))
def test_whole_model_gradient_for_every_prior(prior, posterior, encoder, likelihood, rng):
    model = minivae.VAE(8, 3, (6,), "tanh", likelihood, beta=1.2, posterior=posterior, encoder=encoder,
                        dtype="float64", seed=3, prior=PRIORS[prior])
    if prior == "vamp":   # pseudo-inputs away from the initial 0.05 so their gradient is not tiny
        model.params["prior.pseudo_inputs"][...] = rng.random(model.params["prior.pseudo_inputs"].shape)
    report = check_model_gradient(model, rng.random((5, 8)), rng.standard_normal((5, 3)))
    worst = max(report, key=report.get)
    assert report[worst] < TOL, f"{worst}: {report[worst]:.2e}"


@pytest.mark.parametrize("prior", sorted(PRIORS))
def test_every_prior_keeps_the_gradient_contract(prior, rng):
    model = minivae.VAE(8, 3, (6,), dtype="float64", prior=PRIORS[prior])
    x, eps = rng.random((6, 8)), rng.standard_normal((6, 3))
    model.params.grad.fill(np.nan)
    model.loss_and_grad(x, eps)
    first = model.params.grad.copy()
    assert np.all(np.isfinite(first))
    model.params.grad[...] = 7.0
    model.loss_and_grad(x, eps)
    np.testing.assert_array_equal(model.params.grad, first)
    assert model.loss(x, eps)["loss"] == pytest.approx(model.loss_and_grad(x, eps)["loss"], rel=1e-12)


def test_vamp_with_the_training_images_as_pseudo_inputs_is_the_aggregate_posterior(rng):
    model = minivae.VAE(8, 2, (6,), dtype="float64", prior={"name": "vamp", "components": 5})
    x = rng.random((5, 8))
    model.prior.init_from_data(model.params, x, rng)
    assert sorted(map(tuple, model.params["prior.pseudo_inputs"])) == sorted(map(tuple, x))
    mu, lv = model.encode(x)
    z = rng.normal(0, 1, (9, 2))
    aggregate = np.mean([np.exp(log_normal_diag(z, mu[n], lv[n])) for n in range(5)], axis=0)
    np.testing.assert_allclose(model.prior.log_prob(z, model.params), np.log(aggregate), rtol=1e-10)
    with pytest.raises(ValidationError, match="starts its 5 pseudo-inputs from as many training images, got 3"):
        model.prior.init_from_data(model.params, x[:3], rng)


def test_priors_sample_what_they_define(rng):
    model = minivae.VAE(8, 2, (6,), dtype="float64", prior={"name": "mog", "components": 2})
    P = model.params
    P["prior.logits"][...] = [0.0, math.log(3.0)]
    P["prior.means"][...] = [[-4.0, 0.0], [4.0, 1.0]]
    P["prior.log_vars"][...] = math.log(0.25)
    z, c = model.prior.sample(40000, rng, P, return_components=True)
    assert abs(np.mean(c == 1) - 0.75) < 0.01
    np.testing.assert_allclose(z[c == 1].mean(axis=0), [4.0, 1.0], atol=0.02)
    np.testing.assert_allclose(z[c == 1].std(axis=0), [0.5, 0.5], atol=0.02)
    assert model.sample(3, rng).shape == (3, 8)
    vamp = minivae.VAE(8, 2, (6,), dtype="float64", prior={"name": "vamp", "components": 3})
    zs = vamp.prior.sample(30000, rng, vamp.params)
    mu, lv = vamp.encode(vamp.params["prior.pseudo_inputs"])
    np.testing.assert_allclose(zs.mean(axis=0), mu.mean(axis=0), atol=0.03)


def test_evaluation_takes_log_p_of_z_from_the_prior(rng):
    """The importance-sampled NLL with K = 1 is the single-sample bound -log p(x|z) - log p(z)
    + log q(z|x) with the mixture's log p(z): check it against a direct computation."""
    from minivae.evaluate import importance_sampled_nll
    model = minivae.VAE(8, 2, (6,), dtype="float64", prior={"name": "vamp", "components": 3})
    x = rng.random((3, 8))
    got = importance_sampled_nll(model, x, k=1, seed=5)["per_example"]
    g = np.random.default_rng(5)
    mu, lv = model.encode(x)
    z = mu[:, None, :] + np.exp(0.5 * lv)[:, None, :] * g.standard_normal((3, 1, 2))
    out, _ = model.decoder.forward(model.params, z.reshape(3, 2))
    nll = model.likelihood.nll(x, out, model.params)
    want = nll + log_normal_diag(z, mu[:, None], lv[:, None])[:, 0] - model.prior.log_prob(z, model.params)[:, 0]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_mixture_priors_save_and_load(tmp_path, rng):
    from minivae import checkpoint
    for spec in PRIORS.values():
        model = minivae.VAE(8, 2, (6,), prior=spec, seed=2)
        path = checkpoint.save(tmp_path / "m.npz", model)
        again = checkpoint.load_model(path)
        assert again.get_config() == model.get_config()
        np.testing.assert_array_equal(again.params.data, model.params.data)


def test_bad_prior_options():
    with pytest.raises(ValidationError, match="components: expected a positive integer, got 0"):
        make_prior({"name": "mog", "components": 0})
    with pytest.raises(ValidationError, match=r"kl: expected one of \['sampled', 'vade'\], got 'exact'"):
        make_prior({"name": "mog", "kl": "exact"})
    with pytest.raises(ValidationError, match=r"pseudo_init: expected one of"):
        make_prior({"name": "vamp", "pseudo_init": "zeros"})


def test_aggregate_posterior_kl_splits_the_mean_kl(rng):
    """mean KL(q(z|x_n) || p) = I + KL(q(z) || p); and a VampPrior whose pseudo-inputs are the
    data has KL(q(z) || p(z)) = 0 exactly (it is the aggregate posterior)."""
    from minivae.evaluate import aggregate_posterior_kl, elbo_multi
    model = minivae.VAE(8, 2, (6,), dtype="float64", seed=1)
    x = rng.random((40, 8))
    res = aggregate_posterior_kl(model, x, samples=20000, seed=2)
    mean_kl = elbo_multi(model, x, samples=1)["kl"]            # closed form, averaged over x
    assert res["mean_kl"] == pytest.approx(mean_kl, abs=5 * res["stderr"] + 0.02)
    assert res["kl_aggregate"] >= -3 * res["stderr"] and res["mutual_information"] >= 0
    vamp = minivae.VAE(8, 2, (6,), dtype="float64", seed=1, prior={"name": "vamp", "components": 40})
    vamp.params.data[: model.params.size] = model.params.data
    vamp.params["prior.pseudo_inputs"][...] = x
    assert aggregate_posterior_kl(vamp, x, samples=500, seed=3)["kl_aggregate"] == pytest.approx(0, abs=1e-9)


def test_prior_pictures(rng):
    from minivae import plots
    x = rng.random((30, 784)).astype(np.float32)
    models = {"N(0, I)": minivae.VAE(784, 2, (8,)),
              "mixture": minivae.VAE(784, 2, (8,), prior={"name": "mog", "components": 3}),
              "VampPrior": minivae.VAE(784, 2, (8,), prior={"name": "vamp", "components": 4})}
    fig = plots.prior_and_aggregate_figure(models, x, n_grid=20)
    assert len(fig.axes) == 12        # 6 panels and their colour bars
    labels = {ax.get_xlabel() for ax in fig.axes[::2]}
    assert labels == {"$z_1$"}
    assert len(plots.cluster_samples_figure(models["mixture"], n=4).axes) == 3
    assert plots.pseudo_inputs_figure(models["VampPrior"]).axes
    with pytest.raises(ValidationError, match="a mixture prior"):
        plots.cluster_samples_figure(models["N(0, I)"])
    with pytest.raises(ValidationError, match="a VampPrior"):
        plots.pseudo_inputs_figure(models["mixture"])
    with pytest.raises(ValidationError, match="2-dimensional latent space"):
        plots.prior_and_aggregate_figure(minivae.VAE(784, 3, (8,)), x)
