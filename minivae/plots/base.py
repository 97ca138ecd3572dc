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
from scipy.special import ndtri

from ..errors import ValidationError
from ..models import check_model
from ..runtime.files import atomic_write
from ..runtime.validation import (check_array, check_bool, check_finite_float, check_image_shape,
                         check_positive_int, check_rng)

__all__ = ["tile", "image_grid", "square_shape", "save", "image_panels", "reconstruction_figure", "embedding_figure", "samples_figure", "interpolate", "interpolation_figure", "latent_grid", "carpet_figure", "class_direction", "edit", "edit_figure", "inpainting_figure"]


def tile(images, nrow=None, shape=(28, 28), pad=1, pad_value=1.0):
    """Arrange (N, H*W) images into one (rows*H + pads, cols*W + pads) array, row by row."""
    images = check_array(images, "images").astype(np.float64, copy=False)
    h, w = check_image_shape(shape)
    if nrow is not None:
        nrow = check_positive_int(nrow, "nrow")
    if images.ndim != 2 or images.shape[1] != h * w:
        raise ValidationError(f"images: expected an (N, {h * w}) array of {h}x{w} images, one per row, "
                              f"got shape {images.shape}")
    n = images.shape[0]
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


def square_shape(n_pixels):
    """(H, W) of a square image of ``n_pixels`` pixels (784 -> (28, 28), 1024 -> (32, 32))."""
    n_pixels = check_positive_int(n_pixels, "n_pixels")
    side = math.isqrt(n_pixels)
    if side * side != n_pixels:
        raise ValidationError(f"n_pixels: expected the pixel count of a square image, got {n_pixels}")
    return side, side


def save(fig, path, dpi=100):
    """Write a figure to ``path`` as PNG, atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


# --------------------------------------------------------------------------------------------
# The pictures of lectures 000, 003 and 004: what a VAE learns, compared with an AE.
#
# Functions whose name ends in ``_figure`` return a Figure; the others return the arrays the
# figures draw, so a test (or a student) can check the numbers behind a picture.
# --------------------------------------------------------------------------------------------
def _check_models(models, name="models"):
    """Accept one model or a {title: model} dict; return a list of (title, model)."""
    if isinstance(models, dict):
        if not models:
            raise ValidationError(f"{name}: expected at least one model, got an empty dict")
        return list(models.items())
    if hasattr(models, "decode") and hasattr(models, "latent_dim"):
        return [(type(models).__name__, models)]
    raise ValidationError(f"{name}: expected a minivae model or a dict {{title: model}}, got {type(models).__name__}")


def _check_2d(model, what):
    if model.latent_dim != 2:
        raise ValidationError(f"model: {what} needs a 2-dimensional latent space, got latent_dim={model.latent_dim}")


def _row_of_axes(n, width=4.0, height=4.0):
    fig = Figure(figsize=(width * n, height))
    axes = [fig.add_subplot(1, n, i + 1) for i in range(n)]
    return fig, axes


def _show(ax, canvas, title=None):
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)


def image_panels(panels, nrow=8, shape=(28, 28), size=3.5, title=None):
    """Several image grids side by side: ``panels`` maps a panel title to (N, H*W) images in [0, 1]."""
    if not isinstance(panels, dict) or not panels:
        raise ValidationError(f"panels: expected a non-empty dict {{title: images}}, got {type(panels).__name__}")
    canvases = {name: tile(images, nrow, shape) for name, images in panels.items()}
    aspect = max(c.shape[0] / c.shape[1] for c in canvases.values())
    fig, axes = _row_of_axes(len(panels), size, size * aspect + 0.4)
    for ax, (name, canvas) in zip(axes, canvases.items()):
        _show(ax, canvas, name)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def reconstruction_figure(model, x, ncol=8, title=None, size=4.0, shape=(28, 28)):
    """Images and their reconstructions d(embed(x)) in alternating rows: ``ncol`` images, then
    the row of their reconstructions below them, and so on (``shape``: one image's (H, W)).

    Reconstructions are clipped to [0, 1] for display (a Gaussian decoder's mean may leave it).
    ``len(x)`` must be a multiple of ``ncol``.
    """
    model = check_model(model)
    ncol = check_positive_int(ncol, "ncol")
    x = model.check_x(x)
    if len(x) % ncol:
        raise ValidationError(f"x: expected a number of images that is a multiple of ncol={ncol}, got {len(x)}")
    rec = np.clip(model.reconstruct(x), 0, 1)
    rows = len(x) // ncol
    pairs = np.concatenate([x.reshape(rows, ncol, -1), rec.reshape(rows, ncol, -1)], axis=1)
    return image_grid(pairs.reshape(2 * len(x), -1), nrow=ncol, size=size, shape=shape,
                      title=title or "images (odd rows) and their reconstructions (even rows)")


def embedding_figure(models, x, labels, title=None, size=4.5, max_points=5000):
    """Scatter the 2-D embeddings z = e(x) of one or more models side by side, coloured by class.

    Lecture 000's testing stage embeds with the mean only, so each point is ``model.embed(x)``
    (the posterior mean of a VAE, the code of an AE).

    Parameters
    ----------
    models : model or {title: model}, each with latent_dim = 2
    x : (N, D) images;  labels : (N,) integer classes
    max_points : int, draw at most this many points (the first ones).
    """
    items = _check_models(models)
    labels = np.asarray(labels)
    if labels.shape != (len(x),):
        raise ValidationError(f"labels: expected shape ({len(x)},) to match x, got {labels.shape}")
    n = min(len(x), check_positive_int(max_points, "max_points"))
    fig, axes = _row_of_axes(len(items), size, size)
    for ax, (name, model) in zip(axes, items):
        _check_2d(model, "an embedding scatter")
        z = model.embed(x[:n])
        sc = ax.scatter(z[:, 0], z[:, 1], c=labels[:n], cmap="tab10", vmin=-0.5, vmax=9.5, s=3, alpha=0.7)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
    cbar = fig.colorbar(sc, ax=axes, ticks=range(10), fraction=0.03)
    cbar.set_label("class")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def samples_figure(models, n=64, rng=0, mean=True, size=3.5, title=None):
    """Decoded samples from the prior, x = d(z) with z ~ N(0, I), one panel per model.

    Lecture 000: "1. z ~ N(0, I); 2. x = d(z)". Lecture 003 shows panels for 2-, 5-, 10- and
    20-dimensional latent spaces; pass ``{"d = 2": m2, "d = 5": m5, ...}``. Every panel uses
    the same seed, so the panels differ only by the model.
    """
    items = _check_models(models)
    n = check_positive_int(n, "n")
    check_rng(rng)
    mean = check_bool(mean, "mean")
    panels = {}
    for name, model in items:
        gen = check_rng(rng)      # an int seed: a fresh generator per panel, the same draws in each
        panels[name] = model.sample(n, gen, mean=mean)
    return image_panels(panels, nrow=int(math.ceil(math.sqrt(n))), size=size, title=title)


def interpolate(model, x_a, x_b, steps=10):
    """Decode the segment between the embeddings of two images.

    z_t = (1 - t) e(x_a) + t e(x_b) for t = 0, 1/(steps-1), ..., 1, then x_t = d(z_t)
    (lecture 000: "segment connecting e(x_left) and e(x_right)").

    Parameters
    ----------
    x_a, x_b : (D,) or (1, D) images
    steps : int >= 2

    Returns
    -------
    (steps, D) decoded images.
    """
    model = check_model(model)
    steps = check_positive_int(steps, "steps")
    if steps < 2:
        raise ValidationError(f"steps: expected at least 2 points on the segment, got {steps}")
    x = np.stack([_one_image(x_a, "x_a", model), _one_image(x_b, "x_b", model)])
    za, zb = model.embed(x)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return model.decode(((1 - t) * za + t * zb).astype(model.dtype))


def _one_image(image, name, model):
    """One image of ``model.input_dim`` pixels, (D,) or (1, D), as a flat float array."""
    try:
        flat = np.ravel(image)      # the dtype is left to model.embed, which refuses integer pixels
    except ValueError:              # ragged nested lists
        flat = None
    if flat is None or flat.size != model.input_dim:
        raise ValidationError(f"{name}: expected one image of {model.input_dim} pixels, shape "
                              f"({model.input_dim},) or (1, {model.input_dim}), got "
                              + (f"shape {np.shape(image)}" if flat is not None else type(image).__name__))
    return flat


def interpolation_figure(models, x_a, x_b, steps=10, size=0.9, title=None):
    """One row per model: the decoded segment between e(x_a) and e(x_b), framed by the two
    originals (left and right columns)."""
    items = _check_models(models)
    rows = []
    for _, model in items:
        rows.append(np.vstack([np.ravel(x_a)[None], interpolate(model, x_a, x_b, steps), np.ravel(x_b)[None]]))
    ncol = steps + 2
    row_height = size + 0.3                       # room for each row's title
    top = 0.5 if title else 0.1
    fig = Figure(figsize=(size * ncol, row_height * len(items) + top))
    for i, ((name, _), row) in enumerate(zip(items, rows)):
        bottom = (len(items) - 1 - i) * row_height / fig.get_figheight()
        ax = fig.add_axes((0, bottom, 1, size / fig.get_figheight()))
        _show(ax, tile(row, nrow=ncol))
        ax.set_title(f"{name}: originals at both ends", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def latent_grid(n=15, limits=None):
    """The points of the latent "carpet": an n x n grid over a 2-D latent space.

    By default the grid is laid out in probability space, at the quantiles 0.05, ..., 0.95 of
    N(0, 1) along each axis (as Kingma and Welling draw it), so every cell holds the same prior
    mass; an AE has no prior, so for it pass ``limits`` covering its embeddings: one pair
    ``(lo, hi)`` for both axes, or one pair per axis, ``((lo_1, hi_1), (lo_2, hi_2))``, so that
    the grid stays within the range of each coordinate.

    Returns
    -------
    (n * n, 2) codes, row by row from the top (z_2 largest) to the bottom, left to right.
    """
    n = check_positive_int(n, "n")
    axis1, axis2 = _grid_axes(n, limits)
    z1, z2 = np.meshgrid(axis1, axis2[::-1])
    return np.column_stack([z1.ravel(), z2.ravel()])


def _grid_axes(n, limits):
    """The n grid values of z_1 and of z_2 for :func:`latent_grid`."""
    if limits is None:
        axis = ndtri(np.linspace(0.05, 0.95, n))     # the standard normal's quantiles
        return axis, axis
    try:
        pair = len(limits) == 2
        per_axis = pair and all(np.ndim(v) == 1 for v in limits)
    except TypeError:
        pair = False
    if not pair:
        raise ValidationError(f"limits: expected a pair (lo, hi), got {limits!r}")
    axes = []
    for lim in (limits if per_axis else (limits, limits)):
        if len(lim) != 2:
            raise ValidationError(f"limits: expected a pair (lo, hi) per axis, got {limits!r}")
        lo, hi = (check_finite_float(v, "limits") for v in lim)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValidationError(f"limits: expected finite (lo, hi) with lo < hi, got {limits!r}")
        axes.append(np.linspace(lo, hi, n))
    return axes[0], axes[1]


def carpet_figure(model, n=15, limits=None, title=None, size=6.0, n_ticks=5):
    """Decode every point of :func:`latent_grid` and lay the images out where their codes are
    (lecture 000's embedding "carpet", x = d(z) over the plane), with ``n_ticks`` values of z_1
    and of z_2 marked on the axes."""
    _check_2d(model, "the latent carpet")
    n_ticks = check_positive_int(n_ticks, "n_ticks")
    images = model.decode(latent_grid(n, limits).astype(model.dtype))
    axis1, axis2 = _grid_axes(n, limits)
    fig = Figure(figsize=(size, size + (0.3 if title else 0)), layout="constrained")
    ax = fig.add_subplot()
    canvas = tile(images, nrow=n)
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    cells = np.unique(np.linspace(0, n - 1, min(n_ticks, n)).round().astype(int))
    step = (canvas.shape[1] - 1) / n                # tile: a 1-pixel pad before each cell
    centres = 1 + cells * step + (step - 1) / 2 - 0.5
    ax.set_xticks(centres, [f"{axis1[i]:.2g}" for i in cells], fontsize=8)
    ax.set_yticks(centres, [f"{axis2[::-1][i]:.2g}" for i in cells], fontsize=8)
    ax.set_xlabel("$z_1$"); ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def class_direction(model, x, labels, source, target):
    """The latent direction from class ``source`` to class ``target``: the difference of the
    mean embeddings, mean e(x | y = target) - mean e(x | y = source). Shape (d,)."""
    model = check_model(model)
    x = model.check_x(x)
    labels = np.asarray(labels)
    if labels.shape != (len(x),):
        raise ValidationError(f"labels: expected shape ({len(x)},) to match x, got {labels.shape}")
    for name, c in (("source", source), ("target", target)):
        if not np.any(labels == c):
            raise ValidationError(f"{name}: no example of class {c!r} in labels")
    z = model.embed(x)
    return z[labels == target].mean(axis=0) - z[labels == source].mean(axis=0)


def edit(model, x, direction, amounts):
    """Edit images by moving their codes: x'(a) = d(e(x) + a * direction) for each a in ``amounts``.

    Lecture 004 edits samples by moving in latent space: a direction (a coordinate axis, or the
    difference of two class means, :func:`class_direction`) changes one aspect of the decoded
    image while the rest of the code stays put.

    Returns
    -------
    (N, len(amounts), D) decoded images.
    """
    model = check_model(model)
    x = model.check_x(np.atleast_2d(x))
    direction = check_array(direction, "direction").astype(np.float64).ravel()
    if direction.shape != (model.latent_dim,):
        raise ValidationError(f"direction: expected shape ({model.latent_dim},) to match the latent space, "
                              f"got {direction.shape}")
    amounts = check_array(amounts, "amounts").astype(np.float64).ravel()
    if amounts.size == 0:
        raise ValidationError("amounts: expected at least one step along the direction, got none")
    z = model.embed(x)
    codes = z[:, None, :] + amounts[None, :, None] * direction[None, None, :]
    out = model.decode(codes.reshape(-1, model.latent_dim).astype(model.dtype))
    return out.reshape(len(x), len(amounts), -1)


def edit_figure(model, x, direction, amounts, title=None, size=0.9):
    """One row per image of :func:`edit`, the step ``a`` increasing to the right."""
    out = edit(model, x, direction, amounts)
    n, k, _ = out.shape
    fig = Figure(figsize=(size * k, size * n + 0.5))
    ax = fig.add_axes((0, 0, 1, 0.9))
    _show(ax, tile(out.reshape(n * k, -1), nrow=k))
    ax.set_title("moving along the direction: a = " + ", ".join(f"{a:.3g}" for a in np.ravel(amounts)), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def inpainting_figure(x, observed, completions, title=None, size=0.9):
    """Missing-data imputation: for each image, the original, the observed part (hidden pixels
    drawn in mid-grey), then the completions of :func:`minivae.inpaint.inpaint`.

    Parameters
    ----------
    x : (N, D);  observed : (D,) or (N, D) bool;  completions : (N, K, D)
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    completions = np.asarray(completions)
    if completions.ndim != 3 or completions.shape[0] != len(x) or completions.shape[2] != x.shape[1]:
        raise ValidationError(f"completions: expected shape ({len(x)}, K, {x.shape[1]}), got {completions.shape}")
    observed = np.asarray(observed)
    if observed.shape not in ((x.shape[1],), x.shape):
        raise ValidationError(f"observed: expected a mask of shape ({x.shape[1]},) or {x.shape} to match x, "
                              f"got {observed.shape}")
    keep = np.broadcast_to(observed.astype(bool), x.shape)
    shown = np.where(keep, x, 0.5)
    k = completions.shape[1]
    rows = np.concatenate([x[:, None], shown[:, None], completions], axis=1)
    fig = Figure(figsize=(size * (k + 2), size * len(x) + 0.5))
    ax = fig.add_axes((0, 0, 1, 0.9))
    _show(ax, tile(rows.reshape(-1, x.shape[1]), nrow=k + 2))
    ax.set_title("original | observed (grey = hidden) | different completions", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
