"""Layers as forward/backward pairs, and a multilayer perceptron built from them.

There is no autodiff. Each layer's forward pass returns what its backward pass needs, and each
backward pass states, in its docstring, the derivative it computes. Arrays are
``(batch, features)`` and weights are ``(fan_in, fan_out)``, so a linear layer is ``x @ W + b``.

Backward passes take ``dy = dL/dy`` (the gradient of the scalar loss with respect to the layer's
output) and return ``dx = dL/dx``; parameter gradients are *added* into the views of the model's
flat gradient vector (see :mod:`minivae.params`), so several uses of one parameter sum up.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ValidationError

__all__ = [
    "linear_forward", "linear_backward",
    "relu", "relu_backward", "tanh", "tanh_backward", "sigmoid", "sigmoid_backward",
    "softplus", "softplus_backward", "ACTIVATIONS", "MLP", "init_linear",
]


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


def linear_backward(dy, x, W, dW, db, need_dx=True, dx_out=None):
    """Backward pass of y = x W + b.

    dL/dW = x^T dy,  dL/db = sum_batch dy,  dL/dx = dy W^T.

    ``dW`` and ``db`` are gradient views; they are *overwritten* (each parameter is used once
    per forward pass in minivae's networks, so there is nothing to accumulate, and overwriting
    saves a temporary the size of W). Returns dL/dx, or None when ``need_dx`` is False (the
    first layer of the encoder: nobody needs the gradient with respect to the data).
    """
    np.matmul(x.T, dy, out=dW)
    np.sum(dy, axis=0, out=db)
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


# --------------------------------------------------------------------------------------------
# Activations: forward returns y, backward gets (dy, x, y) and may use either.
# They write into ``dy`` when asked (``inplace=True``): the caller owns that buffer.
# --------------------------------------------------------------------------------------------
def relu(x, out=None):
    """y = max(x, 0)."""
    return np.maximum(x, 0, out=out)


def relu_backward(dy, x, y, inplace=False):
    """dL/dx = dy * 1[x > 0]   (the derivative at 0 is taken as 0)."""
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

    def __init__(self, sizes: Sequence[int], activation: str = "relu", prefix: str = "mlp"):
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2 or any(s <= 0 for s in sizes):
            raise ValidationError(f"MLP sizes: expected at least two positive widths, got {sizes}")
        self.sizes = sizes
        self.activation = _check_activation(activation)
        self.act, self.act_backward = ACTIVATIONS[activation]
        self.prefix = prefix
        self.n_layers = len(sizes) - 1

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

    def forward(self, params, x):
        """Run the network; return the output and the cache the backward pass needs.

        The cache is ``[(input_0, pre_0, post_0), ...]`` per hidden layer and the input of the
        output layer.
        """
        cache = []
        h = x
        for i in range(self.n_layers - 1):
            pre = linear_forward(h, params[f"{self.prefix}.{i}.W"], params[f"{self.prefix}.{i}.b"])
            post = self.act(pre)
            cache.append((h, pre, post))
            h = post
        i = self.n_layers - 1
        out = linear_forward(h, params[f"{self.prefix}.{i}.W"], params[f"{self.prefix}.{i}.b"])
        cache.append(h)
        return out, cache

    def backward(self, params, cache, dout, need_dx=True):
        """Backpropagate dL/d(output) through the network.

        Writes dL/dW and dL/db of every layer into ``params.grad`` (by the chain rule, layer by
        layer from the top: the linear rule of :func:`linear_backward`, then the activation's
        derivative) and returns dL/dx, or None when ``need_dx`` is False.
        """
        i = self.n_layers - 1
        h = cache[-1]
        dh = linear_backward(dout, h, params[f"{self.prefix}.{i}.W"],
                             params.g(f"{self.prefix}.{i}.W"), params.g(f"{self.prefix}.{i}.b"))
        for i in range(self.n_layers - 2, -1, -1):
            h_in, pre, post = cache[i]
            dpre = self.act_backward(dh, pre, post, inplace=True)
            dh = linear_backward(dpre, h_in, params[f"{self.prefix}.{i}.W"],
                                 params.g(f"{self.prefix}.{i}.W"), params.g(f"{self.prefix}.{i}.b"),
                                 need_dx=(i > 0 or need_dx))
        return dh
