"""The variational autoencoder, with every gradient written out.

Model (lectures 000-004): a prior p(z) over d latent dimensions (N(0, I) unless another one of
:mod:`minivae.priors` is given), a decoder network
giving p(x | z) (any likelihood of :mod:`minivae.likelihoods`), and an encoder network giving the
approximate posterior q(z | x). Training maximizes the evidence lower bound

    ELBO(x) = E_q(z|x) log p(x | z) - KL(q(z | x) || p(z))      (lectures 001-004)

estimated with one reparameterized sample of z per example and a mini-batch of examples (the
"doubly stochastic" estimate of lectures 000 and 003). minivae minimizes the negative bound,
in nats per example:

    loss = mean over the batch of [ -log p(x | z) + beta * KL(q(z | x) || p(z)) ].

Posterior families
------------------
``"diagonal"``  q = N(mu(x), diag(exp(log_var(x)))): the encoder emits mu and log_var.
``"isotropic"`` q = N(mu(x), sigma^2 I) with one learned sigma (lecture 000's e_phi(x), sigma).
``"shared"``    as isotropic, with the *same* sigma as a ``gaussian-learned`` decoder: lecture
                000's training algorithm, where one sigma is learned jointly with theta and phi.

Encoders
--------
``"fused"``     one network whose last layer emits [mu, log_var] (one matrix product for both
                heads: the fast default).
``"separate"``  two networks g (the mean) and h (the log-variance), as lecture 004 draws them.

The KL term
-----------
With a prior whose KL to a Gaussian has a closed form (N(0, I): lectures 000 and 002) the loss
uses it. Otherwise the KL is estimated at the reparameterized sample z as -H(q) - log p(z)
(:mod:`minivae.priors`), and its gradient reaches the encoder through z as well:

    d(-log p(z))/dmu = -d log p/dz,    d(-log p(z))/dlog_var = -d log p/dz * eps * sigma / 2,
    d(-H)/dlog_var = -1/2  (H = 1/2 sum_i (1 + log 2 pi + log_var_i)).
"""
from __future__ import annotations

import numpy as np

from ..errors import ValidationError
from ..estimators import reparameterize, reparameterize_backward
from ..likelihoods import GaussianLearnedSigma, make_likelihood
from ..nn import ACTIVATIONS, MLP, Workspace
from ..params import Scalar
from ..priors import make_prior
from ..runtime.validation import (check_bool, check_choice, check_data,
                          check_float_dtype, check_int, check_positive_float, check_positive_int,
                          check_rng)
from .base import Model, check_hidden, loss_stats

__all__ = ["VAE"]

POSTERIORS = ("diagonal", "isotropic", "shared")
ENCODERS = ("fused", "separate")


class VAE(Model):
    """A variational autoencoder with a Gaussian posterior, a prior p(z) and any likelihood.

    Parameters
    ----------
    input_dim : int, default 784
    latent_dim : int, default 20
    hidden : sequence of int, default (400,)
        Hidden widths of the encoder; the decoder uses them in reverse order.
    activation : {"relu", "tanh", "sigmoid", "softplus"}
    likelihood : str or dict
        A name from :data:`minivae.likelihoods.LIKELIHOODS`, or ``{"name": ..., **options}``.
    beta : float, default 1
        Weight of the KL term (beta = 1 is the ELBO; lecture 001's beta-VAE otherwise).
    posterior : {"diagonal", "isotropic", "shared"}
    encoder : {"fused", "separate"}
    prior : str, dict or :class:`~minivae.priors.Prior`, default "normal"
        p(z): a name from :data:`minivae.priors.PRIORS`, ``{"name": ..., **options}`` or an
        instance. The default N(0, I) has the closed-form KL.
    logvar_clamp : float or None
        If set, the encoder's log-variance is clipped to [-c, c] (the gradient is zero where the
        clip is active). A guard against exp(log_var) overflowing early in training at high
        learning rates: float32 overflows at exp(88.7), so c between 10 and 30 keeps sigma^2 in
        [e^-c, e^c] without touching ordinary training. Off by default so the model is exactly
        the textbook one; only the ``"diagonal"`` posterior has a per-example log-variance to
        clip. Command line: ``minivae train --logvar-clamp C``.
    dtype : {"float32", "float64"}
    seed : int
        Seed of the weight initialization.
    """

    kind = "vae"
    data_parallel = True

    def __init__(self, input_dim=784, latent_dim=20, hidden=(400,), activation="relu",
                 likelihood="bernoulli", beta=1.0, posterior="diagonal", encoder="fused",
                 logvar_clamp=None, dtype="float32", seed=0, prior="normal"):
        input_dim = check_positive_int(input_dim, "input_dim")
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        hidden = check_hidden(hidden)
        beta = check_positive_float(beta, "beta", allow_zero=True)
        check_choice(posterior, "posterior", POSTERIORS)
        check_choice(encoder, "encoder", ENCODERS)
        if logvar_clamp is not None:
            logvar_clamp = check_positive_float(logvar_clamp, "logvar_clamp")
            if posterior != "diagonal":
                raise ValidationError(f"logvar_clamp: applies to posterior='diagonal' (the only one with a "
                                      f"per-example log-variance), got posterior={posterior!r}")
        check_choice(activation, "activation", ACTIVATIONS)
        dtype = check_float_dtype(dtype)
        seed = check_int(seed, "seed", minimum=0)
        self.likelihood = make_likelihood(likelihood)
        self.prior = make_prior(prior)
        if posterior == "shared" and not isinstance(self.likelihood, GaussianLearnedSigma):
            raise ValidationError("posterior='shared' shares sigma with the decoder, so it needs "
                                  f"likelihood='gaussian-learned', got {self.likelihood.name!r}")
        if posterior != "diagonal" and encoder == "separate":
            raise ValidationError("encoder='separate' (networks g and h) needs posterior='diagonal', "
                                  f"got posterior={posterior!r}")

        self.input_dim, self.latent_dim, self.hidden = input_dim, latent_dim, hidden
        self.beta, self.posterior, self.encoder_kind = beta, posterior, encoder
        self.logvar_clamp = logvar_clamp
        self.config = dict(input_dim=input_dim, latent_dim=latent_dim, hidden=list(hidden),
                           activation=activation, likelihood=self.likelihood.config(), beta=beta,
                           posterior=posterior, encoder=encoder, logvar_clamp=logvar_clamp,
                           dtype=dtype.name, seed=seed, prior=self.prior.config())
        self.noise_dim = latent_dim

        d, D = latent_dim, input_dim
        enc_out = 2 * d if (posterior == "diagonal" and encoder == "fused") else d
        if encoder == "fused":
            self.encoders = [MLP((D, *hidden, enc_out), activation, prefix="enc")]
        else:
            self.encoders = [MLP((D, *hidden, d), activation, prefix="enc_g"),
                             MLP((D, *hidden, d), activation, prefix="enc_h")]
        self.decoder = MLP((d, *hidden[::-1], self.likelihood.out_dim(D)), activation, prefix="dec")

        # The parameters, in the order of the flat vector: encoder(s), decoder, the likelihood's
        # (a learned sigma), the isotropic posterior's log sigma, the prior's.
        parts = [*self.encoders, self.decoder, self.likelihood]
        if posterior == "isotropic":
            self.sigma_name = "enc.log_sigma"
            parts.append(Scalar(self.sigma_name))
        elif posterior == "shared":
            self.sigma_name = self.likelihood.param_name     # one sigma for p(x|z) and q(z|x)
        else:
            self.sigma_name = None
        self.prior.attach(self)
        parts.append(self.prior)
        self._init_params(parts, dtype, seed)
        self.workspace = Workspace()

    # ------------------------------------------------------------------------------------------
    # Encoder: x -> (mu, log_var)
    # ------------------------------------------------------------------------------------------
    def encoder_forward(self, x, reuse=False):
        """Run the encoder on validated x; return mu, log_var (both (B, d)) and the state
        :meth:`encoder_backward` needs (the building block of :meth:`encode`, and what a prior
        that runs the encoder on pseudo-inputs calls).

        With the fused encoder and a diagonal posterior, mu and log_var are the two halves of
        one (B, 2d) output, views rather than copies. ``reuse`` as in :meth:`MLP.forward` (the
        training step's own buffers: only the model's data pass uses them).
        """
        P, d = self.params, self.latent_dim
        if self.encoder_kind == "separate":
            mu, cache_g = self.encoders[0].forward(P, x, reuse=reuse)
            log_var, cache_h = self.encoders[1].forward(P, x, reuse=reuse)
            caches = (cache_g, cache_h)
        else:
            h, cache = self.encoders[0].forward(P, x, reuse=reuse)
            caches = (cache,)
            if self.posterior == "diagonal":
                mu, log_var = h[:, :d], h[:, d:]
            else:
                mu = h
                log_var = np.full_like(mu, 2.0 * P[self.sigma_name][0])   # log sigma^2 = 2 log sigma
        clip_mask = None
        if self.logvar_clamp is not None and self.posterior == "diagonal":
            c = self.logvar_clamp
            clip_mask = (log_var < -c) | (log_var > c)
            log_var = np.clip(log_var, -c, c)
        return mu, log_var, (caches, clip_mask)

    def encoder_backward(self, state, dmu, dlog_var, reuse=False, accumulate=False, need_dx=False):
        """Backpropagate dL/dmu and dL/dlog_var into the encoder's parameters.

        ``accumulate``: add to the encoder's gradient instead of writing it (a second pass
        through the encoder in one step: a prior that runs it on its pseudo-inputs).
        ``need_dx``: return dL/dx, the gradient with respect to the encoder's input.
        """
        P, d = self.params, self.latent_dim
        caches, clip_mask = state
        if clip_mask is not None:
            dlog_var[clip_mask] = 0     # the clip is flat there: no gradient flows through it
        kw = dict(need_dx=need_dx, reuse=reuse, accumulate=accumulate)
        if self.encoder_kind == "separate":
            dx = self.encoders[0].backward(P, caches[0], dmu, **kw)
            dx_h = self.encoders[1].backward(P, caches[1], dlog_var, **kw)
            return dx + dx_h if need_dx else None
        if self.posterior == "diagonal":
            # the fused head emitted [mu, log_var]; its gradient is [dL/dmu, dL/dlog_var]
            B = dmu.shape[0]
            dh = (self.workspace.get("dh", (B, 2 * d), dmu.dtype) if reuse
                  else np.empty((B, 2 * d), dmu.dtype))
            dh[:, :d] = dmu
            dh[:, d:] = dlog_var
            return self.encoders[0].backward(P, caches[0], dh, **kw)
        # log_var = 2 s in every coordinate and every example, so dL/ds = 2 sum dL/dlog_var.
        P.g(self.sigma_name)[0] += 2.0 * dlog_var.sum()
        return self.encoders[0].backward(P, caches[0], dmu, **kw)

    # ------------------------------------------------------------------------------------------
    # The loss and its gradient: one training step of lecture 000
    # ------------------------------------------------------------------------------------------
    def _kl(self, mu, log_var, z=None):
        """KL(q(z | x) || p(z)) per example: the prior's closed form, or its estimate at the
        sample z when it has none (:meth:`minivae.priors.Prior.kl_estimate`)."""
        if not self.prior.closed_form:
            return self.prior.kl_estimate(mu, log_var, z, self.params)
        if self.posterior == "diagonal":
            return self.prior.kl(mu, log_var, self.params)
        return self.prior.kl_isotropic(mu, self.params[self.sigma_name][0], self.params)

    def forward_loss(self, x, eps):
        """Negative ELBO on a batch without gradients (x and eps already validated)."""
        mu, log_var, _ = self.encoder_forward(x, reuse=True)
        z, _ = reparameterize(mu, log_var, eps)
        kl = self._kl(mu, log_var, z)
        out, _ = self.decoder.forward(self.params, z, reuse=True)
        nll = self.likelihood.nll(x, out, self.params, reuse=True)
        return loss_stats(nll, kl, self.beta)

    def loss_and_grad(self, x, eps, batch_size=None):
        """Negative ELBO on a mini-batch, and its gradient written into ``params.grad``.

        This is lecture 000's training algorithm, steps 1-6, for one mini-batch X of m rows
        (step 2, drawing the noise E, happens in the caller so that the loss is a deterministic
        function of ``eps`` and a gradient check can hold it fixed). The lecture ascends
        L_data - L_KL; minivae descends its negative, divided by the batch size.

        Parameters
        ----------
        x : (B, D) data in the model's dtype.
        eps : (B, d) standard normal noise.
        batch_size : int, optional
            When x is a part of a larger mini-batch (a data-parallel step, :mod:`minivae.parallel`),
            the size of the whole batch: the gradient written is then this part's share of the
            gradient of the whole batch's mean loss, so the parts' gradients add up to it.

        Returns
        -------
        dict with ``loss``, ``recon`` and ``kl`` in nats per example (means over x).
        """
        P = self.params
        B = x.shape[0]
        w = 1.0 / (batch_size or B)
        c = self.beta * w
        P.zero_accumulated()

        # Step 1. Encode the mini-batch: e_phi(X) gives mu and log sigma^2 for every row.
        mu, log_var, enc_state = self.encoder_forward(x, reuse=True)
        # Step 2. Sample noise E ~ N(0, I): that is ``eps``, drawn by the caller.
        # Step 3. Noisy embeddings: Z = mu + sigma * E (the reparameterization trick).
        z, std = reparameterize(mu, log_var, eps)
        # Step 4. KL regularizer: KL(q(z | x) || N(0, I)) per row, in closed form (other priors:
        #         estimated at z, see the module docstring).
        if self.prior.closed_form:
            kl = self._kl(mu, log_var)
        # Step 5. Reconstruction term: -log p(x | z) per row, and its gradient wrt the decoder
        #         output (already divided by the batch size).
        out, dec_cache = self.decoder.forward(P, z, reuse=True)
        nll, dout = self.likelihood.nll_and_grad(x, out, P, weight=w, reuse=True)
        # Step 6. Gradients of the loss wrt theta, phi (and sigma), by the chain rule in reverse:
        #         decoder, then the reparameterization, plus the KL's own derivatives, then the
        #         encoder. The optimizer's step follows in the caller.
        dz = self.decoder.backward(P, dec_cache, dout, reuse=True)
        if self.prior.closed_form:
            dmu, dlog_var = reparameterize_backward(dz, eps, std)
            kmu, klv = self._kl_backward(mu, log_var)
            dmu = dmu + c * kmu
            if self.posterior == "diagonal":
                dlog_var += c * klv
            else:
                P.g(self.sigma_name)[0] += c * np.sum(klv)
        else:
            # The prior's estimate of the KL at z (for example -H(q) - log p(z)) and the
            # gradient of c * its sum with respect to mu, log_var and z; the prior adds its own
            # parameters' share into their gradient.
            kl, k_mu, k_lv, k_z = self.prior.kl_and_grad(mu, log_var, z, P, weight=c)
            dz += k_z
            dmu, dlog_var = reparameterize_backward(dz, eps, std)
            if k_mu is not None:
                dmu = dmu + k_mu
            dlog_var += k_lv
        self.encoder_backward(enc_state, dmu, dlog_var, reuse=True)
        # a prior that ran the encoder itself (on pseudo-inputs) adds that pass's gradient now,
        # after the data's pass has written the encoder's
        self.prior.after_encoder_backward(P)
        return loss_stats(nll, kl, self.beta)

    def _kl_backward(self, mu, log_var):
        P = self.params
        if self.posterior == "diagonal":
            return self.prior.kl_backward(mu, log_var, P)
        kmu, ks = self.prior.kl_isotropic_backward(mu, P[self.sigma_name][0], P)
        return kmu, np.full(mu.shape[0], ks)

    def train_step(self, x, optimizer, rng):
        """One step of lecture 000's training algorithm on the mini-batch ``x``.

        2. sample E ~ N(0, I);  1, 3-6. :meth:`loss_and_grad` (encode, noisy embedding, KL,
        reconstruction, gradients); then the gradient step of ``optimizer``.
        """
        eps = rng.standard_normal((x.shape[0], self.latent_dim), dtype=self.dtype)   # step 2
        stats = self.loss_and_grad(x, eps)                                           # steps 1, 3-6
        optimizer.step()                                                             # step 6
        return stats

    # ------------------------------------------------------------------------------------------
    # Using a trained model (lecture 000's "testing stage")
    # ------------------------------------------------------------------------------------------
    def encode(self, x, check=True):
        """Posterior parameters (mu, log_var), each (N, d), for data x of shape (N, D).

        ``check=False`` skips the validation of x (for callers that validated a whole data set
        once and encode it in chunks, as :mod:`minivae.evaluate` does).
        """
        if check:
            x = self.check_x(x)
        mu, log_var, _ = self.encoder_forward(x)
        return np.array(mu), np.array(log_var)

    def embed(self, x):
        """Embed with the posterior mean only, z = e_phi(x) (the testing stage of lecture 000)."""
        return self.encode(x)[0]

    def decode(self, z):
        """E[x | z] for latent codes z of shape (N, d): probabilities for Bernoulli, means otherwise."""
        return self._generate(check_data(z, name="z", n_features=self.latent_dim, dtype=self.dtype))

    def sample(self, n, rng, mean=True):
        """Generate n examples: z ~ p(z), then x = E[x | z] (``mean=True``) or x ~ p(x | z).

        Lecture 000's testing stage generates with "z ~ N(0, I), x = d(z)", the decoder's mean;
        lecture 004 contrasts generating by the mean with sampling from p(x | z).
        """
        n = check_positive_int(n, "n")
        rng = check_rng(rng)
        mean = check_bool(mean, "mean")
        z = self.prior.sample(n, rng, self.params, self.dtype)
        return self._generate(z, mean, rng)
