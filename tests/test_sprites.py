"""Tests of minivae.sprites: geometry (area, translation, symmetry), determinism, the grid, the
cache and the split, and the errors on bad arguments."""
from __future__ import annotations

import hashlib
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.datasets import sprites
from minivae.errors import InputTypeError, ValidationError
from minivae.datasets.sprites import (DEFAULT_GRID, FACTOR_NAMES, SUPERSAMPLE, UNIT_AREAS, generate,
                             grid_values, load_sprites, render, split_indices)

SMALL = {"scale": 2, "orientation": 2, "x": 3, "y": 3}      # 108 images at 16 px: fast


@pytest.fixture(scope="module")
def default_data():
    return generate()


def centroid(img):
    """(x, y) of the pixel mass, in the module's convention (pixel j covers [j, j + 1))."""
    h, w = img.shape
    m = img.sum()
    cx = (img.sum(axis=0) @ (np.arange(w) + 0.5)) / m
    cy = (img.sum(axis=1) @ (np.arange(h) + 0.5)) / m
    return cx, cy


# ---- geometry -------------------------------------------------------------------------------

# Boundary lengths of the unit shapes, derived here from their definitions: the square's corners
# lie on the unit circle (side sqrt 2); the ellipse (semi-axes 1 and 1/2) lies inside the unit
# circle, so (being convex) its boundary is shorter than 2 pi; the heart is two sides of a
# diamond of side a plus two half-circles of diameter a, a = 1 / extent in unit coordinates.
PERIMETER_BOUND = {"square": 4 * math.sqrt(2), "ellipse": 2 * math.pi,
                   "heart": (2 + math.pi) / sprites._HEART_EXTENT}


@pytest.mark.parametrize("shape", range(3))
def test_area_grows_as_scale_squared(shape):
    # At 256 px a sprite of scale s spans a disc of radius 64 s px. Each pixel's value is the
    # share of its 4 x 4 sample points inside the shape, so the mass is the area of the union of
    # the sample cells (side h = 1/4 px) whose centre is inside. A cell can be wrongly counted
    # only where it meets the boundary, and then every point of it lies within its diagonal
    # rho = h sqrt 2 of the boundary: |mass - area| <= area of that band <= 2 rho P + pi rho^2
    # for a boundary of length P. That is a guaranteed bound (about 6 % at scale 0.5), far
    # below what would confuse s^2 with s (a factor 2) or s^3.
    res = 256
    name = sprites.SHAPES[shape]
    scales = np.array([0.5, 0.75, 1.0])
    vals = np.column_stack([np.full(3, shape), scales, np.full(3, 0.3), np.full(3, 128.0),
                            np.full(3, 128.0)])
    mass = render(vals, res).astype(np.float64).sum(axis=1)
    radius = scales * sprites.RADIUS_FRACTION * res
    area = UNIT_AREAS[name] * radius ** 2
    rho = math.sqrt(2) / SUPERSAMPLE
    band = 2 * rho * PERIMETER_BOUND[name] * radius + math.pi * rho ** 2
    assert np.all(np.abs(mass - area) <= band), (mass, area, band)
    # the ratios, with the worst case of both bounds
    ratio = mass / mass[0]
    lo = (area - band) / (area[0] + band[0])
    hi = (area + band) / (area[0] - band[0])
    assert np.all((lo <= ratio) & (ratio <= hi))
    assert np.all(np.abs(ratio - (scales / scales[0]) ** 2) <= hi - lo)
    # the measured exponent is 2, not 1 or 3
    slope = np.polyfit(np.log(scales), np.log(mass), 1)[0]
    assert abs(slope - 2) < 0.2


def test_unit_areas_closed_forms():
    # square of side sqrt 2, ellipse pi * 1 * 1/2, heart a^2 (1 + pi/4) with a = 1 / extent
    assert UNIT_AREAS["square"] == pytest.approx(2.0)
    assert UNIT_AREAS["ellipse"] == pytest.approx(math.pi / 2)
    assert UNIT_AREAS["heart"] == pytest.approx((1 + math.pi / 4) / sprites._HEART_EXTENT ** 2)


@pytest.mark.parametrize("axis_name", ["x", "y"])
def test_one_grid_step_is_an_exact_translation(default_data, axis_name):
    d = default_data
    f = FACTOR_NAMES.index(axis_name)
    res = d.resolution
    step = d.grid[f][1] - d.grid[f][0]
    assert step == int(step) >= 1         # whole pixels
    step = int(step)
    # every row whose position index can move one step, with its neighbour one step further
    sizes = d.sizes
    rows = np.flatnonzero(d.indices[:, f] < sizes[f] - 1)
    stride = int(np.prod(sizes[f + 1:]))
    nxt = rows + stride
    assert np.all(d.indices[nxt, f] == d.indices[rows, f] + 1)
    a = d.x[rows].reshape(-1, res, res)
    b = d.x[nxt].reshape(-1, res, res)
    img_axis = 2 if axis_name == "x" else 1
    # the shifted image is the image moved by `step` pixels, exactly (no sprite touches an edge,
    # so the roll wraps only zeros)
    assert np.array_equal(b, np.roll(a, step, axis=img_axis))
    for i in range(0, len(rows), 97):
        ca, cb = centroid(a[i].astype(np.float64)), centroid(b[i].astype(np.float64))
        k = 0 if axis_name == "x" else 1
        assert cb[k] - ca[k] == pytest.approx(step, abs=1e-9)
        assert cb[1 - k] == pytest.approx(ca[1 - k], abs=1e-9)


def test_sprites_stay_inside_the_image(default_data):
    res = default_data.resolution
    imgs = default_data.x.reshape(-1, res, res)
    assert not imgs[:, 0, :].any() and not imgs[:, -1, :].any()
    assert not imgs[:, :, 0].any() and not imgs[:, :, -1].any()


@pytest.mark.parametrize("shape", range(3))
def test_centroid_is_the_position_at_every_orientation(shape):
    # The shapes are defined with their area centroid at the origin, so turning one does not
    # move it. Tolerance 0.1 px at 256 px (radius 64 px): the sampled boundary is exact to a
    # quarter pixel and its errors alternate in sign along ~350 px of boundary; a heart turned
    # about its diamond's centre instead would wander by 2 x 0.22 x 64 = 28 px.
    thetas = np.linspace(0, 2 * np.pi, 9)[:-1]
    vals = np.column_stack([np.full(8, shape), np.ones(8), thetas, np.full(8, 120.0),
                            np.full(8, 131.0)])
    imgs = render(vals, 256).reshape(-1, 256, 256).astype(np.float64)
    for img in imgs:
        cx, cy = centroid(img)
        assert cx == pytest.approx(120.0, abs=0.1)
        assert cy == pytest.approx(131.0, abs=0.1)


def test_symmetries_of_the_shapes():
    theta = 0.3
    def one(shape, angle):
        return render([[shape, 1.0, angle, 16.0, 16.0]], 32)[0]
    # ellipse: a half turn gives the same image; square: already a quarter turn does
    assert np.array_equal(one(1, theta), one(1, theta + np.pi))
    assert np.array_equal(one(0, theta), one(0, theta + np.pi / 2))
    # the ellipse and the heart are different after a quarter turn
    for shape in (1, 2):
        assert np.abs(one(shape, theta) - one(shape, theta + np.pi / 2)).sum() > 0.2 * one(shape, theta).sum()
    # the heart is not symmetric under a half turn: a large share of its mass moves
    heart, turned = one(2, theta), one(2, theta + np.pi)
    assert np.abs(heart - turned).sum() > 0.2 * heart.sum()
    # upright, the heart is its own mirror image (the lattice is symmetric about x = 16)
    upright = one(2, 0.0).reshape(32, 32)
    assert np.array_equal(upright, upright[:, ::-1])
    assert not np.array_equal(upright, upright[::-1, :])


def test_every_image_of_the_default_grid_is_distinct(default_data):
    # The orientation range [0, pi/2) is what makes this hold for the square; with dSprites'
    # [0, 2 pi) the square at 0 and at pi/2 would be one image with two factor values.
    assert len({row.tobytes() for row in default_data.x}) == len(default_data)


def test_values_are_coverage_fractions(default_data):
    x = default_data.x
    assert x.dtype == np.float32 and x.shape == (6144, 32 * 32)
    assert x.min() == 0 and x.max() == 1
    k = x * SUPERSAMPLE ** 2
    assert np.array_equal(k, np.round(k))


@settings(max_examples=20, deadline=None)
@given(shape=st.integers(0, 2), scale=st.floats(0.5, 1.0), theta=st.floats(-7, 7),
       x=st.floats(10, 16), y=st.floats(10, 16), dx=st.integers(-2, 6), dy=st.integers(-2, 6))
def test_whole_pixel_moves_translate_any_sprite(shape, scale, theta, x, y, dx, dy):
    a = render([[shape, scale, theta, x, y]], 32).reshape(32, 32)
    b = render([[shape, scale, theta, x + dx, y + dy]], 32).reshape(32, 32)
    # an off-grid position too: the sample lattice maps onto itself under whole-pixel moves,
    # up to the rounding of x + dx (which can move a sample lying on the boundary)
    assert np.abs(b - np.roll(a, (dy, dx), axis=(0, 1))).sum() <= 2 / SUPERSAMPLE ** 2
    assert a.sum() > 0


# ---- determinism and the grid -------------------------------------------------------------------

# SHA-256 of generate().x.tobytes() (default resolution and grid). Pinned so that a change of
# geometry, of grid or of platform arithmetic shows up here instead of as a silent change of data.
DEFAULT_SHA256 = "1aaa09fca41a664459741beff811c13ede0718c53b0da05ab1bcd86c64d203b6"


def test_rendering_is_deterministic(default_data):
    def digest(d):
        return hashlib.sha256(d.x.tobytes()).hexdigest()

    grid = {"orientation": 5, "x": 3, "y": 3}
    first, second = generate(40, grid), generate(40, grid)
    assert digest(first) == digest(second)
    assert np.array_equal(first.values, second.values)
    assert digest(default_data) == DEFAULT_SHA256


def test_factor_indices_index_the_grid(default_data):
    d = default_data
    n = len(d)
    assert d.names == FACTOR_NAMES
    assert d.sizes == tuple(DEFAULT_GRID[f] for f in FACTOR_NAMES)
    assert n == int(np.prod(d.sizes))
    # rows in C order of the grid
    assert np.array_equal(np.ravel_multi_index(d.indices.T, d.sizes), np.arange(n))
    for f in range(5):
        assert np.array_equal(d.values[:, f], d.grid[f][d.indices[:, f]])
        assert np.array_equal(np.bincount(d.indices[:, f]), np.full(d.sizes[f], n // d.sizes[f]))
    # the grid values
    shape, scale, orient, xs, ys = d.grid
    assert np.array_equal(shape, [0, 1, 2])
    assert scale[0] == 0.5 and scale[-1] == 1.0 and np.allclose(np.diff(scale), 0.5 / 3)
    assert orient[0] == 0 and np.allclose(np.diff(orient), np.pi / 16) and orient[-1] < np.pi / 2
    assert np.array_equal(xs, 9 + 2 * np.arange(8)) and np.array_equal(ys, xs)
    # an image is what render() draws from its row's values
    rows = np.arange(0, n, 61)
    assert np.array_equal(render(d.values[rows]), d.x[rows])
    # grid_values agrees
    for got, want in zip(grid_values(), d.grid):
        assert np.array_equal(got, want)


def test_grid_sizes_of_one_and_other_resolutions():
    d = generate(48, {"shape": 1, "scale": 1, "orientation": 1, "x": 1, "y": 2})
    assert d.x.shape == (2, 48 * 48)
    assert d.values[0, 1] == 1.0 and d.values[0, 3] == 24.0
    assert np.all(d.values[:, 0] == 0)            # one shape: the square


# ---- cache and split ------------------------------------------------------------------------------

def test_cache_round_trip(tmp_path, monkeypatch):
    fresh = generate(16, SMALL)
    first = load_sprites(tmp_path, "all", 16, SMALL)
    path = sprites.cache_path(tmp_path, 16, SMALL)
    assert path.is_file() and path.parent.name == "sprites"
    assert np.array_equal(first.x, fresh.x) and np.array_equal(first.indices, fresh.indices)

    def no_drawing(*args, **kwargs):
        raise AssertionError("the cache should have been read, not regenerated")

    monkeypatch.setattr(sprites, "_counts", no_drawing)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = load_sprites(tmp_path, "all", 16, SMALL)
    assert second.x.tobytes() == fresh.x.tobytes()
    assert np.array_equal(second.values, fresh.values)


def test_env_var_names_the_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIVAE_DATA", str(tmp_path))
    load_sprites(None, "test", 16, SMALL)
    assert sprites.cache_path(tmp_path, 16, SMALL).is_file()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "tamper", "other-parameters"])
def test_corrupt_cache_is_regenerated_with_a_warning(tmp_path, damage):
    fresh = generate(16, SMALL)
    load_sprites(tmp_path, "all", 16, SMALL)
    path = sprites.cache_path(tmp_path, 16, SMALL)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    else:
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
        if damage == "tamper":        # a valid file whose pixels no longer match the checksum
            arrays["counts"] = arrays["counts"].copy()
            arrays["counts"][0, 0] ^= 1
        else:                        # a valid file with its own checksum, but made otherwise
            meta = json.loads(str(arrays["meta"]))
            meta["supersample"] = 8
            arrays["meta"] = np.array(json.dumps(meta))
        np.savez_compressed(path, **arrays)
    expected = {"truncate": "cannot be read", "garbage": "cannot be read",
                "tamper": "SHA-256", "other-parameters": "other parameters"}[damage]
    with pytest.warns(RuntimeWarning, match=expected) as record:
        got = load_sprites(tmp_path, "all", 16, SMALL)
    assert str(path) in str(record[0].message) and "regenerating" in str(record[0].message)
    assert got.x.tobytes() == fresh.x.tobytes()
    # the rewritten file is good again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = load_sprites(tmp_path, "all", 16, SMALL)
    assert again.x.tobytes() == fresh.x.tobytes()


def test_split_is_fixed_disjoint_and_complete(tmp_path):
    fresh = generate(16, SMALL)
    n = len(fresh)
    train = load_sprites(tmp_path, "train", 16, SMALL)
    test = load_sprites(tmp_path, "test", 16, SMALL)
    assert len(test) == round(0.1 * n) and len(train) + len(test) == n
    ids_train = np.ravel_multi_index(train.indices.T, train.sizes)
    ids_test = np.ravel_multi_index(test.indices.T, test.sizes)
    assert np.intersect1d(ids_train, ids_test).size == 0
    assert np.array_equal(np.sort(np.concatenate([ids_train, ids_test])), np.arange(n))
    assert np.array_equal(train.x, fresh.x[ids_train]) and np.array_equal(test.x, fresh.x[ids_test])
    tr, te = split_indices(n)
    assert np.array_equal(tr, ids_train) and np.array_equal(te, ids_test)
    # the same rows every time, and a permutation rather than a block of the grid
    assert np.array_equal(split_indices(n)[1], te)
    assert not np.array_equal(te, np.arange(len(te)))
    assert train.split == "train" and test.split == "test"


def test_split_of_the_default_grid_covers_every_factor_value():
    _, test = split_indices(6144)
    idx = np.stack(np.unravel_index(test, tuple(DEFAULT_GRID[f] for f in FACTOR_NAMES)), axis=1)
    for f, name in enumerate(FACTOR_NAMES):
        assert len(np.unique(idx[:, f])) == DEFAULT_GRID[name]


# ---- bad input --------------------------------------------------------------------------------------

def test_unknown_factor_name():
    with pytest.raises(ValidationError, match=r"grid: factor name.*'colour'"):
        generate(32, {"colour": 3})


@pytest.mark.parametrize("name", ["scale", "x", "shape"])
def test_grid_size_zero(name):
    with pytest.raises(ValidationError, match=rf"grid\['{name}'\]: expected a positive integer, got 0"):
        generate(32, {name: 0})


def test_too_many_shapes_or_positions():
    with pytest.raises(ValidationError, match=r"grid\['shape'\]: expected at most 3"):
        generate(32, {"shape": 4})
    with pytest.raises(ValidationError, match=r"grid\['y'\].*at most 17 positions fit; got 18"):
        generate(32, {"y": 18})
    with pytest.raises(InputTypeError, match=r"grid\['x'\]"):
        generate(32, {"x": 2.5})
    with pytest.raises(InputTypeError, match="grid: expected a dict"):
        generate(32, [("x", 2)])


@pytest.mark.parametrize("resolution", [0, -32])
def test_non_positive_resolution(resolution):
    with pytest.raises(ValidationError, match=rf"resolution: expected a positive integer, got {resolution}"):
        generate(resolution)


def test_resolution_too_small_or_not_an_int():
    with pytest.raises(ValidationError, match=r"resolution: expected at least 16 pixels.*got 12"):
        generate(12)
    with pytest.raises(InputTypeError, match="resolution"):
        generate(32.0)
    with pytest.raises(ValidationError, match="resolution: expected at most 512"):
        generate(1024)
    with pytest.raises(ValidationError, match="resolution: expected at least 16"):
        load_sprites("unused", "train", 8)


def test_bad_render_values_and_split(tmp_path):
    with pytest.raises(ValidationError, match=r"values: expected 5 columns"):
        render(np.zeros((2, 4)))
    with pytest.raises(ValidationError, match=r"values\[:, 0\] \(shape\): expected 0, 1 or 2.*got 3"):
        render([[3, 1, 0, 16, 16]])
    with pytest.raises(ValidationError, match=r"values\[:, 1\] \(scale\): expected positive"):
        render([[0, 0, 0, 16, 16]])
    with pytest.raises(ValidationError, match="finite"):
        render([[0, 1, np.nan, 16, 16]])
    with pytest.raises(ValidationError, match=r"split: expected one of .*'valid'"):
        load_sprites(tmp_path, "valid", 16, SMALL)
    with pytest.raises(InputTypeError, match="root"):
        load_sprites(3, "train", 16, SMALL)


# ------------------------------------------------------------------------------------------------
# As a data set of minivae.datasets and of the command line
# ------------------------------------------------------------------------------------------------
def test_load_sprites_through_the_registry(tmp_path):
    from minivae import datasets
    ds = datasets.load("sprites", "test", root=tmp_path)
    assert ds.shape == (32, 32) and ds.x.shape[1] == 32 * 32 and ds.x.dtype == np.float32
    assert ds.factors is not None and len(ds.factors) == len(ds) and tuple(ds.factors.names) == FACTOR_NAMES
    np.testing.assert_array_equal(ds.x, ds.factors.x)
    assert "factors=('shape'" in repr(ds)
    with pytest.raises(ValidationError, match="drawn by minivae, not downloaded"):
        datasets.fetch("sprites", "train", root=tmp_path)
    with pytest.raises(ValidationError, match="split of data set 'sprites' must be one of"):
        datasets.load("sprites", "valid", root=tmp_path)


def test_cli_trains_on_sprites(tmp_path):
    from minivae import checkpoint
    from minivae.cli import main
    out = tmp_path / "run"
    rc = main(["train", "--data", "sprites", "--data-dir", str(tmp_path), "--hidden", "16", "--latent-dim", "3",
               "--beta", "4", "--epochs", "1", "--limit", "256", "--no-progress", "--out", str(out)])
    assert rc == 0
    model = checkpoint.load_model(out / "checkpoint.npz")
    assert model.input_dim == 1024 and model.beta == 4.0
    assert (out / "samples.png").stat().st_size > 0 and (out / "reconstructions.png").stat().st_size > 0
