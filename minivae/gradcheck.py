"""Finite-difference gradient checks.

Every backward pass in minivae is derived by hand, so every one is compared with central
differences,

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h),

whose error is O(h^2) from the Taylor series plus O(machine epsilon * |f| / h) from rounding.
In float64 with h = 1e-5 both are around 1e-10 to 1e-9 in absolute terms, far below the
relative error of 1e-6 the tests demand, while a wrong derivative (a missing factor of 2, a
dropped term) gives relative errors of order 1. (With h = 1e-6 the rounding term alone can
reach 1e-6 of a small gradient block.)

The relative error of two gradient vectors is ||a - n|| / max(||a|| + ||n||, tiny). On a model
it is reported for each named parameter block as well as for the whole vector, so a small
block (a bias, a scalar sigma) cannot hide behind the large ones.
"""
from __future__ import annotations

import numpy as np

__all__ = ["numerical_gradient", "relative_error", "check_gradient", "check_model_gradient"]


def relative_error(a, n, tiny=1e-12):
    """||a - n|| / max(||a|| + ||n||, tiny) over all entries."""
    a = np.asarray(a, dtype=np.float64).ravel()
    n = np.asarray(n, dtype=np.float64).ravel()
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), tiny))


def numerical_gradient(f, x, h=1e-5, indices=None):
    """Central-difference gradient of the scalar function ``f()`` with respect to array ``x``.

    ``x`` is perturbed in place, one entry at a time, and restored; ``f`` takes no arguments and
    must read ``x`` (a closure over the array or over the model that owns it).

    Parameters
    ----------
    f : callable returning a float
    x : float64 ndarray, modified in place and restored
    h : step
    indices : iterable of flat indices, optional; default every entry.

    Returns
    -------
    ndarray of x's shape (entries not in ``indices`` are NaN).
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient: expected a float64 array, got {x.dtype}")
    flat = x.reshape(-1)   # a view: x must be contiguous
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient: x must be a contiguous array")
    grad = np.full(flat.shape, np.nan)
    idx = range(flat.size) if indices is None else indices
    for i in idx:
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad.reshape(x.shape)


def check_gradient(f, grad_f, x, h=1e-5):
    """Relative error between ``grad_f()`` (analytic, at the current x) and central differences.

    Returns (error, analytic, numeric).
    """
    analytic = np.array(grad_f(), dtype=np.float64)
    numeric = numerical_gradient(f, x, h)
    return relative_error(analytic, numeric), analytic, numeric


def check_model_gradient(model, x, eps=None, h=1e-5):
    """Check ``model.loss_and_grad`` against central differences on every parameter.

    The model must be float64 (use ``model.astype("float64")``); ``eps`` holds the noise fixed,
    so the loss is a deterministic function of the parameters.

    Returns
    -------
    dict with ``"total"`` (relative error over the whole vector) and one entry per parameter
    name.
    """
    P = model.params
    if P.dtype != np.float64:
        raise TypeError(f"check_model_gradient: expected a float64 model, got {P.dtype}; use model.astype('float64')")
    x = np.asarray(x, dtype=np.float64)
    model.loss_and_grad(x, eps)
    analytic = P.grad.copy()
    numeric = numerical_gradient(lambda: model.forward_loss(x, eps)["loss"], P.data, h)
    report = {"total": relative_error(analytic, numeric)}
    for name, s in P.slices.items():
        report[name] = relative_error(analytic[s], numeric[s])
    return report
