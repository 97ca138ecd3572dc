"""Why the two-thread step is not twice as fast: one half of the batch, alone and beside the other.

    python benchmarks/split_parts.py               # batch 128, halves of 64 rows
    python benchmarks/split_parts.py --rounds 12

The two-thread training step (``minivae.parallel``) gives each of two threads half of the
mini-batch and runs the same ``loss_and_grad`` on both halves at once. This script times the
main thread's half, ``loss_and_grad`` on 64 rows (weighted as a part of a batch of 128), three
ways, in interleaved rounds:

* **alone**: no other work runs;
* **beside a helper thread**: a second thread of the same process computes the other half at
  the same time, started and awaited the way the training step does it (the two halves run in
  step, one interpreter lock between them);
* **beside a helper process**: a forked copy of the model computes the other half at the same
  time, started and awaited through pipes (no lock shared; the same cores, caches and memory).

Alone against beside a process is what the hardware takes when both cores work at once;
beside a process against beside a thread is what the interpreter lock takes. The BLAS runs on
one thread throughout. Figures are the medians of per-round medians, in milliseconds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import minivae  # noqa: E402
from minivae import blas  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--calls", type=int, default=300, help="timed calls per way and round")
    args = p.parse_args(argv)
    if args.batch < 2 or args.batch % 2:
        p.error(f"--batch: expected an even number of rows, at least 2, got {args.batch}")
    if args.rounds < 1 or args.calls < 1:
        p.error(f"--rounds and --calls: expected positive counts, got {args.rounds} and {args.calls}")
    if not hasattr(os, "fork"):
        sys.exit("split_parts: needs os.fork (Linux or macOS) for the helper process")
    if not blas.available():
        sys.exit("split_parts: cannot set the BLAS thread count here, so the halves would share cores")
    blas.set_threads(1)
    B = args.batch
    half = B // 2
    rng = np.random.default_rng(0)
    x = rng.random((B, 784), dtype=np.float32)
    eps = rng.standard_normal((B, 20), dtype=np.float32)
    model = minivae.VAE(784, 20, (400,), "relu", "bernoulli", seed=0)
    other = model.replica()        # reads the same weights, writes a gradient of its own

    def mine():
        t = time.perf_counter()
        model.loss_and_grad(x[:half], eps[:half], batch_size=B)
        return time.perf_counter() - t

    def theirs():
        other.loss_and_grad(x[half:], eps[half:], batch_size=B)

    # The helper process: a copy of everything above, made by fork before any thread starts.
    # Nothing writes the weights here, so both processes read the same physical pages.
    child_reads, parent_writes = os.pipe()
    parent_reads, child_writes = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(parent_writes)
        os.close(parent_reads)
        while os.read(child_reads, 1) == b"s":
            theirs()
            os.write(child_writes, b"d")
        os._exit(0)
    os.close(child_reads)
    os.close(child_writes)

    start, finished = threading.Event(), threading.Event()

    def helper_thread():
        while True:
            start.wait()
            start.clear()
            theirs()
            finished.set()

    threading.Thread(target=helper_thread, daemon=True).start()

    def beside_thread():
        start.set()
        t = mine()
        finished.wait()
        finished.clear()
        return t

    def beside_process():
        os.write(parent_writes, b"s")
        t = mine()
        if os.read(parent_reads, 1) != b"d":
            raise RuntimeError("split_parts: the helper process ended without finishing its half")
        return t

    ways = {"alone": mine, "beside a helper thread": beside_thread,
            "beside a helper process": beside_process}
    medians = {name: [] for name in ways}
    try:
        for r in range(args.rounds):
            order = list(ways)[r % 3:] + list(ways)[:r % 3]
            for name in order:
                for _ in range(30):
                    ways[name]()
                medians[name].append(statistics.median(ways[name]() for _ in range(args.calls)) * 1e3)
    finally:
        os.write(parent_writes, b"q")
        os.waitpid(child, 0)

    print(f"split_parts: loss_and_grad on {half} of {B} rows, BLAS on 1 thread, "
          f"{args.rounds} rounds x {args.calls} calls; milliseconds per call")
    base = statistics.median(medians["alone"])
    for name, ms in medians.items():
        m = statistics.median(ms)
        print(f"  {name:26s} {m:6.3f}  ({m / base - 1:+6.1%})   rounds {min(ms):.3f}-{max(ms):.3f}")


if __name__ == "__main__":
    main()
