"""A training step on several threads, each taking a slice of the mini-batch.

The training loss is a mean over the B examples of a mini-batch, so its gradient is a sum over
examples: cut the batch into T parts, let each of T threads compute the gradient of its own
part's share of the mean (each example weighted 1/B, not 1/part-size), and the T gradients add
up to the gradient of the whole batch. Nothing in the derivation changes; the threads run the
very same ``loss_and_grad`` a one-thread step runs, on fewer rows.

Why not let the BLAS split each matrix product across the cores instead, as a one-thread step
does with ``OPENBLAS_NUM_THREADS=2``? Then the products use both cores, but the element-wise
work between them (ReLUs, the loss, the KL, Adam) runs on one, and after every product the
BLAS's helper thread keeps its core busy waiting for the next one, so a thread of ours cannot
use that core either. Split by rows, each thread runs its products on its own core and its
element-wise work too, and the threads meet twice per step instead of around every product:
once when all parts' gradients are ready, once when the optimizer's pieces are done. On a
machine shared with other jobs that matters even more: a thread that waits for a descheduled
partner loses its time twice per step, not thirty times.

For that the BLAS must not use threads of its own while the parts run. Its thread count is a
setting of the whole process (see :mod:`minivae.blas`), so the step sets it to 1 before it
starts any part and gives the old count back only after the last part has finished: a part
still running when the count goes back up would hand its products to the BLAS's helper thread,
which then spins for a tenth of a second on the core the other part needs.

The noise is drawn for the whole batch before it is cut, from the same generator, so a run
with T threads sees the same eps as a run with one; results differ only in the order floating
point additions happen (and are reproducible for a given T).
"""
from __future__ import annotations

import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import blas
from ..errors import InputTypeError, ValidationError
from .validation import check_positive_int

__all__ = ["DataParallel"]


class DataParallel:
    """Runs ``model``'s training step on ``threads`` threads, each on a slice of the batch.

    ``DataParallel(model, 2).train_step(x, optimizer, rng)`` does what
    ``model.train_step(x, optimizer, rng)`` does: draws the noise, computes the loss and its
    gradient, and calls ``optimizer.step``, with the other threads' gradients passed as
    ``also`` so that adding them is part of the optimizer's (itself threaded) pass.

    Use :meth:`usable` to ask whether a model and this installation support it: the model
    must declare ``data_parallel`` (the VAE and the AE do) and minivae must be able to set the
    BLAS's thread count (:func:`minivae.blas.available`).

    ``min_rows``: a batch is cut into at most ``len(x) // min_rows`` parts, so that no thread
    gets so few rows that the fixed cost of its calls outweighs what it computes (a batch of
    128 on a 64-core machine runs on 4 threads, not 64).
    """

    def __init__(self, model, threads, min_rows=32):
        threads = check_positive_int(threads, "threads")
        self.min_rows = check_positive_int(min_rows, "min_rows")
        if not getattr(model, "data_parallel", False):
            raise InputTypeError(f"model: a data-parallel step needs a VAE or AE, got {type(model).__name__}")
        if threads < 2:
            raise ValidationError(f"threads: a data-parallel step needs at least 2 threads, got {threads}")
        if not blas.available():
            raise ValidationError("threads: minivae cannot set the thread count of the BLAS NumPy uses, "
                                  "so the batch cannot be split across threads (train with one thread, "
                                  "and let the BLAS split the products)")
        self.model = model
        self.threads = threads
        self.workers = [model] + [model.replica() for _ in range(threads - 1)]
        self._pool = ThreadPoolExecutor(threads - 1)
        weakref.finalize(self, self._pool.shutdown, wait=False)

    @staticmethod
    def usable(model, threads) -> bool:
        """Would ``DataParallel(model, threads)`` work, and use more than one thread?"""
        return getattr(model, "data_parallel", False) and threads > 1 and blas.available()

    @staticmethod
    def _part(worker, x, eps, rows, batch_size, errors):
        # NumPy's floating-point error settings belong to each thread: take the caller's
        with np.errstate(**errors):
            return worker.loss_and_grad(x[rows], None if eps is None else eps[rows], batch_size=batch_size)

    def train_step(self, x, optimizer, rng):
        model = self.model
        B = len(x)
        eps = model.sample_noise(B, rng) if model.noise_dim else None
        T = max(1, min(self.threads, B // self.min_rows))
        bounds = [B * i // T for i in range(T + 1)]
        parts = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        errors = np.geterr()
        # One BLAS thread per part, set for the whole process before the first part starts and
        # restored after the last has ended (alone, a batch too small to split gets them all).
        with blas.threads(1 if T > 1 else self.threads):
            futures = [self._pool.submit(self._part, w, x, eps, rows, B, errors)
                       for w, rows in zip(self.workers[1:T], parts[1:])]
            try:
                stats = [self._part(model, x, eps, parts[0], B, errors)]
            finally:
                # every worker is done writing before anything else happens, even after an error
                results = [f.exception() or f.result() for f in futures]
        for r in results:
            if isinstance(r, BaseException):
                raise r
        stats += results
        optimizer.step(also=[w.params.grad for w in self.workers[1:T]])
        # each statistic is a mean over its part; the batch's mean weights them by part size
        return {k: sum(st[k] * (rows.stop - rows.start) for st, rows in zip(stats, parts)) / B
                for k in stats[0]}
