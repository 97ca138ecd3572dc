"""What every minivae model shares: a configuration, a flat parameter vector built from its
parts, and the public methods that validate their input before handing it to the lean kernels.

Also the small pieces the models have in common: :func:`check_model`, :func:`check_hidden` (the
hidden widths argument) and :func:`loss_stats` (the per-batch statistics a loss returns).
"""
from __future__ import annotations

import copy

import numpy as np

from ..errors import InputTypeError, ValidationError
from ..params import Params
from ..runtime.validation import check_data, check_positive_int, check_rng

__all__ = ["Model", "check_model", "check_hidden", "loss_stats"]


def check_model(model, name="model"):
    """A minivae model (anything built on :class:`Model`)."""
    if not isinstance(model, Model):
        raise InputTypeError(f"{name}: expected a minivae model (VAE, AE or CategoricalVAE), got {type(model).__name__}")
    return model


def check_hidden(hidden):
    """Hidden layer widths: one positive int or a sequence of them, returned as a tuple."""
    if isinstance(hidden, (int, np.integer)):
        hidden = (hidden,)
    try:
        hidden = tuple(hidden)
    except TypeError:
        raise ValidationError(f"hidden: expected a sequence of positive layer widths, got {hidden!r}") from None
    for h in hidden:
        check_positive_int(h, "hidden (each layer width)")
    return tuple(int(h) for h in hidden)


def loss_stats(nll, kl, beta):
    """The statistics a loss returns, in nats per example: ``loss`` = recon + beta * kl,
    ``recon`` = mean of ``nll`` and ``kl`` = mean of ``kl`` (per-example arrays)."""
    # plain reductions: np.mean's Python wrapper costs more than the sum of B numbers
    recon = float(np.add.reduce(nll, axis=None)) / nll.size
    kl_mean = float(np.add.reduce(kl, axis=None)) / kl.size
    return {"loss": recon + beta * kl_mean, "recon": recon, "kl": kl_mean}


class Model:
    """Base class of minivae's models.

    Subclasses set ``self.config`` (a JSON-serializable dict that rebuilds the model through
    :func:`minivae.models.build_model`), ``self.params`` (a :class:`~minivae.params.Params`),
    ``self.input_dim`` and ``self.latent_dim``, and implement ``loss_and_grad(x, eps)``.
    """

    kind = "model"

    # -- construction ---------------------------------------------------------------------------
    def _init_params(self, parts, dtype, seed):
        """Lay out the parameters of ``parts`` (networks, likelihood, prior, ...) one after
        another in one :class:`~minivae.params.Params` and initialize them in the same order
        from ``numpy.random.default_rng(seed)``.

        Each part has ``param_shapes()`` and ``init(params, rng)``, and says how its gradient
        arrives: ``writes_gradient`` True for a network whose backward pass writes it, False
        for a part whose parameters accumulate it (the gradient contract of
        :mod:`minivae.params`).
        """
        shapes, accumulate = {}, []
        for part in parts:
            part_shapes = part.param_shapes()
            shapes.update(part_shapes)
            if not part.writes_gradient:
                accumulate += list(part_shapes)
        self.params = Params(shapes, dtype, accumulate=accumulate)
        rng = np.random.default_rng(seed)
        for part in parts:
            part.init(self.params, rng)

    # -- configuration --------------------------------------------------------------------------
    @property
    def dtype(self):
        return self.params.dtype

    def get_config(self) -> dict:
        cfg = copy.deepcopy(self.config)
        cfg["kind"] = self.kind
        return cfg

    def astype(self, dtype) -> "Model":
        """The same model (same parameter values) with parameters of another float dtype."""
        cfg = self.get_config()
        cfg.pop("kind")
        cfg["dtype"] = np.dtype(dtype).name
        other = type(self)(**cfg)
        other.params.data[...] = self.params.data
        return other

    def __repr__(self):
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({cfg}; {self.params.size} parameters)"

    # -- input checks ---------------------------------------------------------------------------
    @property
    def needs_unit_interval(self) -> bool:
        return self.likelihood.needs_unit_interval

    def check_x(self, x, name="x"):
        """Validate a data batch against this model and return it in the model's dtype."""
        return check_data(x, name=name, n_features=self.input_dim, dtype=self.dtype,
                          unit_interval=self.needs_unit_interval)

    def check_eps(self, eps, n):
        shape = (n, self.noise_dim)
        eps = np.asarray(eps)
        if eps.shape != shape:
            raise ValidationError(f"eps: expected noise of shape {shape}, got {eps.shape}")
        if not np.all(np.isfinite(eps)):
            raise ValidationError("eps: expected finite noise values, found NaN or infinity")
        return np.ascontiguousarray(eps, dtype=self.dtype)

    # -- decoding -------------------------------------------------------------------------------
    def _generate(self, z, mean=True, rng=None):
        """Decode validated codes z: E[x | z] when ``mean``, else one draw x ~ p(x | z)."""
        out, _ = self.decoder.forward(self.params, z)
        if mean:
            return self.likelihood.mean(out, self.params)
        return self.likelihood.sample(out, self.params, rng)

    def reconstruct(self, x):
        """Decode the embedding of each row of x, d(embed(x)) (see each model's ``embed``)."""
        return self.decode(self.embed(x))

    # -- randomness -----------------------------------------------------------------------------
    noise_dim = 0

    def sample_noise(self, n, rng):
        """Noise for one pass of ``n`` examples: eps ~ N(0, I) of shape (n, noise_dim)."""
        return rng.standard_normal((n, self.noise_dim), dtype=self.dtype)

    # -- public losses ----------------------------------------------------------------------------
    def loss(self, x, eps=None, rng=None):
        """The training loss on a batch, without touching the gradient.

        Returns a dict of floats in nats per example (mean over the batch): ``loss`` (the
        negative ELBO, with the KL weighted by beta), ``recon`` (-E log p(x|z), single sample)
        and ``kl``. ``eps`` fixes the noise; otherwise it is drawn from ``rng``.
        """
        x = self.check_x(x)
        eps = self._eps_for(x, eps, rng)
        return self.forward_loss(x, eps)

    def loss_and_grad_checked(self, x, eps=None, rng=None):
        """:meth:`loss_and_grad` with its input validated first."""
        x = self.check_x(x)
        eps = self._eps_for(x, eps, rng)
        return self.loss_and_grad(x, eps)

    def _eps_for(self, x, eps, rng):
        if self.noise_dim == 0:
            return None
        if eps is None:
            if rng is None:
                raise ValidationError("eps or rng: the loss of a stochastic model needs noise eps or a "
                                      "numpy.random.Generator to draw it from; got neither")
            return self.sample_noise(len(x), check_rng(rng))
        return self.check_eps(eps, len(x))

    def train_step(self, x, optimizer, rng):
        """One step of stochastic gradient descent on a mini-batch; see the subclass."""
        eps = self.sample_noise(len(x), rng) if self.noise_dim else None
        stats = self.loss_and_grad(x, eps)
        optimizer.step()
        return stats

    def n_params(self) -> int:
        return self.params.size

    # -- data-parallel training ----------------------------------------------------------------
    #: can :class:`minivae.parallel.DataParallel` split this model's training step? (it needs
    #: ``loss_and_grad(x, eps, batch_size)`` and no state that the step itself updates)
    data_parallel = False

    def replica(self) -> "Model":
        """A worker copy for a data-parallel step: it reads this model's parameter values (the
        same memory, so every update is seen at once) but writes its gradient into a vector of
        its own and keeps its own scratch buffers."""
        params = self.params
        self.params = None
        try:
            other = copy.deepcopy(self)
        finally:
            self.params = params
        other.params = params.with_own_grad()
        return other

    # -- state that training changes besides the parameters ---------------------------------------
    def training_state(self) -> dict:
        """Numbers outside the parameter vector that training updates and a resumed run needs
        (JSON-serializable). Most models have none; the REINFORCE categorical VAE has its
        running-mean baseline."""
        return {}

    def load_training_state(self, state: dict) -> None:
        """Restore what :meth:`training_state` returned."""
        if state:
            raise ValidationError(f"training state: {type(self).__name__} keeps none, got keys {sorted(state)}")
