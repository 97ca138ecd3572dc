"""Checkpoints written before the package was reorganized still load, compute what they computed
then, and resume.

The files in tests/data were written by minivae at commit 14f183e (the last one before the
layout change) from tiny models trained two epochs on random data; the JSON beside them holds
the float64 loss each model gave then on fixed data and noise.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from minivae import checkpoint
from minivae.train import Trainer

DATA = Path(__file__).resolve().parent / "data"
EXPECTED = json.loads((DATA / "checkpoint_v1_expected.json").read_text())


def _data():
    return np.random.default_rng(7).random((40, 12)).astype(np.float32)


def _noise(model, n):
    u = np.random.default_rng(0)
    if model.kind == "categorical":
        return -np.log(-np.log(u.random((n, model.noise_dim))))
    return u.standard_normal((n, model.noise_dim))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_old_checkpoint_loads_and_computes_the_same_loss(name):
    model = checkpoint.load_model(DATA / f"checkpoint_v1_{name}.npz")
    assert float(np.sum(model.params.data, dtype=np.float64)) == pytest.approx(EXPECTED[name]["params_sum"], abs=0)
    m64 = model.astype("float64")
    x = _data()[:5].astype(np.float64)
    got = m64.loss(x, _noise(m64, 5))
    for key, value in EXPECTED[name]["loss"].items():
        assert got[key] == pytest.approx(value, rel=1e-12), key


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_old_checkpoint_resumes(name):
    trainer = Trainer.from_checkpoint(DATA / f"checkpoint_v1_{name}.npz", _data(), _data()[:10],
                                      progress=False, verbose=False, threads=1)
    assert trainer.epoch == EXPECTED[name]["epoch"]
    history = trainer.run(trainer.epoch + 1)
    assert len(history) == trainer.epoch == EXPECTED[name]["epoch"] + 1
    assert np.isfinite(history[-1]["train_nelbo"])


def test_old_checkpoint_loads_into_a_model_built_today():
    """load_into compares configurations: one written before priors were parts has no 'prior'
    key, which must read as the default N(0, I), not as another model."""
    import minivae
    model = minivae.VAE(12, 3, (8,), seed=5)
    checkpoint.load_into(model, DATA / "checkpoint_v1_vae.npz")
    assert float(np.sum(model.params.data, dtype=np.float64)) == pytest.approx(EXPECTED["vae"]["params_sum"], abs=0)
    with pytest.raises(minivae.CheckpointError, match="holds another model: hidden"):
        checkpoint.load_into(minivae.VAE(12, 3, (9,)), DATA / "checkpoint_v1_vae.npz")
