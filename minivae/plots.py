"""Figures: grids of images, and the pictures the lectures draw.

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot``, so it works
on a machine with no display and shows inline in a notebook; :func:`save` writes one to PNG
atomically. The command line and the notebooks draw with these same functions.
"""
from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.figure import Figure

from .checkpoint import atomic_write

__all__ = ["tile", "image_grid", "save"]


def tile(images, nrow=None, shape=(28, 28), pad=1, pad_value=1.0):
    """Arrange (N, H*W) images into one (rows*H + pads, cols*W + pads) array, row by row."""
    images = np.asarray(images, dtype=np.float64)
    n = images.shape[0]
    h, w = shape
    images = images.reshape(n, h, w)
    ncol = nrow if nrow is not None else int(math.ceil(math.sqrt(n)))
    nrows = int(math.ceil(n / ncol))
    out = np.full((nrows * (h + pad) + pad, ncol * (w + pad) + pad), pad_value)
    for i in range(n):
        r, c = divmod(i, ncol)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = images[i]
    return out


def image_grid(images, nrow=None, shape=(28, 28), title=None, size=4.0):
    """A figure showing (N, H*W) images with values in [0, 1] as a grey grid, ``nrow`` per row."""
    canvas = tile(images, nrow, shape)
    fig = Figure(figsize=(size, size * canvas.shape[0] / canvas.shape[1] + (0.3 if title else 0)))
    ax = fig.add_axes((0, 0, 1, 0.93 if title else 1))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def save(fig, path, dpi=100):
    """Write a figure to ``path`` as PNG, atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))
