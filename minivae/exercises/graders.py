"""Graders of the first half's write-the-gradient exercises (notebooks 01-10, 13): each draws
random shapes and values and compares the student's backward pass with central differences and
with minivae's own."""
from __future__ import annotations

import numpy as np

from ..estimators import gaussian_score, gumbel_softmax, gumbel_softmax_backward, reinforce_gaussian
from ..estimators import reparameterize, reparameterize_backward
from ..kl import kl_categorical_uniform, kl_categorical_uniform_backward, kl_diag_normal
from ..kl import kl_diag_normal_backward, kl_isotropic_normal, kl_isotropic_normal_backward
from ..kl import log_normal_diag
from ..likelihoods import GaussianLearnedSigma, GaussianPerPixel, bernoulli_nll
from ..logspace import logsumexp, softmax
from ..params import Params
from .checks import _shape, check_gradient_exercise

__all__ = ["check_logsumexp_gradient", "check_gaussian_score", "check_bernoulli_gradient",
           "check_kl_diag_gradient", "check_kl_isotropic_gradient",
           "check_reparameterize_backward", "check_learned_sigma_gradient",
           "check_gaussian_perpixel_gradient", "check_reinforce_baseline",
           "check_gumbel_softmax_backward", "check_kl_categorical_gradient",
           "check_capacity_gradient", "capacity_penalty", "capacity_penalty_backward"]


def check_logsumexp_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(a)`` must return d/da logsumexp(a) along the last axis, summed over the rows: the
    posterior weights softmax(a) (notebook 01)."""
    draw = lambda rng: {"a": 3 * rng.standard_normal(_shape(rng, 4, 7))}
    check_gradient_exercise(exercise, lambda i: fn(i["a"]), lambda i: softmax(i["a"]),
                            lambda i: float(np.sum(logsumexp(i["a"]))), draw, ("a",), n_cases, seed,
                            reference_name="minivae.logspace.softmax")


def check_gaussian_score(fn, exercise="1", n_cases=3, seed=0):
    """``fn(z, mu, log_var)`` must return (d/dmu, d/dlog_var) of log N(z | mu, exp(log_var)),
    elementwise (notebook 02; the score REINFORCE multiplies)."""
    def draw(rng):
        s = _shape(rng, 4, 5)
        return {"z": rng.standard_normal(s), "mu": rng.standard_normal(s), "log_var": rng.normal(0, 0.7, s)}
    check_gradient_exercise(exercise, lambda i: fn(i["z"], i["mu"], i["log_var"]),
                            lambda i: gaussian_score(i["z"], i["mu"], i["log_var"]),
                            lambda i: float(np.sum(log_normal_diag(i["z"], i["mu"], i["log_var"]))),
                            draw, ("mu", "log_var"), n_cases, seed,
                            reference_name="minivae.estimators.gaussian_score")


def check_bernoulli_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(x, logits)`` must return d/dlogits of the summed binary cross-entropy on logits,
    for logits of any size (some are +-30: sigmoid must not overflow) (notebook 03)."""
    def draw(rng):
        s = _shape(rng, 4, 8)
        logits = 2 * rng.standard_normal(s)
        logits[rng.random(s) < 0.2] *= 15
        return {"x": rng.random(s), "logits": logits}
    check_gradient_exercise(exercise, lambda i: fn(i["x"], i["logits"]),
                            lambda i: bernoulli_nll(i["x"], i["logits"])[1],
                            lambda i: float(np.sum(bernoulli_nll(i["x"], i["logits"], need_grad=False)[0])),
                            draw, ("logits",), n_cases, seed,
                            reference_name="minivae.likelihoods.bernoulli_nll")


def check_kl_diag_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(mu, log_var)`` must return (dKL/dmu, dKL/dlog_var) of the summed diagonal Gaussian
    KL to N(0, I) (notebook 04)."""
    def draw(rng):
        s = _shape(rng, 4, 6)
        return {"mu": rng.standard_normal(s), "log_var": rng.normal(0, 1, s)}
    check_gradient_exercise(exercise, lambda i: fn(i["mu"], i["log_var"]),
                            lambda i: kl_diag_normal_backward(i["mu"], i["log_var"]),
                            lambda i: float(np.sum(kl_diag_normal(i["mu"], i["log_var"]))),
                            draw, ("mu", "log_var"), n_cases, seed,
                            reference_name="minivae.kl.kl_diag_normal_backward")


def check_kl_isotropic_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(mu, log_sigma)`` must return (dKL/dmu, dKL/dlog_sigma) of the summed isotropic KL,
    mu (B, d), log_sigma (B,) (notebooks 04 and 06: the factor d in front of log sigma)."""
    def draw(rng):
        B, d = _shape(rng, 4, 6)
        return {"mu": rng.standard_normal((B, d)), "log_sigma": rng.normal(0, 0.5, B)}
    check_gradient_exercise(exercise, lambda i: fn(i["mu"], i["log_sigma"]),
                            lambda i: kl_isotropic_normal_backward(i["mu"], i["log_sigma"]),
                            lambda i: float(np.sum(kl_isotropic_normal(i["mu"], i["log_sigma"]))),
                            draw, ("mu", "log_sigma"), n_cases, seed,
                            reference_name="minivae.kl.kl_isotropic_normal_backward")


def check_reparameterize_backward(fn, exercise="1", n_cases=3, seed=0):
    """``fn(dz, eps, std)`` must return (dL/dmu, dL/dlog_var) for z = mu + exp(log_var / 2) eps,
    given dL/dz (notebook 05). The loss checked is L = sum(dz * z)."""
    def draw(rng):
        s = _shape(rng, 4, 5)
        return {"mu": rng.standard_normal(s), "log_var": rng.normal(0, 0.7, s),
                "eps": rng.standard_normal(s), "dz": rng.standard_normal(s)}

    def std(i):
        return np.exp(0.5 * i["log_var"])
    check_gradient_exercise(exercise, lambda i: fn(i["dz"], i["eps"], std(i)),
                            lambda i: reparameterize_backward(i["dz"], i["eps"], std(i)),
                            lambda i: float(np.sum(i["dz"] * reparameterize(i["mu"], i["log_var"], i["eps"])[0])),
                            draw, ("mu", "log_var"), n_cases, seed,
                            reference_name="minivae.estimators.reparameterize_backward")


def check_learned_sigma_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(x, m, log_sigma)`` must return (d/dm, d/dlog_sigma) of the summed -log N(x | m,
    sigma^2 I) with one learned scalar log_sigma (notebook 06, lecture 000's sigma)."""
    lik = GaussianLearnedSigma()

    def draw(rng):
        s = _shape(rng, 4, 6)
        return {"x": rng.random(s), "m": rng.random(s), "log_sigma": rng.normal(-0.5, 0.5, 1)}

    def nll(i, grad):
        P = Params({"log_sigma": (1,)}, np.float64)
        P["log_sigma"][...] = i["log_sigma"]
        value, dm = lik.nll_and_grad(i["x"], i["m"].copy(), P, 1.0 if grad else None)
        return (dm, P.g("log_sigma").copy()) if grad else float(np.sum(value))
    check_gradient_exercise(exercise, lambda i: fn(i["x"], i["m"], float(i["log_sigma"][0])),
                            lambda i: nll(i, True), lambda i: nll(i, False), draw, ("m", "log_sigma"),
                            n_cases, seed, reference_name="minivae.likelihoods.GaussianLearnedSigma")


def check_gaussian_perpixel_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(x, m, v)`` must return (d/dm, d/dv) of the summed -log N(x | m, diag(exp(v))), with
    a log-variance v per pixel (notebook 07, lecture 004's decoder)."""
    lik = GaussianPerPixel()

    def draw(rng):
        s = _shape(rng, 4, 6)
        return {"x": rng.random(s), "m": rng.random(s), "v": rng.normal(-1, 1, s)}

    def nll(i, grad):
        D = i["x"].shape[1]
        value, g = lik.nll_and_grad(i["x"], np.concatenate([i["m"], i["v"]], axis=1), None,
                                    1.0 if grad else None)
        return (g[:, :D], g[:, D:]) if grad else float(np.sum(value))
    check_gradient_exercise(exercise, lambda i: fn(i["x"], i["m"], i["v"]), lambda i: nll(i, True),
                            lambda i: nll(i, False), draw, ("m", "v"), n_cases, seed,
                            reference_name="minivae.likelihoods.GaussianPerPixel")


def check_reinforce_baseline(fn, exercise="1", n_cases=3, seed=0):
    """``fn(f, z, mu, log_var, b)`` must return the per-sample REINFORCE estimates
    ((f - b) d/dmu log q(z), (f - b) d/dlog_var log q(z)) for q = N(mu, exp(log_var)), samples
    along axis 0, a constant baseline b (notebook 09). Their central-difference counterpart is
    the derivative of sum_s (f_s - b) log q(z_s) with f and z held fixed."""
    def draw(rng):
        S, n = _shape(rng, 6, 3)
        mu, lv = rng.standard_normal((S, n)), rng.normal(0, 0.5, (S, n))
        z = mu + np.exp(0.5 * lv) * rng.standard_normal((S, n))
        return {"f": z ** 2, "z": z, "mu": mu, "log_var": lv, "b": float(rng.normal(1, 1))}
    check_gradient_exercise(exercise, lambda i: fn(i["f"], i["z"], i["mu"], i["log_var"], i["b"]),
                            lambda i: reinforce_gaussian(i["f"], i["z"], i["mu"], i["log_var"], baseline=i["b"]),
                            lambda i: float(np.sum((i["f"] - i["b"]) * _log_normal_elementwise(i))),
                            draw, ("mu", "log_var"), n_cases, seed,
                            reference_name="minivae.estimators.reinforce_gaussian")


def _log_normal_elementwise(i):
    r = i["z"] - i["mu"]
    return -0.5 * (np.log(2 * np.pi) + i["log_var"] + r * r * np.exp(-i["log_var"]))


def check_gumbel_softmax_backward(fn, exercise="1", n_cases=3, seed=0):
    """``fn(dy, y, tau)`` must return dL/dlogits for y = softmax((logits + g) / tau), given dL/dy
    (notebook 09). The loss checked is L = sum(dy * y)."""
    def draw(rng):
        s = _shape(rng, 4, 6)
        return {"logits": rng.standard_normal(s), "g": -np.log(-np.log(rng.uniform(1e-9, 1, s))),
                "dy": rng.standard_normal(s), "tau": float(rng.choice([0.3, 0.7, 2.0]))}

    def y(i):
        return gumbel_softmax(i["logits"], i["g"], i["tau"])
    check_gradient_exercise(exercise, lambda i: fn(i["dy"], y(i), i["tau"]),
                            lambda i: gumbel_softmax_backward(i["dy"], y(i), i["tau"]),
                            lambda i: float(np.sum(i["dy"] * y(i))), draw, ("logits",), n_cases, seed,
                            reference_name="minivae.estimators.gumbel_softmax_backward")


def check_kl_categorical_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(logits)`` must return d/dlogits of the summed KL(softmax(logits) || uniform),
    logits (B, N, K) (notebook 10)."""
    draw = lambda rng: {"logits": 2 * rng.standard_normal(_shape(rng, 3, 4, 6))}
    check_gradient_exercise(exercise, lambda i: fn(i["logits"]),
                            lambda i: kl_categorical_uniform_backward(i["logits"]),
                            lambda i: float(np.sum(kl_categorical_uniform(i["logits"]))),
                            draw, ("logits",), n_cases, seed,
                            reference_name="minivae.kl.kl_categorical_uniform_backward")


def capacity_penalty(mu, log_var, gamma, capacity):
    """sum_b gamma |KL(q_b || N(0, I)) - C|: the capacity-controlled beta-VAE's regularizer
    (Burgess et al. 2018), q_b = N(mu_b, diag(exp(log_var_b))), one KL per row."""
    return float(np.sum(gamma * np.abs(kl_diag_normal(mu, log_var) - capacity)))


def capacity_penalty_backward(mu, log_var, gamma, capacity):
    """(d/dmu, d/dlog_var) of :func:`capacity_penalty`: gamma sign(KL_b - C) times the KL's own
    derivatives mu and (exp(log_var) - 1) / 2 (lecture 002), row by row."""
    sign = np.sign(kl_diag_normal(mu, log_var) - capacity)[:, None]
    dmu, dlv = kl_diag_normal_backward(mu, log_var)
    return gamma * sign * dmu, gamma * sign * dlv


def check_capacity_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(mu, log_var, gamma, capacity)`` must return (d/dmu, d/dlog_var) of
    sum_b gamma |KL(N(mu_b, diag exp(log_var_b)) || N(0, I)) - C| (notebook 13). The rows are
    drawn with KL at least 0.2 nats away from C on either side, where the penalty is smooth."""
    def draw(rng):
        B, d = _shape(rng, 5, 4)
        while True:     # a row with KL near C would sit on the kink of |.|: draw again
            mu, lv = rng.normal(0, 1.2, (max(B, 2), d)), rng.normal(0, 0.8, (max(B, 2), d))
            kl = kl_diag_normal(mu, lv)
            capacity = float(np.mean(kl))
            if np.abs(kl - capacity).min() > 0.2:
                return {"mu": mu, "log_var": lv, "gamma": float(rng.choice([1.0, 10.0, 100.0])),
                        "capacity": capacity}

    def args(i):
        return i["mu"], i["log_var"], i["gamma"], i["capacity"]
    check_gradient_exercise(exercise, lambda i: fn(*args(i)), lambda i: capacity_penalty_backward(*args(i)),
                            lambda i: capacity_penalty(*args(i)), draw, ("mu", "log_var"), n_cases, seed,
                            reference_name="gamma sign(KL - C) times minivae.kl.kl_diag_normal_backward")
