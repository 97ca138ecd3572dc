"""Disentanglement metrics: the FactorVAE score and the mutual information gap (MIG).

Lecture 001 says that the beta-VAE objective E_q[log p(x|z)] - beta KL(q(z|x) || p(z)), with
beta > 1, favours disentangled representations: each latent coordinate follows one factor of
variation of the data and ignores the others. Both metrics here turn that into a number, given
data whose factors are known (:mod:`minivae.datasets.sprites`) and codes of those data, for example a
trained VAE's posterior means.

Inputs, for both metrics
------------------------
``codes``   (n, d) array: the code of each example (or use :func:`encode_all` / :func:`score_encoder`
            with any callable from (n, D) images to (n, d) codes);
``factors`` (n, K) array of the factor of each example, or an object with an ``indices``
            attribute such as :class:`minivae.datasets.sprites.SpriteData`. Factors are treated as discrete:
            each distinct value in a column is one class (indices or values give the same result).

A factor that takes a single value in the data carries no information (entropy 0). Both metrics
leave it out and list it under ``"excluded_factors"``; if no factor is left they raise.

FactorVAE score (Kim and Mnih 2018)
-----------------------------------
1. Divide each code dimension by its standard deviation over all n examples (ddof 1), so that
   its scale does not matter. Dimensions whose variance over the data is at most
   ``collapse_threshold`` (default 0.05, the value of disentanglement_lib's configuration) are
   *collapsed*: a VAE's unused latents have posterior means near 0 for every input; they are
   discarded. This is the one place where the scale of a code matters: the threshold is in the
   units of the raw codes (for a VAE, those of the N(0, I) prior).
2. A vote: draw a factor k uniformly, draw one example and take its value v of factor k, then
   draw L = ``batch_size`` examples independently from those with factor k equal to v (with
   replacement: i.i.d. draws from the data's conditional distribution, whatever the sizes of
   the groups). The dimension with the smallest variance (ddof 1) of the normalized codes over
   the batch is the vote's dimension; a code that captures factor k in one dimension makes that
   variance (near) zero.
3. The classifier maps each dimension to the factor it received most votes for among
   ``n_train`` votes (ties: the lower factor; a dimension that received none: the factor most
   frequent among all training votes). The score is its accuracy on ``n_eval`` fresh votes:
   held-out accuracy, because the training accuracy of a random code is above chance (each
   dimension's majority follows the noise of its own votes). The training accuracy is returned
   too. The defaults (L = 64, 10,000 training and 5,000 eval votes, threshold 0.05) are those
   of disentanglement_lib's standard configuration; 5,000 eval votes give the score a standard
   error of at most 0.007.

Chance level is 1 / K (K factors kept): for codes independent of the factors, the eval votes'
factor is independent of their dimension. The codes of the examples are computed once: for a
deterministic encoder (posterior means) that equals encoding each sampled batch afresh.

MIG (Chen et al. 2018)
----------------------
MIG = (1/K) sum_k [I(c_(1); v_k) - I(c_(2); v_k)] / H(v_k), where c_(1), c_(2) are the code
dimensions with the largest and second largest mutual information with factor v_k. Here the
mutual information is that of the empirical joint distribution of (bin of c_j, v_k): each code
dimension is cut into ``n_bins`` (default 20) equal-width bins over its range, as
disentanglement_lib does (Chen et al. estimate it from q(z|x) instead), so

    I(c_j; v_k) = sum_{b, v} p(b, v) log [p(b, v) / (p(b) p(v))],   H(v_k) = -sum_v p(v) log p(v)

in nats, from counts over the n examples (computed as H(b) + H(v) - H(b, v), the same sum).
MIG is 1 when each factor is a function of one code dimension and every other dimension is
independent of it, as for the true factors of a full grid (at most ``n_bins`` equally spaced
values of a factor fall in distinct bins). It is near 0 for codes independent of the factors:
the estimate of each such I(c_j; v_k) is biased upwards by about (n_bins - 1)(n_v - 1) / (2 n)
nats, the same for every such dimension, so the bias mostly cancels in the gap. With a single
code dimension the second largest information is taken as 0.
"""
from __future__ import annotations

import numpy as np

from .errors import InputTypeError, ValidationError
from .runtime.validation import (check_array, check_data, check_positive_float,
                                 check_positive_int, check_rng)

__all__ = ["factor_labels", "encode_all", "factorvae_score", "mig", "score_encoder"]


# ---- inputs -------------------------------------------------------------------------------------

def factor_labels(factors, n=None, name="factors"):
    """Turn factors into class labels 0..n_values-1 per column.

    Parameters
    ----------
    factors : array_like (n, K), or an object with an ``indices`` attribute
        One column per factor; each distinct value of a column is one class.
    n : int, optional
        Expected number of rows (the number of codes).

    Returns
    -------
    labels : ndarray of int64, shape (n, K)
    n_values : ndarray of int64, shape (K,)
        Number of distinct values of each factor.
    """
    if factors is None:
        raise ValidationError(f"{name}: disentanglement metrics need the ground-truth factors of "
                              "every example, an (n, K) array, got None (data sets such as MNIST "
                              "have labels, not factors; minivae.datasets.sprites provides factors)")
    if not isinstance(factors, (np.ndarray, list, tuple)):
        if hasattr(factors, "indices"):
            factors = factors.indices
        else:
            raise InputTypeError(f"{name}: expected an (n, K) array of factors or data with an "
                                 f"'indices' attribute (minivae.datasets.sprites.SpriteData), got "
                                 f"{type(factors).__name__}, which has no factors")
    factors = check_array(factors, name, ndim=2)
    if factors.shape[1] == 0:
        raise ValidationError(f"{name}: expected at least one factor column, got shape {factors.shape}")
    if n is not None and factors.shape[0] != n:
        raise ValidationError(f"{name}: expected one row per code ({n} rows), got {factors.shape[0]} "
                              f"rows (shape {factors.shape})")
    if not np.all(np.isfinite(factors)):
        raise ValidationError(f"{name}: expected finite factor values, found NaN or infinity")
    labels = np.empty(factors.shape, dtype=np.int64)
    n_values = np.empty(factors.shape[1], dtype=np.int64)
    for k in range(factors.shape[1]):
        uniq, labels[:, k] = np.unique(factors[:, k], return_inverse=True)
        n_values[k] = len(uniq)
    return labels, n_values


def _check_codes(codes):
    if callable(codes):
        raise InputTypeError("codes: expected an (n, d) array of codes, got a callable; encode the "
                             "data first with encode_all(encode, x), or call score_encoder(encode, "
                             "x, factors)")
    codes = check_array(codes, "codes", ndim=2)
    if codes.shape[0] == 0 or codes.shape[1] == 0:
        raise ValidationError(f"codes: expected at least one example and one dimension, got shape {codes.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValidationError("codes: expected finite codes, found NaN or infinity")
    return codes.astype(np.float64, copy=False)


def _names(names, k, factors=None):
    if names is None and not isinstance(factors, (np.ndarray, list, tuple)):
        names = getattr(factors, "names", None)      # SpriteData knows its factors' names
    if names is None:
        return [f"factor {i}" for i in range(k)]
    names = [str(s) for s in names]
    if len(names) != k:
        raise ValidationError(f"names: expected one name per factor ({k}), got {len(names)}")
    return names


def _kept(n_values, names):
    """Indices of the factors with more than one value, and the names of the others."""
    keep = np.flatnonzero(n_values > 1)
    if keep.size == 0:
        raise ValidationError("factors: every factor takes a single value in these data, so no "
                              "factor can be measured (each needs at least two values)")
    excluded = [names[i] for i in np.flatnonzero(n_values <= 1)]
    return keep, excluded


def encode_all(encode, x, batch_size=1024):
    """Codes of every row of ``x``: ``encode`` applied to consecutive batches, stacked.

    Parameters
    ----------
    encode : callable
        (m, D) float array -> (m, d) array of codes, e.g. a trained VAE's posterior mean.
    x : ndarray, shape (n, D)
    batch_size : int
        Rows per call of ``encode`` (bounds the memory of one call).

    Returns
    -------
    ndarray of float64, shape (n, d)
    """
    if not callable(encode):
        raise InputTypeError(f"encode: expected a callable from (n, D) images to (n, d) codes, "
                             f"got {type(encode).__name__}")
    x = check_data(x, "x")
    batch_size = check_positive_int(batch_size, "batch_size")
    parts = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        c = np.asarray(encode(xb))
        if c.ndim != 2 or c.shape[0] != len(xb):
            hint = (" (a pair such as a VAE's encode() -> (mu, log_var)? pass model.embed, the "
                    "posterior mean)" if c.ndim == 3 and c.shape[0] == 2 else "")
            raise ValidationError(f"encode: expected an array of shape ({len(xb)}, d) for {len(xb)} "
                                  f"rows, got shape {c.shape}{hint}")
        if parts and c.shape[1] != parts[0].shape[1]:
            raise ValidationError(f"encode: returned {c.shape[1]} code dimensions, earlier "
                                  f"{parts[0].shape[1]}")
        parts.append(np.asarray(c, dtype=np.float64))
    return _check_codes(np.concatenate(parts))


# ---- FactorVAE score ----------------------------------------------------------------------------

def factorvae_score(codes, factors, *, batch_size=64, n_train=10000, n_eval=5000,
                    collapse_threshold=0.05, rng=0, names=None):
    """The FactorVAE disentanglement score of ``codes`` (see the module docstring).

    Parameters
    ----------
    codes : ndarray, shape (n, d)
    factors : ndarray (n, K) or data with ``indices``
    batch_size : int, default 64
        L, examples per vote; at most n.
    n_train, n_eval : int, default 10000 and 5000
        Votes that train the majority-vote classifier, and fresh votes that score it.
    collapse_threshold : float, default 0.05
        Dimensions whose variance over the data is at most this are discarded (0 keeps every
        dimension that is not constant).
    rng : numpy.random.Generator or int
    names : sequence of str, optional
        Factor names for the result.

    Returns
    -------
    dict
        ``score`` (= ``eval_accuracy``), ``train_accuracy``, ``chance`` (1 / factors kept),
        ``classifier`` (factor name per code dimension, None for a discarded one),
        ``active_dims``, ``n_active``, ``excluded_factors`` and the settings ``batch_size``,
        ``n_train``, ``n_eval``, ``collapse_threshold``, ``n_examples``, ``code_dim``.
    """
    codes = _check_codes(codes)
    n, d = codes.shape
    labels, n_values = factor_labels(factors, n)
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size < 2:
        raise ValidationError(f"batch_size: expected at least 2 examples per vote (a variance needs "
                              f"two), got {batch_size}")
    if n < batch_size:
        raise ValidationError(f"batch_size: expected at most the number of examples ({n}), got "
                              f"{batch_size}; use fewer examples per vote or more data")
    n_train = check_positive_int(n_train, "n_train")
    n_eval = check_positive_int(n_eval, "n_eval")
    threshold = check_positive_float(collapse_threshold, "collapse_threshold", allow_zero=True)
    rng = check_rng(rng)
    names = _names(names, labels.shape[1], factors)
    keep, excluded = _kept(n_values, names)
    labels, n_values = labels[:, keep], n_values[keep]

    variance = np.var(codes, axis=0, ddof=1)
    active = np.flatnonzero(variance > threshold)
    if active.size:
        z = codes[:, active] / np.sqrt(variance[active])
    else:
        # nothing left to read: one dimension that every vote picks, so the classifier
        # answers the most frequent training factor
        z = np.zeros((n, 1))
    sampler = _VoteSampler(labels, n_values)
    dims_tr, k_tr = sampler.votes(z, n_train, batch_size, rng)
    dims_ev, k_ev = sampler.votes(z, n_eval, batch_size, rng)

    n_kept = len(keep)
    counts = np.bincount(dims_tr * n_kept + k_tr, minlength=z.shape[1] * n_kept).reshape(-1, n_kept)
    overall = int(np.argmax(np.bincount(k_tr, minlength=n_kept)))
    classifier = np.where(counts.sum(axis=1) > 0, np.argmax(counts, axis=1), overall)
    train_acc = float(np.mean(classifier[dims_tr] == k_tr))
    eval_acc = float(np.mean(classifier[dims_ev] == k_ev))

    per_dim = [None] * d
    for i, j in enumerate(active):
        per_dim[j] = names[keep[classifier[i]]]
    return {"score": eval_acc, "eval_accuracy": eval_acc, "train_accuracy": train_acc,
            "chance": 1.0 / n_kept, "classifier": per_dim, "active_dims": active.tolist(),
            "n_active": int(active.size), "excluded_factors": excluded,
            "batch_size": batch_size, "n_train": n_train, "n_eval": n_eval,
            "collapse_threshold": threshold, "n_examples": n, "code_dim": d}


class _VoteSampler:
    """Draws the batches of the votes: rows sharing the value of one factor, vectorized."""

    def __init__(self, labels, n_values):
        n, k = labels.shape
        self.labels = labels
        self.n = n
        # for factor k, the rows sorted by their value of k, stored at offset k * n
        order = np.argsort(labels, axis=0, kind="stable")
        self.order = order.T.reshape(-1)
        width = int(n_values.max())
        self.start = np.zeros((k, width), dtype=np.int64)
        self.count = np.zeros((k, width), dtype=np.int64)
        for f in range(k):
            c = np.bincount(labels[:, f], minlength=width)
            self.count[f] = c
            self.start[f] = f * n + np.concatenate([[0], np.cumsum(c)[:-1]])

    def votes(self, z, n_votes, batch_size, rng, max_values=1 << 22):
        """(dimension of least variance, factor) of ``n_votes`` votes."""
        k = rng.integers(0, self.labels.shape[1], size=n_votes)
        anchor = rng.integers(0, self.n, size=n_votes)
        v = self.labels[anchor, k]
        start, count = self.start[k, v], self.count[k, v]
        offset = np.floor(rng.random((n_votes, batch_size)) * count[:, None]).astype(np.int64)
        rows = self.order[start[:, None] + np.minimum(offset, count[:, None] - 1)]
        dims = np.empty(n_votes, dtype=np.int64)
        # the batches' codes in slices of at most max_values numbers (32 MB), whatever d is
        step = max(1, max_values // (batch_size * z.shape[1]))
        for i in range(0, n_votes, step):
            local = np.var(z[rows[i:i + step]], axis=1, ddof=1)     # (votes, active dims)
            dims[i:i + step] = np.argmin(local, axis=1)
        return dims, k


# ---- MIG ----------------------------------------------------------------------------------------

def _bins(codes, n_bins):
    """Equal-width bin of each code over its dimension's range: int64 (n, d) in 0..n_bins-1."""
    lo = codes.min(axis=0)
    width = codes.max(axis=0) - lo
    # a constant dimension lands in bin 0 (it carries no information)
    safe = np.where(width > 0, width, 1.0)
    b = np.floor((codes - lo) / safe * n_bins).astype(np.int64)
    return np.clip(b, 0, n_bins - 1)


def _plogp_sum(counts, n, axis):
    """sum p log p over ``axis`` for p = counts / n (0 log 0 = 0)."""
    p = counts / n
    return np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=axis)


def mig(codes, factors, *, n_bins=20, names=None):
    """The mutual information gap of ``codes`` (see the module docstring).

    Parameters
    ----------
    codes : ndarray, shape (n, d)
    factors : ndarray (n, K) or data with ``indices``
    n_bins : int, default 20
        Equal-width bins per code dimension (at least 2).
    names : sequence of str, optional

    Returns
    -------
    dict
        ``score`` (MIG), ``per_factor`` (name -> normalized gap), ``mutual_information``
        ((d, K) list of lists in nats, excluded factors as None), ``entropy`` (name -> H(v_k) in
        nats), ``top_dims`` (name -> dimension of largest information), ``excluded_factors`` and
        the settings ``n_bins``, ``n_examples``, ``code_dim``.
    """
    codes = _check_codes(codes)
    n, d = codes.shape
    labels, n_values = factor_labels(factors, n)
    n_bins = check_positive_int(n_bins, "n_bins")
    if n_bins < 2:
        raise ValidationError(f"n_bins: expected at least 2 bins (one bin holds no information), got {n_bins}")
    names = _names(names, labels.shape[1], factors)
    keep, excluded = _kept(n_values, names)

    bins = _bins(codes, n_bins)
    # H(b_j) for every dimension at once: counts of (dimension, bin)
    b_counts = np.bincount((np.arange(d) * n_bins + bins).ravel(), minlength=d * n_bins)
    h_bins = -_plogp_sum(b_counts.reshape(d, n_bins), n, axis=1)
    mi = np.full((d, labels.shape[1]), np.nan)
    entropy, per_factor, top = {}, {}, {}
    for k in keep:
        nv = int(n_values[k])
        h_v = -_plogp_sum(np.bincount(labels[:, k], minlength=nv), n, axis=0)
        # joint counts of (dimension j, bin b, value v) for all j at once
        cell = (np.arange(d) * n_bins + bins) * nv + labels[:, k, None]
        joint = np.bincount(cell.ravel(), minlength=d * n_bins * nv).reshape(d, n_bins * nv)
        h_joint = -_plogp_sum(joint, n, axis=1)
        # I(b; v) = H(b) + H(v) - H(b, v) >= 0 (up to rounding)
        info = np.maximum(h_bins + h_v - h_joint, 0.0)
        mi[:, k] = info
        ranked = np.sort(info)[::-1]
        second = ranked[1] if d > 1 else 0.0
        per_factor[names[k]] = float((ranked[0] - second) / h_v)
        entropy[names[k]] = float(h_v)
        top[names[k]] = int(np.argmax(info))
    score = float(np.mean(list(per_factor.values())))
    table = [[None if np.isnan(v) else float(v) for v in row] for row in mi]
    return {"score": score, "per_factor": per_factor, "mutual_information": table,
            "entropy": entropy, "top_dims": top, "excluded_factors": excluded,
            "n_bins": n_bins, "n_examples": n, "code_dim": d}


# ---- both, from an encoder ----------------------------------------------------------------------

def score_encoder(encode, x, factors, *, batch_size=64, n_train=10000, n_eval=5000,
                  collapse_threshold=0.05, n_bins=20, rng=0, names=None, encode_batch=1024):
    """Encode ``x`` once with ``encode`` and return both metrics.

    Parameters
    ----------
    encode : callable, (m, D) -> (m, d)
    x : ndarray (n, D)
    factors : ndarray (n, K) or data with ``indices`` (and ``names``, used if ``names`` is None)
    Other parameters as for :func:`factorvae_score` and :func:`mig`.

    Returns
    -------
    dict
        ``{"factorvae": ..., "mig": ...}``, the two result dicts.
    """
    codes = encode_all(encode, x, encode_batch)
    labels, _ = factor_labels(factors, len(codes))
    names = _names(names, labels.shape[1], factors)
    return {"factorvae": factorvae_score(codes, labels, batch_size=batch_size, n_train=n_train,
                                         n_eval=n_eval, collapse_threshold=collapse_threshold,
                                         rng=rng, names=names),
            "mig": mig(codes, labels, n_bins=n_bins, names=names)}
