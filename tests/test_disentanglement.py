"""Self-checks of minivae.disentanglement on a synthetic factor grid (no images, so fast): codes
that are the factors score 1, codes independent of them score chance, mixing lowers both
metrics, permuting or scaling code dimensions changes neither; then bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.disentanglement import (_VoteSampler, encode_all, factor_labels, factorvae_score, mig,
                                     score_encoder)
from minivae.errors import InputTypeError, ValidationError
from minivae.datasets.sprites import generate

SIZES = (3, 4, 6, 8, 8)                 # the sprites' factors, fewer orientations: 4,608 rows
N_EVAL = 2000


def full_grid(sizes=SIZES):
    return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1).astype(np.float64)


F = full_grid()
Z = (F - F.mean(axis=0)) / F.std(axis=0)      # factors standardized: unit variance each


def noisy_mix(seed, noise=0.1):
    """Codes that depend on the factors but not one to one: a fixed rotation plus noise."""
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    return Z @ q + noise * rng.standard_normal(Z.shape)


# ---- the true factors score 1 -------------------------------------------------------------------

@pytest.mark.parametrize("scale,shift", [(1.0, 0.0), (3.5, -2.0), (-0.7, 10.0)])
def test_true_factors_score_one(scale, shift):
    codes = F * scale + shift
    fv = factorvae_score(codes, F, n_eval=N_EVAL)
    # fixing factor k makes code k exactly constant in the batch: every vote is right
    assert fv["score"] == 1.0 and fv["train_accuracy"] == 1.0
    assert fv["classifier"] == [f"factor {k}" for k in range(5)]
    m = mig(codes, F)
    # at most 20 equally spaced values per factor land in distinct bins, and on a full grid the
    # factors are exactly independent, so I(c_k; v_k) = H(v_k) and I(c_j; v_k) = 0 for j != k
    assert m["score"] == pytest.approx(1.0, abs=1e-9)
    assert m["top_dims"] == {f"factor {k}": k for k in range(5)}
    for k, n_values in enumerate(SIZES):
        assert m["entropy"][f"factor {k}"] == pytest.approx(math.log(n_values))


def test_true_factors_among_noise_dimensions():
    rng = np.random.default_rng(3)
    codes = np.hstack([rng.standard_normal((len(F), 3)), F])
    fv = factorvae_score(codes, F, n_eval=N_EVAL)
    assert fv["score"] == 1.0
    assert fv["classifier"][3:] == [f"factor {k}" for k in range(5)]
    # the noise dimensions share a little information with the factors by chance (the bias of
    # the histogram estimate, about (20 - 1)(n_v - 1) / (2 n) nats), so the gap is a little below 1
    m = mig(codes, F)
    assert 0.98 < m["score"] < 1.0


# ---- independent codes score chance ----------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_codes_score_chance(seed):
    rng = np.random.default_rng(seed)
    codes = rng.standard_normal((len(F), 6))
    fv = factorvae_score(codes, F, n_eval=N_EVAL, rng=seed)
    # the eval votes' factor is uniform and independent of their dimension, so the held-out
    # accuracy is Binomial(N_EVAL, 1/5) / N_EVAL: 4 standard deviations is 0.036
    p = 1 / 5
    assert fv["chance"] == p
    assert abs(fv["score"] - p) < 4 * math.sqrt(p * (1 - p) / N_EVAL)
    m = mig(codes, F)
    # each estimate I(c_j; v_k) of an independent pair is about chi^2 with
    # df = (20 - 1)(n_v - 1) degrees of freedom over 2n: mean df / 2n (the bias), standard
    # deviation sqrt(2 df) / 2n, well below the mean for df >= 38. The gap of two such estimates
    # is below the larger one, so below 3 df / 2n with overwhelming probability.
    n = len(F)
    for k, n_values in enumerate(SIZES):
        df = 19 * (n_values - 1)
        assert 0 <= m["per_factor"][f"factor {k}"] <= 3 * df / (2 * n) / math.log(n_values)
    assert m["score"] < 0.01


def test_training_accuracy_of_random_codes_is_above_chance():
    # why the held-out accuracy is the score: each dimension's majority follows the noise of its
    # own few training votes
    codes = np.random.default_rng(0).standard_normal((len(F), 10))
    fv = factorvae_score(codes, F, n_train=100, n_eval=N_EVAL)
    assert fv["train_accuracy"] > fv["score"] + 0.05


# ---- mixing lowers both --------------------------------------------------------------------------

def test_mixing_the_factors_lowers_both():
    # factor 0 kept; factors 1-4 mixed by an orthogonal 4 x 4 Hadamard matrix / 2: every mixed
    # code dimension depends on the four factors with equal weight, so fixing one of them leaves
    # the four equally (un)likely to be the vote's dimension
    h = np.eye(5)
    h[1:, 1:] = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2
    codes = Z @ h
    assert np.allclose(h @ h.T, np.eye(5))
    fv = factorvae_score(codes, F, n_eval=N_EVAL)
    # expected 1/5 (factor 0, always right) + 4/5 x about 1/4
    assert fv["score"] < 0.5
    m = mig(codes, F)
    assert m["per_factor"]["factor 0"] == pytest.approx(1.0, abs=1e-9)
    for k in range(1, 5):
        assert m["per_factor"][f"factor {k}"] < 0.05
    assert m["score"] < 0.25


def test_a_small_rotation_lowers_mig_but_not_factorvae():
    # A property worth knowing: the FactorVAE vote only asks which dimension varies least, so a
    # rotation by less than 45 degrees within the plane of two factors leaves every vote right,
    # while the information each factor shares with its best dimension falls at once.
    def rotated(deg):
        t = math.radians(deg)
        r = np.eye(5)
        r[3:, 3:] = [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]
        return Z @ r

    migs = []
    for deg in (0, 5, 10, 20, 30):
        codes = rotated(deg)
        assert factorvae_score(codes, F, n_eval=500)["score"] == 1.0
        migs.append(mig(codes, F)["score"])
    assert migs[0] == pytest.approx(1.0)
    assert all(a > b + 0.02 for a, b in zip(migs, migs[1:]))


# ---- permuting or scaling code dimensions changes neither ---------------------------------------------

@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16), perm_seed=st.integers(0, 2 ** 16))
def test_permuting_code_dimensions_changes_neither(seed, perm_seed):
    codes = noisy_mix(seed)
    perm = np.random.default_rng(perm_seed).permutation(5)
    a = factorvae_score(codes, F, n_train=1000, n_eval=400, rng=seed)
    b = factorvae_score(codes[:, perm], F, n_train=1000, n_eval=400, rng=seed)
    assert a["score"] == b["score"] and a["train_accuracy"] == b["train_accuracy"]
    assert [a["classifier"][j] for j in perm] == b["classifier"]
    ma, mb = mig(codes, F), mig(codes[:, perm], F)
    assert ma["score"] == pytest.approx(mb["score"], abs=1e-12)
    assert ma["per_factor"] == pytest.approx(mb["per_factor"], abs=1e-12)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16), dim=st.integers(0, 4),
       factor=st.floats(0.3, 40.0) | st.floats(-40.0, -0.3))
def test_scaling_a_code_dimension_changes_neither(seed, dim, factor):
    # scales that keep the variance (about 1 here) above the collapse threshold 0.05
    codes = noisy_mix(seed)
    scaled = codes.copy()
    scaled[:, dim] *= factor
    a = factorvae_score(codes, F, n_train=1000, n_eval=400, rng=seed)
    b = factorvae_score(scaled, F, n_train=1000, n_eval=400, rng=seed)
    assert a["score"] == b["score"] and a["classifier"] == b["classifier"]
    assert mig(codes, F)["score"] == pytest.approx(mig(scaled, F)["score"], abs=1e-12)


def test_collapsed_dimensions_are_discarded():
    codes = F.copy()
    codes[:, 2] *= 0.01          # variance 0.01^2 * 35/12, below 0.05: a collapsed latent
    fv = factorvae_score(codes, F, n_eval=N_EVAL)
    assert fv["n_active"] == 4 and fv["active_dims"] == [0, 1, 3, 4]
    assert fv["classifier"][2] is None
    # factor 2's votes now go to a dimension that answers another factor: about 1/5 are lost
    assert 0.7 < fv["score"] < 0.9
    assert factorvae_score(codes, F, n_eval=N_EVAL, collapse_threshold=0)["score"] == 1.0
    # all collapsed: the classifier answers the most frequent training factor, near chance
    none = factorvae_score(np.zeros_like(F), F, n_eval=N_EVAL)
    assert none["n_active"] == 0 and abs(none["score"] - 0.2) < 0.04


def test_single_valued_factor_is_excluded():
    with_const = np.hstack([F, np.full((len(F), 1), 7.0)])
    codes = noisy_mix(5)
    names = ["shape", "scale", "orientation", "x", "y", "colour"]
    fv = factorvae_score(codes, with_const, names=names, rng=1)
    m = mig(codes, with_const, names=names)
    assert fv["excluded_factors"] == ["colour"] and m["excluded_factors"] == ["colour"]
    assert fv["chance"] == 1 / 5 and "colour" not in m["per_factor"]
    # the same as without the constant column
    assert fv["score"] == factorvae_score(codes, F, rng=1)["score"]
    assert m["score"] == pytest.approx(mig(codes, F)["score"], abs=1e-12)
    assert all(row[5] is None for row in m["mutual_information"])


def test_votes_in_slices_equal_votes_at_once():
    labels, n_values = factor_labels(F)
    sampler = _VoteSampler(labels, n_values)
    z = noisy_mix(0)
    whole = sampler.votes(z, 300, 64, np.random.default_rng(7))
    sliced = sampler.votes(z, 300, 64, np.random.default_rng(7), max_values=64 * 5 * 7)
    assert np.array_equal(whole[0], sliced[0]) and np.array_equal(whole[1], sliced[1])
    # each vote's batch shares the value of the vote's factor
    rng = np.random.default_rng(8)
    dims, k = sampler.votes(labels.astype(np.float64), 200, 16, rng)
    assert np.array_equal(dims, k)      # the fixed factor's own column has variance 0


def test_factor_values_or_indices_give_the_same_labels():
    values = F * np.array([0.5, 0.25, np.pi / 12, 2.0, 2.0]) + np.array([0, 0.5, 0, 9, 9])
    la, na = factor_labels(values)
    lb, nb = factor_labels(F)
    assert np.array_equal(la, lb) and np.array_equal(na, SIZES)


def test_settings_are_reported():
    fv = factorvae_score(F, F, batch_size=32, n_train=100, n_eval=50, collapse_threshold=0.1)
    assert (fv["batch_size"], fv["n_train"], fv["n_eval"], fv["collapse_threshold"]) == (32, 100, 50, 0.1)
    assert (fv["n_examples"], fv["code_dim"]) == (len(F), 5)
    m = mig(F, F, n_bins=10)
    assert (m["n_bins"], m["n_examples"], m["code_dim"]) == (10, len(F), 5)


def test_one_code_dimension():
    m = mig(F[:, :1], F[:, :2])
    assert m["per_factor"]["factor 0"] == pytest.approx(1.0)   # second largest taken as 0
    assert m["per_factor"]["factor 1"] == pytest.approx(0.0, abs=1e-12)


# ---- with an encoder and with sprites ------------------------------------------------------------------

def test_encode_all_calls_in_batches():
    x = np.random.default_rng(0).random((50, 8))
    w = np.random.default_rng(1).standard_normal((8, 3))
    calls = []

    def encode(xb):
        calls.append(len(xb))
        return xb @ w

    codes = encode_all(encode, x, batch_size=16)
    assert calls == [16, 16, 16, 2]
    assert np.allclose(codes, x @ w)


def test_score_encoder_on_sprites():
    data = generate(16, {"scale": 3, "orientation": 4, "x": 5, "y": 5})
    # an encoder that reads each image's factors back (every image is distinct): the true factors
    table = {row.tobytes(): i for i, row in enumerate(data.x)}

    def encode(xb, columns=data.indices):
        return columns[[table[row.tobytes()] for row in xb]].astype(np.float64)

    out = score_encoder(encode, data.x, data, batch_size=32, n_train=300, n_eval=300)
    assert out["factorvae"]["score"] == 1.0
    assert out["mig"]["score"] == pytest.approx(1.0, abs=1e-9)
    assert out["factorvae"]["classifier"] == list(data.names)
    assert set(out["mig"]["per_factor"]) == set(data.names)
    # the factor values in their own units: scale in [0.5, 1] has variance 0.0625 x 2/3, below
    # the collapse threshold, so that dimension is discarded unless the threshold is lowered
    raw = score_encoder(lambda xb: encode(xb, data.values), data.x, data, batch_size=32)
    assert raw["factorvae"]["classifier"][1] is None and raw["factorvae"]["score"] < 1
    raw = score_encoder(lambda xb: encode(xb, data.values), data.x, data, batch_size=32,
                        collapse_threshold=0)
    assert raw["factorvae"]["score"] == 1.0 and raw["mig"]["score"] == pytest.approx(1.0, abs=1e-9)
    # pixels themselves are not a disentangled code
    middle_row = slice(8 * 16 + 2, 8 * 16 + 14)
    pixels = score_encoder(lambda xb: xb[:, middle_row], data.x, data, batch_size=32,
                           collapse_threshold=0)
    assert pixels["factorvae"]["n_active"] == 12
    assert pixels["mig"]["score"] < 0.3 and pixels["factorvae"]["score"] < 0.8


# ---- bad input ----------------------------------------------------------------------------------------

def test_data_without_factors():
    with pytest.raises(ValidationError, match="factors: .*ground-truth factors.*got None"):
        mig(F, None)

    class Digits:        # a data set with images and labels but no factors
        x = np.zeros((4, 3))
        y = np.zeros(4)

    with pytest.raises(InputTypeError, match="factors: .*Digits, which has no factors"):
        factorvae_score(np.zeros((4, 2)), Digits())
    with pytest.raises(ValidationError, match="factors: expected a 2-D array"):
        mig(F, F[:, 0])


def test_mismatched_lengths():
    with pytest.raises(ValidationError, match=r"factors: expected one row per code \(4608 rows\), got 4000"):
        factorvae_score(F, F[:4000])
    with pytest.raises(ValidationError, match=r"one row per code"):
        mig(F[:10], F)


def test_fewer_examples_than_the_batch_size():
    with pytest.raises(ValidationError, match=r"batch_size: expected at most the number of examples \(40\), got 64"):
        factorvae_score(F[:40], F[:40])
    with pytest.raises(ValidationError, match="batch_size: expected at least 2"):
        factorvae_score(F, F, batch_size=1)


def test_other_bad_arguments():
    with pytest.raises(InputTypeError, match="codes: expected an .* array of codes, got a callable"):
        mig(lambda x: x, F)
    with pytest.raises(ValidationError, match="codes: expected finite"):
        mig(np.full_like(F, np.nan), F)
    with pytest.raises(ValidationError, match="n_bins: expected at least 2"):
        mig(F, F, n_bins=1)
    with pytest.raises(ValidationError, match="every factor takes a single value"):
        mig(F, np.zeros((len(F), 2)))
    with pytest.raises(ValidationError, match=r"names: expected one name per factor \(5\), got 2"):
        mig(F, F, names=["a", "b"])
    with pytest.raises(ValidationError, match="collapse_threshold"):
        factorvae_score(F, F, collapse_threshold=-1)
    with pytest.raises(InputTypeError, match="rng"):
        factorvae_score(F, F, rng="seed")
    with pytest.raises(InputTypeError, match="encode: expected a callable"):
        encode_all("encoder", np.zeros((3, 2)))
    with pytest.raises(ValidationError, match=r"encode: expected an array of shape \(3, d\)"):
        encode_all(lambda xb: xb[:1], np.zeros((3, 2)))
    with pytest.raises(ValidationError, match=r"got shape \(2, 3, 2\) \(a pair .*model\.embed"):
        encode_all(lambda xb: (xb, xb), np.zeros((3, 2)))
    with pytest.raises(InputTypeError, match="x: expected floating-point"):
        encode_all(lambda xb: xb, np.zeros((3, 2), dtype=np.uint8))
