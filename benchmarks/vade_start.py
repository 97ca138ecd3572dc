"""How good a start VaDE gets from an autoencoder: the clustering accuracy of a diagonal Gaussian
mixture fitted by EM to the codes, against the autoencoder's epochs and the mixture's seed.

    OPENBLAS_NUM_THREADS=1 python benchmarks/vade_start.py --seed 0 --at 5 10 20 35 50 75 100

Trains one autoencoder (by default VaDE's 784-500-500-2000-10, ReLU, Bernoulli likelihood on
grey levels, Adam 1e-3, batches of 256) and, after each epoch count in ``--at``, fits a
10-component diagonal mixture to the codes of the 60,000 training images once per mixture seed
(k-means++ seeds, then EM; ``minivae.mixture.GaussianMixture``, as ``minivae.vade.prepare`` does
with one seed) and prints, per seed, the test clustering accuracy (each test image's most probable
component matched one to one to the digits, Hungarian method), the fit's mean log-likelihood
per training code and the entropy of its weights, H(w) = -sum_c w_c log w_c (log 10 = 2.3026 for
ten equal components). It asks: does a longer pretraining give a better start, and which criterion
that needs no labels picks the better of several fits, the likelihood or the balance of the
weights? The labels are used to score only.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from minivae import datasets
from minivae.mixture import GaussianMixture, cluster_accuracy
from minivae.models import AE
from minivae.nn import WEIGHT_INITS, restart_glorot
from minivae.train import Trainer


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, nargs="+", default=[500, 500, 2000])
    p.add_argument("--latent-dim", type=int, default=10)
    p.add_argument("--at", type=int, nargs="+", default=[10, 25, 50, 100],
                   help="fit the mixtures after these numbers of autoencoder epochs")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--likelihood", default="bernoulli")
    p.add_argument("--seed", type=int, default=0, help="the autoencoder's seed")
    p.add_argument("--gmm-seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--init", choices=WEIGHT_INITS, default="uniform",
                   help="the autoencoder's start, as minivae.vade.pretrain_autoencoder's init: minivae's "
                        "U(-1/sqrt(n_in), 1/sqrt(n_in)), or Glorot's U(-c, c), c = sqrt(6 / (n_in + n_out)), "
                        "with zero biases (Keras's default, which VaDE's and DEC's published code use)")
    args = p.parse_args(argv)
    train, test = datasets.load("mnist", "train"), datasets.load("mnist", "test")
    ae = AE(784, args.latent_dim, args.hidden, "relu", args.likelihood, dtype="float32", seed=args.seed)
    if args.init == "glorot":
        restart_glorot(ae.params, ("enc.", "dec."), np.random.default_rng(args.seed))
    trainer = Trainer(ae, train.x, batch_size=args.batch_size, lr=args.lr, seed=args.seed, progress=False,
                      verbose=False)
    t0 = time.perf_counter()
    for epochs in sorted(args.at):
        trainer.run(epochs)
        z_train = ae.encode(train.x).astype(np.float64)
        z_test = ae.encode(test.x).astype(np.float64)
        fits = []
        for s in args.gmm_seeds:
            gmm = GaussianMixture(10, covariance_type="diag", seed=s, max_iter=200).fit(z_train)
            fits.append((cluster_accuracy(test.y, gmm.predict(z_test)), gmm.score(z_train),
                         gmm.restart_weight_entropies_[0]))
        loss = trainer.history[-1].get("train_nelbo", float("nan"))
        print(f"epoch {epochs} ({(time.perf_counter() - t0) / 60:.1f} min, loss {loss:.2f}): "
              + "  ".join(f"acc {acc:.4f} ll {ll:.3f} H(w) {h:.4f}" for acc, ll, h in fits), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
