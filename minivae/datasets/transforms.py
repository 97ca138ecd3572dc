"""What is done to pixels before a model sees them: binarization (drawn, fixed or thresholded)
and dequantization of 8-bit grey levels."""
from __future__ import annotations

import numpy as np

from ..errors import InputTypeError, ValidationError

__all__ = ["binarize", "threshold", "binarize_fixed", "dequantize", "dequantize_fixed"]

# --------------------------------------------------------------------------------------
# Binarization


def _check_probabilities(x, arg: str = "x") -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise InputTypeError(f"{arg} must be a numpy array, got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        # rng.random draws only float32/float64, and integer pixels (0..255) would mean
        # the caller forgot to scale to [0, 1].
        raise InputTypeError(
            f"{arg} must have dtype float32 or float64 with values in [0, 1], got {x.dtype}"
        )
    if x.size and not (x.min() >= 0 and x.max() <= 1):  # "not" so NaN fails too
        raise ValidationError(
            f"{arg} must hold probabilities in [0, 1], got values in "
            f"[{x.min()}, {x.max()}]"
        )
    return x


def binarize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dynamic (stochastic) binarization: each pixel becomes 1 with probability ``x``.

    Drawing afresh every time a batch is used acts as data augmentation and makes a
    Bernoulli likelihood a proper model of grey-level data.

    Parameters
    ----------
    x : ndarray of float32 or float64, any shape
        Probabilities in [0, 1].
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray, same shape and dtype as x
        Values 0 and 1: ``rng.random(x.shape) < x``.
    """
    x = _check_probabilities(x)
    if not isinstance(rng, np.random.Generator):
        raise InputTypeError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got "
            f"{type(rng).__name__}"
        )
    return _draw(x, rng)


def _draw(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # The unchecked core of binarize(), so batches() can check the range once per epoch.
    return (rng.random(x.shape, dtype=x.dtype) < x).astype(x.dtype)


def threshold(x: np.ndarray, level: float = 0.5) -> np.ndarray:
    """Deterministic binarization: 1 where ``x > level``, else 0.

    Parameters
    ----------
    x : ndarray of float32 or float64, any shape
        Values in [0, 1].
    level : float, default 0.5
        Threshold in [0, 1]; a pixel equal to it becomes 0.

    Returns
    -------
    ndarray, same shape and dtype as x
        Values 0 and 1.
    """
    x = _check_probabilities(x)
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating, np.integer)):
        raise InputTypeError(f"level must be a number in [0, 1], got {type(level).__name__}")
    if not 0 <= level <= 1:
        raise ValidationError(f"level must be in [0, 1], got {level}")
    return (x > level).astype(x.dtype)


def binarize_fixed(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Static binarization: one stochastic draw with a fixed seed.

    The same ``x`` and ``seed`` always give the same 0/1 array, which makes a fixed
    binarized data set out of grey-level data (like binarized MNIST, though not the same
    draw as that published one).

    Parameters
    ----------
    x : ndarray of float32 or float64, any shape
        Probabilities in [0, 1].
    seed : int, default 0
        Seed for ``np.random.default_rng``.

    Returns
    -------
    ndarray, same shape and dtype as x
        Values 0 and 1.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputTypeError(f"seed must be an int, got {type(seed).__name__}")
    return binarize(x, np.random.default_rng(seed))


def dequantize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform dequantization of 8-bit grey levels: x = k / 255 becomes (k + u) / 256, u ~ U(0, 1).

    A continuous density (a Gaussian or Laplace decoder) on data that take only 256 values can
    grow without bound: a decoder that predicts a constant pixel exactly may shrink its variance
    towards zero. Spreading each level k uniformly over its bin [k / 256, (k + 1) / 256] makes
    the data truly continuous, and then the density's negative log bounds the discrete one: for 8-bit
    images of D pixels, -log P(k) <= E_u[-log p((k + u) / 256)] + D log 256 (Jensen's inequality
    over the bin of width 1/256 in every pixel), the figure papers on continuous models report,
    often in bits per dimension.

    Parameters
    ----------
    x : ndarray of float32 or float64
        Grey levels k / 255 with integer k in [0, 255] (as :func:`load` returns MNIST).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, same shape and dtype as x
        Level k lands in [k / 256, (k + 1) / 256] (in float32, k + u may round up to the bin's
        upper edge).
    """
    if not isinstance(rng, np.random.Generator):
        raise InputTypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return _spread(_check_8bit(x), rng)


def _spread(levels, rng):
    """(k + u) / 256 for integer levels k (in a float array), u ~ U(0, 1) drawn afresh."""
    out = rng.random(levels.shape, dtype=levels.dtype)
    out += levels
    out /= 256
    return out


def dequantize_fixed(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """:func:`dequantize` with ``np.random.default_rng(seed)``: the same noise every time
    (for a test set that is evaluated after every epoch)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputTypeError(f"seed must be an int, got {type(seed).__name__}")
    return dequantize(x, np.random.default_rng(seed))


def _check_8bit(x):
    """Return 255 x as exact integers in the dtype of x, or raise if x is not on that grid."""
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise InputTypeError(f"x must be a float array of grey levels k / 255, got "
                             f"{type(x).__name__ if not isinstance(x, np.ndarray) else x.dtype}")
    _check_probabilities(x)
    scaled = x * 255
    levels = np.rint(scaled)
    if x.size and np.max(np.abs(scaled - levels)) > 1e-3:
        raise ValidationError("x: dequantization expects 8-bit grey levels k / 255 (k = 0..255), "
                              f"found a value {float(x.flat[np.argmax(np.abs(scaled - levels))]):.6g} "
                              "between two levels")
    return levels.astype(x.dtype, copy=False)
