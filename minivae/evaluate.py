"""Evaluating a trained model on a data set.

Every number here is in nats per example, averaged over the data set, and says which bound it
is: :func:`elbo` is the single-sample estimate of the negative ELBO (what the training loss
reports), with its reconstruction and KL parts.
"""
from __future__ import annotations

import numpy as np

from .validation import check_model, check_positive_int, check_rng

__all__ = ["elbo"]


def elbo(model, x, seed=0, batch_size=1000, validate=True):
    """Single-sample negative ELBO over a data set, with reconstruction and KL apart.

    ELBO(x) = E_q(z|x) log p(x | z) - KL(q(z | x) || p(z))  (lectures 001-004), with the
    expectation estimated by one sample of z (N = 1 in lecture 003's Monte Carlo estimate) and the
    KL in closed form.

    For each example one z is drawn from q(z | x) with noise from ``numpy.random.default_rng(seed)``
    (a fixed seed makes successive evaluations comparable), and -log p(x | z) + KL(q || p) is
    averaged over all rows. With beta != 1 the ``loss`` entry is the beta-weighted training
    objective while ``nelbo`` is always recon + KL, the actual bound.

    Returns
    -------
    dict: ``nelbo``, ``loss``, ``recon``, ``kl`` (floats, nats per example) and ``n``.
    """
    check_model(model)
    if validate:
        x = model.check_x(x)
    batch_size = check_positive_int(batch_size, "batch_size")
    rng = check_rng(seed, "seed")
    # A model whose training objective differs from its bound (the relaxed Gumbel-softmax loss
    # of the categorical VAE) evaluates the bound itself through ``evaluation_loss``.
    loss_fn = getattr(model, "evaluation_loss", model.forward_loss)
    totals = {"loss": 0.0, "recon": 0.0, "kl": 0.0}
    n = x.shape[0]
    for start in range(0, n, batch_size):
        xb = x[start:start + batch_size]
        eps = model.sample_noise(len(xb), rng) if model.noise_dim else None
        stats = loss_fn(xb, eps)
        for k in totals:
            totals[k] += stats[k] * len(xb)
    out = {k: v / n for k, v in totals.items()}
    out["nelbo"] = out["recon"] + out["kl"]
    out["n"] = n
    return out
