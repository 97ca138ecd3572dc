"""Sprites at a glance, and the two disentanglement metrics on encoders whose answer is known.

    python benchmarks/sprites_preview.py                       # writes sprites_preview.png
    python benchmarks/sprites_preview.py --out preview48.png --resolution 48

The picture: one row per factor. Each row starts from the same sprite (a heart, scale index 2,
orientation index 2, position in the middle) and steps that one factor through its grid values;
the last row shows sprites drawn at random from the grid, titled with their factor indices.

The metrics, on the whole default grid (6,144 images), with their settings:

* the true-factor encoder: an image's code is its five factor indices (looked up from the image
  itself, since every image is distinct), what a perfectly disentangled encoder would give;
* the true factor values in their own units: the same information, but the scale factor varies
  by less than the collapse threshold, so FactorVAE discards that dimension (a reminder that
  the threshold is in the units of a VAE's prior);
* a random encoder: codes drawn from N(0, I) independently of the image;
* a random linear map of the pixels (an untrained encoder): codes that depend on the image but
  mix everything.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time

import numpy as np
from matplotlib.figure import Figure

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from minivae import disentanglement  # noqa: E402
from minivae.datasets import sprites  # noqa: E402
from minivae.runtime.files import atomic_write  # noqa: E402

FORMATS = {"shape": "{:.0f} ({})", "scale": "{:.3g}", "orientation": "{:.1f} deg",
           "x": "{:g} px", "y": "{:g} px"}


def describe(name, value):
    if name == "shape":
        return f"{sprites.SHAPES[int(value)]}"
    if name == "orientation":
        return FORMATS[name].format(np.degrees(value))
    return FORMATS[name].format(value)


def preview(data, rng, n_random=8):
    res = data.resolution
    sizes = data.sizes
    width = max(max(sizes), n_random)
    base = [min(2, s - 1) for s in sizes]
    base[3], base[4] = sizes[3] // 2, sizes[4] // 2
    fig = Figure(figsize=(1.3 * width, 1.45 * (len(sizes) + 1)), layout="constrained")
    axes = fig.subplots(len(sizes) + 1, width, squeeze=False)
    for f, name in enumerate(data.names):
        for j in range(width):
            ax = axes[f, j]
            ax.set_xticks([]), ax.set_yticks([])
            if j >= sizes[f]:
                ax.set_axis_off()
                continue
            idx = list(base)
            idx[f] = j
            row = int(np.ravel_multi_index(idx, sizes))
            ax.imshow(data.x[row].reshape(res, res), cmap="gray", vmin=0, vmax=1)
            ax.set_title(describe(name, data.values[row, f]), fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{name}\n({sizes[f]} values)", fontsize=9)
    rows = rng.choice(len(data), size=min(n_random, width), replace=False)
    for j in range(width):
        ax = axes[-1, j]
        ax.set_xticks([]), ax.set_yticks([])
        if j >= len(rows):
            ax.set_axis_off()
            continue
        ax.imshow(data.x[rows[j]].reshape(res, res), cmap="gray", vmin=0, vmax=1)
        ax.set_title("idx " + ",".join(map(str, data.indices[rows[j]])), fontsize=7)
        if j == 0:
            ax.set_ylabel("random\n(indices s,sc,o,x,y)", fontsize=9)
    fig.suptitle(f"sprites: {res} x {res} px, grid " + " x ".join(map(str, sizes))
                 + f" = {len(data)} images; each row steps one factor", fontsize=10)
    return fig


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="sprites_preview.png", help="PNG to write")
    p.add_argument("--resolution", type=int, default=sprites.DEFAULT_RESOLUTION)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64, help="FactorVAE: examples per vote")
    p.add_argument("--train-votes", type=int, default=10000, help="FactorVAE: votes that train the classifier")
    p.add_argument("--eval-votes", type=int, default=5000, help="FactorVAE: votes that score it")
    p.add_argument("--bins", type=int, default=20, help="MIG: bins per code dimension")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    data = sprites.generate(args.resolution)
    t_gen = time.perf_counter() - t0
    print(f"generated {data!r} in {t_gen:.2f} s")
    rng = np.random.default_rng(args.seed)
    fig = preview(data, rng)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write(args.out, lambda f: f.write(buf.getvalue()))
    print(f"wrote {args.out}")

    lookup = {row.tobytes(): i for i, row in enumerate(data.x)}

    def rows_of(xb):
        return np.array([lookup[r.tobytes()] for r in xb])

    code_rng = np.random.default_rng(args.seed + 1)
    projection = code_rng.standard_normal((data.x.shape[1], 10)) / np.sqrt(data.x.shape[1])
    encoders = {
        "true factors (indices)": lambda xb: data.indices[rows_of(xb)].astype(np.float64),
        "true factors (values)": lambda xb: data.values[rows_of(xb)],
        "random N(0, I), 10 dims": lambda xb: code_rng.standard_normal((len(xb), 10)),
        "random linear map of pixels, 10 dims": lambda xb: xb.astype(np.float64) @ projection,
    }
    settings = dict(batch_size=args.batch_size, n_train=args.train_votes, n_eval=args.eval_votes,
                    n_bins=args.bins, rng=args.seed)
    print(f"\nsettings: FactorVAE batch_size L={args.batch_size}, {args.train_votes} training and "
          f"{args.eval_votes} eval votes, collapse threshold 0.05, seed {args.seed}; "
          f"MIG {args.bins} equal-width bins; chance for FactorVAE = 1/5")
    print(f"{'encoder':40s} {'FactorVAE':>9s} {'(train)':>8s} {'active':>6s} {'MIG':>7s}   "
          "MIG per factor")
    for name, encode in encoders.items():
        t0 = time.perf_counter()
        out = disentanglement.score_encoder(encode, data.x, data, **settings)
        dt = time.perf_counter() - t0
        fv, m = out["factorvae"], out["mig"]
        per = " ".join(f"{k}={v:.3f}" for k, v in m["per_factor"].items())
        print(f"{name:40s} {fv['score']:9.3f} {fv['train_accuracy']:8.3f} "
              f"{fv['n_active']:3d}/{fv['code_dim']:<2d} {m['score']:7.3f}   {per}   ({dt:.2f} s)")


if __name__ == "__main__":
    main()
