"""VaDE's clustering accuracy from its start through training, epoch by epoch (one seed).

    python benchmarks/vade_trajectory.py --pretrain-epochs 10 --epochs 40 --seed 0

Runs VaDE's recipe step by step (``minivae.vade.prepare``: an autoencoder pretrained, a diagonal
mixture fitted by EM to its codes, then VaDE's bound) and prints the clustering accuracy
(Hungarian matching of argmax_c p(c | z = mu(x)) to the digit classes) after the start and after
every epoch, on 10,000 training images drawn by a fixed seed and on the 10,000 test images. The
labels are used to score only. It answers where the accuracy of a run comes from: the start
(the mixture fitted to the pretrained codes) or the training on VaDE's bound.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from minivae import datasets, vade
from minivae.models import build_model
from minivae.nn import WEIGHT_INITS
from minivae.train import Trainer


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pretrain-epochs", type=int, default=10)
    p.add_argument("--pretrain-lr", type=float, default=1e-3)
    p.add_argument("--pretrain-batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--lr-decay", type=float, default=0.99)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--hidden", type=int, nargs="+", default=[500, 500, 2000])
    p.add_argument("--latent-dim", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pretrain-init", default="uniform", choices=WEIGHT_INITS)
    p.add_argument("--mixture-restarts", type=int, default=1)
    p.add_argument("--mixture-select", default="likelihood", choices=["likelihood", "balance"])
    args = p.parse_args(argv)
    train, test = datasets.load("mnist", "train"), datasets.load("mnist", "test")
    model = build_model({"kind": "vae", "input_dim": 784, "latent_dim": args.latent_dim, "hidden": args.hidden,
                         "activation": "relu", "likelihood": {"name": "bernoulli"}, "dtype": "float32",
                         "seed": args.seed, "prior": {"name": "mog", "components": 10}})
    t0 = time.perf_counter()
    vade.prepare(model, train.x, args.pretrain_epochs, seed=args.seed, batch_size=args.pretrain_batch_size,
                 lr=args.pretrain_lr, progress=False, verbose=False, init=args.pretrain_init,
                 n_init=args.mixture_restarts, select=args.mixture_select, log=print)
    sub = np.random.default_rng(0).permutation(len(train.x))[:10000]

    def report(what):
        a_train = vade.clustering_accuracy(model, train.x[sub], train.y[sub])
        a_test = vade.clustering_accuracy(model, test.x, test.y)
        print(f"{what}: clustering accuracy {a_train:.4f} (10,000 training images), {a_test:.4f} (test) "
              f"| {(time.perf_counter() - t0) / 60:.1f} min", flush=True)

    report(f"start: autoencoder {args.pretrain_epochs} epochs ({args.pretrain_init} start, lr {args.pretrain_lr}, "
           f"batch {args.pretrain_batch_size}) + mixture by EM ({args.mixture_restarts} fits, kept by "
           f"{args.mixture_select})")
    trainer = Trainer(model, train.x, batch_size=args.batch_size, lr=args.lr, lr_decay=args.lr_decay,
                      seed=args.seed, progress=False, verbose=False)
    for epoch in range(1, args.epochs + 1):
        trainer.run(epoch)
        report(f"VaDE epoch {epoch:3d}, train -ELBO {trainer.history[-1]['train_nelbo']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
