"""The model kinds by name, and :func:`build_model` to rebuild one from its configuration."""
from ..errors import ValidationError
from .ae import AE
from .base import Model
from .categorical import CategoricalVAE
from .m1m2 import M1M2
from .m2 import M2, Classifier
from .vae import VAE

__all__ = ["MODELS", "build_model"]

MODELS = {"vae": VAE, "ae": AE, "categorical": CategoricalVAE, "m2": M2, "m1m2": M1M2,
          "classifier": Classifier}


def build_model(config: dict) -> Model:
    """Rebuild a model from ``model.get_config()`` (as stored in a checkpoint)."""
    if not isinstance(config, dict):
        raise ValidationError(f"config: expected a dict as returned by model.get_config(), got {type(config).__name__}")
    cfg = dict(config)
    kind = cfg.pop("kind", "vae")
    if kind not in MODELS:
        raise ValidationError(f"model: expected one of {sorted(MODELS)}, got {kind!r}")
    try:
        return MODELS[kind](**cfg)
    except TypeError as exc:
        raise ValidationError(f"model configuration for {kind!r} is not valid: {exc}") from None
