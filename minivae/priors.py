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

import numpy as np

from .errors import InputTypeError, ValidationError
from .kl import (kl_diag_normal, kl_diag_normal_backward, kl_isotropic_normal,
                 kl_isotropic_normal_backward, log_standard_normal)
from .runtime.validation import check_choice

__all__ = ["Prior", "StandardNormal", "PRIORS", "make_prior"]


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


class StandardNormal(Prior):
    """p(z) = N(0, I): log p(z) = -1/2 (d log 2 pi + ||z||^2), d log p / dz = -z.

    The KL of a diagonal Gaussian posterior to it has lecture 002's closed form
    (:func:`minivae.kl.kl_diag_normal`), and that of an isotropic one lecture 000's
    (:func:`minivae.kl.kl_isotropic_normal`, with the corrected -d log sigma).

    Parameters
    ----------
    kl : {"closed-form", "sampled"}
        ``"sampled"`` makes the VAE estimate the KL as -H(q) - log p(z) at its sample of z even
        though the closed form exists: the path every prior without a closed form takes, on a
        prior whose exact KL is known, so that the two can be compared (same expectation, more
        noise).
    """

    name = "normal"

    def __init__(self, kl: str = "closed-form"):
        self.kl_mode = check_choice(kl, "kl", ("closed-form", "sampled"))
        self.closed_form = self.kl_mode == "closed-form"

    def config(self):
        cfg = {"name": self.name}
        if not self.closed_form:
            cfg["kl"] = self.kl_mode
        return cfg

    def log_prob(self, z, params=None):
        return log_standard_normal(z)

    def log_prob_and_grad(self, z, params=None, weight=None):
        return log_standard_normal(z), -z

    def sample(self, n, rng, params=None, dtype=np.float64):
        return rng.standard_normal((n, self.dim)).astype(dtype)

    def kl(self, mu, log_var, params=None):
        return kl_diag_normal(mu, log_var)

    def kl_backward(self, mu, log_var, params=None):
        return kl_diag_normal_backward(mu, log_var)

    def kl_isotropic(self, mu, log_sigma, params=None):
        return kl_isotropic_normal(mu, log_sigma)

    def kl_isotropic_backward(self, mu, log_sigma, params=None):
        return kl_isotropic_normal_backward(mu, log_sigma)


PRIORS = {"normal": StandardNormal}


def make_prior(spec) -> Prior:
    """Build a prior from a name, a config dict ``{"name": ..., **options}`` or an instance."""
    if isinstance(spec, Prior):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValidationError(f"prior: expected a name or a dict with a 'name', got {spec!r}")
    opts = dict(spec)
    name = opts.pop("name")
    if name not in PRIORS:
        raise ValidationError(f"prior: expected one of {sorted(PRIORS)}, got {name!r}")
    try:
        return PRIORS[name](**opts)
    except InputTypeError:
        raise
    except TypeError as exc:
        raise ValidationError(f"prior {name!r}: bad options {opts}: {exc}") from None
