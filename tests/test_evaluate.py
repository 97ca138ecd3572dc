"""Evaluation: log-mean-exp, the importance-sampled log-likelihood, the multi-sample ELBO and
active units, checked against a linear-Gaussian model whose evidence and posterior are known in
closed form.

The model: p(z) = N(0, I_d), p(x | z) = N(z W + b, s^2 I_D) with W of shape (d, D) (minivae's
row convention). Then x ~ N(b, W^T W + s^2 I) and the posterior is Gaussian with precision
I + W W^T / s^2 and mean (x - b) W^T Lambda^-1 / s^2. When the rows of W are orthogonal the
posterior covariance is diagonal, so a minivae VAE with linear encoder and decoder (no hidden
layers) and the fixed-sigma Gaussian likelihood can hold the exact posterior as its q(z | x).
"""
import math

import numpy as np
import pytest
from scipy import stats

import minivae
from minivae import evaluate
from minivae.errors import InputTypeError, ValidationError
from minivae.logspace import logmeanexp, logsumexp

D, d, S = 6, 3, 0.5


def linear_gaussian(rng, exact=True):
    """A float64 VAE holding the linear-Gaussian model; q is the exact posterior when ``exact``.

    Returns (model, W, b) with log p(x) = log N(x | b, W^T W + s^2 I).
    """
    Q, _ = np.linalg.qr(rng.standard_normal((D, d)))          # orthonormal columns
    W = (Q * np.array([1.5, 0.8, 0.3])).T                      # (d, D), orthogonal rows
    b = rng.standard_normal(D) * 0.3
    prec = 1.0 + np.sum(W * W, axis=1) / S ** 2                # diagonal posterior precision
    A = W.T / prec / S ** 2                                    # mu = (x - b) A
    model = minivae.VAE(D, d, hidden=(), likelihood={"name": "gaussian", "sigma": S}, dtype="float64")
    P = model.params
    P["dec.0.W"][...] = W
    P["dec.0.b"][...] = b
    P["enc.0.W"][...] = 0
    P["enc.0.W"][:, :d] = A
    P["enc.0.b"][:d] = -b @ A
    P["enc.0.b"][d:] = -np.log(prec)                           # log posterior variance
    if not exact:
        # a q that is too narrow and slightly off-centre: still a valid proposal, no longer exact
        P["enc.0.b"][d:] -= 1.0
        P["enc.0.b"][:d] += 0.2
    return model, W, b


def log_evidence(x, W, b):
    cov = W.T @ W + S ** 2 * np.eye(D)
    return stats.multivariate_normal(b, cov).logpdf(x)


# ------------------------------------------------------------------------------------------------
# log-mean-exp
# ------------------------------------------------------------------------------------------------
def test_logmeanexp_matches_the_direct_formula(rng):
    a = rng.standard_normal((5, 40)) * 10                        # exp(a) stays finite here
    np.testing.assert_allclose(logmeanexp(a, axis=1), np.log(np.mean(np.exp(a), axis=1)), rtol=1e-12)
    np.testing.assert_allclose(logsumexp(a, axis=0), np.log(np.sum(np.exp(a), axis=0)), rtol=1e-12)


def test_logmeanexp_where_the_direct_formula_fails():
    a = np.array([[-1000.0, -1000.0 + math.log(3.0)], [1000.0, 1000.0]])
    with np.errstate(over="ignore", divide="ignore"):
        assert not np.all(np.isfinite(np.log(np.mean(np.exp(a), axis=1))))
    np.testing.assert_allclose(logmeanexp(a, axis=1), [-1000.0 + math.log(2.0), 1000.0], rtol=1e-15)
    assert logmeanexp(np.array([-np.inf, -np.inf])) == -np.inf
    assert logmeanexp(np.array([-np.inf, 0.0])) == pytest.approx(-math.log(2.0))
    assert logmeanexp(np.array([3.0], dtype=np.float32)).dtype == np.float32


# ------------------------------------------------------------------------------------------------
# importance sampling in the linear-Gaussian model
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 7, 100, 1000])
def test_importance_sampling_is_exact_with_the_true_posterior(k, rng):
    model, W, b = linear_gaussian(rng)
    x = rng.standard_normal((9, D))
    res = evaluate.importance_sampled_nll(model, x, k=k, seed=3, chunk_rows=64)
    np.testing.assert_allclose(-res["per_example"], log_evidence(x, W, b), rtol=1e-10, atol=1e-10)
    assert res["nll"] == pytest.approx(-np.mean(log_evidence(x, W, b)), rel=1e-10)
    assert res["k"] == k and res["n"] == 9


def test_chunking_does_not_change_the_estimate(rng):
    model, _, _ = linear_gaussian(rng, exact=False)
    x = rng.standard_normal((5, D))
    # the same seed draws the same noise in the same order whatever the chunking by examples,
    # so chunks of whole examples give identical estimates
    a = evaluate.importance_sampled_nll(model, x, k=8, seed=1, chunk_rows=8)["per_example"]
    b = evaluate.importance_sampled_nll(model, x, k=8, seed=1, chunk_rows=40)["per_example"]
    np.testing.assert_allclose(a, b, rtol=1e-12)
    # splitting one example's samples over several decoder calls changes only which noise is drawn
    c = evaluate.importance_sampled_nll(model, x, k=8, seed=1, chunk_rows=3)["per_example"]
    assert np.all(np.isfinite(c)) and np.abs(c - a).max() < 2.0


def test_importance_sampling_rises_with_k_and_stays_below_log_px(rng):
    """With a proposal that is not the posterior, E[log p-hat_K] increases with K towards log p(x)
    and never exceeds it (Jensen). Each of R copies of one example gets independent samples, so
    the per-example estimates are R independent replicates: the checks compare their means with
    a margin of several standard errors."""
    model, W, b = linear_gaussian(rng, exact=False)
    x0 = rng.standard_normal((1, D))
    truth = float(log_evidence(x0, W, b))
    R = 400
    x = np.repeat(x0, R, axis=0)
    means, ses = [], []
    for k in (1, 10, 100, 1000):
        est = -evaluate.importance_sampled_nll(model, x, k=k, seed=k, chunk_rows=4096)["per_example"]
        means.append(est.mean())
        ses.append(est.std(ddof=1) / math.sqrt(R))
    for i in range(3):
        gap = means[i + 1] - means[i]
        assert gap > 4 * math.hypot(ses[i], ses[i + 1]), (means, ses)
    for m, se in zip(means, ses):
        assert m < truth + 4 * se, (m, se, truth)
    assert truth - means[-1] < 0.2 * (truth - means[0])       # most of the gap is closed at K = 1000


def test_multi_sample_elbo_in_the_linear_gaussian_model(rng):
    # exact q: ELBO = log p(x) - KL(q || posterior) = log p(x); the estimate is unbiased
    model, W, b = linear_gaussian(rng)
    x = rng.standard_normal((200, D))
    res = evaluate.elbo_multi(model, x, samples=50, seed=0)
    truth = -np.mean(log_evidence(x, W, b))
    assert abs(res["nelbo"] - truth) < 4 * res["stderr"] + 0.05
    assert res["nelbo"] == pytest.approx(res["recon"] + res["kl"], rel=1e-12)
    # inexact q: the ELBO sits strictly below log p(x), by more than the IS estimate does
    model, W, b = linear_gaussian(rng, exact=False)
    e = evaluate.elbo_multi(model, x, samples=50, seed=0)
    iw = evaluate.importance_sampled_nll(model, x, k=50, seed=0)
    truth = -np.mean(log_evidence(x, W, b))
    assert e["nelbo"] > iw["nll"] > truth - 4 * iw["stderr"]


def test_single_and_multi_sample_elbo_agree(rng):
    model = minivae.VAE(10, 3, (8,), "tanh", "bernoulli", seed=2, dtype="float64")
    x = rng.random((300, 10))
    one = evaluate.elbo(model, x, seed=0)
    many = evaluate.elbo_multi(model, x, samples=20, seed=1)
    assert one["kl"] == pytest.approx(many["kl"], rel=1e-10)     # both closed form
    assert abs(one["nelbo"] - many["nelbo"]) < 5 * many["stderr"]


@pytest.mark.parametrize("kw", [
    {"likelihood": "bernoulli"},
    {"likelihood": "gaussian-perpixel"},
    {"likelihood": "laplace"},
    {"likelihood": "gaussian-learned", "posterior": "shared"},
    {"likelihood": "gaussian", "posterior": "isotropic"},
    {"likelihood": "bernoulli", "encoder": "separate"},
    {"likelihood": "bernoulli", "logvar_clamp": 3.0},
])
def test_every_model_kind_is_bounded_by_its_elbo(kw, rng):
    """IS with K = 1 equals the single-sample bound in expectation, and K = 200 improves on it."""
    model = minivae.VAE(12, 3, (10,), "relu", seed=1, **kw)
    x = rng.random((64, 12)).astype(np.float32)
    iw1 = evaluate.importance_sampled_nll(model, x, k=1, seed=0)
    elbo = evaluate.elbo_multi(model, x, samples=1, seed=0)
    # the same noise drives both: with K = 1 the IS estimate is exactly the sampled negative ELBO
    # of lecture 001 (E_q[log p(x|z) + log p(z) - log q(z|x)]), whose mean matches recon + KL
    assert abs(iw1["nll"] - elbo["nelbo"]) < 5 * elbo["stderr"] + 1e-3
    iw = evaluate.importance_sampled_nll(model, x, k=200, seed=0)
    assert iw["nll"] < elbo["nelbo"] and np.isfinite(iw["stderr"]) and iw["stderr"] > 0


def test_bernoulli_nll_with_one_row_broadcast(rng):
    """The likelihood's shortcut for one example repeated over its samples gives the same values."""
    from minivae.likelihoods import bernoulli_nll
    x = rng.random((1, 30))
    logits = rng.standard_normal((50, 30)) * 4
    broadcast = np.broadcast_to(x, (50, 30))
    assert broadcast.strides[0] == 0
    a, _ = bernoulli_nll(broadcast, logits, need_grad=False)
    b, _ = bernoulli_nll(np.repeat(x, 50, axis=0), logits, need_grad=False)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_large_k_splits_one_example_over_several_decoder_calls(rng):
    model = minivae.VAE(12, 3, (10,), "relu", "bernoulli", seed=1)
    x = rng.random((3, 12)).astype(np.float32)
    res = evaluate.importance_sampled_nll(model, x, k=300, seed=0, chunk_rows=64)
    ref = evaluate.importance_sampled_nll(model, x, k=300, seed=5, chunk_rows=4096)
    assert np.all(np.isfinite(res["per_example"]))
    np.testing.assert_allclose(res["per_example"], ref["per_example"], atol=0.5)


# ------------------------------------------------------------------------------------------------
# active units and KL per dimension
# ------------------------------------------------------------------------------------------------
def test_active_units_and_kl_per_dimension(rng):
    model, _, _ = linear_gaussian(rng)
    P = model.params
    P["enc.0.W"][:, 1] = 0              # the mean of unit 1 no longer depends on x
    x = rng.standard_normal((500, D))
    res = evaluate.active_units(model, x)
    mu, lv = model.encode(x)
    np.testing.assert_allclose(res["variance"], mu.var(axis=0), rtol=1e-12)
    assert res["active"] == int(np.sum(mu.var(axis=0) > 0.01)) == 2
    assert res["variance"][1] < 1e-20
    single = evaluate.elbo(model, x)
    assert res["kl"] == pytest.approx(single["kl"], rel=1e-10)
    assert res["kl_per_dim"].shape == (d,) and np.all(res["kl_per_dim"] >= 0)


# ------------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------------
def test_bad_arguments_are_named(rng):
    model, _, _ = linear_gaussian(rng)
    x = rng.standard_normal((3, D))
    with pytest.raises(ValidationError, match="k: expected a positive integer"):
        evaluate.importance_sampled_nll(model, x, k=0)
    with pytest.raises(InputTypeError, match="samples"):
        evaluate.elbo_multi(model, x, samples=2.5)
    with pytest.raises(ValidationError, match="threshold"):
        evaluate.active_units(model, x, threshold=-1)
    with pytest.raises(ValidationError, match="needs a VAE"):
        evaluate.importance_sampled_nll(minivae.AE(D, d, (4,), likelihood="gaussian"), x, k=3)
    with pytest.raises(ValidationError, match="features"):
        evaluate.importance_sampled_nll(model, rng.standard_normal((3, D + 1)), k=3)


# ------------------------------------------------------------------------------------------------
# the command line
# ------------------------------------------------------------------------------------------------
def _trained_checkpoint(tmp_path, model="vae"):
    import os
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set: real MNIST is not available")
    from minivae.cli import main
    out = tmp_path / model
    assert main(["train", "--model", model, "--epochs", "1", "--limit", "256", "--hidden", "16",
                 "--latent-dim", "3", "--out", str(out), "--no-progress"]) == 0
    return str(out / "checkpoint.npz")


def test_cli_evaluate_every_estimate(tmp_path, capsys):
    import json
    from minivae.cli import main
    ck = _trained_checkpoint(tmp_path)
    capsys.readouterr()
    assert main(["evaluate", ck, "--limit", "50", "--k", "64", "--samples", "8", "--active-units", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    iw, multi, au = res["importance_sampled"], res["elbo_multi"], res["active_units"]
    assert iw["k"] == 64 and iw["n"] == 50 and iw["stderr"] > 0
    assert 0 < iw["nll"] < multi["nelbo"] + 3 * multi["stderr"]
    assert multi["samples"] == 8 and multi["kl"] == pytest.approx(res["kl"], rel=1e-5)
    assert len(au["kl_per_dim"]) == 3 and 0 <= au["active"] <= 3
    assert res["pixels"] == "grey-level"
    assert main(["evaluate", ck, "--limit", "20", "--k", "10", "--active-units"]) == 0
    text = capsys.readouterr().out
    assert "importance sampling K=10" in text and "active units" in text and "grey-level" in text


def test_cli_evaluate_refuses_sampling_estimates_for_an_ae(tmp_path, capsys):
    from minivae.cli import main
    ck = _trained_checkpoint(tmp_path, model="ae")
    capsys.readouterr()
    assert main(["evaluate", ck, "--limit", "20", "--k", "10"]) == 2
    err = capsys.readouterr().err
    assert "need a VAE" in err and len(err.strip().splitlines()) == 1
