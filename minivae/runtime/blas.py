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

The BLAS libraries of the process (NumPy's OpenBLAS, and SciPy's if it is loaded by then) are
found once, and their counts read and set, through threadpoolctl, the library scikit-learn
relies on for the same job. What minivae keeps of its own is what threadpoolctl leaves to the
caller: blocks that
overlap from several threads (:func:`threads`). threadpoolctl lets only one "controlling" thread
change a process-wide count and silently ignores the others; minivae serializes every change
under its own lock and hands control to the thread that makes it. Where no BLAS is found whose
count can be set, :func:`available` is False and minivae trains with the BLAS's own threads.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy  # noqa: F401  (the BLAS to control is NumPy's: loaded before it is looked for)
from threadpoolctl import ThreadpoolController

__all__ = ["available", "get_threads", "set_threads", "threads", "info"]

_controllers = None
# the blocks inside threads() now, oldest first, and the counts the process had before the first
_lock = threading.Lock()
_active = []
_before = None


def _load():
    """threadpoolctl's controllers of the BLAS libraries loaded in this process (found once)."""
    global _controllers
    if _controllers is None:
        _controllers = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _controllers


def available() -> bool:
    """Can minivae read and set the BLAS's thread count?"""
    return bool(_load())


def info() -> list:
    """What threadpoolctl reports of each BLAS: library, version, kernel ("architecture"),
    threads (for benchmarks to print beside their figures)."""
    return [c.info() for c in _load()]


def _controllers_or_raise():
    controllers = _load()
    if not controllers:
        raise RuntimeError("the BLAS NumPy uses does not let minivae set its thread count "
                           "(threadpoolctl found no BLAS library whose threads it can limit)")
    return controllers


def get_threads() -> int:
    """The thread count of NumPy's BLAS (for the whole process)."""
    return _controllers_or_raise()[0].get_num_threads()


def set_threads(n: int) -> int:
    """Let every BLAS product of the process use ``n`` threads; return the previous count.

    Raises RuntimeError when :func:`available` is False.
    """
    controllers = _controllers_or_raise()
    with _lock:
        previous = controllers[0].get_num_threads()
        _apply([int(n)] * len(controllers), controllers)
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
    controllers = _controllers_or_raise()
    token = object()
    with _lock:
        if not _active:
            _before = [c.get_num_threads() for c in controllers]
        _active.append((token, int(n)))
        _apply([int(n)] * len(controllers), controllers)
    try:
        yield
    finally:
        with _lock:
            _active[:] = [entry for entry in _active if entry[0] is not token]
            _apply([_active[-1][1]] * len(controllers) if _active else _before, controllers)


def _apply(counts, controllers):
    """Set each library's count (under ``_lock``), from whichever thread asks."""
    for controller, count in zip(controllers, counts):
        # threadpoolctl (>= 3.6) ignores a process-wide count set from a thread other than the
        # first that set one; minivae's lock already serializes the changes, so hand control
        # to this thread
        clear = getattr(type(controller), "clear_controlling_thread", None)
        if clear is not None:
            clear(force=True)
        controller.set_num_threads(count)
