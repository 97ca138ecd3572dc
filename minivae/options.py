"""The options of a training run, described once.

Every option of ``minivae train`` is one :class:`Option` in :data:`OPTIONS`, and everything that
used to list options by hand is derived from that table:

* the command line's parser (:func:`add_arguments`);
* the model configuration a command line asks for (:func:`model_config`);
* the keyword arguments :class:`minivae.train.Trainer` accepts and how it checks them
  (:func:`trainer_settings`), and the settings it saves in a checkpoint;
* which options a resumed run must keep (every option but the ``session`` ones) and which may
  change (:data:`SESSION`).

A new option is one more row here. Its ``kind`` says where it goes:

``"data"``      which data the run trains on (``--data``, ``--limit``): saved with the run.
``"run"``       a step of the command around the training itself (VaDE's pretraining): saved
                with the run and fixed on resume, like the data.
``"model"``     an entry of the model's configuration (``config`` is its path there, for
                example ``("likelihood", "sigma")``), for the model kinds in ``models``.
``"trainer"``   a setting of the Trainer that shapes the run (learning rate, batch size, seed,
                binarization, ...): saved in the checkpoint and fixed when resuming.
``"session"``   a setting of this process only (threads, progress bar): may change on resume.

An option absent from a checkpoint written before the option existed is read as its default,
so a new option's default must be the behaviour minivae had without it.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from .datasets import DATASETS
from .errors import InputTypeError, ValidationError
from .likelihoods import LIKELIHOODS
from .models import MODELS
from .models.categorical import ESTIMATORS
from .models.vae import ENCODERS, POSTERIORS
from .nn import ACTIVATIONS, WEIGHT_INITS
from .optim import OPTIMIZERS
from .priors import PRIORS
from .runtime.validation import (check_bool, check_choice, check_finite_float, check_int,
                                 check_positive_float, check_positive_int)

__all__ = ["Option", "OPTIONS", "SESSION", "by_kind", "add_arguments", "model_config",
           "trainer_settings", "run_defaults"]

#: the seed of the one binarization (or dequantization) of the test set a run is evaluated on
EVAL_SEED = 12345


# ------------------------------------------------------------------------------------------------
# Parsing command-line text: argparse types whose errors say what was expected
# ------------------------------------------------------------------------------------------------
def _number(convert, allow_zero, description):
    """An argparse type: ``convert`` the text, then require a finite value > 0 (>= 0 with
    ``allow_zero``); the error names what was expected and what was given."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}") from None
        if not (np.isfinite(value) and (value > 0 or (allow_zero and value == 0))):
            raise argparse.ArgumentTypeError(f"expected {description}, got {text}")
        return value
    return parse


positive_int = _number(int, False, "a positive integer")
seed_int = _number(int, True, "a non-negative integer")
nonneg_int = seed_int
positive_float = _number(float, False, "a positive finite number")
nonneg_float = _number(float, True, "a non-negative finite number")


def decay_factor(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a factor in (0, 1], got {text!r}") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"expected a factor in (0, 1] (1 keeps the learning rate fixed), got {v:g}")
    return v


# ------------------------------------------------------------------------------------------------
# Checking Python values (the Trainer's keyword arguments)
# ------------------------------------------------------------------------------------------------
def _lr_decay(value, name):
    value = check_finite_float(value, name)
    if not 0 < value <= 1:
        raise ValidationError(f"{name}: expected a factor in (0, 1] (1 keeps the learning rate "
                              f"fixed), got {value:g}")
    return value


def _seed(value, name):
    return check_int(value, name, minimum=0)


def _choice(choices):
    return lambda value, name: check_choice(value, name, choices)


def _stream(value, name):
    if value is not None and not callable(getattr(value, "write", None)):
        raise InputTypeError(f"{name}: expected a file-like object with write(), got {type(value).__name__}")
    return value


def _optional(check):
    return lambda value, name: None if value is None else check(value, name)


# ------------------------------------------------------------------------------------------------
# The table
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    """One option of a training run; see the module docstring for ``kind``."""

    name: str
    kind: str
    default: Any
    help: str = ""
    #: argparse ``type`` of its command-line text (None: a string, or a flag)
    parse: Optional[Callable] = None
    #: the values the command line accepts
    choices: Optional[tuple] = None
    #: ``check(value, name)`` of a Python value (Trainer keywords); returns the checked value
    check: Optional[Callable] = None
    #: command-line text -> the value the Trainer or model receives ("none" -> None)
    to_value: Optional[Callable] = None
    #: model kinds it applies to (model options; None: every kind)
    models: Optional[tuple] = None
    #: where a model option goes in the model's configuration
    config: Optional[tuple] = None
    #: ``(other option, value)``: the option applies only when the other has that value
    only_if: Optional[tuple] = None
    #: another option whose value must be nonzero for this one to have an effect
    #: (``--mixture-restarts`` does something only with ``--pretrain-epochs N``)
    requires: Optional[str] = None
    #: on the command line at all (``--stream`` is not)
    cli: bool = True
    short: Optional[str] = None
    nargs: Optional[str] = None
    flag: bool = False
    group: Optional[str] = None

    @property
    def dest(self):
        return self.name

    @property
    def cli_flag(self):
        return "--" + self.name.replace("_", "-")


_CAT = "categorical latents (--model categorical)"
_EVERY_MODEL = tuple(sorted(MODELS))
#: the models of p(x | z) (all but the plain classifier)
_GENERATIVE = tuple(m for m in _EVERY_MODEL if m != "classifier")
#: the models that learn from labels (semi-supervised: lecture 003's M2 and M1+M2, and the baseline)
_SEMI = ("m2", "m1m2", "classifier")
_SSL = "semi-supervised learning (--model m2, m1m2 or classifier)"

OPTIONS = (
    # -- the data ------------------------------------------------------------------------------
    Option("data", "data", "mnist", "data set (default: mnist)", choices=tuple(sorted(DATASETS))),
    Option("limit", "data", None, "use only the first N training examples", parse=positive_int),
    Option("labels", "data", 100, "labelled training examples, the same number of each class; the others are "
           "unlabelled (the classifier baseline trains on the labelled ones alone) (default: 100)",
           parse=positive_int, models=_SEMI, group=_SSL),
    Option("label_seed", "data", 0, "seed of the draw of the labelled examples (default: 0)", parse=seed_int,
           models=_SEMI, group=_SSL),
    # -- the model -----------------------------------------------------------------------------
    Option("model", "model", "vae", "model kind (default: vae)", choices=_EVERY_MODEL, config=("kind",)),
    Option("likelihood", "model", "bernoulli", "decoder likelihood (for --model m1m2: M1's, of the pixels)",
           choices=tuple(sorted(LIKELIHOODS)), models=_GENERATIVE, config=("likelihood", "name")),
    Option("sigma", "model", None, "sigma of the fixed-sigma gaussian likelihood", parse=positive_float,
           config=("likelihood", "sigma"), only_if=("likelihood", "gaussian")),
    Option("laplace_scale", "model", None, "scale b of the laplace likelihood", parse=positive_float,
           config=("likelihood", "scale"), only_if=("likelihood", "laplace")),
    Option("latent_dim", "model", 20, "latent dimensions (default: 20)", parse=positive_int, short="-z",
           models=("ae", "vae", "m2", "m1m2"), config=("latent_dim",)),
    Option("hidden", "model", [400], "hidden widths (default: 400)", parse=positive_int, nargs="+",
           config=("hidden",)),
    Option("activation", "model", "relu", choices=tuple(sorted(ACTIVATIONS)), config=("activation",)),
    Option("beta", "model", 1.0, "weight of the KL term (default: 1)", parse=nonneg_float, models=("vae",),
           config=("beta",)),
    Option("posterior", "model", "diagonal", choices=POSTERIORS, models=("vae",), config=("posterior",)),
    Option("encoder", "model", "fused", choices=ENCODERS, models=("vae",), config=("encoder",)),
    Option("prior", "model", "normal", "prior p(z): normal (N(0, I)), mog (a mixture of Gaussians, trained on "
           "VaDE's bound) or vamp (the VampPrior) (default: normal)", choices=tuple(sorted(PRIORS)),
           models=("vae",), config=("prior", "name")),
    Option("components", "model", None, "components of the mog or vamp prior (default: 10 for mog, 500 for vamp)",
           parse=positive_int, models=("vae",), config=("prior", "components"), only_if=("prior", ("mog", "vamp"))),
    Option("pseudo_init", "model", "data", "where the VampPrior's pseudo-inputs start: random training images "
           "(data, the default) or N(0.05, 0.01^2) pixels as its authors do (random)", choices=("data", "random"),
           models=("vae",), config=("prior", "pseudo_init"), only_if=("prior", "vamp")),
    Option("pretrain_epochs", "run", 0, "VaDE's start for --prior mog: pretrain an autoencoder this many epochs, "
           "copy it into the VAE and start the prior from a mixture fitted to its codes (default: 0, off)",
           parse=nonneg_int, models=("vae",), only_if=("prior", "mog")),
    Option("pretrain_init", "run", "uniform", "VaDE's start: the pretrained autoencoder's initial weights, "
           "U(-1/sqrt(n_in), 1/sqrt(n_in)) as every minivae model (uniform, the default) or Glorot's "
           "U(-sqrt(6/(n_in+n_out)), ...) with zero biases, as VaDE's published code (glorot)",
           choices=WEIGHT_INITS, models=("vae",), only_if=("prior", "mog"),
           requires="pretrain_epochs"),
    Option("mixture_restarts", "run", 1, "VaDE's start: fit the mixture to the pretrained codes this many times "
           "from different seeds and keep one, by --mixture-select (default: 1)",
           parse=positive_int, models=("vae",), only_if=("prior", "mog"),
           requires="pretrain_epochs"),
    Option("mixture_select", "run", "likelihood", "VaDE's start: which restart to keep, the most likely "
           "(likelihood, the default) or the one with the most even weights (balance)",
           choices=("likelihood", "balance"), models=("vae",), only_if=("prior", "mog"),
           requires="pretrain_epochs"),
    Option("logvar_clamp", "model", None, "clip the encoder's log-variance to [-C, C] (off by default)",
           parse=positive_float, models=("vae",), config=("logvar_clamp",)),
    Option("estimator", "model", "gumbel", "gradient estimator for the encoder (default: gumbel)",
           choices=ESTIMATORS, models=("categorical",), config=("estimator",), group=_CAT),
    Option("n_latent", "model", 20, "categorical variables (default: 20)", parse=positive_int,
           models=("categorical",), config=("n_latent",), group=_CAT),
    Option("n_classes", "model", 10, "classes per variable (default: 10)", parse=positive_int,
           models=("categorical",), config=("n_classes",), group=_CAT),
    Option("tau0", "model", 1.0, "initial temperature (default: 1)", parse=positive_float,
           models=("categorical",), config=("tau0",), group=_CAT),
    Option("tau_min", "model", 0.5, "lowest temperature (default: 0.5)", parse=positive_float,
           models=("categorical",), config=("tau_min",), group=_CAT),
    Option("anneal_rate", "model", 1e-4, "r in tau = max(tau_min, tau0 exp(-r t)), t = step (default: 1e-4)",
           parse=nonneg_float, models=("categorical",), config=("anneal_rate",), group=_CAT),
    Option("reinforce_samples", "model", 1, "samples of z per example for --estimator reinforce (default: 1)",
           parse=positive_int, models=("categorical",), config=("reinforce_samples",), group=_CAT),
    Option("baseline", "model", None,
           "REINFORCE baseline (default: leave-one-out with several samples, else running-mean)",
           choices=("running-mean", "leave-one-out", "none"), models=("categorical",), config=("baseline",),
           group=_CAT),
    Option("alpha", "model", None, "weight of the mean classification term -log q(y|x) of the labelled examples "
           "(default: 0.1 N / N_labelled, the paper's code's weight per labelled example; with --weighting dataset "
           "0.1 N / N_unlabelled)",
           parse=nonneg_float, models=("m2", "m1m2"), config=("alpha",), group=_SSL),
    Option("labelled_weight", "model", None, "weight of the labelled bound's mean against the unlabelled bound's "
           "(default: 1, or N_labelled / N_unlabelled with --weighting dataset)", parse=nonneg_float,
           models=("m2", "m1m2"), config=("labelled_weight",), group=_SSL),
    Option("weighting", "run", "mean", "how labelled and unlabelled examples weigh: each kind's bound as a mean "
           "of its own (mean, the default: --labelled-weight 1, --alpha 0.1 N / N_labelled) or every example "
           "once, as the paper's sum over the data set (dataset: --labelled-weight N_labelled / N_unlabelled, "
           "--alpha 0.1 N / N_unlabelled); an explicit --alpha or --labelled-weight wins",
           choices=("mean", "dataset"), models=("m2", "m1m2"), group=_SSL),
    Option("m1_epochs", "run", 10, "epochs of the VAE M1 on all training images before M2 trains on its codes "
           "(default: 10)", parse=positive_int, models=("m1m2",), group=_SSL),
    Option("m1_batch_size", "run", None, "M1's batch size (default: --batch-size)", parse=positive_int,
           models=("m1m2",), group=_SSL),
    Option("m1_init", "run", "uniform", "M1's initial weights: U(-1/sqrt(n_in), 1/sqrt(n_in)) as every minivae "
           "model (uniform, the default) or Glorot's with zero biases (glorot)", choices=WEIGHT_INITS,
           models=("m1m2",), group=_SSL),
    Option("m1_latent_dim", "model", 50, "latent dimensions of M1 (default: 50)", parse=positive_int,
           models=("m1m2",), config=("m1", "latent_dim"), group=_SSL),
    Option("m1_hidden", "model", [500], "hidden widths of M1 (default: 500)", parse=positive_int, nargs="+",
           models=("m1m2",), config=("m1", "hidden"), group=_SSL),
    Option("dtype", "model", "float32", choices=("float32", "float64"), config=("dtype",)),
    # -- the trainer: saved with the run, fixed on resume ----------------------------------------
    Option("binarize", "trainer", "none", "binarize grey-level pixels: fresh draws per batch (dynamic) or at 0.5",
           choices=("none", "dynamic", "threshold"), check=_choice((None, "dynamic", "threshold")),
           to_value=lambda v: None if v == "none" else v),
    Option("dequantize", "trainer", False,
           "spread each 8-bit grey level k/255 uniformly over [k/256, (k+1)/256], fresh noise per batch "
           "(for the continuous likelihoods, whose density is otherwise unbounded)", flag=True, check=check_bool),
    Option("batch_size", "trainer", 128, parse=positive_int, check=check_positive_int),
    Option("lr", "trainer", 1e-3, "learning rate (default: 1e-3)", parse=positive_float, check=check_positive_float),
    Option("lr_decay", "trainer", 1.0,
           "multiply the learning rate by this factor after every epoch (default: 1, fixed)", parse=decay_factor,
           check=_lr_decay),
    Option("optimizer", "trainer", "adam", choices=tuple(sorted(OPTIMIZERS)), check=_choice(tuple(OPTIMIZERS))),
    Option("seed", "trainer", 0, parse=seed_int, check=_seed),
    Option("labelled_batch", "trainer", None, "labelled examples in each batch of --batch-size; the rest of the "
           "batch is unlabelled (default: half the batch)", parse=positive_int, check=_optional(check_positive_int),
           models=_SEMI, group=_SSL),
    Option("eval_seed", "trainer", EVAL_SEED, "seed of the one binarization of the test set", cli=False,
           check=_seed),
    # -- this process only: may change on resume -------------------------------------------------
    Option("threads", "session", None,
           "threads of a training step (default: OPENBLAS_NUM_THREADS, else the number of cores); "
           "a VAE or AE splits each batch among them", parse=positive_int, check=_optional(check_positive_int)),
    Option("progress", "session", True, cli=False, check=check_bool),
    Option("verbose", "session", True, cli=False, check=check_bool),
    Option("stream", "session", None, cli=False, check=_stream),
)

OPTION = {o.name: o for o in OPTIONS}
#: options a resumed run may change (plus the command line's own --epochs, --data-dir, ...)
SESSION = tuple(o.name for o in OPTIONS if o.kind == "session")


def by_kind(*kinds, cli=None):
    """The options of the given kinds (in table order), optionally only those on the command line."""
    return tuple(o for o in OPTIONS if o.kind in kinds and (cli is None or o.cli == cli))


def run_defaults():
    """{name: default} of every option a run saves (data, run, model and trainer options)."""
    return {o.name: o.default for o in by_kind("data", "run", "model", "trainer", cli=True)}


# ------------------------------------------------------------------------------------------------
# What is derived from the table
# ------------------------------------------------------------------------------------------------
def add_arguments(parser, explicit_only=False):
    """Add every command-line option to ``parser`` (an argparse parser of ``minivae train``).

    With ``explicit_only`` every option defaults to "absent", so that parsing tells which
    options the user actually typed (what ``--resume`` compares with the saved run).
    """
    groups = {}
    for o in OPTIONS:
        if not o.cli:
            continue
        target = parser
        if o.group:
            target = groups.setdefault(o.group, parser.add_argument_group(o.group))
        names = [o.cli_flag] + ([o.short] if o.short else [])
        kw = {"default": argparse.SUPPRESS if explicit_only else o.default, "help": o.help or None,
              "dest": o.dest}
        if o.flag:
            kw["action"] = "store_true"
        else:
            if o.parse is not None:
                kw["type"] = o.parse
            if o.choices is not None:
                kw["choices"] = list(o.choices)
            if o.nargs:
                kw["nargs"] = o.nargs
        target.add_argument(*names, **kw)


def applies(option, values):
    """Does ``option`` apply to a run with these option ``values`` (its model kind, likelihood)?"""
    if option.models is not None and values.get("model", "vae") not in option.models:
        return False
    if option.only_if is not None:
        other, wanted = option.only_if
        wanted = wanted if isinstance(wanted, tuple) else (wanted,)
        return values.get(other, OPTION[other].default) in wanted
    return True


def check_applicable(values, explicit):
    """Refuse options typed for a run they do not fit (``--beta`` with ``--model ae``,
    ``--sigma`` with another likelihood); ``explicit`` holds the names typed."""
    model = values.get("model", "vae")
    wrong_model = {}
    for o in OPTIONS:
        if o.name in explicit and o.models is not None and model not in o.models:
            wrong_model.setdefault(o.models, []).append(o.cli_flag)
    for kinds, flags in wrong_model.items():
        raise ValidationError(f"{', '.join(flags)}: only for " + " or ".join(f"--model {m}" for m in kinds)
                              + f", got --model {model}")
    for o in OPTIONS:
        if o.name in explicit and not applies(o, values):
            other, wanted = o.only_if
            wanted = " or ".join(wanted) if isinstance(wanted, tuple) else wanted
            raise ValidationError(f"{o.cli_flag}: applies to {OPTION[other].cli_flag} {wanted}, got "
                                  f"{OPTION[other].cli_flag} {values.get(other, OPTION[other].default)}")
    for o in OPTIONS:
        if o.name in explicit and o.requires is not None and not values.get(o.requires, OPTION[o.requires].default):
            need = OPTION[o.requires]
            raise ValidationError(f"{o.cli_flag}: has an effect only with {need.cli_flag} N > 0, got "
                                  f"{need.cli_flag} {values.get(o.requires, need.default)}")


def model_config(values, input_dim):
    """The model configuration (for :func:`minivae.models.build_model`) of a run whose options
    have these ``values`` (command-line values, missing ones at their defaults)."""
    cfg = {"input_dim": input_dim, "seed": values.get("seed", 0)}
    for o in by_kind("model"):
        if not applies(o, values):
            continue
        value = values.get(o.name, o.default)
        if value is None and len(o.config) > 1:
            continue                          # an optional entry of a nested spec: left out
        if o.name == "baseline" and value is None:
            value = "leave-one-out" if values.get("reinforce_samples", 1) > 1 else "running-mean"
        if o.name in ("hidden", "m1_hidden"):
            value = list(value)
        target = cfg
        for key in o.config[:-1]:
            target = target.setdefault(key, {})
        target[o.config[-1]] = value
    return cfg


def trainer_settings(options, given_by="options"):
    """Check the Trainer's keyword arguments against the table; return every trainer and
    session setting, the missing ones at their defaults (Python values: binarize None, ...)."""
    known = {o.name: o for o in by_kind("trainer", "session")}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValidationError(f"{given_by}: unknown training option(s) {unknown}; expected some of {sorted(known)}")
    out = {}
    for name, o in known.items():
        if name in options:
            value = o.check(options[name], name) if o.check else options[name]
        else:
            value = o.to_value(o.default) if o.to_value else o.default
        out[name] = value
    return out


def trainer_value(option, cli_value):
    """The Trainer's value of a trainer option typed on the command line."""
    return option.to_value(cli_value) if option.to_value else cli_value
