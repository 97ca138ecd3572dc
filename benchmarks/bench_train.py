"""Whole training runs: ``minivae train`` against the PyTorch twin trained the same way.

    python benchmarks/bench_train.py [--rounds 1] [--threads 2]

Runs, alternately and each in its own process, ``minivae train --no-progress`` (the default
classic model: 10 epochs of grey-level MNIST, batch 128, Adam 1e-3) and
``benchmarks/train_torch.py`` (the same model and protocol in PyTorch), and prints for each the
median seconds per epoch (training pass only; the per-epoch test evaluation is excluded, as in
minivae's metrics.csv), the wall time of the whole run, the final single-sample test negative
ELBO, and the peak resident memory of the process (its maximum resident set size as reported by
the kernel when the process ends). Needs the data through MINIVAE_DATA or --data-dir.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _run(cmd, env):
    """Run cmd; return its standard output and wall seconds."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err}")
    return out, wall


def _measured(cmd, env):
    """Run cmd under a fresh helper process that prints its one child's peak RSS (KiB) last.

    RUSAGE_CHILDREN reports the largest child a process has waited for, so a helper with a
    single child isolates that child's figure from the other runs.
    """
    helper = ("import resource, subprocess, sys; "
              "r = subprocess.run(sys.argv[1:]); "
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True); "
              "sys.exit(r.returncode)")
    out, wall = _run([sys.executable, "-c", helper, *cmd], env)
    lines = out.strip().splitlines()
    return "\n".join(lines[:-1]), wall, int(lines[-1]) / 1024


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP threads for both (default: the environment's)")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    env = dict(os.environ)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    data = ["--data-dir", args.data_dir] if args.data_dir else []
    try:
        import importlib.util
        have_torch = importlib.util.find_spec("torch") is not None
    except ValueError:
        have_torch = False
    if not have_torch:
        print("PyTorch is not installed: timing minivae alone")
    from bench_step import machine
    for line in machine():
        print(line)
    print(f"bench_train: {args.rounds} round(s), {args.epochs} epochs, threads "
          f"{args.threads or 'as the environment says'}; load average at start {os.getloadavg()[0]:.2f}", flush=True)
    rows = {"minivae": [], "pytorch": []}
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "minivae", "train", "--no-progress", "--epochs", str(args.epochs),
                   "--out", tmp, *data]
            out, wall, rss = _measured(cmd, env)
            with open(os.path.join(tmp, "metrics.csv")) as f:
                metrics = list(csv.DictReader(f))
            rows["minivae"].append({"seconds": [float(m["seconds"]) for m in metrics], "wall": wall,
                                    "rss": rss, "test": float(metrics[-1]["test_nelbo"])})
        print(f"  round {r + 1}: minivae done ({wall:.0f} s)", flush=True)
        if have_torch:
            cmd = [sys.executable, os.path.join(HERE, "train_torch.py"), "--json", "--epochs", str(args.epochs), *data]
            out, wall, rss = _measured(cmd, env)
            res = json.loads(out.strip().splitlines()[-1])
            rows["pytorch"].append({"seconds": res["seconds"], "wall": wall, "rss": rss, "test": res["test_nelbo"]})
            print(f"  round {r + 1}: PyTorch done ({wall:.0f} s)", flush=True)
    print(f"\n{'':<10}{'s/epoch (median)':>18}{'whole run, s':>14}{'peak RSS, MiB':>15}{'test -ELBO':>12}")
    for name, runs in rows.items():
        if not runs:
            continue
        per_epoch = statistics.median([s for run in runs for s in run["seconds"]])
        wall = statistics.median([run["wall"] for run in runs])
        rss = max(run["rss"] for run in runs)
        test = statistics.median([run["test"] for run in runs])
        print(f"{name:<10}{per_epoch:>18.2f}{wall:>14.1f}{rss:>15.0f}{test:>12.2f}")
    if rows["minivae"] and rows["pytorch"]:
        per = {k: statistics.median([s for run in v for s in run["seconds"]]) for k, v in rows.items()}
        whole = {k: statistics.median([run["wall"] for run in v]) for k, v in rows.items()}
        print(f"\nminivae / PyTorch: {per['pytorch'] / per['minivae']:.2f}x per epoch (training pass), "
              f"{whole['pytorch'] / whole['minivae']:.2f}x the whole run (start-up, data, evaluation and "
              f"minivae's checkpoints and pictures included)")
    print(f"\n(test -ELBO: single-sample, grey-level MNIST test set, nats per image; "
          f"load average at end {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
