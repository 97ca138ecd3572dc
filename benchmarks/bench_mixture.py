"""Time GaussianMixture.fit on 10,000 x 50 synthetic data with 10 full-covariance components.

    python benchmarks/bench_mixture.py                   # the defaults above, 3 repeats
    python benchmarks/bench_mixture.py --threads 1 --covariance-type diag

The data come from a known mixture (10 components, random full covariances, means a few
standard deviations apart), so the script also prints how well the fit finds the components
(clustering accuracy against the true components). It prints the CPU model, the BLAS thread
count it asked for, and for every repeat the seconds, iterations and seconds per iteration,
then the median seconds.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time


def cpu_model():
    """The CPU's model name as Linux reports it (else what the platform module knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def pin_blas_threads(threads):
    """Ask every BLAS NumPy may load for ``threads`` threads (None: leave the environment as
    it is). Call it before NumPy is first imported: the libraries read these variables once."""
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)


def make_data(n, d, k, seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 2.0, (k, d))
    factors = rng.normal(size=(k, d, d)) / np.sqrt(d)       # covariances A A^T, eigenvalues ~ 1
    labels = rng.integers(k, size=n)
    eps = rng.standard_normal((n, d))
    x = np.empty((n, d))
    for c in range(k):
        idx = labels == c
        x[idx] = means[c] + eps[idx] @ factors[c].T
    return x, labels


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--d", type=int, default=50)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--covariance-type", default="full", choices=["full", "diag", "spherical"])
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads (sets OMP/OPENBLAS/MKL_NUM_THREADS; default: as the environment says)")
    args = p.parse_args(argv)
    pin_blas_threads(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import numpy as np
    from minivae.mixture import GaussianMixture, cluster_accuracy

    print(f"cpu: {cpu_model()} ({os.cpu_count()} logical cores), numpy {np.__version__}, "
          f"BLAS threads: {args.threads if args.threads is not None else 'default'}")
    x, labels = make_data(args.n, args.d, args.k, seed=0)
    print(f"data: {args.n} x {args.d}, {args.k} components, covariance_type={args.covariance_type!r}")
    times = []
    for r in range(args.repeats):
        gm = GaussianMixture(args.k, covariance_type=args.covariance_type, max_iter=args.max_iter, seed=r)
        t0 = time.perf_counter()
        gm.fit(x)
        dt = time.perf_counter() - t0
        times.append(dt)
        acc = cluster_accuracy(labels, gm.predict(x))
        print(f"seed {r}: {dt:.3f} s, {gm.n_iter_} iterations ({dt / gm.n_iter_ * 1e3:.1f} ms each), "
              f"converged={gm.converged_}, log-likelihood {gm.lower_bound_:.4f} nats/example, "
              f"accuracy {acc:.4f}")
    print(f"median fit time: {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()
