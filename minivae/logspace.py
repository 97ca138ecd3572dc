"""Sums and means of exponentials, computed in log space without overflow or underflow.

A log-likelihood estimate averages probability ratios that are far too small to hold as
floats (exp(-100) nats per image is about 1e-44, below float32's smallest normal number), so it
works with their logarithms a_k and needs log sum_k exp(a_k). Shifting by the largest term,

    log sum_k exp(a_k) = m + log sum_k exp(a_k - m),    m = max_k a_k,

makes every exponent non-positive (no overflow) and the largest one exactly 0 (the sum is at
least 1, so its logarithm does not underflow).
"""
from __future__ import annotations

import math

import numpy as np

from .validation import check_array, check_axis

__all__ = ["logsumexp", "logmeanexp"]


def logsumexp(a, axis=-1):
    """log sum_k exp(a_k) along ``axis``, stable for any finite a (and -inf entries).

    Parameters
    ----------
    a : array_like
    axis : int

    Returns
    -------
    ndarray with ``axis`` removed (float64 when a is an integer array). A slice whose entries
    are all -inf gives -inf; a slice holding +inf gives +inf.
    """
    a = check_array(a, "a", min_ndim=1)
    axis = check_axis(a, axis, "a")
    m = np.max(a, axis=axis, keepdims=True)
    # a slice of -inf (or +inf) has no finite shift; shifting by 0 there gives the right limit
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):           # log(0) = -inf for an all -inf slice
        s = np.log(np.sum(np.exp(a - m), axis=axis))
    return s + np.squeeze(m, axis=axis)


def logmeanexp(a, axis=-1):
    """log (1/K) sum_k exp(a_k) along ``axis`` (K entries): :func:`logsumexp` minus log K.

    The importance-sampled log-likelihood log (1/K) sum_k p(x, z_k) / q(z_k | x) is exactly this
    of the log weights a_k = log p(x, z_k) - log q(z_k | x).
    """
    a = check_array(a, "a", min_ndim=1)
    axis = check_axis(a, axis, "a")
    return logsumexp(a, axis=axis) - math.log(a.shape[axis])
