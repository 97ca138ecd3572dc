"""A Gaussian mixture fitted by expectation-maximization (EM), read as ascent on the ELBO.

The model (lecture 001, "Mixture of gaussians"): every example x in R^D has a hidden component
c in {0, ..., K-1} drawn with probability pi_c, and given c it is normal with the component's
mean m_c and covariance S_c, so

    log p(x) = log sum_c pi_c N(x | m_c, S_c).

The ELBO view of EM (lecture 000, "EM-algorithm"). For any distribution q over the K components,

    log p(x) = ELBO(q) + KL(q || p(c | x)),
    ELBO(q)  = sum_c q_c [log pi_c + log N(x | m_c, S_c)] - sum_c q_c log q_c.

* E-step: the parameters fixed, the ELBO is largest when the KL is zero, at q = p(c | x), the
  *responsibilities* r_nc = pi_c N(x_n | m_c, S_c) / sum_j pi_j N(x_n | m_j, S_j). For a mixture
  this is a sum of K terms, so the posterior is exact; the posterior of a VAE's continuous z
  has no such closed form (lecture 000 marks that E-step "intractable"), hence its encoder.
* M-step: q fixed, only the first term of the ELBO depends on the parameters. This expected
  complete-data log-likelihood Q is maximized in closed form (N_c = sum_n r_nc):

      pi_c = N_c / N,   m_c = sum_n r_nc x_n / N_c,
      S_c  = sum_n r_nc (x_n - m_c)(x_n - m_c)^T / N_c.

Neither step lowers the ELBO and after each E-step it equals log p(x), so the log-likelihood of
the data never goes down from one iteration to the next.

Covariance types (the names of scikit-learn): ``"full"`` (one D x D matrix per component),
``"diag"`` (a variance per coordinate: S_c = diag(s_c)) and ``"spherical"`` (one variance:
S_c = s_c I). The diag M-step keeps the diagonal of the full one; the spherical one averages it.

Two guards, both documented on :class:`GaussianMixture`: ``reg_covar`` is added to every
covariance's diagonal, and a component left with (almost) no responsibility is re-seeded.
Log-densities go through Cholesky factors S_c = L_c L_c^T: the Mahalanobis term is the squared
norm of L_c^{-1} (x - m_c), found by a triangular solve, and log det S_c = 2 sum_i log L_c,ii,
so no matrix is inverted and no determinant over- or underflows.

:func:`cluster_accuracy` scores a clustering against class labels after the best matching of
clusters to classes.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_triangular
from scipy.optimize import linear_sum_assignment
from scipy.special import xlogy

from .errors import InputTypeError, ValidationError
from .logspace import logsumexp
from .runtime.validation import (check_array, check_choice, check_data, check_positive_float,
                                 check_positive_int, check_rng)

__all__ = ["GaussianMixture", "gmm_elbo", "expected_complete_log_likelihood",
           "cluster_accuracy", "COVARIANCE_TYPES", "INITS", "EMPTY_MASS"]

LOG_2PI = math.log(2.0 * math.pi)
COVARIANCE_TYPES = ("full", "diag", "spherical")
INITS = ("kmeans++", "random")
SELECTS = ("likelihood", "balance")
#: A component whose total responsibility N_c is below this (a hundred-millionth of one
#: example) is *empty* and is re-seeded by the M-step (see :class:`GaussianMixture`).
EMPTY_MASS = 1e-8
_SIMPLEX_TOL = 1e-6     # how far from 1 a row of q, or the weights, may sum


# -- checks at the public boundary ----------------------------------------------------------------
def _check_x(x, name="x", n_features=None):
    """Real-valued (N, D) data as float64; integers are accepted (counts, coordinates)."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if isinstance(x, np.ndarray) and x.dtype.kind == "b":
        raise InputTypeError(f"{name}: expected real-valued features, got a boolean array")
    if isinstance(x, np.ndarray) and x.dtype.kind in "iu":
        x = x.astype(np.float64)
    return check_data(x, name, n_features=n_features, dtype=np.float64)


def _check_q(q, n, k, name="q"):
    """Responsibilities: (N, K), finite, non-negative, every row summing to 1."""
    q = check_array(q, name, ndim=2)
    if q.shape != (n, k):
        raise ValidationError(f"{name}: expected shape (N, K) = ({n}, {k}), got {q.shape}")
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValidationError(f"{name}: expected finite non-negative probabilities, got values in "
                              f"[{np.nanmin(q):g}, {np.nanmax(q):g}]")
    err = np.abs(q.sum(axis=1) - 1.0)
    if np.any(err > _SIMPLEX_TOL):
        i = int(np.argmax(err))
        raise ValidationError(f"{name}: expected every row to sum to 1 (a distribution over the "
                              f"components), row {i} sums to {q[i].sum():.9g}")
    return np.asarray(q, dtype=np.float64)


def _check_params(weights, means, covariances, covariance_type, n_features):
    """Mixture parameters of one covariance type; returns them as float64 with the Cholesky factors."""
    covariance_type = check_choice(covariance_type, "covariance_type", COVARIANCE_TYPES)
    means = np.asarray(check_array(means, "means", ndim=2), dtype=np.float64)
    k, d = means.shape
    if d != n_features:
        raise ValidationError(f"means: expected {n_features} columns to match x, got shape {means.shape}")
    weights = np.asarray(check_array(weights, "weights", ndim=1), dtype=np.float64)
    if weights.shape != (k,) or not np.all(np.isfinite(weights)) or np.any(weights < 0) \
            or abs(weights.sum() - 1.0) > _SIMPLEX_TOL:
        raise ValidationError(f"weights: expected {k} non-negative numbers summing to 1 (one per "
                              f"row of means), got {weights!r}")
    covariances = np.asarray(check_array(covariances, "covariances"), dtype=np.float64)
    shape = {"full": (k, d, d), "diag": (k, d), "spherical": (k,)}[covariance_type]
    if covariances.shape != shape:
        raise ValidationError(f"covariances: expected shape {shape} for covariance_type="
                              f"{covariance_type!r}, got {covariances.shape}")
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(covariances))):
        raise ValidationError("means, covariances: expected finite values")
    if covariance_type == "full" and not np.allclose(covariances, np.swapaxes(covariances, 1, 2),
                                                     rtol=1e-10, atol=0):
        raise ValidationError("covariances: expected symmetric matrices")
    return weights, means, covariances, _cholesky(covariances, covariance_type)


# -- kernels (no checks) ------------------------------------------------------------------------
def _cholesky(covariances, covariance_type):
    """Lower Cholesky factors of the covariances: (K, D, D) for full, standard deviations else."""
    if covariance_type == "full":
        try:
            return np.linalg.cholesky(covariances)
        except np.linalg.LinAlgError:
            raise ValidationError(
                "covariances: a covariance matrix is not positive definite; if this happened "
                "during fit, standardize the data or raise reg_covar") from None
    if np.any(covariances <= 0):
        raise ValidationError("covariances: expected positive variances, got "
                              f"a minimum of {covariances.min():g}")
    return np.sqrt(covariances)


def _log_gaussians(x, means, chol, covariance_type):
    """(N, K) matrix of log N(x_n | m_c, S_c), from the Cholesky factors S_c = L_c L_c^T.

    log N(x | m, S) = -D/2 log(2 pi) - sum_i log L_ii - ||L^{-1} (x - m)||^2 / 2.
    """
    n, d = x.shape
    if covariance_type == "full":
        out = np.empty((n, len(means)))
        for c in range(len(means)):      # one (D, N) triangular solve per component
            y = solve_triangular(chol[c], (x - means[c]).T, lower=True, check_finite=False)
            out[:, c] = -0.5 * np.einsum("dn,dn->n", y, y) - np.sum(np.log(np.diagonal(chol[c])))
    else:
        # ||x - m||^2 / s expanded into products; shifting x and m by the centre of the means
        # first keeps the expansion from cancelling when the data sit far from the origin
        shift = means.mean(axis=0)
        xs, ms = x - shift, means - shift
        prec = 1.0 / chol ** 2                                    # (K, D) or (K,)
        if covariance_type == "diag":
            maha = (xs * xs) @ prec.T - 2.0 * xs @ (ms * prec).T + np.sum(ms * ms * prec, axis=1)
            half_logdet = np.sum(np.log(chol), axis=1)
        else:
            sq = np.sum(xs * xs, axis=1)[:, None] - 2.0 * xs @ ms.T + np.sum(ms * ms, axis=1)
            maha = sq * prec
            half_logdet = d * np.log(chol)
        out = -0.5 * np.maximum(maha, 0.0) - half_logdet
    return out - 0.5 * d * LOG_2PI


def _log_joint(x, weights, means, chol, covariance_type):
    """(N, K) matrix of log pi_c + log N(x_n | m_c, S_c) (a zero weight gives -inf)."""
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    return _log_gaussians(x, means, chol, covariance_type) + log_w


def _e_step(x, weights, means, chol, covariance_type):
    """log p(x_n) (N,) and the log responsibilities log p(c | x_n) (N, K), by log-sum-exp."""
    lj = _log_joint(x, weights, means, chol, covariance_type)
    log_px = logsumexp(lj, axis=1)
    return log_px, lj - log_px[:, None]


def _m_step(x, resp, covariance_type, reg_covar):
    """Closed-form maximizer of Q (lecture 001) plus ``reg_covar`` on the diagonals.

    Returns weights (K,), means (K, D), covariances and the boolean mask of empty components
    (N_c < EMPTY_MASS), whose means and covariances are placeholders the caller replaces.
    """
    n, d = x.shape
    nk = resp.sum(axis=0)
    empty = nk < EMPTY_MASS
    safe = np.where(empty, 1.0, nk)
    shift = x.mean(axis=0)          # centred moments: no cancellation for data far from 0
    xs = x - shift
    means = (resp.T @ xs) / safe[:, None]
    if covariance_type == "full":
        cov = np.empty((len(nk), d, d))
        for c in range(len(nk)):
            # sqrt(r) (x - m) times itself: the product is symmetric by construction
            a = np.sqrt(resp[:, c])[:, None] * (xs - means[c])
            cov[c] = (a.T @ a) / safe[c]
            cov[c].flat[:: d + 1] += reg_covar
    else:
        var = np.maximum((resp.T @ (xs * xs)) / safe[:, None] - means * means, 0.0)
        cov = (var if covariance_type == "diag" else var.mean(axis=1)) + reg_covar
    return nk / n, means + shift, cov, empty


def _reseed(x, weights, means, cov, empty, covariance_type):
    """Put each empty component on an example the other components explain worst.

    Its mean becomes that example, its covariance the average of the other components' and its
    weight one example's worth (1 / (N + number re-seeded)); the other weights shrink to match.
    """
    keep = ~empty
    n = len(x)
    kept_w = weights[keep] / weights[keep].sum()
    log_px, _ = _e_step(x, kept_w, means[keep], _cholesky(cov[keep], covariance_type), covariance_type)
    worst = np.argsort(log_px, kind="stable")[: int(empty.sum())]
    means, cov = means.copy(), cov.copy()
    means[empty] = x[worst]
    cov[empty] = cov[keep].mean(axis=0)
    mass = weights * n
    mass[empty] = 1.0
    return mass / mass.sum(), means, cov


def _kmeans_pp(x, k, rng):
    """k-means++ seeding: the first centre uniformly, each next one with probability
    proportional to its squared distance to the nearest centre chosen so far."""
    n = len(x)
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(n)]
    d2 = np.sum((x - centres[0]) ** 2, axis=1)
    for j in range(1, k):
        total = d2.sum()
        # all points already on a centre (duplicates): any of them is as good as another
        i = rng.integers(n) if total <= 0 else rng.choice(n, p=d2 / total)
        centres[j] = x[i]
        d2 = np.minimum(d2, np.sum((x - centres[j]) ** 2, axis=1))
    return centres


# -- the ELBO, term by term ---------------------------------------------------------------------
def expected_complete_log_likelihood(x, q, weights, means, covariances, covariance_type="full"):
    """Q per example: sum_c q_c [log pi_c + log N(x | m_c, S_c)] (lecture 000, the M-step's objective).

    Parameters
    ----------
    x : (N, D)
    q : (N, K), rows on the probability simplex
    weights : (K,), on the simplex
    means : (K, D)
    covariances : (K, D, D) for "full", (K, D) for "diag", (K,) for "spherical"
    covariance_type : {"full", "diag", "spherical"}

    Returns
    -------
    (N,) nats. A zero q_c contributes nothing, even where pi_c = 0.
    """
    x = _check_x(x)
    weights, means, covariances, chol = _check_params(weights, means, covariances,
                                                      covariance_type, x.shape[1])
    q = _check_q(q, len(x), len(means))
    lj = _log_joint(x, weights, means, chol, covariance_type)
    return np.sum(np.where(q > 0, q * lj, 0.0), axis=1)


def gmm_elbo(x, q, weights, means, covariances, covariance_type="full"):
    """ELBO(q) per example for any responsibilities q (lecture 000 and 001):

        ELBO(q) = sum_c q_c [log pi_c + log N(x | m_c, S_c)] - sum_c q_c log q_c
                = log p(x) - KL(q || p(c | x)),

    so ELBO(q) <= log p(x), with equality exactly at q = p(c | x) (the E-step).
    Parameters as in :func:`expected_complete_log_likelihood`; returns (N,) nats.
    """
    q_term = expected_complete_log_likelihood(x, q, weights, means, covariances, covariance_type)
    q = np.asarray(q, dtype=np.float64)
    return q_term - np.sum(xlogy(q, q), axis=1)


# -- the estimator ------------------------------------------------------------------------------
class GaussianMixture:
    """A mixture of K Gaussians fitted by EM, with scikit-learn's names.

    Parameters
    ----------
    n_components : int, default 1
        K, the number of components (at most the number of examples given to ``fit``).
    covariance_type : {"full", "diag", "spherical"}, default "full"
    tol : float, default 1e-3
        EM stops when the mean log-likelihood per example changes by less than this (nats).
    reg_covar : float, default 1e-6
        Added to the diagonal of every covariance after each M-step. Without it a component
        that settles on a single point (or on points sharing a coordinate) gets a zero
        variance and the likelihood grows without bound; with it every variance is at least
        ``reg_covar``, so the log-likelihood stays finite (at most -D/2 log(2 pi reg_covar)
        per example). It is a floor, not a prior, so EM with it is monotone only up to a small
        term: an iteration can lower the mean log-likelihood by at most
        (1/N) sum_c N_c/2 sum_i [log(1 + r/l_ci) - r/(l_ci + r)], about
        sum_c pi_c sum_i (r/l_ci)^2 / 4, with r = reg_covar and l_ci the eigenvalues of S_c
        before r is added (the exact M-step's). Give data of unit scale (standardize) so that r is
        small against every variance.
    max_iter : int, default 100
        Most EM iterations (M-step, then E-step) per restart.
    n_init : int, default 1
        Restarts from different initializations; ``select`` says which one is kept
        (``restart_lower_bounds_`` and ``restart_weight_entropies_`` describe all of them).
    select : {"likelihood", "balance"}, default "likelihood"
        Keep the restart with the best final log-likelihood, or the one whose weights are the
        most even (largest entropy -sum_c pi_c log pi_c). The second assumes clusters of similar
        size: on an autoencoder's codes of MNIST the most likely of ten fits matched the digits
        worse than their median, the most even matched them best (``benchmarks/vade_start.py``).
    init : {"kmeans++", "random"}, default "kmeans++"
        "kmeans++" seeds K means by k-means++ and gives each example to its nearest mean
        (one-hot responsibilities); "random" draws each example's responsibilities uniformly
        and normalizes them. Either way the first M-step turns them into parameters.
    seed : int or numpy.random.Generator, default 0
        An int makes ``fit`` reproducible: restart j draws from
        ``np.random.default_rng(np.random.SeedSequence(seed).spawn(n_init)[j])``, the same for
        any ``n_init`` > j. A Generator is drawn from (one integer per ``fit``) instead.

    Attributes (after ``fit``)
    --------------------------
    weights_ (K,), means_ (K, D), covariances_ ((K, D, D) full, (K, D) diag, (K,) spherical),
    converged_, n_iter_, lower_bound_ (final mean log-likelihood per example, which after the
    E-step equals the mean ELBO), history_ (mean log-likelihood per example after each
    iteration of the kept restart), restart_lower_bounds_ and restart_weight_entropies_ (n_init,),
    n_reseeded_ (components re-seeded during the kept restart). ``m_step`` sets the parameters
    and ``reseeded_``.

    Degenerate cases
    ----------------
    * Duplicate points: the covariance of a component on them is ``reg_covar`` I, so the
      log-likelihood is finite (-D/2 log(2 pi reg_covar) per example if all points coincide).
    * A component that loses all its points (N_c < ``EMPTY_MASS``), which happens when two
      k-means++ seeds coincide or a component drifts off the data: the M-step re-seeds it on
      the example the other components explain worst (lowest log p(x) under them), with their
      average covariance and the weight of one example. That step is not an EM step, so the
      log-likelihood may drop at that iteration; ``n_reseeded_`` counts them.
    * One example with one component: the mean is the example, the covariance ``reg_covar`` I.
    """

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init="kmeans++", select="likelihood", seed=0):
        self.n_components = check_positive_int(n_components, "n_components")
        self.covariance_type = check_choice(covariance_type, "covariance_type", COVARIANCE_TYPES)
        self.tol = check_positive_float(tol, "tol")
        self.reg_covar = check_positive_float(reg_covar, "reg_covar")
        self.max_iter = check_positive_int(max_iter, "max_iter")
        self.n_init = check_positive_int(n_init, "n_init")
        self.init = check_choice(init, "init", INITS)
        self.select = check_choice(select, "select", SELECTS)
        check_rng(seed, "seed")          # an int seed or a Generator; kept as given
        self.seed = seed
        self._chol = None

    def __repr__(self):
        return (f"GaussianMixture(n_components={self.n_components}, covariance_type="
                f"{self.covariance_type!r}, tol={self.tol:g}, reg_covar={self.reg_covar:g}, "
                f"max_iter={self.max_iter}, n_init={self.n_init}, init={self.init!r}, select={self.select!r}, "
                f"seed={self.seed!r})")

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, x):
        """Fit by EM from ``n_init`` initializations and keep the best; returns ``self``.

        x : (N, D) real values, N >= n_components.
        """
        x = self._check_fit_data(x)
        if isinstance(self.seed, np.random.Generator):
            seq = np.random.SeedSequence(int(self.seed.integers(2 ** 63)))
        else:
            seq = np.random.SeedSequence(int(self.seed))
        runs = [self._fit_one(x, np.random.default_rng(child)) for child in seq.spawn(self.n_init)]
        for r in runs:
            w = r["params"][0][r["params"][0] > 0]
            r["weight_entropy"] = float(-np.sum(w * np.log(w)))
        key = "lower_bound" if self.select == "likelihood" else "weight_entropy"
        best = max(runs, key=lambda r: r[key])               # first of equals, as in sklearn
        self.weights_, self.means_, self.covariances_ = best["params"]
        self._chol = best["chol"]
        self.converged_, self.n_iter_ = best["converged"], best["n_iter"]
        self.lower_bound_, self.history_ = best["lower_bound"], best["history"]
        self.n_reseeded_ = best["n_reseeded"]
        self.restart_lower_bounds_ = np.array([r["lower_bound"] for r in runs])
        self.restart_weight_entropies_ = np.array([r["weight_entropy"] for r in runs])
        return self

    def _fit_one(self, x, rng):
        """One EM run: M-step, E-step, until the mean log-likelihood moves by less than tol."""
        resp = self._initial_resp(x, rng)
        history, n_reseeded, converged, prev = [], 0, False, -np.inf
        for it in range(1, self.max_iter + 1):
            params, chol, reseeded = self._m_step_arrays(x, resp)
            n_reseeded += len(reseeded)
            log_px, log_resp = _e_step(x, params[0], params[1], chol, self.covariance_type)
            ll = float(np.mean(log_px))
            history.append(ll)
            resp = np.exp(log_resp)
            if abs(ll - prev) < self.tol:
                converged = True
                break
            prev = ll
        return {"params": params, "chol": chol, "converged": converged, "n_iter": it,
                "lower_bound": ll, "history": np.array(history), "n_reseeded": n_reseeded}

    def _initial_resp(self, x, rng):
        k = self.n_components
        if self.init == "random":
            r = rng.random((len(x), k))
            return r / r.sum(axis=1, keepdims=True)
        centres = _kmeans_pp(x, k, rng)
        # differences, not the expanded square: that cancels for data far from the origin
        d2 = np.stack([np.sum((x - c) ** 2, axis=1) for c in centres], axis=1)
        resp = np.zeros((len(x), k))
        resp[np.arange(len(x)), np.argmin(d2, axis=1)] = 1.0
        return resp

    def initial_responsibilities(self, x, rng):
        """The responsibilities ``fit`` starts from (see ``init``), for running EM by hand:

            q = gm.initial_responsibilities(x, 0)
            for _ in range(20):
                gm.m_step(x, q)
                q = gm.e_step(x)

        Returns (N, K), rows on the simplex.
        """
        return self._initial_resp(self._check_fit_data(x), check_rng(rng))

    def _check_fit_data(self, x):
        x = _check_x(x)
        if len(x) < self.n_components:
            raise ValidationError(f"n_components: expected at most the number of examples in x "
                                  f"({len(x)}), got {self.n_components}")
        return x

    def _m_step_arrays(self, x, resp):
        weights, means, cov, empty = _m_step(x, resp, self.covariance_type, self.reg_covar)
        if empty.any():
            weights, means, cov = _reseed(x, weights, means, cov, empty, self.covariance_type)
        chol = _cholesky(cov, self.covariance_type)
        return (weights, means, cov), chol, np.flatnonzero(empty)

    # -- the two steps, public ------------------------------------------------------------------
    def e_step(self, x):
        """E-step: q(c) = p(c | x_n), the responsibilities (N, K) under the current parameters.

        r_nc = pi_c N(x_n | m_c, S_c) / sum_j pi_j N(x_n | m_j, S_j) (lecture 001), computed
        as exp(log joint - logsumexp(log joint)). The same as ``predict_proba``.
        """
        x = self._check_predict_data(x, "e_step")
        return np.exp(_e_step(x, self.weights_, self.means_, self._chol, self.covariance_type)[1])

    def m_step(self, x, q):
        """M-step: set the parameters to the maximizer of Q given responsibilities q (N, K).

        pi_c = N_c / N, m_c = sum_n q_nc x_n / N_c, S_c = sum_n q_nc (x_n - m_c)(x_n - m_c)^T / N_c
        + reg_covar I (lecture 001); empty components are re-seeded (their indices are left
        in ``reseeded_``). Returns ``self``.
        """
        x = self._check_fit_data(x)
        q = _check_q(q, len(x), self.n_components)
        params, chol, self.reseeded_ = self._m_step_arrays(x, q)
        self.weights_, self.means_, self.covariances_ = params
        self._chol = chol
        return self

    def elbo(self, x, q):
        """ELBO(q) per example (N,) under the current parameters, see :func:`gmm_elbo`."""
        self._check_predict_data(x, "elbo")
        return gmm_elbo(x, q, self.weights_, self.means_, self.covariances_, self.covariance_type)

    # -- using the fitted model -----------------------------------------------------------------
    def _check_predict_data(self, x, method):
        if self._chol is None:
            raise ValidationError(f"GaussianMixture.{method}: the model has no parameters yet; "
                                  f"call fit first (or m_step)")
        return _check_x(x, n_features=self.means_.shape[1])

    def score_samples(self, x):
        """log p(x_n) = logsumexp_c [log pi_c + log N(x_n | m_c, S_c)] per example (N,), nats."""
        x = self._check_predict_data(x, "score_samples")
        return _e_step(x, self.weights_, self.means_, self._chol, self.covariance_type)[0]

    def score(self, x):
        """Mean log-likelihood per example, nats."""
        return float(np.mean(self.score_samples(x)))

    def predict_proba(self, x):
        """p(c | x_n) for every example and component (N, K)."""
        x = self._check_predict_data(x, "predict_proba")
        return np.exp(_e_step(x, self.weights_, self.means_, self._chol, self.covariance_type)[1])

    def predict(self, x):
        """The most probable component argmax_c p(c | x_n) per example (N,) int64."""
        x = self._check_predict_data(x, "predict")
        lj = _log_joint(x, self.weights_, self.means_, self._chol, self.covariance_type)
        return np.argmax(lj, axis=1).astype(np.int64)

    def sample(self, n, rng):
        """Draw n examples by ancestral sampling: c ~ pi, then x = m_c + L_c eps, eps ~ N(0, I).

        Returns x (n, D) float64 and the components c (n,) int64.
        """
        n = check_positive_int(n, "n")
        rng = check_rng(rng)
        if self._chol is None:
            raise ValidationError("GaussianMixture.sample: the model has no parameters yet; call fit first")
        labels = rng.choice(self.n_components, size=n, p=self.weights_).astype(np.int64)
        eps = rng.standard_normal((n, self.means_.shape[1]))
        if self.covariance_type == "full":
            x = np.empty_like(eps)
            for c in range(self.n_components):
                idx = labels == c
                x[idx] = self.means_[c] + eps[idx] @ self._chol[c].T
        elif self.covariance_type == "diag":
            x = self.means_[labels] + eps * self._chol[labels]
        else:
            x = self.means_[labels] + eps * self._chol[labels][:, None]
        return x, labels


# -- clustering accuracy ------------------------------------------------------------------------
def _check_labels(labels, name):
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise InputTypeError(f"{name}: expected integer labels, got dtype {labels.dtype}")
    if labels.ndim != 1:
        raise ValidationError(f"{name}: expected a 1-D array of labels, got shape {labels.shape}")
    if labels.size == 0:
        raise ValidationError(f"{name}: expected at least one label, got an empty array")
    return labels


def cluster_accuracy(labels_true, labels_pred):
    """Share of examples whose cluster is matched to their class, under the best one-to-one
    matching of clusters to classes.

    The matching maximizes the number of examples on the diagonal of the contingency table
    C[class, cluster] (the Hungarian method, scipy.optimize.linear_sum_assignment). The numbers
    of clusters and classes may differ: the examples of a cluster (or class) left unmatched all
    count as errors. Labels are any integers (only which examples share one matters).

    Parameters
    ----------
    labels_true, labels_pred : (N,) integer arrays of the same length, N >= 1

    Returns
    -------
    float in (0, 1]
    """
    t = _check_labels(labels_true, "labels_true")
    p = _check_labels(labels_pred, "labels_pred")
    if len(t) != len(p):
        raise ValidationError(f"labels_pred: expected as many labels as labels_true ({len(t)}), got {len(p)}")
    classes, ti = np.unique(t, return_inverse=True)
    clusters, pi = np.unique(p, return_inverse=True)
    table = np.zeros((len(classes), len(clusters)), dtype=np.int64)
    np.add.at(table, (ti.ravel(), pi.ravel()), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(t))
