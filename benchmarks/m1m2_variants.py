"""M1+M2 recipe variants on one M1: which features, which classification weight, which start.

    OPENBLAS_NUM_THREADS=1 python benchmarks/m1m2_variants.py --m1-epochs 60 --minutes 5 \\
        60:all 60:active 6:active 1:active

Trains one VAE M1 (784-H-50, as ``benchmarks/semisupervised.py`` does, seed = the label draw; its
parameters are cached in ``--cache`` and reused), then for each variant ``ALPHA:UNITS`` trains M2
on M1's codes for ``--minutes`` of training and prints the test error after every epoch (100
labels, draw ``--draw``; batches of 200, half labelled; Adam 1e-3; dynamically binarized pixels
for M1's encoder). ``ALPHA`` is the classification weight per labelled example (the recipe uses
0.1 N / N_l = 60); ``UNITS`` is ``all`` (M1's 50 latent units) or ``active`` (only the units whose
posterior mean has a standard deviation above 0.1 over 1,000 training images, the criterion of the
paper's code: the other units carry only N(0, 1) noise when z1 is drawn). ``active`` builds a
smaller M1 with just those units' rows and columns (one hidden layer only). ``--m1-init glorot`` and
``--m2-init glorot`` start M1's or M2's networks from Glorot's weights instead of minivae's
U(-1/sqrt(n_in), 1/sqrt(n_in)) (M1 is cached per start). Compare variants at
equal epochs: each run is deterministic, so the minutes depend only on the machine's load.

Two ways of *classifying* with the same training, printed as extra lines per variant:
``--samples S`` averages q(y | z1) over S draws of z1 from q(z1 | x) instead of using the mean mu1
(training sees drawn codes, the recipe's test the mean); ``--polyak K`` classifies with the average
of the parameters at the ends of the last K epochs (Polyak averaging, per epoch; the training itself
is unchanged), with the mean and, with ``--samples``, with the S draws.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from minivae import datasets, semisupervised
from minivae.logspace import log_softmax
from minivae.models import build_model
from minivae.nn import WEIGHT_INITS, restart_glorot
from minivae.train import Trainer


def active_m1(m1, active):
    """A copy of the one-hidden-layer VAE m1 restricted to the latent units ``active``."""
    if len(m1.get_config()["hidden"]) != 1:
        raise SystemExit("active: only for an M1 with one hidden layer")
    cfg = m1.get_config()
    cfg["latent_dim"] = len(active)
    small = build_model(cfg)
    d = m1.latent_dim
    cols = np.concatenate([active, d + active])
    P, Q = small.params, m1.params
    for name in ("enc.0.W", "enc.0.b", "dec.0.b", "dec.1.W", "dec.1.b"):
        P[name][...] = Q[name]
    P["enc.1.W"][...] = Q["enc.1.W"][:, cols]
    P["enc.1.b"][...] = Q["enc.1.b"][cols]
    P["dec.0.W"][...] = Q["dec.0.W"][active]
    return small


def variant(text):
    """``ALPHA:UNITS`` -> (alpha, units), for argparse."""
    alpha, _, units = text.partition(":")
    try:
        alpha = float(alpha)
    except ValueError:
        alpha = -1.0
    if not (alpha >= 0 and units in ("all", "active")):
        raise argparse.ArgumentTypeError(f"expected ALPHA:UNITS with ALPHA >= 0 and UNITS all or active, got {text!r}")
    return alpha, units


def count(text):
    """A whole number >= 0, for argparse (``--samples``, ``--polyak``; 0 leaves the line out)."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return n


class Classify:
    """Test error (%) of an M1+M2 model from M1's mean codes or from q(y | z1) averaged over draws."""

    def __init__(self, model, m1, test, samples):
        mu1, log_var1, _ = m1.encoder_forward(test.x)
        self.model, self.y, self.samples = model, test.y, samples
        self.mu1, self.sd1 = np.array(mu1), np.exp(0.5 * np.array(log_var1))
        self.rng = np.random.default_rng(123)

    def probs(self, z1):
        return np.exp(log_softmax(self.model.classifier.forward(self.model.params, z1.astype(np.float32))[0]))

    def error(self, probs):
        return 100 * float(np.mean(np.argmax(probs, axis=1) != self.y))

    def mean(self):
        return self.error(self.probs(self.mu1))

    def sampled(self):
        draws = [self.probs(self.mu1 + self.sd1 * self.rng.standard_normal(self.mu1.shape)) for _ in range(self.samples)]
        return self.error(np.mean(draws, axis=0))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("variants", nargs="+", type=variant, help="ALPHA:UNITS, UNITS all or active")
    p.add_argument("--m1-epochs", type=int, default=60)
    p.add_argument("--m1-hidden", type=int, nargs="+", default=[500])
    p.add_argument("--minutes", type=float, default=5.0, help="training minutes per variant")
    p.add_argument("--draw", type=int, default=0)
    p.add_argument("--cache", default="runs/m1m2_variants", help="folder for M1's parameters")
    p.add_argument("--m1-init", choices=WEIGHT_INITS, default="uniform",
                   help="M1's start: minivae's U(-1/sqrt(n_in), 1/sqrt(n_in)) or Glorot's")
    p.add_argument("--m2-init", choices=WEIGHT_INITS, default="uniform",
                   help="the start of M2's networks (classifier, encoder, decoder), as --m1-init")
    p.add_argument("--samples", type=count, default=0, help="also classify by q(y | z1) averaged over this many z1")
    p.add_argument("--polyak", type=count, default=0, help="also classify with the parameters averaged over this many epochs")
    args = p.parse_args(argv)
    train, test = datasets.load("mnist", "train"), datasets.load("mnist", "test")
    y = datasets.choose_labels(train.y, 100, seed=args.draw)
    m1 = build_model({"kind": "vae", "latent_dim": 50, "hidden": args.m1_hidden, "seed": args.draw})
    if args.m1_init == "glorot":
        restart_glorot(m1.params, ("enc.", "dec."), np.random.default_rng(args.draw))
    init = "" if args.m1_init == "uniform" else "_glorot"
    path = Path(args.cache) / f"m1_{'-'.join(map(str, args.m1_hidden))}_{args.m1_epochs}_draw{args.draw}{init}.npz"
    t0 = time.perf_counter()
    if path.exists():
        m1.params.load(np.load(path)["p"])
    else:
        Trainer(m1, train.x, batch_size=100, binarize="dynamic", lr=1e-3, seed=args.draw, progress=False,
                verbose=False).run(args.m1_epochs)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, p=np.array(m1.params.data))
    print(f"M1 {args.m1_hidden}: {args.m1_epochs} epochs, {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    sd = m1.encode(train.x)[0][:1000].std(axis=0)
    active = np.flatnonzero(sd > 0.1)
    print(f"active units: {len(active)} of {m1.latent_dim}", flush=True)
    for alpha, units in args.variants:
        base = active_m1(m1, active) if units == "active" else m1
        model = build_model({"kind": "m1m2", "latent_dim": 50, "hidden": [500], "alpha": alpha,
                             "seed": args.draw, "m1": base.get_config()})
        if args.m2_init == "glorot":
            restart_glorot(model.params, ("cls.", "enc_y.", "dec_y."), np.random.default_rng(args.draw))
        for name in base.params.shapes:
            model.params[name][...] = base.params[name]
        trainer = Trainer(model, train.x, y_train=y, batch_size=200, binarize="dynamic", lr=1e-3, seed=args.draw,
                          progress=False, verbose=False)
        t0, errors, snapshots = time.perf_counter(), {}, []
        classify = Classify(model, base, test, args.samples)
        while time.perf_counter() - t0 < 60 * args.minutes:
            trainer.run(trainer.epoch + 1)
            errors.setdefault("", []).append(100 * semisupervised.error_rate(model, test.x, test.y))
            if args.samples:
                errors.setdefault(f", {args.samples} draws of z1", []).append(classify.sampled())
            if args.polyak:
                snapshots = (snapshots + [np.array(model.params.data)])[-args.polyak:]
                current = np.array(model.params.data)
                model.params.data[...] = np.mean(snapshots, axis=0)
                errors.setdefault(f", parameters of the last {args.polyak} epochs", []).append(classify.mean())
                if args.samples:
                    errors.setdefault(f", parameters of the last {args.polyak} epochs, {args.samples} draws of z1",
                                      []).append(classify.sampled())
                model.params.data[...] = current
        for how, errs in errors.items():
            print(f"variant alpha={alpha:g} {units}{how}: " + " ".join(f"{e:.2f}" for e in errs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
