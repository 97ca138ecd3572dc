"""Closed-form KL divergences to the standard normal prior, Gaussian entropy and log-density.

All functions work per example: inputs are (B, d), results (B,). Backward functions return the
elementwise derivative of the per-example value; the model multiplies by beta / B.

One parameterization everywhere: a diagonal Gaussian is given by its mean ``mu`` and its
log-variance ``log_var = log sigma^2``.
"""
from __future__ import annotations

import math

import numpy as np

from .logspace import log_softmax as _log_softmax
from .runtime.validation import check_array

__all__ = [
    "kl_diag_normal", "kl_diag_normal_backward",
    "kl_isotropic_normal", "kl_isotropic_normal_backward",
    "gaussian_entropy", "gaussian_entropy_backward",
    "log_normal_diag", "log_standard_normal",
    "kl_categorical_uniform", "kl_categorical_uniform_backward",
]

LOG_2PI = math.log(2.0 * math.pi)


def kl_diag_normal(mu, log_var):
    """KL(N(mu, diag(exp(log_var))) || N(0, I)) per example.

    Lecture 002: KL = 1/2 sum_i (Sigma_ii + mu_i^2 - 1 - log Sigma_ii), with Sigma_ii =
    exp(log_var_i). Computed as 1/2 sum_i (expm1(log_var_i) - log_var_i + mu_i^2): near the prior
    exp(v) - 1 - v cancels catastrophically (in float32 it even comes out negative for |v| below
    about 1e-7), while expm1(v) - v is never below zero and stays accurate.

    Parameters
    ----------
    mu, log_var : (B, d)

    Returns
    -------
    (B,)
    """
    mu = check_array(mu, "mu", ndim=2)        # shapes only: the VAE calls this every step
    log_var = check_array(log_var, "log_var", like=mu, like_name="mu")
    return 0.5 * np.sum(np.expm1(log_var) - log_var + mu * mu, axis=1)


def kl_diag_normal_backward(mu, log_var):
    """Derivatives of :func:`kl_diag_normal`: dKL/dmu = mu, dKL/dlog_var = (exp(log_var) - 1) / 2."""
    mu = check_array(mu, "mu", ndim=2)
    log_var = check_array(log_var, "log_var", like=mu, like_name="mu")
    return mu, 0.5 * np.expm1(log_var)


def kl_isotropic_normal(mu, log_sigma):
    """KL(N(mu, sigma^2 I) || N(0, I)) per example, for d-dimensional mu and one sigma.

    Lecture 000 computes E_q[log q - log p] with E_q||z - mu||^2 = d sigma^2 and
    E_q||z||^2 = ||mu||^2 + d sigma^2. Each of the d coordinates of q contributes
    -log sigma to E_q log q, so the result is

        KL = -d log sigma - d/2 + ||mu||^2 / 2 + d sigma^2 / 2.

    The slides write ``-log sigma`` here. The two agree only for d = 1 or sigma = 1; with
    ``-log sigma`` the expression at mu = 0, sigma^2 = 1/d equals (log d - d + 1) / 2 < 0 for
    d > 1, impossible for a KL divergence, and it disagrees with a Monte Carlo estimate of
    E_q[log q - log p] (notebook 04 shows both checks).

    Parameters
    ----------
    mu : (B, d)
    log_sigma : float or (B,)
    """
    mu = check_array(mu, "mu", ndim=2)
    d = mu.shape[1]
    log_sigma = np.asarray(log_sigma)
    # -d s - d/2 + d e^{2s}/2 = d/2 (expm1(2 s) - 2 s): the same cancellation-free form as above
    return 0.5 * d * (np.expm1(2.0 * log_sigma) - 2.0 * log_sigma) + 0.5 * np.sum(mu * mu, axis=1)


def kl_isotropic_normal_backward(mu, log_sigma):
    """Derivatives of :func:`kl_isotropic_normal`: dKL/dmu = mu and dKL/dlog sigma = d (sigma^2 - 1)."""
    d = mu.shape[1]
    return mu, d * np.expm1(2.0 * np.asarray(log_sigma))


def gaussian_entropy(log_var):
    """Entropy of N(mu, diag(exp(log_var))) per example: 1/2 sum_i (1 + log 2 pi + log_var_i).

    Used in lecture 001's form of the bound, ELBO = E_q[log p(x | z) + log p(z)] + H(q).
    """
    d = log_var.shape[1]
    return 0.5 * (d * (1.0 + LOG_2PI) + np.sum(log_var, axis=1))


def gaussian_entropy_backward(log_var):
    """dH/dlog_var_i = 1/2 for every i."""
    return np.full_like(log_var, 0.5)


def log_normal_diag(z, mu, log_var):
    """log N(z | mu, diag(exp(log_var))), summed over the last axis.

    log N = -1/2 sum_i [log 2 pi + log_var_i + (z_i - mu_i)^2 exp(-log_var_i)].
    Broadcasts over leading axes (for example K samples of z per example).
    """
    d = z.shape[-1]
    r = z - mu
    return -0.5 * (d * LOG_2PI + np.sum(log_var + r * r * np.exp(-log_var), axis=-1))


def log_standard_normal(z):
    """log N(z | 0, I), summed over the last axis: -1/2 (d log 2 pi + ||z||^2)."""
    d = z.shape[-1]
    return -0.5 * (d * LOG_2PI + np.sum(z * z, axis=-1))


# ------------------------------------------------------------------------------------------------
# Categorical posterior, uniform prior (the VAE with discrete latents)
# ------------------------------------------------------------------------------------------------
def kl_categorical_uniform(logits, per_variable=False):
    """KL(q || U_K) per example for q = softmax(logits) over K classes, summed over variables.

    With p(z = k) = 1 / K, KL = sum_k q_k (log q_k - log(1/K)) = sum_k q_k log q_k + log K, i.e.
    log K minus the entropy of q: zero for the uniform q, log K for a one-hot q.

    Parameters
    ----------
    logits : (B, K) for one categorical variable per example, or (B, N, K) for N independent
        ones (the KL of the factorized q is the sum of the N KLs).
    per_variable : bool
        Return the N KLs of each example, (B, N), instead of their sum: which variables the
        encoder uses (a variable whose q stays uniform carries no information about x).

    Returns
    -------
    (B,), or (B, N) with ``per_variable``
    """
    logits = check_array(logits, "logits", min_ndim=2)      # (B, K) or (B, N, K); shape only
    logq = _log_softmax(logits)
    per_var = np.sum(np.exp(logq) * logq, axis=-1) + math.log(logits.shape[-1])
    per_var = per_var.reshape(per_var.shape[0], -1)
    return per_var if per_variable else per_var.sum(axis=1)


def kl_categorical_uniform_backward(logits):
    """d KL(softmax(l) || U_K) / d l, elementwise, shape of ``logits``.

    With the softmax Jacobian dq_k / dl_j = q_k ([k = j] - q_j),

        dKL/dl_j = sum_k (log q_k + 1) q_k ([k = j] - q_j) = q_j (log q_j - sum_k q_k log q_k)

    (the +1 cancels because the q_k sum to one). log K is a constant and drops out.
    """
    logq = _log_softmax(logits)
    q = np.exp(logq)
    return q * (logq - np.sum(q * logq, axis=-1, keepdims=True))
