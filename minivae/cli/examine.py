"""The commands that read a trained model: ``minivae sample``, ``minivae evaluate`` and
``minivae plot``."""
from __future__ import annotations

import json
import math
import time

import numpy as np

from .. import datasets, plots, semisupervised, vade
from ..disentanglement import score_encoder
from ..errors import MinivaeError
from ..evaluate import active_units, elbo, elbo_multi, importance_sampled_nll
from ..inference import amortization_gap
from ..models import VAE
from ..models import checkpoint as ckpt_mod
from ..priors import MixturePrior
from ..train import EVAL_SEED, evaluation_data


__all__ = ["cmd_sample", "cmd_evaluate", "cmd_plot"]


def cmd_sample(args):
    model = ckpt_mod.load_model(args.checkpoint)
    if not callable(getattr(model, "sample", None)):
        raise MinivaeError(f"{args.checkpoint} holds a {model.kind}, which does not generate images; "
                           f"sample from a vae, ae, categorical, m2 or m1m2 checkpoint")
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
    if getattr(model, "needs_labels", False):
        return _evaluate_labels(model, x, ds, data, pixels, args)
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


def _evaluate_labels(model, x, ds, data, pixels, args):
    """Test accuracy (and the bounds of M2 / M1+M2) of a model that learns from labels."""
    if ds.y is None:
        raise MinivaeError(f"--data: {data} has no labels, so the accuracy of a {model.kind} cannot be measured")
    if args.k or args.samples or args.active_units or args.disentanglement or args.local_vi:
        raise MinivaeError(f"--k, --samples, --active-units, --disentanglement and --local-vi need a VAE (a "
                           f"model with a Gaussian posterior q(z | x)); {args.checkpoint} holds a {model.kind}")
    y = ds.y[: args.limit] if args.limit else ds.y
    res = semisupervised.evaluate_labels(model, x, y, seed=args.seed)
    cm = semisupervised.confusion_matrix(model, x, y)
    res.update(data=data, split=args.split, n=len(x), pixels=pixels, confusion=cm.tolist())
    lines = [f"{data} {args.split} ({len(x)} examples, {pixels} pixels):",
             f"  test accuracy {100 * res['accuracy']:.2f}%   (error {100 * res['error']:.2f}%, "
             f"class argmax_y q(y | x))"]
    if "bound_labelled" in res:
        of = "of M1's codes z1 (drawn from q(z1 | x))" if model.kind == "m1m2" else "of the images"
        lines += [f"  labelled bound   -L(x, y) {res['bound_labelled']:9.2f} nats per example (true y), {of}",
                  f"  unlabelled bound -U(x)    {res['bound_unlabelled']:9.2f} nats per example "
                  f"(y summed out with q(y | x)), {of}"]
    lines.append("  confusion matrix (rows: true class, columns: predicted):")
    lines += ["    " + " ".join(f"{v:5d}" for v in row) for row in cm]
    print(json.dumps(res) if args.json else "\n".join(lines))
    return 0
