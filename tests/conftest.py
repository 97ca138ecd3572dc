"""Shared fixtures: a seeded generator, float64 by default for gradient checks, and real MNIST
when the MINIVAE_DATA environment variable points at it."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

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
