"""Checks for notebook 11's exercises: the M-step of a Gaussian mixture and the gradient of
per-datapoint VI (minivae.inference)."""
from __future__ import annotations

import numpy as np

from ..inference import negative_elbo, negative_elbo_and_grad
from ..mixture import GaussianMixture
from ..models import VAE
from .checks import _as_numbers, _call, _difference, _fail, _passed, check_gradient_exercise

__all__ = ["check_gmm_m_step", "check_local_elbo_gradient"]


def check_gmm_m_step(fn, exercise="1", n_cases=3, seed=0):
    """``fn(x, q)`` must return the M-step of a Gaussian mixture with full covariances,
    (weights (K,), means (K, D), covariances (K, D, D)), for data x (N, D) and responsibilities
    q (N, K): pi_c = N_c / N, m_c = sum_n q_nc x_n / N_c, S_c = sum_n q_nc (x_n - m_c)(x_n - m_c)^T / N_c
    (notebook 11), compared with ``minivae.mixture.GaussianMixture.m_step``."""
    rng = np.random.default_rng(seed)
    for case in range(1, n_cases + 1):
        n, d, k = int(rng.integers(8, 30)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        x = rng.standard_normal((n, d)) * rng.uniform(0.5, 3) + rng.standard_normal(d)
        q = rng.dirichlet(np.ones(k), size=n)
        given = _call(exercise, fn, x.copy(), q.copy())
        if not isinstance(given, (tuple, list)) or len(given) != 3:
            _fail(exercise, "expected three arrays (weights, means, covariances), got "
                            f"{type(given).__name__}")
        gm = GaussianMixture(k, covariance_type="full", reg_covar=1e-300).m_step(x, q)
        where = f"case {case} of {n_cases} (N={n}, D={d}, K={k})"
        for name, g, ref in zip(("weights", "means", "covariances"), given,
                                (gm.weights_, gm.means_, gm.covariances_)):
            diff = _difference(_as_numbers(exercise, name, g), ref, 1e-8, 1e-10)
            if diff is not None:
                _fail(exercise, f"{name} on {where}: {diff}")
    _passed(exercise, f"the weights, means and covariances of GaussianMixture.m_step on {n_cases} random cases")


def _linear_decoder_vae(A, c, sigma):
    """A float64 VAE whose decoder mean is exactly z A^T + c (relu(a) - relu(-a) = a through 2d
    hidden units) and whose likelihood is N(x | decoder mean, sigma^2 I)."""
    D, d = A.shape
    model = VAE(input_dim=D, latent_dim=d, hidden=(2 * d,), likelihood={"name": "gaussian", "sigma": sigma},
                dtype="float64", seed=0)
    P = model.params
    P["dec.0.W"][...] = np.hstack([np.eye(d), -np.eye(d)])
    P["dec.0.b"][...] = 0
    P["dec.1.W"][...] = np.vstack([A.T, -A.T])
    P["dec.1.b"][...] = c
    return model


def check_local_elbo_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(x, A, c, sigma, mu, v, eps)`` must return (d/dmu, d/dv) of the summed negative ELBO of
    per-example Gaussians q_i = N(mu_i, diag e^{v_i}) under the linear-Gaussian model
    p(z) = N(0, I), p(x | z) = N(x | A z + c, sigma^2 I), with L samples per example held fixed:

        sum_i [ (1/L) sum_l ||x_i - A z_il - c||^2 / (2 sigma^2) + KL(q_i || N(0, I)) ] + const,
        z_il = mu_i + e^{v_i / 2} eps_il,

    x (n, D), A (D, d), c (D,), mu and v (n, d), eps (n, L, d) (notebook 11). Compared with
    central differences and with ``minivae.inference.negative_elbo_and_grad``."""
    def draw(rng):
        n, L, d, D = (int(rng.integers(1, m + 1)) for m in (3, 4, 3, 5))
        return {"x": rng.standard_normal((n, D)), "A": rng.standard_normal((D, d)), "c": rng.standard_normal(D),
                "sigma": float(rng.uniform(0.5, 1.5)), "mu": rng.standard_normal((n, d)),
                "v": rng.normal(0, 0.5, (n, d)), "eps": rng.standard_normal((n, L, d))}

    def model(i):
        return _linear_decoder_vae(i["A"], i["c"], i["sigma"])

    check_gradient_exercise(exercise, lambda i: fn(i["x"], i["A"], i["c"], i["sigma"], i["mu"], i["v"], i["eps"]),
                            lambda i: negative_elbo_and_grad(model(i), i["x"], i["mu"], i["v"], i["eps"])[1:],
                            lambda i: float(np.sum(negative_elbo(model(i), i["x"], i["mu"], i["v"], i["eps"]))),
                            draw, ("mu", "v"), n_cases, seed,
                            reference_name="minivae.inference.negative_elbo_and_grad")
