"""Graders of notebook 14's exercises: the semi-supervised VAE (M2)."""
from __future__ import annotations

import numpy as np

from ..models.m2 import unlabelled_bound, unlabelled_bound_backward
from .checks import _shape, check_gradient_exercise

__all__ = ["check_unlabelled_bound_gradient"]


def check_unlabelled_bound_gradient(fn, exercise="1", n_cases=3, seed=0):
    """``fn(logits, ell)`` must return d/dlogits of the summed unlabelled bound of M2,
    sum_b sum_y pi_by (l_by + log pi_by) with pi = softmax(logits); logits and the labelled
    bounds ell are (B, K) (notebook 14)."""
    def draw(rng):
        B, K = _shape(rng, 4, 10)
        return {"logits": 2 * rng.standard_normal((B, max(K, 2))), "ell": 100 + 20 * rng.random((B, max(K, 2)))}
    check_gradient_exercise(exercise, lambda i: fn(i["logits"], i["ell"]),
                            lambda i: unlabelled_bound_backward(i["logits"], i["ell"])[1],
                            lambda i: float(np.sum(unlabelled_bound(i["logits"], i["ell"]))),
                            draw, ("logits",), n_cases, seed,
                            reference_name="minivae.models.m2.unlabelled_bound_backward")


