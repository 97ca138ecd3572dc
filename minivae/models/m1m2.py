"""M1+M2 (Kingma, Rezende, Mohamed and Welling, 2014): the semi-supervised VAE M2 trained on
the latent codes z1 of a VAE M1 that was first trained on all the images (lecture 003, item 24).

M1 is a :class:`~minivae.models.vae.VAE` with a diagonal Gaussian posterior q(z1 | x); it is
frozen while M2 trains. M2 models the codes: p(z1 | y, z2) is its decoder (a diagonal Gaussian,
``gaussian-perpixel``, by default), q(z2 | z1, y) its encoder and q(y | z1) its classifier.

Which codes: each training batch draws z1 = mu1(x) + exp(log_var1(x)/2) eps1 afresh from
q(z1 | x) (the paper's M2 sees samples of M1's posterior; fresh draws every batch also keep a
classifier trained on a hundred labels from memorizing fixed points). Classifying a test image
(:meth:`M1M2.predict`) uses the mean mu1(x), and so do :meth:`encode` and :meth:`embed`.

The noise of a batch is one array of shape (rows, latent_dim + m1 latent dim): its first
``latent_dim`` columns are M2's eps (one row per (z1, y) pair, as in M2), and the last columns of
its first B rows are eps1 for the B examples' codes (the other rows' last columns are unused).

One parameter vector holds both models: M2's networks first, then M1's parameters. M1's part is
declared accumulated and nothing adds to it, so its gradient is zero in every step and the
optimizer (Adam's or SGD's update is proportional to the gradient's moments) leaves it as it
was; a checkpoint therefore holds M1 and M2 together, and ``minivae evaluate`` classifies images.
"""
from __future__ import annotations

import numpy as np

from ..errors import ValidationError
from ..runtime.validation import check_data
from .m2 import M2, check_labels
from .vae import VAE

__all__ = ["M1M2"]


class _Frozen:
    """M1's parameters as a part of the M1+M2 vector: copied in, gradient always zero."""

    writes_gradient = False

    def __init__(self, m1):
        self.m1 = m1

    def param_shapes(self):
        return dict(self.m1.params.shapes)

    def init(self, params, rng=None):
        for name in self.m1.params.shapes:
            params[name][...] = self.m1.params[name]


class M1M2(M2):
    """M2 on the codes of a frozen VAE M1.

    Parameters
    ----------
    input_dim : int, default 784
        Pixels of the images (M1's input).
    m1 : dict
        M1's configuration (``VAE.get_config()``; a diagonal posterior and a prior N(0, I)).
    m1_params : array, optional
        M1's trained parameter vector (a checkpoint restores it with the rest instead).
    n_classes, latent_dim, hidden, activation, alpha, labelled_weight, dtype, seed
        M2's, as for :class:`~minivae.models.m2.M2`.
    likelihood : default "gaussian-perpixel"
        p(z1 | y, z2): M2's likelihood of the codes.
    """

    kind = "m1m2"

    def __init__(self, input_dim=784, m1=None, n_classes=10, latent_dim=50, hidden=(500,), activation="relu",
                 likelihood="gaussian-perpixel", alpha=1.0, dtype="float32", seed=0, m1_params=None,
                 labelled_weight=1.0):
        if not isinstance(m1, dict):
            raise ValidationError(f"m1: expected the configuration dict of the VAE M1, got {type(m1).__name__}")
        cfg = {k: v for k, v in m1.items() if k != "kind"}
        if m1.get("kind", "vae") != "vae":
            raise ValidationError(f"m1: expected a VAE's configuration, got kind {m1.get('kind')!r}")
        cfg["dtype"] = dtype
        self.m1 = VAE(**cfg)
        if self.m1.posterior != "diagonal" or self.m1.prior.name != "normal":
            raise ValidationError("m1: M1+M2 needs M1 with a diagonal posterior and the N(0, I) prior, got "
                                  f"posterior={self.m1.posterior!r}, prior={self.m1.prior.name!r}")
        if self.m1.input_dim != input_dim:
            raise ValidationError(f"m1: M1 reads {self.m1.input_dim} pixels, input_dim is {input_dim}")
        if m1_params is not None:
            self.m1.params.load(np.asarray(m1_params, dtype=self.m1.params.dtype))
        self._setup(input_dim, n_classes, latent_dim, hidden, activation, likelihood, alpha, dtype, seed,
                    feature_dim=self.m1.latent_dim, labelled_weight=labelled_weight)
        if self.likelihood.needs_unit_interval:
            raise ValidationError(f"likelihood: M1's codes are real numbers, so M2's likelihood must be a density "
                                  f"(gaussian, gaussian-perpixel, laplace), got {self.likelihood.name!r}")
        self.config["m1"] = self.m1.get_config()
        self.noise_dim = self.latent_dim + self.m1.latent_dim
        self._init_params([*self._parts(), _Frozen(self.m1)], self.params_dtype, seed)
        # M1 reads its parameters from the shared vector from now on
        self.m1.params = self.params

    @property
    def needs_unit_interval(self):
        return self.m1.needs_unit_interval

    def _features(self, x, eps=None):
        """z1 for each image: mu1 + sigma1 eps1 when ``eps`` is given (training, bounds), the
        mean mu1 otherwise (classifying, encoding); and M2's part of the noise."""
        mu1, log_var1, _ = self.m1.encoder_forward(x)
        if eps is None:
            return np.array(mu1), None
        d = self.latent_dim
        z1 = mu1 + np.exp(0.5 * log_var1) * eps[:len(x), d:]
        return z1, eps[:, :d]

    def decode(self, z, y):
        """Images E[x | z1] of M1 at z1 = E[z1 | y, z2] of M2, for codes z2 (N, latent_dim)."""
        z = check_data(z, name="z", n_features=self.latent_dim, dtype=self.dtype)
        y = check_labels(y, len(z), self.n_classes, name="y", allow_unlabelled=False)
        return self.m1._generate(np.ascontiguousarray(self._decode_features(z, y)))

    def reconstruct(self, x):
        return self.decode(self.embed(x), self.predict(x))
