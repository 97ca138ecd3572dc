"""Per-datapoint variational inference for a trained VAE, and the amortization gap it measures.

A VAE's encoder is *amortized* inference (lecture 000): one network phi maps every x to the
parameters of its q(z | x), so a new example costs one forward pass. The price is that the
encoder's q need not be the best Gaussian for that x. Per-datapoint VI fits, with the decoder
fixed, a q_i = N(mu_i, diag(exp(log_var_i))) of its own to each example x_i by gradient ascent on
that example's ELBO (lectures 001-004)

    ELBO_i(mu_i, log_var_i) = E_{q_i} log p(x_i | z) - KL(q_i || p(z)),

estimated with S reparameterized samples z_is = mu_i + sigma_i * eps_is (lecture 003's Monte
Carlo estimate) and maximized with Adam. Both the local and the encoder's q lie in the same
family, so for each x

    log p(x) >= ELBO(best q_i) >= ELBO(encoder's q),

and the distance log p(x) - ELBO(encoder) splits into the *approximation gap*
log p(x) - ELBO(best q_i), which no fitting inside the family closes, and the *amortization gap*
ELBO(best q_i) - ELBO(encoder), which is what the encoder loses by sharing its parameters
across examples (Cremer, Li and Duvenaud, "Inference suboptimality in variational
autoencoders", 2018). :func:`amortization_gap` measures the three quantities.

The gradient (what :func:`negative_elbo_and_grad` computes, per example, of -ELBO_i):

    d/dmu_i      = (1/S) sum_s g_is + dKL/dmu_i,
    d/dlog_var_i = (1/S) sum_s g_is * eps_is * sigma_i / 2 + dKL/dlog_var_i,

with g_is = d(-log p(x_i | z))/dz at z_is, which is the model's own hand-derived backward pass:
the likelihood's ``nll_and_grad``, then ``model.decoder.backward`` (lecture 004's chain rule),
then :func:`minivae.estimators.reparameterize_backward` for the reparameterization. The KL term
is the prior's closed form and its derivatives (lecture 002: for N(0, I),
dKL/dmu = mu, dKL/dlog_var = (exp(log_var) - 1) / 2) when it has one; otherwise the prior's
estimate at each sample, ``prior.kl_and_grad`` (for example -H(q) - log p(z), whose gradient
reaches mu and log_var through z as well), averaged over the S samples.

The decoder's backward pass writes the gradient of the decoder's weights as it goes (it is
the training step's backward pass). Here it writes into a gradient vector of its own
(``model.params.with_own_grad()``, sharing the weights), so ``model.params.grad`` is left as
it was, and no optimizer ever touches the model: only the local parameters move.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .errors import ValidationError
from .estimators import reparameterize_backward
from .evaluate import importance_sampled_nll
from .kl import log_normal_diag
from .logspace import logmeanexp
from .models import VAE
from .optim import Adam
from .params import Params
from .runtime.validation import (check_array, check_choice, check_positive_float,
                                 check_positive_int, check_rng)

__all__ = ["negative_elbo", "negative_elbo_and_grad", "fit_local_posteriors", "gaussian_elbo",
           "importance_sampled_log_px", "parameter_counts", "amortization_gap", "INITS"]

#: where the local parameters start: the prior's N(0, I) (mu = 0, log_var = 0) or the encoder's q
INITS = ("prior", "encoder")
#: (example, sample) pairs decoded at once; bounds memory to a few arrays of CHUNK_ROWS x D
CHUNK_ROWS = 8192


# ------------------------------------------------------------------------------------------------
# checks at the public boundary
# ------------------------------------------------------------------------------------------------
def _check_vae(model, what):
    if not isinstance(model, VAE):
        kind = getattr(model, "kind", type(model).__name__)
        raise ValidationError(f"model: {what} fits a Gaussian q(z | x) = N(mu, diag sigma^2) under a VAE's "
                              f"decoder and prior, so it needs a VAE; got a model of kind {kind!r} "
                              "(it has no Gaussian posterior)")


def _check_q(model, x, mu, log_var):
    n, d = x.shape[0], model.latent_dim
    out = []
    for a, name in ((mu, "mu"), (log_var, "log_var")):
        a = check_array(a, name, ndim=2)
        if a.shape != (n, d):
            raise ValidationError(f"{name}: expected shape ({n}, {d}) (one row of the latent dimension "
                                  f"per example of x), got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValidationError(f"{name}: expected finite values, got {int(np.sum(~np.isfinite(a)))} "
                                  "NaN or infinite entries")
        out.append(np.ascontiguousarray(a, dtype=model.dtype))
    return out


def _check_eps(model, x, eps):
    eps = check_array(eps, "eps", ndim=3)
    if eps.shape[0] != x.shape[0] or eps.shape[2] != model.latent_dim:
        raise ValidationError(f"eps: expected shape ({x.shape[0]}, S, {model.latent_dim}) (S samples of "
                              f"noise per example), got {eps.shape}")
    return np.ascontiguousarray(eps, dtype=model.dtype)


# ------------------------------------------------------------------------------------------------
# the per-example bound and its gradient
# ------------------------------------------------------------------------------------------------
def _terms(model, P, x, mu, log_var, eps, need_grad):
    """-ELBO_i per example, (n,) float64, and (if ``need_grad``) d(sum_i -ELBO_i)/d(mu, log_var).

    x (n, D), mu and log_var (n, d), eps (n, S, d), all validated and in the model's dtype.
    """
    n, S, d = eps.shape
    D = x.shape[1]
    std = np.exp(0.5 * log_var)
    z = (mu[:, None, :] + std[:, None, :] * eps).reshape(n * S, d)
    out, cache = model.decoder.forward(P, z)
    xr = np.broadcast_to(x[:, None, :], (n, S, D)).reshape(n * S, D)
    # weight 1/S: the gradient of the mean over an example's S samples, not of their sum
    nll, dout = model.likelihood.nll_and_grad(xr, out, P, weight=(1.0 / S) if need_grad else None)
    recon = nll.reshape(n, S).mean(axis=1, dtype=np.float64)
    closed = model.prior.closed_form
    if closed:
        kl = np.asarray(model.prior.kl(mu, log_var, P), dtype=np.float64)
    if not need_grad:
        if not closed:
            rep = lambda a: np.repeat(a, S, axis=0)     # noqa: E731 (each example's row per sample)
            kl = model.prior.kl_estimate(rep(mu), rep(log_var), z, P).reshape(n, S).mean(axis=1, dtype=np.float64)
        return recon + kl, None, None
    dz = model.decoder.backward(P, cache, dout)          # writes the decoder's gradient into P.grad
    if closed:
        k_mu, k_lv = model.prior.kl_backward(mu, log_var, P)
    else:
        mu_r, lv_r = np.repeat(mu, S, axis=0), np.repeat(log_var, S, axis=0)
        kl_s, k_mu_s, k_lv_s, k_z = model.prior.kl_and_grad(mu_r, lv_r, z, P, weight=1.0 / S)
        kl = kl_s.reshape(n, S).mean(axis=1, dtype=np.float64)
        dz = dz + k_z
        k_mu = 0.0 if k_mu_s is None else k_mu_s.reshape(n, S, d).sum(axis=1)
        k_lv = k_lv_s.reshape(n, S, d).sum(axis=1)
    dmu_s, dlv_s = reparameterize_backward(dz, eps.reshape(n * S, d),
                                           np.repeat(std, S, axis=0))
    dmu = dmu_s.reshape(n, S, d).sum(axis=1) + k_mu
    dlv = dlv_s.reshape(n, S, d).sum(axis=1) + k_lv
    return recon + kl, dmu, dlv


def negative_elbo(model, x, mu, log_var, eps):
    """-ELBO_i of q_i = N(mu_i, diag(exp(log_var_i))) for each example, with the noise held fixed.

        -ELBO_i = (1/S) sum_s -log p(x_i | mu_i + sigma_i * eps_is) + KL(q_i || p(z))

    (lectures 001-004; the KL in closed form where the prior has one, else estimated at each
    sample and averaged). beta is not applied: this is the bound itself.

    Parameters
    ----------
    model : VAE
    x : (n, D) data;  mu, log_var : (n, d);  eps : (n, S, d) standard normal noise.

    Returns
    -------
    (n,) float64, nats per example.
    """
    _check_vae(model, "negative_elbo")
    x = model.check_x(x)
    mu, log_var = _check_q(model, x, mu, log_var)
    eps = _check_eps(model, x, eps)
    return _terms(model, model.params, x, mu, log_var, eps, need_grad=False)[0]


def negative_elbo_and_grad(model, x, mu, log_var, eps):
    """:func:`negative_elbo` and its gradient with respect to each example's (mu_i, log_var_i).

    Each example's bound depends only on its own row of mu and log_var, so the rows of the
    returned gradients are the per-example gradients (module docstring for the formulas).
    ``model.params.grad`` is not changed.

    Returns
    -------
    nelbo : (n,) float64;  dmu, dlog_var : (n, d) in the model's dtype.
    """
    _check_vae(model, "negative_elbo_and_grad")
    x = model.check_x(x)
    mu, log_var = _check_q(model, x, mu, log_var)
    eps = _check_eps(model, x, eps)
    return _terms(model, model.params.with_own_grad(), x, mu, log_var, eps, need_grad=True)


# ------------------------------------------------------------------------------------------------
# fitting q_i by gradient ascent
# ------------------------------------------------------------------------------------------------
def fit_local_posteriors(model, x, steps=500, samples=10, lr=3e-3, init="encoder", rng=0,
                         chunk_rows=CHUNK_ROWS, lr_end=None):
    """Fit q_i = N(mu_i, diag(exp(log_var_i))) to every example by Adam on its own ELBO.

    With the decoder and prior fixed, each step draws fresh noise eps ~ N(0, I) of shape
    (n, S, d), computes every example's -ELBO_i and its gradient
    (:func:`negative_elbo_and_grad`) and takes one Adam step on all (mu_i, log_var_i) at once:
    the examples are independent problems, solved side by side as one vectorized batch (in
    chunks of about ``chunk_rows / samples`` examples, each chunk with its own Adam). The loss
    Adam descends is sum_i -ELBO_i, whose gradient row i is example i's own gradient.

    Parameters
    ----------
    model : VAE (any likelihood, posterior and prior; q_i is always a diagonal Gaussian)
    x : (n, D) data
    steps : int, S gradient steps per example
    samples : int, reparameterized samples per example and step
    lr : float, Adam's learning rate
    init : {"prior", "encoder"}
        Start from mu = 0, log_var = 0 (N(0, I)) or from the encoder's q(z | x_i).
    rng : numpy Generator or int seed
    chunk_rows : int, (example, sample) pairs decoded at once
    lr_end : float, optional
        If given, the learning rate falls geometrically from ``lr`` at the first step to
        ``lr_end`` at the last: with a fixed rate, Adam on noisy gradients keeps wandering
        around the optimum by about the rate; a falling one settles closer to it.

    Returns
    -------
    dict: ``mu``, ``log_var`` ((n, d) arrays of the model's dtype), ``init_mu``,
    ``init_log_var`` (where they started), ``trace`` ((steps,) float64: the mean over the
    examples of the noisy -ELBO estimate at each step, before the step),
    ``final_nelbo`` ((n,): each example's -ELBO estimate at the last step), ``seconds`` and
    ``settings`` (steps, samples, lr, lr_end, init).
    """
    _check_vae(model, "per-datapoint VI")
    x = model.check_x(x)
    steps = check_positive_int(steps, "steps")
    samples = check_positive_int(samples, "samples")
    lr = check_positive_float(lr, "lr")
    check_choice(init, "init", INITS)
    rng = check_rng(rng)
    chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
    rates = np.full(steps, lr)
    if lr_end is not None:
        lr_end = check_positive_float(lr_end, "lr_end")
        rates = lr * (lr_end / lr) ** (np.arange(steps) / max(steps - 1, 1))
    n, d = x.shape[0], model.latent_dim
    dtype = model.dtype
    if init == "encoder":
        mu0, lv0 = model.encode(x, check=False)
    else:
        mu0, lv0 = np.zeros((n, d), dtype), np.zeros((n, d), dtype)
    mu_out, lv_out = mu0.astype(dtype, copy=True), lv0.astype(dtype, copy=True)
    trace = np.zeros(steps)
    final = np.empty(n)
    P = model.params.with_own_grad()     # the decoder's gradient goes here, not into the model's
    per_chunk = max(1, chunk_rows // samples)
    t0 = time.perf_counter()
    for start in range(0, n, per_chunk):
        xb = x[start:start + per_chunk]
        m = len(xb)
        local = Params({"mu": (m, d), "log_var": (m, d)}, dtype=dtype)
        local["mu"][...] = mu_out[start:start + m]
        local["log_var"][...] = lv_out[start:start + m]
        opt = Adam(local, lr=lr, threads=1)
        for t in range(steps):
            eps = rng.standard_normal((m, samples, d), dtype=dtype)
            nelbo, dmu, dlv = _terms(model, P, xb, local["mu"], local["log_var"], eps, need_grad=True)
            trace[t] += float(nelbo.sum())
            local.g("mu")[...] = dmu
            local.g("log_var")[...] = dlv
            opt.lr = float(rates[t])
            opt.step()
        final[start:start + m] = nelbo
        mu_out[start:start + m] = local["mu"]
        lv_out[start:start + m] = local["log_var"]
    seconds = time.perf_counter() - t0
    return {"mu": mu_out, "log_var": lv_out, "init_mu": mu0, "init_log_var": lv0, "trace": trace / n,
            "final_nelbo": final, "seconds": seconds,
            "settings": {"steps": steps, "samples": samples, "lr": lr, "lr_end": lr_end, "init": init}}


# ------------------------------------------------------------------------------------------------
# bounds of a given Gaussian q
# ------------------------------------------------------------------------------------------------
def _decoded_samples(model, x, mu, log_var, k, rng, chunk_rows):
    """Draw k samples z ~ N(mu_i, diag exp(log_var_i)) per example and decode them, at most
    ``chunk_rows`` decoded rows at a time; yields (start, k0, z, log p(x_i | z)) per chunk, with z
    (m, kk, d) and the log-likelihoods (m, kk) of examples start..start+m and samples k0..k0+kk."""
    n, D = x.shape
    d = model.latent_dim
    P = model.params
    per_chunk = max(1, chunk_rows // k)
    k_step = min(k, chunk_rows)
    for start in range(0, n, per_chunk):
        xb, mb, lb = (a[start:start + per_chunk] for a in (x, mu, log_var))
        m = len(xb)
        std = np.exp(0.5 * lb)
        for k0 in range(0, k, k_step):
            kk = min(k_step, k - k0)
            z = mb[:, None, :] + std[:, None, :] * rng.standard_normal((m, kk, d), dtype=model.dtype)
            out, _ = model.decoder.forward(P, z.reshape(m * kk, d))
            xr = np.broadcast_to(xb[:, None, :], (m, kk, D)).reshape(m * kk, D)
            yield start, k0, z, -model.likelihood.nll(xr, out, P).reshape(m, kk)


def _log_weights(model, x, mu, log_var, k, rng, chunk_rows):
    """log p(x_i | z) + log p(z) - log q_i(z) for k samples z ~ q_i per example: (n, k) float64."""
    out_w = np.empty((len(x), k))
    for start, k0, z, log_px in _decoded_samples(model, x, mu, log_var, k, rng, chunk_rows):
        m, kk = log_px.shape
        out_w[start:start + m, k0:k0 + kk] = (log_px + model.prior.log_prob(z, model.params)
                                               - log_normal_diag(z, mu[start:start + m, None, :],
                                                                 log_var[start:start + m, None, :]))
    return out_w


def gaussian_elbo(model, x, mu, log_var, samples=100, seed=0, chunk_rows=CHUNK_ROWS):
    """The ELBO of any diagonal Gaussian q_i = N(mu_i, diag(exp(log_var_i))) per example.

        ELBO_i ~ (1/L) sum_l log p(x_i | z_l) - KL(q_i || p(z)),   z_l ~ q_i,

    with the KL in closed form where the prior has one (so only the reconstruction is sampled),
    else (1/L) sum_l [log p(z_l) - log q_i(z_l)]. With the encoder's (mu, log_var) this is
    :func:`minivae.evaluate.elbo_multi` with the sign turned; with fitted ones, the local
    optimum's bound, estimated with noise independent of the fit.

    Returns
    -------
    dict: ``per_example`` ((n,) float64, nats), ``mean``, ``stderr`` (over examples),
    ``samples``.
    """
    _check_vae(model, "gaussian_elbo")
    x = model.check_x(x)
    mu, log_var = _check_q(model, x, mu, log_var)
    samples = check_positive_int(samples, "samples")
    rng = check_rng(seed, "seed")
    chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
    if model.prior.closed_form:
        kl = np.asarray(model.prior.kl(mu.astype(np.float64), log_var.astype(np.float64), model.params),
                        dtype=np.float64)
        per = _recon_only(model, x, mu, log_var, samples, rng, chunk_rows) - kl
    else:
        per = _log_weights(model, x, mu, log_var, samples, rng, chunk_rows).mean(axis=1)
    return {"per_example": per, "mean": float(per.mean()), "stderr": _stderr(per), "samples": samples}


def _recon_only(model, x, mu, log_var, k, rng, chunk_rows):
    """(1/k) sum_l log p(x_i | z_l), z_l ~ q_i: (n,) float64."""
    out_r = np.zeros(len(x))
    for start, _, _, log_px in _decoded_samples(model, x, mu, log_var, k, rng, chunk_rows):
        out_r[start:start + len(log_px)] += log_px.sum(axis=1)
    return out_r / k


def importance_sampled_log_px(model, x, mu, log_var, k=5000, seed=0, chunk_rows=CHUNK_ROWS):
    """log p(x_i) estimated by importance sampling with the proposal q_i = N(mu_i, diag(exp(log_var_i))).

        log p(x_i) ~ log (1/K) sum_k p(x_i | z_k) p(z_k) / q_i(z_k),   z_k ~ q_i,

    the estimator of :func:`minivae.evaluate.importance_sampled_nll` with any Gaussian proposal
    in place of the encoder's (a proposal closer to the posterior gives a tighter estimate).

    Returns
    -------
    dict: ``per_example`` ((n,) float64), ``mean``, ``stderr``, ``k``.
    """
    _check_vae(model, "importance_sampled_log_px")
    x = model.check_x(x)
    mu, log_var = _check_q(model, x, mu, log_var)
    k = check_positive_int(k, "k")
    rng = check_rng(seed, "seed")
    per = logmeanexp(_log_weights(model, x, mu, log_var, k, rng, check_positive_int(chunk_rows, "chunk_rows")),
                     axis=1)
    return {"per_example": per, "mean": float(per.mean()), "stderr": _stderr(per), "k": k}


def _stderr(values):
    n = len(values)
    return float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")


# ------------------------------------------------------------------------------------------------
# the amortization gap
# ------------------------------------------------------------------------------------------------
def parameter_counts(model, n_examples=60000):
    """Parameters of amortized against per-datapoint inference for a data set of N examples.

    Amortized: ``|theta| + |phi|`` (the decoder and prior, plus the encoder that serves every x).
    Per-datapoint: ``|theta| + 2 d N`` (the same generative model, plus a mean and a log-variance
    per latent dimension for each of the N examples). Encoder parameters are the model's
    entries whose names start with ``enc``.
    """
    _check_vae(model, "parameter_counts")
    n_examples = check_positive_int(n_examples, "n_examples")
    P = model.params
    phi = sum(s.stop - s.start for name, s in P.slices.items() if name.startswith("enc"))
    theta = P.size - phi
    return {"theta": int(theta), "phi": int(phi), "amortized": int(theta + phi),
            "local": int(theta + 2 * model.latent_dim * n_examples), "n_examples": n_examples}


def amortization_gap(model, x, steps=500, samples=10, lr=3e-3, k=5000, eval_samples=100, seed=0,
                     n_train=60000, local_proposal=True, chunk_rows=CHUNK_ROWS):
    """Encoder ELBO, per-datapoint ELBO and importance-sampled log p(x) on the same examples.

    Fits q_i by :func:`fit_local_posteriors` from the encoder's q, then estimates, per example
    and with noise independent of the fit:

    * ``encoder``: the ELBO of the encoder's q(z | x_i) (``eval_samples`` samples, KL in
      closed form where the prior has one);
    * ``local``: the ELBO of the fitted q_i, the same way;
    * ``log_px``: log p(x_i) by importance sampling with K = ``k`` samples from the encoder's q
      (:func:`minivae.evaluate.importance_sampled_nll`, the literature's estimate);
    * ``log_px_local`` (if ``local_proposal``): the same with q_i as the proposal.

    Since log p(x) >= ELBO(q_i) >= ELBO(encoder) up to the estimates' noise, the share of the
    total gap log p(x) - ELBO(encoder) that the local fit closes is

        closed = (mean local - mean encoder) / (mean log p(x) - mean encoder);

    the amortization gap is mean local - mean encoder, the approximation gap (of the factorized
    Gaussian family) log p(x) - mean local.

    Returns
    -------
    dict of plain numbers (means, standard errors over examples, nats per example), the
    per-example arrays under ``per_example``, the shares, the parameter counts
    (:func:`parameter_counts` with N = ``n_train``), seconds per example for the encoder pass
    and for the fit, and the settings.
    """
    _check_vae(model, "the amortization gap")
    x = model.check_x(x)
    k = check_positive_int(k, "k")
    eval_samples = check_positive_int(eval_samples, "eval_samples")
    rng = check_rng(seed, "seed")
    seeds = rng.integers(0, 2 ** 31, size=5)
    n = x.shape[0]
    t0 = time.perf_counter()
    mu_e, lv_e = model.encode(x, check=False)
    enc_seconds = time.perf_counter() - t0
    fit = fit_local_posteriors(model, x, steps=steps, samples=samples, lr=lr, init="encoder",
                               rng=int(seeds[0]), chunk_rows=chunk_rows)
    enc = gaussian_elbo(model, x, mu_e, lv_e, samples=eval_samples, seed=int(seeds[1]), chunk_rows=chunk_rows)
    loc = gaussian_elbo(model, x, fit["mu"], fit["log_var"], samples=eval_samples, seed=int(seeds[2]),
                        chunk_rows=chunk_rows)
    t0 = time.perf_counter()
    iw = importance_sampled_nll(model, x, k=k, seed=int(seeds[3]), validate=False)
    is_seconds = time.perf_counter() - t0
    log_px = -iw["per_example"]
    per = {"encoder": enc["per_example"], "local": loc["per_example"], "log_px": log_px}
    out = {"n": n, "k": k, "eval_samples": eval_samples,
           "encoder": enc["mean"], "encoder_stderr": enc["stderr"],
           "local": loc["mean"], "local_stderr": loc["stderr"],
           "log_px": float(log_px.mean()), "log_px_stderr": iw["stderr"]}
    if local_proposal:
        il = importance_sampled_log_px(model, x, fit["mu"], fit["log_var"], k=k, seed=int(seeds[4]),
                                       chunk_rows=chunk_rows)
        per["log_px_local"] = il["per_example"]
        out["log_px_local"], out["log_px_local_stderr"] = il["mean"], il["stderr"]
    gain = per["local"] - per["encoder"]
    total = out["log_px"] - out["encoder"]
    out.update(
        amortization_gap=float(gain.mean()), amortization_gap_stderr=_stderr(gain),
        approximation_gap=out["log_px"] - out["local"],
        closed=float(gain.mean() / total) if total > 0 else float("nan"),
        share_local_beats_encoder=float(np.mean(gain > 0)),
        share_local_above_log_px=float(np.mean(per["local"] > log_px)),
        local_minus_log_px_stderr=_stderr(per["local"] - log_px),
        counts=parameter_counts(model, n_train),
        seconds_per_example={"encoder": enc_seconds / n, "local": fit["seconds"] / n,
                             "importance_sampling": is_seconds / n},
        settings={**fit["settings"], "seed": seed},
        trace=fit["trace"], per_example=per)
    return out
