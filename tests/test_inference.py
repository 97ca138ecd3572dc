"""Per-datapoint VI (minivae.inference): the gradient of each example's ELBO with respect to its
own (mu, log_var) against central differences, the fit against the exact posterior of a linear
Gaussian model, the fit never ending below where it started, the bounds against the estimators
of minivae.evaluate, the amortization-gap report, and bad input."""
import contextlib
import json
import os

import numpy as np
import pytest

from minivae import evaluate
from minivae.cli import main
from minivae.errors import InputTypeError, ValidationError
from minivae.exercises.inference import _linear_decoder_vae
from minivae.gradcheck import numerical_gradient, relative_error
from minivae.inference import (amortization_gap, fit_local_posteriors, gaussian_elbo,
                               importance_sampled_log_px, negative_elbo, negative_elbo_and_grad,
                               parameter_counts)
from minivae.models import VAE, checkpoint
from minivae.models.ae import AE
from minivae.optim import Adam
from minivae.runtime import blas


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    # small matrices: a second BLAS thread costs more than it saves on the shared machine
    with blas.threads(1) if blas.available() else contextlib.nullcontext():
        yield


def _tiny(likelihood, prior, seed=1):
    return VAE(input_dim=6, latent_dim=3, hidden=(5,), likelihood=likelihood, prior=prior,
               activation="tanh", dtype="float64", seed=seed)


# ------------------------------------------------------------------------------------------------
# the gradient
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian-learned"])
@pytest.mark.parametrize("prior", ["normal", "mog", {"name": "vamp", "components": 3}])
def test_gradient_matches_central_differences(likelihood, prior, rng):
    model = _tiny(likelihood, prior)
    x = rng.random((4, 6))
    mu = rng.normal(size=(4, 3))
    log_var = 0.5 * rng.normal(size=(4, 3))
    eps = rng.normal(size=(4, 3, 3))                 # 3 samples per example, held fixed
    before = model.params.grad.copy()
    nelbo, dmu, dlv = negative_elbo_and_grad(model, x, mu, log_var, eps)
    np.testing.assert_array_equal(model.params.grad, before)     # the model's gradient is untouched
    np.testing.assert_allclose(nelbo, negative_elbo(model, x, mu, log_var, eps), rtol=1e-12)
    f = lambda: float(negative_elbo(model, x, mu, log_var, eps).sum())   # noqa: E731
    assert relative_error(dmu, numerical_gradient(f, mu)) < 1e-6
    assert relative_error(dlv, numerical_gradient(f, log_var)) < 1e-6


def test_each_row_is_its_own_examples_gradient(rng):
    # the gradient of the sum, row i, is the gradient of example i's bound alone
    model = _tiny("bernoulli", "normal")
    x, mu, lv = rng.random((3, 6)), rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    eps = rng.normal(size=(3, 2, 3))
    _, dmu, dlv = negative_elbo_and_grad(model, x, mu, lv, eps)
    for i in range(3):
        _, dmu_i, dlv_i = negative_elbo_and_grad(model, x[i:i + 1], mu[i:i + 1], lv[i:i + 1], eps[i:i + 1])
        np.testing.assert_allclose(dmu[i:i + 1], dmu_i, rtol=1e-12)
        np.testing.assert_allclose(dlv[i:i + 1], dlv_i, rtol=1e-12)


def test_closed_form_kl_is_the_sampled_one_in_expectation(rng):
    # the same bound through the closed form and through -H(q) - log p(z): equal up to noise
    closed = _tiny("bernoulli", "normal")
    sampled = _tiny("bernoulli", {"name": "normal", "kl": "sampled"})
    x, mu, lv = rng.random((2, 6)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    eps = rng.normal(size=(2, 20000, 3))
    np.testing.assert_allclose(negative_elbo(closed, x, mu, lv, eps), negative_elbo(sampled, x, mu, lv, eps),
                               atol=0.05)


# ------------------------------------------------------------------------------------------------
# the fit
# ------------------------------------------------------------------------------------------------
def _linear_gaussian(A, b, sigma):
    """A VAE whose decoder is exactly x_mean = A z + b (the one notebook 11's exercise grades with)."""
    return _linear_decoder_vae(A, b, sigma)


def test_fit_reaches_the_exact_posterior_of_a_linear_gaussian_model():
    # p(z) = N(0, I), p(x | z) = N(A z + b, s^2 I): the posterior is N(m, L^-1) with precision
    # L = I + A^T A / s^2 and m = L^-1 A^T (x - b) / s^2. The best diagonal Gaussian for a Gaussian
    # target has its mean m and the variances 1 / diag(L).
    r = np.random.default_rng(0)
    A, b, sigma = r.normal(size=(5, 2)), r.normal(size=5), 0.7
    model = _linear_gaussian(A, b, sigma)
    x = r.normal(size=(6, 5))
    z_in = r.normal(size=(6, 2))
    np.testing.assert_allclose(model.decode(z_in), z_in @ A.T + b, atol=1e-12)   # the decoder is linear
    L = np.eye(2) + A.T @ A / sigma ** 2
    m = np.linalg.solve(L, A.T @ (x - b).T / sigma ** 2).T
    fit = fit_local_posteriors(model, x, steps=1500, samples=20, lr=0.02, lr_end=1e-4, init="prior", rng=0)
    np.testing.assert_allclose(fit["mu"], m, atol=0.01)
    np.testing.assert_allclose(np.exp(fit["log_var"]), np.broadcast_to(1 / np.diag(L), (6, 2)), rtol=0.1)
    # a factorized q under-reports the spread: the true marginal variances are 1.58 times larger here
    assert np.all(np.exp(fit["log_var"]) < 0.8 * np.diag(np.linalg.inv(L)))
    assert fit["trace"][-50:].mean() < fit["trace"][0]


def test_diagonal_posterior_is_found_exactly_and_its_elbo_is_log_px():
    # orthogonal columns of A make the posterior diagonal: the fitted ELBO reaches log p(x)
    r = np.random.default_rng(1)
    A = np.linalg.qr(r.normal(size=(5, 2)))[0] * np.array([1.5, 0.8])
    b, sigma = r.normal(size=5), 0.5
    model = _linear_gaussian(A, b, sigma)
    x = r.normal(size=(4, 5))
    fit = fit_local_posteriors(model, x, steps=1500, samples=20, lr=0.02, lr_end=1e-4, init="prior", rng=1)
    C = A @ A.T + sigma ** 2 * np.eye(5)             # x ~ N(b, A A^T + s^2 I)
    diff = x - b
    log_px = -0.5 * (np.sum(diff * np.linalg.solve(C, diff.T).T, axis=1) + np.linalg.slogdet(C)[1]
                     + 5 * np.log(2 * np.pi))
    elbo = gaussian_elbo(model, x, fit["mu"], fit["log_var"], samples=20000, seed=2)["per_example"]
    np.testing.assert_allclose(elbo, log_px, atol=0.02)
    iw = importance_sampled_log_px(model, x, fit["mu"], fit["log_var"], k=2000, seed=3)["per_example"]
    np.testing.assert_allclose(iw, log_px, atol=0.01)


@pytest.fixture(scope="module")
def trained():
    """A small VAE trained for a few hundred steps on 4-bump data in 12 dimensions."""
    r = np.random.default_rng(5)
    centres = r.random((4, 12))
    data = np.clip(centres[r.integers(0, 4, 600)] + 0.1 * r.normal(size=(600, 12)), 0, 1)
    model = VAE(input_dim=12, latent_dim=2, hidden=(16,), dtype="float64", seed=3)
    opt = Adam(model.params, lr=1e-2)
    for step in range(400):
        model.train_step(data[r.integers(0, 600, 64)], opt, r)
    return model, data[:40]


def test_fit_from_the_encoder_never_ends_below_its_start(trained):
    model, x = trained
    mu0, lv0 = model.encode(x)
    fit = fit_local_posteriors(model, x, steps=300, samples=20, lr=1e-2, init="encoder", rng=0)
    np.testing.assert_array_equal(fit["init_mu"], mu0)
    # the same noise for both bounds (common random numbers): only the change of q shows
    start = gaussian_elbo(model, x, mu0, lv0, samples=4000, seed=7)
    end = gaussian_elbo(model, x, fit["mu"], fit["log_var"], samples=4000, seed=7)
    gain = end["per_example"] - start["per_example"]
    assert np.all(gain > -0.02), gain.min()
    assert end["mean"] > start["mean"]


def test_fit_leaves_the_model_alone(trained):
    model, x = trained
    data, grad = model.params.data.copy(), model.params.grad.copy()
    fit_local_posteriors(model, x[:5], steps=5, samples=2, rng=0, init="prior")
    np.testing.assert_array_equal(model.params.data, data)
    np.testing.assert_array_equal(model.params.grad, grad)


def test_chunks_give_the_same_fit(trained):
    # chunks of examples are independent problems: how they are cut changes only the noise draws
    model, x = trained
    a = fit_local_posteriors(model, x[:6], steps=200, samples=10, lr=1e-2, rng=0, chunk_rows=20)
    b = fit_local_posteriors(model, x[:6], steps=200, samples=10, lr=1e-2, rng=1, chunk_rows=1000)
    np.testing.assert_allclose(a["mu"], b["mu"], atol=0.15)


# ------------------------------------------------------------------------------------------------
# the bounds of a given q, against minivae.evaluate
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("prior", ["normal", "mog"])
def test_encoder_bounds_are_the_evaluate_estimators(trained, prior):
    model, x = trained
    if prior != "normal":
        model = VAE(input_dim=12, latent_dim=2, hidden=(16,), dtype="float64", seed=3, prior=prior)
    mu, lv = model.encode(x)
    # the same chunks and seed draw the same noise as minivae.evaluate, so the numbers agree
    e = gaussian_elbo(model, x, mu, lv, samples=30, seed=4, chunk_rows=evaluate.CHUNK_ROWS)
    m = evaluate.elbo_multi(model, x, samples=30, seed=4)
    assert e["mean"] == pytest.approx(-m["nelbo"], rel=1e-10)
    iw = importance_sampled_log_px(model, x, mu, lv, k=50, seed=4, chunk_rows=evaluate.CHUNK_ROWS)
    ref = evaluate.importance_sampled_nll(model, x, k=50, seed=4)
    np.testing.assert_allclose(iw["per_example"], -ref["per_example"], rtol=1e-10)


def test_amortization_gap_orders_the_three_bounds(trained):
    model, x = trained
    g = amortization_gap(model, x, steps=200, samples=10, lr=1e-2, k=500, eval_samples=500, seed=0, n_train=1000)
    assert g["n"] == len(x)
    assert g["local"] > g["encoder"]
    assert g["local"] <= g["log_px"] + 3 * g["log_px_stderr"]
    assert g["local"] <= g["log_px_local"] + 3 * g["log_px_local_stderr"]
    assert g["closed"] == pytest.approx((g["local"] - g["encoder"]) / (g["log_px"] - g["encoder"]))
    assert 0 <= g["share_local_beats_encoder"] <= 1
    assert g["per_example"]["local"].shape == (len(x),)
    counts = g["counts"]
    assert counts["amortized"] == model.n_params()
    assert counts["local"] == counts["theta"] + 2 * 2 * 1000
    assert counts["phi"] == sum(model.params[n].size for n in model.params.names() if n.startswith("enc"))


def test_parameter_counts_by_hand():
    model = VAE(input_dim=784, latent_dim=20, hidden=(400,))
    c = parameter_counts(model, 60000)
    phi = 784 * 400 + 400 + 400 * 40 + 40           # encoder: 784-400-[mu, log_var]
    theta = 20 * 400 + 400 + 400 * 784 + 784         # decoder: 20-400-784
    assert (c["phi"], c["theta"]) == (phi, theta)
    assert c["local"] == theta + 2 * 20 * 60000


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------
def test_a_model_without_a_gaussian_posterior_is_refused():
    ae = AE(input_dim=6, latent_dim=3, hidden=(5,))
    with pytest.raises(ValidationError, match="Gaussian posterior"):
        fit_local_posteriors(ae, np.zeros((2, 6)), steps=2)
    with pytest.raises(ValidationError, match="needs a VAE"):
        amortization_gap(ae, np.zeros((2, 6)))


def test_bad_arguments_are_named(rng):
    model = _tiny("bernoulli", "normal")
    x = rng.random((2, 6))
    mu, lv, eps = np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 4, 3))
    with pytest.raises(ValidationError, match=r"mu: expected shape \(2, 3\)"):
        negative_elbo(model, x, np.zeros((3, 3)), lv, eps)
    with pytest.raises(ValidationError, match="log_var: expected finite"):
        negative_elbo(model, x, mu, np.full((2, 3), np.nan), eps)
    with pytest.raises(ValidationError, match=r"eps: expected shape \(2, S, 3\)"):
        negative_elbo(model, x, mu, lv, np.zeros((2, 3)).reshape(2, 1, 3)[:, :, :2])
    with pytest.raises(ValidationError, match="eps: expected a 3-D"):
        negative_elbo(model, x, mu, lv, np.zeros((2, 3)))
    with pytest.raises(ValidationError, match="x: expected 6 features"):
        fit_local_posteriors(model, rng.random((2, 5)), steps=2)
    with pytest.raises(ValidationError, match="finite"):
        fit_local_posteriors(model, np.full((2, 6), np.inf), steps=2)
    with pytest.raises(ValidationError, match="init"):
        fit_local_posteriors(model, x, steps=2, init="zeros")
    with pytest.raises(ValidationError, match="steps"):
        fit_local_posteriors(model, x, steps=0)
    with pytest.raises(ValidationError, match="samples"):
        fit_local_posteriors(model, x, steps=1, samples=-1)
    with pytest.raises(InputTypeError, match="mu"):
        gaussian_elbo(model, x, np.array([["a"] * 3] * 2), lv)


@pytest.fixture
def data_dir():
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set: MNIST is not available")
    return os.environ["MINIVAE_DATA"]


def test_cli_local_vi(tmp_path, data_dir, capsys):
    model = VAE(input_dim=784, latent_dim=2, hidden=(8,), seed=0)
    path = tmp_path / "vae.npz"
    checkpoint.save(path, model, state={"args": {"data": "mnist"}})
    assert main(["evaluate", str(path), "--limit", "4", "--local-vi", "3", "--local-samples", "2",
                 "--k", "20", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["local_vi"]
    assert res["n"] == 4 and res["k"] == 20 and res["settings"]["steps"] == 3
    assert res["counts"]["local"] == res["counts"]["theta"] + 2 * 2 * 60000
    assert main(["evaluate", str(path), "--limit", "4", "--local-vi", "3", "--k", "20"]) == 0
    text = capsys.readouterr().out
    for label in ("ELBO of the encoder's q(z|x)", "ELBO of a q_i fitted to each example",
                  "log p(x), importance sampling K=20", "nats per example", "of the examples",
                  "amortized |theta| + |phi|", "time per new example"):
        assert label in text


def test_cli_refuses_local_vi_without_a_gaussian_posterior(tmp_path, data_dir, capsys):
    path = tmp_path / "ae.npz"
    checkpoint.save(path, AE(input_dim=784, latent_dim=2, hidden=(8,)), state={"args": {"data": "mnist"}})
    assert main(["evaluate", str(path), "--limit", "4", "--local-vi", "3"]) == 2
    err = capsys.readouterr().err
    assert "--local-vi" in err and "Gaussian posterior" in err


# ------------------------------------------------------------------------------------------------
# the exercises of notebook 11 grade right answers as right and wrong ones as wrong
# ------------------------------------------------------------------------------------------------
def _local_gradient(x, A, c, sigma, mu, v, eps):
    n, L, d = eps.shape
    std = np.exp(v / 2)
    z = mu[:, None, :] + std[:, None, :] * eps
    dz = ((z @ A.T + c - x[:, None, :]) / sigma ** 2) @ A / L      # d(recon)/dz per sample, / L
    return dz.sum(axis=1) + mu, (dz * eps * std[:, None, :] / 2).sum(axis=1) + 0.5 * (np.exp(v) - 1)


def _m_step(x, q):
    n_c = q.sum(axis=0)
    means = q.T @ x / n_c[:, None]
    covs = np.stack([(q[:, c, None] * (x - means[c])).T @ (x - means[c]) / n_c[c] for c in range(q.shape[1])])
    return n_c / len(x), means, covs


def test_exercise_checks(capsys):
    from minivae.exercises import ExerciseNotPassed, check_gmm_m_step, check_local_elbo_gradient
    check_local_elbo_gradient(_local_gradient, exercise=1)
    check_gmm_m_step(_m_step, exercise=2)
    assert capsys.readouterr().out.count("✓ exercise") == 2
    # the KL's derivative in v forgotten; the sample mean taken as a sum; covariances not centred
    with pytest.raises(ExerciseNotPassed, match="d/dv differs"):
        check_local_elbo_gradient(lambda *a: (_local_gradient(*a)[0], _local_gradient(*a)[1] - 0.5 * (np.exp(a[5]) - 1)))
    with pytest.raises(ExerciseNotPassed, match="d/dmu differs"):
        check_local_elbo_gradient(lambda *a: (a[6].shape[1] * (_local_gradient(*a)[0] - a[4]) + a[4],
                                              _local_gradient(*a)[1]))
    with pytest.raises(ExerciseNotPassed, match="covariances"):
        check_gmm_m_step(lambda x, q: (*_m_step(x, q)[:2], np.stack([(q[:, c, None] * x).T @ x / q[:, c].sum()
                                                                   for c in range(q.shape[1])])))
    with pytest.raises(ExerciseNotPassed, match="not answered"):
        check_gmm_m_step(lambda x, q: (_ for _ in ()).throw(NotImplementedError("N_c / N")))
