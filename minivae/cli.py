"""The ``minivae`` command: ``train``, ``sample`` and ``evaluate``.

``minivae train`` with no options trains the classic model of Kingma and Welling's MNIST
experiments (784-400-20, ReLU, Bernoulli likelihood on grey-level pixels, Adam 1e-3, batch 128,
10 epochs, float32) and writes, into ``--out``:

* ``checkpoint.npz``  the model, optimizer and trainer state after the last finished epoch;
* ``metrics.csv``     one row per epoch: train and test negative ELBO, reconstruction, KL, seconds;
* ``samples.png``     decoded samples from the prior;
* ``reconstructions.png`` test images (odd rows) above their reconstructions (even rows).

Every error a user can cause is printed as one line, without a traceback, and the exit status
is 2 (1 for a diverged run, 130 when interrupted).

``minivae train --resume --out DIR`` continues the run saved in ``DIR/checkpoint.npz``: model,
optimizer state, epoch, random generator and metrics history all come from the checkpoint, so
the resumed run ends exactly where an uninterrupted one would. Its model, data and training
options come from the checkpoint too; giving one of them with a different value is refused
(only ``--epochs``, ``--data-dir``, ``--no-download``, ``--no-progress`` and ``--threads`` may
change).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from .models import checkpoint as ckpt_mod
from . import datasets, plots
from .errors import DivergenceError, MinivaeError, OutputError
from .evaluate import active_units, elbo, elbo_multi, importance_sampled_nll
from .likelihoods import LIKELIHOODS
from .models import MODELS, build_model
from .models.categorical import ESTIMATORS
from .models.vae import ENCODERS, POSTERIORS
from .nn import ACTIVATIONS
from .optim import OPTIMIZERS
from .train import EVAL_SEED, Trainer, evaluation_data

__all__ = ["main", "build_parser"]

CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.csv"


# ------------------------------------------------------------------------------------------------
# argument parsing
# ------------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse prints usage plus the error; keep its exit status 2 but make the message one line."""

    def error(self, message):
        self.exit(2, f"minivae: error: {message} (see '{self.prog} --help')\n")


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


_positive_int = _number(int, False, "a positive integer")
_seed = _number(int, True, "a non-negative integer")
_positive_float = _number(float, False, "a positive finite number")
_nonneg_float = _number(float, True, "a non-negative finite number")


def _decay_factor(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a factor in (0, 1], got {text!r}") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"expected a factor in (0, 1] (1 keeps the learning rate fixed), got {v:g}")
    return v


def build_parser(explicit_only=False):
    """The argument parser. With ``explicit_only`` every ``train`` option defaults to "absent",
    so parsing tells which options the user actually typed (what ``--resume`` must compare)."""
    p = _Parser(prog="minivae", description="Variational autoencoders in plain NumPy.")
    sub = p.add_subparsers(dest="command", metavar="{train,sample,evaluate}", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser("train", help="train a model and write a checkpoint, metrics and pictures")
    t.add_argument("--data", default="mnist", choices=sorted(datasets.DATASETS), help="data set (default: mnist)")
    t.add_argument("--data-dir", default=None, help="folder holding the data sets (default: $MINIVAE_DATA, else ./data)")
    t.add_argument("--model", default="vae", choices=sorted(MODELS), help="model kind (default: vae)")
    t.add_argument("--likelihood", default="bernoulli", choices=sorted(LIKELIHOODS), help="decoder likelihood")
    t.add_argument("--sigma", type=_positive_float, default=None, help="sigma of the fixed-sigma gaussian likelihood")
    t.add_argument("--laplace-scale", type=_positive_float, default=None, help="scale b of the laplace likelihood")
    t.add_argument("--latent-dim", "-z", type=_positive_int, default=20, help="latent dimensions (default: 20)")
    t.add_argument("--hidden", type=_positive_int, nargs="+", default=[400], help="hidden widths (default: 400)")
    t.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS))
    t.add_argument("--beta", type=_nonneg_float, default=1.0, help="weight of the KL term (default: 1)")
    t.add_argument("--posterior", default="diagonal", choices=POSTERIORS)
    t.add_argument("--encoder", default="fused", choices=ENCODERS)
    t.add_argument("--logvar-clamp", type=_positive_float, default=None,
                   help="clip the encoder's log-variance to [-C, C] (off by default)")
    c = t.add_argument_group("categorical latents (--model categorical)")
    c.add_argument("--estimator", default="gumbel", choices=ESTIMATORS,
                   help="gradient estimator for the encoder (default: gumbel)")
    c.add_argument("--n-latent", type=_positive_int, default=20, help="categorical variables (default: 20)")
    c.add_argument("--n-classes", type=_positive_int, default=10, help="classes per variable (default: 10)")
    c.add_argument("--tau0", type=_positive_float, default=1.0, help="initial temperature (default: 1)")
    c.add_argument("--tau-min", type=_positive_float, default=0.5, help="lowest temperature (default: 0.5)")
    c.add_argument("--anneal-rate", type=_nonneg_float, default=1e-4,
                   help="r in tau = max(tau_min, tau0 exp(-r t)), t = step (default: 1e-4)")
    c.add_argument("--reinforce-samples", type=_positive_int, default=1,
                   help="samples of z per example for --estimator reinforce (default: 1)")
    c.add_argument("--baseline", default=None, choices=["running-mean", "leave-one-out", "none"],
                   help="REINFORCE baseline (default: leave-one-out with several samples, else running-mean)")
    t.add_argument("--binarize", default="none", choices=["none", "dynamic", "threshold"],
                   help="binarize grey-level pixels: fresh draws per batch (dynamic) or at 0.5")
    t.add_argument("--dequantize", action="store_true",
                   help="spread each 8-bit grey level k/255 uniformly over [k/256, (k+1)/256], fresh noise "
                        "per batch (for the continuous likelihoods, whose density is otherwise unbounded)")
    t.add_argument("--epochs", type=_positive_int, default=None,
                   help="train until this many epochs are done (default: 10, or the resumed run's)")
    t.add_argument("--batch-size", type=_positive_int, default=128)
    t.add_argument("--lr", type=_positive_float, default=1e-3, help="learning rate (default: 1e-3)")
    t.add_argument("--lr-decay", type=_decay_factor, default=1.0,
                   help="multiply the learning rate by this factor after every epoch (default: 1, fixed)")
    t.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS))
    t.add_argument("--seed", type=_seed, default=0)
    t.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    t.add_argument("--limit", type=_positive_int, default=None, help="use only the first N training examples")
    t.add_argument("--out", default="runs/latest", help="output folder (default: runs/latest)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint (its options are kept)")
    t.add_argument("--no-download", action="store_true", help="fail instead of downloading missing data")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--threads", type=_positive_int, default=None,
                   help="threads of a training step (default: OPENBLAS_NUM_THREADS, else the number of "
                        "cores); a VAE or AE splits each batch among them")
    if explicit_only:
        for action in t._actions:
            action.default = argparse.SUPPRESS

    s = sub.add_parser("sample", help="draw samples from a trained model into a PNG grid")
    s.add_argument("checkpoint", help="a checkpoint.npz written by 'minivae train'")
    s.add_argument("-n", type=_positive_int, default=64, help="number of samples (default: 64)")
    s.add_argument("--seed", type=_seed, default=0)
    s.add_argument("--out", default="samples.png", help="PNG file to write (default: samples.png)")

    e = sub.add_parser("evaluate", help="bounds and log-likelihood estimates of a trained model on a data set")
    e.add_argument("checkpoint", help="a checkpoint.npz written by 'minivae train'")
    e.add_argument("--data", default=None, choices=sorted(datasets.DATASETS),
                   help="data set (default: the one the model was trained on)")
    e.add_argument("--data-dir", default=None)
    e.add_argument("--split", default="test")
    e.add_argument("--seed", type=_seed, default=0)
    e.add_argument("--limit", type=_positive_int, default=None, help="use only the first N examples")
    e.add_argument("--no-download", action="store_true", help="fail instead of downloading missing data")
    e.add_argument("--k", type=_positive_int, default=None,
                   help="also estimate -log p(x) by importance sampling with K samples per example "
                        "(papers use K = 5000; takes minutes on the full test set)")
    e.add_argument("--samples", "-L", type=_positive_int, default=None,
                   help="also estimate the negative ELBO with L samples of z per example")
    e.add_argument("--active-units", action="store_true",
                   help="also count active latent units and print the KL per latent dimension")
    e.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return p


# ------------------------------------------------------------------------------------------------
# commands
# ------------------------------------------------------------------------------------------------
#: options of ``train`` that define a run: stored in its checkpoint, fixed when resuming
RUN_OPTIONS = ("data", "limit", "model", "likelihood", "sigma", "laplace_scale", "latent_dim", "hidden",
               "activation", "beta", "posterior", "encoder", "logvar_clamp", "binarize", "dequantize",
               "batch_size", "lr", "lr_decay", "optimizer", "seed", "dtype")
VAE_ONLY = ("beta", "posterior", "encoder", "logvar_clamp")
#: options of ``--model categorical`` only; also run options (kept on resume when the run has them)
CATEGORICAL_ONLY = ("estimator", "n_latent", "n_classes", "tau0", "tau_min", "anneal_rate",
                    "reinforce_samples", "baseline")


def _flag(dest):
    return "--" + dest.replace("_", "-")


def _likelihood_spec(args):
    spec = {"name": args.likelihood}
    if args.sigma is not None:
        if args.likelihood != "gaussian":
            raise MinivaeError(f"--sigma: applies to --likelihood gaussian, got --likelihood {args.likelihood}")
        spec["sigma"] = args.sigma
    if args.laplace_scale is not None:
        if args.likelihood != "laplace":
            raise MinivaeError(f"--laplace-scale: applies to --likelihood laplace, got --likelihood {args.likelihood}")
        spec["scale"] = args.laplace_scale
    return spec


def _model_config(args):
    if args.model != "vae":
        given = [_flag(k) for k in VAE_ONLY if k in getattr(args, "explicit", ())]
        if given:
            raise MinivaeError(f"{', '.join(given)}: only for --model vae, got --model {args.model}")
    if args.model != "categorical":
        given = [_flag(k) for k in CATEGORICAL_ONLY if k in getattr(args, "explicit", ())]
        if given:
            raise MinivaeError(f"{', '.join(given)}: only for --model categorical, got --model {args.model}")
    elif "latent_dim" in getattr(args, "explicit", ()):
        raise MinivaeError("--latent-dim: the categorical model's code is set by --n-latent and --n-classes, "
                           f"got --latent-dim {args.latent_dim}")
    cfg = dict(kind=args.model, input_dim=784, latent_dim=args.latent_dim, hidden=args.hidden,
               activation=args.activation, likelihood=_likelihood_spec(args), dtype=args.dtype, seed=args.seed)
    if args.model == "vae":
        cfg.update(beta=args.beta, posterior=args.posterior, encoder=args.encoder, logvar_clamp=args.logvar_clamp)
    if args.model == "categorical":
        del cfg["latent_dim"]
        baseline = args.baseline or ("leave-one-out" if args.reinforce_samples > 1 else "running-mean")
        cfg.update(n_latent=args.n_latent, n_classes=args.n_classes, estimator=args.estimator,
                   tau0=args.tau0, tau_min=args.tau_min, anneal_rate=args.anneal_rate,
                   reinforce_samples=args.reinforce_samples, baseline=baseline)
    return cfg


def _write_metrics(path, history):
    if not history:
        return
    keys = list(history[0])
    for row in history[1:]:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    ckpt_mod.atomic_write(path, lambda f: f.write(buf.getvalue().encode()))


def _pictures(model, x_test, out, seed):
    rng = np.random.default_rng(seed)
    plots.save(plots.image_grid(model.sample(64, rng), nrow=8, title="samples from the prior"),
               out / "samples.png")
    plots.save(plots.reconstruction_figure(model, x_test[:32], ncol=8,
                                           title="test images (odd rows), reconstructions (even rows)"),
               out / "reconstructions.png")


def _check_out(out):
    """Fail before any work if the output folder cannot be created or written."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out: {out} is a file, expected a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".minivae-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"--out: cannot write into {out}: {exc.strerror or exc}") from None


def _load_data(data, limit, args):
    download = not args.no_download
    train = datasets.load(data, "train", root=args.data_dir, download=download)
    test = datasets.load(data, "test", root=args.data_dir, download=download)
    if limit is not None and limit > len(train.x):
        raise MinivaeError(f"--limit: expected at most {len(train.x)} (the size of {data} train), got {limit}")
    return (train.x[:limit] if limit else train.x), test.x


def _resume(args, ckpt_path):
    """Rebuild the trainer of the run saved at ``ckpt_path``; refuse options that contradict it."""
    if not ckpt_path.exists():
        raise MinivaeError(f"--resume: no checkpoint at {ckpt_path}; start the run without --resume")
    ck = ckpt_mod.load(ckpt_path)
    saved = ck.state.get("args")
    if isinstance(saved, dict):
        saved.setdefault("dequantize", False)     # runs started before the option existed
    if not isinstance(saved, dict) or any(k not in saved for k in RUN_OPTIONS + ("epochs",)):
        raise MinivaeError(f"--resume: {ckpt_path} was not written by 'minivae train' of this version "
                           f"(its run options are missing), so it cannot be resumed")
    conflicts = []
    for k in RUN_OPTIONS + tuple(k for k in CATEGORICAL_ONLY if k in saved):
        if k in getattr(args, "explicit", ()) and getattr(args, k) != saved[k]:
            conflicts.append(f"{_flag(k)} {_show(getattr(args, k))} (the run has {_show(saved[k])})")
    if conflicts:
        raise MinivaeError(
            f"--resume: {'; '.join(conflicts)}. A resumed run keeps the options it was started with; "
            f"only --epochs, --data-dir, --no-download, --no-progress and --threads may change. Drop the "
            f"conflicting options, or start a new run with another --out")
    x_train, x_test = _load_data(saved["data"], saved["limit"], args)
    trainer = Trainer.from_checkpoint(ck, x_train, x_test, progress=not args.no_progress, threads=args.threads)
    epochs = args.epochs if args.epochs is not None else saved["epochs"]
    if epochs < trainer.epoch:
        raise MinivaeError(f"--epochs: the run in {args.out} has already done {trainer.epoch} epochs, "
                           f"got --epochs {epochs}; pass at least {trainer.epoch}")
    run_args = dict(saved, epochs=epochs)
    return trainer, epochs, run_args


def _show(v):
    if isinstance(v, list):
        return " ".join(str(x) for x in v)
    return "(not set)" if v is None else str(v)


def cmd_train(args):
    out = Path(args.out)
    ckpt_path = out / CHECKPOINT
    _check_out(out)

    if args.resume:
        trainer, epochs, run_args = _resume(args, ckpt_path)
        data = run_args["data"]
        if trainer.epoch >= epochs:
            print(f"{ckpt_path} has already done {trainer.epoch} of {epochs} epochs; nothing to do "
                  f"(pass a larger --epochs to train on)", flush=True)
            return 0
        print(f"resuming {ckpt_path} after epoch {trainer.epoch} of {epochs}", flush=True)
    else:
        data = args.data
        epochs = args.epochs if args.epochs is not None else 10
        if ckpt_path.exists():
            # Not refused (re-running into runs/latest is the common case), but said plainly: the
            # old checkpoint is replaced only when this run's first epoch is complete.
            print(f"note: {out} holds an earlier run; it is replaced when the first epoch of this one "
                  f"completes (interrupt now and pass --resume to continue it instead)", flush=True)
        model = build_model(_model_config(args))
        x_train, x_test = _load_data(data, args.limit, args)
        if args.batch_size > len(x_train):
            raise MinivaeError(f"--batch-size: expected at most {len(x_train)} (the number of training "
                               f"examples), got {args.batch_size}")
        trainer = Trainer(model, x_train, x_test, optimizer=args.optimizer, lr=args.lr,
                          batch_size=args.batch_size, seed=args.seed,
                          binarize=None if args.binarize == "none" else args.binarize,
                          dequantize=args.dequantize,
                          progress=not args.no_progress, lr_decay=args.lr_decay, threads=args.threads)
        run_args = {k: getattr(args, k) for k in RUN_OPTIONS}
        if args.model == "categorical":
            run_args.update({k: getattr(args, k) for k in CATEGORICAL_ONLY})
        run_args["epochs"] = epochs
        print(f"training {model!r} on {data} ({len(x_train)} train / {len(x_test)} test) "
              f"for {epochs} epochs into {out}", flush=True)

    def on_epoch_end(tr, row):
        # The checkpoint first, then the metrics: a kill between the two leaves metrics one epoch
        # behind, and a resume rewrites them from the checkpoint's history.
        tr.save_checkpoint(ckpt_path, {"args": run_args})
        _write_metrics(out / METRICS, tr.history)

    try:
        trainer.run(epochs, on_epoch_end=on_epoch_end)
    except DivergenceError as exc:
        if trainer.epoch:
            kept = (f"The last good checkpoint {ckpt_path} (epoch {trainer.epoch}) and {out / METRICS} "
                    f"are kept unchanged")
        else:
            kept = "No checkpoint was written (the first epoch did not finish)"
        raise DivergenceError(f"{exc} {kept}.") from None
    _pictures(trainer.model, trainer.x_test, out, trainer.seed)
    last = trainer.history[-1]
    print(f"done: test -ELBO {last.get('test_nelbo', float('nan')):.2f} nats per image "
          f"(single-sample ELBO on {data} test{', dequantized pixels, a density' if trainer.dequantize else ''}); "
          f"wrote {ckpt_path}, {out / METRICS}, "
          f"{out / 'samples.png'}, {out / 'reconstructions.png'}")
    return 0


def cmd_sample(args):
    model = ckpt_mod.load_model(args.checkpoint)
    x = model.sample(args.n, np.random.default_rng(args.seed))
    path = plots.save(plots.image_grid(x, title=f"{args.n} samples from the prior"), args.out)
    print(f"wrote {path}")
    return 0


def cmd_evaluate(args):
    ck = ckpt_mod.load(args.checkpoint)
    model = ck.build_model()
    data = args.data or ck.state.get("args", {}).get("data", "mnist")
    ds = datasets.load(data, args.split, root=args.data_dir, download=not args.no_download)
    if args.limit is not None and args.limit > len(ds.x):
        raise MinivaeError(f"--limit: expected at most {len(ds.x)} (the size of {data} {args.split}), got {args.limit}")
    x = ds.x[: args.limit] if args.limit else ds.x
    binarize = ck.state.get("binarize")
    dequantized = bool(ck.state.get("dequantize", False))
    x = evaluation_data(x, binarize, ck.state.get("eval_seed", EVAL_SEED), dequantize=dequantized)
    pixels = {"dynamic": "binarized once with a fixed seed",
              "threshold": "thresholded at 0.5"}.get(binarize, "grey-level")
    if dequantized:
        pixels = "dequantized once with a fixed seed, (255 x + u) / 256, u ~ U(0, 1)"
    if data == "binarized-mnist":
        pixels = "binary"
    x = model.check_x(x)
    wants_latent = args.k or args.samples or args.active_units
    if wants_latent and not isinstance(model, MODELS["vae"]):
        raise MinivaeError(f"--k, --samples and --active-units need a VAE; {args.checkpoint} holds a {model.kind}")
    res = elbo(model, x, seed=args.seed, validate=False)
    res.update(data=data, split=args.split, pixels=pixels, bound="single-sample ELBO", units="nats per example")
    lines = [f"{data} {args.split} ({res['n']} examples, {pixels} pixels), nats per example:",
             f"  negative ELBO, 1 sample       {res['nelbo']:9.2f}   (reconstruction {res['recon']:.2f}, "
             f"KL {res['kl']:.2f})"]
    if args.samples:
        m = elbo_multi(model, x, samples=args.samples, seed=args.seed, validate=False)
        res["elbo_multi"] = m
        lines.append(f"  negative ELBO, {args.samples} samples{'':<{max(0, 7 - len(str(args.samples)))}}"
                     f"{m['nelbo']:9.2f} +- {m['stderr']:.2f}   (reconstruction {m['recon']:.2f}, KL {m['kl']:.2f})")
    if args.k:
        t0 = time.perf_counter()
        iw = importance_sampled_nll(model, x, k=args.k, seed=args.seed, validate=False)
        seconds = time.perf_counter() - t0
        iw.pop("per_example")
        iw["seconds"] = seconds
        res["importance_sampled"] = iw
        lines.append(f"  NLL, importance sampling K={args.k:<5d} {iw['nll']:7.2f} +- {iw['stderr']:.2f}   "
                     f"(-log p(x) estimate, standard error over examples; {seconds:.0f} s)")
        if dequantized:
            # -log P(k) <= E_u[-log p((k + u) / 256)] + D log 256 for the 8-bit images themselves
            D = x.shape[1]
            bound = {"nats": iw["nll"] + D * math.log(256)}
            bound["bits_per_dim"] = bound["nats"] / (D * math.log(2))
            iw["discrete_8bit_bound"] = bound
            lines.append(f"  as a bound on the 8-bit images: -log P(x) <= NLL + D log 256 = {bound['nats']:.2f} nats "
                         f"= {bound['bits_per_dim']:.3f} bits per pixel")
    if args.active_units:
        au = active_units(model, x, validate=False)
        res["active_units"] = {"active": au["active"], "threshold": au["threshold"],
                               "variance": au["variance"].tolist(), "kl_per_dim": au["kl_per_dim"].tolist()}
        lines.append(f"  active units: {au['active']} of {model.latent_dim} "
                     f"(variance over the data of the posterior mean > {au['threshold']:g})")
        order = np.argsort(-au["kl_per_dim"])
        lines.append("  KL per latent dimension, largest first: " +
                     ", ".join(f"z{u}: {au['kl_per_dim'][u]:.2f}" for u in order))
    if args.json:
        print(json.dumps(res))
    else:
        print("\n".join(lines))
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "evaluate": cmd_evaluate}


def _one_line(exc):
    """The message of ``exc`` on one line (some, like a failed download, list several items)."""
    text = str(exc) if not isinstance(exc, OSError) or isinstance(exc, MinivaeError) else (
        f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
    out = ""
    for part in (p.strip() for p in text.splitlines()):
        if not part:
            continue
        if out:
            out = out + " " if out.endswith(":") else out.rstrip(".") + "; "
        out += part
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = build_parser().parse_args(argv)
    if args.command == "train":
        args.explicit = set(vars(build_parser(explicit_only=True).parse_args(argv))) - {"command"}
    try:
        return COMMANDS[args.command](args)
    except DivergenceError as exc:
        print(f"minivae: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except (MinivaeError, OSError) as exc:
        print(f"minivae: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = " (continue with 'minivae train --resume --out ...')" if args.command == "train" else ""
        print(f"minivae: interrupted; the last complete checkpoint is kept{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
