"""The quality-per-minute driver (benchmarks/quality): a tiny run end to end on real MNIST."""
import csv
import json
import os

import pytest

from benchmarks.quality import quality_per_minute as qpm
from minivae import checkpoint


def test_recipe_trains_for_a_budget_and_evaluates_each_checkpoint(tmp_path):
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set")
    recipe = json.loads(open(os.path.join(os.path.dirname(qpm.__file__), "recipe.json")).read())
    # the shipped recipe, shrunk to a toy model and a budget of a few seconds
    recipe["model"].update(hidden=[8], latent_dim=2)
    recipe["train"].update(batch_size=6000)
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(recipe))
    out = tmp_path / "run"
    assert qpm.main(["train", "--config", str(cfg), "--out", str(out), "--minutes", "0.05",
                     "--checkpoint-minutes", "0.001"]) == 0
    log = list(csv.DictReader(open(out / "train-log.csv")))
    minutes = [float(r["minutes"]) for r in log]
    assert len(log) >= 2 and minutes[-1] >= 0.05 and max(minutes[:-1]) < 0.05   # stops after the crossing epoch
    lr, decay = recipe["train"]["lr"], recipe["train"]["lr_decay"]
    assert [float(r["lr"]) for r in log] == pytest.approx([lr * decay ** e for e in range(len(log))])
    final = checkpoint.load(out / "ckpt-final.npz")
    assert final.state["binarize"] == "dynamic" and final.state["epoch"] == len(log)
    early = sorted(out.glob("ckpt-*min.npz"))
    assert len(early) == 1 and checkpoint.load(early[0]).state["epoch"] == 1
    assert qpm.main(["evaluate", "--out", str(out), "--k", "3", "--final-k", "7", "--limit", "20"]) == 0
    curve = list(csv.DictReader(open(out / "curve.csv")))
    assert [r["k"] for r in curve] == ["3", "7"] and all(r["n"] == "20" for r in curve)
    assert all(float(r["nll"]) > 0 for r in curve)
