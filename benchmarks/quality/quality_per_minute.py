"""Quality per minute: train a VAE for a wall-clock budget, then measure test NLL at several times.

Two steps, so that evaluation never counts as training time:

    python benchmarks/quality/quality_per_minute.py train --config benchmarks/quality/recipe.json --out runs/quality
    python benchmarks/quality/quality_per_minute.py evaluate --out runs/quality --k 5000

``train`` trains on dynamically binarized MNIST (fresh binary pixels every time a batch is drawn)
until the wall clock of the training loop passes ``minutes``, stopping at the end of the epoch that
crosses it. At the end of the first epoch past each of ``checkpoint_minutes`` it writes a
checkpoint ``ckpt-<minutes>min.npz`` (named by the elapsed minutes it was taken at), and at the end
``ckpt-final.npz``; ``train-log.csv`` has one row per epoch with the elapsed minutes. The clock
counts everything the loop does (batches, binarization, Adam, a single-sample test ELBO every few
epochs, checkpoint writes), so the budget is a conservative measure of training time.

``evaluate`` estimates -log p(x) by importance sampling with K samples
(:func:`minivae.evaluate.importance_sampled_nll`) for every checkpoint, on the MNIST test set
binarized once with the trainer's fixed ``eval_seed`` (the same binary test images the trainer
reports on), and writes ``curve.csv`` (minutes, epoch, NLL, standard error, K, n).
``--final-k`` gives the last checkpoint a different K (e.g. the literature's 5000 while the
intermediate points use fewer samples to save time).

The thread count is whatever the BLAS is given: set ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS``.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path


from minivae import checkpoint, datasets
from minivae.evaluate import elbo, importance_sampled_nll
from minivae.models import build_model
from minivae.train import Trainer

MONITOR_EVERY = 10      # epochs between single-sample test ELBOs in the log


def _load_test(eval_seed, data_dir=None):
    return datasets.binarize_fixed(datasets.load("mnist", "test", root=data_dir).x, seed=eval_seed)


def _write_csv(path, rows):
    keys = list(rows[0])
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.7g}" if isinstance(v, float) else v) for k, v in r.items()})


def cmd_train(args):
    cfg = json.loads(Path(args.config).read_text())
    minutes = args.minutes if args.minutes is not None else cfg["minutes"]
    marks = sorted(args.checkpoint_minutes if args.checkpoint_minutes is not None else cfg["checkpoint_minutes"])
    marks = [m for m in marks if m < minutes]
    tc = dict(cfg["train"])
    eval_seed = tc.pop("eval_seed", 12345)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(json.dumps(dict(cfg, minutes=minutes, checkpoint_minutes=marks), indent=1))

    x_train = datasets.load("mnist", "train", root=args.data_dir).x
    x_test = _load_test(eval_seed, args.data_dir)
    model = build_model(cfg["model"])
    prior = getattr(model, "prior", None)
    if getattr(prior, "pseudo_init", None) == "data":     # a VampPrior starts from training images
        prior.init_from_data(model.params, x_train, tc.get("seed", 0))
    # x_test stays out of the Trainer so it does not spend an evaluation after every epoch;
    # the loop below checks the test ELBO every MONITOR_EVERY epochs instead.
    trainer = Trainer(model, x_train, None, progress=False, verbose=False, eval_seed=eval_seed, **tc)
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "unset"
    print(f"training {model!r} on dynamically binarized MNIST for {minutes} min "
          f"(BLAS threads: {threads}); checkpoints after {marks} min into {out}", flush=True)

    rows, pending = [], list(marks)
    t0 = time.perf_counter()
    while True:
        trainer.run(trainer.epoch + 1)
        row = dict(trainer.history[-1])
        if trainer.epoch % MONITOR_EVERY == 0:
            row["test_nelbo"] = elbo(model, x_test, seed=eval_seed, validate=False)["nelbo"]
        elapsed = (time.perf_counter() - t0) / 60
        row["minutes"] = elapsed
        rows.append(row)
        msg = (f"epoch {trainer.epoch:4d}  {elapsed:6.2f} min  lr {row['lr']:.2e}  "
               f"train -ELBO {row['train_nelbo']:.2f}")
        if "test_nelbo" in row:
            msg += f"  test -ELBO (1 sample) {row['test_nelbo']:.2f}"
        print(msg, flush=True)
        done = elapsed >= minutes
        while pending and elapsed >= pending[0]:
            pending.pop(0)
            if not done:
                _save(out / f"ckpt-{elapsed:05.2f}min.npz", trainer, elapsed)
        if done:
            _save(out / "ckpt-final.npz", trainer, elapsed)
            break
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    _write_csv(out / "train-log.csv", [{k: r.get(k, "") for k in keys} for r in rows])
    print(f"done: {trainer.epoch} epochs in {elapsed:.2f} min", flush=True)
    return 0


def _save(path, trainer, minutes):
    state = trainer.state()
    state["minutes"] = minutes
    state["args"] = {"data": "mnist"}
    t = time.perf_counter()
    checkpoint.save(path, trainer.model, None, state)
    print(f"  wrote {path.name} ({time.perf_counter() - t:.1f} s)", flush=True)


def cmd_evaluate(args):
    out = Path(args.out)
    paths = sorted(out.glob("ckpt-*min.npz")) + [out / "ckpt-final.npz"]
    paths = [p for p in paths if p.exists()]
    if not paths:
        print(f"no checkpoints in {out}", file=sys.stderr)
        return 2
    if args.only_final:
        paths = paths[-1:]
    rows = []
    cache = {}
    for i, p in enumerate(paths):
        ck = checkpoint.load(p)
        model = ck.build_model()
        eval_seed = ck.state.get("eval_seed", 12345)
        if eval_seed not in cache:
            cache[eval_seed] = _load_test(eval_seed, args.data_dir)
        x = cache[eval_seed][: args.limit] if args.limit else cache[eval_seed]
        k = args.final_k if (args.final_k and p.name == "ckpt-final.npz") else args.k
        t = time.perf_counter()
        res = importance_sampled_nll(model, x, k=k, seed=args.seed)
        sec = time.perf_counter() - t
        row = {"checkpoint": p.name, "minutes": float(ck.state["minutes"]), "epoch": int(ck.state["epoch"]),
               "nll": res["nll"], "stderr": res["stderr"], "k": k, "n": res["n"], "eval_seconds": sec}
        rows.append(row)
        print(f"{p.name}: {row['minutes']:6.2f} min, epoch {row['epoch']:4d}: test NLL (K={k}, "
              f"{res['n']} images) {res['nll']:.2f} +- {res['stderr']:.2f} nats  [{sec:.0f} s]", flush=True)
    name = args.csv or "curve.csv"
    _write_csv(out / name, rows)
    print(f"wrote {out / name}")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--config", default=str(Path(__file__).with_name("recipe.json")))
    t.add_argument("--out", required=True)
    t.add_argument("--minutes", type=float, default=None, help="override the config's budget")
    t.add_argument("--checkpoint-minutes", type=float, nargs="*", default=None)
    t.add_argument("--data-dir", default=None)
    e = sub.add_parser("evaluate")
    e.add_argument("--out", required=True)
    e.add_argument("--k", type=int, default=5000)
    e.add_argument("--final-k", type=int, default=None, help="K for ckpt-final.npz (default: --k)")
    e.add_argument("--only-final", action="store_true")
    e.add_argument("--limit", type=int, default=None, help="only the first N test images")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--csv", default=None, help="file name of the curve (default: curve.csv)")
    e.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    return cmd_train(args) if args.cmd == "train" else cmd_evaluate(args)


if __name__ == "__main__":
    sys.exit(main())
