"""minivae's models: the deterministic AE, the VAE (Gaussian posterior, any likelihood and
prior) and the VAE with categorical latents; :func:`build_model` rebuilds one from its
configuration and :mod:`~minivae.models.checkpoint` from a file."""
from . import checkpoint
from .ae import AE
from .base import Model, check_model
from .categorical import CategoricalVAE
from .registry import MODELS, build_model
from .vae import VAE

__all__ = ["AE", "VAE", "CategoricalVAE", "Model", "MODELS", "build_model", "check_model", "checkpoint"]
