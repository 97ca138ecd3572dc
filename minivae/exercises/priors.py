"""Graders of notebook 12's exercises: the mixture prior, VaDE's bound, the VampPrior."""
from __future__ import annotations

import numpy as np

from ..logspace import log_softmax, logsumexp, softmax
from ..params import Params
from ..priors import MixturePrior
from ..priors.base import gaussian_components
from .checks import _as_numbers, _call, _difference, _fail, _passed, _shape, check_gradient_exercise

__all__ = ["check_mixture_log_prob_gradient", "check_vade_kl_gradient",
           "check_optimal_cluster_posterior", "check_vamp_log_prob"]


def _draw_mixture(rng):
    """A mixture prior's parameters (K components in d dimensions) and codes near them."""
    K, d, B = int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(2, 6))
    return {"z": rng.normal(0, 1.5, (B, d)), "mu": rng.normal(0, 1.5, (B, d)), "log_var": rng.normal(-0.5, 0.7, (B, d)),
            "logits": rng.normal(0, 1, K), "means": rng.normal(0, 1.5, (K, d)), "log_vars": rng.normal(0, 0.5, (K, d))}


def _draw_prior_only(rng):
    i = _draw_mixture(rng)
    return {k: v for k, v in i.items() if k not in ("mu", "log_var")}


def _mixture(i):
    """minivae's MixturePrior (VaDE's bound) holding the parameters of ``i``, float64."""
    prior = MixturePrior(len(i["logits"]), kl="vade")
    prior.dim = i["means"].shape[1]
    P = Params(prior.param_shapes(), np.float64, accumulate=list(prior.param_shapes()))
    for name in ("logits", "means", "log_vars"):
        P[f"prior.{name}"][...] = i[name]
    return prior, P


def check_mixture_log_prob_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(z, logits, means, log_vars)`` must return d/dz of sum_b log p(z_b) for the mixture
    p(z) = sum_c softmax(logits)_c N(z | means_c, diag(exp(log_vars_c))), z (B, d) (notebook 12)."""
    def reference(i):
        prior, P = _mixture(i)
        return prior.log_prob_and_grad(i["z"], P, 0.0)[1]

    def loss(i):
        prior, P = _mixture(i)
        return float(np.sum(prior.log_prob(i["z"], P)))
    check_gradient_exercise(exercise, lambda i: fn(i["z"], i["logits"], i["means"], i["log_vars"]), reference, loss,
                            _draw_prior_only, ("z",), n_cases, seed,
                            reference_name="minivae.priors.MixturePrior.log_prob_and_grad")


def check_vade_kl_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(mu, log_var, gamma, means, log_vars)`` must return (d/dmu, d/dlog_var) of the summed
    VaDE KL with gamma = p(c | z) held fixed (the sample z held fixed) (notebook 12)."""
    def student(i):
        prior, P = _mixture(i)
        return fn(i["mu"], i["log_var"], prior.responsibilities(i["z"], P), i["means"], i["log_vars"])

    def reference(i):
        prior, P = _mixture(i)
        return prior.kl_and_grad(i["mu"], i["log_var"], i["z"], P, 1.0)[1:3]

    def loss(i):
        prior, P = _mixture(i)
        return float(np.sum(prior.kl_estimate(i["mu"], i["log_var"], i["z"], P)))
    check_gradient_exercise(exercise, student, reference, loss, _draw_mixture, ("mu", "log_var"), n_cases, seed,
                            reference_name="minivae.priors.MixturePrior.kl_and_grad")


def _cases(exercise, fn, expected, draw, args, n_cases, seed, what):
    """Call ``fn(*args(inputs))`` on random inputs and compare it with ``expected(inputs)``."""
    rng = np.random.default_rng(seed)
    for case in range(1, n_cases + 1):
        i = draw(rng)
        given = _as_numbers(exercise, what, _call(exercise, fn, *args(i)))
        diff = _difference(given, expected(i), 1e-8, 1e-10)
        if diff is not None:
            _fail(exercise, f"{what}, case {case} of {n_cases}: {diff}")
    _passed(exercise, f"{what} matches on {n_cases} random cases")


def check_optimal_cluster_posterior(fn, exercise="1", n_cases=3, seed=0):
    """``fn(mu, log_var, logits, means, log_vars)`` must return the q(c | x), (B, K), that
    minimizes KL(q(z | x) q(c | x) || p(z, c)) for q(z | x) = N(mu, diag(exp(log_var))):
    softmax_c(log pi_c + E_q log N(z | m_c, s_c)) (notebook 12)."""
    def expected(i):
        logits = log_softmax(i["logits"]) + gaussian_components(i["mu"], i["means"], i["log_vars"]) \
            - 0.5 * np.exp(i["log_var"]) @ np.exp(-i["log_vars"]).T
        return softmax(logits)
    _cases(exercise, fn, expected, _draw_mixture,
           lambda i: (i["mu"], i["log_var"], i["logits"], i["means"], i["log_vars"]), n_cases, seed,
           "the best q(c | x)")


def check_vamp_log_prob(fn, exercise="1", n_cases=3, seed=0):
    """``fn(z, mu_u, log_var_u)`` must return log p(z), (B,), for the VampPrior
    p(z) = (1/K) sum_k N(z | mu_u[k], diag(exp(log_var_u[k]))); some z lie far from every
    component, where exp of the log-densities underflows (notebook 12)."""
    def draw(rng):
        (B, K), d = _shape(rng, 5, 6), int(rng.integers(2, 5))
        z = rng.normal(0, 1.5, (B + 1, d))
        z[-1] = 40.0                                 # log N ~ -800: exp() underflows to 0
        return {"z": z, "mu_u": rng.normal(0, 1.5, (K, d)), "log_var_u": rng.normal(-0.5, 0.5, (K, d))}

    def expected(i):
        return logsumexp(gaussian_components(i["z"], i["mu_u"], i["log_var_u"]), axis=-1) - np.log(len(i["mu_u"]))
    _cases(exercise, fn, expected, draw, lambda i: (i["z"], i["mu_u"], i["log_var_u"]), n_cases, seed,
           "log p(z)")
