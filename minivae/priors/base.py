"""The interface every prior implements (see :mod:`minivae.priors`), the Monte Carlo KL a prior
without a closed form falls back on, and the log-density of a set of diagonal Gaussians with its
gradients, which the mixture priors share."""
from __future__ import annotations

import numpy as np

from ..errors import ValidationError
from ..kl import LOG_2PI, gaussian_entropy

__all__ = ["Prior", "gaussian_components", "component_gradients"]


class Prior:
    """Base class of the priors; see the module docstring for the interface."""

    name = "prior"
    #: is KL(q || p) available in closed form for a Gaussian q?
    closed_form = False
    #: its parameters (if any) collect gradient with += (see :mod:`minivae.params`)
    writes_gradient = False

    def param_shapes(self):
        return {}

    def init(self, params, rng=None) -> None:
        pass

    def attach(self, model) -> None:
        self.dim = model.latent_dim

    def config(self) -> dict:
        return {"name": self.name}

    def log_prob(self, z, params=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def log_prob_and_grad(self, z, params, weight):  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, n, rng, params=None, dtype=np.float64):  # pragma: no cover - abstract
        raise NotImplementedError

    def kl(self, mu, log_var, params=None):
        raise ValidationError(f"prior {self.name!r}: KL(q || p) has no closed form; "
                              "the model estimates it from its sample of z")

    kl_backward = kl_isotropic = kl_isotropic_backward = kl

    # -- the KL without a closed form: estimated at the reparameterized sample z -----------------
    def kl_estimate(self, mu, log_var, z, params=None):
        """KL(q(z | x) || p(z)) per example, estimated at the sample z: -H(q) - log p(z)."""
        return -gaussian_entropy(log_var) - self.log_prob(z, params)

    def kl_and_grad(self, mu, log_var, z, params, weight):
        """:meth:`kl_estimate` and the gradient of ``weight * sum_b KL_b`` with respect to mu
        (None: zero), log_var and z; the prior's own parameters get theirs added in
        ``params.grad``.

        With KL ~ -H(q) - log p(z) and H(q) = 1/2 sum_i (1 + log 2 pi + log_var_i):
        d/dlog_var = -weight / 2 and d/dz = -weight * d log p / dz.
        """
        log_pz, dlogp = self.log_prob_and_grad(z, params, weight)
        kl = -gaussian_entropy(log_var) - log_pz
        return kl, None, np.full_like(log_var, -0.5 * weight), -weight * dlogp

    def after_encoder_backward(self, params) -> None:
        """Called by the VAE after its encoder's backward pass: where a prior that runs the
        encoder (on pseudo-inputs) adds that pass's gradient."""




# ------------------------------------------------------------------------------------------------
# A set of K diagonal Gaussians: the components of the mixture priors
# ------------------------------------------------------------------------------------------------
def gaussian_components(z, means, log_vars):
    """log N(z | m_k, diag(exp(s_k))) for every component k, shape ``z.shape[:-1] + (K,)``.

    Each component's log-density is summed over the d latent coordinates *before* anything is
    done across components (a mixture's log p(z) is then a log-sum-exp over the last axis; doing
    the log-sum-exp per coordinate first would be the density of another model). With the
    precisions P_k = exp(-s_k), the squared distances of all (row, component) pairs come from
    three matrix products,

        sum_j (z_j - m_kj)^2 P_kj = (z * z) . P_k - 2 z . (m_k * P_k) + sum_j m_kj^2 P_kj,

    so memory grows with rows x K, never rows x K x d.

    Parameters
    ----------
    z : (..., d)
    means, log_vars : (K, d)
    """
    d = z.shape[-1]
    prec = np.exp(-log_vars)
    flat = z.reshape(-1, d)
    quad = (flat * flat) @ prec.T
    quad -= 2.0 * (flat @ (means * prec).T)
    quad += np.sum(means * means * prec, axis=1)
    out = -0.5 * (quad + np.sum(log_vars, axis=1) + d * LOG_2PI)
    return out.reshape(z.shape[:-1] + (means.shape[0],))


def component_gradients(z, weights, means, log_vars):
    """Gradients of F = sum_b sum_k w_bk log N(z_b | m_k, diag(exp(s_k))) with the weights held fixed.

    From d log N_k(z)/dz = (m_k - z) P_k, d/dm_k = (z - m_k) P_k and
    d/ds_k = ((z - m_k)^2 P_k - 1) / 2 (P_k = exp(-s_k)), summed with the weights w:

        dF/dz_b = sum_k w_bk (m_k - z_b) P_k,
        dF/dm_k = P_k (sum_b w_bk z_b - W_k m_k),                              W_k = sum_b w_bk,
        dF/ds_k = [P_k (sum_b w_bk z_b^2 - 2 m_k sum_b w_bk z_b + W_k m_k^2) - W_k] / 2,

    each a few matrix products.

    Parameters
    ----------
    z : (B, d);  weights : (B, K);  means, log_vars : (K, d)

    Returns
    -------
    dz : (B, d);  dmeans, dlog_vars : (K, d)
    """
    prec = np.exp(-log_vars)
    total = weights.sum(axis=0)[:, None]
    wz = weights.T @ z
    dz = weights @ (means * prec) - z * (weights @ prec)
    dmeans = prec * (wz - total * means)
    dlog_vars = 0.5 * (prec * (weights.T @ (z * z) - 2.0 * means * wz + total * means * means) - total)
    return dz, dmeans, dlog_vars
