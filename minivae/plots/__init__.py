"""Figures: grids of images, and the pictures the lectures draw.

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot``, so it works
on a machine with no display and shows inline in a notebook; :func:`save` writes one to PNG
atomically. The command line and the notebooks draw with these same functions.
"""

from .base import *  # noqa: F401,F403  (the grids and the pictures of lectures 000, 003 and 004)
from .base import __all__ as _base
from .disentanglement import *  # noqa: F401,F403
from .disentanglement import __all__ as _disentanglement
from .priors import *  # noqa: F401,F403
from .priors import __all__ as _priors

__all__ = [*_base, *_priors, *_disentanglement]
