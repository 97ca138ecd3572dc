"""Training loop, checkpoints and the command line, end to end on small real or synthetic data."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import minivae
from minivae import checkpoint
from minivae.cli import main
from minivae.errors import CheckpointError, DivergenceError, ValidationError
from minivae.train import Trainer, fit


def _data(rng, n=64, D=16):
    return (rng.random((n, D)) < 0.3).astype(np.float32)


def test_fit_records_history_and_lowers_loss(rng):
    model = minivae.VAE(16, 2, (8,), seed=0)
    x = _data(rng)
    hist = fit(model, x, x[:16], epochs=5, batch_size=16, lr=1e-2, progress=False)
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4, 5]
    assert hist[-1]["train_nelbo"] < hist[0]["train_nelbo"]
    for h in hist:
        assert h["test_nelbo"] == pytest.approx(h["test_recon"] + h["test_kl"])


def test_dynamic_binarization_draws_fresh_pixels(rng):
    model = minivae.VAE(16, 2, (8,), seed=0)
    x = rng.random((32, 16)).astype(np.float32)
    tr = Trainer(model, x, x, batch_size=32, binarize="dynamic", progress=False, threads=1)
    assert set(np.unique(tr.x_test)) <= {0.0, 1.0}
    seen = []
    orig = model.train_step
    model.train_step = lambda xb, opt, rng_: (seen.append(xb.copy()), orig(xb, opt, rng_))[1]
    tr.run(2)
    assert set(np.unique(seen[0])) <= {0.0, 1.0}
    assert not np.array_equal(np.sort(seen[0], 0), np.sort(seen[1], 0))


def test_divergence_stops_with_a_clear_message(rng):
    model = minivae.VAE(16, 2, (8,), likelihood="gaussian", seed=0)
    x = rng.random((64, 16)).astype(np.float32) * 1e3 / 1e3
    tr = Trainer(model, x, batch_size=16, lr=1e6, progress=False)
    with pytest.raises(DivergenceError, match=r"step \d+.*learning rate"):
        tr.run(5)


def test_lr_decay_sets_each_epochs_rate(rng):
    model = minivae.VAE(16, 2, (8,), seed=0)
    x = _data(rng)
    tr = Trainer(model, x, batch_size=16, lr=1e-2, lr_decay=0.5, progress=False, verbose=False, threads=1)
    used = []
    orig = model.train_step
    model.train_step = lambda xb, opt, rng_: (used.append(opt.lr), orig(xb, opt, rng_))[1]
    hist = tr.run(3)
    assert [h["lr"] for h in hist] == pytest.approx([1e-2, 5e-3, 2.5e-3])
    assert used == pytest.approx([1e-2] * 4 + [5e-3] * 4 + [2.5e-3] * 4)     # 64 / 16 = 4 steps an epoch
    assert tr.current_lr() == pytest.approx(1.25e-3)


def test_lr_decay_continues_after_resume(rng):
    x = _data(rng)

    def trainer():
        return Trainer(minivae.VAE(16, 2, (8,), seed=0), x, batch_size=16, lr=1e-2, lr_decay=0.7,
                       seed=3, progress=False, verbose=False)

    straight = trainer()
    straight.run(4)
    first = trainer()
    first.run(2)
    second = trainer()
    second.model.params.data[...] = first.model.params.data
    second.restore(first.state(), first.optimizer.state_dict())
    second.run(4)
    assert [h["lr"] for h in second.history] == pytest.approx([h["lr"] for h in straight.history])
    assert np.array_equal(second.model.params.data, straight.model.params.data)


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5])
def test_lr_decay_outside_unit_interval_is_refused(bad, rng):
    with pytest.raises(ValidationError, match=r"lr_decay: expected a factor in \(0, 1\]"):
        Trainer(minivae.VAE(16, 2, (8,)), _data(rng), batch_size=16, lr_decay=bad, progress=False)


def test_checkpoint_roundtrip(tmp_path, rng):
    model = minivae.VAE(16, 3, (8,), likelihood="gaussian-learned", posterior="shared", seed=2)
    opt = minivae.Adam(model.params, 1e-3)
    x = _data(rng)
    model.train_step(x, opt, rng)
    path = checkpoint.save(tmp_path / "c.npz", model, opt, {"epoch": 1})
    ck = checkpoint.load(path)
    m2 = ck.build_model()
    assert m2.get_config() == model.get_config()
    assert np.array_equal(m2.params.data, model.params.data)
    assert ck.optimizer["t"] == 1 and np.array_equal(ck.optimizer["m_sum"], opt.m_sum)
    assert ck.state == {"epoch": 1}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporary left


def test_checkpoint_errors(tmp_path, rng):
    model = minivae.VAE(16, 3, (8,), seed=2)
    path = checkpoint.save(tmp_path / "c.npz", model)
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.npz.*(truncated|corrupt)"):
        checkpoint.load(tmp_path / "trunc.npz")
    with pytest.raises(CheckpointError, match="no such file"):
        checkpoint.load(tmp_path / "missing.npz")
    other = minivae.VAE(16, 4, (8,))
    with pytest.raises(CheckpointError, match="latent_dim: checkpoint has 3, model has 4"):
        checkpoint.load_into(other, path)


def test_cli_train_sample_evaluate(tmp_path, monkeypatch):
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set")
    out = tmp_path / "run"
    rc = main(["train", "--epochs", "2", "--limit", "512", "--hidden", "32", "--latent-dim", "4",
               "--lr-decay", "0.5", "--out", str(out), "--no-progress"])
    assert rc == 0
    for name in ("checkpoint.npz", "metrics.csv", "samples.png", "reconstructions.png"):
        assert (out / name).stat().st_size > 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-3, 5e-4])
    for key in ("train_nelbo", "train_recon", "train_kl", "test_nelbo", "test_recon", "test_kl", "seconds"):
        assert np.isfinite(float(rows[-1][key]))
    assert (out / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["sample", str(out / "checkpoint.npz"), "-n", "16", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0


def test_cli_evaluate_json(tmp_path, capsys):
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set")
    out = tmp_path / "run"
    main(["train", "--epochs", "1", "--limit", "256", "--hidden", "16", "--latent-dim", "2",
          "--out", str(out), "--no-progress"])
    capsys.readouterr()
    assert main(["evaluate", str(out / "checkpoint.npz"), "--limit", "500", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n"] == 500 and res["bound"] == "single-sample ELBO"
    assert res["nelbo"] == pytest.approx(res["recon"] + res["kl"])


@pytest.mark.parametrize("argv,expected", [
    (["train", "--epochs", "0"], "--epochs: expected a positive integer"),
    (["train", "--lr", "-1"], "--lr: expected a positive finite number"),
    (["train", "--lr-decay", "1.5"], "--lr-decay: expected a factor in (0, 1]"),
    (["train", "--lr-decay", "0"], "--lr-decay: expected a factor in (0, 1]"),
    (["train", "--data", "cifar"], "invalid choice: 'cifar'"),
    (["train", "--likelihood", "poisson"], "invalid choice: 'poisson'"),
    (["evaluate", "no/such/checkpoint.npz"], "no such file"),
])
def test_cli_errors_are_one_line(argv, expected, capsys):
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err
    assert rc != 0
    assert expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_python_dash_m_runs():
    r = subprocess.run([sys.executable, "-m", "minivae", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "train" in r.stdout
