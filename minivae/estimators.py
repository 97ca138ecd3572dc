"""Gradient estimators for expectations over distributions that depend on the parameters.

The question of lectures 000 and 001: how to estimate d/dpsi E_{q(z|psi)} f(z) when the
distribution itself moves with psi. Three answers live here.

* The reparameterization trick for a Gaussian (:func:`reparameterize`, and
  :func:`reparam_gaussian_gradient` as an estimator of d/dmu E f(z)): low variance, but it needs
  z to be a differentiable function of psi and noise.
* The score-function estimator (REINFORCE, the log-derivative trick) for Gaussian and
  categorical distributions (:func:`score_function`, :func:`reinforce_gaussian`,
  :func:`reinforce_categorical`), with baselines: unbiased for any f, but noisy.
* For a categorical variable, Gumbel-max sampling (:func:`gumbel_max`) and its continuous
  relaxation Gumbel-softmax at temperature tau (:func:`gumbel_softmax`, its backward pass and
  the straight-through variant), with the annealing schedule :func:`temperature`.

Conventions: a categorical distribution is given by unnormalized logits along the last axis;
Monte Carlo samples lie along axis 0 of the arrays an estimator returns, so the estimate is their
mean over that axis and their variance is the estimator's variance.

softmax, log_softmax and one_hot live in :mod:`minivae.logspace` (the KL of a categorical
posterior needs them too) and are re-exported here, where the estimators use them.

The public functions check their arguments (they are what a student calls); the categorical VAE's
training step builds its own arrays and calls the unchecked kernels behind them (``_softmax``,
``_one_hot``, ``_gumbel_softmax_backward``, ``_reinforce_categorical``), so it pays nothing for
the checks.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import InputTypeError, ValidationError
from .logspace import _check_index, _one_hot, _softmax, log_softmax, one_hot, softmax
from .runtime.validation import check_array as _numeric
from .runtime.validation import check_float_dtype as _check_float_dtype
from .runtime.validation import check_rng as _check_rng

__all__ = ["reparameterize", "reparameterize_backward",
           "reparam_gaussian_gradient", "gaussian_score", "categorical_score",
           "score_function", "reinforce_gaussian", "reinforce_categorical", "RunningMeanBaseline",
           "softmax", "log_softmax", "one_hot", "sample_gumbel", "gumbel_max",
           "gumbel_softmax", "gumbel_softmax_backward", "gumbel_softmax_straight_through",
           "temperature"]


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
    if not (isinstance(mu, np.ndarray) and isinstance(log_var, np.ndarray) and isinstance(eps, np.ndarray)):
        mu, log_var, eps = (_as_float_array(mu, "mu"), _as_float_array(log_var, "log_var"),
                            _as_float_array(eps, "eps"))
    if mu.shape != eps.shape or log_var.shape != eps.shape:
        # only shapes are compared here: this runs on every training step of the VAE
        try:
            shape = np.broadcast_shapes(mu.shape, log_var.shape, eps.shape)
        except ValueError:
            shape = None
        if shape != eps.shape:
            raise ValidationError(f"mu, log_var and eps: expected mu and log_var broadcastable to eps's "
                                  f"shape {eps.shape}, got mu {mu.shape} and log_var {log_var.shape}")
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


# ------------------------------------------------------------------------------------------------
# Small helpers shared by the estimators
# ------------------------------------------------------------------------------------------------
def _as_float_array(a, name):
    if isinstance(a, (list, tuple, numbers.Real)) and not isinstance(a, bool):
        try:
            a = np.asarray(a, dtype=np.float64)
        except (TypeError, ValueError):     # strings, ragged lists
            raise InputTypeError(f"{name}: expected an array of numbers, got {a!r:.60}") from None
    if not isinstance(a, np.ndarray):
        raise InputTypeError(f"{name}: expected a NumPy array of numbers, got {type(a).__name__}")
    if a.dtype.kind not in "fiu":
        raise InputTypeError(f"{name}: expected a numeric array, got dtype {a.dtype}")
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValidationError(f"{name}: expected finite values, found NaN or infinity")
    return a


def _check_logits(logits, name="logits"):
    logits = _as_float_array(logits, name)
    if logits.ndim < 1 or logits.shape[-1] < 2:
        raise ValidationError(f"{name}: expected an array whose last axis holds K >= 2 categories, "
                              f"got shape {logits.shape}")
    return logits


def _check_gumbel(g, logits):
    g = _as_float_array(g, "g")
    K = logits.shape[-1]
    try:
        np.broadcast_shapes(g.shape, logits.shape)
        ok = g.ndim >= 1 and g.shape[-1] == K
    except ValueError:
        ok = False
    if not ok:
        raise ValidationError(f"g: expected Gumbel noise with one value per category (last axis {K}), "
                              f"broadcastable to logits' shape {logits.shape}, got shape {g.shape}")
    return g


def _check_tau(tau):
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real):
        raise InputTypeError(f"tau: expected a positive number, got {tau!r} ({type(tau).__name__})")
    tau = float(tau)
    if not (tau > 0 and math.isfinite(tau)):
        raise ValidationError(f"tau: expected a positive finite temperature, got {tau}")
    return tau


# ------------------------------------------------------------------------------------------------
# Reparameterization as an estimator of d/dmu E f(z)
# ------------------------------------------------------------------------------------------------
def reparam_gaussian_gradient(df_dz, mu, log_var, eps):
    """Reparameterization estimates of d/dmu and d/dlog_var of E_{z ~ N(mu, sigma^2)} f(z).

    Lecture 001 ("the reparameterization trick"): E_{z~q}[f(z)] = E_{eps~N(0,1)}[f(mu + eps sigma)],
    so grad_phi E f = E_eps[grad_phi f(mu + eps sigma)] ~ 1/M sum_j f'(z_j) dz_j/dphi, with the
    derivatives dz/dmu = 1 and dz/dlog_var = eps sigma / 2 of :func:`reparameterize_backward`.

    Parameters
    ----------
    df_dz : callable mapping z of shape (M, *s) to f'(z) of the same shape (f acts elementwise,
        or f'(z) is its gradient).
    mu, log_var : arrays broadcastable to eps's shape (the parameters).
    eps : (M, *s) standard normal noise, one row per Monte Carlo sample.

    Returns
    -------
    dmu, dlog_var : (M, *s), one estimate per sample; their mean over axis 0 is the estimate.
    """
    if not callable(df_dz):
        raise InputTypeError(f"df_dz: expected a function returning f'(z), got {type(df_dz).__name__}")
    eps = _as_float_array(eps, "eps")
    mu = np.broadcast_to(_as_float_array(mu, "mu"), eps.shape)
    log_var = np.broadcast_to(_as_float_array(log_var, "log_var"), eps.shape)
    z, std = reparameterize(mu, log_var, eps)
    g = np.asarray(df_dz(z), dtype=z.dtype)
    if g.shape != z.shape:
        raise ValidationError(f"df_dz: expected it to return an array of shape {z.shape} (the shape "
                              f"of z), got {g.shape}")
    return reparameterize_backward(g, eps, std)


# ------------------------------------------------------------------------------------------------
# The score-function (REINFORCE) estimator
# ------------------------------------------------------------------------------------------------
def gaussian_score(z, mu, log_var):
    """Score of a diagonal Gaussian: the gradient of log N(z | mu, exp(log_var)) in mu, log_var.

    From log N = -1/2 [log 2 pi + log_var + (z - mu)^2 exp(-log_var)] (elementwise):

        d log N / d mu      = (z - mu) / sigma^2,
        d log N / d log_var = -1/2 + (z - mu)^2 / (2 sigma^2).

    Returns
    -------
    dmu, dlog_var : arrays of the broadcast shape of the inputs.
    """
    inv_var = np.exp(-log_var)
    r = z - mu
    return r * inv_var, 0.5 * (r * r * inv_var - 1.0)


def categorical_score(logits, z):
    """Score of a categorical q = softmax(logits): d log q(z) / d logits = onehot(z) - q.

    log q(z) = l_z - log sum_j exp(l_j), so d/dl_k log q(z) = [k = z] - softmax(l)_k. Its
    expectation under q is q - q = 0, the fact that makes baselines free of bias.

    Parameters
    ----------
    logits : (..., K)
    z : (..., K) one-hot samples, or (...) integer class indices.

    Returns
    -------
    (..., K), broadcast over the leading axes of ``logits`` and ``z``.
    """
    logits = _check_logits(logits)
    return _categorical_score(logits, _check_samples(z, logits))


def _check_samples(z, logits):
    """Integer samples in [0, K), or one-hot samples with a last axis of K, matching ``logits``."""
    K = logits.shape[-1]
    z = np.asarray(z)
    if z.dtype.kind in "iu":
        z = _check_index(z, K)
        shape = z.shape + (K,)
    elif z.dtype.kind == "f":
        if z.ndim < 1 or z.shape[-1] != K:
            raise ValidationError(f"z: expected integer class indices or one-hot vectors of length K = {K}, "
                                  f"got a float array of shape {z.shape}")
        shape = z.shape
    else:
        raise InputTypeError(f"z: expected integer class indices or one-hot float vectors, got dtype {z.dtype}")
    try:
        np.broadcast_shapes(shape, logits.shape)
    except ValueError:
        raise ValidationError(f"z: expected samples whose shape broadcasts against logits' shape "
                              f"{logits.shape}, got {z.shape}") from None
    return z


def _categorical_score(logits, z):
    K = logits.shape[-1]
    z = np.asarray(z)
    if z.dtype.kind in "iu":
        z = _one_hot(z, K, dtype=logits.dtype)
    return z - _softmax(logits)


class RunningMeanBaseline:
    """An exponential running mean of f, used as the baseline b of the next estimate.

    b <- decay * b + (1 - decay) * mean(f) after each estimate. Because b is computed from
    *earlier* samples it does not depend on the current one, so E[(f - b) score] = E[f score] and
    the estimator stays unbiased. The first call uses b = 0 and then sets b = mean(f).
    """

    def __init__(self, decay=0.9):
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0 <= decay < 1:
            raise ValidationError(f"decay: expected a number in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.value = None

    def __call__(self, f):
        b = 0.0 if self.value is None else self.value
        m = float(np.mean(f))
        self.value = m if self.value is None else self.decay * self.value + (1 - self.decay) * m
        return b

    def __repr__(self):
        return f"RunningMeanBaseline(decay={self.decay}, value={self.value})"


def _baseline_values(f, baseline):
    """b for every sample in ``f`` (samples along axis 0), for the baseline kinds of score_function."""
    if baseline is None or (isinstance(baseline, str) and baseline == "none"):
        return 0.0
    if isinstance(baseline, str):
        if baseline != "leave-one-out":
            raise ValidationError(f"baseline: expected None, a number, an array, 'leave-one-out' or a "
                                  f"RunningMeanBaseline, got {baseline!r}")
        S = f.shape[0]
        if S < 2:
            raise ValidationError(f"baseline='leave-one-out' needs at least 2 samples along axis 0, got {S}")
        # b_s = mean of the other S - 1 samples: independent of sample s, hence no bias.
        return (np.sum(f, axis=0, keepdims=True) - f) / (S - 1)
    if isinstance(baseline, RunningMeanBaseline):
        return baseline(f)
    b = _as_float_array(baseline, "baseline")
    try:
        np.broadcast_shapes(b.shape, f.shape)
    except ValueError:
        raise ValidationError(f"baseline: expected a number or an array broadcastable to f's shape "
                              f"{f.shape}, got shape {b.shape}") from None
    return b


def score_function(f, score, baseline=None):
    """Per-sample score-function (REINFORCE) estimates (f(z_s) - b_s) * grad_psi log q(z_s | psi).

    The log-derivative trick (lecture 000), d/dpsi log q(z|psi) = (d/dpsi q(z|psi)) / q(z|psi), turns
    the gradient of an expectation into an expectation:

        d/dpsi E_q f(z) = sum_z d/dpsi q(z|psi) f(z) = E_q[ f(z) d/dpsi log q(z|psi) ]
                        ~ 1/S sum_s f(z_s) d/dpsi log q(z_s|psi),   z_s ~ q(z|psi)

    (lecture 001 writes the same as the policy gradient, E[grad log pi(tau) r(tau)]). Because
    E_q[d/dpsi log q] = 0, any b that does not depend on z_s may be subtracted from f without bias.

    Parameters
    ----------
    f : (S, *b) values f(z_s), samples along axis 0.
    score : (S, *b, *p) scores d log q(z_s) / d psi; extra trailing axes are parameter axes.
    baseline : None | number | array broadcastable to f | "leave-one-out" | RunningMeanBaseline
        None: plain REINFORCE. A number or array: a constant baseline (for example the exact
        E f). "leave-one-out": b_s = mean of f over the other S - 1 samples (needs S >= 2).
        A :class:`RunningMeanBaseline`: the mean of earlier estimates' f.

    Returns
    -------
    (S, *b, *p): one estimate per sample; the estimate is the mean over axis 0.
    """
    f = _as_float_array(f, "f")
    score = _as_float_array(score, "score")
    if f.ndim < 1 or score.shape[:f.ndim] != f.shape:
        raise ValidationError(f"f and score: expected score's leading axes to equal f's shape {f.shape}, "
                              f"got score of shape {score.shape}")
    return _score_terms(f, score, baseline)


def _score_terms(f, score, baseline):
    adv = f - _baseline_values(f, baseline)
    return adv.reshape(adv.shape + (1,) * (score.ndim - f.ndim)) * score


def reinforce_gaussian(f, z, mu, log_var, baseline=None):
    """REINFORCE estimates of d/dmu and d/dlog_var of E_{z ~ N(mu, exp(log_var))} f(z).

    :func:`score_function` with the Gaussian score of :func:`gaussian_score`. For
    f(z) = z^2 and sigma = 1, the mu-estimate z^2 (z - mu) has variance mu^4 + 14 mu^2 + 15, and
    (z^2 - mu^2 - 1)(z - mu), with the exact mean as baseline, 8 mu^2 + 10; the
    reparameterization estimate 2 z has variance 4 (see notebook 09 for the algebra).

    Parameters
    ----------
    f : (S, *b) values f(z_s)
    z : (S, *b) the samples
    mu, log_var : broadcastable to z's shape
    baseline : see :func:`score_function`

    Returns
    -------
    dmu, dlog_var : (S, *b) per-sample estimates.
    """
    z = _as_float_array(z, "z")
    f = _as_float_array(f, "f")
    if f.shape != z.shape:
        raise ValidationError(f"f: expected one value per sample, shape {z.shape}, got {f.shape}")
    smu, slv = gaussian_score(z, _as_float_array(mu, "mu"), _as_float_array(log_var, "log_var"))
    smu, slv = np.broadcast_to(smu, z.shape), np.broadcast_to(slv, z.shape)
    # One baseline value per sample serves both parameters (a running mean must advance once).
    adv = f - _baseline_values(f, baseline)
    return adv * smu, adv * slv


def reinforce_categorical(f, z, logits, baseline=None):
    """REINFORCE estimates of d/dlogits E_{z ~ softmax(logits)} f(z).

    Lecture 000: d/dpsi E_q f(z) = sum_z q(z|psi) d/dpsi log q(z|psi) f(z)
    ~ d/dpsi log q(z^|psi) f(z^), z^ ~ q(z|psi), with the score onehot(z) - softmax(logits) of
    :func:`categorical_score`.

    Parameters
    ----------
    f : (S, *b) values f(z_s)
    z : (S, *b) integer samples, or (S, *b, K) one-hot samples
    logits : (*b, K) or (S, *b, K)
    baseline : see :func:`score_function`

    Returns
    -------
    (S, *b, K) per-sample estimates.
    """
    logits = _check_logits(logits)
    f = _as_float_array(f, "f")
    z = _check_samples(z, logits)
    shape = z.shape if z.dtype.kind in "iu" else z.shape[:-1]
    if f.shape != shape:
        raise ValidationError(f"f: expected one value per sample, shape {shape}, got {f.shape}")
    return score_function(f, _categorical_score(logits, z), baseline)


def _reinforce_categorical(f, z, logits, baseline=None):
    """:func:`reinforce_categorical` without argument checks (f float, z integer indices), for
    the categorical VAE's training step."""
    return _score_terms(f, _categorical_score(logits, z), baseline)


# ------------------------------------------------------------------------------------------------
# Gumbel-max and Gumbel-softmax
# ------------------------------------------------------------------------------------------------
def sample_gumbel(shape, rng, dtype=np.float64):
    """Standard Gumbel noise eps = -log(-log u), u ~ U(0, 1) (lecture 000, step 1).

    u is drawn from [tiny, 1) so that neither logarithm meets 0.

    Parameters
    ----------
    shape : int or tuple of int
    rng : numpy.random.Generator or int seed
    dtype : float32 or float64
    """
    rng = _check_rng(rng)
    dtype = _check_float_dtype(dtype)
    dims = (shape,) if isinstance(shape, numbers.Integral) else shape
    if not isinstance(dims, tuple) or any(isinstance(s, bool) or not isinstance(s, numbers.Integral)
                                          or s < 0 for s in dims):
        raise ValidationError(f"shape: expected a non-negative integer or a tuple of them, got {shape!r}")
    u = rng.uniform(np.finfo(np.float64).tiny, 1.0, size=shape)
    return (-np.log(-np.log(u))).astype(dtype, copy=False)


def gumbel_max(logits, g):
    """Gumbel-max sampling: z = argmax_j (psi_j + eps_j) (lecture 000, step 2).

    With eps_j independent standard Gumbel, P(z = k) = softmax(psi)_k exactly: the argmax of
    logits plus Gumbel noise is a draw from the categorical distribution the logits define.

    Parameters
    ----------
    logits : (..., K)
    g : Gumbel noise broadcastable against logits, e.g. from :func:`sample_gumbel`.

    Returns
    -------
    (...) integer class indices (use :func:`one_hot` for one-hot vectors).
    """
    logits = _check_logits(logits)
    g = _check_gumbel(g, logits)
    return np.argmax(logits + g, axis=-1)


def gumbel_softmax(logits, g, tau):
    """The Gumbel-softmax relaxation y = softmax((psi + eps) / tau) (lecture 000, step 2).

    The argmax of Gumbel-max is replaced by a softmax at temperature tau: y lies in the simplex,
    is a differentiable function of the logits for fixed noise, and tends to the one-hot
    Gumbel-max sample as tau -> 0 (to the uniform vector as tau -> infinity).

    Parameters
    ----------
    logits : (..., K)
    g : Gumbel noise of logits' shape
    tau : positive float

    Returns
    -------
    y : (..., K), rows summing to 1.
    """
    logits = _check_logits(logits)
    g = _check_gumbel(g, logits)
    tau = _check_tau(tau)
    return _softmax((logits + g) / tau)


def gumbel_softmax_backward(dy, y, tau):
    """Backward pass of :func:`gumbel_softmax`: dL/dlogits from dL/dy, noise held fixed.

    With a = (psi + eps) / tau and y = softmax(a), the softmax Jacobian is
    dy_i / da_j = y_i ([i = j] - y_j), and da_j / dpsi_j = 1 / tau. The vector-Jacobian product
    is therefore, for every row,

        dL/dpsi_j = (1 / tau) * y_j * (dL/dy_j - sum_i dL/dy_i y_i),

    without ever forming the K x K Jacobian.

    Parameters
    ----------
    dy : (..., K) dL/dy
    y : (..., K) the forward output
    tau : the temperature of the forward pass

    Returns
    -------
    (..., K) dL/dlogits
    """
    tau = _check_tau(tau)
    dy, y = _numeric(dy, "dy"), _numeric(y, "y")
    if dy.shape != y.shape or y.ndim < 1:
        raise ValidationError(f"dy: expected the shape of y {y.shape} (one derivative per output), "
                              f"got {dy.shape}")
    return _gumbel_softmax_backward(dy, y, tau)


def _gumbel_softmax_backward(dy, y, tau):
    """:func:`gumbel_softmax_backward` without argument checks, for the models' training step."""
    d = dy - np.sum(dy * y, axis=-1, keepdims=True)
    d *= y
    d /= tau
    return d


def gumbel_softmax_straight_through(logits, g, tau):
    """The straight-through Gumbel-softmax: a one-hot sample forward, the relaxed gradient back.

    The forward value is z = onehot(argmax y) with y = softmax((psi + eps) / tau), which equals
    the Gumbel-max sample (a softmax keeps the order of its inputs), so the decoder sees a true
    discrete sample. The backward pass treats dz/dpsi as dy/dpsi, i.e. apply
    :func:`gumbel_softmax_backward` to dL/dz. That gradient is biased and is not the derivative
    of the forward value (which is piecewise constant).

    Returns
    -------
    z : (..., K) one-hot
    y : (..., K) the relaxed sample, for the backward pass
    """
    y = gumbel_softmax(logits, g, tau)
    return _one_hot(np.argmax(y, axis=-1), y.shape[-1], dtype=y.dtype), y


def temperature(step, rate, tau_min=0.5, tau0=1.0):
    """The annealing schedule tau = max(tau_min, tau0 * exp(-rate * step)).

    Lecture 000: the temperature may be annealed during training. Start warm (smooth, low
    variance, biased samples) and cool towards nearly one-hot samples, never below tau_min
    where the gradients' variance explodes. With tau0 = 1 this is max(tau_min, exp(-r t)).

    Parameters
    ----------
    step : int or array of int, the training step t >= 0
    rate : float >= 0, r
    tau_min, tau0 : positive floats

    Returns
    -------
    float (or array for an array of steps)
    """
    for v, n in ((rate, "rate"), (tau_min, "tau_min"), (tau0, "tau0")):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
            raise ValidationError(f"{n}: expected a non-negative finite number, got {v!r}")
    if tau_min <= 0 or tau0 <= 0:
        raise ValidationError(f"tau_min and tau0: expected positive temperatures, got {tau_min} and {tau0}")
    t = np.asarray(step)
    if t.dtype.kind not in "iuf" or np.any(t < 0):
        raise ValidationError(f"step: expected a non-negative step count, got {step!r}")
    tau = np.maximum(tau_min, tau0 * np.exp(-rate * t.astype(np.float64)))
    return float(tau) if tau.ndim == 0 else tau
