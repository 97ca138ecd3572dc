"""The semi-supervised VAE (M2, M1+M2) and its baseline classifier: gradients against central
differences in float64 on the whole model, the bounds as the lecture writes them, balanced label
draws, mixed batches, training, resume bit for bit, checkpoints, the command line and its errors."""
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minivae import checkpoint, datasets, plots, semisupervised
from minivae.cli import main
from minivae.errors import InputTypeError, ValidationError
from minivae.gradcheck import numerical_gradient, relative_error
from minivae.models import M1M2, M2, VAE, Classifier
from minivae.models.m2 import unlabelled_bound, unlabelled_bound_backward
from minivae.train import Trainer

needs_data = pytest.mark.skipif(not os.environ.get("MINIVAE_DATA"), reason="MINIVAE_DATA is not set")

MIXED = np.array([0, -1, 2, -1, 1, -1, 2])
LABELLINGS = {"unlabelled": None, "labelled": np.array([0, 1, 2, 2, 1, 0, 1]), "mixed": MIXED}


def _m2(**kw):
    return M2(12, 3, 4, (7,), activation="tanh", alpha=0.7, dtype="float64", seed=1, **kw)


def _m1m2(**kw):
    m1 = VAE(12, 5, (6,), dtype="float64", seed=3)
    model = M1M2(12, m1.get_config(), 3, 4, (7,), activation="tanh", alpha=0.7, dtype="float64", seed=1,
                 m1_params=m1.params.data, **kw)
    return model


def _m1m2_weighted(labelled_weight):
    return _m1m2(labelled_weight=labelled_weight)


def _check(model, x, labels, rng, part=slice(None)):
    eps = model.sample_noise(len(x), rng, labels)
    model.params.grad.fill(np.nan)
    model.loss_and_grad(x, eps, labels)
    analytic = model.params.grad.copy()
    numeric = numerical_gradient(lambda: model.forward_loss(x, eps, labels)["loss"], model.params.data)
    return relative_error(analytic[part], numeric[part]), analytic


# ------------------------------------------------------------------------------------------------
# Gradients
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", sorted(LABELLINGS))
def test_m2_gradient_matches_central_differences(which, rng):
    model = _m2()
    x = rng.random((7, 12))
    err, _ = _check(model, x, LABELLINGS[which], rng)
    assert err < 1e-6


def test_m2_gradient_with_two_hidden_layers(rng):
    """Deeper networks: every layer's gradient through the stacked rows."""
    model = M2(12, 3, 4, (6, 5), activation="softplus", alpha=0.7, dtype="float64", seed=2)
    err, _ = _check(model, rng.random((7, 12)), MIXED, rng)
    assert err < 1e-6


@pytest.mark.parametrize("hidden", [(), (6, 5)])
def test_m2_factored_encoder_is_the_encoder_on_the_concatenated_rows(hidden, rng):
    """The first layer is computed as (h W_x)[src] + W_y[y] + b, one product per example; it
    must give what the encoder gives on [x, onehot(y)] row by row, with or without hidden layers,
    and the linear encoder (hidden=()) must pass the gradient check too."""
    model = M2(12, 3, 4, hidden, activation="softplus", alpha=0.7, dtype="float64", seed=2)
    x, y = rng.random((7, 12)), np.array([0, 2, 1, 1, 0, 2, 2])
    mu, log_var = model.encode(x, y)
    plain, _ = model.encoder.forward(model.params, np.concatenate([x, np.eye(3)[y]], axis=1))
    np.testing.assert_allclose(np.concatenate([mu, log_var], axis=1), plain, rtol=1e-12, atol=1e-12)
    err, _ = _check(model, x, MIXED, rng)
    assert err < 1e-6


@pytest.mark.parametrize("likelihood", ["gaussian-perpixel", "laplace"])
def test_m2_gradient_with_a_density_likelihood(likelihood, rng):
    model = _m2(likelihood=likelihood)
    err, _ = _check(model, rng.standard_normal((7, 12)), MIXED, rng)
    assert err < 1e-6


@pytest.mark.parametrize("which", sorted(LABELLINGS))
def test_m1m2_gradient_of_m2_part_and_m1_frozen(which, rng):
    model = _m1m2()
    x = rng.random((7, 12))
    m2_end = model.params.slices[model.decoder.prefix + f".{model.decoder.n_layers - 1}.b"].stop
    err, analytic = _check(model, x, LABELLINGS[which], rng, part=slice(0, m2_end))
    assert err < 1e-6
    assert np.all(analytic[m2_end:] == 0)       # M1's entries: frozen, gradient zero


def test_classifier_gradient(rng):
    model = Classifier(12, 3, (7,), activation="tanh", dtype="float64")
    x, y = rng.random((7, 12)), np.array([0, 1, 2, 2, 1, 0, 1])
    model.loss_and_grad(x, None, y)
    analytic = model.params.grad.copy()
    numeric = numerical_gradient(lambda: model.forward_loss(x, None, y)["loss"], model.params.data)
    assert relative_error(analytic, numeric) < 1e-6


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(2, 6))
def test_unlabelled_bound_backward_matches_central_differences(seed, B, K):
    """d(-U)/dl = pi and d(-U)/da_j = pi_j (l_j + log pi_j + U), for any bounds l and logits a."""
    r = np.random.default_rng(seed)
    # logits within +-4, so every pi_j >= e^-8 / K: d(-U)/da_j = pi_j (...) is then large enough for a
    # central difference of a bound of order 50 to resolve (its rounding, about 1e-16 * 50 / h = 5e-10,
    # against gradients of 1e-4 and more). With logits 12 apart (seed 8070, B = 1, K = 2: a = -9.0,
    # 3.07) both derivatives are 2.8e-7 and the difference quotient's rounding alone is 1e-3 of them.
    # Every input this test can draw (seeds 0-10,000, B 1-4, K 2-6) was run once: worst error 7.5e-7.
    a, ell = r.uniform(-4, 4, (B, K)), r.random((B, K)) * 50
    dell, da = unlabelled_bound_backward(a, ell)
    total = lambda: float(unlabelled_bound(a, ell).sum())      # noqa: E731
    assert relative_error(da, numerical_gradient(total, a)) < 1e-6
    assert relative_error(dell, numerical_gradient(total, ell)) < 1e-6
    # the bound is never below -log sum_y exp(-l_y), reached at q(y|x) proportional to exp(-l_y)
    tight = -np.log(np.sum(np.exp(-ell), axis=1))
    assert np.all(unlabelled_bound(a, ell) >= tight - 1e-9)
    assert np.allclose(unlabelled_bound(-ell, ell), tight)


# ------------------------------------------------------------------------------------------------
# The bounds
# ------------------------------------------------------------------------------------------------
def test_unlabelled_bound_is_the_q_weighted_labelled_bounds_minus_the_entropy(rng):
    """-U(x) = sum_y q(y|x) (-L(x, y)) - H(q(y|x)), with -L(x, y) from K labelled passes that
    use the same noise rows as the stacked unlabelled pass."""
    model = _m2()
    K, x = model.n_classes, rng.random((4, 12))
    eps = model.sample_noise(4, rng)                          # (4 * K, d): example i, class k at i*K + k
    unl = model.forward_loss(x, eps)
    pi = model.class_probabilities(x)
    ell = np.empty((4, K))
    for k in range(K):
        y = np.full(4, k)
        for i in range(4):
            ell[i, k] = model.forward_loss(x[i:i + 1], eps[i * K + k:i * K + k + 1], y[i:i + 1])["bound_labelled"]
    expected = np.sum(pi * ell, axis=1) + np.sum(pi * np.log(pi), axis=1)
    assert unl["bound_unlabelled"] == pytest.approx(expected.mean(), rel=1e-10)
    assert unl["recon"] + unl["kl"] == pytest.approx(unl["bound_unlabelled"], rel=1e-10)


def test_labelled_bound_includes_log_k_and_loss_adds_alpha_times_the_classification_term(rng):
    model = _m2()
    x, y = rng.random((5, 12)), np.array([0, 1, 2, 0, 1])
    eps = model.sample_noise(5, rng, y)
    s = model.forward_loss(x, eps, y)
    assert s["recon"] + s["kl"] == pytest.approx(s["bound_labelled"])
    assert s["kl"] > math.log(3)                              # KL_z >= 0 plus -log p(y) = log K
    ce = -np.mean(np.log(model.class_probabilities(x))[np.arange(5), y])
    assert s["class"] == pytest.approx(ce)
    assert s["loss"] == pytest.approx(s["bound_labelled"] + 0.7 * ce)


@pytest.mark.parametrize("build", [lambda: _m2(labelled_weight=0.3), lambda: _m1m2_weighted(0.3)])
def test_labelled_weight_scales_the_labelled_bound_in_loss_and_gradient(build, rng):
    """loss = lambda mean l(x, y) + mean -U(x) + alpha mean -log q(y|x): the loss decomposes so
    on a mixed batch, and the whole model's gradient with lambda != 1 matches central differences."""
    model = build()
    x = rng.random((7, 12))
    s = model.forward_loss(x, model.sample_noise(7, rng, MIXED), MIXED)
    assert s["loss"] == pytest.approx(0.3 * s["bound_labelled"] + s["bound_unlabelled"] + 0.7 * s["class"],
                                      rel=1e-12)
    m2_end = model.params.slices[model.decoder.prefix + f".{model.decoder.n_layers - 1}.b"].stop
    err, _ = _check(model, x, MIXED, rng, part=slice(0, m2_end))     # M1+M2: M1's entries are frozen
    assert err < 1e-6


def test_labelled_weight_zero_leaves_the_decoder_no_gradient_from_labelled_examples(rng):
    """lambda = 0 on an all-labelled batch: only the classification term is left, so the
    encoder and decoder receive no gradient at all."""
    model = _m2(labelled_weight=0.0)
    x, y = rng.random((5, 12)), np.array([0, 1, 2, 0, 1])
    model.loss_and_grad(x, model.sample_noise(5, rng, y), y)
    assert np.all(model.params.g("dec_y.0.W") == 0) and np.all(model.params.g("enc_y.0.W") == 0)
    assert np.any(model.params.g("cls.0.W") != 0)


def test_default_weights_mean_and_dataset():
    """mean: lambda 1, alpha 0.1 N / N_l; dataset: the paper's sum per unlabelled example,
    lambda N_l / N_u, alpha 0.1 N / N_u; with nothing unlabelled the two coincide."""
    assert semisupervised.default_weights(100, 59_900) == (1.0, pytest.approx(60.0))
    w, a = semisupervised.default_weights(100, 59_900, "dataset")
    assert w == pytest.approx(100 / 59_900) and a == pytest.approx(6000 / 59_900)
    assert semisupervised.default_weights(20, 0, "dataset") == semisupervised.default_weights(20, 0, "mean")


@pytest.mark.parametrize("args,match", [((0, 10), "n_labelled"), ((10, -1), "n_unlabelled"),
                                        ((10, 10, "sum"), "weighting")])
def test_default_weights_refuses_bad_counts_and_names(args, match):
    with pytest.raises(ValidationError, match=match):
        semisupervised.default_weights(*args)


@pytest.mark.parametrize("bad", ["many", 2.5, True])
def test_default_weights_refuses_a_count_that_is_not_a_whole_number(bad):
    with pytest.raises(InputTypeError, match=r"n_unlabelled: expected an integer >= 0, got"):
        semisupervised.default_weights(10, bad)


@pytest.mark.parametrize("bad", [-0.5, float("nan"), "one"])
def test_labelled_weight_refuses_a_negative_or_non_numeric_value(bad):
    with pytest.raises((ValidationError, InputTypeError), match="labelled_weight"):
        _m2(labelled_weight=bad)


def test_classifier_gets_no_gradient_from_labelled_bound_without_alpha(rng):
    """With alpha = 0 and only labelled examples, q(y|x) appears nowhere in the loss: its
    gradient is zero (why the classification term is needed)."""
    model = M2(12, 3, 4, (7,), alpha=0.0, dtype="float64")
    x, y = rng.random((5, 12)), np.array([0, 1, 2, 0, 1])
    model.loss_and_grad(x, model.sample_noise(5, rng, y), y)
    assert np.all(model.params.g("cls.0.W") == 0) and np.all(model.params.g("cls.1.b") == 0)


# ------------------------------------------------------------------------------------------------
# Labels and batches
# ------------------------------------------------------------------------------------------------
def test_choose_labels_is_balanced_and_drawn_by_the_seed():
    y = np.repeat(np.arange(10), 30)
    a = datasets.choose_labels(y, 100, seed=0)
    assert np.array_equal(np.bincount(a[a >= 0], minlength=10), np.full(10, 10))
    assert np.all(a[a >= 0] == y[a >= 0]) and np.sum(a < 0) == 200
    assert np.array_equal(a, datasets.choose_labels(y, 100, seed=0))
    assert not np.array_equal(a, datasets.choose_labels(y, 100, seed=1))


@pytest.mark.parametrize("y,n,match", [
    (np.repeat(np.arange(10), 3), 40, "at most 30"),
    (np.repeat(np.arange(10), 30), 105, "multiple of the 10 classes"),
    (np.array([0, 1, 12] * 10), 10, "labels 0..9"),
    (None, 100, "no labels"),
    (np.repeat(np.arange(10), [30] * 9 + [2]), 50, "class 9 has 2"),
])
def test_choose_labels_refuses_bad_input(y, n, match):
    with pytest.raises(ValidationError, match=match):
        datasets.choose_labels(y, n)


def test_choose_labels_refuses_float_labels():
    with pytest.raises(InputTypeError, match="integer class labels"):
        datasets.choose_labels(np.zeros(20), 10)


def test_mixed_batches_hold_a_fixed_proportion_and_visit_every_unlabelled_example_once(rng):
    y = np.full(50, -1)
    y[:6] = [0, 1, 2, 0, 1, 2]
    x = np.arange(50, dtype=float)[:, None] / 50
    seen = []
    for xb, yb in datasets.semi_supervised_batches(x, y, 10, 4, rng):
        assert np.all(yb[:4] >= 0) and np.all(yb[4:] == -1)
        assert len(yb) == 10 or len(yb) == 4 + (44 % 6)
        seen += list(np.rint(xb[4:, 0] * 50).astype(int))
    assert sorted(seen) == list(range(6, 50))


def test_model_refuses_labels_outside_the_classes(rng):
    model = _m2()
    with pytest.raises(ValidationError, match=r"-1 \(unlabelled\) or 0..2"):
        model.loss(rng.random((3, 12)), labels=np.array([0, 3, 1]), rng=rng)
    with pytest.raises(ValidationError, match="one label per example"):
        model.loss(rng.random((3, 12)), labels=np.array([0, 1]), rng=rng)


# ------------------------------------------------------------------------------------------------
# Training, resume, checkpoints
# ------------------------------------------------------------------------------------------------
def _toy(rng, n=60):
    """Three classes of 12-pixel images: a bright block in a different third of the row."""
    y = np.repeat(np.arange(3), n // 3)
    x = np.clip(0.1 + 0.05 * rng.random((n, 12)), 0, 1)
    for k in range(3):
        x[y == k, 4 * k:4 * k + 4] = 0.9
    return x.astype(np.float32), y


@pytest.mark.parametrize("kind", ["m2", "m1m2"])
def test_trainer_resumed_is_bit_for_bit(kind, rng, tmp_path):
    x, y = _toy(rng)
    y_train = datasets.choose_labels(y, 6, seed=0, n_classes=3)

    def trainer():
        if kind == "m2":
            model = M2(12, 3, 2, (6,), alpha=2.0, seed=4)
        else:
            model = M1M2(12, VAE(12, 3, (5,), seed=2).get_config(), 3, 2, (6,), alpha=2.0, seed=4)
        return Trainer(model, x, x[:20], y_train=y_train, y_test=y[:20], batch_size=10, labelled_batch=3,
                       seed=9, lr=1e-2, progress=False, verbose=False)

    whole = trainer()
    whole.run(4)
    first = trainer()
    first.run(2)
    path = first.save_checkpoint(tmp_path / "part.npz")
    resumed = Trainer.from_checkpoint(path, x, x[:20], y_train=y_train, y_test=y[:20], progress=False,
                                      verbose=False)
    resumed.run(4)
    assert np.array_equal(resumed.model.params.data, whole.model.params.data)
    assert resumed.history == [dict(r, seconds=resumed.history[i]["seconds"]) for i, r in enumerate(whole.history)]
    assert "test_error" in whole.history[-1]
    # other labels are refused on resume
    with pytest.raises(ValidationError, match="label_fingerprint"):
        Trainer.from_checkpoint(path, x, x[:20], y_train=datasets.choose_labels(y, 6, seed=1, n_classes=3),
                                y_test=y[:20], progress=False)


def test_m2_learns_the_toy_classes_from_six_labels(rng):
    x, y = _toy(rng, 90)
    y_train = datasets.choose_labels(y, 6, seed=0, n_classes=3)
    model = M2(12, 3, 2, (16,), alpha=5.0, seed=0)
    Trainer(model, x, y_train=y_train, batch_size=15, labelled_batch=5, lr=1e-2, seed=0, progress=False,
            verbose=False).run(15)
    assert semisupervised.error_rate(model, x, y) < 0.1


def test_trainer_needs_labels_for_a_label_model_and_refuses_them_for_others(rng):
    x, y = _toy(rng)
    with pytest.raises(ValidationError, match="y_train: the m2 model learns from labels"):
        Trainer(M2(12, 3, 2, (6,)), x, progress=False)
    with pytest.raises(ValidationError, match="at least one labelled example"):
        Trainer(M2(12, 3, 2, (6,)), x, y_train=np.full(len(x), -1), progress=False)
    with pytest.raises(ValidationError, match="y_train: only a model that learns from labels"):
        Trainer(VAE(12, 2, (6,)), x, y_train=y, progress=False)


@pytest.mark.parametrize("build", [lambda: M2(12, 3, 2, (6,), alpha=3.0, seed=5),
                                   lambda: M1M2(12, VAE(12, 3, (5,), seed=2).get_config(), 3, 2, (6,), seed=5),
                                   lambda: Classifier(12, 3, (6,), seed=5)])
def test_checkpoint_round_trip(build, rng, tmp_path):
    model = build()
    model.params.data[...] = rng.standard_normal(model.params.size) * 0.3
    x = rng.random((8, 12)).astype(np.float32)
    loaded = checkpoint.load_model(checkpoint.save(tmp_path / "m.npz", model))
    assert type(loaded) is type(model)
    assert np.array_equal(loaded.class_probabilities(x), model.class_probabilities(x))


def test_pictures(rng):
    model = M2(784, 10, 3, (8,))
    x = rng.random((4, 784)).astype(np.float32)
    cond = plots.class_conditional_figure(model, n=5, rng=0)
    assert [t.get_text() for t in cond.axes[0].get_yticklabels()] == [f"y={k}" for k in range(10)]
    ana = plots.analogies_figure(model, x)
    assert [t.get_text() for t in ana.axes[0].get_xticklabels()][:2] == ["x", "y=0"]
    cm = semisupervised.confusion_matrix(model, x, np.array([0, 1, 2, 3]))
    assert cm.sum() == 4 and cm.shape == (10, 10)
    ax = plots.confusion_figure(cm).axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    with pytest.raises(ValidationError, match="m2 or m1m2"):
        plots.class_conditional_figure(VAE(784, 2, (4,)))


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------
def _small_test_split(monkeypatch, n=200):
    """The first n test images only: the per-epoch test error and bounds of M2 run over every
    (image, class) pair, which on all 10,000 would dominate these small runs."""
    real = datasets.load

    def load(name, split, **kw):
        ds = real(name, split, **kw)
        if split == "test":
            ds = datasets.Dataset(x=ds.x[:n], y=None if ds.y is None else ds.y[:n], name=ds.name, split=split)
        return ds

    monkeypatch.setattr(datasets, "load", load)


TINY = ["--limit", "200", "--labels", "20", "--hidden", "8", "--latent-dim", "2", "--batch-size", "40",
        "--no-progress"]


@needs_data
@pytest.mark.parametrize("model,extra", [("m2", []), ("m1m2", ["--m1-epochs", "1", "--m1-hidden", "8",
                                                             "--m1-latent-dim", "3"])])
def test_cli_train_resume_and_evaluate(model, extra, tmp_path, capsys, monkeypatch):
    _small_test_split(monkeypatch)
    opts = ["--model", model] + TINY + extra
    assert main(["train", "--epochs", "2", "--out", str(tmp_path / "whole")] + opts) == 0
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "part")] + opts) == 0
    assert main(["train", "--resume", "--epochs", "2", "--no-progress", "--out", str(tmp_path / "part")]) == 0
    a = checkpoint.load(tmp_path / "part" / "checkpoint.npz")
    b = checkpoint.load(tmp_path / "whole" / "checkpoint.npz")
    assert np.array_equal(a.params, b.params)
    for name in ("confusion.png", "samples.png", "analogies.png"):
        assert (tmp_path / "whole" / name).exists()
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "whole" / "checkpoint.npz"), "--limit", "200"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "labelled bound" in out and "unlabelled bound" in out
    assert "confusion matrix" in out


@needs_data
@pytest.mark.parametrize("init", ["uniform", "glorot"])
def test_cli_m1m2_starts_m1_from_the_init_asked_for(init, tmp_path, capsys, monkeypatch):
    """M1's first layer (784 -> 8) starts within 1/sqrt(784) = 0.036 (uniform) or reaches past it
    towards sqrt(6/792) = 0.087 (glorot); five Adam steps of 1e-3 move a weight by at most 0.005."""
    _small_test_split(monkeypatch)
    argv = ["train", "--model", "m1m2", "--epochs", "1", "--m1-epochs", "1", "--m1-hidden", "8",
            "--m1-latent-dim", "3", "--m1-init", init, "--out", str(tmp_path)] + TINY
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"(weights started {init})" in out
    W = checkpoint.load_model(tmp_path / "checkpoint.npz").params["enc.0.W"]
    if init == "glorot":
        assert 0.05 < np.abs(W).max() < 0.093
    else:
        assert np.abs(W).max() < 0.042


@needs_data
def test_cli_m2_keeps_the_labelled_weight_and_alpha_asked_for(tmp_path, capsys, monkeypatch):
    """The paper's weighting from the command line: both weights reach the model and its checkpoint."""
    _small_test_split(monkeypatch)
    argv = ["train", "--model", "m2", "--epochs", "1", "--labelled-weight", "0.25", "--alpha", "0.1",
            "--out", str(tmp_path)] + TINY
    assert main(argv) == 0
    model = checkpoint.load_model(tmp_path / "checkpoint.npz")
    assert model.labelled_weight == 0.25 and model.alpha == 0.1


def test_cli_refuses_a_negative_labelled_weight(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "m2", "--labelled-weight", "-1", "--no-progress", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "--labelled-weight: expected a non-negative finite number, got -1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@needs_data
@pytest.mark.parametrize("extra,weight,alpha", [
    ([], 1.0, 0.1 * 200 / 20),                                     # mean weighting: 0.1 N / N_l
    (["--weighting", "dataset"], 20 / 180, 0.1 * 200 / 180),      # every example once: N_l / N_u, 0.1 N / N_u
    (["--weighting", "dataset", "--alpha", "2"], 20 / 180, 2.0),   # an explicit weight wins
])
def test_cli_weighting_sets_the_default_weights(extra, weight, alpha, tmp_path, monkeypatch):
    _small_test_split(monkeypatch)
    assert main(["train", "--model", "m2", "--epochs", "1", "--out", str(tmp_path)] + TINY + extra) == 0
    model = checkpoint.load_model(tmp_path / "checkpoint.npz")
    assert model.labelled_weight == pytest.approx(weight) and model.alpha == pytest.approx(alpha)


@needs_data
def test_cli_m1m2_trains_m1_with_its_own_batch_size(tmp_path, capsys, monkeypatch):
    """--m1-batch-size 20 on 200 images: M1's epoch is 10 steps (its progress says so), M2's batches
    stay --batch-size."""
    _small_test_split(monkeypatch)
    seen = []
    real = Trainer.__init__

    def spy(self, model, *a, **kw):
        seen.append((model.kind, kw.get("batch_size")))
        real(self, model, *a, **kw)

    monkeypatch.setattr(Trainer, "__init__", spy)
    argv = ["train", "--model", "m1m2", "--epochs", "1", "--m1-epochs", "1", "--m1-hidden", "8",
            "--m1-latent-dim", "3", "--m1-batch-size", "20", "--out", str(tmp_path)] + TINY
    assert main(argv) == 0
    assert seen == [("vae", 20), ("m1m2", 40)]


@needs_data
def test_cli_classifier_baseline(tmp_path, capsys, monkeypatch):
    _small_test_split(monkeypatch)
    assert main(["train", "--model", "classifier", "--labels", "20", "--hidden", "8", "--batch-size", "10",
                 "--epochs", "2", "--no-progress", "--out", str(tmp_path)]) == 0
    ck = checkpoint.load(tmp_path / "checkpoint.npz")
    assert ck.state["n_train"] == 20 and 0 <= ck.state["history"][-1]["test_error"] <= 1
    capsys.readouterr()
    assert main(["sample", str(tmp_path / "checkpoint.npz"), "--out", str(tmp_path / "s.png")]) == 2
    assert "holds a classifier, which does not generate images" in capsys.readouterr().err


@needs_data
@pytest.mark.parametrize("argv,match", [
    (["--model", "m2", "--labels", "105"], "multiple of the 10 classes"),
    (["--model", "m2", "--limit", "50", "--labels", "100"], "at most 50"),
    (["--model", "m2", "--data", "binarized-mnist"], "no labels"),
    (["--model", "vae", "--labels", "100"], "--labels: only for --model m2"),
    (["--model", "m2", "--m1-init", "glorot"], "--m1-init: only for --model m1m2, got --model m2"),
    (["--model", "classifier", "--labels", "20"], "at most 20 (the number of labelled examples)"),
    (["--model", "vae", "--labelled-weight", "0.5"], "--labelled-weight: only for --model m2 or --model m1m2"),
])
def test_cli_refuses_bad_label_options(argv, match, tmp_path, capsys):
    assert main(["train", "--no-progress", "--out", str(tmp_path)] + argv) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1
