"""Priors p(z) over a VAE's latent code, as parts of the model.

Lecture 001 ends with the question of the prior: N(0, I) is a choice, not a law, and the
aggregate posterior of a trained VAE is usually not N(0, I). The VAE therefore takes its prior
as an argument (``VAE(prior=...)``), and everything the VAE needs from p(z) goes through the
interface below, so a new prior plugs in without touching the model:

``log_prob(z, params)``
    log p(z), summed over the latent dimensions, for z of shape (..., d).
``log_prob_and_grad(z, params, weight)``
    the same and d log p(z) / dz; a prior with parameters of its own *adds*
    ``-weight * d log p / d(its parameters)`` into ``params.grad`` (the gradient of the loss,
    which contains -log p; see the gradient contract of :mod:`minivae.params`).
``kl(mu, log_var, params)`` and ``kl_backward(mu, log_var, params)``
    KL(q || p) in closed form for a diagonal Gaussian q = N(mu, diag(exp(log_var))), and its
    derivatives with respect to mu and log_var, where a closed form exists (``closed_form``);
    ``kl_isotropic`` / ``kl_isotropic_backward`` for q = N(mu, sigma^2 I) with one log sigma.
``sample(n, rng, params, dtype)``
    z ~ p(z), shape (n, d).
``param_shapes()``, ``init(params, rng)``, ``config()``
    as every model part (:mod:`minivae.params`): a prior may have learned parameters, laid out
    in the model's flat vector after the networks' and the likelihood's.
``attach(model)``
    called once by the model that owns the prior, before its parameters are laid out: the
    prior learns the latent dimension d there, and a prior that runs the model's encoder (the
    VampPrior, p(z) = (1/K) sum_k q(z | u_k)) keeps the model.

Where no closed form exists the VAE estimates the KL from its reparameterized sample z,

    KL(q || p) = E_q[log q(z | x)] - E_q[log p(z)] ~ -H(q) - log p(z),

with the entropy H(q) of the Gaussian in closed form (lecture 001's form of the bound,
ELBO = E_q[log p(x | z) + log p(z)] + H(q)) and only log p(z) sampled: the same estimate as
log q(z | x) - log p(z) at that z in expectation, with one noisy term fewer.
"""
from __future__ import annotations

from ..runtime.validation import build_from_spec
from .base import Prior
from .mixture import MixturePrior
from .normal import StandardNormal
from .vamp import VampPrior

__all__ = ["Prior", "StandardNormal", "MixturePrior", "VampPrior", "PRIORS", "make_prior"]

PRIORS = {"normal": StandardNormal, "mog": MixturePrior, "vamp": VampPrior}


def make_prior(spec) -> Prior:
    """Build a prior from a name, a config dict ``{"name": ..., **options}`` or an instance."""
    return build_from_spec(spec, PRIORS, "prior", Prior)
