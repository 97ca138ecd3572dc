"""Mini-batches of a training set: shuffled, optionally binarized or dequantized on the fly."""
from __future__ import annotations

from typing import Iterator, Optional

import numpy as np

from ..errors import InputTypeError, ValidationError
from .transforms import _check_8bit, _check_probabilities, _draw, _spread

__all__ = ["batches"]

_BINARIZE_MODES = (None, "dynamic", "threshold")


def batches(
    x: np.ndarray,
    batch_size: int,
    rng: Optional[np.random.Generator] = None,
    shuffle: bool = True,
    drop_last: bool = False,
    binarize: Optional[str] = None,
    *,
    y: Optional[np.ndarray] = None,
    dequantize: bool = False,
) -> Iterator:
    """Iterate once over the rows of ``x`` in batches (one epoch).

    Arguments are checked when ``batches`` is called, not at the first ``next()``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Examples, one per row.
    batch_size : int
        Rows per batch, 1 <= batch_size <= N.
    rng : numpy.random.Generator, optional
        Needed when ``shuffle`` is True or ``binarize="dynamic"``.
    shuffle : bool, default True
        Visit rows in the order of ``rng.permutation(N)``, else in order.
    drop_last : bool, default False
        Leave out a last batch smaller than ``batch_size``.
    binarize : {None, "dynamic", "threshold"}, default None
        ``"dynamic"``: a fresh :func:`binarize` draw for every batch; ``"threshold"``:
        :func:`threshold` at 0.5. Both need float32/float64 ``x`` in [0, 1].
    y : ndarray, shape (N, ...), optional
        Labels; if given, batches are ``(xb, yb)`` pairs with matching rows.
    dequantize : bool, default False
        Fresh :func:`dequantize` noise for every batch (needs ``rng``; not with ``binarize``).

    Yields
    ------
    xb : ndarray, shape (B, D)
        B = batch_size except perhaps the last batch. With ``shuffle=False`` and no
        binarization this is a view of ``x``.
    yb : ndarray, shape (B, ...)
        Only when ``y`` is given.
    """
    if not isinstance(x, np.ndarray):
        raise InputTypeError(f"x must be a numpy array of shape (N, D), got {type(x).__name__}")
    if x.ndim != 2:
        raise ValidationError(f"x must be 2-D of shape (N, D), got shape {x.shape}")
    n = x.shape[0]
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValidationError(
            f"batch_size must be a positive int, got {batch_size!r} "
            f"({type(batch_size).__name__})"
        )
    batch_size = int(batch_size)
    if not 1 <= batch_size <= n:
        raise ValidationError(
            f"batch_size must be between 1 and the number of rows N={n}, got {batch_size}"
        )
    if binarize not in _BINARIZE_MODES:
        raise ValidationError(f"binarize must be one of {_BINARIZE_MODES}, got {binarize!r}")
    if dequantize not in (True, False):
        raise InputTypeError(f"dequantize must be True or False, got {dequantize!r}")
    if dequantize and binarize is not None:
        raise ValidationError(f"dequantize and binarize={binarize!r} exclude each other: dequantized "
                              "pixels are continuous, binarized ones are 0 or 1")
    if (shuffle or binarize == "dynamic" or dequantize) and rng is None:
        need = "shuffle=True" if shuffle else ('binarize="dynamic"' if binarize else "dequantize=True")
        raise ValidationError(
            f"rng is required with {need}: pass rng=np.random.default_rng(seed), got None"
        )
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise InputTypeError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}"
        )
    if binarize is not None:
        # Check the range once for the whole array instead of once per batch.
        _check_probabilities(x)
    if dequantize:
        _check_8bit(x)
    if y is not None:
        if not isinstance(y, np.ndarray):
            raise InputTypeError(f"y must be a numpy array, got {type(y).__name__}")
        if y.ndim == 0 or y.shape[0] != n:
            raise ValidationError(
                f"y must have one entry per row of x (N={n}), got shape {y.shape}"
            )
    return _batches(x, y, batch_size, rng, shuffle, drop_last, "dequantize" if dequantize else binarize)


def _batches(x, y, batch_size, rng, shuffle, drop_last, mode) -> Iterator:
    n = x.shape[0]
    order = rng.permutation(n) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            index = slice(start, start + batch_size)
        else:
            index = order[start : start + batch_size]
        xb = x[index]
        xb = transform_batch(xb, mode, rng)
        if y is None:
            yield xb
        else:
            yield xb, y[index]


def transform_batch(xb, mode, rng):
    """A batch as the model sees it: drawn binary pixels (``"dynamic"``), thresholded at 0.5,
    dequantized 8-bit levels, or as is (None)."""
    if mode == "dynamic":
        return _draw(xb, rng)
    if mode == "threshold":
        return (xb > 0.5).astype(xb.dtype)
    if mode == "dequantize":
        return _spread(np.rint(xb * 255), rng)
    return xb
