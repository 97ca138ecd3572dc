"""Checks at the public boundary, with messages that say what was wrong and what was expected.

Inner kernels do not validate (they are the hot path); every public constructor, loader, fit,
evaluate and sample function calls these first.
"""
from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from ..errors import InputTypeError, ValidationError

__all__ = ["check_data", "check_positive_int", "check_positive_float", "check_choice",
           "check_rng", "check_finite_float", "check_int", "check_bool", "check_float_dtype",
           "check_array", "check_axis", "check_image_shape",
           "build_from_spec"]


def check_data(x, name="x", n_features=None, dtype=None, unit_interval=False, allow_empty=False):
    """Validate a (N, D) data array and return it as a C-contiguous array of ``dtype``.

    Checks, in this order: an array of real floats (integer pixels are refused, because 0..255
    integers fed to a model that expects [0, 1] give nonsense silently), two dimensions, not
    empty, D equal to ``n_features``, finite, and (for likelihoods defined on [0, 1]) every value
    in [0, 1].
    """
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        else:
            raise InputTypeError(f"{name}: expected a NumPy array of shape (N, D), got {type(x).__name__}")
    if x.dtype.kind in "iub":
        raise InputTypeError(
            f"{name}: expected floating-point pixels in [0, 1], got an array of dtype {x.dtype}; "
            f"convert with x.astype('float32') / 255 (or use minivae.datasets.load)")
    if x.dtype.kind != "f":
        raise InputTypeError(f"{name}: expected a floating-point array, got dtype {x.dtype}")
    if x.ndim != 2:
        hint = " (flatten images to rows, e.g. x.reshape(len(x), -1))" if x.ndim > 2 else ""
        raise ValidationError(f"{name}: expected a 2-D array (N, D), got {x.ndim}-D shape {x.shape}{hint}")
    if x.shape[0] == 0 and not allow_empty:
        raise ValidationError(f"{name}: expected at least one row, got an empty array of shape {x.shape}")
    if n_features is not None and x.shape[1] != n_features:
        raise ValidationError(f"{name}: expected {n_features} features per row to match the model, "
                              f"got {x.shape[1]} (shape {x.shape})")
    # The smallest and the largest value decide both checks: a NaN anywhere makes both NaN, an
    # infinity shows as one of them. Two passes with no temporary, where np.isfinite(x) would
    # make a mask the size of x (47 MB for MNIST's training set, which a training run then held
    # at its peak of memory beside the data).
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValidationError(f"{name}: expected finite values, found {x[tuple(bad)]} at row {bad[0]}, column {bad[1]}")
    if unit_interval and x.size:
        if lo < 0 or hi > 1:
            raise ValidationError(f"{name}: the Bernoulli likelihood needs values in [0, 1], got values in "
                                  f"[{lo:g}, {hi:g}]; scale pixels to [0, 1] (e.g. divide by 255)")
    if dtype is not None:
        x = np.ascontiguousarray(x, dtype=dtype)
    return x


def check_positive_int(value, name, maximum=None, max_name=None):
    """An integer >= 1 (and <= ``maximum``, described as ``max_name``); bools are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name}: expected a positive integer, got {value!r} ({type(value).__name__})")
    if value <= 0:
        raise ValidationError(f"{name}: expected a positive integer, got {value}")
    if maximum is not None and value > maximum:
        raise ValidationError(f"{name}: expected at most {maximum}" + (f" ({max_name})" if max_name else "")
                              + f", got {value}")
    return int(value)


def check_int(value, name, minimum=None):
    """An integer (not a bool), optionally >= ``minimum``; used for seeds and counters."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        what = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise InputTypeError(f"{name}: expected {what}, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValidationError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise InputTypeError(f"{name}: expected True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_float_dtype(dtype, name="dtype"):
    """``float32`` or ``float64`` (the two dtypes the kernels are written and tested for)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt not in (np.float32, np.float64):
        raise ValidationError(f"{name}: expected 'float32' or 'float64', got {dtype!r}")
    return dt


def check_finite_float(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValidationError(f"{name}: expected a finite number, got {value}")
    return value


def check_positive_float(value, name, allow_zero=False):
    value = check_finite_float(value, name)
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationError(f"{name}: expected a {'non-negative' if allow_zero else 'positive'} number, got {value}")
    return value


def check_choice(value, name, choices):
    """``value`` must be one of ``choices`` (names of models, likelihoods, activations, ...)."""
    try:
        ok = value in choices
    except TypeError:   # an unhashable value looked up in a dict
        ok = False
    if not ok:
        shown = sorted(choices, key=lambda c: (c is not None, str(c)))
        raise ValidationError(f"{name}: expected one of {shown}, got {value!r}")
    return value


def check_rng(rng, name="rng"):
    """Accept a numpy Generator, or an int seed (turned into one)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValidationError(f"{name}: expected a non-negative integer seed, got {rng}")
        return np.random.default_rng(int(rng))
    raise InputTypeError(f"{name}: expected a numpy.random.Generator or an integer seed, got {type(rng).__name__}")


def check_array(a, name, ndim=None, min_ndim=0, like=None, like_name=None):
    """A numeric array (lists are converted, integers become float64), of ``ndim`` dimensions (or
    at least ``min_ndim``), of the shape of ``like`` if given.

    Only the type and the shape are looked at, never the values, so this costs the same for any
    size and may guard a function the models call on every step.
    """
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except ValueError:     # ragged nested lists
            raise InputTypeError(f"{name}: expected an array of numbers, got a ragged {type(a).__name__}") from None
    if a.dtype.kind not in "fiu":
        raise InputTypeError(f"{name}: expected an array of numbers, got dtype {a.dtype}")
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    if (ndim is not None and a.ndim != ndim) or a.ndim < min_ndim:
        what = f"a {ndim}-D array" if ndim is not None else f"an array of at least {min_ndim} dimensions"
        raise ValidationError(f"{name}: expected {what}, got {a.ndim}-D shape {a.shape}")
    if like is not None and a.shape != like.shape:
        raise ValidationError(f"{name}: expected the shape of {like_name} {like.shape}, got {a.shape}")
    return a


def check_axis(a, axis, name):
    """An integer axis of array ``a`` (negative counts from the end) along which ``a`` is not empty."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise InputTypeError(f"axis: expected an integer, got {axis!r} ({type(axis).__name__})")
    if not -a.ndim <= axis < a.ndim:
        raise ValidationError(f"axis: expected an axis of {name}, which has {a.ndim} dimension(s) "
                              f"(shape {a.shape}), got {axis}")
    if a.shape[axis] == 0:
        raise ValidationError(f"{name}: expected at least one entry along axis {axis}, got shape {a.shape}")
    return int(axis)


def check_image_shape(shape, name="shape"):
    """(H, W): a pair of positive integers, the height and width of one image."""
    try:
        ok = len(shape) == 2 and all(not isinstance(v, bool) and isinstance(v, numbers.Integral) and v > 0
                                     for v in shape)
    except TypeError:   # not a sequence
        ok = False
    if not ok:
        raise ValidationError(f"{name}: expected (H, W), a pair of positive integers, got {shape!r}")
    return int(shape[0]), int(shape[1])


def build_from_spec(spec, registry, what, base):
    """A model part (a likelihood, a prior) from a name, a configuration ``{"name": ..., **options}``
    or an instance of ``base``; ``registry`` maps names to classes. An unknown name or option is
    refused with the names and options there are."""
    if isinstance(spec, base):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValidationError(f"{what}: expected a name or a dict with a 'name', got {spec!r}")
    options = dict(spec)
    name = check_choice(options.pop("name"), what, registry)
    accepted = list(inspect.signature(registry[name]).parameters)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValidationError(f"{what} {name!r}: unknown option(s) {unknown}; it takes {accepted}")
    return registry[name](**options)
