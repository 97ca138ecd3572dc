"""Semi-supervised MNIST with 100 labels: the baseline classifier, M2 and M1+M2 (Kingma,
Rezende, Mohamed and Welling, 2014; lecture 003, item 24), each trained for a time budget on
several label draws, with the test error recorded against minutes.

    PYTHONPATH=. MINIVAE_DATA=... python benchmarks/semisupervised.py --minutes 60 --draws 0 1 2 \\
        --out benchmarks/results/semisupervised

writes ``curves.csv`` (model, draw, epoch, training minutes, minutes including evaluation, test
error), ``summary.json`` (every draw's final error and the median over draws per model),
``curves.png`` (test error against minutes) and prints the table beside the paper's figures
(100 labels: M2 11.97% +- 1.71, M1+M2 3.33% +- 0.14, after 3,000 epochs).

Each run stops after the first epoch that ends past the budget; the minutes are wall-clock time
of the training steps plus M1's training for M1+M2 (the per-epoch test error, on the classifier
alone, is timed separately and reported as well). The settings are those the command line uses:
``minivae train --model m2 --labels 100 --label-seed D --latent-dim 50 --hidden 500
--binarize dynamic --batch-size 200`` and likewise for m1m2 and classifier.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from minivae import datasets, plots, semisupervised
from minivae.models import build_model
from minivae.nn import WEIGHT_INITS, restart_glorot
from minivae.train import Trainer

PAPER = {"m2": (11.97, 1.71), "m1m2": (3.33, 0.14)}


def run_one(kind, draw, x, y, x_test, y_test, args, log):
    """Train one model on one label draw within the budget; return its curve rows."""
    budget = 60.0 * args.minutes
    y_train = datasets.choose_labels(y, args.labels, seed=draw)
    rows, spent, t_wall = [], 0.0, time.perf_counter()
    settings = dict(lr=args.lr, seed=draw, progress=False, verbose=False)
    if kind == "classifier":
        keep = y_train >= 0
        xs, ys = x[keep], y_train[keep]
        model = build_model({"kind": "classifier", "hidden": args.hidden, "seed": draw})
        trainer = Trainer(model, xs, y_train=ys, batch_size=min(args.batch_size, len(xs)), **settings)
    else:
        weighting = "dataset" if args.dataset_weighting else "mean"
        weight, alpha = semisupervised.default_weights(args.labels, len(x) - args.labels, weighting)
        if args.dataset_weighting:          # the paper's sum over the data set, per unlabelled example
            log(f"  dataset weighting: labelled_weight {weight:.6g}, alpha {alpha:.6g}")
        else:
            weight = args.labelled_weight
            alpha = alpha if args.alpha is None else args.alpha
        cfg = {"kind": kind, "latent_dim": args.latent_dim, "hidden": args.hidden, "alpha": alpha,
               "labelled_weight": weight, "seed": draw}
        if kind == "m1m2":
            m1 = build_model({"kind": "vae", "latent_dim": args.m1_latent_dim, "hidden": args.m1_hidden,
                              "seed": draw})
            if args.m1_init == "glorot":
                restart_glorot(m1.params, ("enc.", "dec."), np.random.default_rng(draw))
            m1_trainer = Trainer(m1, x, batch_size=100, binarize="dynamic", **settings)
            m1_budget = args.m1_share * budget
            t0 = time.perf_counter()
            while m1_trainer.epoch < args.m1_epochs and time.perf_counter() - t0 < m1_budget:
                m1_trainer.run(m1_trainer.epoch + 1)
            spent = time.perf_counter() - t0
            log(f"  M1: {m1_trainer.epoch} epochs in {spent / 60:.1f} min, "
                f"train -ELBO {m1_trainer.history[-1]['train_nelbo']:.1f}")
            cfg["m1"] = m1.get_config()
            model = build_model(cfg)
            for name in m1.params.shapes:
                model.params[name][...] = m1.params[name]
        else:
            model = build_model(cfg)
        trainer = Trainer(model, x, y_train=y_train, batch_size=args.batch_size, binarize="dynamic", **settings)
    eval_seconds = 0.0
    max_epochs = args.baseline_epochs if kind == "classifier" else args.max_epochs
    while spent < budget and trainer.epoch < max_epochs:
        t0 = time.perf_counter()
        trainer.run(trainer.epoch + 1)
        spent += time.perf_counter() - t0
        if kind == "classifier" and trainer.epoch % 10 and trainer.epoch < max_epochs:
            continue                    # its epochs are one step each: test it every tenth
        t1 = time.perf_counter()
        err = semisupervised.error_rate(model, x_test, y_test)
        eval_seconds += time.perf_counter() - t1
        rows.append({"model": kind, "draw": draw, "epoch": trainer.epoch, "minutes": spent / 60,
                     "wall_minutes": (time.perf_counter() - t_wall) / 60, "test_error": err})
        if trainer.epoch == 1 or trainer.epoch % args.log_every == 0:
            log(f"  {kind} draw {draw} epoch {trainer.epoch}: {spent / 60:.1f} min, test error {100 * err:.2f}%")
    # where the errors are: the three largest cells off the confusion matrix's diagonal
    cm = semisupervised.confusion_matrix(model, x_test, y_test)
    off = cm - np.diag(np.diag(cm))
    worst = np.argsort(off, axis=None)[::-1][:3]
    log(f"  {kind} draw {draw} most confused (true -> predicted: test images): " + ", ".join(
        f"{t} -> {q}: {off[t, q]}" for t, q in zip(*np.unravel_index(worst, off.shape))))
    if args.save:
        trainer.save_checkpoint(Path(args.out) / f"{kind}-draw{draw}.npz")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=60.0, help="training budget per run (default: 60)")
    p.add_argument("--draws", type=int, nargs="+", default=[0, 1, 2], help="label seeds (default: 0 1 2)")
    p.add_argument("--models", nargs="+", default=["classifier", "m2", "m1m2"],
                   choices=["classifier", "m2", "m1m2"])
    p.add_argument("--labels", type=int, default=100)
    p.add_argument("--latent-dim", type=int, default=50)
    p.add_argument("--hidden", type=int, nargs="+", default=[500])
    p.add_argument("--m1-latent-dim", type=int, default=50)
    p.add_argument("--m1-hidden", type=int, nargs="+", default=[500])
    p.add_argument("--m1-epochs", type=int, default=1000, help="at most this many M1 epochs (default: budget-bound)")
    p.add_argument("--m1-init", choices=WEIGHT_INITS, default="uniform",
                   help="M1's initial weights, as minivae train --m1-init (default: uniform)")
    p.add_argument("--m1-share", type=float, default=0.25, help="share of the budget for M1 (default: 0.25)")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--alpha", type=float, default=None,
                   help="classification weight per labelled example (default: 0.1 N / N_l, 60 for 100 labels)")
    p.add_argument("--labelled-weight", type=float, default=1.0,
                   help="weight of the labelled bound's mean against the unlabelled one's (default: 1)")
    p.add_argument("--dataset-weighting", action="store_true",
                   help="the paper's objective, a sum over the data set: labelled_weight N_l / N_u and "
                        "alpha 0.1 N / N_u (overrides --alpha and --labelled-weight)")
    p.add_argument("--max-epochs", type=int, default=100000)
    p.add_argument("--baseline-epochs", type=int, default=300,
                   help="epochs of the baseline (one step each with 100 labels; it has converged by then)")
    p.add_argument("--log-every", type=int, default=5)
    p.add_argument("--save", action="store_true", help="also save each run's final checkpoint in --out")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default="benchmarks/results/semisupervised")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train = datasets.load("mnist", "train", root=args.data_dir)
    test = datasets.load("mnist", "test", root=args.data_dir)
    rows = []
    for kind in args.models:
        for draw in args.draws:
            print(f"{kind}, label draw {draw}, budget {args.minutes:g} min", flush=True)
            rows += run_one(kind, draw, train.x, train.y, test.x, test.y, args, lambda t: print(t, flush=True))

    with open(out / "curves.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    summary = {"minutes_budget": args.minutes, "labels": args.labels, "models": {}}
    for kind in args.models:
        finals = {d: [r for r in rows if r["model"] == kind and r["draw"] == d][-1] for d in args.draws}
        errs = [100 * finals[d]["test_error"] for d in args.draws]
        summary["models"][kind] = {"error_percent_per_draw": dict(zip(map(str, args.draws), errs)),
                                   "median_error_percent": statistics.median(errs),
                                   "epochs_per_draw": [finals[d]["epoch"] for d in args.draws]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot(1, 1, 1)
    for kind, color in zip(args.models, ("tab:gray", "tab:blue", "tab:orange")):
        for d in args.draws:
            r = [row for row in rows if row["model"] == kind and row["draw"] == d]
            ax.plot([row["minutes"] for row in r], [100 * row["test_error"] for row in r], color=color,
                    label=kind if d == args.draws[0] else None)
    for kind, (m, _) in PAPER.items():
        if kind in args.models:
            ax.axhline(m, ls=":", color="k", lw=0.8)
            ax.text(0, m, f" paper {kind} {m}%", va="bottom", fontsize=7)
    ax.set_xlabel("training minutes")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"MNIST, {args.labels} labels: test error against minutes", fontsize=10)
    ax.legend()
    plots.save(fig, out / "curves.png")

    print(f"\n{'model':<12}{'median error %':>16}  per draw            paper (3,000 epochs)")
    for kind, s in summary["models"].items():
        per = ", ".join(f"{e:.2f}" for e in s["error_percent_per_draw"].values())
        paper = f"{PAPER[kind][0]} +- {PAPER[kind][1]}" if kind in PAPER else "-"
        print(f"{kind:<12}{s['median_error_percent']:>16.2f}  {per:<18}  {paper}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
