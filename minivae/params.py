"""One flat parameter vector and one flat gradient vector, handed out as named views.

The lectures write the decoder's parameters as theta and the encoder's as phi, and treat each as
a single vector. minivae does the same in memory: every weight matrix and bias of a model is a
*view* into one contiguous array ``Params.data``, and every gradient a view into
``Params.grad`` of the same layout. So

* the optimizer updates the whole model with a few whole-vector operations,
* a checkpoint is one array,
* the gradient check perturbs entry ``i`` of one vector and reads entry ``i`` of another.

Writing ``params["enc.0.W"][...] = 0`` changes ``params.data``; assigning a new array to the name
is not possible, which keeps the views honest.

The gradient contract
---------------------
A model's ``loss_and_grad`` leaves in :attr:`Params.grad` the gradient of *that call's* loss and
nothing else: every entry is written, whatever the vector held before. Parameters get their
gradient in one of two ways, and each is declared once, when the ``Params`` is built:

* **written** by the backward pass of the layer that owns them: a linear layer's W and b
  (:func:`minivae.nn.linear_backward` overwrites their views; in minivae's networks a weight is
  used once per forward pass, so there is nothing to add, and overwriting saves a pass over the
  gradient). When a network runs more than once in one step (a prior that runs the encoder on
  its pseudo-inputs), its first backward pass writes and the later ones add
  (``accumulate=True``);
* **accumulated**: parameters that collect gradient from several places (a sigma shared by the
  likelihood, the noise and the KL; a prior's own parameters) are named in ``accumulate``;
  :meth:`Params.zero_accumulated`, called at the start of every ``loss_and_grad``, zeroes them,
  and every contribution is added with ``+=``.

``tests/test_models.py`` holds every model to it: a gradient vector filled with NaN before the
call must be finite after it, and two calls on the same batch must leave the same gradient.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Mapping

import numpy as np

from .errors import InputTypeError, ValidationError

__all__ = ["Params", "Scalar"]


class Params:
    """A flat, named parameter vector with a gradient of the same layout.

    Parameters
    ----------
    shapes : mapping of str to tuple of int
        Name and shape of each parameter, in the order they are laid out in memory.
    dtype : numpy dtype, default float32
        Floating dtype of both vectors. The training path uses float32, gradient checks float64.
    accumulate : iterable of str
        Names of the parameters whose gradient is accumulated rather than written by the layer
        that owns them (see the gradient contract in the module docstring).

    Attributes
    ----------
    data : ndarray, shape (size,)
        All parameters, one after another.
    grad : ndarray, shape (size,)
        The gradient of the current loss with respect to ``data``; same layout.
    """

    def __init__(self, shapes: Mapping[str, Iterable[int]], dtype=np.float32, accumulate: Iterable[str] = ()):
        if not isinstance(shapes, Mapping):
            raise InputTypeError(f"shapes: expected a mapping of name to shape, got {type(shapes).__name__}")
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise ValidationError(f"dtype: expected a floating dtype (float32 or float64), got {dtype!r}") from None
        if dtype.kind != "f":
            raise ValidationError(f"dtype: expected a floating dtype (float32 or float64), got {dtype}")
        self.dtype = dtype
        self.shapes: "OrderedDict[str, tuple]" = OrderedDict()
        self.slices: "OrderedDict[str, slice]" = OrderedDict()
        offset = 0
        for name, shape in shapes.items():
            shape = tuple(int(s) for s in shape)
            if any(s <= 0 for s in shape):
                raise ValidationError(f"parameter {name!r}: every dimension must be positive, got shape {shape}")
            n = int(np.prod(shape, dtype=np.int64))
            self.shapes[name] = shape
            self.slices[name] = slice(offset, offset + n)
            offset += n
        self.size = offset
        self.accumulated = tuple(accumulate)
        unknown = [n for n in self.accumulated if n not in self.shapes]
        if unknown:
            raise ValidationError(f"accumulate: names no parameter of this layout: {unknown}")
        self.data = np.zeros(offset, dtype=dtype)
        self.grad = np.zeros(offset, dtype=dtype)
        self._views = {n: self.data[s].reshape(self.shapes[n]) for n, s in self.slices.items()}
        self._gviews = {n: self.grad[s].reshape(self.shapes[n]) for n, s in self.slices.items()}

    # -- access -------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        """The view of parameter ``name`` into :attr:`data`."""
        try:
            return self._views[name]
        except KeyError:
            raise KeyError(f"no parameter named {name!r}; this model has {list(self.shapes)}") from None

    def g(self, name: str) -> np.ndarray:
        """The view of the gradient of parameter ``name`` into :attr:`grad`."""
        try:
            return self._gviews[name]
        except KeyError:
            raise KeyError(f"no parameter named {name!r}; this model has {list(self.shapes)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.shapes

    def names(self):
        return list(self.shapes)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}{self.shapes[n]}" for n in self.shapes)
        return f"Params({self.size} x {self.dtype}: {parts})"

    # -- whole-vector helpers -------------------------------------------------------------------
    def zero_grad(self) -> None:
        self.grad.fill(0)

    def zero_accumulated(self) -> None:
        """Zero the gradient of the accumulated parameters: the first thing a ``loss_and_grad``
        does (the written ones are overwritten by their layers' backward passes)."""
        for name in self.accumulated:
            self._gviews[name][...] = 0

    def copy(self) -> "Params":
        """A new ``Params`` with the same layout and copies of the values (gradient zeroed)."""
        return self.astype(self.dtype)

    def with_own_grad(self) -> "Params":
        """A ``Params`` that shares this one's :attr:`data` (and its named views) but writes
        its gradient into a vector of its own: what a data-parallel worker computes into."""
        other = object.__new__(Params)
        other.__dict__.update(self.__dict__)
        other.grad = np.zeros_like(self.grad)
        other._gviews = {n: other.grad[s].reshape(self.shapes[n]) for n, s in self.slices.items()}
        return other

    def astype(self, dtype) -> "Params":
        """A copy in another floating dtype (for example float64 for a gradient check)."""
        other = Params(self.shapes, dtype, self.accumulated)
        other.data[...] = self.data
        return other

    def load(self, flat: np.ndarray) -> None:
        """Copy ``flat`` into :attr:`data`, checking its size."""
        flat = np.asarray(flat)
        if flat.shape != (self.size,):
            raise ValidationError(f"parameter vector: expected shape ({self.size},), got {flat.shape}")
        self.data[...] = flat

    def block_of(self, index: int) -> str:
        """Name of the parameter that flat entry ``index`` belongs to."""
        for name, s in self.slices.items():
            if s.start <= index < s.stop:
                return name
        raise IndexError(index)


class Scalar:
    """A model part that is one learned number no layer owns (the log sigma of an isotropic
    posterior): it declares its shape, starts at ``init`` and accumulates its gradient."""

    writes_gradient = False

    def __init__(self, name: str, init: float = 0.0):
        self.name, self.value = name, float(init)

    def param_shapes(self):
        return {self.name: (1,)}

    def init(self, params, rng=None):
        params[self.name][...] = self.value
