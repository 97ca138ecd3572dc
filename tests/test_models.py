"""Whole-model gradient checks: the loss of the AE and of the VAE with every likelihood,
posterior and encoder, differentiated with respect to every entry of the flat parameter vector
with eps held fixed, against central differences in float64."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minivae
from minivae.gradcheck import check_model_gradient

TOL = 1e-6
LIKELIHOODS = ["bernoulli", "gaussian", "gaussian-learned", "gaussian-perpixel", "laplace"]


def _assert_report(report):
    worst = max(report, key=report.get)
    assert report[worst] < TOL, f"gradient of {worst}: relative error {report[worst]:.2e}"


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus", "sigmoid"])
def test_vae_gradient_every_likelihood(likelihood, activation, rng):
    model = minivae.VAE(10, 3, (8, 5), activation, likelihood, beta=0.8, dtype="float64", seed=3)
    x = rng.random((6, 10))
    eps = rng.standard_normal((6, 3))
    _assert_report(check_model_gradient(model, x, eps))


@pytest.mark.parametrize("posterior,encoder,likelihood", [
    ("diagonal", "separate", "bernoulli"),
    ("isotropic", "fused", "bernoulli"),
    ("isotropic", "fused", "gaussian-learned"),
    ("shared", "fused", "gaussian-learned"),
])
def test_vae_gradient_posteriors_and_encoders(posterior, encoder, likelihood, rng):
    model = minivae.VAE(9, 2, (7,), "tanh", likelihood, posterior=posterior, encoder=encoder,
                        dtype="float64", seed=5)
    x = rng.random((5, 9))
    eps = rng.standard_normal((5, 2))
    _assert_report(check_model_gradient(model, x, eps))


def test_vae_gradient_with_logvar_clamp(rng):
    x = rng.random((4, 8))
    free = minivae.VAE(8, 3, (6,), "tanh", "bernoulli", dtype="float64", seed=2)
    c = float(np.median(np.abs(free.encode(x)[1])))   # clip about half of the log-variances
    model = minivae.VAE(8, 3, (6,), "tanh", "bernoulli", logvar_clamp=c, dtype="float64", seed=2)
    model.params.data[...] = free.params.data
    raw, lv = free.encode(x)[1], model.encode(x)[1]
    clipped = np.abs(raw) > c
    assert clipped.any() and (~clipped).any()
    np.testing.assert_array_equal(lv, np.clip(raw, -c, c))
    _assert_report(check_model_gradient(model, x, rng.standard_normal((4, 3))))


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_ae_gradient(likelihood, rng):
    model = minivae.AE(10, 3, (7,), "tanh", likelihood, dtype="float64", seed=1)
    _assert_report(check_model_gradient(model, rng.random((5, 10))))


@given(b=st.integers(1, 6), D=st.integers(2, 12), d=st.integers(1, 4),
       hidden=st.lists(st.integers(1, 8), min_size=0, max_size=2), seed=st.integers(0, 999))
def test_vae_gradient_random_shapes(b, D, d, hidden, seed):
    rng = np.random.default_rng(seed)
    model = minivae.VAE(D, d, hidden, "tanh", "bernoulli", dtype="float64", seed=seed)
    _assert_report(check_model_gradient(model, rng.random((b, D)), rng.standard_normal((b, d))))


def test_vae_gradient_on_real_mnist(mnist_small, rng):
    """The classic architecture, shrunk in width, on eight real MNIST digits."""
    x = mnist_small[:8].astype(np.float64)
    model = minivae.VAE(784, 4, (12,), "relu", "bernoulli", dtype="float64", seed=0)
    _assert_report(check_model_gradient(model, x, rng.standard_normal((8, 4))))


def test_loss_parts_add_up(rng):
    model = minivae.VAE(10, 3, (8,), beta=2.5, seed=1)
    x = rng.random((7, 10)).astype(np.float32)
    s = model.loss(x, rng=rng)
    assert s["loss"] == pytest.approx(s["recon"] + 2.5 * s["kl"], rel=1e-6)
    assert s["kl"] > 0 and s["recon"] > 0


def test_float32_and_float64_agree(rng):
    m32 = minivae.VAE(10, 3, (8,), seed=4)
    m64 = m32.astype("float64")
    x = rng.random((5, 10))
    eps = rng.standard_normal((5, 3))
    a, b = m32.loss(x.astype(np.float32), eps), m64.loss(x, eps)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    assert m32.params.data.dtype == np.float32 and m64.params.data.dtype == np.float64


def test_model_api_shapes(rng):
    model = minivae.VAE(12, 2, (6,), seed=0)
    x = rng.random((5, 12)).astype(np.float32)
    mu, lv = model.encode(x)
    assert mu.shape == lv.shape == (5, 2)
    assert model.decode(mu).shape == (5, 12)
    r = model.reconstruct(x)
    assert r.shape == (5, 12) and r.min() >= 0 and r.max() <= 1
    s = model.sample(9, np.random.default_rng(0))
    assert s.shape == (9, 12) and s.dtype == np.float32
    hard = model.sample(9, np.random.default_rng(0), mean=False)
    assert set(np.unique(hard)) <= {0.0, 1.0}
    ae = minivae.AE(12, 2, (6,))
    assert ae.encode(x).shape == (5, 2) and ae.reconstruct(x).shape == (5, 12)
    assert set(np.unique(ae.sample(9, np.random.default_rng(0), mean=False))) <= {0.0, 1.0}


def test_params_are_views_of_one_vector():
    model = minivae.VAE(10, 3, (8,), seed=0)
    P = model.params
    assert P.size == sum(int(np.prod(s)) for s in P.shapes.values())
    P["enc.0.W"][...] = 7.0
    assert np.all(P.data[P.slices["enc.0.W"]] == 7.0)
    assert np.shares_memory(P.g("dec.1.b"), P.grad)


def test_training_lowers_the_loss_on_real_mnist(mnist_small):
    """A few hundred Adam steps on 64 real digits: the negative ELBO must fall a long way."""
    model = minivae.VAE(784, 8, (64,), seed=0)
    opt = minivae.Adam(model.params, lr=3e-3)
    rng = np.random.default_rng(0)
    x = mnist_small
    before = model.loss(x, rng=np.random.default_rng(1))["loss"]
    for _ in range(300):
        model.train_step(x, opt, rng)
    after = model.loss(x, rng=np.random.default_rng(1))["loss"]
    assert before > 500 and after < 0.5 * before


# ------------------------------------------------------------------------------------------------
# The gradient contract (minivae.params): loss_and_grad writes every entry of the gradient, and
# nothing from an earlier call survives in it.
# ------------------------------------------------------------------------------------------------
CONTRACT_MODELS = {
    "vae": lambda: minivae.VAE(10, 3, (8, 5), dtype="float64"),
    "vae-separate-perpixel": lambda: minivae.VAE(10, 3, (6,), likelihood="gaussian-perpixel",
                                                 encoder="separate", dtype="float64"),
    "vae-isotropic": lambda: minivae.VAE(10, 3, (6,), posterior="isotropic", dtype="float64"),
    "vae-shared": lambda: minivae.VAE(10, 3, (6,), likelihood="gaussian-learned", posterior="shared",
                                      dtype="float64"),
    "vae-sampled-kl": lambda: minivae.VAE(10, 3, (6,), dtype="float64", prior={"name": "normal", "kl": "sampled"}),
    "vae-clamped": lambda: minivae.VAE(10, 3, (6,), logvar_clamp=0.01, dtype="float64"),
    "ae": lambda: minivae.AE(10, 3, (6,), likelihood="gaussian-learned", dtype="float64"),
    "categorical-gumbel": lambda: minivae.models.CategoricalVAE(10, 2, 3, (6,), dtype="float64"),
    "categorical-st": lambda: minivae.models.CategoricalVAE(10, 2, 3, (6,), estimator="straight-through",
                                                            dtype="float64"),
    "categorical-reinforce": lambda: minivae.models.CategoricalVAE(10, 2, 3, (6,), estimator="reinforce",
                                                                   reinforce_samples=3, dtype="float64"),
    "categorical-reinforce-running-mean": lambda: minivae.models.CategoricalVAE(
        10, 2, 3, (6,), estimator="reinforce", likelihood="gaussian-learned", dtype="float64"),
    "m2": lambda: minivae.models.M2(10, 3, 2, (6,), dtype="float64"),
    "m1m2": lambda: minivae.models.M1M2(10, minivae.VAE(10, 4, (5,)).get_config(), 3, 2, (6,), dtype="float64"),
    "classifier": lambda: minivae.models.Classifier(10, 3, (6,), dtype="float64"),
}

#: models that learn from labels get a batch of labelled and unlabelled examples (-1)
CONTRACT_LABELS = {"m2": [0, -1, 2, -1, 1, -1], "m1m2": [0, -1, 2, -1, 1, -1], "classifier": [0, 1, 2, 2, 1, 0]}


@pytest.mark.parametrize("name", sorted(CONTRACT_MODELS))
def test_every_model_writes_its_whole_gradient(name, rng):
    model = CONTRACT_MODELS[name]()
    x = rng.random((6, 10))
    kw = {"labels": np.array(CONTRACT_LABELS[name])} if name in CONTRACT_LABELS else {}
    eps = model.sample_noise(6, rng, **kw) if model.noise_dim else None
    state = model.training_state()
    model.params.grad.fill(np.nan)
    model.loss_and_grad(x, eps, **kw)
    first = model.params.grad.copy()
    unwritten = [n for n, s in model.params.slices.items() if not np.all(np.isfinite(first[s]))]
    assert not unwritten, f"{name}: loss_and_grad left these gradients unwritten: {unwritten}"
    model.load_training_state(state)          # a REINFORCE baseline moves with every call
    model.params.grad[...] = 1e3              # garbage that must not survive either
    model.loss_and_grad(x, eps, **kw)
    np.testing.assert_array_equal(model.params.grad, first)


def test_a_network_run_twice_in_a_step_accumulates_its_second_backward_pass(rng):
    """The contract's second half: MLP.backward(accumulate=True) adds to what the first wrote."""
    from minivae.nn import MLP
    from minivae.params import Params
    net = MLP((4, 5, 3), "tanh", prefix="n")
    P = Params(net.param_shapes(), np.float64)
    net.init(P, rng)
    a, b = rng.random((6, 4)), rng.random((2, 4))
    da, db = rng.standard_normal((6, 3)), rng.standard_normal((2, 3))
    net.backward(P, net.forward(P, np.vstack([a, b]))[1], np.vstack([da, db]))
    together = P.grad.copy()
    P.grad.fill(np.nan)
    net.backward(P, net.forward(P, a)[1], da)
    net.backward(P, net.forward(P, b)[1], db, accumulate=True)
    np.testing.assert_allclose(P.grad, together, rtol=1e-12, atol=1e-14)
