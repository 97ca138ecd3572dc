"""The standard normal prior N(0, I), the VAE's default, with its closed-form KL."""
from __future__ import annotations

import numpy as np

from ..kl import (kl_diag_normal, kl_diag_normal_backward, kl_isotropic_normal,
                  kl_isotropic_normal_backward, log_standard_normal)
from ..runtime.validation import check_choice
from .base import Prior

__all__ = ["StandardNormal"]


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
