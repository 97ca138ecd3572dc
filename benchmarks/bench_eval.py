"""Speed of the importance-sampled log-likelihood against the matrix-multiply peak.

    python benchmarks/bench_eval.py runs/latest/checkpoint.npz              # K = 5000, whole test set
    python benchmarks/bench_eval.py runs/latest/checkpoint.npz --k 500 --limit 1000 --threads 1

Runs ``minivae evaluate CHECKPOINT --k K --json`` in this process (the command a user runs,
with its own timer around the importance-sampling part), and measures NumPy's float32
matrix-multiply peak before and after it with the same thread count. It prints the estimate,
the seconds it took, the seconds its matrix products alone would take at the peak, and their
ratio.

FLOPs counted: 2 m n k per product; per example the encoder's forward pass, and per
(example, sample) pair the decoder's forward pass -- every product the estimate computes.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEAK_N = 2048


def mlp_flops(sizes):
    """FLOPs of one row through an MLP with these layer widths: 2 n_in n_out per layer."""
    return sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:]))


def measure_peak(seconds, repeats):
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.random((PEAK_N, PEAK_N), dtype=np.float32)
    b = rng.random((PEAK_N, PEAK_N), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    rates = []
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            np.matmul(a, b, out=c)
            n += 1
        rates.append(2 * PEAK_N ** 3 * n / (time.perf_counter() - t0) / 1e9)
    return rates


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--limit", type=int, default=None, help="only the first N test examples")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads (sets OMP/OPENBLAS/MKL_NUM_THREADS; default: as the environment says)")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    if args.threads:
        if "numpy" in sys.modules:
            raise SystemExit("bench_eval: --threads must be applied before NumPy is imported")
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    sys.path.insert(0, os.path.dirname(HERE))
    from minivae import checkpoint
    from minivae.cli import main as cli_main

    threads = os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "default"))
    print(f"bench_eval: K={args.k}, threads={threads}, load average at start {os.getloadavg()[0]:.2f}", flush=True)
    peaks = measure_peak(1.0, 3)
    cmd = ["evaluate", args.checkpoint, "--k", str(args.k), "--json"]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli_main(cmd)
    if rc != 0:
        return rc
    res = json.loads(buf.getvalue())
    peaks += measure_peak(1.0, 3)
    peak = statistics.median(peaks)

    model = checkpoint.load(args.checkpoint).build_model()
    enc_flops = sum(mlp_flops(net.sizes) for net in model.encoders)
    dec_flops = mlp_flops(model.decoder.sizes)
    iw = res["importance_sampled"]
    n, k = iw["n"], iw["k"]
    flops = n * enc_flops + n * k * dec_flops
    at_peak = flops / (peak * 1e9)
    print(f"{res['data']} {res['split']}, {n} examples ({res['pixels']} pixels), model {model.decoder.sizes[::-1]} decoder")
    print(f"  NLL (importance sampling, K={k}): {iw['nll']:.2f} +- {iw['stderr']:.2f} nats per example")
    print(f"  single-sample negative ELBO:      {res['nelbo']:.2f}")
    print(f"  matrix products: {flops / 1e12:.2f} TFLOP (2mnk; encoder once per example, decoder once per sample)")
    print(f"  float32 peak (NumPy {PEAK_N}x{PEAK_N} matmul, median of {len(peaks)}): {peak:.1f} GFLOP/s "
          f"(ranged {min(peaks):.1f}-{max(peaks):.1f})")
    print(f"  time at peak for those products: {at_peak:.1f} s")
    print(f"  time taken:                       {iw['seconds']:.1f} s  = {iw['seconds'] / at_peak:.2f}x the "
          f"time at peak ({100 * at_peak / iw['seconds']:.0f}% of peak)")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
