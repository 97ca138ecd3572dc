"""Optimizers: one step against the textbook update written out directly, and convergence on a
quadratic."""
import numpy as np
import pytest

from minivae import Adam, SGD
from minivae.errors import ValidationError
from minivae.params import Params


def _params(rng, n=7):
    P = Params({"w": (n,)}, np.float64)
    P.data[...] = rng.standard_normal(n)
    return P


def test_adam_matches_the_update_rule(rng):
    P = _params(rng)
    opt = Adam(P, lr=0.01, betas=(0.8, 0.95), eps=1e-6)
    theta, m, v = P.data.copy(), np.zeros(7), np.zeros(7)
    for t in range(1, 6):
        g = rng.standard_normal(7)
        P.grad[...] = g
        opt.step()
        m = 0.8 * m + 0.2 * g
        v = 0.95 * v + 0.05 * g * g
        mhat, vhat = m / (1 - 0.8 ** t), v / (1 - 0.95 ** t)
        theta = theta - 0.01 * mhat / (np.sqrt(vhat) + 1e-6)
        np.testing.assert_allclose(P.data, theta, rtol=1e-12, atol=1e-14)


def test_sgd_momentum_matches_the_update_rule(rng):
    P = _params(rng)
    opt = SGD(P, lr=0.1, momentum=0.5)
    theta, b = P.data.copy(), np.zeros(7)
    for _ in range(4):
        g = rng.standard_normal(7)
        P.grad[...] = g
        opt.step()
        b = 0.5 * b + g
        theta = theta - 0.1 * b
    np.testing.assert_allclose(P.data, theta, rtol=1e-12)


@pytest.mark.parametrize("cls,lr", [(Adam, 0.05), (SGD, 0.05)])
def test_minimizes_a_quadratic(cls, lr, rng):
    P = _params(rng)
    target = rng.standard_normal(7)
    opt = cls(P, lr=lr)
    for _ in range(2000):
        P.grad[...] = P.data - target
        opt.step()
    np.testing.assert_allclose(P.data, target, atol=1e-3)


def test_state_roundtrip(rng):
    P = _params(rng)
    a = Adam(P, lr=0.01)
    for _ in range(3):
        P.grad[...] = rng.standard_normal(7)
        a.step()
    b = Adam(P.copy(), lr=0.01)
    b.load_state_dict(a.state_dict())
    assert b.t == 3 and np.array_equal(b.m_sum, a.m_sum) and np.array_equal(b.v_sum, a.v_sum)


@pytest.mark.parametrize("lr", [0, -1e-3, float("nan"), float("inf")])
def test_rejects_bad_learning_rates(lr, rng):
    with pytest.raises(ValidationError, match="lr"):
        Adam(_params(rng), lr=lr)


def test_adam_in_parallel_pieces_is_bit_identical(rng):
    """Adam's update is elementwise, so updating the vector in pieces on several threads must
    give exactly the single-threaded result."""
    n = Adam.PARALLEL_MIN_SIZE + 12345
    P1 = Params({"w": (n,)}, np.float32)
    P1.data[...] = rng.standard_normal(n)
    P3 = P1.copy()
    a1, a3 = Adam(P1, lr=0.01, threads=1), Adam(P3, lr=0.01, threads=3)
    assert len(a3._pieces) == 3 and a1._pool is None
    for _ in range(3):
        g = rng.standard_normal(n).astype(np.float32)
        P1.grad[...] = g
        P3.grad[...] = g
        a1.step()
        a3.step()
    assert np.array_equal(P1.data, P3.data) and np.array_equal(a1.v_sum, a3.v_sum)


def test_adam_keeps_discounted_sums_and_reads_textbook_moments(rng):
    """Adam stores m / (1 - b1) and v / (1 - b2); a state written with the textbook m and v (as
    checkpoints before that change hold) continues the same run."""
    P = _params(rng)
    a = Adam(P, lr=0.01, betas=(0.8, 0.95))
    m, v = np.zeros(7), np.zeros(7)
    for _ in range(3):
        g = rng.standard_normal(7)
        P.grad[...] = g
        a.step()
        m, v = 0.8 * m + 0.2 * g, 0.95 * v + 0.05 * g * g
    np.testing.assert_allclose(a.m, m, rtol=1e-13)
    np.testing.assert_allclose(a.v, v, rtol=1e-13)
    b = Adam(P.copy(), lr=0.01, betas=(0.8, 0.95))
    b.load_state_dict({"name": "adam", "t": 3, "m": m, "v": v})
    np.testing.assert_allclose(b.m_sum, a.m_sum, rtol=1e-13)
    np.testing.assert_allclose(b.v_sum, a.v_sum, rtol=1e-13)
    assert b.t == 3


@pytest.mark.parametrize("cls", [Adam, SGD])
def test_step_spends_the_gradient_as_scratch_and_allocates_nothing(cls, rng):
    """The documented contract: step() reuses params.grad as scratch space (so no parameter-
    sized temporary exists) and the update still equals the one computed from the gradient."""
    P = _params(rng)
    ref = P.copy()
    a, b = cls(P, lr=0.01), cls(ref, lr=0.01)
    assert not any(isinstance(v, np.ndarray) and v.shape == P.data.shape and v is not P.data
                   for k, v in vars(a).items() if k not in ("m_sum", "v_sum", "buf"))
    for _ in range(3):
        g = rng.standard_normal(7)
        P.grad[...] = g
        ref.grad[...] = g
        a.step()
        b.step()
        np.testing.assert_array_equal(P.data, ref.data)
    assert not np.array_equal(P.grad, g)      # spent


def test_adam_pieces_are_never_tiny():
    n = Adam.PARALLEL_MIN_SIZE + 12345
    P = Params({"w": (n,)}, np.float32)
    a = Adam(P, lr=0.01, threads=64)
    assert len(a._pieces) == n // Adam.MIN_PIECE
    assert min(s.stop - s.start for s in a._pieces) >= Adam.MIN_PIECE
