"""How many threads the BLAS may use for NumPy's matrix products.

NumPy hands its matrix products to a BLAS library, on most installations OpenBLAS, which splits
each product across ``OPENBLAS_NUM_THREADS`` threads. minivae's data-parallel training step
(:mod:`minivae.parallel`) runs parts of a batch on several Python threads at once, and then each
of those threads must multiply on its own core, with no help from the BLAS's threads.

OpenBLAS's thread count is a setting of the whole process, not of the thread that sets it. That
holds even for its function ``openblas_set_num_threads_local``: in the pthread builds that the
NumPy and SciPy wheels ship it changes the same process-wide count, so a thread that sets it to
1 for its own products and puts the old value back when it is done hands every other thread's
remaining products to the BLAS's helper threads. Those then spin on a core for a tenth of a
second after each product, a core the other Python thread needed. So the data-parallel step sets
the count once, from the thread that starts the parts, before any part starts, and restores it
after the last part has finished (:func:`threads`).

This module finds the OpenBLAS that NumPy loaded (and SciPy's, if loaded) and calls its
``openblas_get_num_threads`` / ``openblas_set_num_threads`` through :mod:`ctypes` (the wheels'
copies carry a ``scipy_`` prefix and a ``64_`` suffix). Where it cannot (another BLAS, a
platform where the library is not found), :func:`available` is False and minivae trains with
the BLAS's own threads instead.
"""
from __future__ import annotations

import ctypes
import glob
import os
import threading
from contextlib import contextmanager

import numpy as np

__all__ = ["available", "get_threads", "set_threads", "threads"]

_PREFIXES = ("", "scipy_")
_SUFFIXES = ("", "64_", "_64")
_libraries = None
# the blocks inside threads() now, oldest first, and the counts the process had before the first
_lock = threading.Lock()
_active = []
_before = None


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


def _getter_and_setter(lib):
    """The library's (get, set) pair of thread-count functions, or None."""
    for prefix in _PREFIXES:
        for suffix in _SUFFIXES:
            try:
                get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}")
                put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}")
            except AttributeError:
                continue
            get.argtypes, get.restype = [], ctypes.c_int
            put.argtypes, put.restype = [ctypes.c_int], None
            return get, put
    return None


def _load():
    """The (get, set) pairs of every OpenBLAS found (NumPy's and, if loaded, SciPy's)."""
    global _libraries
    if _libraries is None:
        found = []
        for path in _candidate_paths():
            try:
                pair = _getter_and_setter(ctypes.CDLL(path))
            except OSError:
                continue
            if pair is not None:
                found.append(pair)
        _libraries = found
    return _libraries


def available() -> bool:
    """Can minivae read and set the BLAS's thread count?"""
    return bool(_load())


def _libraries_or_raise():
    libraries = _load()
    if not libraries:
        raise RuntimeError("the BLAS NumPy uses does not let minivae set its thread count "
                           "(no OpenBLAS with openblas_set_num_threads was found)")
    return libraries


def get_threads() -> int:
    """The thread count of NumPy's BLAS (for the whole process)."""
    return _libraries_or_raise()[0][0]()


def set_threads(n: int) -> int:
    """Let every BLAS product of the process use ``n`` threads; return the previous count.

    Raises RuntimeError when :func:`available` is False.
    """
    libraries = _libraries_or_raise()
    previous = libraries[0][0]()
    _apply([int(n)] * len(libraries), libraries)
    return previous


@contextmanager
def threads(n: int):
    """``with threads(n): ...`` lets every BLAS product made while the block runs, from any
    thread, use ``n`` threads (``threads(1)``: each product on the thread that asked for it).

    When the block ends, even by an error, the count goes back to what it was. Blocks may nest,
    and may overlap from several threads (two split steps run side by side): since there is only
    one count, the newest block still open sets it, and when the last block ends the count the
    process had before the first one comes back. (Restoring "the count seen on entry" would not
    do: of two overlapping blocks, the one that ends last would put back the count the other
    had set, and leave it set for good.)
    """
    global _before
    libraries = _libraries_or_raise()
    token = object()
    with _lock:
        if not _active:
            _before = [get() for get, _ in libraries]
        _active.append((token, int(n)))
        _apply([int(n)] * len(libraries), libraries)
    try:
        yield
    finally:
        with _lock:
            _active[:] = [entry for entry in _active if entry[0] is not token]
            _apply([_active[-1][1]] * len(libraries) if _active else _before, libraries)


def _apply(counts, libraries):
    for (_, put), count in zip(libraries, counts):
        put(count)
