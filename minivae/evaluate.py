"""Evaluating a trained model on a data set: bounds, log-likelihood estimates, latent usage.

Every number here is in nats per example, averaged over the data set, and says which quantity
it is:

* :func:`elbo` -- the single-sample negative ELBO (what the training loss reports), with its
  reconstruction and KL parts;
* :func:`elbo_multi` -- the negative ELBO with L samples of z per example (lecture 003's Monte
  Carlo estimate, -KL + (1/L) sum_l log p(x | z_l), with the KL in closed form);
* :func:`importance_sampled_nll` -- the importance-sampled estimate of -log p(x) with K samples
  from q(z | x), the number papers report as "test NLL" (usually with K = 5000);
* :func:`active_units` -- how many latent dimensions the encoder uses, and the KL per dimension.

The three bounds are ordered in expectation: -log p(x) <= IS estimate (K) <= IS estimate (1)
= negative ELBO, and the IS estimate approaches -log p(x) as K grows.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import ValidationError
from .kl import kl_diag_normal, log_normal_diag
from .logspace import logmeanexp
from .models import VAE, check_model
from .priors.base import gaussian_components
from .runtime.validation import check_positive_float, check_positive_int, check_rng

__all__ = ["elbo", "elbo_multi", "importance_sampled_nll", "active_units", "aggregate_posterior_kl"]

#: rows (pairs of an example and a sample of z) decoded at once; bounds the memory of the
#: sampling estimators to a few arrays of CHUNK_ROWS x input_dim floats
CHUNK_ROWS = 2048


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


# ------------------------------------------------------------------------------------------------
# Sampling many z per example
# ------------------------------------------------------------------------------------------------
def _check_latent_model(model, what):
    # Every estimator here needs a Gaussian q(z | x), a prior p(z) and a decoder.
    if not isinstance(model, VAE):
        raise ValidationError(f"model: {what} needs a VAE (a model with an approximate posterior "
                              f"q(z | x)), got {type(model).__name__}")


def _posterior(model, x):
    """mu and log_var of q(z | x), both (n, d), as fresh arrays (x already validated)."""
    return model.encode(x, check=False)


def _sample_terms(model, x, k, rng, chunk_rows, prior_terms=True):
    """Draw k samples z ~ q(z | x) per example and yield the log-densities at them.

    Examples are taken in chunks so that at most ``chunk_rows`` (example, sample) pairs are
    decoded at once: many examples per chunk when k is small, one example and part of its k
    samples at a time when k is large. All k samples of a pair are drawn with the
    reparameterization z = mu + exp(log_var / 2) * eps.

    Yields
    ------
    (start, log_px_z, log_pz, log_qz, mu, log_var) per chunk of examples ``x[start:start + n]``;
    the first three arrays are (n, k) float64: log p(x | z_k), log p(z_k) and log q(z_k | x)
    (the last two None when ``prior_terms`` is False), and mu, log_var (n, d) are the
    parameters of q(z | x) the samples came from.
    """
    N, D = x.shape
    d = model.latent_dim
    per_chunk = max(1, chunk_rows // k)           # examples per chunk
    k_step = min(k, chunk_rows)                   # samples per decoder call
    P = model.params
    for start in range(0, N, per_chunk):
        xb = x[start:start + per_chunk]
        n = xb.shape[0]
        mu, log_var = _posterior(model, xb)
        std = np.exp(0.5 * log_var)
        log_px = np.empty((n, k))
        log_pz = np.empty((n, k)) if prior_terms else None
        log_qz = np.empty((n, k)) if prior_terms else None
        for k0 in range(0, k, k_step):
            kk = min(k_step, k - k0)
            eps = rng.standard_normal((n, kk, d), dtype=model.dtype)
            z = eps * std[:, None, :]
            z += mu[:, None, :]
            if prior_terms:
                log_qz[:, k0:k0 + kk] = log_normal_diag(z, mu[:, None, :], log_var[:, None, :])
                log_pz[:, k0:k0 + kk] = model.prior.log_prob(z, P)
            out, _ = model.decoder.forward(P, z.reshape(n * kk, d), reuse=True)
            # each example's row, repeated for its kk samples (a view when n == 1)
            xr = np.broadcast_to(xb[:, None, :], (n, kk, D)).reshape(n * kk, D)
            nll = model.likelihood.nll(xr, out, P, reuse=True)
            np.negative(nll.reshape(n, kk), out=log_px[:, k0:k0 + kk])
        yield start, log_px, log_pz, log_qz, mu, log_var


def _prepare(model, x, validate, seed, chunk_rows, what):
    """The checks every sampling estimator starts with; returns x, the generator and chunk_rows."""
    _check_latent_model(model, what)
    if validate:
        x = model.check_x(x)
    return x, check_rng(seed, "seed"), check_positive_int(chunk_rows, "chunk_rows")


def _mean_and_stderr(values):
    n = len(values)
    mean = float(np.mean(values))
    stderr = float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return mean, stderr


def importance_sampled_nll(model, x, k=5000, seed=0, chunk_rows=CHUNK_ROWS, validate=True):
    """Importance-sampled estimate of -log p(x), per example, averaged over a data set.

    log p(x) = log E_q(z|x)[p(x, z) / q(z | x)] for any q that covers the posterior, so with
    z_1..z_K drawn from the encoder's q(z | x),

        log p(x) ~ log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x),

    a log-mean-exp of the log weights log p(x | z_k) + log p(z_k) - log q(z_k | x) (computed
    stably by :func:`minivae.logspace.logmeanexp`). By Jensen's inequality its expectation is a
    lower bound on log p(x) that rises with K and reaches log p(x) as K -> infinity; K = 1 is
    the single-sample ELBO. When q is the exact posterior every weight equals p(x), and the
    estimate is exact for any K.

    Parameters
    ----------
    model : VAE (any likelihood and posterior)
    x : (N, D) data
    k : int, default 5000 (the literature's setting)
        Importance samples per example.
    seed : int
        Seed of the noise, so that an evaluation can be repeated exactly.
    chunk_rows : int
        At most this many (example, sample) pairs are decoded at once; memory is a few arrays
        of ``chunk_rows x D``.

    Returns
    -------
    dict: ``nll`` (the mean over examples of -log p-hat(x), positive nats per example),
    ``stderr`` (its standard error over examples), ``k``, ``n`` and ``per_example`` ((N,) array
    of -log p-hat(x_i)).
    """
    x, rng, chunk_rows = _prepare(model, x, validate, seed, chunk_rows,
                                  "the importance-sampled log-likelihood")
    k = check_positive_int(k, "k")
    per_example = np.empty(x.shape[0])
    for start, log_px, log_pz, log_qz, _, _ in _sample_terms(model, x, k, rng, chunk_rows):
        log_w = log_px
        log_w += log_pz
        log_w -= log_qz
        per_example[start:start + len(log_w)] = -logmeanexp(log_w, axis=1)
    nll, stderr = _mean_and_stderr(per_example)
    return {"nll": nll, "stderr": stderr, "k": k, "n": int(x.shape[0]), "per_example": per_example}


def elbo_multi(model, x, samples=10, seed=0, chunk_rows=CHUNK_ROWS, validate=True):
    """Negative ELBO estimated with L samples of z per example (lecture 003).

        ELBO(x) ~ -KL(q(z | x) || p(z)) + (1/L) sum_l log p(x | z_l),   z_l ~ q(z | x),

    with the KL in closed form, so only the reconstruction term is sampled; L = 1 is what the
    training loss and :func:`elbo` estimate. More samples do not change the bound, only the
    noise of its estimate. A prior without a closed-form KL has it estimated from the same L
    samples, (1/L) sum_l [log q(z_l | x) - log p(z_l)].

    Returns
    -------
    dict: ``nelbo``, ``recon``, ``kl`` (means over examples, nats per example), ``stderr`` (of
    ``nelbo`` over examples), ``samples``, ``n``.
    """
    x, rng, chunk_rows = _prepare(model, x, validate, seed, chunk_rows, "the multi-sample ELBO")
    samples = check_positive_int(samples, "samples")
    N = x.shape[0]
    recon = np.empty(N)
    kl = np.empty(N)
    closed = model.prior.closed_form
    for start, log_px, log_pz, log_qz, mu, log_var in _sample_terms(model, x, samples, rng, chunk_rows,
                                                                  prior_terms=not closed):
        n = len(log_px)
        recon[start:start + n] = -log_px.mean(axis=1)
        if closed:
            kl[start:start + n] = model.prior.kl(mu.astype(np.float64), log_var.astype(np.float64))
        else:
            kl[start:start + n] = (log_qz - log_pz).mean(axis=1)
    nelbo, stderr = _mean_and_stderr(recon + kl)
    return {"nelbo": nelbo, "recon": float(recon.mean()), "kl": float(kl.mean()), "stderr": stderr,
            "samples": samples, "n": N}


# ------------------------------------------------------------------------------------------------
# Latent usage
# ------------------------------------------------------------------------------------------------
def active_units(model, x, threshold=0.01, batch_size=1000, validate=True):
    """Active latent units and the KL per latent dimension over a data set.

    Unit u is active when the variance over the data of its posterior mean exceeds the
    threshold (0.01 is the usual one, after Burda et al.):

        A_u = Var_x( E_q(z|x)[z_u] ) = Var_x( mu_u(x) ) > threshold.

    An inactive unit's mean does not depend on x; the model ignores it, and its posterior
    usually collapses onto the prior. The KL of dimension u is lecture 002's diagonal-Gaussian
    KL to N(0, 1) restricted to that coordinate, 1/2 (exp(log_var_u) + mu_u^2 - 1 - log_var_u),
    averaged over the data; summed over u it is the KL term of the ELBO when the prior is
    N(0, I) (with another prior it measures how far each coordinate of q is from N(0, 1)).

    Returns
    -------
    dict: ``active`` (int), ``threshold``, ``variance`` ((d,) variance of each mu_u),
    ``kl_per_dim`` ((d,) nats per example), ``kl`` (their sum), ``n``.
    """
    _check_latent_model(model, "active units")
    if validate:
        x = model.check_x(x)
    threshold = check_positive_float(threshold, "threshold")
    batch_size = check_positive_int(batch_size, "batch_size")
    d = model.latent_dim
    mus, kls = [], np.zeros(d)
    for start in range(0, x.shape[0], batch_size):
        mu, log_var = _posterior(model, x[start:start + batch_size])
        mu, log_var = mu.astype(np.float64), log_var.astype(np.float64)
        mus.append(mu)
        # the same closed form with every coordinate as a one-dimensional Gaussian of its own
        kls += kl_diag_normal(mu.reshape(-1, 1), log_var.reshape(-1, 1)).reshape(mu.shape).sum(axis=0)
    variance = np.var(np.concatenate(mus), axis=0)
    kl_per_dim = kls / x.shape[0]
    return {"active": int(np.sum(variance > threshold)), "threshold": threshold, "variance": variance,
            "kl_per_dim": kl_per_dim, "kl": float(kl_per_dim.sum()), "n": int(x.shape[0])}


# ------------------------------------------------------------------------------------------------
# The prior against the aggregate posterior
# ------------------------------------------------------------------------------------------------
def aggregate_posterior_kl(model, x, samples=2000, seed=0, validate=True):
    """How far the prior is from the codes the encoder actually uses (lecture 001's question).

    The aggregate posterior of N examples is q(z) = (1/N) sum_n q(z | x_n). Averaged over the
    data, the KL term of the ELBO splits in two (Hoffman and Johnson's "ELBO surgery"):

        (1/N) sum_n KL(q(z | x_n) || p(z)) = I_q(n; z) + KL(q(z) || p(z)),

    the information the code keeps about which example it came from, and the distance from
    the aggregate posterior to the prior, which a better prior can remove (the best prior *is*
    q(z)). All three are estimated at the same ``samples`` draws z ~ q(z) (an example n
    uniformly, then z ~ q(z | x_n)), with log q(z) a log-mean-exp over all N components.

    Returns
    -------
    dict: ``kl_aggregate`` (KL(q(z) || p(z))), ``mutual_information``, ``mean_kl`` (their sum),
    each in nats, ``stderr`` (of ``kl_aggregate``), ``n`` (examples), ``samples``.
    """
    _check_latent_model(model, "the aggregate posterior's KL")
    if validate:
        x = model.check_x(x)
    samples = check_positive_int(samples, "samples")
    rng = check_rng(seed, "seed")
    mu, log_var = (a.astype(np.float64) for a in _posterior(model, x))
    pick = rng.integers(0, len(mu), size=samples)
    z = mu[pick] + np.exp(0.5 * log_var[pick]) * rng.standard_normal((samples, mu.shape[1]))
    # the samples x N log-densities a block of rows at a time, about 2 million floats each
    rows = max(1, CHUNK_ROWS * 1024 // max(len(mu), 1))
    log_q_agg = np.concatenate([logmeanexp(gaussian_components(z[i:i + rows], mu, log_var), axis=-1)
                                for i in range(0, samples, rows)])
    log_q_own = log_normal_diag(z, mu[pick], log_var[pick])
    log_p = model.prior.log_prob(z.astype(model.dtype), model.params).astype(np.float64)
    kl_agg, stderr = _mean_and_stderr(log_q_agg - log_p)
    info = float(np.mean(log_q_own - log_q_agg))
    return {"kl_aggregate": kl_agg, "stderr": stderr, "mutual_information": info,
            "mean_kl": kl_agg + info, "n": int(len(mu)), "samples": samples}
