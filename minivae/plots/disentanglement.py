"""Pictures of the beta-VAE (lecture 001): latent traversals, the rate-distortion curve across
beta, and each disentanglement metric against beta with the seeds' spread."""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..errors import ValidationError
from ..evaluate import active_units
from ..kl import kl_diag_normal
from ..models import VAE, check_model
from ..runtime.validation import check_array, check_bool, check_image_shape
from .base import _one_image, _row_of_axes, square_shape, tile

__all__ = ["traverse", "traversal_figure", "rate_distortion_figure", "sweep_figure"]


# --------------------------------------------------------------------------------------------
# Latent traversals (lecture 001's beta-VAE): does one code move one factor?
# --------------------------------------------------------------------------------------------
def traverse(model, image, offsets=None, kl_data=None):
    """Decode the posterior mean of one image with one latent code moved at a time.

    With mu = E_q[z | x] the posterior mean of ``image``, row j holds d(mu + a e_j) for every
    a in ``offsets``: code j varied around the image's own code while the others stay put.
    A disentangled code (lecture 001's beta-VAE, beta > 1) changes one factor of the picture
    along its row; an unused code (KL near 0) changes nothing.

    Parameters
    ----------
    model : VAE
    image : (D,) or (1, D) array, one image
    offsets : 1-D array, default ``linspace(-2.5, 2.5, 9)``
        Steps a added to one code, in units of the N(0, 1) prior's standard deviation.
    kl_data : (n, D) array, optional
        Data over which each code's KL is averaged (minivae.evaluate.active_units); by default
        the KL of this one image's posterior, 1/2 (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2).

    Returns
    -------
    images : ndarray, shape (d, len(offsets), D)
    kl : ndarray, shape (d,), nats, of each code
    mu : ndarray, shape (d,), the image's posterior mean
    """
    model = check_model(model)
    if not isinstance(model, VAE):
        raise ValidationError(f"model: a latent traversal needs a VAE (a posterior mean and a KL per "
                              f"code), got {type(model).__name__}")
    flat = _one_image(image, "image", model)
    if offsets is None:
        offsets = np.linspace(-2.5, 2.5, 9)
    offsets = check_array(offsets, "offsets").astype(np.float64).ravel()
    if offsets.size == 0 or not np.all(np.isfinite(offsets)):
        raise ValidationError(f"offsets: expected at least one finite step, got {offsets.tolist()}")
    mu, log_var = model.encode(flat[None])
    mu64, lv64 = mu.astype(np.float64), log_var.astype(np.float64)
    if kl_data is None:
        kl = kl_diag_normal(mu64.reshape(-1, 1), lv64.reshape(-1, 1))
    else:
        kl = active_units(model, kl_data)["kl_per_dim"]
    d, k = model.latent_dim, offsets.size
    codes = np.repeat(mu64, d * k, axis=0).reshape(d, k, d)
    codes[np.arange(d), :, np.arange(d)] += offsets          # row j moves code j only
    out = model.decode(codes.reshape(d * k, d).astype(model.dtype))
    return out.reshape(d, k, -1), np.asarray(kl, dtype=np.float64).ravel(), mu64[0]


def traversal_figure(model, image, offsets=None, kl_data=None, sort=True, shape=None,
                     title=None, size=0.8):
    """The grid of :func:`traverse`: one row per latent code, labelled with its KL.

    Rows are sorted by KL, largest first (``sort=False`` keeps the codes' order); columns are
    the offsets a added to the code, written under them. The codes the model uses (large KL)
    come first; those whose KL is near 0 are switched off and their rows stay constant.
    ``kl_data`` as in :func:`traverse` (the row labels say which KL they show).
    ``shape``: one image's (H, W), by default the square of the model's input width.
    """
    images, kl, mu = traverse(model, image, offsets, kl_data)
    offsets = np.linspace(-2.5, 2.5, 9) if offsets is None else np.ravel(np.asarray(offsets, dtype=np.float64))
    shape = square_shape(model.input_dim) if shape is None else check_image_shape(shape)
    sort = check_bool(sort, "sort")
    order = np.argsort(-kl, kind="stable") if sort else np.arange(len(kl))
    d, k, _ = images.shape
    pad = 1
    canvas = tile(np.clip(images[order], 0, 1).reshape(d * k, -1), nrow=k, shape=shape, pad=pad)
    h, w = shape
    fig = Figure(figsize=(size * k + 1.6, size * d + 1.0))
    ax = fig.add_axes((1.4 / fig.get_figwidth(), 0.55 / fig.get_figheight(),
                       1 - 1.6 / fig.get_figwidth(), 1 - 1.0 / fig.get_figheight()))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(pad + np.arange(d) * (h + pad) + h / 2 - 0.5)
    which = "KL" if kl_data is None else "mean KL"
    ax.set_yticklabels([f"z{j}  {which} {kl[j]:.2f}" for j in order], fontsize=8)
    ax.set_xticks(pad + np.arange(k) * (w + pad) + w / 2 - 0.5)
    ax.set_xticklabels([f"{a:+.3g}" for a in offsets], fontsize=8)
    ax.set_xlabel("offset added to the code (prior standard deviations)", fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title or "latent traversals: one code moved at a time around the image's posterior mean",
                 fontsize=9)
    return fig


# --------------------------------------------------------------------------------------------
# A sweep over beta: one dict per run, with at least "beta" and the numbers drawn
# --------------------------------------------------------------------------------------------
def _runs_by_beta(runs, keys):
    if not isinstance(runs, (list, tuple)) or not runs:
        raise ValidationError(f"runs: expected a non-empty list of dicts, one per run, got {type(runs).__name__}")
    for i, r in enumerate(runs):
        missing = [k for k in ("beta", *keys) if not isinstance(r, dict) or k not in r]
        if missing:
            raise ValidationError(f"runs[{i}]: expected the keys {['beta', *keys]}, missing {missing}")
    betas = sorted({float(r["beta"]) for r in runs})
    return betas, {b: [r for r in runs if float(r["beta"]) == b] for b in betas}


def _beta_colours(betas):
    cmap = colormaps["viridis"]
    return {b: cmap(i / max(1, len(betas) - 1)) for i, b in enumerate(betas)}


def rate_distortion_figure(runs, rate="kl", distortion="recon", title=None, size=4.5):
    """Rate (the KL, nats) against distortion (the reconstruction term -E_q log p(x|z), nats), one
    point per run coloured by beta, the per-beta medians joined.

    The beta-VAE objective is distortion + beta * rate: each beta picks the point of the curve
    where its slope is -beta (lecture 001's Lagrangian), so a larger beta buys a lower rate with
    a higher distortion.
    """
    betas, groups = _runs_by_beta(runs, (rate, distortion))
    colours = _beta_colours(betas)
    fig = Figure(figsize=(size * 1.25, size))
    ax = fig.add_subplot(1, 1, 1)
    med = []
    for b in betas:
        r = np.array([[g[rate], g[distortion]] for g in groups[b]], dtype=np.float64)
        ax.scatter(r[:, 0], r[:, 1], color=colours[b], s=22, label=f"beta = {b:g}", zorder=3)
        med.append(np.median(r, axis=0))
    med = np.array(med)
    ax.plot(med[:, 0], med[:, 1], color="grey", lw=1, zorder=2, label="medians over seeds")
    ax.set_xlabel(f"rate: KL(q(z|x) || p(z)), nats per example ({rate})")
    ax.set_ylabel(f"distortion: -E log p(x|z), nats per example ({distortion})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "rate against distortion across beta (held-out data)", fontsize=10)
    fig.tight_layout()
    return fig


def sweep_figure(runs, metrics, labels=None, chance=None, title=None, size=3.6):
    """Each metric against beta: every seed's value as a dot, the median over seeds as a line.

    Parameters
    ----------
    runs : list of dict, each with "beta" and every key of ``metrics``
    metrics : sequence of str
    labels : sequence of str, optional, the axis label of each metric
    chance : dict, optional, metric -> a level drawn as a dashed line (a metric's chance level)
    """
    metrics = list(metrics)
    betas, groups = _runs_by_beta(runs, metrics)
    labels = metrics if labels is None else list(labels)
    if len(labels) != len(metrics):
        raise ValidationError(f"labels: expected one per metric ({len(metrics)}), got {len(labels)}")
    fig, axes = _row_of_axes(len(metrics), size, size * 0.85)
    for ax, key, label in zip(axes, metrics, labels):
        for b in betas:
            v = np.array([g[key] for g in groups[b]], dtype=np.float64)
            ax.scatter(np.full(len(v), b), v, color="C0", s=16, alpha=0.7, zorder=3)
        ax.plot(betas, [np.median([g[key] for g in groups[b]]) for b in betas], color="C1", lw=1.5,
                marker="_", ms=14, label="median over seeds", zorder=2)
        if chance and key in chance:
            ax.axhline(chance[key], color="grey", ls="--", lw=1, label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xticks(betas)
        ax.set_xticklabels([f"{b:g}" for b in betas])
        ax.set_xlabel("beta")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
