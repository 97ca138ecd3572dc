"""minivae: variational autoencoders in plain NumPy, every gradient derived by hand.

The top level reads like the lectures' table of contents, one concept per module:

* :mod:`~minivae.params` (one flat parameter vector) and :mod:`~minivae.nn` (layers with their
  backward passes);
* :mod:`~minivae.likelihoods` (p(x | z)), :mod:`~minivae.kl` (closed-form KL terms),
  :mod:`~minivae.priors` (p(z)), :mod:`~minivae.estimators` (reparameterization, REINFORCE,
  Gumbel-softmax) and :mod:`~minivae.logspace` (log-sum-exp and softmax);
* :mod:`~minivae.models` (the AE, the VAE, the categorical VAE);
* :mod:`~minivae.optim`, :mod:`~minivae.train`, :mod:`~minivae.evaluate`,
  :mod:`~minivae.inpaint` and :mod:`~minivae.gradcheck`;
* :mod:`~minivae.datasets` (the data sets) and :mod:`~minivae.plots` (pictures).

The machinery a student can skip (argument checks, atomic writes, BLAS threads, the split
training step, the progress bar, the options of a run) lives in :mod:`minivae.runtime`.
"""
import sys as _sys

from .errors import (CheckpointError, DataFileError, DivergenceError, DownloadError,
                     InputTypeError, MinivaeError, OutputError, ValidationError)
from .models import AE, VAE, build_model
from .models import checkpoint
from .optim import SGD, Adam
from .params import Params
from .runtime import blas, parallel, progress, validation
from .version import __version__


# Modules that lived at the top level before the machinery moved into minivae.runtime (and the
# checkpoint format into minivae.models): ``import minivae.blas`` and ``from minivae.checkpoint
# import load_model`` keep working.
for _name, _module in {"blas": blas, "parallel": parallel, "progress": progress,
                       "validation": validation, "checkpoint": checkpoint}.items():
    _sys.modules.setdefault(f"{__name__}.{_name}", _module)
del _name, _module

__all__ = ["__version__", "blas", "parallel", "checkpoint", "AE", "VAE", "build_model", "Adam", "SGD", "Params",
           "MinivaeError", "ValidationError", "InputTypeError", "DataFileError", "DownloadError",
           "CheckpointError", "DivergenceError", "OutputError"]
