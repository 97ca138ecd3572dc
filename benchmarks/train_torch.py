"""Train the PyTorch twin of minivae's classic VAE the way ``minivae train`` does by default.

    python benchmarks/train_torch.py [--epochs 10] [--json]

Same data (grey-level MNIST read by minivae.datasets, pixels in [0, 1]), same model
(benchmarks/torch_vae.py), batch 128 reshuffled every epoch, Adam with learning rate 1e-3,
10 epochs, and after every epoch the single-sample negative ELBO on the 10,000 test images.
Prints one line per epoch, and with --json a final JSON object with the seconds of each
epoch's training pass (evaluation excluded, as in minivae's metrics.csv), the final test
negative ELBO and the peak resident memory of the process.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: nothing to train", file=sys.stderr)
        return 3
    from minivae import datasets
    from torch_vae import TorchVAE

    torch.manual_seed(args.seed)
    x_train = torch.from_numpy(datasets.load("mnist", "train", root=args.data_dir).x)
    x_test = torch.from_numpy(datasets.load("mnist", "test", root=args.data_dir).x)
    model = TorchVAE()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n = len(x_train)
    seconds, tests = [], []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, args.batch_size):
            xb = x_train[perm[i:i + args.batch_size]]
            loss, recon, kl = model.loss(xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        seconds.append(time.perf_counter() - t0)
        with torch.no_grad():
            test = sum(model.loss(x_test[i:i + 1000])[0].item() * len(x_test[i:i + 1000])
                       for i in range(0, len(x_test), 1000)) / len(x_test)
        tests.append(test)
        print(f"epoch {epoch + 1}/{args.epochs}: train -ELBO {total / n:.2f} | test -ELBO {test:.2f} "
              f"| {seconds[-1]:.1f} s", flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps({"seconds": seconds, "test_nelbo": tests[-1], "peak_rss_mib": peak_mib}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
