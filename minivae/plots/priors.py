"""Pictures of the priors (lecture 001): the prior beside the aggregate posterior in a 2-D latent
space, a mixture prior's samples cluster by cluster, the VampPrior's pseudo-inputs."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..errors import ValidationError
from ..logspace import logmeanexp
from ..models import check_model
from ..priors.base import gaussian_components
from ..runtime.validation import check_positive_int, check_rng
from .base import _check_2d, _check_models, image_grid, tile

__all__ = ["prior_and_aggregate_figure", "cluster_samples_figure", "pseudo_inputs_figure"]


def prior_and_aggregate_figure(models, x, n_grid=80, limits=None, size=3.6, title=None):
    """For each model with a 2-D latent space: its prior p(z) (top) beside the aggregate
    posterior of the data, q(z) = (1/N) sum_n q(z | x_n) (bottom), as densities on a grid.

    Where the bottom panel has mass and the top one has none the prior's samples miss the
    codes the decoder was trained on (and the other way round: "holes" the decoder never saw).
    ``limits``: (low, high) of both axes, shared by every panel; by default (``None``) the
    range of all models' codes with a margin, or ``"each"`` for a range per model (a mixture
    prior's codes may spread far wider than a standard normal's).
    """
    items = _check_models(models)
    n_grid = check_positive_int(n_grid, "n_grid")
    codes = {}
    for name, model in items:
        _check_2d(model, "a prior-against-aggregate picture")
        codes[name] = model.encode(x)
    def around(mus):
        lo, hi = np.percentile(np.concatenate(mus), [0.5, 99.5])
        pad = 0.25 * (hi - lo) + 1.0
        return lo - pad, hi + pad

    shared = limits
    if limits is None:
        shared = around([mu for mu, _ in codes.values()])
    fig = Figure(figsize=(size * len(items), 2 * size + (0.4 if title else 0)))
    for j, (name, model) in enumerate(items):
        mu, lv = codes[name]
        lo, hi = around([mu]) if isinstance(limits, str) and limits == "each" else (float(shared[0]), float(shared[1]))
        axis = np.linspace(lo, hi, n_grid)
        zz = np.stack(np.meshgrid(axis, axis[::-1]), axis=-1).reshape(-1, 2)
        prior = np.exp(model.prior.log_prob(zz.astype(model.dtype), model.params).astype(np.float64))
        agg = np.exp(logmeanexp(gaussian_components(zz, mu.astype(np.float64), lv.astype(np.float64)), axis=-1))
        for i, (dens, what) in enumerate(((prior, "prior p(z)"), (agg, "aggregate posterior q(z)"))):
            ax = fig.add_subplot(2, len(items), i * len(items) + j + 1)
            im = ax.imshow(dens.reshape(n_grid, n_grid), extent=(lo, hi, lo, hi), cmap="viridis", aspect="equal")
            ax.set_title(f"{name}: {what}", fontsize=9)
            ax.set_xlabel("$z_1$")
            ax.set_ylabel("$z_2$")
            fig.colorbar(im, ax=ax, fraction=0.046).set_label("density", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()        # the colour bars' labels clear the next panels
    return fig


def cluster_samples_figure(model, n=10, rng=0, shape=(28, 28), size=0.9, title=None):
    """One row per cluster c of a mixture prior: decoded means of z ~ N(m_c, diag(exp(s_c)))."""
    model = check_model(model)
    if getattr(getattr(model, "prior", None), "name", None) != "mog":
        raise ValidationError("model: expected a VAE with a mixture prior (prior='mog')")
    n = check_positive_int(n, "n")
    rng = check_rng(rng)
    P, K = model.params, model.prior.components
    pi = np.exp(model.prior.log_weights(P))
    fig = Figure(figsize=(size * n + 1.2, size * K + (0.4 if title else 0)))
    for c in range(K):
        z = P["prior.means"][c] + np.exp(0.5 * P["prior.log_vars"][c]) * rng.standard_normal((n, model.latent_dim))
        images = np.clip(model.decode(z.astype(model.dtype)), 0, 1)
        ax = fig.add_subplot(K, 1, c + 1)
        ax.imshow(tile(images, n, shape), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"c={c}\n$\\pi$={pi[c]:.2f}", rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def pseudo_inputs_figure(model, n=None, shape=(28, 28), title=None, size=4.0):
    """The learned pseudo-inputs u_k of a VampPrior as images (clipped to [0, 1] for display)."""
    model = check_model(model)
    if getattr(getattr(model, "prior", None), "name", None) != "vamp":
        raise ValidationError("model: expected a VAE with a VampPrior (prior='vamp')")
    u = model.params["prior.pseudo_inputs"]
    u = u[: check_positive_int(n, "n")] if n is not None else u
    return image_grid(np.clip(u, 0, 1), shape=shape, size=size,
                      title=title or f"{len(u)} pseudo-inputs of the VampPrior")
