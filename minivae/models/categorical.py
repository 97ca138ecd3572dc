"""A VAE whose latent code is a set of categorical variables.

Model (lectures 000 and 001, "VAE with discrete latent variables"): z = (z_1, ..., z_N), each z_n
one of K classes, stored as N one-hot vectors of length K (a code of N * K numbers). The prior is
uniform, p(z_n = k) = 1 / K; the encoder gives logits psi_n of a factorized posterior
q(z | x) = prod_n softmax(psi_n(x)); the decoder reads the N * K code and gives p(x | z)
(Bernoulli on logits by default). The bound is

    ELBO(x) = E_q log p(x | z) - sum_n KL(q(z_n | x) || U_K),

with the KL in closed form (:func:`minivae.kl.kl_categorical_uniform`). The expectation cannot
be reparameterized like a Gaussian's, so the encoder's gradient needs one of the estimators of
:mod:`minivae.estimators`:

``"gumbel"``            Gumbel-softmax: the decoder reads y_n = softmax((psi_n + g_n) / tau), and
                        the training loss is the relaxed objective -log p(x | y) + KL, whose exact
                        gradient (noise g fixed) is what the model computes. Biased for tau > 0.
``"straight-through"``  the decoder reads the one-hot z_n = onehot(argmax y_n); the backward pass
                        pretends dz/dpsi = dy/dpsi.
``"reinforce"``         the decoder reads S Gumbel-max samples per example; the encoder gets the
                        score-function estimate of d/dpsi E_q[-log p(x | z)] with a baseline
                        (a running mean for S = 1, leave-one-out over the S samples otherwise).
                        Unbiased, high variance.

All three are evaluated the same way (:meth:`CategoricalVAE.evaluation_loss`): one discrete
Gumbel-max sample z ~ q(z | x) per example, -log p(x | z) + KL(q || uniform): a single-sample
estimate of the true negative ELBO of the discrete model.

The noise ``eps`` of :meth:`loss_and_grad` is standard Gumbel noise of shape (B, S * N * K) (S = 1
except for REINFORCE with several samples), drawn by :meth:`sample_noise`; holding it fixed makes
the loss a deterministic function of the parameters, which the gradient check needs. The
temperature follows tau = max(tau_min, tau0 exp(-r t)) with t the optimizer's step count, so a
resumed run continues the same schedule.
"""
from __future__ import annotations

import numpy as np

from ..errors import ValidationError
# The training step calls the estimators' unchecked kernels: its arrays are built here, so the
# public functions' argument checks would only cost time on every step.
from ..estimators import RunningMeanBaseline, sample_gumbel, temperature
from ..estimators import _gumbel_softmax_backward as gumbel_softmax_backward
from ..logspace import _one_hot as one_hot
from ..estimators import _reinforce_categorical as reinforce_categorical
from ..logspace import _softmax as softmax
from ..kl import kl_categorical_uniform, kl_categorical_uniform_backward
from ..likelihoods import make_likelihood
from ..nn import ACTIVATIONS, MLP
from ..runtime.validation import (check_bool, check_choice, check_data, check_finite_float, check_float_dtype,
                          check_int, check_positive_float, check_positive_int, check_rng)
from .base import Model, check_hidden, loss_stats

__all__ = ["CategoricalVAE", "ESTIMATORS"]

ESTIMATORS = ("gumbel", "straight-through", "reinforce")


class CategoricalVAE(Model):
    """A VAE with N categorical latent variables of K classes each and a uniform prior.

    Parameters
    ----------
    input_dim : int, default 784
    n_latent : int, default 20
        N, the number of categorical variables.
    n_classes : int, default 10
        K, the number of classes of each.
    hidden : sequence of int, default (512, 256)
        Encoder widths; the decoder uses them in reverse.
    activation : str, default "relu"
    likelihood : str or dict, default "bernoulli"
    estimator : {"gumbel", "straight-through", "reinforce"}
    tau0, tau_min, anneal_rate : floats
        The temperature schedule tau = max(tau_min, tau0 * exp(-anneal_rate * t)), t the
        optimizer's step count. ``anneal_rate = 0`` keeps tau = tau0.
    reinforce_samples : int, default 1
        S, samples of z per example for ``estimator="reinforce"``.
    baseline : {"running-mean", "leave-one-out", "none"}, default "running-mean"
        The REINFORCE baseline; "leave-one-out" needs S >= 2.
    baseline_decay : float in [0, 1), decay of the running mean.
        The running mean lives in the model object, not in its parameters, so a checkpoint does
        not keep it: a resumed run starts it afresh (its first step uses b = 0).
    dtype : {"float32", "float64"}
    seed : int, the seed of the weight initialization.
    """

    kind = "categorical"

    def __init__(self, input_dim=784, n_latent=20, n_classes=10, hidden=(512, 256), activation="relu",
                 likelihood="bernoulli", estimator="gumbel", tau0=1.0, tau_min=0.5, anneal_rate=1e-4,
                 reinforce_samples=1, baseline="running-mean", baseline_decay=0.99, dtype="float32",
                 seed=0):
        input_dim = check_positive_int(input_dim, "input_dim")
        n_latent = check_positive_int(n_latent, "n_latent")
        n_classes = check_positive_int(n_classes, "n_classes")
        if n_classes < 2:
            raise ValidationError(f"n_classes: expected at least 2 classes per variable, got {n_classes}")
        hidden = check_hidden(hidden)
        check_choice(estimator, "estimator", ESTIMATORS)
        tau0 = check_positive_float(tau0, "tau0")
        tau_min = check_positive_float(tau_min, "tau_min")
        anneal_rate = check_positive_float(anneal_rate, "anneal_rate", allow_zero=True)
        if tau_min > tau0:
            raise ValidationError(f"tau_min: expected at most tau0 = {tau0} (the schedule cools from tau0 "
                                  f"down to tau_min), got {tau_min}; for a fixed temperature set both")
        S = check_positive_int(reinforce_samples, "reinforce_samples")
        check_choice(baseline, "baseline", ("running-mean", "leave-one-out", "none"))
        if estimator == "reinforce" and baseline == "leave-one-out" and S < 2:
            raise ValidationError("baseline='leave-one-out' averages the other samples of the same "
                                  f"example, so it needs reinforce_samples >= 2, got {S}")
        baseline_decay = check_finite_float(baseline_decay, "baseline_decay")
        if not 0 <= baseline_decay < 1:
            raise ValidationError(f"baseline_decay: expected a number in [0, 1), got {baseline_decay}")
        check_choice(activation, "activation", ACTIVATIONS)
        dtype = check_float_dtype(dtype)
        seed = check_int(seed, "seed", minimum=0)
        self.likelihood = make_likelihood(likelihood)

        self.input_dim, self.n_latent, self.n_classes, self.hidden = input_dim, n_latent, n_classes, hidden
        self.latent_dim = n_latent * n_classes
        self.estimator = estimator
        self.tau0, self.tau_min, self.anneal_rate = tau0, tau_min, anneal_rate
        self.samples = S if estimator == "reinforce" else 1
        self.baseline_kind = baseline
        self.baseline = RunningMeanBaseline(baseline_decay)
        self.config = dict(input_dim=input_dim, n_latent=n_latent, n_classes=n_classes,
                           hidden=list(hidden), activation=activation,
                           likelihood=self.likelihood.config(), estimator=estimator, tau0=tau0,
                           tau_min=tau_min, anneal_rate=anneal_rate, reinforce_samples=S,
                           baseline=baseline, baseline_decay=baseline_decay, dtype=dtype.name,
                           seed=seed)
        self.noise_dim = self.samples * self.latent_dim
        #: the current temperature; :meth:`train_step` moves it along the schedule.
        self.tau = tau0

        D, NK = input_dim, self.latent_dim
        self.encoder = MLP((D, *hidden, NK), activation, prefix="enc")
        self.decoder = MLP((NK, *hidden[::-1], self.likelihood.out_dim(D)), activation, prefix="dec")
        self._init_params([self.encoder, self.decoder, self.likelihood], dtype, seed)

    # ------------------------------------------------------------------------------------------
    def sample_noise(self, n, rng):
        """Standard Gumbel noise -log(-log u), shape (n, S * N * K), in the model's dtype."""
        return sample_gumbel((n, self.noise_dim), rng, dtype=self.dtype)

    def temperature_at(self, step):
        """tau = max(tau_min, tau0 exp(-anneal_rate * step)), see :func:`minivae.estimators.temperature`."""
        return temperature(step, self.anneal_rate, self.tau_min, self.tau0)

    def _logits(self, x):
        out, cache = self.encoder.forward(self.params, x)
        return out.reshape(len(x), self.n_latent, self.n_classes), cache

    def _decode_nll(self, x, code, weight=None):
        out, cache = self.decoder.forward(self.params, code.reshape(len(code), -1))
        if weight is None:
            return self.likelihood.nll(x, out, self.params), None, None
        nll, dout = self.likelihood.nll_and_grad(x, out, self.params, weight=weight)
        return nll, dout, cache

    def _gumbel(self, eps, B):
        return eps.reshape(B, self.samples, self.n_latent, self.n_classes)

    # ------------------------------------------------------------------------------------------
    def forward_loss(self, x, eps):
        """The training objective on a batch without gradients (x, eps already validated).

        For ``"gumbel"`` the relaxed bound -log p(x | y) + KL at the current tau; for the other
        estimators the decoder sees discrete samples, as in training. Evaluation uses
        :meth:`evaluation_loss` instead.
        """
        B = len(x)
        logits, _ = self._logits(x)
        kl = kl_categorical_uniform(logits)
        g = self._gumbel(eps, B)
        if self.estimator == "gumbel":
            code = softmax((logits + g[:, 0]) / self.tau)
            nll, _, _ = self._decode_nll(x, code)
        else:
            z = one_hot(np.argmax(logits[:, None] + g, axis=-1), self.n_classes, dtype=self.dtype)
            xs = np.repeat(x, self.samples, axis=0)
            nll, _, _ = self._decode_nll(xs, z.reshape(B * self.samples, -1))
            nll = nll.reshape(B, self.samples).mean(axis=1)
        return loss_stats(nll, kl, 1.0)

    def evaluation_loss(self, x, eps):
        """Single-sample negative ELBO of the discrete model, for evaluation.

        z_n = onehot(argmax(psi_n + g_n)) (Gumbel-max: an exact sample of q(z | x)) from the first
        N * K columns of ``eps``, then -log p(x | z) + sum_n KL(q(z_n | x) || U_K) per example.
        :func:`minivae.evaluate.elbo` calls this rather than :meth:`forward_loss`, so the
        Trainer's test number and ``minivae evaluate`` report the bound of the discrete model
        whatever the training estimator.
        """
        B = len(x)
        logits, _ = self._logits(x)
        kl = kl_categorical_uniform(logits)
        g = self._gumbel(eps, B)[:, 0]
        z = one_hot(np.argmax(logits + g, axis=-1), self.n_classes, dtype=self.dtype)
        nll, _, _ = self._decode_nll(x, z)
        return loss_stats(nll, kl, 1.0)

    def loss_and_grad(self, x, eps):
        """Negative ELBO on a mini-batch, and the estimator's gradient written into ``params.grad``.

        Parameters
        ----------
        x : (B, D) data in the model's dtype.
        eps : (B, S * N * K) standard Gumbel noise.

        Returns
        -------
        dict with ``loss``, ``recon`` and ``kl`` in nats per example (mean over the batch), and
        ``tau``. For ``"gumbel"`` the reconstruction term is that of the relaxed sample.
        """
        P = self.params
        B = len(x)
        w = 1.0 / B
        P.zero_accumulated()
        logits, enc_cache = self._logits(x)
        kl = kl_categorical_uniform(logits)
        dlogits = kl_categorical_uniform_backward(logits)
        dlogits *= w
        g = self._gumbel(eps, B)

        if self.estimator in ("gumbel", "straight-through"):
            y = softmax((logits + g[:, 0]) / self.tau)
            if self.estimator == "gumbel":
                code = y
            else:
                code = one_hot(np.argmax(y, axis=-1), self.n_classes, dtype=self.dtype)
            nll, dout, dec_cache = self._decode_nll(x, code, weight=w)
            dcode = self.decoder.backward(P, dec_cache, dout).reshape(y.shape)
            # Straight-through: dL/dz is passed on as if it were dL/dy.
            dlogits += gumbel_softmax_backward(dcode, y, self.tau)
        else:
            S = self.samples
            idx = np.argmax(logits[:, None] + g, axis=-1)                      # (B, S, N)
            z = one_hot(idx, self.n_classes, dtype=self.dtype)
            xs = np.repeat(x, S, axis=0)
            nll_s, dout, dec_cache = self._decode_nll(xs, z.reshape(B * S, -1), weight=w / S)
            self.decoder.backward(P, dec_cache, dout, need_dx=False)
            f = nll_s.reshape(B, S).T.astype(np.float64)                       # (S, B), the cost
            baseline = {"none": None, "leave-one-out": "leave-one-out",
                        "running-mean": self.baseline}[self.baseline_kind]
            # log q(z) = sum_n log q(z_n), so its score is the per-variable score for each n.
            fn = np.broadcast_to(f[:, :, None], (S, B, self.n_latent))
            terms = reinforce_categorical(fn, idx.transpose(1, 0, 2), logits, baseline)
            dlogits += (w * terms.mean(axis=0)).astype(self.dtype)
            nll = f.mean(axis=0)
        self.encoder.backward(P, enc_cache, dlogits.reshape(B, -1), need_dx=False)
        stats = loss_stats(nll, kl, 1.0)
        stats["tau"] = self.tau
        return stats

    def training_state(self):
        """The running-mean baseline of REINFORCE (None before the first estimate)."""
        return {"baseline": self.baseline.value}

    def load_training_state(self, state):
        if state == {}:      # a checkpoint written before the baseline was saved: start it afresh
            return
        if not isinstance(state, dict) or set(state) != {"baseline"}:
            raise ValidationError(f"training state: expected {{'baseline': number or None}}, got {state!r}")
        value = state["baseline"]
        if value is not None:
            value = check_finite_float(value, "training state baseline")
        self.baseline.value = value

    def train_step(self, x, optimizer, rng):
        """Set tau from the schedule at the optimizer's step count, draw Gumbel noise, step."""
        self.tau = self.temperature_at(getattr(optimizer, "t", 0))
        eps = self.sample_noise(len(x), rng)
        stats = self.loss_and_grad(x, eps)
        optimizer.step()
        return stats

    # ------------------------------------------------------------------------------------------
    def encode(self, x):
        """Posterior probabilities q(z_n = k | x), shape (N_examples, n_latent, n_classes)."""
        x = self.check_x(x)
        logits, _ = self._logits(x)
        return softmax(logits)

    def kl_per_variable(self, x):
        """KL(q(z_n | x) || uniform) of every variable n for every example, (N_examples, n_latent)."""
        x = self.check_x(x)
        return kl_categorical_uniform(self._logits(x)[0], per_variable=True)

    def embed(self, x):
        """The most probable class of each variable, (N_examples, n_latent) integers."""
        return np.argmax(self.encode(x), axis=-1)

    def decode(self, z):
        """E[x | z] for codes z of shape (n, n_latent * n_classes) (one-hot or relaxed) or
        (n, n_latent) integer classes."""
        z = np.asarray(z)
        if z.dtype.kind in "iu":
            if z.ndim != 2 or z.shape[1] != self.n_latent or z.min(initial=0) < 0 \
                    or z.max(initial=0) >= self.n_classes:
                raise ValidationError(f"z: expected integer classes in [0, {self.n_classes}) of shape "
                                      f"(n, {self.n_latent}), got shape {z.shape}")
            z = one_hot(z, self.n_classes, dtype=self.dtype).reshape(len(z), -1)
        return self._generate(check_data(z, name="z", n_features=self.latent_dim, dtype=self.dtype))

    def sample(self, n, rng, mean=True):
        """Generate n examples: each z_n uniform over the K classes, then E[x | z] or x ~ p(x | z)."""
        n = check_positive_int(n, "n")
        rng = check_rng(rng)
        mean = check_bool(mean, "mean")
        z = one_hot(rng.integers(0, self.n_classes, size=(n, self.n_latent)), self.n_classes,
                    dtype=self.dtype).reshape(n, -1)
        return self._generate(z, mean, rng)
