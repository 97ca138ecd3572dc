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
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import datasets, plots, vade
from . import options as run_options
from .disentanglement import score_encoder
from .errors import DivergenceError, MinivaeError, OutputError
from .evaluate import active_units, elbo, elbo_multi, importance_sampled_nll
from .inference import amortization_gap
from .models import VAE, build_model
from .models import checkpoint as ckpt_mod
from .priors import MixturePrior, VampPrior
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


def _pictures(model, x_test, out, seed):
    rng = np.random.default_rng(seed)
    shape = plots.square_shape(model.input_dim)
    plots.save(plots.image_grid(model.sample(64, rng), nrow=8, title="samples from the prior", shape=shape),
               out / "samples.png")
    plots.save(plots.reconstruction_figure(model, x_test[:32], ncol=8, shape=shape,
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
    return (train.x[:limit] if limit else train.x), test.x, train.shape


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
    x_train, x_test, _ = _load_data(saved["data"], saved["limit"], args)
    trainer = Trainer.from_checkpoint(ck, x_train, x_test, progress=not args.no_progress, threads=args.threads)
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
                     progress=not args.no_progress, verbose=False, **settings)


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
        config = _model_config(args)       # checks the options before any data is read
        x_train, x_test, _ = _load_data(data, args.limit, args)
        model = build_model({**config, "input_dim": x_train.shape[1]})
        _start_prior(model, x_train, args)
        if args.batch_size > len(x_train):
            raise MinivaeError(f"--batch-size: expected at most {len(x_train)} (the number of training "
                               f"examples), got {args.batch_size}")
        settings = {o.name: run_options.trainer_value(o, getattr(args, o.name))
                    for o in run_options.by_kind("trainer", "session", cli=True)}
        trainer = Trainer(model, x_train, x_test, progress=not args.no_progress, **settings)
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
    path = plots.save(plots.image_grid(x, title=f"{args.n} samples from the prior",
                                       shape=plots.square_shape(model.input_dim)), args.out)
    print(f"wrote {path}")
    return 0


def cmd_evaluate(args):
    ck = ckpt_mod.load(args.checkpoint)
    model = ck.build_model()
    data = args.data or ck.state.get("args", {}).get("data", "mnist")
    ds = datasets.load(data, args.split, root=args.data_dir, download=not args.no_download)
    if args.disentanglement and ds.factors is None:
        raise MinivaeError(f"--disentanglement: needs a data set with known factors of variation "
                           f"(sprites), got {data}, which has none; pass --data sprites with a model "
                           f"trained on it")
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
    wants_latent = args.k or args.samples or args.active_units or args.disentanglement or args.local_vi
    if wants_latent and not isinstance(model, VAE):
        raise MinivaeError(f"--k, --samples, --active-units, --disentanglement and --local-vi need a VAE (a model "
                           f"with a Gaussian posterior q(z | x)); {args.checkpoint} holds a {model.kind}")

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
    if isinstance(model, VAE) and isinstance(model.prior, MixturePrior) and ds.y is not None:
        y = ds.y[: args.limit] if args.limit else ds.y
        acc = vade.clustering_accuracy(model, x, y)
        res["clustering_accuracy"] = acc
        lines.append(f"  clustering accuracy {acc:.4f}   (each image's cluster argmax_c p(c | z = mu(x)) of the "
                     f"{model.prior.components}-component prior, matched one to one to the {len(np.unique(y))} "
                     f"classes by the Hungarian method)")
    if args.disentanglement:
        res["disentanglement"] = _disentanglement(model, x, ds.factors, args.seed, lines)
    if args.local_vi:
        lines += _local_vi_lines(model, x, args, res)
    if args.json:
        print(json.dumps(res))
    else:
        print("\n".join(lines))
    return 0


def _local_vi_lines(model, x, args, res):
    """Run :func:`minivae.inference.amortization_gap` and describe its figures, one per line."""
    k = args.k or 5000
    g = amortization_gap(model, x, steps=args.local_vi, samples=args.local_samples, lr=args.local_lr,
                         k=k, seed=args.seed)
    g.pop("per_example")
    g["trace"] = g["trace"].tolist()
    res["local_vi"] = g
    c, t = g["counts"], g["seconds_per_example"]
    n = g["n"]
    def row(label, mean, stderr, note=""):
        return f"    {label:<44s}{mean:9.2f} +- {stderr:.2f}" + (f"   ({note})" if note else "")

    return [
        f"  amortization gap on these {n} examples, nats per example (log-likelihoods and bounds: "
        "higher is better; +- standard error over examples):",
        row(f"ELBO of the encoder's q(z|x), {g['eval_samples']} samples", g["encoder"], g["encoder_stderr"]),
        row(f"ELBO of a q_i fitted to each example", g["local"], g["local_stderr"],
            f"{args.local_vi} Adam steps from the encoder's q, {args.local_samples} samples per step, "
            f"lr {args.local_lr:g}; bound re-estimated with {g['eval_samples']} fresh samples"),
        row(f"log p(x), importance sampling K={k}", g["log_px"], g["log_px_stderr"], "proposal: the encoder's q"),
        row(f"log p(x), importance sampling K={k}", g["log_px_local"], g["log_px_local_stderr"],
            "proposal: the fitted q_i"),
        row("amortization gap = fitted - encoder ELBO", g["amortization_gap"], g["amortization_gap_stderr"]),
        f"    approximation gap = log p(x) (encoder proposal) - fitted ELBO: {g['approximation_gap']:.2f}",
        f"    the fit closes {g['closed']:.1%} of log p(x) - encoder ELBO; it beats the encoder's ELBO on "
        f"{g['share_local_beats_encoder']:.1%} of the examples and lies above the IS log p(x) on "
        f"{g['share_local_above_log_px']:.1%} (fitted ELBO - log p(x) = {g['local'] - g['log_px']:+.2f} "
        f"+- {g['local_minus_log_px_stderr']:.2f} on average)",
        f"    parameters for N = {c['n_examples']:,} training examples: amortized |theta| + |phi| = "
        f"{c['amortized']:,}; per example |theta| + 2 d N = {c['local']:,}",
        f"    time per new example: encoder {t['encoder'] * 1e3:.3f} ms (one pass); fit {t['local'] * 1e3:.1f} ms "
        f"({args.local_vi} steps, each {args.local_samples} decoder passes forward and back)",
    ]


def _disentanglement(model, x, factors, seed, lines):
    """Both metrics on the posterior means of ``x`` (the first rows of ``factors``, after
    --limit); their settings go into ``lines``."""
    scores = score_encoder(model.embed, x, factors.indices[:len(x)], names=factors.names, rng=seed)
    f, m = scores["factorvae"], scores["mig"]
    lines.append(f"  disentanglement of the posterior means ({f['n_examples']} examples, {f['code_dim']} codes):")
    lines.append(f"    FactorVAE score {f['score']:.3f}   (chance {f['chance']:.3f}; train accuracy "
                 f"{f['train_accuracy']:.3f}; {f['n_active']} codes kept, variance > {f['collapse_threshold']:g}; "
                 f"votes of L = {f['batch_size']} examples, {f['n_train']} train / {f['n_eval']} eval; seed {seed})")
    lines.append(f"    MIG             {m['score']:.3f}   ({m['n_bins']} equal-width bins per code; per factor: "
                 + ", ".join(f"{k} {v:.2f}" for k, v in m["per_factor"].items()) + ")")
    if f["excluded_factors"]:
        lines.append(f"    left out (a single value in these data): {', '.join(f['excluded_factors'])}")
    return {"factorvae": f, "mig": m}


def cmd_plot(args):
    ck = ckpt_mod.load(args.checkpoint)
    model = ck.build_model()
    if not isinstance(model, VAE):
        raise MinivaeError(f"plot traversals: needs a VAE (a posterior mean and a KL per code); "
                           f"{args.checkpoint} holds a {model.kind}")
    data = args.data or ck.state.get("args", {}).get("data", "mnist")
    ds = datasets.load(data, args.split, root=args.data_dir, download=not args.no_download)
    if ds.x.shape[1] != model.input_dim:
        raise MinivaeError(f"--data: the model takes images of {model.input_dim} pixels, {data} has "
                           f"{ds.x.shape[1]}; pass the data set it was trained on")
    if args.image_index >= len(ds.x):
        raise MinivaeError(f"--image-index: expected at most {len(ds.x) - 1} (the last image of {data} "
                           f"{args.split}), got {args.image_index}")
    offsets = np.linspace(-args.span, args.span, args.steps)
    # each row's label: that code's KL averaged over the split (what the model spends on it)
    fig = plots.traversal_figure(model, ds.x[args.image_index], offsets, kl_data=ds.x, shape=ds.shape,
                                 title=f"{data} {args.split} image {args.image_index}: one code moved at "
                                       f"a time around its posterior mean")
    path = plots.save(fig, args.out)
    print(f"wrote {path}")
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
