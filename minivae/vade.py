"""VaDE's recipe around the mixture prior, and clustering with it (lecture 001).

A VAE with a mixture-of-Gaussians prior (:class:`minivae.priors.MixturePrior`) trained from a
random start rarely finds clusters that mean anything: the prior's components and the encoder
must agree from the start. VaDE (Jiang et al. 2017) therefore

1. pretrains an autoencoder with the same encoder and decoder for a few epochs
   (:func:`pretrain_autoencoder`),
2. copies its weights into the VAE, the autoencoder's code becoming the posterior mean
   (:func:`copy_autoencoder_weights`),
3. fits a Gaussian mixture by EM to the codes of the training set and starts the prior from
   it: pi = the mixture's weights, m_c its means, s_c the log of its (diagonal) variances
   (:func:`init_mixture_prior`, with :class:`minivae.mixture.GaussianMixture`),

and then trains the VAE on VaDE's bound. An example's cluster is argmax_c p(c | z = mu(x))
(:func:`cluster_assignments`), scored against labels by :func:`minivae.mixture.cluster_accuracy`
after the best one-to-one matching of clusters to classes. :func:`prepare` does steps 1-3 in one
call, which is what ``minivae train --prior mog --pretrain-epochs E`` runs.
"""
from __future__ import annotations

import numpy as np

from .errors import ValidationError
from .mixture import GaussianMixture, cluster_accuracy
from .models import AE, VAE, check_model
from .nn import WEIGHT_INITS, restart_glorot
from .priors import MixturePrior
from .runtime.validation import check_positive_int
from .train import Trainer

__all__ = ["pretrain_autoencoder", "copy_autoencoder_weights", "init_mixture_prior", "prepare",
           "cluster_assignments", "clustering_accuracy"]


def _check_vade_model(model):
    check_model(model)
    if not isinstance(model, VAE) or not isinstance(model.prior, MixturePrior):
        raise ValidationError(f"model: expected a VAE with a mixture prior (prior='mog'), got "
                              f"{type(model).__name__} with prior {getattr(getattr(model, 'prior', None), 'name', None)!r}")
    return model


def pretrain_autoencoder(model, x, epochs, init="uniform", **options):
    """An :class:`~minivae.models.AE` with the VAE's widths, activation, likelihood and dtype,
    trained ``epochs`` epochs on x (``options``: the Trainer's, e.g. batch_size, lr, binarize,
    seed, threads, progress, verbose). ``init``: the autoencoder's start, minivae's
    U(-1/sqrt(n_in), 1/sqrt(n_in)) for weights and biases (``"uniform"``,
    :func:`minivae.nn.init_linear`) or Glorot's, as VaDE's published code starts
    (``"glorot"``, :func:`minivae.nn.init_linear_glorot`, drawn from the model's seed)."""
    _check_vade_model(model)
    epochs = check_positive_int(epochs, "epochs")
    if init not in WEIGHT_INITS:
        raise ValidationError(f"init: expected one of {', '.join(WEIGHT_INITS)}, got {init!r}")
    cfg = model.get_config()
    ae = AE(cfg["input_dim"], cfg["latent_dim"], cfg["hidden"], cfg["activation"], cfg["likelihood"],
            dtype=cfg["dtype"], seed=cfg["seed"])
    if init == "glorot":
        restart_glorot(ae.params, ("enc.", "dec."), np.random.default_rng(cfg["seed"]))
    Trainer(ae, x, **options).run(epochs)
    return ae


def copy_autoencoder_weights(model, ae):
    """Start the VAE from the autoencoder: decoder as is, encoder's hidden layers as is, the
    code layer as the mean head (the log-variance head keeps its initial weights)."""
    _check_vade_model(model)
    if not isinstance(ae, AE) or ae.decoder.sizes != model.decoder.sizes or ae.encoder.sizes[:-1] != \
            model.encoders[0].sizes[:-1] or ae.latent_dim != model.latent_dim:
        raise ValidationError("ae: expected an autoencoder with the VAE's layer widths and latent dimension")
    if model.posterior != "diagonal":
        raise ValidationError(f"model: VaDE's start needs posterior='diagonal', got {model.posterior!r}")
    P, A = model.params, ae.params
    for name in ae.decoder.param_shapes():
        P[name][...] = A[name]
    last = ae.encoder.n_layers - 1
    prefix = "enc_g" if model.encoder_kind == "separate" else "enc"
    for i in range(last):
        for kind in ("W", "b"):
            P[f"{prefix}.{i}.{kind}"][...] = A[f"enc.{i}.{kind}"]
            if model.encoder_kind == "separate":
                P[f"enc_h.{i}.{kind}"][...] = A[f"enc.{i}.{kind}"]
    d = model.latent_dim
    P[f"{prefix}.{last}.W"][:, :d] = A[f"enc.{last}.W"]
    P[f"{prefix}.{last}.b"][:d] = A[f"enc.{last}.b"]
    return model


def init_mixture_prior(model, codes, seed=0, n_init=1, select="likelihood"):
    """Fit a diagonal Gaussian mixture with the prior's K components to ``codes`` (N, d) by EM,
    ``n_init`` restarts of which ``select`` keeps one (the best likelihood, or the most even
    weights), and copy it into the prior; returns the fitted
    :class:`~minivae.mixture.GaussianMixture`."""
    _check_vade_model(model)
    gmm = GaussianMixture(model.prior.components, covariance_type="diag", seed=seed, n_init=n_init,
                          select=select, max_iter=200).fit(codes)
    P = model.params
    P["prior.logits"][...] = np.log(gmm.weights_)
    P["prior.means"][...] = gmm.means_
    P["prior.log_vars"][...] = np.log(gmm.covariances_)
    return gmm


def prepare(model, x, epochs, seed=0, log=None, n_init=1, select="likelihood", init="uniform", **options):
    """VaDE's start in one call: pretrain an autoencoder ``epochs`` epochs on x from the start
    ``init`` (:func:`pretrain_autoencoder`), copy it into the VAE, fit the mixture to the codes
    of x (``n_init`` restarts, one kept by ``select``, as :func:`init_mixture_prior`) and start
    the prior from it. ``log(text)`` receives one line per stage; ``options`` go to the
    autoencoder's Trainer."""
    log = log or (lambda text: None)
    ae = pretrain_autoencoder(model, x, epochs, init=init, seed=seed, **options)
    log(f"VaDE: pretrained an autoencoder for {epochs} epochs (weights started {init})")
    copy_autoencoder_weights(model, ae)
    codes = model.encode(x)[0].astype(np.float64)
    gmm = init_mixture_prior(model, codes, seed=seed, n_init=n_init, select=select)
    which = "the one with the most even weights" if select == "balance" else "the most likely"
    kept = f", kept {which} of {n_init} restarts" if n_init > 1 else ""
    log(f"VaDE: fitted a {model.prior.components}-component diagonal mixture to the codes of "
        f"{len(x)} training images by EM ({gmm.n_iter_} iterations, mean log-likelihood {gmm.lower_bound_:.2f}"
        f"{kept})")
    return gmm


def cluster_assignments(model, x, batch_size=1000):
    """Each example's cluster argmax_c p(c | z = mu(x)), (N,) integers."""
    _check_vade_model(model)
    x = model.check_x(x)
    out = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), batch_size):
        mu = model.encode(x[start:start + batch_size], check=False)[0]
        out[start:start + len(mu)] = model.prior.cluster_of(mu, model.params)
    return out


def clustering_accuracy(model, x, labels):
    """:func:`minivae.mixture.cluster_accuracy` of the model's clusters against ``labels``."""
    return cluster_accuracy(labels, cluster_assignments(model, x))
