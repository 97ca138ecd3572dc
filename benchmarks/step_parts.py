"""Where the time of one training step goes: the step, and each of its parts timed alone.

    OPENBLAS_NUM_THREADS=1 python benchmarks/step_parts.py            # batch 128
    OPENBLAS_NUM_THREADS=1 python benchmarks/step_parts.py --batch 1024

The model is the classic VAE of ``bench_step.py`` (784-400-20, ReLU, Bernoulli, Adam, float32).
Each line is the best of five runs of a few hundred calls, in milliseconds per call:

* the whole step (``VAE.train_step``: noise, forward, loss, backward, Adam);
* the matrix products of the step alone, with the same shapes and memory layouts;
* ``Adam.step`` alone, and ``np.sqrt`` over a vector of the model's size (Adam's costliest pass);
* the Bernoulli loss and gradient alone.

Parts timed alone run with their data hot in cache, so they add up to less than the step.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import minivae  # noqa: E402
from minivae.likelihoods import bernoulli_nll  # noqa: E402


def best_ms(f, calls):
    for _ in range(10):
        f()
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(calls):
            f()
        runs.append((time.perf_counter() - t) / calls)
    return min(runs) * 1e3


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args(argv)
    B = args.batch
    calls = max(20, 40000 // B)
    rng = np.random.default_rng(0)
    model = minivae.VAE(784, 20, (400,), "relu", "bernoulli", seed=0)
    opt = minivae.Adam(model.params, lr=1e-3)
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

    flops = 2 * B * (784 * 400 + 400 * 40 + 20 * 400 + 400 * 784) * 3 - 2 * B * 784 * 400
    work = [np.empty((B, 784), np.float32) for _ in range(4)]
    logits = (f32(B, 784) - 0.5) * 8
    v = np.abs(f32(P.size)) + 1e-3
    sq = np.empty_like(v)

    step = best_ms(lambda: model.train_step(x, opt, noise), calls)
    rows = [
        ("whole training step", step),
        (f"matrix products alone ({flops / 1e9:.3f} GFLOP)", best_ms(products, calls)),
        (f"Adam.step alone ({P.size:,} parameters)", best_ms(opt.step, calls)),
        ("  of which np.sqrt over the vector", best_ms(lambda: np.sqrt(v, out=sq), calls)),
        ("Bernoulli loss and gradient alone", best_ms(lambda: bernoulli_nll(x, logits, weight=1 / B, work=work), calls)),
    ]
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(f"step_parts: batch {B}, OPENBLAS_NUM_THREADS={threads}; milliseconds per call, best of 5")
    for name, ms in rows:
        print(f"  {name:48s} {ms:7.3f}")
    prod = rows[1][1]
    print(f"  products at {flops / prod / 1e6:.1f} GFLOP/s; the step spends {step - prod:.3f} ms beyond them")


if __name__ == "__main__":
    main()
