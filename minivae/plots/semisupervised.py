"""Pictures of the semi-supervised VAE (M2, M1+M2: lecture 003, item 24): conditional
generation one class per row, the paper's analogies (one style, every class) and the confusion
matrix."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..errors import ValidationError
from ..models import check_model
from ..runtime.validation import check_positive_int, check_rng
from .base import tile

__all__ = ["class_conditional_figure", "analogies_figure", "confusion_figure"]


def _check_m2(model):
    model = check_model(model)
    if not hasattr(model, "decode") or getattr(model, "kind", None) not in ("m2", "m1m2"):
        raise ValidationError(f"model: expected a semi-supervised VAE (m2 or m1m2), got {model.kind}")
    return model


def class_conditional_figure(model, n=10, rng=0, shape=(28, 28), size=0.9, title=None):
    """One row per class y, ``n`` columns: E[x | y, z] with the columns sharing their z ~ N(0, I)
    (so a column shows one style written as every class)."""
    model = _check_m2(model)
    n = check_positive_int(n, "n")
    rng = check_rng(rng)
    K = model.n_classes
    z = rng.standard_normal((n, model.latent_dim)).astype(model.dtype)
    images = model.decode(np.tile(z, (K, 1)), np.repeat(np.arange(K), n))
    fig = Figure(figsize=(size * n + 0.8, size * K + 0.6))
    ax = fig.add_axes((0.08, 0.04, 0.92, 0.9))
    ax.imshow(tile(np.clip(images, 0, 1), n, shape, pad=1), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    H = shape[0] + 1
    ax.set_yticks([H * k + H / 2 - 1 for k in range(K)], [f"y={k}" for k in range(K)], fontsize=8)
    ax.set_xticks([])
    ax.set_xlabel("z ~ N(0, I), one per column", fontsize=8)
    fig.suptitle(title or "p(x | y, z): one row per class y, the columns share z", fontsize=10)
    return fig


def analogies_figure(model, x, shape=(28, 28), size=0.9, title=None):
    """The paper's analogies: the first column holds test images x; each row decodes the style
    z = E[z | x, y_hat(x)] (y_hat the classifier's class) as every class y in the columns after."""
    model = _check_m2(model)
    x = model.check_x(x)
    K, n = model.n_classes, len(x)
    z = model.embed(x)
    decoded = model.decode(np.repeat(z, K, axis=0), np.tile(np.arange(K), n)).reshape(n, K, -1)
    grid = np.concatenate([x[:, None, :], np.clip(decoded, 0, 1)], axis=1).reshape(n * (K + 1), -1)
    fig = Figure(figsize=(size * (K + 1), size * n + 0.6))
    ax = fig.add_axes((0, 0.08, 1, 0.84))
    ax.imshow(tile(grid, K + 1, shape), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    W = shape[1] + 1
    ax.set_xticks([W * c + W / 2 - 1 for c in range(K + 1)], ["x"] + [f"y={k}" for k in range(K)], fontsize=8)
    ax.set_yticks([])
    fig.suptitle(title or "style transfer: z inferred from the test image x (left), decoded as each class y",
                 fontsize=10)
    return fig


def confusion_figure(matrix, title=None, size=4.5):
    """A confusion matrix (rows: true class, columns: predicted) as a heat map with the counts."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValidationError(f"matrix: expected a square (K, K) array of counts, got shape {matrix.shape}")
    K = matrix.shape[0]
    fig = Figure(figsize=(size, size))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(matrix, cmap="Blues")
    for i in range(K):
        for j in range(K):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=6,
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set_xticks(range(K))
    ax.set_yticks(range(K))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    err = 1 - np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(title or f"confusion matrix (test error {100 * err:.2f}%)", fontsize=10)
    return fig
