"""Optimizers that update the model's flat parameter vector in place.

Because all parameters live in one contiguous vector (:mod:`minivae.params`), an optimizer step
is a handful of whole-vector NumPy operations, whatever the architecture. Both optimizers follow
the update rules of PyTorch's ``SGD`` and ``Adam`` exactly, so runs are comparable.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import CheckpointError, InputTypeError, ValidationError
from .params import Params
from .validation import check_choice, check_finite_float, check_positive_float

__all__ = ["SGD", "Adam", "make_optimizer", "OPTIMIZERS"]


class Optimizer:
    name = "optimizer"

    def __init__(self, params, lr):
        if not isinstance(params, Params):
            raise InputTypeError(f"params: expected the model's Params (model.params), got {type(params).__name__}")
        self.params = params
        self.lr = check_positive_float(lr, "lr")

    def state_dict(self) -> dict:
        """Arrays and numbers that, loaded back, let training continue bit for bit."""
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError

    def _check_state_array(self, state, key):
        if not isinstance(state, dict) or state.get("name", self.name) != self.name:
            got = state.get("name") if isinstance(state, dict) else type(state).__name__
            raise CheckpointError(f"optimizer state: expected the state of {self.name!r}, got {got!r}")
        if key not in state or "t" not in state:
            raise CheckpointError(f"optimizer state of {self.name!r}: missing {key!r} or 't'")
        a = np.asarray(state[key])
        if a.shape != self.params.data.shape:
            raise CheckpointError(f"optimizer state {key!r}: expected shape {self.params.data.shape}, got {a.shape}")
        return a


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum.

    b <- mu b + g;  theta <- theta - lr b   (with mu = 0 this is plain SGD: theta -= lr g).
    """

    name = "sgd"

    def __init__(self, params, lr=1e-2, momentum=0.9):
        super().__init__(params, lr)
        self.momentum = check_finite_float(momentum, "momentum")
        if not 0 <= self.momentum < 1:
            raise ValidationError(f"momentum: expected a number in [0, 1), got {self.momentum}")
        self.buf = np.zeros_like(params.data)
        self.t = 0

    def step(self):
        g = self.params.grad
        if self.momentum:
            self.buf *= self.momentum
            self.buf += g
            g = self.buf
        self.params.data -= self.lr * g
        self.t += 1

    def state_dict(self):
        return {"name": self.name, "t": self.t, "buf": self.buf.copy()}

    def load_state_dict(self, state):
        self.buf[...] = self._check_state_array(state, "buf")
        self.t = int(state["t"])


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) over the flat vector.

    m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2;
    theta <- theta - lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps).

    Each line is one or two in-place whole-vector operations on preallocated buffers, which is
    why the flat layout makes Adam cheap.
    """

    name = "adam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValidationError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        b1, b2 = (check_finite_float(b, "betas") for b in betas)
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValidationError(f"betas: expected two numbers in [0, 1), got {tuple(betas)}")
        self.b1, self.b2 = b1, b2
        self.eps = check_positive_float(eps, "eps")
        self.m = np.zeros_like(params.data)
        self.v = np.zeros_like(params.data)
        self._tmp = np.empty_like(params.data)
        self.t = 0

    def step(self):
        g, m, v, tmp = self.params.grad, self.m, self.v, self._tmp
        self.t += 1
        b1, b2 = self.b1, self.b2
        # m <- b1 m + (1 - b1) g, written as m += (1 - b1)(g - m): one temporary, two passes
        np.subtract(g, m, out=tmp)
        tmp *= 1 - b1
        m += tmp
        # v <- b2 v + (1 - b2) g^2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v *= b2
        v += tmp
        # theta -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
        bc1 = 1 - b1 ** self.t
        bc2 = 1 - b2 ** self.t
        np.sqrt(v, out=tmp)
        tmp *= 1 / math.sqrt(bc2)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr / bc1
        self.params.data -= tmp

    def state_dict(self):
        return {"name": self.name, "t": self.t, "m": self.m.copy(), "v": self.v.copy()}

    def load_state_dict(self, state):
        self.m[...] = self._check_state_array(state, "m")
        self.v[...] = self._check_state_array(state, "v")
        self.t = int(state["t"])


OPTIMIZERS = {"adam": Adam, "sgd": SGD}


def make_optimizer(name, params, lr, **options):
    check_choice(name, "optimizer", OPTIMIZERS)
    try:
        return OPTIMIZERS[name](params, lr=lr, **options)
    except InputTypeError:
        raise
    except TypeError as exc:   # an option this optimizer does not have
        raise ValidationError(f"optimizer {name!r}: bad options {options}: {exc}") from None
