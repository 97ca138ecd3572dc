"""One split of a data set as an array of flattened images in [0, 1]: :func:`load`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import DataFileError, ValidationError
from .download import fetch
from .registry import spec_of, split_spec_of
from .formats import _check_content, read_amat, read_idx
from .registry import N_PIXELS, Dataset, PathLike
from .sprites import load_sprites

__all__ = ["load"]

# --------------------------------------------------------------------------------------
# Loading


def load(
    name: str = "mnist",
    split: str = "train",
    root: Optional[PathLike] = None,
    download: bool = True,
    dtype=np.float32,
) -> Dataset:
    """Load one split of a data set as flattened images in [0, 1].

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "binarized-mnist", "sprites"}
        Data set, a key of :data:`DATASETS`. ``"sprites"`` is drawn from known factors by
        :mod:`minivae.datasets.sprites` (cached below the data root, never downloaded), and
        its ``factors`` hold every row's factor values.
    split : str
        ``"train"`` or ``"test"``; binarized MNIST also has ``"valid"``, sprites ``"all"``.
    root : str or os.PathLike, optional
        Data root, see :func:`resolve_root`.
    download : bool, default True
        Download missing files, see :func:`fetch`.
    dtype : floating dtype, default np.float32
        Dtype of ``x``.

    Returns
    -------
    Dataset
        ``x`` of shape (N, 784) and dtype ``dtype`` (grey levels ``pixel / 255``, or 0/1
        for binarized MNIST); ``y`` of shape (N,) int64 labels, or None.

    Raises
    ------
    ValidationError
        Unknown ``name``/``split`` (the message lists the choices) or non-float ``dtype``.
    DataFileError, DownloadError
        See :func:`fetch`, :func:`read_idx`, :func:`read_amat`; also when a file's shape
        or example count disagrees with the registry.
    """
    spec = spec_of(name)
    split_spec = split_spec_of(name, split)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValidationError(f"dtype must be a floating dtype, got {dtype!r}") from exc
    if dt.kind != "f":
        raise ValidationError(f"dtype must be a floating dtype such as float32, got {dt}")
    if spec["format"] == "generated":
        data = load_sprites(root, split)
        return Dataset(x=data.x.astype(dt), y=None, name=name, split=split, shape=spec["shape"], factors=data)
    paths = fetch(name, split, root=root, download=download)
    n = split_spec["n"]

    if spec["format"] == "amat":
        path = paths["rows"]
        rows = read_amat(path)
        _check_count(path, rows.shape[0], n)
        expected = split_spec["files"]["rows"].get("content_sha256")
        if expected:
            _check_content(path, rows, expected)
        return Dataset(x=rows.astype(dt), y=None, name=name, split=split)

    images = read_idx(paths["images"], ndim=3)
    labels = read_idx(paths["labels"], ndim=1)
    if images.shape[1:] != (28, 28):
        raise DataFileError(
            f"{paths['images']}: expected images of 28x28 pixels, got {images.shape[1:]}"
        )
    _check_count(paths["images"], images.shape[0], n)
    _check_count(paths["labels"], labels.shape[0], n)
    if labels.size and labels.max() > 9:
        raise DataFileError(
            f"{paths['labels']}: expected class labels 0..9, got a label {int(labels.max())}"
        )
    x = images.reshape(images.shape[0], N_PIXELS).astype(dt)
    x /= 255  # exact for 0 and 255, so x stays inside [0, 1]
    return Dataset(x=x, y=labels.astype(np.int64), name=name, split=split)


def _check_count(path: Path, got: int, expected: int) -> None:
    if got != expected:
        raise DataFileError(f"{path}: expected {expected} examples, got {got}")
