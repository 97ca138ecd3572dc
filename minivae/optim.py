"""Optimizers that update the model's flat parameter vector in place.

Because all parameters live in one contiguous vector (:mod:`minivae.params`), an optimizer step
is a handful of whole-vector NumPy operations, whatever the architecture. Both optimizers follow
the update rules of PyTorch's ``SGD`` and ``Adam`` exactly, so runs are comparable.

``step()`` consumes the gradient: it uses ``params.grad`` as its scratch space, so after a step
that array no longer holds the gradient (the next ``loss_and_grad`` writes a new one). Reusing it
keeps one parameter-sized array fewer in the cache on every step.
"""
from __future__ import annotations

import math
import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import CheckpointError, InputTypeError, ValidationError
from .params import Params
from .runtime.validation import check_choice, check_finite_float, check_positive_float, check_positive_int

__all__ = ["SGD", "Adam", "make_optimizer", "OPTIMIZERS"]


def default_threads() -> int:
    """The number of threads the BLAS is told to use, else the number of usable cores."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        try:
            n = int(os.environ.get(var, ""))
        except ValueError:
            continue
        if n > 0:
            return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


class Optimizer:
    name = "optimizer"

    def __init__(self, params, lr):
        if not isinstance(params, Params):
            raise InputTypeError(f"params: expected the model's Params (model.params), got {type(params).__name__}")
        self.params = params
        self.lr = check_positive_float(lr, "lr")

    def step(self, also=()):
        """Update the parameters from ``params.grad`` plus every vector in ``also``.

        ``also`` holds the gradients that the other workers of a data-parallel step
        (:mod:`minivae.parallel`) computed for their parts of the batch; adding them is the
        first pass of the update.
        """
        raise NotImplementedError

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

    def step(self, also=()):
        g = self.params.grad
        for other in also:
            g += other
        if self.momentum:
            self.buf *= self.momentum
            self.buf += g
            np.multiply(self.buf, self.lr, out=g)    # g is spent: it becomes the scratch space
        else:
            g *= self.lr
        self.params.data -= g
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

    The moments are stored as *discounted sums*, ``m_sum = m / (1 - b1)`` and
    ``v_sum = v / (1 - b2)``. Dividing the two moment rules by (1 - b1) and (1 - b2) gives

        m_sum <- b1 m_sum + g,     v_sum <- b2 v_sum + g^2,

    so each moment costs two in-place passes over the vector instead of three, and the
    constant factors (1 - b1) and sqrt(1 - b2) move into the two scalars of the last line
    (see :meth:`step`). The attributes ``m`` and ``v`` give the textbook moments.

    Every operation is elementwise, so the vector can be cut into pieces updated independently
    with identical results. When the machine's BLAS runs on several threads (``threads``,
    by default read from ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``,
    else the number of usable cores) and the model is large, the pieces are updated by as many
    threads at once; NumPy releases the GIL inside its loops, so they really run in parallel.
    """

    name = "adam"
    #: below this many parameters a thread hand-off costs more than it saves
    PARALLEL_MIN_SIZE = 1 << 17
    #: and no piece is made smaller than this (many cores, a small model)
    MIN_PIECE = 1 << 15

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, threads=None):
        super().__init__(params, lr)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValidationError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        b1, b2 = (check_finite_float(b, "betas") for b in betas)
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValidationError(f"betas: expected two numbers in [0, 1), got {tuple(betas)}")
        self.b1, self.b2 = b1, b2
        self.eps = check_positive_float(eps, "eps")
        self.m_sum = np.zeros_like(params.data)
        self.v_sum = np.zeros_like(params.data)
        self.t = 0
        threads = default_threads() if threads is None else check_positive_int(threads, "threads")
        n = params.size
        pieces = max(1, min(threads, n // self.MIN_PIECE)) if n >= self.PARALLEL_MIN_SIZE else 1
        bounds = [n * i // pieces for i in range(pieces + 1)]
        self._pieces = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        self._pool = ThreadPoolExecutor(pieces - 1) if pieces > 1 else None
        if self._pool is not None:
            # Threads of an optimizer nobody holds any more are let go (a notebook builds many).
            weakref.finalize(self, self._pool.shutdown, wait=False)

    @property
    def m(self):
        """The first moment m = (1 - b1) m_sum (a new array)."""
        return (1 - self.b1) * self.m_sum

    @property
    def v(self):
        """The second moment v = (1 - b2) v_sum (a new array)."""
        return (1 - self.b2) * self.v_sum

    def step(self, also=()):
        self.t += 1
        # With m = (1 - b1) m_sum and v = (1 - b2) v_sum, the update
        #   theta -= lr / bc1 * m / (sqrt(v / bc2) + eps),   bc1 = 1 - b1^t, bc2 = 1 - b2^t,
        # is, after dividing numerator and denominator by a = sqrt((1 - b2) / bc2),
        #   theta -= [lr (1 - b1) / (bc1 a)] * m_sum / (sqrt(v_sum) + eps / a).
        a = math.sqrt((1 - self.b2) / (1 - self.b2 ** self.t))
        step_size = self.lr * (1 - self.b1) / ((1 - self.b1 ** self.t) * a)
        eps = self.eps / a
        if self._pool is None:
            self._update(self._pieces[0], step_size, eps, also)
            return
        futures = [self._pool.submit(self._update, s, step_size, eps, also) for s in self._pieces[1:]]
        self._update(self._pieces[0], step_size, eps, also)
        for f in futures:
            f.result()

    def _update(self, s, step_size, eps, also=()):
        """The update of the entries ``s`` of the vector: ten in-place passes, no allocation.

        Once g has entered both sums it is not needed any more, so its array is the scratch
        space of the last line (one array less to stream through the cache each step).
        """
        g, m, v, theta = self.params.grad[s], self.m_sum[s], self.v_sum[s], self.params.data[s]
        for other in also:                           # the other workers' gradients, if any
            g += other[s]
        m *= self.b1                                 # m_sum <- b1 m_sum + g
        m += g
        np.multiply(g, g, out=g)                     # v_sum <- b2 v_sum + g^2
        v *= self.b2
        v += g
        u = np.sqrt(v, out=g)                        # theta -= step_size m_sum / (sqrt(v_sum) + eps)
        u += eps
        np.divide(m, u, out=u)
        u *= step_size
        theta -= u

    def state_dict(self):
        # the sums themselves, so that a resumed run continues bit for bit
        return {"name": self.name, "t": self.t, "m_sum": self.m_sum.copy(), "v_sum": self.v_sum.copy()}

    def load_state_dict(self, state):
        if isinstance(state, dict) and "m_sum" not in state and "m" in state:
            # written before the moments were kept as sums: convert the textbook moments
            self.m_sum[...] = self._check_state_array(state, "m") / (1 - self.b1)
            self.v_sum[...] = self._check_state_array(state, "v") / (1 - self.b2)
        else:
            self.m_sum[...] = self._check_state_array(state, "m_sum")
            self.v_sum[...] = self._check_state_array(state, "v_sum")
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
