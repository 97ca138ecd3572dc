"""Sums and means of exponentials, computed in log space without overflow or underflow.

A log-likelihood estimate averages probability ratios that are far too small to hold as
floats (exp(-100) nats per image is about 1e-44, below float32's smallest normal number), so it
works with their logarithms a_k and needs log sum_k exp(a_k). Shifting by the largest term,

    log sum_k exp(a_k) = m + log sum_k exp(a_k - m),    m = max_k a_k,

makes every exponent non-positive (no overflow) and the largest one exactly 0 (the sum is at
least 1, so its logarithm does not underflow).

The same shift gives the softmax of a categorical distribution's logits and its logarithm,
softmax(l)_k = exp(l_k - logsumexp(l)), which the KL of a categorical posterior
(:mod:`minivae.kl`) and the gradient estimators (:mod:`minivae.estimators`) both need; they live
here, below both, with :func:`one_hot`, the code of a class index.

The public functions check their arguments; ``_softmax`` and ``_one_hot`` are the same kernels
without checks, for a model's training step, which builds its own arrays.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import InputTypeError, ValidationError
from .runtime.validation import check_array, check_axis, check_positive_int

__all__ = ["logsumexp", "logmeanexp", "softmax", "log_softmax", "one_hot"]


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


def softmax(logits, axis=-1):
    """softmax(l)_k = exp(l_k) / sum_j exp(l_j) along ``axis``, shifted by max(l) against overflow."""
    logits = check_array(logits, "logits")
    return _softmax(logits, check_axis(logits, axis, "logits"))


def _softmax(logits, axis=-1):
    """:func:`softmax` without argument checks, for the models' training step."""
    e = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def log_softmax(logits, axis=-1):
    """log softmax(l)_k = l_k - log sum_j exp(l_j), computed with the max shift."""
    logits = check_array(logits, "logits")
    axis = check_axis(logits, axis, "logits")
    m = np.max(logits, axis=axis, keepdims=True)
    shifted = logits - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def one_hot(index, K, dtype=np.float64):
    """One-hot vectors: an integer array of any shape gives shape ``index.shape + (K,)``."""
    K = check_positive_int(K, "K")
    return _one_hot(_check_index(index, K, "index"), K, dtype)


def _one_hot(index, K, dtype=np.float64):
    """:func:`one_hot` without argument checks, for the models' training step."""
    index = np.asarray(index)
    out = np.zeros(index.shape + (int(K),), dtype=dtype)
    np.put_along_axis(out, index[..., None], 1, axis=-1)
    return out


def _check_index(index, K, name="z"):
    """Integer class indices in [0, K) (any shape)."""
    index = np.asarray(index)
    if index.dtype.kind not in "iu":
        raise InputTypeError(f"{name}: expected integer class indices, got dtype {index.dtype}")
    if index.size and (index.min() < 0 or index.max() >= K):
        raise ValidationError(f"{name}: expected class indices in [0, {K}), got values in "
                              f"[{index.min()}, {index.max()}]")
    return index
