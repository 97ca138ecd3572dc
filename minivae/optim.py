"""Optimizers that update the model's flat parameter vector in place.

Because all parameters live in one contiguous vector (:mod:`minivae.params`), an optimizer step
is a handful of whole-vector NumPy operations, whatever the architecture. Both optimizers follow
the update rules of PyTorch's ``SGD`` and ``Adam`` exactly, so runs are comparable.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import CheckpointError, ValidationError
from .validation import check_finite_float, check_positive_float

__all__ = ["SGD", "Adam", "make_optimizer", "OPTIMIZERS"]


class Optimizer:
    name = "optimizer"

    def __init__(self, params, lr):
        self.params = params
        self.lr = check_positive_float(lr, "lr")

    def state_dict(self) -> dict:
        """Arrays and numbers that, loaded back, let training continue bit for bit."""
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError

    def _check_state_array(self, state, key):
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
        # m <- b1 m + (1 - b1) g, written as m += (1 - b1)(g - m): three passes, no allocation
        np.subtract(g, m, out=tmp)
        tmp *= 1 - b1
        m += tmp
        # v <- b2 v + (1 - b2) g^2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v *= b2
        v += tmp
        # theta -= (lr / bc1) m / (sqrt(v / bc2) + eps). Multiplying numerator and denominator
        # by sqrt(bc2) moves the bias correction into two scalars:
        #   theta -= [lr sqrt(bc2) / bc1] m / (sqrt(v) + eps sqrt(bc2)),
        # and the step is sqrt, add, divide, scale, subtract.
        sqrt_bc2 = math.sqrt(1 - b2 ** self.t)
        step_size = self.lr * sqrt_bc2 / (1 - b1 ** self.t)
        np.sqrt(v, out=tmp)
        tmp += self.eps * sqrt_bc2
        np.divide(m, tmp, out=tmp)
        tmp *= step_size
        self.params.data -= tmp

    def state_dict(self):
        return {"name": self.name, "t": self.t, "m": self.m.copy(), "v": self.v.copy()}

    def load_state_dict(self, state):
        self.m[...] = self._check_state_array(state, "m")
        self.v[...] = self._check_state_array(state, "v")
        self.t = int(state["t"])


OPTIMIZERS = {"adam": Adam, "sgd": SGD}


def make_optimizer(name, params, lr, **options):
    if name not in OPTIMIZERS:
        raise ValidationError(f"optimizer: expected one of {sorted(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name](params, lr=lr, **options)
