"""The VAE with categorical latents: whole-model gradient checks with the Gumbel noise held fixed,
the REINFORCE gradient against the gradient of its surrogate, evaluation with discrete z, the
temperature schedule, the registry, checkpoints and the command line."""
import json
import os

import numpy as np
import pytest

from minivae import checkpoint, estimators as E
from minivae.cli import main
from minivae.errors import ValidationError
from minivae.evaluate import elbo
from minivae.gradcheck import check_model_gradient, numerical_gradient, relative_error
from minivae.models import MODELS, CategoricalVAE, build_model
from minivae.optim import Adam
from minivae.train import fit

TOL = 1e-6


def _model(**kw):
    cfg = dict(input_dim=12, n_latent=3, n_classes=4, hidden=(9, 7), dtype="float64", seed=1, tau_min=0.1)
    cfg.update(kw)
    return CategoricalVAE(**cfg)


def _batch(rng, n=6, D=12):
    return (rng.random((n, D)) < 0.4).astype(np.float64)


def _assert_report(report):
    worst = max(report, key=report.get)
    assert report[worst] < TOL, f"gradient of {worst}: relative error {report[worst]:.2e}"


@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus"])
@pytest.mark.parametrize("tau", [0.4, 1.0, 2.5])
def test_gumbel_softmax_model_gradient_every_parameter(activation, tau, rng):
    model = _model(activation=activation, tau0=tau)
    x = _batch(rng)
    eps = model.sample_noise(len(x), rng)
    report = check_model_gradient(model, x, eps)
    assert set(report) == {"total", *model.params.names()}
    _assert_report(report)


def test_gumbel_model_gradient_other_likelihood_and_one_layer(rng):
    model = _model(hidden=(8,), likelihood="gaussian-learned", n_latent=2, n_classes=3, tau0=0.7)
    x = rng.random((5, 12))
    _assert_report(check_model_gradient(model, x, model.sample_noise(5, rng)))


def test_reinforce_gradient_is_the_gradient_of_its_surrogate(rng):
    """Decoder: the exact gradient of -log p(x | z) for the sampled z. Encoder: the gradient of
    KL + mean_b c_b log q(z_b | x) with c = -log p(x | z) frozen (no baseline), i.e. the
    score-function estimate."""
    model = _model(estimator="reinforce", baseline="none", activation="tanh")
    x = _batch(rng)
    eps = model.sample_noise(len(x), rng)
    model.loss_and_grad(x, eps)
    analytic = model.params.grad.copy()
    P = model.params
    # the decoder's parameters: the loss itself is differentiable in them for fixed z
    num = numerical_gradient(lambda: model.forward_loss(x, eps)["loss"], P.data)
    dec = [n for n in P.names() if n.startswith("dec")]
    for n in dec:
        assert relative_error(analytic[P.slices[n]], num[P.slices[n]]) < TOL, n
    # the encoder's: differentiate the surrogate, holding the sampled z and the costs fixed
    probs = model.encode(x)
    idx = np.argmax(np.log(probs) + eps.reshape(probs.shape), axis=-1)
    p = model.decode(idx)
    cost = -np.sum(np.where(x > 0, np.log(p), np.log1p(-p)), axis=1)

    def surrogate():
        q = model.encode(x)
        logq = np.log(np.take_along_axis(q, idx[..., None], axis=-1)[..., 0]).sum(axis=1)
        kl = np.sum(q * np.log(q * model.n_classes), axis=(1, 2))
        return float(np.mean(kl + cost * logq))

    num = numerical_gradient(surrogate, P.data)
    for n in [n for n in P.names() if n.startswith("enc")]:
        assert relative_error(analytic[P.slices[n]], num[P.slices[n]]) < TOL, n


def test_reinforce_leave_one_out_uses_several_samples(rng):
    model = _model(estimator="reinforce", reinforce_samples=3, baseline="leave-one-out")
    assert model.noise_dim == 3 * 12
    x = _batch(rng)
    stats = model.loss_and_grad(x, model.sample_noise(len(x), rng))
    assert np.isfinite(stats["loss"]) and np.all(np.isfinite(model.params.grad))
    with pytest.raises(ValidationError, match="reinforce_samples >= 2"):
        _model(estimator="reinforce", baseline="leave-one-out")


def test_reinforce_encoder_gradient_is_unbiased_for_a_tiny_model(rng):
    """With one categorical variable the expectation over z is a finite sum, so the exact
    gradient of the (discrete) negative ELBO is known; the mean of many REINFORCE gradients
    (leave-one-out baseline) must agree with it within sampling error."""
    model = _model(n_latent=1, n_classes=3, hidden=(5,), estimator="reinforce",
                   reinforce_samples=2, baseline="leave-one-out", input_dim=6)
    x = _batch(rng, n=1, D=6)
    P = model.params
    enc = P.slices["enc.1.b"]          # the logits' biases: d loss / d b = d loss / d logits

    def exact_loss():
        q = model.encode(x)[0, 0]
        nll = [float(-np.log(np.where(x[0] > 0, p, 1 - p)).sum())
               for p in model.decode(np.arange(3)[:, None])]
        return float(q @ nll + np.sum(q * np.log(q * 3)))

    exact = numerical_gradient(exact_loss, P.data, indices=range(enc.start, enc.stop))[enc]
    draws = []
    for _ in range(4000):
        model.loss_and_grad(x, model.sample_noise(1, rng))
        draws.append(P.grad[enc].copy())
    draws = np.array(draws)
    se = draws.std(axis=0) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - exact) < 5 * se), (draws.mean(axis=0), exact, se)


def test_straight_through_forward_is_discrete_and_backward_relaxed(rng):
    model = _model(estimator="straight-through", tau0=0.8)
    x = _batch(rng)
    eps = model.sample_noise(len(x), rng)
    # forward: the decoder sees the Gumbel-max sample, so the loss is the evaluation loss
    assert model.forward_loss(x, eps) == pytest.approx(model.evaluation_loss(x, eps))
    assert model.loss_and_grad(x, eps)["loss"] == pytest.approx(model.evaluation_loss(x, eps)["loss"])
    st = model.params.grad.copy()
    # backward: the decoder's gradient differs from the relaxed model's, the encoder's gets the
    # relaxed Jacobian; both are finite and not zero
    gm = _model(estimator="gumbel", tau0=0.8)
    gm.loss_and_grad(x, eps)
    assert np.all(np.isfinite(st)) and np.abs(st).max() > 0
    assert not np.allclose(st, gm.params.grad)


def test_evaluation_uses_discrete_z(rng):
    model = _model(tau0=2.0)
    x = _batch(rng, n=20)
    res = elbo(model, x, seed=3)
    eps = model.sample_noise(20, np.random.default_rng(3))
    idx = E.gumbel_max(np.log(model.encode(x)), eps.reshape(20, 3, 4))
    p = model.decode(idx)
    nll = -np.sum(np.where(x > 0, np.log(p), np.log1p(-p)), axis=1)
    q = model.encode(x)
    kl = np.sum(q * np.log(q * 4), axis=(1, 2))
    assert res["recon"] == pytest.approx(nll.mean(), rel=1e-9)
    assert res["kl"] == pytest.approx(kl.mean(), rel=1e-9)
    # the training loss of this model is the relaxed one, a different number
    assert abs(res["nelbo"] - model.forward_loss(x, eps)["loss"]) > 1e-4


def test_temperature_follows_the_optimizer_step(rng):
    model = _model(dtype="float32", tau0=1.0, tau_min=0.5, anneal_rate=0.1)
    opt = Adam(model.params, 1e-3)
    x = _batch(rng).astype(np.float32)
    taus = [model.train_step(x, opt, rng)["tau"] for _ in range(12)]
    np.testing.assert_allclose(taus, np.maximum(0.5, np.exp(-0.1 * np.arange(12))), rtol=1e-12)


def test_training_lowers_the_discrete_bound(rng):
    x = (rng.random((200, 12)) < np.linspace(0.1, 0.9, 12)).astype(np.float32)
    for est in ("gumbel", "reinforce"):
        model = _model(dtype="float32", estimator=est)
        before = elbo(model, x)["nelbo"]
        fit(model, x, epochs=15, batch_size=20, lr=1e-2, progress=False)
        assert elbo(model, x)["nelbo"] < before - 0.5, est


def test_registry_config_and_checkpoint(tmp_path, rng):
    assert MODELS["categorical"] is CategoricalVAE
    model = _model(dtype="float32", estimator="reinforce", reinforce_samples=2, baseline="leave-one-out")
    cfg = model.get_config()
    json.dumps(cfg)
    assert cfg["kind"] == "categorical" and cfg["n_latent"] == 3 and cfg["n_classes"] == 4
    opt = Adam(model.params, 1e-3)
    model.train_step(_batch(rng).astype(np.float32), opt, rng)
    ck = checkpoint.load(checkpoint.save(tmp_path / "c.npz", model, opt, {"epoch": 1}))
    m2 = ck.build_model()
    assert isinstance(m2, CategoricalVAE) and m2.get_config() == cfg
    np.testing.assert_array_equal(m2.params.data, model.params.data)
    assert model.astype("float64").params.dtype == np.float64


def test_encode_decode_sample_shapes(rng):
    model = _model(dtype="float32")
    x = _batch(rng).astype(np.float32)
    q = model.encode(x)
    assert q.shape == (6, 3, 4)
    np.testing.assert_allclose(q.sum(axis=-1), 1, rtol=1e-6)
    assert model.embed(x).shape == (6, 3)
    assert model.reconstruct(x).shape == (6, 12)
    assert model.decode(E.one_hot(model.embed(x), 4).reshape(6, -1)).shape == (6, 12)
    s = model.sample(5, rng)
    assert s.shape == (5, 12) and s.min() >= 0 and s.max() <= 1


def test_bad_configuration_and_input_get_clear_errors(rng):
    with pytest.raises(ValidationError, match="estimator"):
        _model(estimator="vimco")
    with pytest.raises(ValidationError, match="n_classes: expected at least 2"):
        _model(n_classes=1)
    with pytest.raises(ValidationError, match="tau_min"):
        _model(tau_min=0)
    with pytest.raises(ValidationError, match="tau_min: expected at most tau0"):
        _model(tau0=0.3, tau_min=0.5)
    with pytest.raises(ValidationError, match="baseline"):
        _model(baseline="mean")
    model = _model()
    with pytest.raises(ValidationError, match=r"z: expected integer classes in \[0, 4\)"):
        model.decode(np.array([[0, 1, 7]]))
    with pytest.raises(ValidationError, match="eps: expected noise of shape"):
        model.loss(_batch(rng), eps=np.zeros((6, 5)))
    with pytest.raises(ValidationError, match="model configuration"):
        build_model({"kind": "categorical", "latent_dim": 20})


@pytest.fixture(scope="module")
def data_dir():
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set: binarized MNIST is not available")
    return os.environ["MINIVAE_DATA"]


@pytest.mark.parametrize("estimator", ["gumbel", "straight-through", "reinforce"])
def test_cli_trains_and_evaluates_the_categorical_model(tmp_path, data_dir, estimator, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--model", "categorical", "--data", "binarized-mnist", "--estimator", estimator,
               "--n-latent", "4", "--n-classes", "3", "--hidden", "16", "--limit", "200",
               "--epochs", "1", "--batch-size", "50", "--tau0", "2", "--anneal-rate", "0.01",
               "--no-progress", "--out", str(out)])
    assert rc == 0
    ck = checkpoint.load(out / "checkpoint.npz")
    assert ck.config["kind"] == "categorical" and ck.config["estimator"] == estimator
    assert ck.config["n_latent"] == 4 and ck.config["tau0"] == 2.0
    capsys.readouterr()
    assert main(["evaluate", str(out / "checkpoint.npz"), "--limit", "300", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["data"] == "binarized-mnist" and res["n"] == 300
    model = ck.build_model()
    from minivae import datasets
    x = datasets.load("binarized-mnist", "test").x[:300]
    assert res["nelbo"] == pytest.approx(elbo(model, x, seed=0)["nelbo"], rel=1e-6)


@pytest.mark.parametrize("argv,message", [
    (["--model", "vae", "--estimator", "reinforce"], "--estimator: only for --model categorical, got --model vae"),
    (["--model", "ae", "--n-classes", "5", "--tau0", "2"], "--n-classes, --tau0: only for --model categorical"),
    (["--model", "categorical", "--latent-dim", "5"], "--latent-dim: the categorical model's code is set by --n-latent"),
    (["--model", "categorical", "--tau0", "0.3"], "tau_min: expected at most tau0"),
])
def test_cli_refuses_options_that_do_not_fit_the_model(tmp_path, argv, message, capsys):
    rc = main(["train", *argv, "--out", str(tmp_path / "run"), "--no-progress"])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_cli_resume_keeps_the_categorical_options(tmp_path, data_dir, capsys):
    out = str(tmp_path / "run")
    common = ["--model", "categorical", "--data", "binarized-mnist", "--n-latent", "3", "--n-classes", "4",
              "--hidden", "8", "--limit", "100", "--batch-size", "50", "--no-progress", "--out", out]
    assert main(["train", *common, "--epochs", "1", "--tau0", "2", "--anneal-rate", "0.1"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", "--out", out, "--epochs", "2", "--tau0", "3"]) == 2
    assert "--tau0 3.0 (the run has 2.0)" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", out, "--epochs", "2", "--no-progress"]) == 0
    ck = checkpoint.load(tmp_path / "run" / "checkpoint.npz")
    assert ck.config["tau0"] == 2.0 and ck.state["epoch"] == 2


def test_kl_per_variable_adds_up_to_the_models_kl():
    model = _model()
    x = _batch(np.random.default_rng(3))
    per = model.kl_per_variable(x)
    assert per.shape == (6, model.n_latent) and np.all(per >= -1e-6)
    q = model.encode(x)
    np.testing.assert_allclose(per.sum(axis=1), np.sum(q * np.log(q * model.n_classes), axis=(1, 2)), rtol=1e-4)
