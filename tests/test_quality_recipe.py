"""The quality-per-minute driver (benchmarks/quality): a tiny run end to end on real MNIST."""
import csv
import json
import os

from types import SimpleNamespace

import pytest

from benchmarks.quality import quality_per_minute as qpm
from minivae import checkpoint


def test_recipe_trains_for_a_budget_and_evaluates_each_checkpoint(tmp_path, monkeypatch):
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set")
    # A fake clock that advances 6 s (0.1 min) each time the driver reads it, so the run is the
    # same on a fast or a loaded machine: epochs end at 0.1, 0.2, (a checkpoint write reads it
    # twice) 0.5 min.
    ticks = iter(range(10_000))
    monkeypatch.setattr(qpm, "time", SimpleNamespace(perf_counter=lambda: 6.0 * next(ticks)))
    recipe = json.loads(open(os.path.join(os.path.dirname(qpm.__file__), "recipe.json")).read())
    # the shipped recipe with a toy model, so an epoch takes a fraction of a second
    recipe["model"].update(hidden=[8], latent_dim=2)
    recipe["train"].update(batch_size=6000)
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(recipe))
    out = tmp_path / "run"
    assert qpm.main(["train", "--config", str(cfg), "--out", str(out), "--minutes", "0.5",
                     "--checkpoint-minutes", "0.15"]) == 0
    log = list(csv.DictReader(open(out / "train-log.csv")))
    # stops at the end of the epoch that crosses the budget
    assert [float(r["minutes"]) for r in log] == pytest.approx([0.1, 0.2, 0.5])
    lr, decay = recipe["train"]["lr"], recipe["train"]["lr_decay"]
    assert [float(r["lr"]) for r in log] == pytest.approx([lr * decay ** e for e in range(len(log))])
    final = checkpoint.load(out / "ckpt-final.npz")
    assert final.state["binarize"] == "dynamic" and final.state["epoch"] == len(log)
    early = sorted(out.glob("ckpt-*min.npz"))
    # the first epoch past 0.15 min is the second
    assert [p.name for p in early] == ["ckpt-00.20min.npz"] and checkpoint.load(early[0]).state["epoch"] == 2
    assert qpm.main(["evaluate", "--out", str(out), "--k", "3", "--final-k", "7", "--limit", "20"]) == 0
    curve = list(csv.DictReader(open(out / "curve.csv")))
    assert [r["k"] for r in curve] == ["3", "7"] and all(r["n"] == "20" for r in curve)
    assert all(float(r["nll"]) > 0 for r in curve)
