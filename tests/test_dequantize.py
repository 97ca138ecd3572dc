"""Dequantization of 8-bit pixels for continuous likelihoods: each grey level lands in its own bin,
training draws fresh noise per batch and evaluates on one fixed draw, resumes keep it, and
'minivae evaluate' states the bound on the 8-bit images it implies."""
import math
import os

import numpy as np
import pytest

import minivae
from minivae import checkpoint, datasets
from minivae.cli import main
from minivae.errors import InputTypeError, ValidationError
from minivae.train import Trainer

needs_data = pytest.mark.skipif(not os.environ.get("MINIVAE_DATA"), reason="MINIVAE_DATA is not set")
LEVELS = np.arange(256)


def _eight_bit(rng, shape, dtype=np.float32):
    return (rng.integers(0, 256, size=shape) / 255).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_level_lands_in_its_own_bin(dtype):
    x = np.tile(LEVELS / 255, (200, 1)).astype(dtype)
    y = datasets.dequantize(x, np.random.default_rng(0))
    assert y.dtype == dtype and y.shape == x.shape
    assert np.all(y >= LEVELS / 256) and np.all(y <= (LEVELS + 1) / 256)
    # the noise is uniform within a bin: its mean is near the middle, its spread covers the bin
    offset = y * 256 - LEVELS
    assert abs(offset.mean() - 0.5) < 0.01 and offset.min() < 0.01 and offset.max() > 0.99


def test_fixed_draw_repeats_and_batches_draw_afresh():
    rng = np.random.default_rng(1)
    x = _eight_bit(rng, (40, 6))
    assert np.array_equal(datasets.dequantize_fixed(x, 3), datasets.dequantize_fixed(x, 3))
    assert not np.array_equal(datasets.dequantize_fixed(x, 3), datasets.dequantize_fixed(x, 4))
    epochs = [np.concatenate(list(datasets.batches(x, 8, np.random.default_rng(s), shuffle=False,
                                                   dequantize=True))) for s in (5, 6)]
    assert not np.array_equal(epochs[0], epochs[1])
    for e in epochs:
        assert np.array_equal(np.floor(e * 256).clip(max=255), np.rint(x * 255))


def test_dequantize_rejects_what_it_cannot_use():
    rng = np.random.default_rng(0)
    with pytest.raises(ValidationError, match="between two levels"):
        datasets.dequantize(np.full((2, 2), 0.5, np.float32), rng)
    with pytest.raises(InputTypeError, match="float array"):
        datasets.dequantize(np.zeros((2, 2), np.uint8), rng)
    with pytest.raises(InputTypeError, match="Generator"):
        datasets.dequantize(np.zeros((2, 2), np.float32), 3)
    with pytest.raises(ValidationError, match="exclude each other"):
        list(datasets.batches(np.zeros((4, 2), np.float32), 2, rng, binarize="dynamic", dequantize=True))
    with pytest.raises(ValidationError, match="rng is required with dequantize=True"):
        datasets.batches(np.zeros((4, 2), np.float32), 2, shuffle=False, dequantize=True)


def test_trainer_dequantizes_train_batches_and_the_test_set_once():
    rng = np.random.default_rng(2)
    x = _eight_bit(rng, (32, 12))
    model = minivae.VAE(12, 2, (8,), likelihood="gaussian-perpixel", seed=0)
    tr = Trainer(model, x, x, batch_size=32, dequantize=True, progress=False, verbose=False, threads=1)
    assert np.array_equal(tr.x_test, datasets.dequantize_fixed(x, tr.eval_seed))
    seen = []
    orig = model.train_step
    model.train_step = lambda xb, opt, rng_: (seen.append(xb.copy()), orig(xb, opt, rng_))[1]
    tr.run(2)
    assert len(seen) == 2 and not np.array_equal(np.sort(seen[0], 0), np.sort(seen[1], 0))
    for xb in seen:
        assert not np.isin(xb, x).all()                      # not the raw grey levels
        assert np.array_equal(np.sort(np.floor(xb * 256).clip(max=255), 0), np.sort(np.rint(x * 255), 0))
    assert np.isfinite(tr.history[-1]["test_nelbo"])


def test_a_dequantized_run_resumes_and_refuses_to_resume_without_it(tmp_path):
    rng = np.random.default_rng(3)
    x = _eight_bit(rng, (40, 12))

    def trainer(**kw):
        return Trainer(minivae.VAE(12, 2, (8,), likelihood="gaussian", seed=1), x, x[:10], batch_size=8,
                       seed=2, progress=False, verbose=False, threads=1, **kw)

    whole = trainer(dequantize=True)
    whole.run(3)
    part = trainer(dequantize=True)
    part.run(1)
    path = part.save_checkpoint(tmp_path / "p.npz")
    resumed = Trainer.from_checkpoint(path, x, x[:10], progress=False, verbose=False, threads=1)
    assert resumed.dequantize
    resumed.run(3)
    assert np.array_equal(resumed.model.params.data, whole.model.params.data)
    plain = trainer()
    with pytest.raises(ValidationError, match="dequantize: saved True, this trainer has False"):
        plain.restore(checkpoint.load(path).state, checkpoint.load(path).optimizer)


@needs_data
def test_cli_dequantized_run_and_its_evaluation(tmp_path, capsys):
    out = str(tmp_path / "run")
    common = ["--limit", "300", "--hidden", "16", "--latent-dim", "2", "--no-progress", "--out", out]
    assert main(["train", "--dequantize", "--epochs", "1"] + common) == 2      # bernoulli: refused
    assert "continuous likelihood" in capsys.readouterr().err
    assert main(["train", "--dequantize", "--likelihood", "gaussian-perpixel", "--epochs", "1"] + common) == 0
    assert "dequantized pixels, a density" in capsys.readouterr().out
    assert main(["evaluate", os.path.join(out, "checkpoint.npz"), "--limit", "50", "--k", "5"]) == 0
    text = capsys.readouterr().out
    assert "dequantized once with a fixed seed" in text
    nll = float(text.split("K=5")[1].split()[0])
    bound = float(text.split("D log 256 = ")[1].split()[0])
    assert bound == pytest.approx(nll + 784 * math.log(256), abs=0.02)
    assert main(["train", "--resume", "--out", out, "--epochs", "2", "--no-progress"]) == 0
