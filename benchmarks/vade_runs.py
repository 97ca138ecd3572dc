"""VaDE on MNIST, one run per seed: test clustering accuracy for every seed and the median.

    python benchmarks/vade_runs.py --seeds 0 1 2 --out runs/vade          # the recorded recipe
    python benchmarks/vade_runs.py --seeds 0 --pretrain-epochs 2 --epochs 2 --limit 5000   # a check

Each seed runs ``minivae train --prior mog`` (VaDE's start: an autoencoder pretrained for
``--pretrain-epochs``, a diagonal mixture fitted to its codes by EM, then VaDE's bound) in its own
process with the seed's label-free training set, then ``minivae evaluate --json`` on the 10,000
test images: the clustering accuracy is each image's cluster argmax_c p(c | z = mu(x)) matched
one to one to the digit classes (Hungarian method). The wall time of each run (pretraining and
training, not the evaluation) is printed beside it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/vade")
    p.add_argument("--hidden", type=int, nargs="+", default=[500, 500, 2000])
    p.add_argument("--latent-dim", type=int, default=10)
    p.add_argument("--pretrain-epochs", type=int, default=20)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--lr-decay", type=float, default=0.97)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--mixture-restarts", type=int, default=1)
    p.add_argument("--mixture-select", default="likelihood", choices=["likelihood", "balance"])
    p.add_argument("--pretrain-init", default="uniform", choices=["uniform", "glorot"])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)
    rows = []
    for seed in args.seeds:
        out = Path(args.out) / f"seed{seed}"
        cmd = [sys.executable, "-m", "minivae", "train", "--prior", "mog", "--components", "10",
               "--latent-dim", str(args.latent_dim), "--hidden", *map(str, args.hidden),
               "--pretrain-epochs", str(args.pretrain_epochs), "--epochs", str(args.epochs),
               "--lr", str(args.lr), "--lr-decay", str(args.lr_decay), "--batch-size", str(args.batch_size),
               "--seed", str(seed), "--out", str(out), "--no-progress",
               "--mixture-restarts", str(args.mixture_restarts), "--mixture-select", args.mixture_select,
               "--pretrain-init", args.pretrain_init]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        print("$ " + " ".join(cmd[1:]), flush=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        minutes = (time.perf_counter() - t0) / 60
        res = json.loads(subprocess.run([sys.executable, "-m", "minivae", "evaluate", str(out / "checkpoint.npz"),
                                         "--json"], check=True, capture_output=True, text=True).stdout)
        rows.append({"seed": seed, "accuracy": res["clustering_accuracy"], "test_nelbo": res["nelbo"],
                     "minutes": minutes})
        print(f"seed {seed}: test clustering accuracy {res['clustering_accuracy']:.4f}, test -ELBO "
              f"{res['nelbo']:.2f} nats (single sample, grey-level MNIST), {minutes:.1f} min", flush=True)
    acc = [r["accuracy"] for r in rows]
    print(f"\nmedian test clustering accuracy over seeds {args.seeds}: {statistics.median(acc):.4f} "
          f"(each: {', '.join(f'{a:.4f}' for a in acc)})")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "vade_runs.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
