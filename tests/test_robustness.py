"""Bad input at every public entry point gets a minivae error that names the argument, what was
expected and what was given; broken checkpoint files get a CheckpointError naming the file.

Each case has an id; docs/robustness.md lists every id with what it gets, and
``test_every_case_is_in_the_docs`` keeps the two in step.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest

import minivae
from minivae import checkpoint, likelihoods
from minivae import estimators as E
from minivae import plots
from minivae.errors import (CheckpointError, DivergenceError, InputTypeError, MinivaeError,
                            OutputError, ValidationError)
from minivae.evaluate import elbo
from minivae.inpaint import inpaint, region_mask
from minivae.kl import kl_categorical_uniform, kl_diag_normal
from minivae.logspace import logmeanexp, logsumexp
from minivae.models import CategoricalVAE
from minivae.optim import make_optimizer
from minivae.params import Params
from minivae.train import Trainer, fit
from minivae import datasets, vade
from minivae.datasets import sprites
from minivae.mixture import GaussianMixture

D, Z = 16, 2
X = (np.random.default_rng(0).random((8, D)) < 0.5).astype(np.float32)


def _vae(**kw):
    return minivae.VAE(D, Z, (8,), seed=0, **kw)


def _cat(**kw):
    return CategoricalVAE(D, 2, 3, (8,), **kw)


def _with(value, i=1, j=2):
    x = X.copy()
    x[i, j] = value
    return x


# id -> (call, error type, regular expression the message must match)
CASES = {
    # --- constructors -----------------------------------------------------------------------
    "vae-latent-dim-zero": (lambda: minivae.VAE(D, 0), ValidationError, r"latent_dim: expected a positive integer, got 0"),
    "vae-input-dim-negative": (lambda: minivae.VAE(-5), ValidationError, r"input_dim: expected a positive integer, got -5"),
    "vae-hidden-width-zero": (lambda: minivae.VAE(D, Z, (8, 0)), ValidationError, r"hidden.*positive integer, got 0"),
    "vae-hidden-not-numbers": (lambda: minivae.VAE(D, Z, "wide"), InputTypeError, r"hidden.*got 'w'"),
    "vae-unknown-activation": (lambda: minivae.VAE(D, Z, activation="gelu"), ValidationError, r"activation: expected one of \[.*'relu'.*got 'gelu'"),
    "vae-unknown-likelihood": (lambda: minivae.VAE(D, Z, likelihood="poisson"), ValidationError, r"likelihood: expected one of .*got 'poisson'"),
    "vae-unknown-posterior": (lambda: minivae.VAE(D, Z, posterior="full"), ValidationError, r"posterior: expected one of .*got 'full'"),
    "vae-negative-beta": (lambda: minivae.VAE(D, Z, beta=-1), ValidationError, r"beta: expected a non-negative number, got -1"),
    "vae-logvar-clamp-zero": (lambda: minivae.VAE(D, Z, logvar_clamp=0), ValidationError, r"logvar_clamp: expected a positive number, got 0"),
    "vae-logvar-clamp-without-diagonal-posterior": (lambda: minivae.VAE(D, Z, posterior="isotropic", logvar_clamp=10), ValidationError, r"logvar_clamp: applies to posterior='diagonal'.*got posterior='isotropic'"),
    "vae-integer-dtype": (lambda: minivae.VAE(D, Z, dtype="int32"), ValidationError, r"dtype: expected 'float32' or 'float64', got 'int32'"),
    "vae-float-seed": (lambda: minivae.VAE(D, Z, seed=1.5), InputTypeError, r"seed: expected an integer >= 0, got 1.5"),
    "vae-shared-sigma-needs-learned-sigma": (lambda: minivae.VAE(D, Z, posterior="shared"), ValidationError, r"posterior='shared'.*gaussian-learned.*got 'bernoulli'"),
    "ae-float-latent-dim": (lambda: minivae.AE(D, 2.5), InputTypeError, r"latent_dim: expected a positive integer, got 2.5"),
    "ae-unknown-model-kind": (lambda: minivae.build_model({"kind": "gan"}), ValidationError, r"model: expected one of \['ae', 'categorical', 'classifier', 'm1m2', 'm2', 'vae'\], got 'gan'"),
    "build-model-config-not-a-dict": (lambda: minivae.build_model("vae"), ValidationError, r"config: expected a dict as returned by model.get_config\(\), got str"),
    "gaussian-sigma-zero": (lambda: likelihoods.Gaussian(0), ValidationError, r"sigma: expected a positive number, got 0"),
    "gaussian-sigma-text": (lambda: likelihoods.Gaussian("wide"), InputTypeError, r"sigma: expected a number, got 'wide'"),
    "laplace-scale-nan": (lambda: likelihoods.Laplace(float("nan")), ValidationError, r"scale: expected a finite number, got nan"),
    "vae-unknown-prior": (lambda: minivae.VAE(D, Z, prior="flow"), ValidationError, r"prior: expected one of \['mog', 'normal', 'vamp'\], got 'flow'"),
    "prior-components-zero": (lambda: minivae.VAE(D, Z, prior={"name": "mog", "components": 0}), ValidationError, r"components: expected a positive integer, got 0"),
    "prior-unknown-option": (lambda: minivae.VAE(D, Z, prior={"name": "vamp", "temperature": 2}), ValidationError, r"prior 'vamp': unknown option\(s\) \['temperature'\]; it takes \['components', 'pseudo_init'\]"),
    "mixture-prior-unknown-kl": (lambda: minivae.VAE(D, Z, prior={"name": "mog", "kl": "exact"}), ValidationError, r"kl: expected one of \['sampled', 'vade'\], got 'exact'"),
    "vamp-pseudo-inputs-from-too-few-images": (lambda: (lambda m: m.prior.init_from_data(m.params, X, 0))(_vae(prior={"name": "vamp", "components": 9})), ValidationError, r"starts its 9 pseudo-inputs from as many training images, got 8"),
    "vamp-pseudo-inputs-of-another-width": (lambda: (lambda m: m.prior.init_from_data(m.params, X[:, :4], 0))(_vae(prior={"name": "vamp", "components": 2})), ValidationError, r"x: expected training images of shape \(N, 16\), got \(8, 4\)"),
    "vade-without-a-mixture-prior": (lambda: vade.clustering_accuracy(_vae(), X, np.zeros(8, int)), ValidationError, r"model: expected a VAE with a mixture prior \(prior='mog'\), got VAE with prior 'normal'"),
    "gmm-more-components-than-examples": (lambda: GaussianMixture(9).fit(X), ValidationError, r"n_components: expected at most the number of examples in x \(8\), got 9"),
    "gmm-predict-before-fit": (lambda: GaussianMixture(2).predict(X), ValidationError, r"call fit first"),
    "sprites-unknown-factor": (lambda: sprites.generate(grid={"colour": 3}), ValidationError, r"colour"),
    "generated-data-set-has-nothing-to-fetch": (lambda: datasets.fetch("sprites", "train"), ValidationError, r"data set 'sprites' is drawn by minivae, not downloaded"),
    "likelihood-unknown-option": (lambda: likelihoods.make_likelihood({"name": "gaussian", "sd": 1}), ValidationError, r"likelihood 'gaussian': unknown option\(s\) \['sd'\]; it takes \['sigma'\]"),
    "params-zero-size-shape": (lambda: Params({"W": (3, 0)}), ValidationError, r"parameter 'W'.*positive, got shape \(3, 0\)"),
    "params-integer-dtype": (lambda: Params({"W": (3,)}, np.int64), ValidationError, r"dtype: expected a floating dtype.*got int64"),
    # --- optimizers -------------------------------------------------------------------------
    "adam-lr-zero": (lambda: minivae.Adam(_vae().params, lr=0), ValidationError, r"lr: expected a positive number, got 0"),
    "sgd-lr-negative": (lambda: minivae.SGD(_vae().params, lr=-0.1), ValidationError, r"lr: expected a positive number, got -0.1"),
    "sgd-momentum-one": (lambda: minivae.SGD(_vae().params, momentum=1.0), ValidationError, r"momentum: expected a number in \[0, 1\), got 1.0"),
    "adam-betas-not-a-pair": (lambda: minivae.Adam(_vae().params, betas=(0.9,)), ValidationError, r"betas: expected a pair"),
    "optimizer-given-a-model": (lambda: minivae.Adam(_vae()), InputTypeError, r"params: expected the model's Params.*got VAE"),
    "optimizer-unknown-name": (lambda: make_optimizer("rmsprop", _vae().params, 1e-3), ValidationError, r"optimizer: expected one of \['adam', 'sgd'\], got 'rmsprop'"),
    # --- data given to a model ----------------------------------------------------------------
    "encode-images-not-flattened": (lambda: _vae().encode(np.zeros((2, 4, 4), np.float32)), ValidationError, r"x: expected a 2-D array \(N, D\), got 3-D shape \(2, 4, 4\).*reshape"),
    "encode-wrong-feature-count": (lambda: _vae().encode(np.zeros((2, 10), np.float32)), ValidationError, r"x: expected 16 features per row.*got 10"),
    "encode-integer-pixels": (lambda: _vae().encode((X * 255).astype(np.uint8)), InputTypeError, r"x: expected floating-point pixels in \[0, 1\], got .*uint8.*/ 255"),
    "encode-nan": (lambda: _vae().encode(_with(np.nan)), ValidationError, r"x: expected finite values, found nan at row 1, column 2"),
    "encode-inf": (lambda: _vae().encode(_with(np.inf, 3, 4)), ValidationError, r"x: expected finite values, found inf at row 3, column 4"),
    "bernoulli-pixels-0-255": (lambda: _vae().encode(X * 255), ValidationError, r"x: the Bernoulli likelihood needs values in \[0, 1\], got values in \[0, 255\]"),
    "encode-empty": (lambda: _vae().encode(np.zeros((0, D), np.float32)), ValidationError, r"x: expected at least one row, got an empty array"),
    "encode-strings": (lambda: _vae().encode(np.array([["a"] * D])), InputTypeError, r"x: expected a floating-point array, got dtype <U1"),
    "encode-not-an-array": (lambda: _vae().encode({"x": 1}), InputTypeError, r"x: expected a NumPy array of shape \(N, D\), got dict"),
    "decode-wrong-latent-width": (lambda: _vae().decode(np.zeros((3, 5), np.float32)), ValidationError, r"z: expected 2 features per row.*got 5"),
    "sample-zero": (lambda: _vae().sample(0, np.random.default_rng(0)), ValidationError, r"n: expected a positive integer, got 0"),
    "sample-rng-not-a-generator": (lambda: _vae().sample(4, "seed"), InputTypeError, r"rng: expected a numpy.random.Generator or an integer seed, got str"),
    "sample-negative-seed": (lambda: _vae().sample(4, -1), ValidationError, r"rng: expected a non-negative integer seed, got -1"),
    "sample-mean-not-bool": (lambda: _vae().sample(4, 0, mean="no"), InputTypeError, r"mean: expected True or False, got 'no'"),
    "loss-eps-wrong-shape": (lambda: _vae().loss(X, eps=np.zeros((8, 3))), ValidationError, r"eps: expected noise of shape \(8, 2\), got \(8, 3\)"),
    "loss-without-noise": (lambda: _vae().loss(X), ValidationError, r"eps or rng: .*got neither"),
    "evaluate-wrong-feature-count": (lambda: elbo(_vae(), np.zeros((4, 9), np.float32)), ValidationError, r"x: expected 16 features"),
    "evaluate-not-a-model": (lambda: elbo(None, X), InputTypeError, r"model: expected a minivae model \(VAE, AE or CategoricalVAE\), got NoneType"),
    "evaluate-negative-seed": (lambda: elbo(_vae(), X, seed=-4), ValidationError, r"seed: expected a non-negative integer seed, got -4"),
    "evaluate-batch-size-zero": (lambda: elbo(_vae(), X, batch_size=0), ValidationError, r"batch_size: expected a positive integer, got 0"),
    # --- training -----------------------------------------------------------------------------
    "fit-batch-larger-than-data": (lambda: fit(_vae(), X, batch_size=9, progress=False), ValidationError, r"batch_size: expected at most 8 \(the number of training examples\), got 9"),
    "fit-lr-zero": (lambda: fit(_vae(), X, lr=0, batch_size=4, progress=False), ValidationError, r"lr: expected a positive number, got 0"),
    "fit-lr-nan": (lambda: fit(_vae(), X, lr=float("nan"), batch_size=4, progress=False), ValidationError, r"lr: expected a finite number, got nan"),
    "fit-epochs-zero": (lambda: fit(_vae(), X, epochs=0, batch_size=4, progress=False), ValidationError, r"epochs: expected a positive integer, got 0"),
    "fit-unknown-optimizer": (lambda: fit(_vae(), X, optimizer="adagrad", batch_size=4, progress=False), ValidationError, r"optimizer: expected one of \['adam', 'sgd'\], got 'adagrad'"),
    "fit-unknown-binarize": (lambda: fit(_vae(), X, binarize="otsu", batch_size=4, progress=False), ValidationError, r"binarize: expected one of \[None, 'dynamic', 'threshold'\], got 'otsu'"),
    "fit-test-set-wrong-width": (lambda: fit(_vae(), X, X[:, :8], batch_size=4, progress=False), ValidationError, r"x_test: expected 16 features"),
    "fit-integer-training-data": (lambda: fit(_vae(), X.astype(np.int64), batch_size=4, progress=False), InputTypeError, r"x_train: expected floating-point pixels"),
    "fit-not-a-model": (lambda: fit("vae", X, progress=False), InputTypeError, r"model: expected a minivae model \(VAE, AE or CategoricalVAE\), got str"),
    "trainer-negative-seed": (lambda: Trainer(_vae(), X, batch_size=4, seed=-2), ValidationError, r"seed: expected an integer >= 0, got -2"),
    "trainer-callback-not-callable": (lambda: Trainer(_vae(), X, batch_size=4, progress=False).run(1, on_epoch_end=3), InputTypeError, r"on_epoch_end: expected a function"),
    "trainer-dequantize-bernoulli": (lambda: Trainer(_vae(), X, batch_size=4, dequantize=True), ValidationError, r"dequantize: expected a model with a continuous likelihood .* got the 'bernoulli' likelihood"),
    "trainer-dequantize-and-binarize": (lambda: Trainer(_vae(likelihood="gaussian"), X, batch_size=4, dequantize=True, binarize="dynamic"), ValidationError, r"dequantize: excludes binarize='dynamic'"),
    "dequantize-off-the-8-bit-grid": (lambda: minivae.datasets.dequantize(np.full((2, 3), 0.3, np.float32), np.random.default_rng(0)), ValidationError, r"x: dequantization expects 8-bit grey levels k / 255 .*found a value 0.3 between two levels"),
    "plots-reconstruction-ncol-not-dividing": (lambda: plots.reconstruction_figure(_vae(), X[:6], ncol=4), ValidationError, r"x: expected a number of images that is a multiple of ncol=4, got 6"),
    "trainer-threads-zero": (lambda: Trainer(_vae(), X, batch_size=4, threads=0), ValidationError, r"threads: expected a positive integer, got 0"),
    "data-parallel-categorical-model": (lambda: minivae.parallel.DataParallel(_cat(), 2), InputTypeError, r"model: a data-parallel step needs a VAE or AE, got CategoricalVAE"),
    "data-parallel-one-thread": (lambda: minivae.parallel.DataParallel(_vae(), 1), ValidationError, r"threads: a data-parallel step needs at least 2 threads, got 1"),
    # --- checkpoints (arguments) --------------------------------------------------------------
    "checkpoint-save-not-a-model": (lambda: checkpoint.save("c.npz", None), InputTypeError, r"model: expected a minivae model"),
    "checkpoint-save-optimizer-not-an-optimizer": (lambda: checkpoint.save("c.npz", _vae(), optimizer="adam"), InputTypeError, r"optimizer: expected a minivae optimizer \(Adam or SGD\), got str"),
    "checkpoint-load-path-not-a-path": (lambda: checkpoint.load(3), InputTypeError, r"path: expected a file path"),
    # --- categorical VAE ----------------------------------------------------------------------
    "categorical-unknown-dtype": (lambda: _cat(dtype="foo"), ValidationError, r"dtype: expected 'float32' or 'float64', got 'foo'"),
    "categorical-text-seed": (lambda: _cat(seed="a"), InputTypeError, r"seed: expected an integer >= 0, got 'a' \(str\)"),
    "categorical-negative-seed": (lambda: _cat(seed=-1), ValidationError, r"seed: expected an integer >= 0, got -1"),
    "categorical-baseline-decay-text": (lambda: _cat(baseline_decay="a"), InputTypeError, r"baseline_decay: expected a number, got 'a' \(str\)"),
    "categorical-activation-list": (lambda: _cat(activation=["relu"]), ValidationError, r"activation: expected one of \[.*'relu'.*\], got \['relu'\]"),
    "categorical-sample-mean-not-bool": (lambda: _cat().sample(2, 0, mean="no"), InputTypeError, r"mean: expected True or False, got 'no'"),
    # --- estimators (called by students directly) ---------------------------------------------
    "gumbel-softmax-noise-wrong-shape": (lambda: E.gumbel_softmax(np.zeros((2, 3)), np.zeros((2, 4)), 1.0), ValidationError, r"g: expected Gumbel noise with one value per category \(last axis 3\), broadcastable to logits' shape \(2, 3\), got shape \(2, 4\)"),
    "gumbel-max-noise-wrong-shape": (lambda: E.gumbel_max(np.zeros((2, 3)), np.zeros((5, 3))), ValidationError, r"g: expected Gumbel noise .*got shape \(5, 3\)"),
    "reparameterize-shape-mismatch": (lambda: E.reparameterize(np.zeros((4, 2)), np.zeros((4, 3)), np.zeros((4, 2))), ValidationError, r"mu, log_var and eps: expected mu and log_var broadcastable to eps's shape \(4, 2\), got mu \(4, 2\) and log_var \(4, 3\)"),
    "one-hot-index-out-of-range": (lambda: E.one_hot([0, 3], 3), ValidationError, r"index: expected class indices in \[0, 3\), got values in \[0, 3\]"),
    "one-hot-float-index": (lambda: E.one_hot([0.0, 1.5], 3), InputTypeError, r"index: expected integer class indices, got dtype float64"),
    "one-hot-k-zero": (lambda: E.one_hot([0], 0), ValidationError, r"K: expected a positive integer, got 0"),
    "categorical-score-logits-list-of-one": (lambda: E.categorical_score([1.0], [0]), ValidationError, r"logits: expected an array whose last axis holds K >= 2 categories, got shape \(1,\)"),
    "categorical-score-logits-text": (lambda: E.categorical_score(["a", "b"], [0]), InputTypeError, r"logits: expected an array of numbers, got \[.a., .b.\]"),
    "reinforce-categorical-sample-out-of-range": (lambda: E.reinforce_categorical(np.ones(2), np.array([0, 5]), np.zeros(3)), ValidationError, r"z: expected class indices in \[0, 3\), got values in \[0, 5\]"),
    "sample-gumbel-rng-negative": (lambda: E.sample_gumbel((2, 3), -1), ValidationError, r"rng: expected a non-negative integer seed, got -1"),
    "sample-gumbel-rng-text": (lambda: E.sample_gumbel((2, 3), "a"), InputTypeError, r"rng: expected a numpy.random.Generator or an integer seed, got str"),
    "sample-gumbel-bad-shape": (lambda: E.sample_gumbel((2, -3), 0), ValidationError, r"shape: expected a non-negative integer or a tuple of them, got \(2, -3\)"),
    "softmax-text": (lambda: E.softmax("a"), InputTypeError, r"logits: expected an array of numbers, got dtype <U1"),
    "softmax-bad-axis": (lambda: E.softmax(np.zeros((2, 3)), axis=2), ValidationError, r"axis: expected an axis of logits, which has 2 dimension\(s\) \(shape \(2, 3\)\), got 2"),
    "gumbel-softmax-backward-tau-zero": (lambda: E.gumbel_softmax_backward(np.ones((2, 3)), np.full((2, 3), 1 / 3), 0), ValidationError, r"tau: expected a positive finite temperature, got 0.0"),
    "gumbel-softmax-backward-shape-mismatch": (lambda: E.gumbel_softmax_backward(np.ones((2, 4)), np.full((2, 3), 1 / 3), 1.0), ValidationError, r"dy: expected the shape of y \(2, 3\).*got \(2, 4\)"),
    # --- log-space sums and KL divergences ---------------------------------------------------------
    "logsumexp-empty-axis": (lambda: logsumexp(np.zeros((3, 0))), ValidationError, r"a: expected at least one entry along axis -1, got shape \(3, 0\)"),
    "logsumexp-bad-axis": (lambda: logsumexp(np.zeros((3, 2)), axis=2), ValidationError, r"axis: expected an axis of a, which has 2 dimension\(s\) \(shape \(3, 2\)\), got 2"),
    "logsumexp-axis-not-an-integer": (lambda: logsumexp(np.zeros((3, 2)), axis=1.0), InputTypeError, r"axis: expected an integer, got 1.0 \(float\)"),
    "logsumexp-strings": (lambda: logsumexp(np.array(["a", "b"])), InputTypeError, r"a: expected an array of numbers, got dtype <U1"),
    "logmeanexp-empty-axis": (lambda: logmeanexp(np.zeros((0, 4)), axis=0), ValidationError, r"a: expected at least one entry along axis 0, got shape \(0, 4\)"),
    "kl-diag-normal-1d": (lambda: kl_diag_normal(np.zeros(3), np.zeros(3)), ValidationError, r"mu: expected a 2-D array, got 1-D shape \(3,\)"),
    "kl-diag-normal-shape-mismatch": (lambda: kl_diag_normal(np.zeros((2, 3)), np.zeros((2, 4))), ValidationError, r"log_var: expected the shape of mu \(2, 3\), got \(2, 4\)"),
    "kl-categorical-uniform-1d-list": (lambda: kl_categorical_uniform([0.1, 0.2]), ValidationError, r"logits: expected an array of at least 2 dimensions.*got 1-D shape \(2,\)"),
    "kl-categorical-uniform-strings": (lambda: kl_categorical_uniform([["a", "b"]]), InputTypeError, r"logits: expected an array of numbers, got dtype <U1"),
    # --- plots ------------------------------------------------------------------------------------
    "samples-figure-negative-seed": (lambda: plots.samples_figure(_vae(), n=4, rng=-1), ValidationError, r"rng: expected a non-negative integer seed, got -1"),
    "samples-figure-rng-text": (lambda: plots.samples_figure(_vae(), n=4, rng="a"), InputTypeError, r"rng: expected a numpy.random.Generator or an integer seed, got str"),
    "tile-nrow-zero": (lambda: plots.tile(np.zeros((4, 16)), nrow=0, shape=(4, 4)), ValidationError, r"nrow: expected a positive integer, got 0"),
    "tile-shape-not-a-pair": (lambda: plots.tile(np.zeros((4, 16)), shape=(16,)), ValidationError, r"shape: expected \(H, W\), a pair of positive integers, got \(16,\)"),
    "inpainting-figure-mask-wrong-shape": (lambda: plots.inpainting_figure(X[:2], np.ones(5, bool), np.zeros((2, 3, D))), ValidationError, r"observed: expected a mask of shape \(16,\) or \(2, 16\) to match x, got \(5,\)"),
    "interpolate-images-of-different-sizes": (lambda: plots.interpolate(_vae(), X[0], X[1, :10]), ValidationError, r"x_b: expected one image of 16 pixels, shape \(16,\) or \(1, 16\), got shape \(10,\)"),
    "interpolate-not-a-model": (lambda: plots.interpolate("m", X[0], X[1]), InputTypeError, r"model: expected a minivae model \(VAE, AE or CategoricalVAE\), got str"),
    "edit-not-a-model": (lambda: plots.edit("m", X[:1], np.zeros(Z), [1.0]), InputTypeError, r"model: expected a minivae model \(VAE, AE or CategoricalVAE\), got str"),
    "class-direction-not-a-model": (lambda: plots.class_direction(None, X, np.zeros(8), 0, 1), InputTypeError, r"model: expected a minivae model \(VAE, AE or CategoricalVAE\), got NoneType"),
    "edit-direction-text": (lambda: plots.edit(_vae(), X[:1], "ab", [1.0]), InputTypeError, r"direction: expected an array of numbers, got dtype <U2"),
    "latent-grid-limits-not-a-pair": (lambda: plots.latent_grid(3, limits=(1,)), ValidationError, r"limits: expected a pair \(lo, hi\), got \(1,\)"),
    "latent-grid-limits-text": (lambda: plots.latent_grid(3, limits=("a", 1)), InputTypeError, r"limits: expected a number, got 'a' \(str\)"),
    "region-mask-fraction-text": (lambda: region_mask(fraction="a"), InputTypeError, r"fraction: expected a number, got 'a' \(str\)"),
    "region-mask-shape-not-a-pair": (lambda: region_mask(shape=(28,)), ValidationError, r"shape: expected \(H, W\), a pair of positive integers, got \(28,\)"),
    # --- inpainting -----------------------------------------------------------------------------
    "inpaint-fill-nan": (lambda: inpaint(_vae(), X[:2], np.ones(D, bool), rng=0, fill=float("nan")), ValidationError, r"fill: expected a finite number, got nan"),
    "inpaint-fill-outside-unit-interval": (lambda: inpaint(_vae(), X[:2], np.ones(D, bool), rng=0, fill=2.0), ValidationError, r"fill: expected a value in \[0, 1\] for the bernoulli likelihood.*got 2.0"),
    "inpaint-fill-text": (lambda: inpaint(_vae(), X[:2], np.ones(D, bool), rng=0, fill="grey"), InputTypeError, r"fill: expected a number, got 'grey' \(str\)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_a_clear_error(case):
    call, error, pattern = CASES[case]
    with pytest.raises(error) as err:
        call()
    assert isinstance(err.value, MinivaeError)
    assert re.search(pattern, str(err.value)), f"{case}: message was {err.value}"


def test_errors_subclass_the_builtin_ones():
    with pytest.raises(ValueError):
        minivae.VAE(D, 0)
    with pytest.raises(TypeError):
        minivae.VAE(D, Z).encode((X * 255).astype(np.uint8))


# ------------------------------------------------------------------------------------------------
# Broken checkpoint files
# ------------------------------------------------------------------------------------------------
def _saved(tmp_path, **arrays_override):
    """A good checkpoint, optionally rewritten with some of its arrays replaced or dropped."""
    model = _vae()
    path = checkpoint.save(tmp_path / "good.npz", model, minivae.Adam(model.params), {"epoch": 0})
    if not arrays_override:
        return path
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in arrays_override.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    return bad


def _corrupt_middle(tmp_path):
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = bytes(64)     # zeros over part of the parameter array
    path.write_bytes(bytes(data))
    return path


CHECKPOINT_FILES = {
    "checkpoint-corrupted-bytes": (_corrupt_middle, r"good.npz: truncated or corrupt \(BadZipFile: Bad CRC-32"),
    "checkpoint-empty-file": (lambda p: _write(p / "e.npz", b""), r"e.npz: not a minivae checkpoint \(.npz archive\), got an empty file"),
    "checkpoint-text-file": (lambda p: _write(p / "t.npz", b"epoch,loss\n1,2\n"), r"t.npz: not a minivae checkpoint .*got a file starting with b'epoc'"),
    "checkpoint-truncated": (lambda p: _write(p / "h.npz", _saved(p).read_bytes()[:2000]), r"h.npz: truncated or corrupt \(BadZipFile"),
    "checkpoint-is-a-folder": (lambda p: p, r"is a folder, expected a .npz file"),
    "checkpoint-other-npz": (lambda p: _npz(p / "o.npz", w=np.zeros(3)), r"o.npz: not a minivae checkpoint"),
    "checkpoint-newer-format-version": (lambda p: _saved(p, format_version=np.array(2)), r"bad.npz: format version 2, this minivae reads version 1 \(written by a newer minivae"),
    "checkpoint-missing-params": (lambda p: _saved(p, params=None), r"bad.npz: incomplete, missing \['params'\]"),
    "checkpoint-config-not-json": (lambda p: _saved(p, config=np.array("{vae")), r"bad.npz: truncated or corrupt \(JSONDecodeError"),
}


def _write(path, data):
    path.write_bytes(data)
    return path


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case", sorted(CHECKPOINT_FILES))
def test_broken_checkpoint_file(case, tmp_path):
    make, pattern = CHECKPOINT_FILES[case]
    path = make(tmp_path)
    with pytest.raises(CheckpointError) as err:
        checkpoint.load(path)
    assert str(path) in str(err.value)
    assert re.search(pattern, str(err.value)), str(err.value)


CHECKPOINT_MODELS = {
    # a checkpoint that reads fine but whose content cannot become this model
    "checkpoint-params-nan": (lambda p: _saved(p, params=np.full(_vae().params.size, np.nan, np.float32)), r"parameters contain NaN"),
    "checkpoint-params-count-mismatch": (lambda p: _saved(p, params=np.zeros(5, np.float32)), r"bad.npz: 5 parameters, the model has \d+"),
    "checkpoint-unknown-model-kind": (lambda p: _saved(p, config=np.array(json.dumps({"kind": "gan"}))), r"bad.npz: its model configuration is not valid \(model: expected one of"),
    "checkpoint-bad-model-config": (lambda p: _saved(p, config=np.array(json.dumps({"kind": "vae", "latent_dim": -3}))), r"latent_dim: expected a positive integer, got -3"),
}


@pytest.mark.parametrize("case", sorted(CHECKPOINT_MODELS))
def test_checkpoint_that_cannot_become_a_model(case, tmp_path):
    make, pattern = CHECKPOINT_MODELS[case]
    with pytest.raises(CheckpointError) as err:
        checkpoint.load_model(make(tmp_path))
    assert re.search(pattern, str(err.value)), str(err.value)


def test_checkpoint_of_another_architecture_names_the_differences(tmp_path):
    path = checkpoint.save(tmp_path / "c.npz", minivae.VAE(D, 3, (8,), activation="tanh"))
    with pytest.raises(CheckpointError) as err:
        checkpoint.load_into(minivae.VAE(D, 2, (8,)), path)
    msg = str(err.value)
    assert "activation: checkpoint has 'tanh', model has 'relu'" in msg
    assert "latent_dim: checkpoint has 3, model has 2" in msg


def test_save_refuses_what_it_cannot_write(tmp_path):
    model = _vae()
    with pytest.raises(InputTypeError, match=r"state: expected JSON-serializable values"):
        checkpoint.save(tmp_path / "c.npz", model, state={"x": np.zeros(2)})
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(OutputError, match=r"folder.npz: is a folder"):
        checkpoint.save(tmp_path / "folder.npz", model)
    (tmp_path / "afile").write_text("")
    with pytest.raises(OutputError, match=r"cannot write .*afile/c.npz: .*afile is a file, not a folder"):
        checkpoint.save(tmp_path / "afile" / "c.npz", model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "folder.npz"]   # nothing half-written


def test_failed_write_keeps_the_previous_checkpoint(tmp_path):
    model = _vae()
    path = checkpoint.save(tmp_path / "c.npz", model)
    before = path.read_bytes()

    def crash(f):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="No space left on device"):
        checkpoint.atomic_write(path, crash)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_temporaries_of_killed_writers_are_removed(tmp_path):
    model = _vae()
    dead = tmp_path / ".c.npz.tmp-999999999"     # no process has this id
    dead.write_bytes(b"half")
    checkpoint.save(tmp_path / "c.npz", model)
    assert not dead.exists()
    checkpoint.load(tmp_path / "c.npz")


# ------------------------------------------------------------------------------------------------
# Resuming a trainer from a state that does not fit it
# ------------------------------------------------------------------------------------------------
RESUME_CASES = {
    "resume-other-batch-size": (dict(batch_size=2), ValidationError, r"batch_size: saved 4, this trainer has 2"),
    "resume-other-training-data": (dict(x_train=X[::-1].copy()), ValidationError, r"data_fingerprint: saved"),
    "resume-other-optimizer-state": (dict(optimizer="sgd"), ValidationError, r"optimizer: saved 'adam', this trainer has 'sgd'"),
}


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_resume_refuses_a_state_of_another_run(case, tmp_path):
    options, error, pattern = RESUME_CASES[case]
    tr = Trainer(_vae(), X, batch_size=4, progress=False, verbose=False)
    tr.run(1)
    path = tr.save_checkpoint(tmp_path / "c.npz")
    ck = checkpoint.load(path)
    x = options.pop("x_train", X)
    other = Trainer(ck.build_model(), x, progress=False, verbose=False, **{"batch_size": 4, **options})
    with pytest.raises(error) as err:
        other.restore(ck.state, ck.optimizer)
    assert re.search(pattern, str(err.value)), str(err.value)


def test_resume_without_trainer_state(tmp_path):
    path = checkpoint.save(tmp_path / "c.npz", _vae())
    with pytest.raises(CheckpointError, match=r"c.npz: no trainer state .* cannot be resumed"):
        Trainer.from_checkpoint(path, X)


def test_resume_refuses_a_model_state_of_another_model(tmp_path):
    """A trainer state whose model part does not fit the model (a VAE keeps none; a bad REINFORCE
    baseline) is refused, naming what was wrong."""
    tr = Trainer(_vae(), X, batch_size=4, progress=False, verbose=False)
    st = tr.state()
    st["model_state"] = {"baseline": 1.5}
    with pytest.raises(CheckpointError, match=r"trainer state: training state: VAE keeps none, got keys \['baseline'\]"):
        Trainer(_vae(), X, batch_size=4, progress=False, verbose=False).restore(st, tr.optimizer.state_dict())
    cat = minivae.models.CategoricalVAE(input_dim=X.shape[1], n_latent=2, n_classes=3, hidden=(4,), estimator="reinforce")
    tr = Trainer(cat, X, batch_size=4, progress=False, verbose=False)
    st = tr.state()
    st["model_state"] = {"baseline": float("nan")}
    with pytest.raises(CheckpointError, match=r"trainer state: training state baseline: expected a finite number"):
        Trainer(cat, X, batch_size=4, progress=False, verbose=False).restore(st, tr.optimizer.state_dict())


def test_adam_refuses_the_state_of_sgd():
    model = _vae()
    sgd = minivae.SGD(model.params)
    with pytest.raises(CheckpointError, match=r"expected the state of 'adam', got 'sgd'"):
        minivae.Adam(model.params).load_state_dict(sgd.state_dict())


# ------------------------------------------------------------------------------------------------
# Divergence at library level
# ------------------------------------------------------------------------------------------------
def test_nan_gradient_is_never_applied(monkeypatch):
    model = _vae()
    tr = Trainer(model, X, batch_size=4, progress=False, verbose=False, threads=1)
    calls = {"n": 0}
    real = model.loss_and_grad

    def poisoned(x, eps):
        stats = real(x, eps)
        calls["n"] += 1
        if calls["n"] == 3:
            model.params.grad[5] = np.nan
            snapshot.append(model.params.data.copy())
        return stats

    snapshot = []
    monkeypatch.setattr(model, "loss_and_grad", poisoned)
    with pytest.raises(DivergenceError) as err:
        tr.run(3)
    msg = str(err.value)
    assert "step 3 (epoch 2)" in msg and "gradient" in msg and "lr=0.001" in msg
    assert err.value.step == 3 and err.value.epoch == 2
    np.testing.assert_array_equal(model.params.data, snapshot[0])   # the step was refused
    assert tr.epoch == 1 and len(tr.history) == 1


@pytest.mark.skipif(not minivae.blas.available(), reason="the BLAS thread count cannot be set here")
def test_nan_gradient_of_one_data_parallel_part_is_never_applied():
    """In a two-thread step a NaN in the other thread's half of the gradient stops the step too."""
    model = _vae()
    tr = Trainer(model, X, batch_size=4, progress=False, verbose=False, threads=2)
    tr._stepper.min_rows = 1                     # split even a batch of 4
    helper = tr._stepper.workers[1]
    real = helper.loss_and_grad
    before = []

    def poisoned(x, eps, batch_size=None):
        stats = real(x, eps, batch_size)
        helper.params.grad[7] = np.nan
        before.append(model.params.data.copy())
        return stats

    helper.loss_and_grad = poisoned
    with pytest.raises(DivergenceError, match=r"step 1 \(epoch 1\).*gradient"):
        tr.run(1)
    np.testing.assert_array_equal(model.params.data, before[0])


@pytest.mark.parametrize("bad", [None, np.nan, -np.inf])
def test_checking_data_makes_no_temporary_the_size_of_the_data(bad):
    """Validating a training set must not double its memory: no mask of x's size (a bool mask
    is a quarter of a float32 x), whether x is good or holds a value the check refuses."""
    import tracemalloc
    from minivae.runtime.validation import check_data
    x = np.random.default_rng(0).random((2000, 784), dtype=np.float32)
    if bad is not None:
        x[1500, 7] = bad
    tracemalloc.start()
    try:
        if bad is None:
            assert check_data(x, unit_interval=True, dtype=np.float32) is x
        else:
            with pytest.raises(ValidationError, match=r"expected finite values, found (nan|-inf) at row 1500, column 7"):
                check_data(x, unit_interval=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # only a refused array is searched for the place of its bad value (a mask is made then)
    limit = x.nbytes if bad is not None else x.nbytes // 16
    assert peak < limit, (peak, x.nbytes)


def test_real_divergence_with_a_huge_learning_rate():
    model = minivae.VAE(D, Z, (8,), likelihood="gaussian", seed=0)
    x = np.random.default_rng(1).random((64, D)).astype(np.float32)
    with pytest.raises(DivergenceError, match=r"step \d+ \(epoch \d+\).*learning rate.*lr=1e\+06"):
        Trainer(model, x, batch_size=16, lr=1e6, optimizer="sgd", progress=False, verbose=False).run(5)
    assert np.all(np.isfinite(model.params.data))


# ------------------------------------------------------------------------------------------------
def test_every_case_is_in_the_docs():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "robustness.md").read_text()
    ids = (list(CASES) + list(CHECKPOINT_FILES) + list(CHECKPOINT_MODELS) + list(RESUME_CASES))
    missing = [i for i in ids if f"`{i}`" not in doc]
    assert not missing, f"docs/robustness.md does not list {missing}"
