"""Saving and loading checkpoints, atomically, with a format version.

A checkpoint is a ``.npz`` archive (no pickles: loading one never runs code) holding

* ``format`` and ``format_version``: what the file is and which layout it uses;
* ``config``: the model's configuration as JSON, enough to rebuild it;
* ``params``: the flat parameter vector;
* ``opt.*`` and ``optimizer``: the optimizer's arrays and scalars, if given;
* ``state``: JSON of anything else the trainer needs to resume (epoch, metrics history, the
  random generator's state).

Writing goes through :func:`minivae.runtime.files.atomic_write`: at every moment the target path
holds either the previous complete checkpoint or the new complete one, never half a file.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, InputTypeError, MinivaeError
from ..runtime.files import atomic_write
from .registry import build_model
from .base import check_model

__all__ = ["save", "load", "load_model", "load_into", "atomic_write", "FORMAT", "FORMAT_VERSION"]

FORMAT = "minivae-checkpoint"
FORMAT_VERSION = 1


def save(path, model, optimizer=None, state=None):
    """Write a checkpoint of ``model`` (and optionally ``optimizer`` and trainer ``state``).

    Raises
    ------
    InputTypeError
        ``model`` is not a minivae model, ``state`` is not a dict of JSON-serializable values.
    OutputError
        The file cannot be written (no permission, a folder in the way, disk full); whatever
        ``path`` held before is unchanged.
    """
    check_model(model)
    if optimizer is not None and not callable(getattr(optimizer, "state_dict", None)):
        raise InputTypeError(f"optimizer: expected a minivae optimizer (Adam or SGD), got {type(optimizer).__name__}")
    if state is not None and not isinstance(state, dict):
        raise InputTypeError(f"state: expected a dict, got {type(state).__name__}")
    try:
        state_json = json.dumps(state or {})
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"state: expected JSON-serializable values, {exc}") from None
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "config": np.array(json.dumps(model.get_config())),
        "params": model.params.data,
        "state": np.array(state_json),
    }
    if optimizer is not None:
        opt = optimizer.state_dict()
        scalars = {k: v for k, v in opt.items() if not isinstance(v, np.ndarray)}
        arrays["optimizer"] = np.array(json.dumps(scalars))
        for k, v in opt.items():
            if isinstance(v, np.ndarray):
                arrays[f"opt.{k}"] = v
    return atomic_write(path, lambda f: np.savez(f, **arrays))


@dataclass
class Checkpoint:
    path: Path
    config: dict
    params: np.ndarray
    optimizer: dict = None
    state: dict = field(default_factory=dict)

    def build_model(self):
        """The model this checkpoint holds, with its parameters."""
        try:
            model = build_model(self.config)
        except MinivaeError as exc:
            raise CheckpointError(f"checkpoint {self.path}: its model configuration is not valid ({exc})") from None
        _copy_params(model, self.params, self.path)
        return model


def load(path) -> Checkpoint:
    """Read and check a checkpoint file; errors name the file and what is wrong with it."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"path: expected a file path (str or os.PathLike), got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path}: is a folder, expected a .npz file")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise CheckpointError(f"checkpoint {path}: cannot be read ({exc.strerror or exc})") from None
    if head != b"PK\x03\x04":
        # Not a zip archive at all. Checked here so that NumPy's advice about pickles, which
        # does not apply to minivae's files, never reaches the user.
        what = "an empty file" if not head else f"a file starting with {head!r}"
        raise CheckpointError(f"checkpoint {path}: not a minivae checkpoint (.npz archive), got {what}; "
                              f"it is truncated, corrupt or another kind of file")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            if "format" not in names or str(z["format"]) != FORMAT:
                raise CheckpointError(f"checkpoint {path}: not a minivae checkpoint (no '{FORMAT}' marker)")
            version = int(z["format_version"]) if "format_version" in names else None
            if version != FORMAT_VERSION:
                hint = (" (written by a newer minivae: upgrade to read it)" if version and version > FORMAT_VERSION
                        else " (written by an older minivae: retrain, or load it with that version)")
                raise CheckpointError(f"checkpoint {path}: format version {version}, this minivae reads "
                                      f"version {FORMAT_VERSION}{hint}")
            missing = {"config", "params", "state"} - names
            if missing:
                raise CheckpointError(f"checkpoint {path}: incomplete, missing {sorted(missing)}")
            config = json.loads(str(z["config"]))
            params = np.array(z["params"])
            state = json.loads(str(z["state"]))
            optimizer = None
            if "optimizer" in names:
                optimizer = json.loads(str(z["optimizer"]))
                for k in names:
                    if k.startswith("opt."):
                        optimizer[k[4:]] = np.array(z[k])
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path}: truncated or corrupt ({type(exc).__name__}: {exc})") from None
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path}: corrupt (configuration or state is not a JSON object)")
    if params.ndim != 1 or params.dtype.kind != "f":
        raise CheckpointError(f"checkpoint {path}: corrupt (parameters of shape {params.shape}, "
                              f"dtype {params.dtype}; expected a flat float vector)")
    return Checkpoint(path, config, params, optimizer, state)


def load_model(path):
    """Rebuild the model stored in a checkpoint."""
    return load(path).build_model()


def load_into(model, path):
    """Load a checkpoint's parameters into an existing model of the same architecture."""
    check_model(model)
    ckpt = load(path)
    mine = model.get_config()
    try:
        # through a model, so that settings written before they existed (a checkpoint without
        # a prior) read as their defaults
        theirs = build_model(ckpt.config).get_config()
    except MinivaeError:
        theirs = dict(ckpt.config)
    diffs = [f"{k}: checkpoint has {theirs.get(k)!r}, model has {mine.get(k)!r}"
             for k in sorted(set(mine) | set(theirs))
             if k not in ("seed", "dtype") and mine.get(k) != theirs.get(k)]
    if diffs:
        raise CheckpointError(f"checkpoint {ckpt.path} holds another model: " + "; ".join(diffs))
    _copy_params(model, ckpt.params, ckpt.path)
    return ckpt


def _copy_params(model, params, path):
    if params.shape != model.params.data.shape:
        raise CheckpointError(f"checkpoint {path}: {params.size} parameters, the model has {model.params.size}")
    if not np.all(np.isfinite(params)):
        raise CheckpointError(f"checkpoint {path}: parameters contain NaN or infinite values")
    model.params.data[...] = params
