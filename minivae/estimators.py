"""Gradient estimators for expectations over distributions that depend on the parameters.

This module starts with the one the VAE needs, the reparameterization trick for a Gaussian.
"""
from __future__ import annotations

import numpy as np

__all__ = ["reparameterize", "reparameterize_backward"]


def reparameterize(mu, log_var, eps):
    """z = mu + exp(log_var / 2) * eps, the reparameterization trick.

    A draw z ~ N(mu, diag(sigma^2)) is written as a deterministic function of the parameters and
    of parameter-free noise eps ~ N(0, I) (lectures 000-004: z = mu + sigma * eps), so that
    d z / d mu and d z / d sigma exist and gradients can flow from the decoder into the encoder.

    Parameters
    ----------
    mu, log_var : (B, d)
    eps : (B, d), standard normal noise; passed in so a gradient check can hold it fixed.

    Returns
    -------
    z : (B, d)
    std : (B, d), exp(log_var / 2), which the backward pass reuses.
    """
    std = np.exp(0.5 * log_var)
    z = std * eps
    z += mu
    return z, std


def reparameterize_backward(dz, eps, std):
    """Backward pass of :func:`reparameterize`.

    dz/dmu = 1 and dz/dlog_var = eps * exp(log_var / 2) / 2 = eps * std / 2 (elementwise), so
    dL/dmu = dL/dz and dL/dlog_var = dL/dz * eps * std / 2.

    Returns
    -------
    dmu, dlog_var : (B, d)
    """
    dlog_var = dz * eps
    dlog_var *= std
    dlog_var *= 0.5
    return dz, dlog_var
