"""Decoder likelihoods p(x | z): negative log-probabilities and their gradients.

The decoder network maps z to an output array ``out`` (logits, a mean, or a mean and a
log-variance). A likelihood turns ``out`` into -log p(x | z) per example, in nats, and into the
gradient of that with respect to ``out``, which is where backpropagation into the decoder starts.

Every likelihood here is a full, normalized density or mass function (constants included), so
numbers in nats mean what they say. Each class has the same interface:

``out_dim(D)``
    width of the decoder output for D-dimensional data;
``param_shapes()``
    extra learned parameters (only the learned-sigma Gaussian has one);
``nll(x, out, params)``
    -log p(x | z) per example, shape (B,);
``nll_and_grad(x, out, params, weight, reuse=False)``
    the same and ``weight * d(-log p)/d out``; gradients of extra parameters are *added* into
    ``params.grad`` after multiplying by ``weight`` (the training loss is a mean over the batch,
    so the model passes ``weight = 1 / B``). With ``reuse=True`` a likelihood may return its
    gradient in a buffer it keeps for the next call of the same shape (the training step's
    fast path; the Bernoulli likelihood does);
``mean(out, params)`` and ``sample(out, params, rng)``
    E[x | z] and a draw from p(x | z).
"""
from __future__ import annotations

import math

import numpy as np

from .nn import Workspace, sigmoid
from .runtime.validation import build_from_spec, check_finite_float, check_positive_float

__all__ = [
    "Bernoulli", "Gaussian", "GaussianLearnedSigma", "GaussianPerPixel", "Laplace",
    "LIKELIHOODS", "make_likelihood", "bernoulli_nll",
]

LOG_2PI = math.log(2.0 * math.pi)


class Likelihood:
    """Base class; see the module docstring for the interface."""

    name = "likelihood"
    #: does -log p(x|z) make sense only for x in [0, 1]?
    needs_unit_interval = False
    #: a density over real-valued x (its -log can be negative and, on 8-bit data, unbounded
    #: below unless the data are dequantized), rather than a probability mass
    continuous = True

    def out_dim(self, D: int) -> int:
        return D

    def param_shapes(self):
        return {}

    #: its extra parameters (a learned sigma) collect gradient with += (see :mod:`minivae.params`)
    writes_gradient = False

    def init(self, params, rng=None) -> None:
        pass

    def config(self) -> dict:
        return {"name": self.name}

    def nll(self, x, out, params=None, reuse=False):
        return self.nll_and_grad(x, out, params, weight=None, reuse=reuse)[0]

    def nll_and_grad(self, x, out, params, weight, reuse=False):  # pragma: no cover - abstract
        raise NotImplementedError

    def mean(self, out, params=None):
        return out

    def sample(self, out, params, rng):  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Bernoulli on logits
# --------------------------------------------------------------------------------------------
def bernoulli_nll(x, logits, need_grad=True, weight=1.0, work=None):
    """Binary cross-entropy on logits, per example, and its gradient.

    With p = sigmoid(l), -log p(x | l) = -[x log p + (1 - x) log(1 - p)] summed over pixels.
    Written in terms of l this is

        -log p(x | l) = softplus(l) - x l = max(l, 0) - x l + log(1 + exp(-|l|)),

    which never exponentiates a positive number, so it is finite for logits of any size. The
    derivative is d/dl [softplus(l) - x l] = sigmoid(l) - x, and sigmoid(l) is computed from the
    same e = exp(-|l|):

        sigmoid(l) = 1 / (1 + e)   for l >= 0,      sigmoid(l) = e / (1 + e)   for l < 0,

    that is sigmoid(l) = max(e, [l >= 0]) / (1 + e), because e <= 1.

    Parameters
    ----------
    x : (B, D) targets in [0, 1] (binary, or grey levels read as probabilities)
    logits : (B, D)
    need_grad : bool
        Skip the gradient (evaluation only needs the value).
    weight : float
        The gradient returned is ``weight * d nll / d logits`` (the model passes 1 / B).
    work : sequence of four (B, D) arrays, optional
        Scratch buffers, the last of which receives the gradient; fresh arrays when not given.

    Returns
    -------
    nll : (B,)
    grad : (B, D) or None, ``weight * d nll / d logits``
    """
    if work is None:
        work = [np.empty_like(logits) for _ in range(4)]
    e, onepe, u, t = work
    ones = np.ones(logits.shape[1], logits.dtype)   # row sums as matrix-vector products (BLAS)
    np.abs(logits, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)                             # e = exp(-|l|), shared by the loss and the gradient
    np.add(e, 1, out=onepe)
    # The loss of each pixel is formed before any sum: max(l, 0) - x l is exactly 0 for a
    # confidently right binary pixel, whereas subtracting row sums of max(l, 0) and of x l
    # would leave float32 rounding of the size of the logits (1e4 * 784 * 6e-8 ~ 0.5 nats).
    np.maximum(logits, np.zeros(logits.shape[-1], logits.dtype), out=u)   # (a row of zeros: see nn.relu)
    u -= np.multiply(x, logits, out=t)           # x may be one row broadcast over many logits
    u += np.log(onepe, out=t)
    nll = u @ ones
    if not need_grad:
        return nll, None
    grad = np.greater_equal(logits, 0, out=t, casting="unsafe")   # [l >= 0] as 0.0 / 1.0
    np.maximum(e, grad, out=grad)                # 1 where l >= 0, e where l < 0
    grad /= onepe                                # sigmoid(l)
    grad -= x
    if weight != 1:
        grad *= weight
    return nll, grad


class Bernoulli(Likelihood):
    """p(x | z) = prod_j p_j^x_j (1 - p_j)^(1 - x_j) with p = sigmoid(decoder logits).

    -log p(x | z) is the binary cross-entropy (lecture 002: "Bernoulli = BCE").
    """

    name = "bernoulli"
    needs_unit_interval = True
    continuous = False

    def __init__(self):
        self.workspace = Workspace()

    def nll_and_grad(self, x, out, params, weight, reuse=False):
        work = None
        if reuse:
            work = [self.workspace.get(k, out.shape, out.dtype) for k in ("e", "onepe", "loss", "grad")]
        return bernoulli_nll(x, out, need_grad=weight is not None,
                             weight=1.0 if weight is None else weight, work=work)

    def mean(self, out, params=None):
        return sigmoid(out)

    def sample(self, out, params, rng):
        p = self.mean(out)
        return (rng.random(p.shape) < p).astype(out.dtype)


# --------------------------------------------------------------------------------------------
# Gaussians
# --------------------------------------------------------------------------------------------
class Gaussian(Likelihood):
    """p(x | z) = N(x | d(z), sigma^2 I) with a fixed sigma.

    -log p(x | z) = D log sigma + (D / 2) log 2 pi + ||x - d(z)||^2 / (2 sigma^2)
    i.e. log p = C - D log sigma - ||x - d(z)||^2 / (2 sigma^2) with C = -(D / 2) log 2 pi
    (lecture 000 writes ``C - log sigma``; each of the D pixels contributes a factor 1 / sigma,
    hence D log sigma). Up to constants, maximum likelihood is least squares (lectures 000, 002).
    d/d d(z) = (d(z) - x) / sigma^2.
    """

    name = "gaussian"

    def __init__(self, sigma: float = 1.0):
        self.sigma = check_positive_float(sigma, "sigma")

    def config(self):
        return {"name": self.name, "sigma": self.sigma}

    def nll_and_grad(self, x, out, params, weight, reuse=False):
        D = x.shape[1]
        r = out - x
        inv_var = 1.0 / (self.sigma * self.sigma)
        nll = 0.5 * inv_var * np.einsum("ij,ij->i", r, r)
        nll += D * (math.log(self.sigma) + 0.5 * LOG_2PI)
        if weight is None:
            return nll, None
        r *= inv_var * weight
        return nll, r

    def sample(self, out, params, rng):
        return out + self.sigma * rng.standard_normal(out.shape).astype(out.dtype)


class GaussianLearnedSigma(Likelihood):
    """N(x | d(z), sigma^2 I) with one learned scalar s = log sigma (lecture 000, where sigma is
    learned jointly with theta and phi).

    -log p = D s + (D / 2) log 2 pi + exp(-2 s) ||x - d(z)||^2 / 2, so
    d/d d(z) = exp(-2 s) (d(z) - x)  and  d/ds = D - exp(-2 s) ||x - d(z)||^2.
    The parameter is called ``log_sigma``; the lecture-000 VAE shares it with its posterior.
    """

    name = "gaussian-learned"
    param_name = "log_sigma"

    def __init__(self, init_log_sigma: float = 0.0):
        self.init_log_sigma = check_finite_float(init_log_sigma, "init_log_sigma")

    def config(self):
        return {"name": self.name, "init_log_sigma": self.init_log_sigma}

    def param_shapes(self):
        return {self.param_name: (1,)}

    def init(self, params, rng=None):
        params[self.param_name][...] = self.init_log_sigma

    def nll_and_grad(self, x, out, params, weight, reuse=False):
        D = x.shape[1]
        s = params[self.param_name][0]
        prec = np.exp(-2.0 * s)
        r = out - x
        sq = np.einsum("ij,ij->i", r, r)
        nll = 0.5 * prec * sq + D * (s + 0.5 * LOG_2PI)
        if weight is None:
            return nll, None
        params.g(self.param_name)[0] += weight * np.sum(D - prec * sq)
        r *= prec * weight
        return nll, r

    def sample(self, out, params, rng):
        sigma = np.exp(params[self.param_name][0])
        return out + sigma * rng.standard_normal(out.shape).astype(out.dtype)


class GaussianPerPixel(Likelihood):
    """N(x | m(z), diag(exp(v(z)))): the decoder emits a mean and a log-variance per pixel.

    This is lecture 004's decoder, which outputs a mean and a variance for every pixel; the
    network emits v = log sigma^2 so the variance is positive without a constraint.
    -log p = 1/2 sum_j [log 2 pi + v_j + (x_j - m_j)^2 exp(-v_j)], hence
    d/dm_j = (m_j - x_j) exp(-v_j)  and  d/dv_j = 1/2 [1 - (x_j - m_j)^2 exp(-v_j)].
    ``out`` is ``[m, v]`` concatenated along the feature axis, shape (B, 2D).
    """

    name = "gaussian-perpixel"

    def out_dim(self, D):
        return 2 * D

    def nll_and_grad(self, x, out, params, weight, reuse=False):
        D = x.shape[1]
        m, v = out[:, :D], out[:, D:]
        prec = np.exp(-v)
        r = m - x
        r2p = r * r * prec
        nll = 0.5 * (D * LOG_2PI + v.sum(axis=1) + r2p.sum(axis=1))
        if weight is None:
            return nll, None
        grad = np.empty_like(out)
        np.multiply(r, prec, out=grad[:, :D])
        np.subtract(1.0, r2p, out=grad[:, D:])
        grad[:, D:] *= 0.5
        grad *= weight
        return nll, grad

    def mean(self, out, params=None):
        return out[:, : out.shape[1] // 2]

    def sample(self, out, params, rng):
        D = out.shape[1] // 2
        return out[:, :D] + np.exp(0.5 * out[:, D:]) * rng.standard_normal((out.shape[0], D)).astype(out.dtype)


class Laplace(Likelihood):
    """p(x | z) = prod_j exp(-|x_j - m_j| / b) / (2 b), with a fixed scale b.

    -log p = D log(2 b) + ||x - m||_1 / b: the L1 loss (lecture 002: "Laplace = L1").
    d/dm_j = sign(m_j - x_j) / b (taken as 0 where m_j = x_j).
    """

    name = "laplace"

    def __init__(self, scale: float = 1.0):
        self.scale = check_positive_float(scale, "scale")

    def config(self):
        return {"name": self.name, "scale": self.scale}

    def nll_and_grad(self, x, out, params, weight, reuse=False):
        D = x.shape[1]
        r = out - x
        nll = np.abs(r).sum(axis=1) / self.scale + D * math.log(2 * self.scale)
        if weight is None:
            return nll, None
        g = np.sign(r)
        g *= weight / self.scale
        return nll, g

    def sample(self, out, params, rng):
        return out + rng.laplace(0.0, self.scale, out.shape).astype(out.dtype)


LIKELIHOODS = {
    "bernoulli": Bernoulli,
    "gaussian": Gaussian,
    "gaussian-learned": GaussianLearnedSigma,
    "gaussian-perpixel": GaussianPerPixel,
    "laplace": Laplace,
}


def make_likelihood(spec) -> Likelihood:
    """Build a likelihood from a name, a config dict ``{"name": ..., **options}`` or an instance."""
    return build_from_spec(spec, LIKELIHOODS, "likelihood", Likelihood)
