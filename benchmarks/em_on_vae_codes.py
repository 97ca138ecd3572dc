"""Clustering MNIST by EM: a Gaussian mixture on a trained VAE's posterior means, beside PCA'd pixels.

    MINIVAE_DATA=... python benchmarks/em_on_vae_codes.py runs/latest/checkpoint.npz
    python benchmarks/em_on_vae_codes.py CHECKPOINT --seeds 0 1 2 --pca-dims 20 50 --threads 1

For each representation of the 60,000 training images, one 10-component GaussianMixture (full
covariances, k-means++ start, minivae's EM) per seed is fitted to the training set, each of the
10,000 test images is given its most probable component, and the test clustering is scored by
``minivae.mixture.cluster_accuracy`` (the best one-to-one matching of components to digits,
Hungarian algorithm). Labels are used for the score only. The representations:

* ``vae codes``: mu(x), the mean of the encoder's q(z | x), of the VAE in CHECKPOINT (the
  pixels prepared as ``minivae evaluate`` prepares them for that model);
* ``pca N``: the grey-level pixels, centred, projected on their first N principal directions and
  divided by the projections' overall standard deviation (the recipe of
  ``benchmarks/gmm_mnist.py``).

Prints one line per representation and seed and the median over seeds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="a VAE checkpoint written by 'minivae train' on mnist")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pca-dims", type=int, nargs="*", default=[20, 50],
                   help="principal components kept for the pixel baselines (none: skip them)")
    p.add_argument("--components", type=int, default=10)
    p.add_argument("--covariance-type", default="full", choices=["full", "diag", "spherical"])
    p.add_argument("--max-iter", type=int, default=300)
    p.add_argument("--data-dir", default=None, help="data root (default: $MINIVAE_DATA)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads (sets OMP/OPENBLAS/MKL_NUM_THREADS; default: as the environment says)")
    args = p.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))
    sys.path.insert(0, here)
    from bench_mixture import cpu_model, pin_blas_threads
    pin_blas_threads(args.threads)
    import numpy as np
    from minivae import datasets
    from minivae.mixture import GaussianMixture, cluster_accuracy
    from minivae.models import VAE, checkpoint
    from minivae.train import EVAL_SEED, evaluation_data

    print(f"cpu: {cpu_model()}, BLAS threads: {args.threads if args.threads is not None else 'default'}")
    ck = checkpoint.load(args.checkpoint)
    model = ck.build_model()
    if not isinstance(model, VAE):
        sys.exit(f"em_on_vae_codes: {args.checkpoint} holds a {model.kind}, not a VAE")
    train = datasets.load("mnist", "train", root=args.data_dir)
    test = datasets.load("mnist", "test", root=args.data_dir)

    def prepared(x):
        return evaluation_data(x, ck.state.get("binarize"), ck.state.get("eval_seed", EVAL_SEED),
                               dequantize=bool(ck.state.get("dequantize", False)))

    t0 = time.perf_counter()
    reps = {"vae codes": (np.concatenate([model.encode(prepared(train.x[i:i + 5000]))[0]
                                          for i in range(0, len(train.x), 5000)]).astype(np.float64),
                          model.encode(prepared(test.x))[0].astype(np.float64))}
    print(f"VAE {model.config['hidden']} -> {model.latent_dim} dims: posterior means of "
          f"{len(train.x)} + {len(test.x)} images, {time.perf_counter() - t0:.1f} s")
    if args.pca_dims:
        x = train.x.astype(np.float64)
        centre = x.mean(axis=0)
        _, sv, vt = np.linalg.svd(x - centre, full_matrices=False)
        for dims in args.pca_dims:
            basis = vt[:dims].T
            z = (x - centre) @ basis
            scale = z.std()
            reps[f"pca {dims}"] = (z / scale, (test.x.astype(np.float64) - centre) @ basis / scale)
            print(f"PCA {dims}: {float(np.sum(sv[:dims] ** 2) / np.sum(sv ** 2)):.1%} of the pixel variance")
    medians = {}
    for name, (z, zt) in reps.items():
        accs = []
        for seed in args.seeds:
            gm = GaussianMixture(args.components, covariance_type=args.covariance_type,
                                 max_iter=args.max_iter, seed=seed)
            t0 = time.perf_counter()
            gm.fit(z)
            dt = time.perf_counter() - t0
            acc = cluster_accuracy(test.y, gm.predict(zt))
            accs.append(acc)
            print(f"{name:>9s}, seed {seed}: test accuracy {acc:.4f} (train "
                  f"{cluster_accuracy(train.y, gm.predict(z)):.4f}), {gm.n_iter_} iterations, "
                  f"converged={gm.converged_}, {dt:.1f} s")
        medians[name] = statistics.median(accs)
    print("median test accuracy over seeds " + " ".join(map(str, args.seeds)) + ": " +
          ", ".join(f"{name} {m:.4f}" for name, m in medians.items()))


if __name__ == "__main__":
    main()
