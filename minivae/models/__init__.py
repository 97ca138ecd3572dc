"""minivae's models: the deterministic AE, the VAE (Gaussian posterior, any likelihood and
prior) and the VAE with categorical latents; :func:`build_model` rebuilds one from its
configuration and :mod:`~minivae.models.checkpoint` from a file."""
from . import checkpoint
from .ae import AE
from .base import Model, check_model
from .categorical import CategoricalVAE
from .m1m2 import M1M2
from .m2 import M2, Classifier
from .registry import MODELS, build_model
from .vae import VAE

__all__ = ["AE", "VAE", "CategoricalVAE", "M2", "M1M2", "Classifier", "Model", "MODELS", "build_model", "check_model", "checkpoint"]
