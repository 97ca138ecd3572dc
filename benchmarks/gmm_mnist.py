"""Clustering accuracy of EM (a Gaussian mixture) on MNIST pixels after PCA, for several seeds.

    MINIVAE_DATA=... python benchmarks/gmm_mnist.py              # 60,000 train, PCA 50, seeds 0 1 2
    python benchmarks/gmm_mnist.py --dims 30 --covariance-type diag --data-dir DIR

Steps: centre the training images (grey levels in [0, 1]); project them on their first ``dims``
principal directions (right singular vectors of the centred matrix, numpy SVD); divide by the
projections' overall standard deviation, so that ``reg_covar`` (1e-6) is small against every
variance; fit a 10-component GaussianMixture on the training projections, one fit per seed;
project the 10,000 test images the same way, give each the most probable component, and score
the test clustering with ``cluster_accuracy`` (best one-to-one matching of components to
digits). Labels are used for the score only. Prints each seed and the median.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--dims", type=int, default=50, help="principal components kept")
    p.add_argument("--n-train", type=int, default=60000, help="first N training images")
    p.add_argument("--components", type=int, default=10)
    p.add_argument("--covariance-type", default="full", choices=["full", "diag", "spherical"])
    p.add_argument("--n-init", type=int, default=1)
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

    print(f"cpu: {cpu_model()}, BLAS threads: {args.threads if args.threads is not None else 'default'}")
    train = datasets.load("mnist", "train", root=args.data_dir)
    test = datasets.load("mnist", "test", root=args.data_dir)
    x = train.x[: args.n_train].astype(np.float64)
    t0 = time.perf_counter()
    centre = x.mean(axis=0)
    _, sv, vt = np.linalg.svd(x - centre, full_matrices=False)
    basis = vt[: args.dims].T
    z = (x - centre) @ basis
    scale = z.std()
    z /= scale
    zt = (test.x.astype(np.float64) - centre) @ basis / scale
    explained = float(np.sum(sv[: args.dims] ** 2) / np.sum(sv ** 2))
    print(f"PCA: {len(x)} training images -> {args.dims} dims ({explained:.1%} of the variance), "
          f"{time.perf_counter() - t0:.1f} s")
    accs = []
    for seed in args.seeds:
        gm = GaussianMixture(args.components, covariance_type=args.covariance_type, n_init=args.n_init,
                             max_iter=args.max_iter, seed=seed)
        t0 = time.perf_counter()
        gm.fit(z)
        dt = time.perf_counter() - t0
        acc = cluster_accuracy(test.y, gm.predict(zt))
        train_acc = cluster_accuracy(train.y[: args.n_train], gm.predict(z))
        accs.append(acc)
        print(f"seed {seed}: test accuracy {acc:.4f} (train {train_acc:.4f}), {gm.n_iter_} iterations, "
              f"converged={gm.converged_}, train log-likelihood {gm.lower_bound_:.3f} nats/example "
              f"(PCA units), test {gm.score(zt):.3f}, {dt:.1f} s")
    print(f"median test accuracy over {len(accs)} seeds: {statistics.median(accs):.4f}")


if __name__ == "__main__":
    main()
