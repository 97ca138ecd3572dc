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
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import checkpoint as ckpt_mod
from . import datasets, plots
from .errors import MinivaeError, DivergenceError
from .evaluate import active_units, elbo, elbo_multi, importance_sampled_nll
from .likelihoods import LIKELIHOODS
from .models import MODELS, build_model
from .nn import ACTIVATIONS
from .train import Trainer

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


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (v > 0 and np.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return v


def _nonneg_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}") from None
    if not (v >= 0 and np.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a non-negative finite number, got {text}")
    return v


def _decay_factor(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a factor in (0, 1], got {text!r}") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"expected a factor in (0, 1] (1 keeps the learning rate fixed), got {v:g}")
    return v


def build_parser():
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
    t.add_argument("--posterior", default="diagonal", choices=["diagonal", "isotropic", "shared"])
    t.add_argument("--encoder", default="fused", choices=["fused", "separate"])
    t.add_argument("--logvar-clamp", type=_positive_float, default=None,
                   help="clip the encoder's log-variance to [-C, C] (off by default)")
    t.add_argument("--binarize", default="none", choices=["none", "dynamic", "threshold"],
                   help="binarize grey-level pixels: fresh draws per batch (dynamic) or at 0.5")
    t.add_argument("--epochs", type=_positive_int, default=10)
    t.add_argument("--batch-size", type=_positive_int, default=128)
    t.add_argument("--lr", type=_positive_float, default=1e-3, help="learning rate (default: 1e-3)")
    t.add_argument("--lr-decay", type=_decay_factor, default=1.0,
                   help="multiply the learning rate by this factor after every epoch (default: 1, fixed)")
    t.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    t.add_argument("--limit", type=_positive_int, default=None, help="use only the first N training examples")
    t.add_argument("--out", default="runs/latest", help="output folder (default: runs/latest)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    s = sub.add_parser("sample", help="draw samples from a trained model into a PNG grid")
    s.add_argument("checkpoint", help="a checkpoint.npz written by 'minivae train'")
    s.add_argument("-n", type=_positive_int, default=64, help="number of samples (default: 64)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="samples.png", help="PNG file to write (default: samples.png)")

    e = sub.add_parser("evaluate", help="bounds and log-likelihood estimates of a trained model on a data set")
    e.add_argument("checkpoint", help="a checkpoint.npz written by 'minivae train'")
    e.add_argument("--data", default=None, choices=sorted(datasets.DATASETS),
                   help="data set (default: the one the model was trained on)")
    e.add_argument("--data-dir", default=None)
    e.add_argument("--split", default="test")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--limit", type=_positive_int, default=None, help="use only the first N examples")
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
    cfg = dict(kind=args.model, input_dim=784, latent_dim=args.latent_dim, hidden=args.hidden,
               activation=args.activation, likelihood=_likelihood_spec(args), dtype=args.dtype, seed=args.seed)
    if args.model == "vae":
        cfg.update(beta=args.beta, posterior=args.posterior, encoder=args.encoder, logvar_clamp=args.logvar_clamp)
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
    x = x_test[:32]
    rec = model.reconstruct(x)
    pairs = np.concatenate([x.reshape(4, 8, -1), rec.reshape(4, 8, -1)], axis=1).reshape(64, -1)
    plots.save(plots.image_grid(pairs, nrow=8, title="test images (odd rows), reconstructions (even rows)"),
               out / "reconstructions.png")


def cmd_train(args):
    out = Path(args.out)
    binarize = None if args.binarize == "none" else args.binarize
    test_split = "test"
    train = datasets.load(args.data, "train", root=args.data_dir)
    test = datasets.load(args.data, test_split, root=args.data_dir)
    x_train = train.x[: args.limit] if args.limit else train.x
    ckpt_path = out / CHECKPOINT

    if args.resume:
        if not ckpt_path.exists():
            raise MinivaeError(f"--resume: no checkpoint at {ckpt_path}; start the run without --resume")
        ck = ckpt_mod.load(ckpt_path)
        model = ck.build_model()
        st = ck.state
        args_saved = st.get("args", {})
        trainer = Trainer(model, x_train, test.x, optimizer=st["optimizer"], lr=st["lr"],
                          batch_size=st["batch_size"], seed=st["seed"], binarize=st["binarize"],
                          progress=not args.no_progress, eval_seed=st["eval_seed"],
                          lr_decay=st.get("lr_decay", 1.0))
        trainer.restore(st, ck.optimizer)
        epochs = args.epochs if "--epochs" in sys.argv else args_saved.get("epochs", args.epochs)
        print(f"resuming {ckpt_path} after epoch {trainer.epoch} of {epochs}", flush=True)
    else:
        model = build_model(_model_config(args))
        trainer = Trainer(model, x_train, test.x, optimizer=args.optimizer, lr=args.lr,
                          batch_size=args.batch_size, seed=args.seed, binarize=binarize,
                          progress=not args.no_progress, lr_decay=args.lr_decay)
        epochs = args.epochs
        args_saved = {"epochs": epochs, "data": args.data}
        print(f"training {model!r} on {args.data} ({len(x_train)} train / {len(test.x)} test) "
              f"for {epochs} epochs into {out}", flush=True)

    def on_epoch_end(tr, row):
        state = tr.state()
        state["args"] = args_saved
        ckpt_mod.save(ckpt_path, tr.model, tr.optimizer, state)
        _write_metrics(out / METRICS, tr.history)

    out.mkdir(parents=True, exist_ok=True)
    trainer.run(epochs, on_epoch_end=on_epoch_end)
    _pictures(trainer.model, trainer.x_test, out, args.seed)
    last = trainer.history[-1]
    print(f"done: test -ELBO {last.get('test_nelbo', float('nan')):.2f} nats per image "
          f"(single-sample ELBO on {args.data} {test_split}); wrote {ckpt_path}, {out / METRICS}, "
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
    ds = datasets.load(data, args.split, root=args.data_dir)
    x = ds.x[: args.limit] if args.limit else ds.x
    binarize = ck.state.get("binarize")
    pixels = "grey-level"
    if binarize == "dynamic":
        x = datasets.binarize_fixed(x, seed=ck.state.get("eval_seed", 12345))
        pixels = "binarized once with a fixed seed"
    elif binarize == "threshold":
        x = datasets.threshold(x)
        pixels = "thresholded at 0.5"
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


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except DivergenceError as exc:
        print(f"minivae: error: {exc}", file=sys.stderr)
        return 1
    except MinivaeError as exc:
        print(f"minivae: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("minivae: interrupted; the last complete checkpoint is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
