"""A mixture-of-Gaussians prior, and VaDE's bound with a cluster variable (lecture 001).

The prior: a cluster c ~ Cat(pi) and z given c ~ N(m_c, diag(exp(s_c))), so ::

    p(z) = sum_c pi_c N(z | m_c, diag(exp(s_c))),        pi = softmax(logits),

with the logits, means m_c and log-variances s_c learned with the networks. Its KL to a Gaussian
q(z given x) has no closed form. Two bounds are on offer (``kl``):

* ``"sampled"``: the KL estimated at the reparameterized z as -H(q) - log p(z) (the fall-back
  of every prior, :class:`~minivae.priors.base.Prior`): the bound of the VAE with p(z) as its
  prior.
* ``"vade"``: VaDE's bound (Jiang et al. 2017). The cluster is a latent variable too, with
  q(z, c given x) = q(z given x) q(c given x) (lecture 001's "VaDE assumption"), and
  q(c given x) = gamma = p(c given z) at the sampled z, the posterior of the cluster given the
  code. Given gamma every term has a closed form::

    KL(q(z, c | x) || p(z, c)) = E_q[log q(z | x)] + sum_c gamma_c log gamma_c
                                 - sum_c gamma_c log pi_c - sum_c gamma_c E_q[log N(z | m_c, s_c)],
    E_q[log q(z | x)] = -H(q) = -1/2 sum_j (1 + log 2 pi + log sigma_j^2),
    E_q[log N(z | m_c, s_c)] = -1/2 sum_j [log 2 pi + s_cj + (sigma_j^2 + (mu_j - m_cj)^2) exp(-s_cj)].

Any q(c given x) gives a lower bound on log p(x); this one is at least the KL of q(z given x)
to p(z) (the KL of the joint is never below the KL of a marginal), so its bound is a little looser than the
"sampled" one and in exchange it assigns every example to clusters, which is what VaDE is for.

The gradient of VaDE's KL (derived in :meth:`MixturePrior.kl_and_grad`) flows through gamma
too: gamma is a function of z and of the prior's parameters, and the tests hold the whole
expression to central differences.
"""
from __future__ import annotations

import numpy as np

from ..kl import gaussian_entropy
from ..logspace import log_softmax, logsumexp
from ..runtime.validation import check_choice, check_positive_int
from .base import Prior, component_gradients, gaussian_components

__all__ = ["MixturePrior"]


class MixturePrior(Prior):
    """p(z) = sum_c pi_c N(z | m_c, diag(exp(s_c))) with learned pi, m and s.

    Parameters
    ----------
    components : int
        K, the number of Gaussians (clusters).
    kl : {"vade", "sampled"}
        The KL term of the bound, see the module docstring.

    Parameters in the model's vector: ``prior.logits`` (K,), ``prior.means`` (K, d),
    ``prior.log_vars`` (K, d); initialized to pi uniform, means ~ N(0, I), unit variances
    (:func:`minivae.vade.init_mixture_prior` starts them from a mixture fitted to codes instead).
    """

    name = "mog"

    def __init__(self, components: int = 10, kl: str = "vade"):
        self.components = check_positive_int(components, "components")
        self.kl_mode = check_choice(kl, "kl", ("vade", "sampled"))

    def config(self):
        cfg = {"name": self.name, "components": self.components}
        if self.kl_mode != "vade":
            cfg["kl"] = self.kl_mode
        return cfg

    def param_shapes(self):
        K, d = self.components, self.dim
        return {"prior.logits": (K,), "prior.means": (K, d), "prior.log_vars": (K, d)}

    def init(self, params, rng=None):
        rng = np.random.default_rng(0) if rng is None else rng
        params["prior.logits"][...] = 0
        params["prior.means"][...] = rng.standard_normal(params["prior.means"].shape)
        params["prior.log_vars"][...] = 0

    # -- the density --------------------------------------------------------------------------
    def log_weights(self, params):
        """log pi_c = logits_c - logsumexp(logits), (K,)."""
        return log_softmax(params["prior.logits"])

    def log_joint(self, z, params):
        """log p(z, c) = log pi_c + log N(z | m_c, s_c) for every c: shape z.shape[:-1] + (K,)."""
        return self.log_weights(params) + gaussian_components(z, params["prior.means"], params["prior.log_vars"])

    def log_prob(self, z, params=None):
        """log p(z) = logsumexp_c [log pi_c + log N(z | m_c, s_c)]."""
        return logsumexp(self.log_joint(z, params), axis=-1)

    def responsibilities(self, z, params):
        """p(c | z) = pi_c N(z | m_c, s_c) / p(z), shape z.shape[:-1] + (K,)."""
        a = self.log_joint(z, params)
        return np.exp(a - logsumexp(a, axis=-1)[..., None])

    def log_prob_and_grad(self, z, params, weight):
        """log p(z) and d log p / dz = sum_c p(c | z) (m_c - z) exp(-s_c); adds the gradient of
        -weight * sum_b log p(z_b) with respect to the logits, means and log-variances.

        With r = p(c | z): d log p/dm_c = r_c (z - m_c) P_c, d log p/ds_c = r_c ((z - m_c)^2 P_c - 1)/2,
        d log p/dlogits_c = r_c - pi_c (log pi = logits - logsumexp(logits)).
        """
        a = self.log_joint(z, params)
        lp = logsumexp(a, axis=-1)
        r = np.exp(a - lp[:, None])
        m, s = params["prior.means"], params["prior.log_vars"]
        dz, dm, ds = component_gradients(z, r, m, s)
        pi = np.exp(self.log_weights(params))
        params.g("prior.logits")[...] += -weight * (r.sum(axis=0) - len(z) * pi)
        params.g("prior.means")[...] += -weight * dm
        params.g("prior.log_vars")[...] += -weight * ds
        return lp, dz

    def sample(self, n, rng, params=None, dtype=np.float64, return_components=False):
        """z ~ p(z): a cluster c ~ Cat(pi), then z ~ N(m_c, diag(exp(s_c))); with
        ``return_components`` also the clusters drawn."""
        pi = np.exp(self.log_weights(params).astype(np.float64))
        c = rng.choice(self.components, size=n, p=pi / pi.sum())
        m, s = params["prior.means"][c], params["prior.log_vars"][c]
        z = (m + np.exp(0.5 * s) * rng.standard_normal(m.shape)).astype(dtype)
        return (z, c) if return_components else z

    # -- VaDE's bound -------------------------------------------------------------------------
    def _vade_terms(self, mu, log_var, z, params):
        """gamma = p(c | z), log gamma and f_c = log pi_c + E_q log N(z | m_c, s_c) - log gamma_c."""
        m, s = params["prior.means"], params["prior.log_vars"]
        a = self.log_joint(z, params)
        log_gamma = a - logsumexp(a, axis=-1)[:, None]
        gamma = np.exp(log_gamma)
        var = np.exp(log_var)
        # E_q log N_c: gaussian_components at mu, plus the expected spread -1/2 sum_j sigma_j^2 P_cj
        expected = gaussian_components(mu, m, s) - 0.5 * (var @ np.exp(-s).T)
        f = self.log_weights(params) + expected - log_gamma
        return gamma, f, var

    def kl_estimate(self, mu, log_var, z, params=None):
        if self.kl_mode == "sampled":
            return super().kl_estimate(mu, log_var, z, params)
        gamma, f, _ = self._vade_terms(mu, log_var, z, params)
        return -np.sum(gamma * f, axis=1) - gaussian_entropy(log_var)

    def kl_and_grad(self, mu, log_var, z, params, weight):
        """VaDE's KL (module docstring) and the gradient of ``weight * sum_b KL_b``.

        Write ::

            KL = -sum_c gamma_c f_c - H(q),     f_c = log pi_c + E_c - log gamma_c,
            E_c = E_q log N(z | m_c, s_c),       gamma = softmax(a),   a_c = log pi_c + log N(z | m_c, s_c).

        Holding gamma fixed (P_c = exp(-s_c), sigma^2 = exp(log_var)) ::

            dKL/dmu = sum_c gamma_c (mu - m_c) P_c,
            dKL/dlog_var = sigma^2 sum_c gamma_c P_c / 2 - 1/2,
            dKL/dm_c = -gamma_c (mu - m_c) P_c,
            dKL/ds_c = gamma_c [1 - (sigma^2 + (mu - m_c)^2) P_c] / 2,
            dKL/dlogits = -(gamma - pi).

        Through gamma: d(sum_c gamma_c f_c)/dgamma_c = f_c - 1 and the softmax Jacobian give ::

            delta_c = dKL/da_c = -gamma_c (f_c - sum_k gamma_k f_k),

        which reaches z, m and s through the component log-densities
        (:func:`~minivae.priors.base.component_gradients` with the weights delta) and the logits
        through log pi_c (delta - pi sum_c delta_c).
        """
        if self.kl_mode == "sampled":
            return super().kl_and_grad(mu, log_var, z, params, weight)
        m, s = params["prior.means"], params["prior.log_vars"]
        prec = np.exp(-s)
        gamma, f, var = self._vade_terms(mu, log_var, z, params)
        mean_f = np.sum(gamma * f, axis=1)
        kl = -mean_f - gaussian_entropy(log_var)
        gP = gamma @ prec                                           # (B, d): sum_c gamma_c P_c
        g_mu = weight * (mu * gP - gamma @ (m * prec))
        g_lv = weight * (0.5 * var * gP - 0.5)
        g_total = gamma.sum(axis=0)[:, None]
        gmu = gamma.T @ mu
        dm = -prec * (gmu - g_total * m)
        ds = 0.5 * (g_total - prec * (gamma.T @ (var + mu * mu) - 2.0 * m * gmu + g_total * m * m))
        pi = np.exp(self.log_weights(params))
        dlogits = -(gamma.sum(axis=0) - len(z) * pi)
        delta = -gamma * (f - mean_f[:, None])
        g_z, dm_a, ds_a = component_gradients(z, delta, m, s)
        dlogits += delta.sum(axis=0) - pi * delta.sum()
        params.g("prior.logits")[...] += weight * dlogits
        params.g("prior.means")[...] += weight * (dm + dm_a)
        params.g("prior.log_vars")[...] += weight * (ds + ds_a)
        return kl, g_mu, g_lv, weight * g_z

    def cluster_of(self, mu, params):
        """The most probable cluster of each code, argmax_c p(c | z = mu) (VaDE's assignment)."""
        return np.argmax(self.log_joint(mu, params), axis=-1)

