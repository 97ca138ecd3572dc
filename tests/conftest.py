"""Shared fixtures: a seeded generator, float64 by default for gradient checks, and real MNIST
when the MINIVAE_DATA environment variable points at it."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from scipy.stats import multivariate_normal

settings.register_profile("minivae", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("minivae")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def mnist_small():
    """The first 64 real MNIST training images, grey levels in [0, 1] (skips without the data)."""
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set: real MNIST is not available")
    from minivae import datasets
    return datasets.load("mnist", "train").x[:64]


def _linear_gaussian(rng, d=3, D=7, s=0.6):
    """A linear-Gaussian model x = W z + b + s noise with orthogonal columns (so the exact
    posterior is diagonal), one x drawn from it, the posterior N(m, diag S) and log p(x)."""
    Q, _ = np.linalg.qr(rng.standard_normal((D, d)))
    W = Q * rng.uniform(0.5, 2.0, d)
    b = rng.standard_normal(D)
    x = W @ rng.standard_normal(d) + b + s * rng.standard_normal(D)
    S = 1 / (1 + np.sum(W**2, axis=0) / s**2)
    m = S * (W.T @ (x - b)) / s**2
    log_px = multivariate_normal(b, W @ W.T + s**2 * np.eye(D)).logpdf(x)
    return W, b, x, s, m, S, log_px


@pytest.fixture(scope="session")
def linear_gaussian():
    """The factory ``linear_gaussian(rng, d=3, D=7, s=0.6) -> (W, b, x, s, m, S, log_px)``, a
    model whose posterior and evidence are known exactly (session-scoped: it holds no state, so
    hypothesis tests may use it)."""
    return _linear_gaussian
