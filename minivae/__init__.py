"""minivae: variational autoencoders in plain NumPy, every gradient derived by hand.

The public API. Submodules hold the pieces a lecture derives one at a time:
:mod:`~minivae.nn` (layers), :mod:`~minivae.likelihoods`, :mod:`~minivae.kl`,
:mod:`~minivae.estimators`, :mod:`~minivae.models`, :mod:`~minivae.optim`,
:mod:`~minivae.train`, :mod:`~minivae.evaluate`, :mod:`~minivae.datasets`,
:mod:`~minivae.checkpoint`, :mod:`~minivae.plots`, :mod:`~minivae.inpaint` and
:mod:`~minivae.gradcheck`; :mod:`~minivae.parallel` splits a training step across threads
(with :mod:`~minivae.blas`).
"""
from .errors import (CheckpointError, DataFileError, DivergenceError, DownloadError,
                     InputTypeError, MinivaeError, OutputError, ValidationError)
from . import blas, parallel
from .models import AE, VAE, build_model
from .optim import SGD, Adam
from .params import Params

__version__ = "0.1.0"

__all__ = ["blas", "parallel", "AE", "VAE", "build_model", "Adam", "SGD", "Params", "MinivaeError", "ValidationError",
           "InputTypeError", "DataFileError", "DownloadError", "CheckpointError", "DivergenceError", "OutputError"]
