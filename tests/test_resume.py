"""Resuming and crashing: a run interrupted after epoch k and resumed ends bit for bit where an
uninterrupted run ends; a run killed with SIGKILL at any moment leaves the last complete
checkpoint; a diverged run keeps its last good checkpoint and metrics."""
import csv
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import minivae
from minivae import checkpoint
from minivae.cli import main
from minivae.train import Trainer

needs_data = pytest.mark.skipif(not os.environ.get("MINIVAE_DATA"), reason="MINIVAE_DATA is not set")
TINY = ["--hidden", "8", "--latent-dim", "2", "--no-progress"]


def _without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def _assert_same_run(a, b):
    """Two checkpoints hold the same run: parameters, optimizer, generator and metrics."""
    assert np.array_equal(a.params, b.params)
    assert a.optimizer.keys() == b.optimizer.keys()
    for k in a.optimizer:
        assert np.array_equal(a.optimizer[k], b.optimizer[k]), k
    for k in ("epoch", "step", "rng"):
        assert a.state[k] == b.state[k], k
    assert _without_seconds(a.state["history"]) == _without_seconds(b.state["history"])


# ------------------------------------------------------------------------------------------------
# Library level
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,optimizer,binarize", [("vae", "adam", "dynamic"), ("ae", "sgd", None),
                                                    ("vae", "sgd", "threshold"),
                                                    ("categorical-reinforce", "adam", "threshold")])
def test_trainer_resumed_after_epoch_k_is_bit_for_bit(kind, optimizer, binarize, tmp_path):
    """(The REINFORCE categorical VAE also carries its running-mean baseline across the resume.)"""
    rng = np.random.default_rng(5)
    x, x_test = rng.random((48, 12)).astype(np.float32), rng.random((16, 12)).astype(np.float32)

    def trainer():
        if kind == "categorical-reinforce":
            model = minivae.build_model({"kind": "categorical", "input_dim": 12, "n_latent": 3, "n_classes": 4,
                                         "hidden": [6], "estimator": "reinforce", "seed": 4})
        else:
            model = minivae.build_model({"kind": kind, "input_dim": 12, "latent_dim": 3, "hidden": [6], "seed": 4})
        return Trainer(model, x, x_test, optimizer=optimizer, lr=1e-2, batch_size=10, seed=9,
                       binarize=binarize, progress=False, verbose=False)

    whole = trainer()
    whole.run(5)
    whole_ck = checkpoint.load(whole.save_checkpoint(tmp_path / "whole.npz"))

    first = trainer()
    first.run(2)
    path = first.save_checkpoint(tmp_path / "part.npz")
    del first                                            # the process "dies" after epoch 2
    resumed = Trainer.from_checkpoint(path, x, x_test, progress=False, verbose=False)
    assert resumed.epoch == 2 and len(resumed.history) == 2
    resumed.run(5)
    _assert_same_run(checkpoint.load(resumed.save_checkpoint(tmp_path / "resumed.npz")), whole_ck)


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------
def _metrics(folder):
    with open(Path(folder) / "metrics.csv") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


@needs_data
def test_cli_resume_is_bit_for_bit_and_refuses_other_options(tmp_path, capsys):
    opts = ["--limit", "300", "--batch-size", "64", "--binarize", "dynamic", "--seed", "3"] + TINY
    assert main(["train", "--epochs", "3", "--out", str(tmp_path / "whole")] + opts) == 0
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "part")] + opts) == 0
    capsys.readouterr()

    # An option that would change the run is refused, naming it and the run's value...
    rc = main(["train", "--resume", "--hidden", "16", "--lr", "0.01", "--out", str(tmp_path / "part")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "--hidden 16 (the run has 8); --lr 0.01 (the run has 0.001)" in err
    # ...the same value is accepted, and --epochs extends the run.
    assert main(["train", "--resume", "--epochs", "3", "--hidden", "8", "--no-progress",
                 "--out", str(tmp_path / "part")]) == 0
    assert "resuming" in capsys.readouterr().out
    _assert_same_run(checkpoint.load(tmp_path / "part" / "checkpoint.npz"),
                     checkpoint.load(tmp_path / "whole" / "checkpoint.npz"))
    assert _metrics(tmp_path / "part") == _metrics(tmp_path / "whole")
    assert len(_metrics(tmp_path / "part")) == 3

    # Resuming a finished run trains nothing and says so; going back is refused.
    assert main(["train", "--resume", "--out", str(tmp_path / "part")]) == 0
    assert "nothing to do" in capsys.readouterr().out
    # A run killed after its last checkpoint, before the metrics row and the pictures that follow
    # it: resuming writes them from the checkpoint, the same as an uninterrupted run's.
    part = tmp_path / "part"
    lines = (part / "metrics.csv").read_text().splitlines(keepends=True)
    (part / "metrics.csv").write_text("".join(lines[:-1]))
    for name in ("samples.png", "reconstructions.png"):
        (part / name).unlink()
    assert main(["train", "--resume", "--no-progress", "--out", str(part)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert _metrics(part) == _metrics(tmp_path / "whole") and len(_metrics(part)) == 3
    for name in ("samples.png", "reconstructions.png"):
        assert (part / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    assert main(["train", "--resume", "--epochs", "2", "--out", str(tmp_path / "part")]) == 2
    assert "already done 3 epochs, got --epochs 2" in capsys.readouterr().err


@needs_data
@pytest.mark.parametrize("threads", [1, 2])
def test_cli_divergence_keeps_the_last_good_checkpoint(threads, tmp_path, capsys, monkeypatch):
    """With two threads each step runs loss_and_grad twice (one half of the batch each); a
    poisoned half is enough for the whole step to be refused."""
    opts = ["--limit", "256", "--batch-size", "128", "--seed", "1", "--threads", str(threads)] + TINY
    assert main(["train", "--epochs", "2", "--out", str(tmp_path / "ref")] + opts) == 0
    real = minivae.VAE.loss_and_grad
    calls = {"n": 0}
    lock = threading.Lock()
    per_step = threads if minivae.blas.available() else 1

    def poisoned(self, x, eps, batch_size=None):
        stats = real(self, x, eps, batch_size)
        with lock:
            calls["n"] += 1
            if calls["n"] == 4 * per_step + 1:     # 2 steps per epoch: the first step of epoch 3
                self.params.grad[:] = np.inf
        return stats

    monkeypatch.setattr(minivae.VAE, "loss_and_grad", poisoned)
    capsys.readouterr()
    out = tmp_path / "run"
    rc = main(["train", "--epochs", "4", "--out", str(out)] + opts)
    err = capsys.readouterr().err
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "diverged at step 5 (epoch 3)" in err and "lr=0.001" in err
    assert f"checkpoint {out / 'checkpoint.npz'} (epoch 2)" in err and "kept unchanged" in err
    ck = checkpoint.load(out / "checkpoint.npz")
    assert ck.state["epoch"] == 2
    _assert_same_run(ck, checkpoint.load(tmp_path / "ref" / "checkpoint.npz"))
    assert _metrics(out) == _metrics(tmp_path / "ref")
    assert not (out / "samples.png").exists()


# ------------------------------------------------------------------------------------------------
# SIGKILL
# ------------------------------------------------------------------------------------------------
def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


@needs_data
def test_sigkill_at_random_moments_leaves_the_last_complete_checkpoint(tmp_path):
    """Start, SIGKILL at a random moment, check, resume, kill again...; then finish and compare
    with an uninterrupted run. Epochs of one step make checkpoint writes a large share of the
    time, so some kills land inside them."""
    epochs = 25
    opts = ["--limit", "64", "--batch-size", "64", "--epochs", str(epochs), "--seed", "2"] + TINY
    # The reference runs in a child with the same thread settings: a BLAS that splits a matrix
    # product over threads may sum in another order, and bit-for-bit means the same arithmetic.
    r = subprocess.run([sys.executable, "-m", "minivae", "train", "--out", str(tmp_path / "ref")] + opts,
                       capture_output=True, text=True, env=_env())
    assert r.returncode == 0, r.stderr
    ref = checkpoint.load(tmp_path / "ref" / "checkpoint.npz")

    out = tmp_path / "run"
    ckpt = out / "checkpoint.npz"
    chance = random.Random(int(os.environ.get("MINIVAE_KILL_SEED", "20261121")))
    log = []
    for attempt in range(4):
        resume = ["--resume"] if ckpt.exists() else []
        with open(tmp_path / f"stdout{attempt}", "wb") as stdout:
            proc = subprocess.Popen([sys.executable, "-m", "minivae", "train", "--out", str(out)] + opts + resume,
                                    stdout=stdout, stderr=subprocess.DEVNULL, env=_env())
            # wait until it has finished an epoch (imports and data take a moment), then a bit more
            t0 = time.monotonic()
            started = f"/{epochs}: train".encode()          # the first epoch line of this process
            while started not in (tmp_path / f"stdout{attempt}").read_bytes():
                if proc.poll() is not None or time.monotonic() - t0 > 60:
                    break
                time.sleep(0.01)
            time.sleep(chance.uniform(0.0, 0.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        printed = (tmp_path / f"stdout{attempt}").read_text().count(f"/{epochs}: train")
        ck = checkpoint.load(ckpt)                                        # always loadable
        e = ck.state["epoch"]
        log.append((attempt, e, printed))
        # the checkpoint is the last epoch that completed: the epoch line is printed just before
        # its checkpoint is written, so it is that epoch or (killed mid-write) the one before
        before = log[-2][1] if len(log) > 1 else 0
        assert before + printed - 1 <= e <= before + printed, log
        assert np.all(np.isfinite(ck.params))
        assert _without_seconds(ck.state["history"]) == _without_seconds(ref.state["history"][:e]), log
        if e == epochs:
            break
    print("kills (attempt, checkpoint epoch, epochs printed):", log)
    r = subprocess.run([sys.executable, "-m", "minivae", "train", "--out", str(out), "--resume"] + opts,
                       capture_output=True, text=True, env=_env())
    assert r.returncode == 0, r.stderr
    _assert_same_run(checkpoint.load(ckpt), ref)
    assert _metrics(out) == _metrics(tmp_path / "ref")


def test_sigkill_during_a_checkpoint_write_keeps_the_old_file(tmp_path):
    """Deterministically inside the write: the child writes half a file and waits to be killed."""
    path = checkpoint.save(tmp_path / "c.npz", minivae.VAE(16, 2, (8,), seed=1))
    before = path.read_bytes()
    script = (
        "import sys, time\n"
        "from minivae import checkpoint\n"
        "def half(f):\n"
        "    f.write(b'PK\\x03\\x04' + bytes(5000)); f.flush()\n"
        "    print('writing', flush=True); time.sleep(60)\n"
        "checkpoint.atomic_write(sys.argv[1], half)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, env=_env())
    assert proc.stdout.readline().strip() == b"writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert path.read_bytes() == before
    assert checkpoint.load_model(path).get_config() == minivae.VAE(16, 2, (8,), seed=1).get_config()
    leftover = [p for p in tmp_path.iterdir() if p.name.startswith(".c.npz.tmp-")]
    assert len(leftover) == 1                        # the killed writer's temporary...
    checkpoint.save(path, minivae.VAE(16, 2, (8,), seed=1))
    assert not leftover[0].exists()                  # ...is cleaned up by the next save
