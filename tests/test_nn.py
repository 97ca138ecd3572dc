"""Each layer's hand-derived backward pass against central differences (float64)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minivae import nn
from minivae.errors import ValidationError
from minivae.gradcheck import check_gradient, numerical_gradient, relative_error
from minivae.params import Params

TOL = 1e-6
shapes = st.tuples(st.integers(1, 6), st.integers(1, 7))


def _away_from_kinks(x, rng):
    # relu is not differentiable at 0; keep every input at least 1e-3 away from it
    x[np.abs(x) < 1e-3] += 2e-3
    return x


@pytest.mark.parametrize("name", sorted(nn.ACTIVATIONS))
@given(shape=shapes, seed=st.integers(0, 10_000))
def test_activation_backward(name, shape, seed):
    rng = np.random.default_rng(seed)
    fwd, bwd = nn.ACTIVATIONS[name]
    # |x| <= 6: beyond that tanh'(x) < 2.5e-5 and a central difference can no longer resolve it
    # (at x = 8.8, seed 108, rounding in f alone gave a relative error of 2e-5)
    x = _away_from_kinks(np.clip(rng.standard_normal(shape) * 3, -6, 6), rng)
    w = rng.standard_normal(shape)          # L = sum(w * f(x)), so dL/dy = w
    f = lambda: float(np.sum(w * fwd(x)))
    y = fwd(x)
    err, _, _ = check_gradient(f, lambda: bwd(w.copy(), x, y), x)
    assert err < TOL


@given(b=st.integers(1, 5), n_in=st.integers(1, 6), n_out=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_linear_backward(b, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    x, W, bias = rng.standard_normal((b, n_in)), rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)
    w = rng.standard_normal((b, n_out))
    f = lambda: float(np.sum(w * nn.linear_forward(x, W, bias)))
    dW, db = np.empty_like(W), np.empty_like(bias)
    dx = nn.linear_backward(w, x, W, dW, db)
    assert relative_error(dW, numerical_gradient(f, W)) < TOL
    assert relative_error(db, numerical_gradient(f, bias)) < TOL
    assert relative_error(dx, numerical_gradient(f, x)) < TOL


@pytest.mark.parametrize("activation", sorted(nn.ACTIVATIONS))
def test_mlp_backward(activation, rng):
    net = nn.MLP((5, 7, 6, 3), activation, prefix="m")
    P = Params(net.param_shapes(), np.float64)
    net.init(P, rng)
    x = rng.standard_normal((4, 5))
    w = rng.standard_normal((4, 3))
    f = lambda: float(np.sum(w * net.forward(P, x)[0]))
    out, cache = net.forward(P, x)
    dx = net.backward(P, cache, w.copy())
    assert relative_error(P.grad, numerical_gradient(f, P.data)) < TOL
    assert relative_error(dx, numerical_gradient(f, x)) < TOL


@pytest.mark.parametrize("start", [1, 2])
def test_mlp_started_above_its_first_layer(start, rng):
    """forward(start=k) on layer k-1's output gives the whole network's output; backward(start=k)
    writes the gradient of layers k and up and returns dL/d(that output), by central differences."""
    net = nn.MLP((5, 7, 6, 3), "tanh", prefix="m")
    P = Params(net.param_shapes(), np.float64)
    net.init(P, rng)
    x = rng.standard_normal((4, 5))
    _, full_cache = net.forward(P, x)
    h = full_cache[start - 1][2].copy()              # the activation after layer start - 1
    out, cache = net.forward(P, h, start=start)
    np.testing.assert_allclose(out, net.forward(P, x)[0], rtol=1e-12)
    w = rng.standard_normal((4, 3))
    f = lambda: float(np.sum(w * net.forward(P, h, start=start)[0]))
    P.grad.fill(0.0)
    dh = net.backward(P, cache, w.copy(), start=start)
    upper = slice(P.slices[f"m.{start}.W"].start, None)
    assert relative_error(P.grad[upper], numerical_gradient(f, P.data)[upper]) < TOL
    assert np.all(P.grad[:upper.start] == 0)         # the layers below start are not touched
    assert relative_error(dh, numerical_gradient(f, h)) < TOL
    with pytest.raises(ValidationError, match="start"):
        net.forward(P, h, start=3)


def test_sigmoid_softplus_stable_at_extremes():
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    s = nn.sigmoid(x)
    assert np.all(np.isfinite(s)) and s[0] == 0 and s[-1] == 1 and s[2] == 0.5
    sp = nn.softplus(x)
    assert np.all(np.isfinite(sp))
    assert sp[-1] == 1e4 and sp[0] == 0 and abs(sp[2] - np.log(2)) < 1e-15


def test_mlp_rejects_bad_sizes_and_activation():
    from minivae.errors import ValidationError
    with pytest.raises(ValidationError, match="activation"):
        nn.MLP((3, 2), "gelu")
    with pytest.raises(ValidationError, match="sizes"):
        nn.MLP((3,), "relu")
