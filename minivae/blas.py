"""How many threads the BLAS may use for the products of *this* thread.

NumPy hands its matrix products to a BLAS library, on most installations OpenBLAS, which splits
each product across ``OPENBLAS_NUM_THREADS`` threads. minivae's data-parallel training step
(:mod:`minivae.parallel`) runs parts of a batch on several Python threads at once, and then each
of those threads must multiply on its own core: two threads each asking OpenBLAS for two
threads would queue behind each other.

OpenBLAS 0.3.27 and later can be told a thread count for the calling thread only
(``openblas_set_num_threads_local``). This module finds the OpenBLAS that NumPy loaded and
calls that function through :mod:`ctypes`. Where it cannot (another BLAS, an older OpenBLAS, a
platform where the library is not found), :func:`available` is False and minivae trains with
the BLAS's own threads instead.
"""
from __future__ import annotations

import ctypes
import glob
import os
from contextlib import contextmanager

import numpy as np

__all__ = ["available", "set_local_threads", "local_threads"]

_SYMBOL = "openblas_set_num_threads_local"
_functions = None


def _candidate_paths():
    """Shared libraries whose name says OpenBLAS: those mapped into this process (Linux), then
    those a NumPy wheel ships beside the package."""
    seen = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.rsplit(" ", 1)[-1].strip()
                if "openblas" in os.path.basename(path).lower() and os.path.isabs(path):
                    path = os.path.realpath(path)
                    if path not in seen:
                        seen.append(path)
    except OSError:
        pass
    root = os.path.dirname(np.__file__)
    for folder in (os.path.join(root, os.pardir, "numpy.libs"), os.path.join(root, ".dylibs")):
        for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
            path = os.path.realpath(path)
            if path not in seen:
                seen.append(path)
    return seen


def _load():
    """The per-thread setters of every OpenBLAS found (NumPy's and, if loaded, SciPy's)."""
    global _functions
    if _functions is None:
        found = []
        for path in _candidate_paths():
            try:
                fn = getattr(ctypes.CDLL(path), _SYMBOL)
            except (OSError, AttributeError):
                continue
            fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
            found.append(fn)
        _functions = found
    return _functions


def available() -> bool:
    """Can the BLAS be given a thread count per calling thread?"""
    return bool(_load())


def set_local_threads(n: int) -> int:
    """Let the BLAS products of the calling thread use ``n`` threads; return the previous count.

    Raises RuntimeError when :func:`available` is False.
    """
    return _set_each(n)[0]


def _functions_or_raise():
    functions = _load()
    if not functions:
        raise RuntimeError("the BLAS NumPy uses cannot be given a thread count per thread "
                           f"(no OpenBLAS with {_SYMBOL} was found)")
    return functions


def _set_all(counts):
    """Give each OpenBLAS found its count; return the counts they had."""
    return [fn(c) for fn, c in zip(_functions_or_raise(), counts)]


def _set_each(n):
    """Give every OpenBLAS found the count ``n``; return the counts they had."""
    return _set_all([int(n)] * len(_functions_or_raise()))


@contextmanager
def local_threads(n: int):
    """``with local_threads(1): ...`` runs the block's products on the calling thread alone."""
    previous = _set_each(n)
    try:
        yield
    finally:
        _set_all(previous)
