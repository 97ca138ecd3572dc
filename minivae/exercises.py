"""Checks for the notebooks' exercises: each says plainly whether an answer is right, and if not,
what differs.

Every exercise of a notebook is a pair of cells in nbgrader's format (see ``docs/notation.md``
and ``notebooks/student_edition.py``): a *solution cell* that defines a function, its body
between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, and a *check cell* that calls one of the
functions below on that function.

A check either prints one line, ``✓ exercise 1: correct ...``, or raises
:class:`ExerciseNotPassed`, an ``AssertionError`` whose message is one plain line,

    ✗ exercise 1, not yet: d/dlog_var differs from central differences: worst entry at index
    (2, 1): expected 0.8591, got 1.718 (12 of 12 entries differ)

or, for a student edition's stub, ``✗ exercise 1, not yet: not answered (NotImplementedError:
<hint>)``. Raising is what nbgrader's autograder counts (a test cell that raises scores 0); in
Jupyter the exception shows as that one line, without a traceback (IPython prints what
``_render_traceback_`` returns). A student's function that raises anything else is reported the
same way, with the error's type and message, never as a traceback into minivae.

Gradient exercises (``check_*_gradient``, ``check_*_backward``) draw random shapes and values
from a seeded generator, and compare the student's derivative with central differences of the
forward function in float64 (:func:`minivae.gradcheck.numerical_gradient`) and with minivae's own
backward pass.

:func:`check_environment` is the first code cell of every notebook: one line saying that all is
well, or what to do.
"""
from __future__ import annotations

import os

import numpy as np

from . import __version__, datasets
from .errors import DataFileError, MinivaeError, ValidationError
from .estimators import gaussian_score, gumbel_softmax, gumbel_softmax_backward, reinforce_gaussian
from .estimators import reparameterize, reparameterize_backward
from .gradcheck import numerical_gradient
from .kl import kl_categorical_uniform, kl_categorical_uniform_backward, kl_diag_normal
from .kl import kl_diag_normal_backward, kl_isotropic_normal, kl_isotropic_normal_backward
from .kl import log_normal_diag
from .likelihoods import GaussianLearnedSigma, GaussianPerPixel, bernoulli_nll
from .logspace import logsumexp, softmax
from .inference import negative_elbo, negative_elbo_and_grad
from .mixture import GaussianMixture
from .models import VAE
from .params import Params

__all__ = ["ExerciseNotPassed", "check_array", "check_value", "check_true", "check_gradient_exercise",
           "check_logsumexp_gradient", "check_gaussian_score", "check_bernoulli_gradient",
           "check_kl_diag_gradient", "check_kl_isotropic_gradient", "check_reparameterize_backward",
           "check_learned_sigma_gradient", "check_gaussian_perpixel_gradient", "check_reinforce_baseline",
           "check_gumbel_softmax_backward", "check_kl_categorical_gradient", "check_gmm_m_step",
           "check_local_elbo_gradient", "check_environment"]

PASS, FAIL = "✓", "✗"


class ExerciseNotPassed(AssertionError):
    """An exercise's answer is missing or wrong; the message says which, and what differs.

    ``answered`` is False when the student's function raised ``NotImplementedError`` (the stub
    of a student edition).
    """

    def __init__(self, message, exercise="", answered=True):
        super().__init__(message)
        self.exercise = exercise
        self.answered = answered

    def _render_traceback_(self):
        # IPython shows these lines instead of a traceback: the student reads one message.
        return [f"{self.args[0]}"]


def _label(exercise):
    exercise = str(exercise)
    return exercise if exercise.lower().startswith("exercise") else f"exercise {exercise}"


def _fail(exercise, text, answered=True):
    raise ExerciseNotPassed(f"{FAIL} {_label(exercise)}, not yet: {text}", exercise, answered)


def _passed(exercise, text):
    print(f"{PASS} {_label(exercise)}: correct{': ' if text else ''}{text}")


def _call(exercise, fn, *args):
    """``fn(*args)``, with whatever the student's code raises turned into a plain report."""
    try:
        return fn(*args)
    except NotImplementedError as exc:
        hint = str(exc) or "replace the stub by your answer"
        _fail(exercise, f"not answered (NotImplementedError: {hint})", answered=False)
    except ExerciseNotPassed:
        raise
    except Exception as exc:   # the student's bug, reported as a message, not a traceback
        _fail(exercise, f"your code raised {type(exc).__name__}: {exc}")


def _fmt(v):
    return f"{v:.6g}" if np.ndim(v) == 0 and np.isreal(v) else repr(v)


def _as_numbers(exercise, what, value):
    if value is None:
        _fail(exercise, f"{what} is None: does your function end with a `return`?")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        _fail(exercise, f"{what}: expected numbers, got {type(value).__name__} {value!r:.80}")


def _difference(given, expected, rtol, atol):
    """None if ``given`` matches ``expected`` entrywise, else a sentence naming the worst entry."""
    if given.shape != expected.shape:
        return f"expected shape {expected.shape}, got {given.shape}"
    bad_given = ~np.isfinite(given) & np.isfinite(expected)
    if bad_given.any():
        i = np.unravel_index(np.argmax(bad_given), given.shape) if given.ndim else ()
        return (f"entry {tuple(int(k) for k in i)} is {given[i]}, expected {_fmt(expected[i])} "
                f"({int(bad_given.sum())} of {given.size} entries not finite)")
    excess = np.abs(given - expected) - (atol + rtol * np.abs(expected))
    excess = np.where(np.isnan(excess), 0.0, excess)
    if not (excess > 0).any():
        return None
    i = np.unravel_index(np.argmax(excess), given.shape) if given.ndim else ()
    where = f"at index {tuple(int(k) for k in i)}" if given.ndim else ""
    return (f"worst entry {where}: expected {_fmt(expected[i])}, got {_fmt(given[i])} "
            f"({int((excess > 0).sum())} of {given.size} entries differ by more than "
            f"{atol:g} + {rtol:g} |expected|)").replace("entry :", "entry:")


def check_array(exercise, given, expected, rtol=1e-6, atol=1e-9, name="your answer"):
    """Compare an answer with the expected array entry by entry; report the worst entry.

    Parameters
    ----------
    exercise : str or int, shown in the message ("exercise 2")
    given : array_like, or a callable taking no argument that returns it (then a
        ``NotImplementedError`` raised by the student's stub is reported as "not answered")
    expected : array_like
    rtol, atol : an entry passes when |given - expected| <= atol + rtol |expected|
    name : what the answer is called in the message

    Raises
    ------
    ExerciseNotPassed
        With the plain message, when the answer is missing or differs.
    """
    if callable(given):
        given = _call(exercise, given)
    given = _as_numbers(exercise, name, given)
    expected = np.asarray(expected, dtype=np.float64)
    diff = _difference(given, expected, rtol, atol)
    if diff is not None:
        _fail(exercise, f"{name}: {diff}")
    _passed(exercise, "" if given.size > 1 else f"{name} = {_fmt(given.reshape(-1)[0])}")


def check_value(exercise, given, expected, rtol=1e-6, atol=1e-9, name="your answer"):
    """:func:`check_array` for one number."""
    check_array(exercise, given, np.asarray(expected, dtype=np.float64).reshape(()), rtol, atol, name)


def check_true(exercise, given, why):
    """Pass when ``given`` (a value, or a callable returning it) is truthy; ``why`` says what
    a wrong answer gets wrong ("the mode-seeking direction is KL(q || p)")."""
    if callable(given):
        given = _call(exercise, given)
    if given is None:
        _fail(exercise, "your answer is None: does your function end with a `return`?")
    if not bool(given):
        _fail(exercise, why)
    _passed(exercise, "")


# ------------------------------------------------------------------------------------------------
# Gradients: central differences and minivae's own backward pass
# ------------------------------------------------------------------------------------------------
def check_gradient_exercise(exercise, student, reference, loss, draw, wrt, n_cases=3, seed=0,
                            rtol=1e-5, atol=1e-7, reference_name="minivae"):
    """Grade a hand-written derivative on random inputs.

    For each of ``n_cases`` draws, the student's gradient must match central differences of
    ``loss`` (float64, step 1e-5) within ``atol + rtol |numeric|`` entrywise, and minivae's own
    ``reference`` more tightly (1e-8 relative), so that a derivative right only up to
    finite-difference noise, or of another convention (a sum against a mean), is caught.

    Parameters
    ----------
    exercise : label for the messages
    student, reference : callables ``f(inputs) -> gradient or tuple of gradients``, one per name
        in ``wrt``, each of the shape of ``inputs[name]``
    loss : callable ``loss(inputs) -> float``, the scalar differentiated
    draw : callable ``draw(rng) -> dict`` of float64 arrays (random shapes and values)
    wrt : tuple of names of ``inputs`` the gradient is taken with respect to
    reference_name : how the messages call ``reference``

    Raises
    ------
    ExerciseNotPassed
    """
    rng = np.random.default_rng(seed)
    worst = 0.0
    for case in range(1, n_cases + 1):
        inputs = draw(rng)
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in inputs.items() if np.ndim(v))
        where = f"case {case} of {n_cases} ({shapes})"
        frozen = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}
        given = _call(exercise, student, frozen)
        given = given if isinstance(given, (tuple, list)) else (given,)
        if len(given) != len(wrt):
            _fail(exercise, f"expected {len(wrt)} gradient(s), one for each of {', '.join(wrt)}; "
                            f"your function returned {len(given)}")
        expected = reference(inputs)
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        for name, g, ref in zip(wrt, given, expected):
            g = _as_numbers(exercise, f"the gradient for {name}", g)
            if g.size == 1 and np.size(inputs[name]) == 1:    # a scalar parameter: float or (1,)
                g = g.reshape(np.shape(inputs[name]))
            numeric = numerical_gradient(lambda: loss(inputs), inputs[name])
            diff = _difference(g, numeric, rtol, atol)
            if diff is not None:
                _fail(exercise, f"d/d{name} differs from central differences on {where}: {diff}")
            diff = _difference(g, np.asarray(ref, dtype=np.float64), 1e-8, 1e-12)
            if diff is not None:
                _fail(exercise, f"d/d{name} matches central differences but differs from "
                                f"{reference_name} on {where}: {diff}")
            scale = np.abs(numeric).max(initial=0.0) + 1e-12
            worst = max(worst, float(np.abs(g - numeric).max(initial=0.0) / scale))
    _passed(exercise, f"matches central differences (worst difference {worst:.1e} of the largest entry) "
                      f"and {reference_name} on {n_cases} random cases")


def _shape(rng, *maximum):
    return tuple(int(rng.integers(1, m + 1)) for m in maximum)


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


def check_gmm_m_step(fn, exercise="1", n_cases=3, seed=0):
    """``fn(x, q)`` must return the M-step of a Gaussian mixture with full covariances,
    (weights (K,), means (K, D), covariances (K, D, D)), for data x (N, D) and responsibilities
    q (N, K): pi_c = N_c / N, m_c = sum_n q_nc x_n / N_c, S_c = sum_n q_nc (x_n - m_c)(x_n - m_c)^T / N_c
    (notebook 11), compared with ``minivae.mixture.GaussianMixture.m_step``."""
    rng = np.random.default_rng(seed)
    for case in range(1, n_cases + 1):
        n, d, k = int(rng.integers(8, 30)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        x = rng.standard_normal((n, d)) * rng.uniform(0.5, 3) + rng.standard_normal(d)
        q = rng.dirichlet(np.ones(k), size=n)
        given = _call(exercise, fn, x.copy(), q.copy())
        if not isinstance(given, (tuple, list)) or len(given) != 3:
            _fail(exercise, "expected three arrays (weights, means, covariances), got "
                            f"{type(given).__name__}")
        gm = GaussianMixture(k, covariance_type="full", reg_covar=1e-300).m_step(x, q)
        where = f"case {case} of {n_cases} (N={n}, D={d}, K={k})"
        for name, g, ref in zip(("weights", "means", "covariances"), given,
                                (gm.weights_, gm.means_, gm.covariances_)):
            diff = _difference(_as_numbers(exercise, name, g), ref, 1e-8, 1e-10)
            if diff is not None:
                _fail(exercise, f"{name} on {where}: {diff}")
    _passed(exercise, f"the weights, means and covariances of GaussianMixture.m_step on {n_cases} random cases")


def _linear_decoder_vae(A, c, sigma):
    """A float64 VAE whose decoder mean is exactly z A^T + c (relu(a) - relu(-a) = a through 2d
    hidden units) and whose likelihood is N(x | decoder mean, sigma^2 I)."""
    D, d = A.shape
    model = VAE(input_dim=D, latent_dim=d, hidden=(2 * d,), likelihood={"name": "gaussian", "sigma": sigma},
                dtype="float64", seed=0)
    P = model.params
    P["dec.0.W"][...] = np.hstack([np.eye(d), -np.eye(d)])
    P["dec.0.b"][...] = 0
    P["dec.1.W"][...] = np.vstack([A.T, -A.T])
    P["dec.1.b"][...] = c
    return model


def check_local_elbo_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(x, A, c, sigma, mu, v, eps)`` must return (d/dmu, d/dv) of the summed negative ELBO of
    per-example Gaussians q_i = N(mu_i, diag e^{v_i}) under the linear-Gaussian model
    p(z) = N(0, I), p(x | z) = N(x | A z + c, sigma^2 I), with L samples per example held fixed:

        sum_i [ (1/L) sum_l ||x_i - A z_il - c||^2 / (2 sigma^2) + KL(q_i || N(0, I)) ] + const,
        z_il = mu_i + e^{v_i / 2} eps_il,

    x (n, D), A (D, d), c (D,), mu and v (n, d), eps (n, L, d) (notebook 11). Compared with
    central differences and with ``minivae.inference.negative_elbo_and_grad``."""
    def draw(rng):
        n, L, d, D = (int(rng.integers(1, m + 1)) for m in (3, 4, 3, 5))
        return {"x": rng.standard_normal((n, D)), "A": rng.standard_normal((D, d)), "c": rng.standard_normal(D),
                "sigma": float(rng.uniform(0.5, 1.5)), "mu": rng.standard_normal((n, d)),
                "v": rng.normal(0, 0.5, (n, d)), "eps": rng.standard_normal((n, L, d))}

    def model(i):
        return _linear_decoder_vae(i["A"], i["c"], i["sigma"])

    check_gradient_exercise(exercise, lambda i: fn(i["x"], i["A"], i["c"], i["sigma"], i["mu"], i["v"], i["eps"]),
                            lambda i: negative_elbo_and_grad(model(i), i["x"], i["mu"], i["v"], i["eps"])[1:],
                            lambda i: float(np.sum(negative_elbo(model(i), i["x"], i["mu"], i["v"], i["eps"]))),
                            draw, ("mu", "v"), n_cases, seed,
                            reference_name="minivae.inference.negative_elbo_and_grad")


# ------------------------------------------------------------------------------------------------
# The first cell of every notebook
# ------------------------------------------------------------------------------------------------
def _version_tuple(text):
    parts = []
    for piece in str(text).split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def environment_problems(min_version="0.1.0", data=()):
    """What stands between this installation and a notebook: a list of one-line instructions
    (empty when all is well), and a list of notes (data found, data to be downloaded)."""
    problems, notes = [], []
    if _version_tuple(__version__) < _version_tuple(min_version):
        problems.append(f"minivae {__version__} is older than this notebook needs ({min_version}): "
                        f"run `pip install -e .` in the minivae folder again, then restart the kernel")
    where = "the folder named by MINIVAE_DATA" if os.environ.get(datasets.ENV_VAR) else "./data"
    for name in data:
        try:
            for split in ("train", "test"):
                datasets.fetch(name, split, download=False)
        except DataFileError as exc:
            text = str(exc)
            if "missing" in text:
                notes.append(f"{name} is not in {where} yet: it will be downloaded there on first use "
                             f"(or set MINIVAE_DATA to a folder that has it, then restart the kernel)")
            else:
                problems.append(text.splitlines()[0])
        except (MinivaeError, OSError) as exc:
            problems.append(f"{name}: {exc}")
        else:
            notes.append(f"{name} found in {where}")
    return problems, notes


def check_environment(min_version="0.1.0", data=()):
    """Print one line: all is well, or what to do. Never raises.

    Parameters
    ----------
    min_version : the oldest minivae the notebook runs with
    data : names of the data sets the notebook loads (found as ``minivae.datasets.load`` finds
        them: MINIVAE_DATA, else ./data, downloaded on first use)

    Returns
    -------
    bool : True when nothing has to be done first.
    """
    try:
        if not isinstance(data, (list, tuple)):
            raise ValidationError(f"data: expected a list of data set names, got {data!r}")
        problems, notes = environment_problems(min_version, data)
    except Exception as exc:   # this cell must never greet a student with a traceback
        problems, notes = [f"could not check the environment ({type(exc).__name__}: {exc})"], []
    if problems:
        print(f"{FAIL} before you start: " + "; ".join(problems))
        return False
    print(f"{PASS} environment: minivae {__version__}, numpy {np.__version__}"
          + "".join(f"; {n}" for n in notes))
    return True
