"""The deterministic autoencoder: the model the VAE grows out of (lectures 000 and 002).

An encoder e(x) maps each example to one code z, a decoder d(z) maps it back, and training
minimizes the reconstruction error. With the ``gaussian`` likelihood (sigma = 1/sqrt(2)) the loss
is the sum of squared errors ||x - d(e(x))||^2 plus a constant, the objective of lecture 000;
with ``bernoulli`` it is the binary cross-entropy, which makes the AE directly comparable with a
Bernoulli VAE. There is no noise and no KL term.
"""
from __future__ import annotations

import numpy as np

from ..likelihoods import make_likelihood
from ..nn import ACTIVATIONS, MLP
from ..runtime.validation import (check_bool, check_choice, check_data, check_float_dtype, check_int,
                          check_positive_int, check_rng)
from .base import Model, check_hidden, loss_stats

__all__ = ["AE"]


class AE(Model):
    """A deterministic autoencoder.

    Parameters
    ----------
    input_dim, latent_dim, hidden, activation, likelihood, dtype, seed
        As for :class:`~minivae.models.vae.VAE`.
    """

    kind = "ae"
    data_parallel = True

    def __init__(self, input_dim=784, latent_dim=20, hidden=(400,), activation="relu",
                 likelihood="bernoulli", dtype="float32", seed=0):
        input_dim = check_positive_int(input_dim, "input_dim")
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        hidden = check_hidden(hidden)
        check_choice(activation, "activation", ACTIVATIONS)
        dtype = check_float_dtype(dtype)
        seed = check_int(seed, "seed", minimum=0)
        self.likelihood = make_likelihood(likelihood)
        self.input_dim, self.latent_dim, self.hidden = input_dim, latent_dim, hidden
        self.config = dict(input_dim=input_dim, latent_dim=latent_dim, hidden=list(hidden),
                           activation=activation, likelihood=self.likelihood.config(),
                           dtype=np.dtype(dtype).name, seed=int(seed))
        self.encoder = MLP((input_dim, *hidden, latent_dim), activation, prefix="enc")
        self.decoder = MLP((latent_dim, *hidden[::-1], self.likelihood.out_dim(input_dim)),
                           activation, prefix="dec")
        self._init_params([self.encoder, self.decoder, self.likelihood], dtype, seed)

    def forward_loss(self, x, eps=None):
        z, _ = self.encoder.forward(self.params, x, reuse=True)
        out, _ = self.decoder.forward(self.params, z, reuse=True)
        return loss_stats(self.likelihood.nll(x, out, self.params, reuse=True), np.zeros(1), 0.0)

    def loss_and_grad(self, x, eps=None, batch_size=None):
        """Reconstruction loss -log p(x | d(e(x))) per example (mean over the batch) and its gradient.

        Lecture 000's AE objective sum_i ||x_i - d(e(x_i))||^2 is this loss (times N, plus
        (D / 2) log pi per example) for the Gaussian likelihood with sigma = 1/sqrt(2).

        Forward: z = e(x), out = d(z). Backward: the likelihood's gradient wrt out, through the
        decoder into dL/dz, then through the encoder. ``batch_size`` as in :meth:`VAE.loss_and_grad`.
        """
        P = self.params
        P.zero_accumulated()
        z, enc_cache = self.encoder.forward(P, x, reuse=True)
        out, dec_cache = self.decoder.forward(P, z, reuse=True)
        nll, dout = self.likelihood.nll_and_grad(x, out, P, weight=1.0 / (batch_size or x.shape[0]),
                                               reuse=True)
        dz = self.decoder.backward(P, dec_cache, dout, reuse=True)
        self.encoder.backward(P, enc_cache, dz, need_dx=False, reuse=True)
        return loss_stats(nll, np.zeros(1), 0.0)

    def encode(self, x):
        """The code z = e(x), shape (N, d)."""
        x = self.check_x(x)
        return np.array(self.encoder.forward(self.params, x)[0])

    embed = encode

    def decode(self, z):
        """E[x | z] for codes z of shape (N, d)."""
        return self._generate(check_data(z, name="z", n_features=self.latent_dim, dtype=self.dtype))

    def sample(self, n, rng, mean=True):
        """Decode z ~ N(0, I). An AE has no prior, so these are usually not digits: that is
        the point lecture 000 makes when it compares the AE with the VAE."""
        n = check_positive_int(n, "n")
        rng = check_rng(rng)
        mean = check_bool(mean, "mean")
        z = rng.standard_normal((n, self.latent_dim)).astype(self.dtype)
        return self._generate(z, mean, rng)
