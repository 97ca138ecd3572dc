"""The beta-VAE (lecture 001): its objective as a Lagrangian, what beta does to the bound, the
latent traversals and the command line that draws them and scores a model's disentanglement.

The bound checks use a linear-Gaussian model, where log p(x) and the posterior are exact:
z ~ N(0, I_d), x | z ~ N(W z + b, s^2 I_D). For any Gaussian q,

    F_beta(q) = E_q log p(x|z) - beta KL(q || p(z))
              = log p(x) - KL(q || p(z|x)) - (beta - 1) KL(q || p(z)),

so F_beta <= log p(x) for beta >= 1, and at q = p(z|x) with beta < 1 it exceeds log p(x) by
(1 - beta) KL(p(z|x) || p(z)) > 0.
"""
import json
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from scipy.optimize import brentq, minimize

import minivae
from minivae import plots
from minivae.cli import main
from minivae.errors import ValidationError
from minivae.kl import kl_diag_normal
from minivae.likelihoods import Gaussian


# ---- the objective and the bound --------------------------------------------------------------


def _recon(W, b, x, s, mu, lv):
    """E_q log N(x | W z + b, s^2 I) = log N(x | W mu + b, s^2 I) - sum_j ||W_j||^2 e^lv_j / (2 s^2)."""
    return -Gaussian(s).nll(x[None], (W @ mu + b)[None])[0] - np.sum(np.sum(W**2, 0) * np.exp(lv)) / (2 * s**2)


def _kl_to(mu, lv, m, log_S):
    return kl_diag_normal(((mu - m) * np.exp(-0.5 * log_S))[None], (lv - log_S)[None])[0]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), beta=st.floats(1.0, 32.0))
def test_beta_objective_is_below_log_px_for_beta_at_least_one(seed, beta, linear_gaussian):
    g = np.random.default_rng(seed)
    W, b, x, s, m, S, log_px = linear_gaussian(g)
    for _ in range(5):
        mu, lv = g.normal(m, 1.0), g.normal(np.log(S), 1.0)
        kl = kl_diag_normal(mu[None], lv[None])[0]
        f = _recon(W, b, x, s, mu, lv) - beta * kl
        assert f <= log_px + 1e-12
        # the decomposition that says why: both subtracted terms are >= 0 when beta >= 1
        assert f == pytest.approx(log_px - _kl_to(mu, lv, m, np.log(S)) - (beta - 1) * kl, abs=1e-9)
    # and the best q of F_beta, from its closed form below, stays below log p(x) too
    mu_b, lv_b = _best_q(W, b, x, s, beta)
    assert _recon(W, b, x, s, mu_b, lv_b) - beta * kl_diag_normal(mu_b[None], lv_b[None])[0] <= log_px + 1e-12


def _best_q(W, b, x, s, beta):
    """The Gaussian q maximizing F_beta for the linear-Gaussian model, by setting its gradient
    to zero: mu_j = W_j.(x - b) / (||W_j||^2 + beta s^2), sigma_j^2 = beta s^2 / (||W_j||^2 + beta s^2)."""
    w2 = np.sum(W**2, axis=0)
    return (W.T @ (x - b)) / (w2 + beta * s**2), np.log(beta * s**2 / (w2 + beta * s**2))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), beta=st.floats(0.0, 0.95))
def test_beta_below_one_can_exceed_log_px(seed, beta, linear_gaussian):
    g = np.random.default_rng(seed)
    W, b, x, s, m, S, log_px = linear_gaussian(g)
    # q = the exact posterior: no gap to it, and the KL to the prior is now rewarded
    kl_post = kl_diag_normal(m[None], np.log(S)[None])[0]
    f = _recon(W, b, x, s, m, np.log(S)) - beta * kl_post
    assert f > log_px
    assert f - log_px == pytest.approx((1 - beta) * kl_post, rel=1e-9)
    # at beta = 1 the closed-form best q is the posterior itself
    mu1, lv1 = _best_q(W, b, x, s, 1.0)
    np.testing.assert_allclose(mu1, m, rtol=1e-12)
    np.testing.assert_allclose(lv1, np.log(S), rtol=1e-12, atol=1e-14)


def test_best_q_closed_form_is_a_stationary_point(rng, linear_gaussian):
    W, b, x, s, _, _, _ = linear_gaussian(rng)
    for beta in (0.3, 1.0, 4.0):
        mu, lv = _best_q(W, b, x, s, beta)

        def f(v):
            return _recon(W, b, x, s, v[:3], v[3:]) - beta * kl_diag_normal(v[None, :3], v[None, 3:])[0]
        v0, h = np.concatenate([mu, lv]), 1e-6
        grad = [(f(v0 + h * e) - f(v0 - h * e)) / (2 * h) for e in np.eye(6)]
        np.testing.assert_allclose(grad, 0, atol=1e-7)
        assert all(f(v0) >= f(v0 + 0.05 * e) for e in np.vstack([np.eye(6), -np.eye(6)]))


# ---- the constrained problem and its multiplier (KKT) ------------------------------------------

W1, S1, X1 = 1.5, 0.5, 1.2       # the 1-D model z ~ N(0, 1), x | z ~ N(W1 z, S1^2), one observed x


def _r1(m, lv):
    """E_q log p(x | z) for q = N(m, e^lv) in the 1-D model."""
    return -0.5 * math.log(2 * math.pi * S1**2) - ((X1 - W1 * m) ** 2 + W1**2 * math.exp(lv)) / (2 * S1**2)


def _kl1(m, lv):
    return 0.5 * (math.exp(lv) + m * m - 1 - lv)


def _q_of_beta(beta):
    v = beta * S1**2 / (beta * S1**2 + W1**2)
    return W1 * X1 / (W1**2 + beta * S1**2), math.log(v)


@pytest.mark.parametrize("capacity", [0.2, 0.6, 1.5])
def test_kkt_multiplier_of_the_kl_constraint_is_beta(capacity):
    """max_q E_q log p(x|z) subject to KL(q || p) <= C: the solution is the unconstrained
    maximizer of E_q log p(x|z) - beta KL for the beta whose maximizer has KL = C, and beta is
    the constraint's KKT multiplier: grad E log p = beta grad KL there, beta >= 0, KL = C."""
    cons = {"type": "ineq", "fun": lambda v: capacity - _kl1(*v)}
    res = minimize(lambda v: -_r1(*v), x0=[0.0, 0.0], constraints=[cons], method="SLSQP",
                   options={"ftol": 1e-14, "maxiter": 500})
    assert res.success
    m, lv = res.x
    assert _kl1(m, lv) == pytest.approx(capacity, abs=1e-7)           # the constraint is active
    # stationarity of the Lagrangian: grad R = lambda grad KL, solved for lambda by least squares
    grad_r = np.array([W1 * (X1 - W1 * m) / S1**2, -W1**2 * math.exp(lv) / (2 * S1**2)])
    grad_kl = np.array([m, 0.5 * (math.exp(lv) - 1)])
    lam = float(grad_r @ grad_kl / (grad_kl @ grad_kl))
    np.testing.assert_allclose(grad_r, lam * grad_kl, rtol=1e-4, atol=1e-6)
    # the beta whose unconstrained optimum spends exactly C nats
    beta = brentq(lambda t: _kl1(*_q_of_beta(t)) - capacity, 1e-6, 1e6, xtol=1e-14)
    assert lam > 0 and lam == pytest.approx(beta, rel=1e-4)
    np.testing.assert_allclose([m, lv], _q_of_beta(beta), rtol=1e-4, atol=1e-5)
    # a budget tighter than the ELBO's optimum (the posterior's KL) means beta > 1
    assert (beta > 1) == (capacity < _kl1(*_q_of_beta(1.0)))


def test_kl_of_the_optimum_falls_as_beta_grows():
    kls = [_kl1(*_q_of_beta(b)) for b in (0.25, 0.5, 1, 2, 4, 8, 16)]
    assert all(a > b for a, b in zip(kls, kls[1:]))
    recon = [_r1(*_q_of_beta(b)) for b in (0.25, 0.5, 1, 2, 4, 8, 16)]
    assert all(a > b for a, b in zip(recon, recon[1:]))     # the rate-distortion trade-off


# ---- latent traversals ---------------------------------------------------------------------------

def _model(d=3):
    return minivae.VAE(16, d, (8,), dtype="float64", seed=1)


def test_traverse_moves_one_code_per_row(rng):
    model = _model()
    x = rng.random(16)
    offsets = np.array([-1.0, 0.0, 2.0])
    images, kl, mu = plots.traverse(model, x, offsets)
    assert images.shape == (3, 3, 16) and kl.shape == (3,)
    np.testing.assert_allclose(mu, model.embed(x[None])[0])
    for j in range(3):
        for i, a in enumerate(offsets):
            z = mu.copy()
            z[j] += a
            np.testing.assert_allclose(images[j, i], model.decode(z[None])[0], rtol=1e-12)
    # offset 0 is the image's reconstruction from its mean, in every row
    np.testing.assert_allclose(images[:, 1], np.tile(model.reconstruct(x[None]), (3, 1)), rtol=1e-12)
    # the label's KL is that code's own term of the image's KL
    m, lv = model.encode(x[None])
    assert kl.sum() == pytest.approx(kl_diag_normal(m, lv)[0], rel=1e-12)


def test_traverse_kl_over_data_is_active_units_kl(rng):
    model = _model()
    data = rng.random((40, 16))
    _, kl, _ = plots.traverse(model, data[0], kl_data=data)
    np.testing.assert_allclose(kl, minivae.evaluate.active_units(model, data)["kl_per_dim"])


def test_traversal_figure_rows_sorted_by_kl_and_labelled(rng):
    model = _model(4)
    x = rng.random(16)
    fig = plots.traversal_figure(model, x, offsets=np.linspace(-2, 2, 5), shape=(4, 4))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    _, kl, _ = plots.traverse(model, x)
    assert len(labels) == 4 and all("KL" in t for t in labels)
    shown = [float(t.split()[-1]) for t in labels]
    assert shown == sorted(shown, reverse=True)
    np.testing.assert_allclose(sorted(shown, reverse=True), np.round(np.sort(kl)[::-1], 2))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-2", "-1", "+0", "+1", "+2"]
    unsorted = plots.traversal_figure(model, x, sort=False, shape=(4, 4))
    assert [t.get_text().split()[0] for t in unsorted.axes[0].get_yticklabels()] == ["z0", "z1", "z2", "z3"]


def test_traversal_bad_input(rng):
    with pytest.raises(ValidationError, match="needs a VAE"):
        plots.traverse(minivae.AE(16, 2, (8,)), rng.random(16))
    with pytest.raises(ValidationError, match="image: expected one image of 16 pixels"):
        plots.traverse(_model(), rng.random(15))
    with pytest.raises(ValidationError, match="offsets: expected at least one finite step"):
        plots.traverse(_model(), rng.random(16), offsets=[])
    with pytest.raises(ValidationError, match="offsets"):
        plots.traverse(_model(), rng.random(16), offsets=[0.0, np.nan])


# ---- the command line ----------------------------------------------------------------------------

def _needs_data():
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set")


@pytest.fixture(scope="module")
def sprites_run(tmp_path_factory):
    _needs_data()
    out = tmp_path_factory.mktemp("beta") / "run"
    rc = main(["train", "--data", "sprites", "--epochs", "1", "--limit", "256", "--hidden", "16",
               "--latent-dim", "3", "--beta", "4", "--out", str(out), "--no-progress"])
    assert rc == 0
    return out / "checkpoint.npz"


def test_cli_plot_traversals(sprites_run, tmp_path, capsys):
    png = tmp_path / "t.png"
    assert main(["plot", "traversals", str(sprites_run), "--out", str(png), "--image-index", "5",
                 "--steps", "5"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


def test_cli_evaluate_disentanglement(sprites_run, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(sprites_run), "--disentanglement", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["disentanglement"]
    f, m = res["factorvae"], res["mig"]
    assert 0 <= f["score"] <= 1 and 0 <= m["score"] <= 1
    assert f["n_examples"] == 614 and f["batch_size"] == 64 and m["n_bins"] == 20
    assert set(m["per_factor"]) == {"shape", "scale", "orientation", "x", "y"}
    assert main(["evaluate", str(sprites_run), "--disentanglement", "--limit", "300"]) == 0
    text = capsys.readouterr().out
    assert "FactorVAE score" in text and "MIG" in text and "300 examples" in text
    assert "20 equal-width bins" in text and "L = 64" in text


def _one_line_error(argv, capsys):
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err


def test_cli_disentanglement_needs_factors(sprites_run, tmp_path, capsys):
    out = tmp_path / "mnist"
    assert main(["train", "--epochs", "1", "--limit", "128", "--hidden", "8", "--latent-dim", "2",
                 "--out", str(out), "--no-progress"]) == 0
    err = _one_line_error(["evaluate", str(out / "checkpoint.npz"), "--disentanglement"], capsys)
    assert "--disentanglement: needs a data set with known factors" in err and "mnist" in err


@pytest.mark.parametrize("extra,expected", [
    (["--image-index", "100000"], "--image-index: expected at most 613"),
    (["--data", "mnist"], "--data: the model takes images of 1024 pixels, mnist has 784"),
    (["--steps", "0"], "--steps: expected a positive integer"),
    (["--range", "-1"], "--range: expected a positive finite number"),
])
def test_cli_plot_traversals_errors(sprites_run, tmp_path, capsys, extra, expected):
    err = _one_line_error(["plot", "traversals", str(sprites_run), "--out", str(tmp_path / "t.png"), *extra],
                          capsys)
    assert expected in err


def test_cli_plot_needs_a_figure_name(capsys):
    err = _one_line_error(["plot"], capsys)
    assert "traversals" in err


# ---- the sweep's pictures ------------------------------------------------------------------------

def _runs():
    return [{"beta": b, "seed": s, "kl": 20 / b + s, "recon": 30 + 5 * math.log2(b) + s,
             "factorvae": 0.5 + 0.01 * b, "mig": 0.1 * s} for b in (1, 4, 16) for s in range(3)]


def test_rate_distortion_figure_one_point_per_run_and_the_medians():
    fig = plots.rate_distortion_figure(_runs())
    ax = fig.axes[0]
    assert len(ax.collections) == 3 and all(len(c.get_offsets()) == 3 for c in ax.collections)
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_xdata(), [21, 6, 2.25])       # median KL of each beta
    np.testing.assert_allclose(line.get_ydata(), [31, 41, 51])


def test_sweep_figure_draws_each_metric_with_its_median():
    fig = plots.sweep_figure(_runs(), ["factorvae", "mig"], ["FactorVAE", "MIG"], chance={"factorvae": 0.2})
    assert len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [0.51, 0.54, 0.66])
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), [0.1, 0.1, 0.1])
    assert fig.axes[0].lines[1].get_ydata()[0] == 0.2           # the chance level


def test_sweep_figures_bad_input():
    with pytest.raises(ValidationError, match="runs: expected a non-empty list"):
        plots.rate_distortion_figure([])
    with pytest.raises(ValidationError, match=r"runs\[0\]: expected the keys .* missing \['mig'\]"):
        plots.sweep_figure([{"beta": 1, "factorvae": 0.5}], ["mig"])
    with pytest.raises(ValidationError, match="labels: expected one per metric"):
        plots.sweep_figure(_runs(), ["mig"], ["a", "b"])


# ---- the grader of notebook 13's gradient exercise -------------------------------------------------

def _capacity_right(mu, lv, gamma, c):
    kl = 0.5 * np.sum(np.exp(lv) + mu**2 - 1 - lv, axis=1, keepdims=True)
    s = gamma * np.sign(kl - c)
    return s * mu, s * 0.5 * (np.exp(lv) - 1)


def test_capacity_grader_passes_right_fails_wrong_and_stub(capsys):
    from minivae import exercises as X
    X.check_capacity_gradient(_capacity_right, exercise="2")
    assert capsys.readouterr().out.startswith("✓ exercise 2: correct")
    # forgetting the sign of KL - C (the gradient of gamma (KL - C) instead of gamma |KL - C|)
    with pytest.raises(X.ExerciseNotPassed, match=r"✗ exercise 2, not yet: d/dmu differs .* worst entry"):
        X.check_capacity_gradient(lambda mu, lv, g, c: (g * mu, g * 0.5 * (np.exp(lv) - 1)), exercise="2")
    with pytest.raises(X.ExerciseNotPassed, match="not answered"):
        X.check_capacity_gradient(lambda *a: (_ for _ in ()).throw(NotImplementedError("HINT")), exercise="2")
    # the penalty is the documented sum, and its backward pass is minivae's KL gradient times the sign
    rng = np.random.default_rng(0)
    mu, lv = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    kl = kl_diag_normal(mu, lv)
    assert X.capacity_penalty(mu, lv, 3.0, 1.0) == pytest.approx(3 * np.sum(np.abs(kl - 1.0)))
    for a, b in zip(X.capacity_penalty_backward(mu, lv, 3.0, 1.0), _capacity_right(mu, lv, 3.0, 1.0)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
