"""The VampPrior (Tomczak and Welling 2017, lecture 001): the prior as the encoder's own posteriors.

The prior that maximizes the ELBO averaged over the training set is the aggregate posterior
q(z) = (1/N) sum_n q(z | x_n). The VampPrior approximates it with K learned pseudo-inputs u_k in
place of the N images:

    p(z) = (1/K) sum_k q(z | u_k) = (1/K) sum_k N(z | mu(u_k), diag(exp(log_var(u_k)))),

so the encoder runs on the pseudo-inputs at every step, and the prior's gradient reaches the
encoder's weights twice (through the data's codes and through the components) and the u_k.
With every pseudo-input a training image (K = N, u = x) it *is* the aggregate posterior.

The KL to it has no closed form: the VAE estimates it at its sample z as -H(q) - log p(z)
(:meth:`minivae.priors.base.Prior.kl_and_grad`). The gradient of -weight * sum_b log p(z_b):
with r_bk = q(z_b | u_k) / sum_j q(z_b | u_j) (:func:`~minivae.priors.base.component_gradients`)

    d log p(z_b)/dz_b = sum_k r_bk (mu_k - z_b) P_k,       P_k = exp(-log_var_k),
    d log p(z_b)/dmu_k = r_bk (z_b - mu_k) P_k,   d log p(z_b)/dlog_var_k = r_bk ((z_b - mu_k)^2 P_k - 1) / 2,

and dmu_k, dlog_var_k go back through the encoder (its second backward pass of the step, added to
the first: the gradient contract of :mod:`minivae.params`) into its weights and, as dL/du_k, into
the pseudo-inputs.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ValidationError
from ..logspace import logsumexp
from ..runtime.validation import check_choice, check_positive_int, check_rng
from .base import Prior, component_gradients, gaussian_components

__all__ = ["VampPrior"]


class VampPrior(Prior):
    """p(z) = (1/K) sum_k q(z | u_k) with K learned pseudo-inputs u_k.

    Parameters
    ----------
    components : int, default 500
        K, the number of pseudo-inputs (the VampPrior paper's MNIST setting is 500).
    pseudo_init : {"random", "data"}
        ``"random"``: u ~ N(0.05, 0.01^2) per pixel, as the VampPrior authors initialize them;
        ``"data"``: K training images, set by :meth:`init_from_data` before training (the
        command line does this).

    Parameter in the model's vector: ``prior.pseudo_inputs`` (K, D). Works with every posterior
    and encoder of the VAE (the pseudo-inputs go through the same encoder as the data).
    """

    name = "vamp"

    def __init__(self, components: int = 500, pseudo_init: str = "random"):
        self.components = check_positive_int(components, "components")
        self.pseudo_init = check_choice(pseudo_init, "pseudo_init", ("random", "data"))
        self.model = None
        self._pending = None

    def config(self):
        return {"name": self.name, "components": self.components, "pseudo_init": self.pseudo_init}

    def attach(self, model):
        super().attach(model)
        self.input_dim = model.input_dim
        self.model = model

    def param_shapes(self):
        return {"prior.pseudo_inputs": (self.components, self.input_dim)}

    def init(self, params, rng=None):
        rng = np.random.default_rng(0) if rng is None else rng
        u = params["prior.pseudo_inputs"]
        u[...] = 0.05 + 0.01 * rng.standard_normal(u.shape)

    def init_from_data(self, params, x, rng):
        """Set the pseudo-inputs to K training images drawn without replacement (x: (N, D))."""
        rng = check_rng(rng)
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValidationError(f"x: expected training images of shape (N, {self.input_dim}), got {x.shape}")
        if len(x) < self.components:
            raise ValidationError(f"x: the VampPrior starts its {self.components} pseudo-inputs from as many "
                                  f"training images, got {len(x)}")
        params["prior.pseudo_inputs"][...] = x[rng.choice(len(x), self.components, replace=False)]

    # -- the density --------------------------------------------------------------------------
    def _encoded(self, params):
        u = params["prior.pseudo_inputs"]
        return self.model.encoder_forward(u)

    def log_prob(self, z, params=None):
        """log p(z) = logsumexp_k log N(z | mu(u_k), exp(log_var(u_k))) - log K."""
        mu_u, lv_u, _ = self._encoded(params)
        return logsumexp(gaussian_components(z, mu_u, lv_u), axis=-1) - math.log(self.components)

    def log_prob_and_grad(self, z, params, weight):
        mu_u, lv_u, state = self._encoded(params)
        a = gaussian_components(z, mu_u, lv_u)
        lse = logsumexp(a, axis=-1)
        r = np.exp(a - lse[:, None])
        dz, dmu_u, dlv_u = component_gradients(z, r, mu_u, lv_u)
        # the loss holds -weight * sum_b log p(z_b); its share through the components waits for
        # the data's encoder pass to have written the encoder's gradient
        self._pending = (state, -weight * dmu_u, -weight * dlv_u)
        return lse - math.log(self.components), dz

    def after_encoder_backward(self, params):
        if self._pending is None:
            return
        state, dmu_u, dlv_u = self._pending
        self._pending = None
        du = self.model.encoder_backward(state, dmu_u.astype(params.dtype, copy=False),
                                         dlv_u.astype(params.dtype, copy=False),
                                         accumulate=True, need_dx=True)
        params.g("prior.pseudo_inputs")[...] += du

    def sample(self, n, rng, params=None, dtype=np.float64):
        """z ~ p(z): a pseudo-input k uniformly, then z ~ q(z | u_k)."""
        mu_u, lv_u, _ = self._encoded(params)
        k = rng.integers(0, self.components, size=n)
        return (mu_u[k] + np.exp(0.5 * lv_u[k]) * rng.standard_normal((n, self.dim))).astype(dtype)
