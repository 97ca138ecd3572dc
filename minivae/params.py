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
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Mapping

import numpy as np

from .errors import InputTypeError, ValidationError

__all__ = ["Params"]


class Params:
    """A flat, named parameter vector with a gradient of the same layout.

    Parameters
    ----------
    shapes : mapping of str to tuple of int
        Name and shape of each parameter, in the order they are laid out in memory.
    dtype : numpy dtype, default float32
        Floating dtype of both vectors. The training path uses float32, gradient checks float64.

    Attributes
    ----------
    data : ndarray, shape (size,)
        All parameters, one after another.
    grad : ndarray, shape (size,)
        The gradient of the current loss with respect to ``data``; same layout.
    """

    def __init__(self, shapes: Mapping[str, Iterable[int]], dtype=np.float32):
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
        other = Params(self.shapes, dtype)
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
