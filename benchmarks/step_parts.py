"""Where the time of one training step goes, and how far each part is from its floor.

    python benchmarks/step_parts.py                    # batch 128, one thread
    python benchmarks/step_parts.py --threads 2        # the two-thread step minivae train runs
    python benchmarks/step_parts.py --batch 1024

The model is the classic VAE of ``bench_step.py`` (784-400-20, ReLU, Bernoulli, Adam, float32).
Each figure is the best of five runs of a few hundred calls, in milliseconds per call:

* the whole step (``VAE.train_step``, or with two threads the data-parallel step of
  ``minivae.runtime.parallel``: noise, forward, loss, backward, Adam);
* the matrix products of the step alone, with the same shapes and memory layouts (one thread);
* ``Adam.step`` alone, and ``np.sqrt`` over a vector of the model's size (its costliest pass);
* the Bernoulli loss and gradient alone.

**The floor.** No step can be faster than its matrix products at the machine's float32 peak
(NumPy's product of two 2048 x 2048 matrices, timed here with the same number of BLAS threads)
plus one pass over Adam's state (read the gradient, both moments and the parameters, write the
last three: seven vectors), timed at the speed of a streaming NumPy pass over vectors of the
model's size (``np.add(a, b, out=c)``: two read, one written). Each part is printed beside its
floor; a step at the floor would run ``1000 / floor`` steps per second, which bounds the ratio
to PyTorch that any implementation on this BLAS could show.

Parts timed alone run with their data hot in cache, so they add up to less than the step.
Needs nothing but minivae (no PyTorch, no data).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
import minivae  # noqa: E402
from minivae.likelihoods import bernoulli_nll  # noqa: E402
from minivae.runtime import blas  # noqa: E402
from minivae.runtime.parallel import DataParallel  # noqa: E402
from bench_step import machine, step_flops  # noqa: E402


def best_ms(f, calls):
    for _ in range(min(10, calls)):
        f()
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(calls):
            f()
        runs.append((time.perf_counter() - t) / calls)
    return min(runs) * 1e3


def peak_gflops(threads, n=2048):
    """NumPy's float32 product of two n x n matrices with ``threads`` BLAS threads."""
    rng = np.random.default_rng(2)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    c = np.empty_like(a)
    with blas.threads(threads):
        ms = best_ms(lambda: np.matmul(a, b, out=c), 5)
    return 2 * n ** 3 / ms / 1e6


def stream_ms(n, threads, calls=200):
    """One streaming pass (two vectors read, one written) over ``n`` float32 entries.

    With two threads each takes half of the vectors, as Adam's pieces do.
    """
    rng = np.random.default_rng(3)
    a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    c = np.empty_like(a)
    if threads == 1:
        return best_ms(lambda: np.add(a, b, out=c), calls)
    from concurrent.futures import ThreadPoolExecutor
    bounds = [n * i // threads for i in range(threads + 1)]
    pieces = [slice(s, e) for s, e in zip(bounds[:-1], bounds[1:])]
    with ThreadPoolExecutor(threads - 1) as pool:
        def both():
            futures = [pool.submit(np.add, a[s], b[s], out=c[s]) for s in pieces[1:]]
            np.add(a[pieces[0]], b[pieces[0]], out=c[pieces[0]])
            for f in futures:
                f.result()
        return best_ms(both, calls)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, choices=(1, 2), default=1,
                   help="1: VAE.train_step with one BLAS thread; 2: the data-parallel step on two threads")
    p.add_argument("--calls", type=int, default=None, help="calls per run (default: 40000 / batch, at least 20)")
    p.add_argument("--peak-n", type=int, default=2048, help=argparse.SUPPRESS)   # smaller for the test
    args = p.parse_args(argv)
    B, T = args.batch, args.threads
    if T > 1 and B < 64:
        p.error(f"--batch: the two-thread step splits a batch of at least 64 rows (32 per thread), got {B}")
    calls = args.calls or max(20, 40000 // B)
    rng = np.random.default_rng(0)
    model = minivae.VAE(784, 20, (400,), "relu", "bernoulli", seed=0)
    opt = minivae.Adam(model.params, lr=1e-3, threads=T)
    x = rng.random((B, 784), dtype=np.float32)
    noise = np.random.default_rng(1)
    P = model.params
    f32 = lambda *shape: rng.random(shape, dtype=np.float32)   # noqa: E731

    # the products of one step: forward, weight gradients, input gradients (none for the data)
    h, e, z, o, dh, de, dz = f32(B, 400), f32(B, 40), f32(B, 20), f32(B, 784), f32(B, 400), f32(B, 40), f32(B, 20)
    W1, W2, W3, W4 = (P["enc.0.W"], P["enc.1.W"], P["dec.0.W"], P["dec.1.W"])
    G1, G2, G3, G4 = (P.g("enc.0.W"), P.g("enc.1.W"), P.g("dec.0.W"), P.g("dec.1.W"))

    def products():
        np.matmul(x, W1, out=h); np.matmul(h, W2, out=e)            # encoder
        np.matmul(z, W3, out=dh); np.matmul(dh, W4, out=o)          # decoder
        np.matmul(dh.T, o, out=G4); np.matmul(o, W4.T, out=dh)      # decoder backward
        np.matmul(z.T, dh, out=G3); np.matmul(dh, W3.T, out=dz)
        np.matmul(h.T, de, out=G2); np.matmul(de, W2.T, out=dh)     # encoder backward
        np.matmul(x.T, dh, out=G1)

    flops = step_flops(B)
    if T == 1:
        work = [np.empty((B, 784), np.float32) for _ in range(4)]
        logits = (f32(B, 784) - 0.5) * 8
        v = np.abs(f32(P.size)) + 1e-3
        sq = np.empty_like(v)
        with blas.threads(1):
            step = best_ms(lambda: model.train_step(x, opt, noise), calls)
            prod = best_ms(products, calls)
            adam = best_ms(opt.step, calls)
            sqrt = best_ms(lambda: np.sqrt(v, out=sq), calls)
            loss = best_ms(lambda: bernoulli_nll(x, logits, weight=1 / B, work=work), calls)
    else:
        dp = DataParallel(model, T)
        step = best_ms(lambda: dp.train_step(x, opt, noise), calls)
        eps = noise.standard_normal((B // T, 20), dtype=np.float32)
        with blas.threads(1):
            half = best_ms(lambda: model.loss_and_grad(x[: B // T], eps, batch_size=B), calls)
        adam = best_ms(opt.step, calls)
        sqrt = loss = prod = None
    peak = peak_gflops(T, args.peak_n)
    # two cores stream at least as fast as one: the quicker of the two ways is the floor's pass
    stream = min(stream_ms(P.size, t, calls) for t in range(1, T + 1))
    prod_floor = flops / peak / 1e6
    adam_floor = stream * 7 / 3
    floor = prod_floor + adam_floor

    for line in machine():
        print(line)
    print(f"step_parts: batch {B}, {T} thread{'s' if T > 1 else ''}; milliseconds per call, best of 5")
    print(f"  float32 peak {peak:.1f} GFLOP/s ({T} BLAS thread{'s' if T > 1 else ''}); "
          f"a streaming pass over {P.size:,} floats {stream:.3f} ms")
    rows = [("whole training step", step, floor)]
    if T == 1:
        rows += [(f"matrix products alone ({flops / 1e9:.3f} GFLOP)", prod, prod_floor),
                 (f"Adam.step alone ({P.size:,} parameters)", adam, adam_floor),
                 ("  of which np.sqrt over the vector", sqrt, None),
                 ("Bernoulli loss and gradient alone", loss, None)]
    else:
        part_floor = flops / T / peak_gflops(1, args.peak_n) / 1e6    # its products on one core
        rows += [(f"one thread's part alone ({B // T} rows, loss and gradient)", half, part_floor),
                 (f"Adam.step on {T} threads", adam, adam_floor)]
    print(f"  {'':56s} {'measured':>9s} {'floor':>8s} {'beyond':>8s}")
    for name, ms, fl in rows:
        if fl is None:
            print(f"  {name:56s} {ms:9.3f}")
        else:
            print(f"  {name:56s} {ms:9.3f} {fl:8.3f} {ms - fl:+8.3f}")
    print(f"  floor of the step: products at the peak {prod_floor:.3f} ms + one pass over Adam's state "
          f"{adam_floor:.3f} ms = {floor:.3f} ms, {1000 / floor:.0f} steps/s")
    print(f"  the step: {1000 / step:.0f} steps/s, {floor / step:.0%} of the floor's rate; "
          f"at the floor, 1.5x holds against a PyTorch step of at most {1000 / floor / 1.5:.0f} steps/s "
          f"and 1.2x against one of at most {1000 / floor / 1.2:.0f}")
    if T == 1:
        print(f"  products at {flops / prod / 1e6:.1f} GFLOP/s ({flops / prod / 1e6 / peak:.0%} of the peak); "
              f"the step spends {step - prod:.3f} ms beyond them")


if __name__ == "__main__":
    main()
