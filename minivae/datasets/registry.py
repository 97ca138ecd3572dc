"""The data sets minivae knows, where their files live on disk and on the web.

:data:`DATASETS` maps a name to a plain dict (so tests can add one): its folder below the data
root, its file format, its mirrors and, per split, the number of examples and every file with
its SHA-256. :func:`resolve_root` decides the data root (an argument, else ``$MINIVAE_DATA``,
else ``./data``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import InputTypeError, ValidationError

__all__ = ["DATASETS", "ENV_VAR", "N_PIXELS", "Dataset", "resolve_root", "spec_of", "split_spec_of", "PathLike"]

PathLike = Union[str, "os.PathLike[str]"]

#: Name of the environment variable that points at a data root.
ENV_VAR = "MINIVAE_DATA"

#: Number of pixels in one flattened 28x28 image.
N_PIXELS = 784

_MNIST_MIRRORS = (
    # The S3 mirror comes first: the original site has answered with HTTP 403 or a
    # login prompt for long stretches since 2023, and trying it first would only add a
    # failed request to every download.
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def _idx_splits(sha: dict[str, str], n_train: int = 60000, n_test: int = 10000) -> dict:
    """Build the ``"splits"`` entry shared by the two IDX data sets (same file names)."""

    def one(prefix: str, n: int) -> dict:
        images = f"{prefix}-images-idx3-ubyte.gz"
        labels = f"{prefix}-labels-idx1-ubyte.gz"
        return {
            "n": n,
            "files": {
                "images": {"names": (images,), "remote": images, "sha256": sha[images]},
                "labels": {"names": (labels,), "remote": labels, "sha256": sha[labels]},
            },
        }

    return {"train": one("train", n_train), "test": one("t10k", n_test)}


def _amat_split(stem: str, n: int, content: str) -> dict:
    """Build one split entry of binarized MNIST."""
    return {
        "n": n,
        "files": {
            "rows": {
                # The shared copies are gzip files; a plain download is saved as .amat.
                "names": (f"{stem}.amat.gz", f"{stem}.amat"),
                "remote": f"{stem}.amat",
                # The bytes of an .amat file depend on who wrote it (the shared .gz copies
                # were regenerated, Larochelle's originals are uncompressed text), so no byte
                # checksum is fixed. The content is checked instead, see "content_sha256".
                "sha256": None,
                "content_sha256": content,
            }
        },
    }


#: The registry of known data sets: name -> spec (plain dicts so tests can patch them).
#:
#: Each spec has
#:
#: ``"folder"``
#:     Sub-folder of the data root holding the files.
#: ``"format"``
#:     ``"idx"`` (an ``"images"`` and a ``"labels"`` file per split) or ``"amat"`` (one
#:     ``"rows"`` file per split).
#: ``"mirrors"``
#:     Base URLs tried in order; a file's URL is ``mirror + remote``.
#: ``"splits"``
#:     split name -> ``{"n": number of examples, "files": role -> file spec}`` where a
#:     file spec has ``"names"`` (local file names accepted, first preferred), ``"remote"``
#:     (file name on the mirrors, also the local name a download is saved under),
#:     ``"sha256"`` (of the file's bytes, or None) and optionally ``"content_sha256"`` (see
#:     :func:`content_sha256`).
DATASETS: dict[str, dict] = {
    "mnist": {
        "folder": "mnist",
        "format": "idx",
        "mirrors": _MNIST_MIRRORS,
        # SHA-256 of the official .gz files (whose MD5 sums match the published ones).
        "splits": _idx_splits(
            {
                "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            }
        ),
    },
    "fashion-mnist": {
        "folder": "fashion-mnist",
        "format": "idx",
        "mirrors": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "splits": _idx_splits(
            {
                "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            }
        ),
    },
    "sprites": {
        # drawn by minivae.datasets.sprites from five known factors, cached, never downloaded
        "folder": "sprites",
        "format": "generated",
        "shape": (32, 32),
        "splits": {"train": {}, "test": {}, "all": {}},
    },
    "binarized-mnist": {
        "folder": "binarized-mnist",
        "format": "amat",
        "mirrors": ("http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",),
        # content_sha256 = SHA-256 of np.packbits(x).tobytes(), x the parsed (N, 784) uint8
        # 0/1 array in file order. It pins the values and the row order whatever the text
        # layout or compression, computed once from the verified copies described in the
        # data README (identical element for element in two independent sources).
        "splits": {
            "train": _amat_split(
                "binarized_mnist_train",
                50000,
                "727146c35424b019f3e350e1e69faa05644a0abaf787e3f4e1a9632220a13906",
            ),
            "valid": _amat_split(
                "binarized_mnist_valid",
                10000,
                "a256ac44ae26be720fad8616a05ed6ecfd1619930d9a208379bb2a4405df5b6d",
            ),
            "test": _amat_split(
                "binarized_mnist_test",
                10000,
                "9fcd8da6f0fdf09b2ba30fe63a0bb784042a0de82563172530229b983e294ff2",
            ),
        },
    },
}


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """One split of a data set, flattened and scaled to [0, 1].

    Attributes
    ----------
    x : ndarray, shape (N, 784)
        Pixels in [0, 1], floating dtype. Grey levels are ``pixel / 255``; binarized MNIST
        holds exactly 0 and 1.
    y : ndarray of int64, shape (N,), or None
        Class labels 0..9, or None for data sets without labels (binarized MNIST).
    name : str
        Registry name, e.g. ``"mnist"``.
    split : str
        Split name, e.g. ``"train"``.
    shape : (int, int)
        Height and width of one image (the rows of ``x`` are images flattened row by row).
    factors : SpriteData or None
        For a data set generated from known factors (``"sprites"``): the factor values and
        their grid indices of every row (:class:`minivae.datasets.sprites.SpriteData`), which
        the disentanglement metrics read; None otherwise.
    """

    x: np.ndarray
    y: Optional[np.ndarray]
    name: str
    split: str
    shape: tuple = (28, 28)
    factors: Optional[object] = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __repr__(self) -> str:
        # The default repr would print pixel arrays; shapes are what one wants to see.
        y = "None" if self.y is None else f"{self.y.shape} {self.y.dtype}"
        factors = "" if self.factors is None else f", factors={tuple(self.factors.names)}"
        return (
            f"Dataset(name={self.name!r}, split={self.split!r}, "
            f"x={self.x.shape} {self.x.dtype}, y={y}{factors})"
        )


# --------------------------------------------------------------------------------------
# Where the files are


def resolve_root(root: Optional[PathLike] = None) -> Path:
    """Return the data root folder.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Explicit folder. Wins over everything else.

    Returns
    -------
    pathlib.Path
        Absolute path: ``root`` if given, else the folder named by the environment
        variable ``MINIVAE_DATA`` if set and non-empty, else ``./data`` below the current
        directory. The folder need not exist.
    """
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise InputTypeError(
                f"root must be a str or os.PathLike folder path, got {type(root).__name__}"
            )
        chosen = Path(root)
    else:
        env = os.environ.get(ENV_VAR, "")
        # An empty variable is treated as unset: "MINIVAE_DATA= cmd" is a common way to
        # switch it off, and Path("") would silently mean the current directory.
        chosen = Path(env) if env else Path("data")
    # Absolute, so that error messages show exactly where files are expected even if the
    # current directory changes later.
    return chosen.expanduser().absolute()


def spec_of(name: str) -> dict:
    if not isinstance(name, str) or name not in DATASETS:
        raise ValidationError(
            f"name must be one of {sorted(DATASETS)}, got {name!r}"
        )
    return DATASETS[name]


def split_spec_of(name: str, split: str) -> dict:
    splits = spec_of(name)["splits"]
    if not isinstance(split, str) or split not in splits:
        raise ValidationError(
            f"split of data set {name!r} must be one of {list(splits)}, got {split!r}"
        )
    return splits[split]
