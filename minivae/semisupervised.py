"""Evaluating the models that learn from labels (M2, M1+M2 and the baseline classifier): test
error, the confusion matrix, M2's labelled and unlabelled bounds (lecture 003, item 24), and the
default weights of M2's loss (:func:`default_weights`).

The bounds, in nats per example (see :mod:`minivae.models.m2`):

* labelled, -L(x, y) = -E_q log p(x | y, z) + KL(q(z | x, y) || p(z)) - log p(y), with the true y;
* unlabelled, -U(x) = sum_y q(y | x) (-L(x, y)) - H(q(y | x)),

each estimated with one sample of z per (x, y) pair and noise from a fixed seed. For M1+M2 they
are bounds on -log p(z1) of M1's codes, not on the pixels.
"""
from __future__ import annotations

import numpy as np

from .errors import ValidationError
from .models import M2, check_model
from .models.m2 import check_labels
from .runtime.validation import check_choice, check_int, check_positive_int, check_rng

__all__ = ["error_rate", "confusion_matrix", "bounds", "evaluate_labels", "default_weights"]


def default_weights(n_labelled, n_unlabelled, weighting="mean"):
    """(labelled_weight, alpha) of M2's batch loss for a training set of n_labelled labelled and
    n_unlabelled unlabelled examples (``minivae.models.m2``, "The loss of a mini-batch").

    ``mean``: each kind of example a mean of its own, lambda = 1 and alpha = beta = 0.1 N / N_l (the
    paper's code's weight per labelled example). ``dataset``: the paper's sum over the data set per
    unlabelled example, lambda = N_l / N_u and alpha = 0.1 N / N_u. Without unlabelled examples the
    paper's sum is the labelled one alone, which is the ``mean`` weighting.
    """
    n_l = check_positive_int(n_labelled, "n_labelled")
    n_u = check_int(n_unlabelled, "n_unlabelled", minimum=0)
    check_choice(weighting, "weighting", ("mean", "dataset"))
    n = n_l + n_u
    if weighting == "dataset" and n_u:
        return n_l / n_u, 0.1 * n / n_u
    return 1.0, 0.1 * n / n_l


def _label_model(model):
    check_model(model)
    if not getattr(model, "needs_labels", False):
        raise ValidationError(f"model: expected a model with a classifier q(y | x) (m2, m1m2 or classifier), "
                              f"got {model.kind}")
    return model


def error_rate(model, x, y):
    """The fraction of rows of x whose class argmax_y q(y | x) is not y."""
    _label_model(model)
    y = check_labels(y, len(x), model.n_classes, name="y", allow_unlabelled=False)
    return float(np.mean(model.predict(x) != y))


def confusion_matrix(model, x, y):
    """(K, K) counts: row = true class, column = predicted class."""
    _label_model(model)
    y = check_labels(y, len(x), model.n_classes, name="y", allow_unlabelled=False)
    K = model.n_classes
    return np.bincount(y * K + model.predict(x), minlength=K * K).reshape(K, K)


def bounds(model, x, y, seed=0, batch_size=500):
    """Mean labelled bound -L(x, y) (with the true y) and unlabelled bound -U(x) on (x, y)."""
    if not isinstance(_label_model(model), M2):
        raise ValidationError(f"model: the bounds need a generative model (m2 or m1m2), got {model.kind}")
    x = model.check_x(x)
    y = check_labels(y, len(x), model.n_classes, name="y", allow_unlabelled=False)
    batch_size = check_positive_int(batch_size, "batch_size")
    rng = check_rng(seed, "seed")
    sums = {"bound_labelled": 0.0, "bound_unlabelled": 0.0, "recon": 0.0, "kl": 0.0}
    for s in range(0, len(x), batch_size):
        xb, yb = x[s:s + batch_size], y[s:s + batch_size]
        lab = model.forward_loss(xb, model.sample_noise(len(xb), rng, yb), yb)
        unl_labels = np.full(len(xb), -1)
        unl = model.forward_loss(xb, model.sample_noise(len(xb), rng, unl_labels), unl_labels)
        sums["bound_labelled"] += lab["bound_labelled"] * len(xb)
        sums["bound_unlabelled"] += unl["bound_unlabelled"] * len(xb)
        sums["recon"] += unl["recon"] * len(xb)
        sums["kl"] += unl["kl"] * len(xb)
    return {k: v / len(x) for k, v in sums.items()}


def evaluate_labels(model, x, y, seed=0, with_bounds=True):
    """Test error (and for M2 / M1+M2 the bounds) of a model on labelled data: a dict with
    ``error``, ``accuracy`` and, with bounds, ``bound_labelled``, ``bound_unlabelled`` and
    ``nelbo`` / ``recon`` / ``kl`` (the unlabelled bound and its parts)."""
    err = error_rate(model, x, y)
    out = {"error": err, "accuracy": 1.0 - err}
    if with_bounds and isinstance(model, M2):
        b = bounds(model, x, y, seed=seed)
        out.update(b)
        out["nelbo"] = b["bound_unlabelled"]
    return out
