"""Semi-supervised data: a balanced set of labelled examples drawn by a seed, the rest
unlabelled (label -1), and mini-batches that mix the two in a fixed proportion."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..errors import InputTypeError, ValidationError
from .batching import transform_batch
from .transforms import _check_8bit, _check_probabilities

__all__ = ["choose_labels", "semi_supervised_batches", "UNLABELLED"]

#: the label of an example whose class is hidden from the model
UNLABELLED = -1


def choose_labels(y, n_labels, seed=0, n_classes=10):
    """Keep ``n_labels`` labels, ``n_labels / n_classes`` of each class, chosen by ``seed``;
    hide the others (set them to -1).

    Parameters
    ----------
    y : (N,) int array of class labels 0..n_classes-1 (None: a data set without labels).
    n_labels : int, a multiple of n_classes, at most the number of examples of the rarest class
        times n_classes.
    seed : int
    n_classes : int

    Returns
    -------
    (N,) int64: y where kept, -1 elsewhere.
    """
    if y is None:
        raise ValidationError("labels: this data set has no labels, so it cannot train a semi-supervised "
                              "model; use mnist or fashion-mnist")
    if not isinstance(y, np.ndarray) or y.ndim != 1:
        raise InputTypeError(f"y: expected a 1-D integer array of labels, got {type(y).__name__}"
                             f"{'' if not isinstance(y, np.ndarray) else f' of shape {y.shape}'}")
    if y.dtype.kind not in "iu":
        raise InputTypeError(f"y: expected integer class labels, got dtype {y.dtype}")
    if isinstance(n_labels, bool) or not isinstance(n_labels, (int, np.integer)) or n_labels < 1:
        raise ValidationError(f"labels: expected a positive number of labelled examples, got {n_labels!r}")
    n_labels = int(n_labels)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValidationError(f"y: expected labels 0..{n_classes - 1}, got values in [{y.min()}, {y.max()}]")
    if n_labels > len(y):
        raise ValidationError(f"labels: expected at most {len(y)} (the number of training examples), got {n_labels}")
    if n_labels % n_classes:
        raise ValidationError(f"labels: expected a multiple of the {n_classes} classes (a balanced draw), "
                              f"got {n_labels}")
    per_class = n_labels // n_classes
    counts = np.bincount(y, minlength=n_classes)
    if counts.min() < per_class:
        raise ValidationError(f"labels: {per_class} per class needs that many examples of every class, but "
                              f"class {int(np.argmin(counts))} has {int(counts.min())}")
    rng = np.random.default_rng(seed)
    out = np.full(len(y), UNLABELLED, dtype=np.int64)
    for k in range(n_classes):              # a loop over the classes, not the examples
        keep = rng.choice(np.flatnonzero(y == k), size=per_class, replace=False)
        out[keep] = k
    return out


def semi_supervised_batches(x, y, batch_size, labelled_per_batch, rng, binarize=None,
                            dequantize=False) -> Iterator:
    """One epoch of mini-batches ``(xb, yb)`` that mix labelled and unlabelled rows.

    Every batch holds ``labelled_per_batch`` labelled rows (labelled examples are drawn from
    successive permutations of the labelled set, so each is seen equally often) followed by
    ``batch_size - labelled_per_batch`` unlabelled rows; the epoch is one shuffled pass over the
    unlabelled examples (the last batch may have fewer unlabelled rows). Without unlabelled
    examples an epoch is one shuffled pass over the labelled ones in batches of ``batch_size``.
    ``binarize`` / ``dequantize`` as in :func:`minivae.datasets.batches`.
    """
    if binarize not in (None, "dynamic", "threshold"):
        raise ValidationError(f"binarize must be one of (None, 'dynamic', 'threshold'), got {binarize!r}")
    if binarize is not None:
        _check_probabilities(x)
    if dequantize:
        _check_8bit(x)
    lab = np.flatnonzero(y >= 0)
    unl = np.flatnonzero(y < 0)
    if len(lab) == 0:
        raise ValidationError("labels: expected at least one labelled example, got none")
    if not 1 <= labelled_per_batch <= batch_size:
        raise ValidationError(f"labelled_batch: expected 1..batch_size ({batch_size}), got {labelled_per_batch}")
    if len(unl) and labelled_per_batch == batch_size:
        raise ValidationError(f"labelled_batch: leaves no room for unlabelled examples in a batch of "
                              f"{batch_size}; expected less than batch_size")
    mode = "dequantize" if dequantize else binarize
    return _mixed(x, y, lab, unl, batch_size, labelled_per_batch, rng, mode)


def _mixed(x, y, lab, unl, batch_size, n_l, rng, mode):
    if len(unl) == 0:
        order = rng.permutation(lab)
        index_batches = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    else:
        n_u = batch_size - n_l
        order = rng.permutation(unl)
        n_batches = -(-len(order) // n_u)
        reps = -(-(n_batches * n_l) // len(lab))
        stream = np.concatenate([rng.permutation(lab) for _ in range(reps)])
        index_batches = [np.concatenate([stream[b * n_l:(b + 1) * n_l], order[b * n_u:(b + 1) * n_u]])
                         for b in range(n_batches)]
    for index in index_batches:
        xb = x[index]
        xb = transform_batch(xb, mode, rng)
        yield xb, y[index]
