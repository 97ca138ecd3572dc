"""The ``minivae`` command: ``train``, ``sample``, ``evaluate`` and ``plot``.

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
import os
import sys
from pathlib import Path

import numpy as np

from .. import datasets, plots, semisupervised, vade
from .. import options as run_options
from ..errors import DivergenceError, MinivaeError, OutputError
from ..models import build_model
from ..models import checkpoint as ckpt_mod
from ..nn import restart_glorot
from ..priors import MixturePrior, VampPrior
from ..train import Trainer
from .examine import cmd_evaluate, cmd_plot, cmd_sample

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


def build_parser(explicit_only=False):
    """The argument parser. With ``explicit_only`` every ``train`` option defaults to "absent",
    so parsing tells which options the user actually typed (what ``--resume`` must compare)."""
    p = _Parser(prog="minivae", description="Variational autoencoders in plain NumPy.")
    sub = p.add_subparsers(dest="command", metavar="{train,sample,evaluate,plot}", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser("train", help="train a model and write a checkpoint, metrics and pictures")
    # the options of the run itself: one table, minivae.options.OPTIONS
    run_options.add_arguments(t, explicit_only=explicit_only)
    # the options of this command
    own = [
        (("--data-dir",), dict(default=None, help="folder holding the data sets (default: $MINIVAE_DATA, else ./data)")),
        (("--epochs",), dict(type=run_options.positive_int, default=None,
                             help="train until this many epochs are done (default: 10, or the resumed run's)")),
        (("--out",), dict(default="runs/latest", help="output folder (default: runs/latest)")),
        (("--resume",), dict(action="store_true",
                             help="continue the run in --out from its checkpoint (its options are kept)")),
        (("--no-download",), dict(action="store_true", help="fail instead of downloading missing data")),
        (("--no-progress",), dict(action="store_true", help="no progress bar")),
    ]
    for names, kw in own:
        if explicit_only:
            kw = dict(kw, default=argparse.SUPPRESS)
        t.add_argument(*names, **kw)

    s = sub.add_parser("sample", help="draw samples from a trained model into a PNG grid")
    s.add_argument("checkpoint", help="a checkpoint.npz written by 'minivae train'")
    s.add_argument("-n", type=run_options.positive_int, default=64, help="number of samples (default: 64)")
    s.add_argument("--seed", type=run_options.seed_int, default=0)
    s.add_argument("--out", default="samples.png", help="PNG file to write (default: samples.png)")

    e = sub.add_parser("evaluate", help="bounds and log-likelihood estimates of a trained model on a data set")
    e.add_argument("checkpoint", help="a checkpoint.npz written by 'minivae train'")
    e.add_argument("--data", default=None, choices=sorted(datasets.DATASETS),
                   help="data set (default: the one the model was trained on)")
    e.add_argument("--data-dir", default=None)
    e.add_argument("--split", default="test")
    e.add_argument("--seed", type=run_options.seed_int, default=0)
    e.add_argument("--limit", type=run_options.positive_int, default=None, help="use only the first N examples")
    e.add_argument("--no-download", action="store_true", help="fail instead of downloading missing data")
    e.add_argument("--k", type=run_options.positive_int, default=None,
                   help="also estimate -log p(x) by importance sampling with K samples per example "
                        "(papers use K = 5000; takes minutes on the full test set)")
    e.add_argument("--samples", "-L", type=run_options.positive_int, default=None,
                   help="also estimate the negative ELBO with L samples of z per example")
    e.add_argument("--active-units", action="store_true",
                   help="also count active latent units and print the KL per latent dimension")
    e.add_argument("--local-vi", type=run_options.positive_int, default=None, metavar="STEPS",
                   help="also fit a Gaussian q_i to each example by STEPS Adam steps on its own ELBO "
                        "(per-datapoint VI, the decoder fixed) and print the amortization gap: the "
                        "encoder's ELBO, the fitted ELBO and the importance-sampled log p(x) (K from "
                        "--k, default 5000); use --limit 1000, it takes minutes")
    e.add_argument("--local-samples", type=run_options.positive_int, default=10,
                   help="samples of z per example and step of --local-vi (default: 10)")
    e.add_argument("--local-lr", type=run_options.positive_float, default=3e-3,
                   help="Adam's learning rate for --local-vi (default: 3e-3)")
    e.add_argument("--disentanglement", action="store_true",
                   help="also score the posterior means with the FactorVAE score and MIG (needs a "
                        "data set with known factors, such as sprites)")
    e.add_argument("--json", action="store_true", help="print the figures as one JSON object")

    g = sub.add_parser("plot", help="draw a picture of a trained model")
    gsub = g.add_subparsers(dest="figure", metavar="{traversals}", parser_class=_Parser)
    gsub.required = True
    tv = gsub.add_parser("traversals", help="latent traversals: each code moved around one image's "
                                            "posterior mean, one row per code with its KL")
    tv.add_argument("checkpoint", help="a checkpoint.npz written by 'minivae train'")
    tv.add_argument("--out", default="traversals.png", help="PNG file to write (default: traversals.png)")
    tv.add_argument("--image-index", type=run_options.seed_int, default=0,
                    help="which image of the split to traverse around (default: 0)")
    tv.add_argument("--data", default=None, choices=sorted(datasets.DATASETS),
                    help="data set (default: the one the model was trained on)")
    tv.add_argument("--data-dir", default=None)
    tv.add_argument("--split", default="test", choices=("train", "test"))
    tv.add_argument("--steps", type=run_options.positive_int, default=9,
                    help="offsets per row (default: 9)")
    tv.add_argument("--range", type=run_options.positive_float, default=2.5, dest="span",
                    help="offsets run from -R to R prior standard deviations (default: 2.5)")
    tv.add_argument("--no-download", action="store_true", help="fail instead of downloading missing data")
    return p


# ------------------------------------------------------------------------------------------------
# commands
# ------------------------------------------------------------------------------------------------
#: options of ``train`` that define a run: stored in its checkpoint, fixed when resuming
RUN_OPTIONS = tuple(o.name for o in run_options.by_kind("data", "run", "model", "trainer", cli=True))


def _flag(dest):
    return "--" + dest.replace("_", "-")


def _run_values(args):
    """The run's options as typed (or at their defaults), by name."""
    return {k: getattr(args, k) for k in RUN_OPTIONS}


def _model_config(args):
    values = _run_values(args)
    explicit = getattr(args, "explicit", ())
    if args.model == "categorical" and "latent_dim" in explicit:
        raise MinivaeError("--latent-dim: the categorical model's code is set by --n-latent and --n-classes, "
                           f"got --latent-dim {args.latent_dim}")
    run_options.check_applicable(values, explicit)
    return run_options.model_config(values, input_dim=784)


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


def _pictures(model, x_test, out, seed, y_test=None):
    rng = np.random.default_rng(seed)
    if getattr(model, "needs_labels", False):
        _semi_pictures(model, x_test, y_test, out, rng)
        return
    shape = plots.square_shape(model.input_dim)
    plots.save(plots.image_grid(model.sample(64, rng), nrow=8, title="samples from the prior", shape=shape),
               out / "samples.png")
    plots.save(plots.reconstruction_figure(model, x_test[:32], ncol=8, shape=shape,
                                           title="test images (odd rows), reconstructions (even rows)"),
               out / "reconstructions.png")


def _semi_pictures(model, x_test, y_test, out, rng):
    """The confusion matrix; for M2 and M1+M2 also class-conditional samples and the analogies."""
    plots.save(plots.confusion_figure(semisupervised.confusion_matrix(model, x_test, y_test)),
               out / "confusion.png")
    if model.kind == "classifier":
        return
    shape = plots.square_shape(model.input_dim)
    plots.save(plots.class_conditional_figure(model, n=10, rng=rng, shape=shape), out / "samples.png")
    plots.save(plots.analogies_figure(model, x_test[:8], shape=shape), out / "analogies.png")


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


def _load_data(data, limit, args, labels=False):
    """Training and test images (and with ``labels`` their classes, None for a data set without)."""
    download = not args.no_download
    train = datasets.load(data, "train", root=args.data_dir, download=download)
    test = datasets.load(data, "test", root=args.data_dir, download=download)
    if limit is not None and limit > len(train.x):
        raise MinivaeError(f"--limit: expected at most {len(train.x)} (the size of {data} train), got {limit}")
    out = (train.x[:limit] if limit else train.x), test.x, train.shape
    if labels:
        out += ((train.y[:limit] if limit and train.y is not None else train.y), test.y)
    return out


#: the models that learn from labels
SEMI_SUPERVISED = ("m2", "m1m2", "classifier")
N_CLASSES = 10


def _semi_data(values, x_train, y_full):
    """The labels a semi-supervised run sees: --labels of them (balanced, drawn by --label-seed),
    -1 for the rest; the classifier baseline keeps the labelled examples only."""
    y = datasets.choose_labels(y_full, values["labels"], seed=values["label_seed"], n_classes=N_CLASSES) \
        if y_full is not None else datasets.choose_labels(None, values["labels"])
    if values["model"] == "classifier":
        keep = y >= 0
        return x_train[keep], y[keep]
    return x_train, y


def _semi_model(args, config, x_train, y_train, x_test, settings):
    """Build M2 / M1+M2 / the classifier; for M1+M2 first train M1 on all training images."""
    config = dict(config, n_classes=N_CLASSES)
    if args.model == "classifier":
        return build_model(config)
    n_l = int(np.count_nonzero(y_train >= 0))
    weight, alpha = semisupervised.default_weights(n_l, len(x_train) - n_l, args.weighting)
    if config.get("alpha") is None:
        config["alpha"] = alpha
    if config.get("labelled_weight") is None:
        config["labelled_weight"] = weight
    if args.model == "m2":
        return build_model(config)
    m1_cfg = {"kind": "vae", "input_dim": x_train.shape[1], "activation": config["activation"],
              "likelihood": config.pop("likelihood"), "dtype": config["dtype"], "seed": config["seed"],
              **config["m1"]}
    m1 = build_model(m1_cfg)
    if args.m1_init == "glorot":
        restart_glorot(m1.params, ("enc.", "dec."), np.random.default_rng(config["seed"]))
    print(f"M1: training {m1!r} on all {len(x_train)} training images for {args.m1_epochs} epochs "
          f"(weights started {args.m1_init})", flush=True)
    if args.m1_batch_size is not None:
        settings = dict(settings, batch_size=args.m1_batch_size)
    Trainer(m1, x_train, x_test, **settings).run(args.m1_epochs)
    config["m1"] = m1.get_config()
    model = build_model(config)
    for name in m1.params.shapes:                     # the trained M1 into the M1+M2 vector
        model.params[name][...] = m1.params[name]
    return model


def _resume(args, ckpt_path):
    """Rebuild the trainer of the run saved at ``ckpt_path``; refuse options that contradict it."""
    if not ckpt_path.exists():
        raise MinivaeError(f"--resume: no checkpoint at {ckpt_path}; start the run without --resume")
    ck = ckpt_mod.load(ckpt_path)
    saved = ck.state.get("args")
    if not isinstance(saved, dict) or any(k not in saved for k in ("data", "limit", "model", "epochs")):
        raise MinivaeError(f"--resume: {ckpt_path} was not written by 'minivae train' of this version "
                           f"(its run options are missing), so it cannot be resumed")
    # an option the saved run does not name did not exist then: the run had its default
    saved = {**run_options.run_defaults(), **saved}
    conflicts = []
    for k in RUN_OPTIONS:
        if k in getattr(args, "explicit", ()) and getattr(args, k) != saved[k]:
            conflicts.append(f"{_flag(k)} {_show(getattr(args, k))} (the run has {_show(saved[k])})")
    if conflicts:
        may = ", ".join(["--epochs", "--data-dir", "--no-download", "--no-progress"]
                        + [o.cli_flag for o in run_options.by_kind("session", cli=True)])
        may = " and ".join(may.rsplit(", ", 1))
        raise MinivaeError(
            f"--resume: {'; '.join(conflicts)}. A resumed run keeps the options it was started with; "
            f"only {may} may change. Drop the "
            f"conflicting options, or start a new run with another --out")
    x_train, x_test, _, y_full, y_test = _load_data(saved["data"], saved["limit"], args, labels=True)
    labels = {}
    if saved["model"] in SEMI_SUPERVISED:
        x_train, y_train = _semi_data(saved, x_train, y_full)
        labels = {"y_train": y_train, "y_test": y_test}
    trainer = Trainer.from_checkpoint(ck, x_train, x_test, progress=not args.no_progress, threads=args.threads,
                                      **labels)
    epochs = args.epochs if args.epochs is not None else saved["epochs"]
    if epochs < trainer.epoch:
        raise MinivaeError(f"--epochs: the run in {args.out} has already done {trainer.epoch} epochs, "
                           f"got --epochs {epochs}; pass at least {trainer.epoch}")
    run_args = dict(saved, epochs=epochs)
    return trainer, epochs, run_args


def _start_prior(model, x_train, args):
    """Where a prior starts from data: the VampPrior's pseudo-inputs as training images, VaDE's
    mixture from an autoencoder pretrained on them (before the VAE's first epoch)."""
    prior = getattr(model, "prior", None)
    if isinstance(prior, VampPrior) and prior.pseudo_init == "data":
        prior.init_from_data(model.params, x_train, np.random.default_rng(args.seed))
    if isinstance(prior, MixturePrior) and args.pretrain_epochs:
        settings = {o.name: run_options.trainer_value(o, getattr(args, o.name))
                    for o in run_options.by_kind("trainer", "session", cli=True)}
        settings.pop("seed")
        vade.prepare(model, x_train, args.pretrain_epochs, seed=args.seed, log=lambda t: print(t, flush=True),
                     n_init=args.mixture_restarts, select=args.mixture_select, init=args.pretrain_init,
                     progress=not args.no_progress, verbose=False, **settings)


def _check_batch_size(args, x_train):
    if args.batch_size > len(x_train):
        what = "labelled examples" if args.model == "classifier" else "training examples"
        raise MinivaeError(f"--batch-size: expected at most {len(x_train)} (the number of {what}), "
                           f"got {args.batch_size}")


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
            # A run killed after its last checkpoint but before the metrics or the pictures that
            # follow it is finished all the same: write those again from the checkpoint (the same
            # files an uninterrupted run leaves), so that nothing of it is lost.
            _write_metrics(out / METRICS, trainer.history)
            _pictures(trainer.model, trainer.x_test, out, trainer.seed, trainer.y_test)
            print(f"{ckpt_path} has already done {trainer.epoch} of {epochs} epochs; nothing to do "
                  f"(pass a larger --epochs to train on); {out / METRICS} and the pictures written "
                  f"again from it", flush=True)
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
        config = _model_config(args)       # checks the options before any data is read
        x_train, x_test, _, y_full, y_test = _load_data(data, args.limit, args, labels=True)
        settings = {o.name: run_options.trainer_value(o, getattr(args, o.name))
                    for o in run_options.by_kind("trainer", "session", cli=True)}
        labels = {}
        if args.model in SEMI_SUPERVISED:
            x_train, y_train = _semi_data(_run_values(args), x_train, y_full)
            labels = {"y_train": y_train, "y_test": y_test}
        if args.model in SEMI_SUPERVISED:
            _check_batch_size(args, x_train)      # before M1+M2's first stage trains
            m1_settings = dict(settings, labelled_batch=None, progress=not args.no_progress)
            model = _semi_model(args, {**config, "input_dim": x_train.shape[1]}, x_train, y_train, x_test,
                                m1_settings)
        else:
            model = build_model({**config, "input_dim": x_train.shape[1]})
            _start_prior(model, x_train, args)
            _check_batch_size(args, x_train)
        trainer = Trainer(model, x_train, x_test, progress=not args.no_progress, **settings, **labels)
        run_args = _run_values(args)
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
    _pictures(trainer.model, trainer.x_test, out, trainer.seed, trainer.y_test)
    last = trainer.history[-1]
    if trainer.needs_labels:
        print(f"done: test error {100 * last['test_error']:.2f}% on {data} test ({len(trainer.x_test)} images); "
              f"wrote {ckpt_path}, {out / METRICS} and pictures", flush=True)
        return 0
    print(f"done: test -ELBO {last.get('test_nelbo', float('nan')):.2f} nats per image "
          f"(single-sample ELBO on {data} test{', dequantized pixels, a density' if trainer.dequantize else ''}); "
          f"wrote {ckpt_path}, {out / METRICS}, "
          f"{out / 'samples.png'}, {out / 'reconstructions.png'}")
    return 0




COMMANDS = {"train": cmd_train, "sample": cmd_sample, "evaluate": cmd_evaluate, "plot": cmd_plot}


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
