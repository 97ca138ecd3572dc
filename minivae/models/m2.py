"""The semi-supervised VAE of Kingma, Rezende, Mohamed and Welling (2014), "M2", and the plain
classifier it is compared with (lecture 003, item 24 of the lecture index).

Model
-----
A class y in {0, ..., K-1} and a continuous code z generate x:

    p(y) = 1/K (uniform),   p(z) = N(0, I),   p(x | y, z) = the decoder on [z, onehot(y)].

Inference: a classifier q(y | x) = softmax(a(x)) (an MLP, logits a) and an encoder
q(z | x, y) = N(mu, diag(exp(log_var))) on [x, onehot(y)].

The two bounds
--------------
For a labelled pair (x, y), Jensen on log p(x, y) = log E_q(z|x,y) [p(x|y,z) p(y) p(z) / q(z|x,y)]:

    -L(x, y) = -E_q(z|x,y) log p(x | y, z) + KL(q(z | x, y) || p(z)) - log p(y)
             = nll + KL_z + log K                                           (one sample of z).

For an unlabelled x, y is a second latent variable with posterior q(y | x) q(z | x, y):

    -U(x) = sum_y q(y | x) (-L(x, y)) - H(q(y | x))
          = sum_y pi_y (l_y + log pi_y),   pi = q(y | x),  l_y = -L(x, y),

summing the K classes exactly (no estimator of the discrete expectation is needed).

The loss of a mini-batch (the paper's J^alpha, in nats per example)
--------------------------------------------------------------------
With B_l labelled and B_u unlabelled rows,

    loss = lambda (1/B_l) sum_labelled l(x, y) + (1/B_u) sum_unlabelled -U(x)
           + alpha (1/B_l) sum_labelled -log q(y | x),

a term dropped when its rows are absent. ``alpha`` weighs the classification term and
``lambda`` (``labelled_weight``, default 1) the labelled bound, both against the unlabelled
bound's mean. The paper's objective is a sum over the data set, every example counted once,

    J = sum_labelled [l(x, y) + beta (-log q(y | x))] + sum_unlabelled -U(x),

with beta = 0.1 N / N_l per labelled example in its code (N training examples, N_l of them
labelled, N_u not; its alpha = 0.1 N over the labelled examples' mean). A random batch estimates
each mean over its own rows, so the loss above estimates J / N_u when lambda = N_l / N_u and
alpha = beta N_l / N_u = 0.1 N / N_u (about 0.1), whatever mix of rows a batch holds: the command
line's ``--weighting dataset``. Its default, ``--weighting mean``, keeps lambda = 1 and alpha =
beta: each kind of example then weighs as much as the other however few are labelled, every
labelled example N_u / N_l times what it weighs in J.

Gradients (derived here; checked against central differences in tests/test_m2.py)
------------------------------------------------------------------------------------
Each row r of the stacked batch (every labelled pair, and every unlabelled x with each of the K
classes) carries a weight w_r = dloss/dl_r: lambda/B_l for a labelled row, pi_uk / B_u for the row
(x_u, k). The decoder, the reparameterization z = mu + exp(log_var/2) eps and the closed-form KL
then backpropagate w_r times their usual per-example derivatives (lecture 000's steps 5-6):

    dKL/dmu = mu,   dKL/dlog_var = (exp(log_var) - 1) / 2.

The classifier's logits a_u of an unlabelled x: with g_k = l_k + log pi_k and
d pi_k / d a_j = pi_k (delta_kj - pi_j),

    d(-U)/d a_j = sum_k (g_k + 1) pi_k (delta_kj - pi_j) = pi_j (g_j - sum_k pi_k g_k)
                = pi_j (l_j + log pi_j + U(x))                 (the +1 cancels: sum_k pi_k = 1),

so the classifier learns from U to move probability toward the classes whose bound
l_j + log pi_j is below the average -U. The classification term adds, for a labelled x,

    d(-log pi_y)/d a = pi - onehot(y).

The stacked rows go through each network once per step, so every backward pass writes its
gradient (the contract of :mod:`minivae.params`). The encoder's first layer is factored
(:meth:`M2._encoder_forward`): an unlabelled example's features are multiplied by the weights once,
not once per class.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import InputTypeError, ValidationError
from ..estimators import reparameterize, reparameterize_backward
from ..likelihoods import make_likelihood
from ..logspace import _one_hot, log_softmax
from ..nn import ACTIVATIONS, MLP
from ..runtime.validation import (check_choice, check_data, check_float_dtype, check_int,
                                  check_positive_float, check_positive_int, check_rng)
from .base import Model, check_hidden

__all__ = ["M2", "Classifier", "check_labels", "unlabelled_bound", "unlabelled_bound_backward"]


def unlabelled_bound(logits, ell):
    """-U(x) = sum_y pi_y (l_y + log pi_y), pi = softmax(logits), per example.

    Parameters
    ----------
    logits : (B, K) the classifier's logits a(x)
    ell : (B, K) the labelled bounds l_y = -L(x, y) of each example with each class

    Returns
    -------
    (B,)
    """
    logpi = log_softmax(logits)
    return np.sum(np.exp(logpi) * (ell + logpi), axis=1)


def unlabelled_bound_backward(logits, ell):
    """Derivatives of :func:`unlabelled_bound`, each (B, K):

    d(-U)/d l_y = pi_y,   d(-U)/d a_j = pi_j (l_j + log pi_j + U)   (module docstring).
    """
    logpi = log_softmax(logits)
    pi = np.exp(logpi)
    g = ell + logpi
    neg_u = np.sum(pi * g, axis=1, keepdims=True)
    return pi, pi * (g - neg_u)


def check_labels(labels, n, n_classes, name="labels", allow_unlabelled=True):
    """Integer labels of n examples, each in [0, n_classes) or -1 (unlabelled), as int64."""
    if labels is None:
        if not allow_unlabelled:
            raise ValidationError(f"{name}: expected the class of every example ({n} labels 0..{n_classes - 1}), "
                                  f"got None")
        return np.full(n, -1, dtype=np.int64)
    if not isinstance(labels, np.ndarray):
        if isinstance(labels, (list, tuple)):
            labels = np.asarray(labels)
        else:
            raise InputTypeError(f"{name}: expected an integer array of shape ({n},), got {type(labels).__name__}")
    if labels.dtype.kind not in "iu":
        raise InputTypeError(f"{name}: expected integer class labels, got dtype {labels.dtype}")
    if labels.shape != (n,):
        raise ValidationError(f"{name}: expected one label per example, shape ({n},), got {labels.shape}")
    lo = -1 if allow_unlabelled else 0
    if labels.size and (labels.min() < lo or labels.max() >= n_classes):
        what = f"-1 (unlabelled) or 0..{n_classes - 1}" if allow_unlabelled else f"0..{n_classes - 1}"
        raise ValidationError(f"{name}: expected labels {what}, got values in [{labels.min()}, {labels.max()}]")
    return labels.astype(np.int64)


class _LabelModel(Model):
    """What the models that learn from labels share: the class count and the classifier."""

    #: the Trainer passes ``labels=`` (-1 for an unlabelled example) to this model's steps
    needs_labels = True
    data_parallel = False

    def check_labels(self, labels, n, allow_unlabelled=True):
        return check_labels(labels, n, self.n_classes, allow_unlabelled=allow_unlabelled)

    def _features(self, x, eps=None):
        """What the classifier and the networks see, and the noise of the stacked rows: x itself
        and eps (M1+M2 maps x to a code of its M1, drawn with part of eps)."""
        return x, eps

    def class_probabilities(self, x, batch_size=2000):
        """q(y | x) for each row of x: (N, n_classes) probabilities."""
        x = self.check_x(x)
        out = [np.exp(log_softmax(self.classifier.forward(self.params, self._features(x[s:s + batch_size])[0])[0]))
               for s in range(0, len(x), batch_size)]
        return np.concatenate(out)

    def predict(self, x):
        """argmax_y q(y | x) for each row of x: (N,) int64."""
        return np.argmax(self.class_probabilities(x), axis=1).astype(np.int64)


class Classifier(_LabelModel):
    """The baseline: the same classifier q(y | x) (an MLP with a softmax) trained on the
    labelled examples alone, by the loss mean_l -log q(y | x) (gradient pi - onehot(y) on the
    logits, as in :class:`M2`)."""

    kind = "classifier"

    def __init__(self, input_dim=784, n_classes=10, hidden=(500,), activation="relu", dtype="float32", seed=0):
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.n_classes = check_positive_int(n_classes, "n_classes")
        if self.n_classes < 2:
            raise ValidationError(f"n_classes: expected at least 2 classes, got {self.n_classes}")
        hidden = check_hidden(hidden)
        check_choice(activation, "activation", ACTIVATIONS)
        dtype = check_float_dtype(dtype)
        seed = check_int(seed, "seed", minimum=0)
        self.latent_dim = self.n_classes
        self.config = dict(input_dim=self.input_dim, n_classes=self.n_classes, hidden=list(hidden),
                           activation=activation, dtype=dtype.name, seed=seed)
        self.classifier = MLP((self.input_dim, *hidden, self.n_classes), activation, prefix="cls")
        self._init_params([self.classifier], dtype, seed)

    needs_unit_interval = False

    def forward_loss(self, x, eps=None, labels=None):
        return self._loss(x, labels, grad=False)

    def loss_and_grad(self, x, eps=None, labels=None):
        return self._loss(x, labels, grad=True)

    def _loss(self, x, labels, grad):
        labels = self.check_labels(labels, len(x), allow_unlabelled=False)
        P = self.params
        a, cache = self.classifier.forward(P, x)
        logp = log_softmax(a)
        ce = -logp[np.arange(len(x)), labels]
        if grad:
            da = np.exp(logp)
            da[np.arange(len(x)), labels] -= 1
            self.classifier.backward(P, cache, da / len(x), need_dx=False)
        value = float(ce.mean())
        return {"loss": value, "class": value}

    def loss(self, x, labels, eps=None, rng=None):
        return self.forward_loss(self.check_x(x), None, labels)

    def train_step(self, x, optimizer, rng, labels=None):
        stats = self.loss_and_grad(x, None, labels)
        optimizer.step()
        return stats


class M2(_LabelModel):
    """The semi-supervised VAE M2 (see the module docstring for the bounds and gradients).

    Parameters
    ----------
    input_dim : int, default 784
    n_classes : int, default 10
    latent_dim : int, default 50
    hidden : sequence of int, default (500,)
        Hidden widths of the classifier, the encoder and (reversed) the decoder.
    activation : {"relu", "tanh", "sigmoid", "softplus"}
    likelihood : str or dict
        p(x | y, z); a likelihood without parameters of its own (bernoulli, gaussian,
        gaussian-perpixel, laplace), since each row's nll carries its own weight.
    alpha : float, default 1
        Weight of the classification term -log q(y | x), per labelled example.
    labelled_weight : float, default 1
        lambda, the weight of the labelled bound's mean against the unlabelled bound's.
    dtype, seed : as for :class:`~minivae.models.vae.VAE`.
    """

    kind = "m2"

    def __init__(self, input_dim=784, n_classes=10, latent_dim=50, hidden=(500,), activation="relu",
                 likelihood="bernoulli", alpha=1.0, dtype="float32", seed=0, labelled_weight=1.0):
        self._setup(input_dim, n_classes, latent_dim, hidden, activation, likelihood, alpha, dtype, seed,
                    labelled_weight=labelled_weight)
        self._init_params(self._parts(), self.params_dtype, seed)

    def _setup(self, input_dim, n_classes, latent_dim, hidden, activation, likelihood, alpha, dtype, seed,
               feature_dim=None, labelled_weight=1.0):
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.n_classes = K = check_positive_int(n_classes, "n_classes")
        if K < 2:
            raise ValidationError(f"n_classes: expected at least 2 classes, got {K}")
        self.latent_dim = d = check_positive_int(latent_dim, "latent_dim")
        hidden = check_hidden(hidden)
        check_choice(activation, "activation", ACTIVATIONS)
        self.alpha = check_positive_float(alpha, "alpha", allow_zero=True)
        self.labelled_weight = check_positive_float(labelled_weight, "labelled_weight", allow_zero=True)
        self.params_dtype = dtype = check_float_dtype(dtype)
        seed = check_int(seed, "seed", minimum=0)
        self.likelihood = make_likelihood(likelihood)
        if self.likelihood.param_shapes():
            raise ValidationError(f"likelihood: M2 weighs each (x, y) row's -log p(x | y, z) by q(y | x), so it "
                                  f"needs a likelihood without learned parameters (bernoulli, gaussian, "
                                  f"gaussian-perpixel, laplace), got {self.likelihood.name!r}")
        self.noise_dim = d
        self.config = dict(input_dim=self.input_dim, n_classes=K, latent_dim=d, hidden=list(hidden),
                           activation=activation, likelihood=self.likelihood.config(), alpha=self.alpha,
                           labelled_weight=self.labelled_weight, dtype=dtype.name, seed=seed)
        D = self.input_dim if feature_dim is None else feature_dim
        self.feature_dim = D
        self.classifier = MLP((D, *hidden, K), activation, prefix="cls")
        self.encoder = MLP((D + K, *hidden, 2 * d), activation, prefix="enc_y")
        self.decoder = MLP((d + K, *hidden[::-1], self.likelihood.out_dim(D)), activation, prefix="dec_y")

    def _parts(self):
        return [self.classifier, self.encoder, self.decoder]

    # -- noise: one row of eps per (x, y) pair of the stacked batch ------------------------------
    def n_rows(self, labels):
        """Rows of the stacked batch: one per labelled example, n_classes per unlabelled one."""
        n_lab = int(np.count_nonzero(labels >= 0))
        return n_lab + self.n_classes * (len(labels) - n_lab)

    def sample_noise(self, n, rng, labels=None):
        """eps ~ N(0, I) for the rows of a batch of n examples with these labels (None: all
        unlabelled): shape (n_rows, noise_dim), labelled rows first, then each unlabelled
        example's n_classes rows."""
        labels = check_labels(labels, n, self.n_classes)
        return rng.standard_normal((self.n_rows(labels), self.noise_dim), dtype=self.dtype)

    def check_eps(self, eps, n, labels=None):
        rows = self.n_rows(check_labels(labels, n, self.n_classes))
        return _check_rows(eps, (rows, self.noise_dim), self.dtype)

    # -- the stacked batch -----------------------------------------------------------------------
    def _stack(self, h, labels):
        """The (feature, one-hot class) rows: labelled pairs first, then every unlabelled
        example repeated with each class. Returns the example of each row ``src`` (R,), the
        features h[src] (R, D), the classes (R,) and their one-hots (R, K), and the masks."""
        K = self.n_classes
        lab = labels >= 0
        unl = ~lab
        n_u = int(np.count_nonzero(unl))
        src = np.concatenate([np.flatnonzero(lab), np.repeat(np.flatnonzero(unl), K)])
        classes = np.concatenate([labels[lab], np.tile(np.arange(K), n_u)])
        return src, h[src], classes, _one_hot(classes, K, h.dtype), lab, unl

    # -- the encoder q(z | x, y) on stacked rows, its first layer factored -----------------------
    def _encoder_forward(self, h, src, classes):
        """The encoder's output on the rows [h[src], onehot(classes)] (R, 2 latent_dim) and its
        cache, without multiplying any example's features more than once.

        The first layer's input is a concatenation, so with W = [W_x; W_y] (D and K rows),

            [h_r, onehot(y_r)] W + b = (h W_x)[src_r] + W_y[y_r] + b,

        and an unlabelled example, which appears in K rows, costs one product h W_x instead of
        K: the largest product of the step shrinks K-fold for those rows. The layers above run
        as usual (``MLP.forward(start=1)``)."""
        P, enc, D = self.params, self.encoder, self.feature_dim
        W = P[f"{enc.prefix}.0.W"]
        pre = (h @ W[:D])[src]
        pre += W[D:][classes]
        pre += P[f"{enc.prefix}.0.b"]
        if enc.n_layers == 1:
            return pre, (pre, None, None)
        post = enc.act(pre)
        out, cache = enc.forward(P, post, start=1)
        return out, (pre, post, cache)

    def _encoder_backward(self, h, src_sum, onehot, cache, de_out):
        """Backward pass of :meth:`_encoder_forward`: writes the encoder's gradient. By the
        factored first layer, with g_r = dL/d(pre-activation of row r),

            dL/dW_x = h^T G,   G_b = sum over the rows r of example b of g_r,
            dL/dW_y = onehot^T g,   dL/db = sum_r g_r,

        so the K rows of an unlabelled example are summed before the one product with h.
        ``src_sum(g)`` forms G from the rows (B, hidden)."""
        P, enc, D = self.params, self.encoder, self.feature_dim
        pre, post, rest = cache
        if enc.n_layers == 1:
            g = de_out
        else:
            g = enc.act_backward(enc.backward(P, rest, de_out, need_dx=True, start=1), pre, post, inplace=True)
        dW = P.g(f"{enc.prefix}.0.W")
        np.matmul(h.T, src_sum(g), out=dW[:D])
        np.matmul(onehot.T, g, out=dW[D:])
        np.add.reduce(g, axis=0, out=P.g(f"{enc.prefix}.0.b"))

    def _terms(self, h, eps, labels, grad):
        """The loss and its parts on features h (B, D) with noise eps (rows, latent_dim); with
        ``grad`` the networks' backward passes write the gradient (the features are data: x, or
        M1+M2's codes of a frozen M1, so nothing flows back into them)."""
        P, K, d = self.params, self.n_classes, self.latent_dim
        src, feats, classes, onehot, lab, unl = self._stack(h, labels)
        n_l, n_u = int(lab.sum()), int(unl.sum())
        B = len(h)
        # classifier on every example: logits a, log pi
        a, cls_cache = self.classifier.forward(P, h)
        logpi = log_softmax(a)
        pi = np.exp(logpi)
        # encoder q(z | x, y) and decoder p(x | y, z) on the stacked rows
        e_out, enc_cache = self._encoder_forward(h, src, classes)
        mu, log_var = e_out[:, :d], e_out[:, d:]
        z, std = reparameterize(mu, log_var, eps)
        dec_in = np.concatenate([z, onehot], axis=1)
        out, dec_cache = self.decoder.forward(P, dec_in)
        nll, dout = self.likelihood.nll_and_grad(feats, out, P, weight=1.0 if grad else None)
        kl = 0.5 * np.sum(np.expm1(log_var) - log_var + mu * mu, axis=1)
        ell = nll + kl + math.log(K)                               # -L(x, y) per row
        # unlabelled: -U = sum_k pi_k (l_k + log pi_k)
        pi_u, logpi_u = pi[unl], logpi[unl]
        ell_u = ell[n_l:].reshape(n_u, K)
        neg_u = unlabelled_bound(a[unl], ell_u)
        ce = -logpi[lab, labels[lab]]
        loss = 0.0
        if n_l:
            loss += self.labelled_weight * ell[:n_l].mean() + self.alpha * ce.mean()
        if n_u:
            loss += neg_u.mean()
        # per-example parts of the bound: expected nll and expected KL (z's, plus y's: log K for
        # a labelled example, KL(q(y|x) || p(y)) = sum pi log pi + log K for an unlabelled one)
        nll_u = np.sum(pi_u * nll[n_l:].reshape(n_u, K), axis=1)
        klz_u = np.sum(pi_u * kl[n_l:].reshape(n_u, K), axis=1)
        kly_u = np.sum(pi_u * logpi_u, axis=1) + math.log(K)
        recon = (nll[:n_l].sum() + nll_u.sum()) / B
        kl_all = (kl[:n_l].sum() + n_l * math.log(K) + klz_u.sum() + kly_u.sum()) / B
        stats = {"loss": float(loss), "recon": float(recon), "kl": float(kl_all),
                 "bound_labelled": float(ell[:n_l].mean()) if n_l else float("nan"),
                 "bound_unlabelled": float(neg_u.mean()) if n_u else float("nan"),
                 "class": float(ce.mean()) if n_l else float("nan")}
        if not grad:
            return stats
        # row weights w_r = dloss / dl_r
        w = np.empty(len(feats), dtype=h.dtype)
        if n_l:
            w[:n_l] = self.labelled_weight / n_l
        if n_u:
            dell_u, da_u = unlabelled_bound_backward(a[unl], ell_u)
            w[n_l:] = (dell_u / n_u).reshape(-1)
        dout *= w[:, None]
        ddec_in = self.decoder.backward(P, dec_cache, dout)
        dmu, dlog_var = reparameterize_backward(ddec_in[:, :d], eps, std)
        de_out = np.empty_like(e_out)
        de_out[:, :d] = dmu + w[:, None] * mu
        de_out[:, d:] = dlog_var + w[:, None] * (0.5 * np.expm1(log_var))
        def src_sum(g):                 # rows -> examples: labelled rows 1:1, unlabelled in groups of K
            G = np.empty((B, g.shape[1]), dtype=g.dtype)
            G[lab] = g[:n_l]
            G[unl] = g[n_l:].reshape(n_u, K, g.shape[1]).sum(axis=1)
            return G
        self._encoder_backward(h, src_sum, onehot, enc_cache, de_out)
        # the classifier's logits
        da = np.zeros_like(a)
        if n_u:
            da[unl] = da_u / n_u
        if n_l:
            g = pi[lab]
            g[np.arange(n_l), labels[lab]] -= 1
            da[lab] = (self.alpha / n_l) * g
        self.classifier.backward(P, cls_cache, da, need_dx=False)
        return stats

    # -- the model's interface -------------------------------------------------------------------
    def forward_loss(self, x, eps, labels=None):
        """The loss and its parts on a batch, without gradients (x, eps already validated).

        Returns a dict of floats: ``loss`` (the objective above), ``recon`` and ``kl`` (the mean
        over the batch of the expected -log p(x | y, z) and of the KL terms, so recon + kl is the
        mean per-example bound -L or -U), ``bound_labelled``, ``bound_unlabelled`` and ``class``
        (mean -log q(y | x) of the labelled examples); NaN for a part without its rows.
        """
        labels = check_labels(labels, len(x), self.n_classes)
        return self._terms(*self._features(x, eps), labels, grad=False)

    def loss_and_grad(self, x, eps, labels=None):
        """:meth:`forward_loss` with the gradient written into ``params.grad``."""
        labels = check_labels(labels, len(x), self.n_classes)
        self.params.zero_accumulated()
        return self._terms(*self._features(x, eps), labels, grad=True)

    def loss(self, x, labels=None, eps=None, rng=None):
        """The loss on a batch (validated), noise ``eps`` or drawn from ``rng``."""
        x = self.check_x(x)
        labels = check_labels(labels, len(x), self.n_classes)
        eps = self._noise_for(x, labels, eps, rng)
        return self.forward_loss(x, eps, labels)

    def _noise_for(self, x, labels, eps, rng):
        if eps is None:
            if rng is None:
                raise ValidationError("eps or rng: the loss needs noise eps or a numpy.random.Generator, got neither")
            return self.sample_noise(len(x), check_rng(rng), labels)
        return self.check_eps(eps, len(x), labels)

    def train_step(self, x, optimizer, rng, labels=None):
        """Draw the noise of the stacked rows, compute the loss and gradient, step."""
        eps = self.sample_noise(len(x), rng, labels)
        stats = self.loss_and_grad(x, eps, labels)
        optimizer.step()
        return stats

    # -- using a trained model -------------------------------------------------------------------
    def encode(self, x, y):
        """q(z | x, y): (mu, log_var), each (N, latent_dim), for examples x and classes y."""
        x = self.check_x(x)
        y = check_labels(y, len(x), self.n_classes, name="y", allow_unlabelled=False)
        h = self._features(x)[0]
        e, _ = self._encoder_forward(h, np.arange(len(h)), y)
        return np.array(e[:, :self.latent_dim]), np.array(e[:, self.latent_dim:])

    def embed(self, x):
        """The posterior mean of z given x and the class the classifier predicts."""
        return self.encode(x, self.predict(x))[0]

    def _decode_features(self, z, y):
        out, _ = self.decoder.forward(self.params, np.concatenate([z, _one_hot(y, self.n_classes, z.dtype)], 1))
        return self.likelihood.mean(out, self.params)

    def decode(self, z, y):
        """E[x | y, z] for codes z (N, latent_dim) and classes y (N,)."""
        z = check_data(z, name="z", n_features=self.latent_dim, dtype=self.dtype)
        y = check_labels(y, len(z), self.n_classes, name="y", allow_unlabelled=False)
        return self._decode_features(z, y)

    def reconstruct(self, x):
        return self.decode(self.embed(x), self.predict(x))

    def sample(self, n, rng, y=None):
        """n draws of E[x | y, z] with z ~ N(0, I) and y ~ p(y) (uniform) unless given."""
        n = check_positive_int(n, "n")
        rng = check_rng(rng)
        y = rng.integers(self.n_classes, size=n) if y is None else check_labels(
            y, n, self.n_classes, name="y", allow_unlabelled=False)
        z = rng.standard_normal((n, self.latent_dim)).astype(self.dtype)
        return self.decode(z, y)


def _check_rows(eps, shape, dtype):
    eps = np.asarray(eps)
    if eps.shape != shape:
        raise ValidationError(f"eps: expected noise of shape {shape} (one row per labelled example and "
                              f"n_classes per unlabelled one), got {eps.shape}")
    if not np.all(np.isfinite(eps)):
        raise ValidationError("eps: expected finite noise values, found NaN or infinity")
    return np.ascontiguousarray(eps, dtype=dtype)
