"""VaDE's recipe (minivae.vade) and the mixture and VampPrior priors on the command line: the
autoencoder's weights land where they should, the prior starts from the mixture fitted to the
codes, clusters are scored, and bad combinations are refused."""
import numpy as np
import pytest

import minivae
from minivae import checkpoint, vade
from minivae.cli import main
from minivae.errors import ValidationError
from minivae.models import AE


def _blobs(rng, n=240, D=12, k=3):
    """Binary images from k well-separated prototypes (labels = the prototype)."""
    protos = rng.random((k, D)) < 0.5
    y = rng.integers(0, k, n)
    flip = rng.random((n, D)) < 0.05
    return (protos[y] ^ flip).astype(np.float32), y


def test_the_autoencoder_becomes_the_vaes_mean(rng):
    model = minivae.VAE(12, 2, (8,), prior={"name": "mog", "components": 3}, dtype="float64", seed=1)
    ae = AE(12, 2, (8,), dtype="float64", seed=4)
    vade.copy_autoencoder_weights(model, ae)
    x = rng.random((5, 12))
    np.testing.assert_allclose(model.encode(x)[0], ae.encode(x), rtol=1e-12)
    np.testing.assert_allclose(model.decode(ae.encode(x)), ae.decode(ae.encode(x)), rtol=1e-12)
    with pytest.raises(ValidationError, match="layer widths"):
        vade.copy_autoencoder_weights(model, AE(12, 2, (9,)))
    with pytest.raises(ValidationError, match="a VAE with a mixture prior"):
        vade.copy_autoencoder_weights(minivae.VAE(12, 2, (8,)), ae)


def test_the_prior_starts_from_the_mixture_fitted_to_the_codes(rng):
    model = minivae.VAE(12, 2, (8,), prior={"name": "mog", "components": 2}, dtype="float64")
    codes = np.concatenate([rng.normal(-3, 0.5, (100, 2)), rng.normal(3, 1.0, (300, 2))])
    gmm = vade.init_mixture_prior(model, codes, seed=0)
    P = model.params
    np.testing.assert_allclose(np.sort(np.exp(P["prior.logits"]) / np.exp(P["prior.logits"]).sum()), [0.25, 0.75],
                               atol=0.01)
    np.testing.assert_allclose(P["prior.means"], gmm.means_)
    np.testing.assert_allclose(np.exp(P["prior.log_vars"]), gmm.covariances_)


def test_vade_clusters_separated_blobs(rng):
    x, y = _blobs(rng)
    model = minivae.VAE(12, 2, (16,), prior={"name": "mog", "components": 3}, seed=0)
    vade.prepare(model, x, epochs=30, seed=0, batch_size=40, lr=1e-2, progress=False, verbose=False, threads=1)
    from minivae.train import fit
    fit(model, x, epochs=20, batch_size=40, lr=3e-3, progress=False, threads=1)
    assert vade.clustering_accuracy(model, x, y) > 0.9
    assert set(np.unique(vade.cluster_assignments(model, x))) <= {0, 1, 2}


def _fake_mnist(monkeypatch, rng):
    from minivae import datasets
    x, y = _blobs(rng, n=300, D=784, k=4)
    data = {s: datasets.Dataset(x=x, y=y, name="mnist", split=s) for s in ("train", "test")}
    monkeypatch.setattr("minivae.cli.datasets.load", lambda name, split, **k: data[split])


def test_cli_vade_trains_and_evaluate_prints_the_clustering_accuracy(tmp_path, rng, monkeypatch, capsys):
    _fake_mnist(monkeypatch, rng)
    out = str(tmp_path / "run")
    argv = ["train", "--prior", "mog", "--components", "4", "--pretrain-epochs", "2", "--epochs", "1",
            "--hidden", "16", "--latent-dim", "2", "--batch-size", "50", "--no-progress", "--out", out]
    assert main(argv) == 0
    assert "VaDE: fitted a 4-component diagonal mixture" in capsys.readouterr().out
    model = checkpoint.load_model(tmp_path / "run" / "checkpoint.npz")
    assert model.prior.name == "mog" and model.prior.components == 4
    assert main(["evaluate", out + "/checkpoint.npz", "--json"]) == 0
    import json
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.25 <= res["clustering_accuracy"] <= 1.0
    # resume keeps the prior; asking for another is refused
    assert main(["train", "--resume", "--out", out, "--epochs", "2", "--no-progress"]) == 0
    assert main(["train", "--resume", "--out", out, "--epochs", "3", "--prior", "vamp", "--no-progress"]) == 2
    assert "--prior vamp (the run has mog)" in capsys.readouterr().err


def test_init_mixture_prior_keeps_the_restart_that_select_names(rng):
    """VaDE's start with restarts: the prior holds the kept fit, the most even one for balance."""
    sizes = (30, 60, 90, 120)
    codes = np.concatenate([rng.normal(size=(n, 3)) + 3.0 * c for c, n in enumerate(sizes)])
    model = minivae.VAE(12, 3, (8,), prior={"name": "mog", "components": 5}, dtype="float64", seed=0)
    gmm = vade.init_mixture_prior(model, codes, seed=1, n_init=6, select="balance")
    assert gmm.select == "balance" and gmm.restart_weight_entropies_.shape == (6,)
    assert np.argmax(gmm.restart_weight_entropies_) != np.argmax(gmm.restart_lower_bounds_)  # they disagree here
    w = np.exp(model.params["prior.logits"])
    np.testing.assert_allclose(w, gmm.weights_, rtol=1e-6)
    assert -np.sum(w * np.log(w)) == pytest.approx(gmm.restart_weight_entropies_.max(), rel=1e-6)


def test_cli_vade_start_with_restarts_says_which_it_kept(tmp_path, rng, monkeypatch, capsys):
    _fake_mnist(monkeypatch, rng)
    argv = ["train", "--prior", "mog", "--components", "4", "--pretrain-epochs", "1", "--epochs", "1",
            "--mixture-restarts", "3", "--mixture-select", "balance", "--hidden", "16", "--latent-dim", "2",
            "--batch-size", "50", "--no-progress", "--out", str(tmp_path / "run"), "--pretrain-init", "glorot"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "kept the one with the most even weights of 3 restarts" in out
    assert "pretrained an autoencoder for 1 epochs (weights started glorot)" in out


def test_glorot_start_has_its_bound_and_zero_biases(rng):
    W, b = np.empty((300, 100)), np.ones(100)
    minivae.nn.init_linear_glorot(W, b, rng)
    bound = np.sqrt(6.0 / 400)
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound
    assert W.var() == pytest.approx(bound ** 2 / 3, rel=0.05)     # U(-c, c) has variance c^2 / 3
    assert not b.any()


@pytest.mark.parametrize("init,low,high", [("uniform", 0.0, 1 / np.sqrt(12)), ("glorot", 1 / np.sqrt(12), np.sqrt(0.3))])
def test_pretrain_autoencoder_starts_from_the_init_asked_for(rng, init, low, high):
    """With a learning rate too small to move them, the weights show their start: the first
    layer (12 -> 8) is bounded by 1/sqrt(12) = 0.289 for uniform and reaches past it (up to
    sqrt(6/20) = 0.548) for glorot, whose biases start at zero."""
    model = minivae.VAE(12, 2, (8,), prior={"name": "mog", "components": 2}, dtype="float64", seed=3)
    x, _ = _blobs(rng, n=40)
    ae = vade.pretrain_autoencoder(model, x, 1, init=init, lr=1e-12, batch_size=20, progress=False, verbose=False)
    W = ae.params["enc.0.W"]
    assert low < np.abs(W).max() <= high
    if init == "glorot":
        assert np.abs(ae.params["enc.0.b"]).max() < 1e-9 and np.abs(ae.params["dec.1.b"]).max() < 1e-9
    with pytest.raises(ValidationError, match="init: expected one of uniform, glorot, got 'he'"):
        vade.pretrain_autoencoder(model, x, 1, init="he")


def test_cli_vamp_starts_its_pseudo_inputs_from_training_images(tmp_path, rng, monkeypatch):
    _fake_mnist(monkeypatch, rng)
    out = tmp_path / "run"
    assert main(["train", "--prior", "vamp", "--components", "5", "--epochs", "1", "--hidden", "16",
                 "--latent-dim", "2", "--batch-size", "50", "--no-progress", "--out", str(out)]) == 0
    model = checkpoint.load_model(out / "checkpoint.npz")
    u = model.params["prior.pseudo_inputs"]
    assert u.shape == (5, 784) and model.prior.pseudo_init == "data"
    assert main(["evaluate", str(out / "checkpoint.npz"), "--k", "3", "--limit", "20"]) == 0


@pytest.mark.parametrize("argv,message", [
    (["--components", "0"], "argument --components: expected a positive integer, got 0"),
    (["--components", "3"], "--components: applies to --prior mog or vamp, got --prior normal"),
    (["--pretrain-epochs", "2", "--prior", "vamp"], "--pretrain-epochs: applies to --prior mog, got --prior vamp"),
    (["--model", "ae", "--prior", "mog"], "--prior: only for --model vae, got --model ae"),
    (["--prior", "vamp", "--pseudo-init", "zeros"], "argument --pseudo-init: invalid choice"),
    (["--prior", "mog", "--mixture-restarts", "0"], "argument --mixture-restarts: expected a positive integer, got 0"),
    (["--prior", "mog", "--mixture-select", "bic"], "argument --mixture-select: invalid choice"),
    (["--prior", "vamp", "--mixture-restarts", "3"], "--mixture-restarts: applies to --prior mog, got --prior vamp"),
    (["--mixture-select", "balance"], "--mixture-select: applies to --prior mog, got --prior normal"),
    (["--pretrain-init", "glorot"], "--pretrain-init: applies to --prior mog, got --prior normal"),
    (["--prior", "mog", "--pretrain-init", "he"], "argument --pretrain-init: invalid choice"),
    (["--prior", "mog", "--mixture-restarts", "3"],
     "--mixture-restarts: has an effect only with --pretrain-epochs N > 0, got --pretrain-epochs 0"),
    (["--prior", "mog", "--pretrain-init", "glorot", "--pretrain-epochs", "0"],
     "--pretrain-init: has an effect only with --pretrain-epochs N > 0, got --pretrain-epochs 0"),
])
def test_cli_refuses_prior_options_that_do_not_fit(argv, message, tmp_path, capsys):
    try:
        status = main(["train", *argv, "--out", str(tmp_path / "r"), "--no-progress"])
    except SystemExit as exc:          # argparse's own refusals
        status = exc.code
    assert status == 2
    assert message in capsys.readouterr().err


def test_vamp_with_more_components_than_images_is_refused(tmp_path, rng, monkeypatch, capsys):
    _fake_mnist(monkeypatch, rng)
    assert main(["train", "--prior", "vamp", "--components", "500", "--limit", "100", "--hidden", "8",
                 "--no-progress", "--out", str(tmp_path / "r")]) == 2
    assert "starts its 500 pseudo-inputs from as many training images, got 100" in capsys.readouterr().err
