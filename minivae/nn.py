"""Layers as forward/backward pairs, and a multilayer perceptron built from them.

There is no autodiff. Each layer's forward pass returns what its backward pass needs, and each
backward pass states, in its docstring, the derivative it computes. Arrays are
``(batch, features)`` and weights are ``(fan_in, fan_out)``, so a linear layer is ``x @ W + b``.

Backward passes take ``dy = dL/dy`` (the gradient of the scalar loss with respect to the layer's
output) and return ``dx = dL/dx``. A linear layer *writes* its dL/dW and dL/db into the views
of the model's flat gradient vector, or adds to them with ``accumulate=True`` when the same
network has already run its backward pass in this step: the gradient contract of
:mod:`minivae.params`.

Speed: the training step runs the same functions the gradient checks test. The MLP can reuse
its activations and backward buffers between calls of the same batch size (``reuse=True``, see
:class:`Workspace`), because allocating fresh megabyte-sized arrays every step costs page
faults and cache misses that are a sizeable share of a step.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ValidationError

__all__ = [
    "linear_forward", "linear_backward",
    "relu", "relu_backward", "tanh", "tanh_backward", "sigmoid", "sigmoid_backward",
    "softplus", "softplus_backward", "ACTIVATIONS", "MLP", "init_linear", "Workspace",
]


class Workspace:
    """Scratch arrays kept between calls, one per (name, shape, dtype).

    A training loop calls the same kernels with the same shapes thousands of times; handing the
    kernels the arrays of the previous call instead of fresh ones keeps the memory warm in cache
    and avoids page faults. Arrays of several batch sizes are kept side by side (the last, short
    batch of an epoch and an evaluation chunk do not evict the training buffers); when more than
    ``max_arrays`` pile up, all are dropped and the workspace refills.

    An array handed out is only valid until the next request under the same name and shape:
    callers that keep a result must copy it.
    """

    def __init__(self, max_arrays: int = 64):
        self._arrays = {}
        self.max_arrays = max_arrays

    def get(self, name, shape, dtype):
        key = (name, tuple(shape), np.dtype(dtype))
        a = self._arrays.get(key)
        if a is None:
            if len(self._arrays) >= self.max_arrays:
                self._arrays.clear()
            a = self._arrays[key] = np.empty(shape, dtype)
        return a

    def clear(self):
        self._arrays.clear()

    def __deepcopy__(self, memo):
        # a copied model (a data-parallel worker) fills its own buffers, of its own batch size
        return Workspace(self.max_arrays)


# --------------------------------------------------------------------------------------------
# Linear layer
# --------------------------------------------------------------------------------------------
def linear_forward(x, W, b, out=None):
    """y = x W + b.

    Parameters
    ----------
    x : (B, n_in)
    W : (n_in, n_out)
    b : (n_out,)
    out : (B, n_out), optional buffer to write into.
    """
    y = np.matmul(x, W, out=out)
    y += b
    return y


def linear_backward(dy, x, W, dW, db, need_dx=True, dx_out=None, accumulate=False):
    """Backward pass of y = x W + b.

    dL/dW = x^T dy,  dL/db = sum_batch dy,  dL/dx = dy W^T.

    ``dW`` and ``db`` are gradient views; they are *overwritten* (the first backward pass
    through a layer in a step: no temporary the size of W), or added to with ``accumulate``
    (a later pass through the same layer in the same step). Returns dL/dx, or None when
    ``need_dx`` is False (the first layer of the encoder: nobody needs the gradient with
    respect to the data).
    """
    if accumulate:
        dW += x.T @ dy
        db += np.add.reduce(dy, axis=0)
    else:
        np.matmul(x.T, dy, out=dW)
        np.add.reduce(dy, axis=0, out=db)
    if need_dx:
        return np.matmul(dy, W.T, out=dx_out)
    return None


def init_linear(W, b, rng):
    """Fill W and b in place with U(-1/sqrt(n_in), 1/sqrt(n_in)).

    The same scale as PyTorch's default for ``nn.Linear`` (Kaiming-uniform with a = sqrt(5)
    gives bound 1/sqrt(fan_in) for the weights, and the bias uses the same bound), so a minivae
    model and the PyTorch reference start from the same distribution of weights.
    """
    bound = 1.0 / np.sqrt(W.shape[0])
    W[...] = rng.uniform(-bound, bound, size=W.shape)
    b[...] = rng.uniform(-bound, bound, size=b.shape)


#: the starts a model's layers can be given: :func:`init_linear` (every model's) or Glorot's
WEIGHT_INITS = ("uniform", "glorot")


def init_linear_glorot(W, b, rng):
    """Fill W in place with Glorot's U(-c, c), c = sqrt(6 / (n_in + n_out)), and b with zeros.

    Glorot and Bengio (2010) chose c so that the variance of a layer's outputs and of its
    gradients stays about the same from layer to layer; it is Keras's default, the start of the
    published VaDE and DEC code. For a 784-500 layer c = 0.068, about twice 1/sqrt(784) = 0.036.
    """
    bound = np.sqrt(6.0 / (W.shape[0] + W.shape[1]))
    W[...] = rng.uniform(-bound, bound, size=W.shape)
    b[...] = 0.0


def restart_glorot(params, prefixes, rng):
    """Start again from Glorot's weights (:func:`init_linear_glorot`) every layer of ``params``
    whose weight's name begins with one of ``prefixes`` (``("enc.", "dec.")``), in the order of
    the parameter vector, each ``<layer>.W`` with its ``<layer>.b``."""
    for name in params.shapes:
        if name.endswith(".W") and name.startswith(tuple(prefixes)):
            init_linear_glorot(params[name], params[name[:-1] + "b"], rng)


# --------------------------------------------------------------------------------------------
# Activations: forward returns y, backward gets (dy, x, y) and may use either.
# They write into ``dy`` when asked (``inplace=True``): the caller owns that buffer.
# --------------------------------------------------------------------------------------------
def relu(x, out=None):
    """y = max(x, 0).

    The zero is a row of zeros rather than the scalar 0: NumPy's vectorised loop for two arrays
    is about twice as fast as its loop for an array and a scalar here.
    """
    x = np.asarray(x)
    return np.maximum(x, np.zeros(x.shape[-1:], x.dtype), out=out)


def relu_backward(dy, x, y, inplace=False):
    """dL/dx = dy * 1[x > 0]   (the derivative at 0 is taken as 0).

    x > 0 exactly where y = max(x, 0) > 0, so the mask is read off the output.
    """
    out = dy if inplace else None
    return np.multiply(dy, y > 0, out=out)


def tanh(x, out=None):
    """y = tanh(x)."""
    return np.tanh(x, out=out)


def tanh_backward(dy, x, y, inplace=False):
    """dL/dx = dy * (1 - y^2), since d tanh(x)/dx = 1 - tanh(x)^2."""
    out = dy if inplace else None
    return np.multiply(dy, 1 - y * y, out=out)


def sigmoid(x, out=None):
    """y = 1 / (1 + exp(-x)), computed without overflow for large |x|.

    For x >= 0 use 1 / (1 + e^-x); for x < 0 use e^x / (1 + e^x). Both only ever exponentiate a
    non-positive number.
    """
    e = np.exp(-np.abs(x))
    y = np.divide(1, 1 + e, out=out)
    neg = x < 0
    y[neg] = e[neg] * y[neg]
    return y


def sigmoid_backward(dy, x, y, inplace=False):
    """dL/dx = dy * y (1 - y), since sigma'(x) = sigma(x)(1 - sigma(x))."""
    out = dy if inplace else None
    return np.multiply(dy, y * (1 - y), out=out)


def softplus(x, out=None):
    """y = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), stable for any x."""
    y = np.log1p(np.exp(-np.abs(x)), out=out)
    y += np.maximum(x, 0)
    return y


def softplus_backward(dy, x, y, inplace=False):
    """dL/dx = dy * sigmoid(x), since d softplus(x)/dx = e^x / (1 + e^x)."""
    out = dy if inplace else None
    return np.multiply(dy, sigmoid(x), out=out)


ACTIVATIONS = {
    "relu": (relu, relu_backward),
    "tanh": (tanh, tanh_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "softplus": (softplus, softplus_backward),
}


def _check_activation(name):
    if name not in ACTIVATIONS:
        raise ValidationError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {name!r}")
    return name


# --------------------------------------------------------------------------------------------
# MLP
# --------------------------------------------------------------------------------------------
class MLP:
    """A multilayer perceptron: linear layers with an activation between them, linear output.

    ``sizes = (n_in, h_1, ..., h_k, n_out)`` gives k hidden layers. The parameters live in a
    :class:`~minivae.params.Params` under ``{prefix}.{i}.W`` and ``{prefix}.{i}.b``; the MLP
    object only knows their names, so one network description serves float32 training and a
    float64 gradient check alike.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, output last (at least two entries).
    activation : {"relu", "tanh", "sigmoid", "softplus"}
        Non-linearity after each hidden layer (not after the output layer).
    prefix : str
        Name prefix of the parameters.
    """

    #: its backward pass writes its parameters' gradient (see :mod:`minivae.params`)
    writes_gradient = True

    def __init__(self, sizes: Sequence[int], activation: str = "relu", prefix: str = "mlp"):
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2 or any(s <= 0 for s in sizes):
            raise ValidationError(f"MLP sizes: expected at least two positive widths, got {sizes}")
        self.sizes = sizes
        self.activation = _check_activation(activation)
        self.act, self.act_backward = ACTIVATIONS[activation]
        self.prefix = prefix
        self.n_layers = len(sizes) - 1
        self.workspace = Workspace()

    def param_shapes(self):
        """Names and shapes of this network's parameters, in layout order."""
        shapes = {}
        for i in range(self.n_layers):
            shapes[f"{self.prefix}.{i}.W"] = (self.sizes[i], self.sizes[i + 1])
            shapes[f"{self.prefix}.{i}.b"] = (self.sizes[i + 1],)
        return shapes

    def init(self, params, rng):
        for i in range(self.n_layers):
            init_linear(params[f"{self.prefix}.{i}.W"], params[f"{self.prefix}.{i}.b"], rng)

    def forward(self, params, x, reuse=False, start=0):
        """Run the network; return the output and the cache the backward pass needs.

        The cache is ``[(input_0, pre_0, post_0), ...]`` per hidden layer and the input of the
        output layer. With ``reuse=True`` every intermediate array and the output live in this
        network's :class:`Workspace` and are overwritten by the next ``reuse=True`` call with
        the same batch size (the training step uses this; public methods do not).

        ``start`` > 0 runs only layers ``start``, ``start + 1``, ...: x is then the output of
        hidden layer ``start - 1`` (after its activation), computed by the caller, as M2 does
        for a first layer whose input has structure a plain product would not use. Pass the
        same ``start`` to :meth:`backward`.
        """
        P, p = params, self.prefix
        ws = self.workspace if reuse else None
        B = x.shape[0]
        cache = []
        h = x
        if not 0 <= start < self.n_layers:
            raise ValidationError(f"start: expected a layer index 0..{self.n_layers - 1}, got {start}")
        for i in range(start, self.n_layers - 1):
            n = self.sizes[i + 1]
            pre = linear_forward(h, P[f"{p}.{i}.W"], P[f"{p}.{i}.b"],
                                 out=ws.get(f"pre{i}", (B, n), x.dtype) if ws else None)
            post = self.act(pre, out=ws.get(f"post{i}", (B, n), x.dtype) if ws else None)
            cache.append((h, pre, post))
            h = post
        i = self.n_layers - 1
        out = linear_forward(h, P[f"{p}.{i}.W"], P[f"{p}.{i}.b"],
                             out=ws.get("out", (B, self.sizes[-1]), x.dtype) if ws else None)
        cache.append(h)
        return out, cache

    def backward(self, params, cache, dout, need_dx=True, reuse=False, accumulate=False, start=0):
        """Backpropagate dL/d(output) through the network.

        Writes dL/dW and dL/db of every layer into ``params.grad`` (by the chain rule, layer by
        layer from the top: the linear rule of :func:`linear_backward`, then the activation's
        derivative), or adds them there with ``accumulate`` (a second pass through the same
        network in one step), and returns dL/dx, or None when ``need_dx`` is False. With
        ``reuse=True`` the gradients with respect to the hidden layers (and the returned dL/dx)
        are written into workspace buffers; ``dout`` is only read. With the ``start`` of
        :meth:`forward`, it stops at layer ``start`` and returns dL/d(its input).
        """
        P, p = params, self.prefix
        ws = self.workspace if reuse else None
        B = dout.shape[0]
        i = self.n_layers - 1
        h = cache[-1]
        dh = linear_backward(dout, h, P[f"{p}.{i}.W"], P.g(f"{p}.{i}.W"), P.g(f"{p}.{i}.b"),
                             need_dx=(i > start or need_dx),
                             dx_out=ws.get(f"d{i}", (B, self.sizes[i]), dout.dtype) if ws else None,
                             accumulate=accumulate)
        for i in range(self.n_layers - 2, start - 1, -1):
            h_in, pre, post = cache[i - start]
            dpre = self.act_backward(dh, pre, post, inplace=True)
            dh = linear_backward(dpre, h_in, P[f"{p}.{i}.W"], P.g(f"{p}.{i}.W"), P.g(f"{p}.{i}.b"),
                                 need_dx=(i > start or need_dx),
                                 dx_out=ws.get(f"d{i}", (B, self.sizes[i]), dout.dtype) if ws else None,
                                 accumulate=accumulate)
        return dh
