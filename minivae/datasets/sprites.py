"""Sprites: small images drawn by NumPy from five known factors, to measure disentanglement.

Lecture 001 presents the beta-VAE, whose objective E_q[log p(x|z)] - beta KL(q(z|x) || p(z))
with beta > 1 is said to give disentangled latents: one latent coordinate per independent factor
of variation. Checking that claim needs images whose factors are known exactly. This module draws
them after dSprites (Matthey et al. 2017), from five factors:

``shape``        square, ellipse, heart (the factor value is the index 0, 1, 2);
``scale``        equally spaced in [0.5, 1];
``orientation``  counter-clockwise angle in radians, equally spaced in [0, pi/2) (see below);
``x``, ``y``     the centre of the sprite in pixels, measured from the left and the top edge
                 (pixel (row i, column j) covers [j, j + 1) x [i, i + 1)); ``y`` grows downwards,
                 as rows do.

Every combination of the grid is one image; rows of :func:`generate` enumerate the grid in C
order, ``shape`` slowest and ``y`` fastest, so row ``i`` has factor indices
``np.unravel_index(i, sizes)``.

Resolution and grid
-------------------
dSprites is 3 x 6 x 40 x 32 x 32 = 737,280 images of 64 x 64 pixels: too many to train on in
minutes with two CPU cores. The default here is 32 x 32 pixels and 3 x 4 x 8 x 8 x 8 = 6,144
images (25 MB as float32): an epoch of minivae's 1024-400-10 MLP VAE over the 5,530 training
images takes about a second on two CPU cores (batch 64), and every factor still has enough
values (at least 3) for the metrics of :mod:`minivae.disentanglement` to tell a factor captured
from one ignored. At scale 1 a shape fits in a disc of radius resolution / 4 (8 pixels), at
scale 0.5 in one of 4 pixels: small, yet the three shapes and the ellipse's axis stay apart
(``benchmarks/sprites_preview.py`` draws them). Below a radius of 2 pixels they would not, so
resolutions under 16 are refused. The resolution and every count can be changed through the
arguments.

Positions step by whole pixels: the centre moves over the middle half of the image (so a sprite
of any scale and orientation stays inside it), in steps of ``floor(span / (n - 1))`` pixels,
centred. With whole-pixel steps a move of one grid step is an exact translation of the image (the
sampling lattice maps onto itself), so position is a clean factor: the same sprite, shifted. A
grid with more positions than whole pixels in that span is refused.

Orientation and symmetry
------------------------
dSprites rotates every shape over [0, 2 pi]. A square rotated by a quarter turn is the same
image, and an ellipse rotated by a half turn too, so there the orientation of a square cannot be
read from its image beyond the remainder modulo pi/2: different factor values share one image,
and no encoder, however good, can score 1 on a metric that asks it to tell them apart. Here every
shape is rotated over the same range [0, pi/2), one quarter turn, the symmetry period of the most
symmetric shape (the square). Within it no two grid points of one shape give the same image
(``tests/test_sprites.py`` checks that every image of the default grid is distinct), and an angle
means the same rotation for every shape. The price: the heart shows only a quarter of its turns,
and for the square the range is a full circle (the image at pi/2 is the image at 0 again), while
for the ellipse and the heart it is an arc with two different ends.

Rendering
---------
Each shape is a region in its own coordinates, fitting the unit disc, with its area centroid at
the origin (so that rotating it does not move it) and mirror-symmetric about the vertical axis:

* square: max(|p|, |q|) <= 1/sqrt(2) (corners on the unit circle);
* ellipse: p^2 + (q / 0.5)^2 <= 1 (long axis horizontal at orientation 0);
* heart: a square of side a turned by 45 degrees (a diamond, point down) joined with the two
  discs whose diameters are its two upper sides; its area is a^2 (1 + pi/4) and its centroid
  lies a fixed distance above the diamond's centre, computed in closed form below; it is then
  shifted and scaled to fit the unit disc. A heart turned by a half turn is another image.

A pixel's value is the fraction of its 4 x 4 sample points (at the centres of a 4 x 4
subdivision of the pixel) that fall inside the shape, scaled by ``scale * resolution / 4``,
rotated by ``orientation`` and centred at (x, y): anti-aliased coverage, one of the 17 values
k / 16, which float32 holds exactly. Anti-aliased rather than binary because at 32 pixels a
binary image of a small sprite changes only where an edge crosses a pixel centre: a turn by one
step (11.25 degrees) may flip a few pixels or none, so the image would follow the factor in
jumps; coverage follows it in steps of 1/16 of a pixel. The values lie in [0, 1], so the
Bernoulli likelihood applies as to grey-level MNIST (threshold at 0.5 for binary data).

Determinism
-----------
No randomness goes into the images. The geometry is float64 and uses only +, -, *, /, absolute
values and comparisons (sqrt and pi only in constants), which IEEE 754 makes the same on every
machine, apart from the cosine and sine of the orientation, whose last bits may differ between math libraries; they are rounded to multiples of
2^-40 first, which absorbs such differences. Coverage is an exact count. The same call gives the
same bytes anywhere (``tests/test_sprites.py`` pins a SHA-256).

Cache and split
---------------
:func:`load_sprites` generates the images once and keeps them in
``<root>/sprites/sprites-<resolution>px-<grid>-v<version>.npz``, written atomically, with the
parameters and a SHA-256 of the arrays inside. A cache file that is unreadable, fails its
checksum or holds other parameters is regenerated and rewritten (with a ``RuntimeWarning``):
its content is a deterministic function of the parameters, so rebuilding it loses nothing.
Nothing is downloaded.

The split: a tenth of the images (rounded) form ``"test"``, the rest ``"train"``; ``"all"`` is
the whole grid. The test rows are the first ``n_test`` of a permutation fixed by seed 0: the
stable argsort of N raw 64-bit outputs of ``numpy.random.PCG64(0)``, whose stream NumPy keeps
the same across versions (unlike the methods of ``Generator``). Rows keep grid order within a
split.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import DataFileError, InputTypeError, ValidationError
from ..runtime.files import atomic_write
from ..runtime.validation import check_array, check_choice, check_positive_int
from .registry import resolve_root

__all__ = ["FACTOR_NAMES", "SHAPES", "DEFAULT_GRID", "DEFAULT_RESOLUTION", "SUPERSAMPLE",
           "SpriteData", "grid_values", "render", "generate", "load_sprites", "split_indices",
           "cache_path", "UNIT_AREAS"]

#: The five factors, in the order of the columns of ``values`` and ``indices``.
FACTOR_NAMES = ("shape", "scale", "orientation", "x", "y")
#: The shapes, in the order of the values of the ``shape`` factor.
SHAPES = ("square", "ellipse", "heart")
#: Number of grid values per factor by default (6,144 images).
DEFAULT_GRID = {"shape": 3, "scale": 4, "orientation": 8, "x": 8, "y": 8}
DEFAULT_RESOLUTION = 32
#: Sample points per pixel along each axis (coverage is a count out of SUPERSAMPLE**2).
SUPERSAMPLE = 4
#: Smallest and largest scale.
SCALE_RANGE = (0.5, 1.0)
#: Orientations cover [0, ORIENTATION_PERIOD): the quarter turn that maps a square onto itself.
ORIENTATION_PERIOD = math.pi / 2
#: At scale 1 a shape fits in a disc of radius RADIUS_FRACTION * resolution pixels.
RADIUS_FRACTION = 0.25
#: The smallest sprite's disc must have at least this radius in pixels to show its shape.
MIN_RADIUS_PX = 2.0
#: Largest resolution accepted (the full default grid at 512 px would already take 6.4 GB).
MAX_RESOLUTION = 512
#: Fraction of the grid held out as the test split, and the seed of its permutation.
TEST_FRACTION = 0.1
SPLIT_SEED = 0
#: Version of the cache file's layout; a file of another version is regenerated.
CACHE_VERSION = 1

# ---- the shapes in their own coordinates ----------------------------------------------------

_SQUARE_HALF = 1.0 / math.sqrt(2.0)
_ELLIPSE_B = 0.5

# Heart from a diamond of side 1: half-diagonal d, lobes of radius 1/2 centred at (+-d/2, d/2).
_HEART_D = 1.0 / math.sqrt(2.0)
_HEART_R = 0.5
# Centroid height: the diamond (area 1) has its centroid at 0; the two outer half-discs (area
# pi r^2 together) have theirs 4 r / (3 pi) beyond their diameters, along the normals (-+1, 1)/sqrt 2.
_HEART_AREA = 1.0 + math.pi * _HEART_R ** 2
_HEART_YC = (math.pi * _HEART_R ** 2
             * (_HEART_D / 2 + 4 * _HEART_R / (3 * math.pi * math.sqrt(2.0)))) / _HEART_AREA
# Farthest boundary point from the centroid: the bottom tip, or the far side of a lobe.
_HEART_EXTENT = max(_HEART_D + _HEART_YC,
                    math.sqrt((_HEART_D / 2) ** 2 + (_HEART_D / 2 - _HEART_YC) ** 2) + _HEART_R)

#: Area of each shape in its own (unit-disc) coordinates; a sprite covers area * radius^2 pixels.
UNIT_AREAS = {
    "square": (2 * _SQUARE_HALF) ** 2,
    "ellipse": math.pi * _ELLIPSE_B,
    "heart": _HEART_AREA / _HEART_EXTENT ** 2,
}


def _inside(shape, p, q):
    """Boolean mask of the points (p, q) (unit coordinates, q up) inside shape number ``shape``."""
    if shape == 0:
        return np.maximum(np.abs(p), np.abs(q)) <= _SQUARE_HALF
    if shape == 1:
        return p * p + (q / _ELLIPSE_B) ** 2 <= 1.0
    # back to the diamond-of-side-1 coordinates, where the centroid sits at height _HEART_YC
    hx = np.abs(p) * _HEART_EXTENT
    hy = q * _HEART_EXTENT + _HEART_YC
    lobe = (hx - _HEART_D / 2) ** 2 + (hy - _HEART_D / 2) ** 2 <= _HEART_R ** 2
    return lobe | (hx + np.abs(hy) <= _HEART_D)


def _rotation(theta):
    """cos and sin of ``theta`` rounded to multiples of 2^-40, the same on every machine."""
    scale = 2.0 ** 40
    return np.round(np.cos(theta) * scale) / scale, np.round(np.sin(theta) * scale) / scale


# ---- the grid ---------------------------------------------------------------------------------

def _check_resolution(resolution):
    resolution = check_positive_int(resolution, "resolution", maximum=MAX_RESOLUTION,
                                    max_name="so that a grid of images fits in memory")
    smallest = SCALE_RANGE[0] * RADIUS_FRACTION * resolution
    if smallest < MIN_RADIUS_PX:
        need = math.ceil(MIN_RADIUS_PX / (SCALE_RANGE[0] * RADIUS_FRACTION))
        raise ValidationError(
            f"resolution: expected at least {need} pixels, so that the smallest sprite (scale "
            f"{SCALE_RANGE[0]}) spans a disc of radius >= {MIN_RADIUS_PX:g} pixels and shows its "
            f"shape; got {resolution} (radius {smallest:g} pixels)")
    return resolution


def _check_grid(grid, resolution):
    """The grid sizes as a tuple in FACTOR_NAMES order, with defaults for missing factors."""
    if grid is None:
        grid = {}
    if not isinstance(grid, dict):
        raise InputTypeError(f"grid: expected a dict of factor name -> number of values, "
                             f"got {type(grid).__name__}")
    for name in grid:
        check_choice(name, "grid: factor name", FACTOR_NAMES)
    sizes = []
    for name in FACTOR_NAMES:
        n = check_positive_int(grid.get(name, DEFAULT_GRID[name]), f"grid[{name!r}]")
        sizes.append(n)
    if sizes[0] > len(SHAPES):
        raise ValidationError(f"grid['shape']: expected at most {len(SHAPES)} shapes {SHAPES}, "
                              f"got {sizes[0]}")
    span = resolution - 2 * RADIUS_FRACTION * resolution
    for name, n in zip(("x", "y"), sizes[3:]):
        if n > 1 and math.floor(span / (n - 1)) < 1:
            raise ValidationError(
                f"grid[{name!r}]: positions step by whole pixels over the {span:g} pixels a "
                f"sprite's centre may move at resolution {resolution}, so at most "
                f"{math.floor(span) + 1} positions fit; got {n}")
    return tuple(sizes)


def _positions(n, resolution):
    if n == 1:
        return np.array([resolution / 2.0])
    span = resolution - 2 * RADIUS_FRACTION * resolution
    step = math.floor(span / (n - 1))
    lo = (resolution - step * (n - 1)) / 2.0
    return lo + step * np.arange(n, dtype=np.float64)


def grid_values(resolution=DEFAULT_RESOLUTION, grid=None):
    """The values each factor takes on the grid.

    Parameters
    ----------
    resolution : int
        Image height and width in pixels.
    grid : dict, optional
        Factor name -> number of values; missing factors take :data:`DEFAULT_GRID`.

    Returns
    -------
    tuple of 5 float64 arrays
        In :data:`FACTOR_NAMES` order: shape index, scale, orientation (radians), x and y
        (pixels). The value of factor ``f`` at index ``k`` is ``grid_values(...)[f][k]``.
    """
    resolution = _check_resolution(resolution)
    sizes = _check_grid(grid, resolution)
    return _grid_values(resolution, sizes)


def _grid_values(resolution, sizes):
    n_shape, n_scale, n_orient, n_x, n_y = sizes
    lo, hi = SCALE_RANGE
    # lo + (hi - lo) k / (n - 1) written out, not np.linspace, whose formula may change
    scales = (np.array([hi]) if n_scale == 1
              else lo + (hi - lo) * np.arange(n_scale, dtype=np.float64) / (n_scale - 1))
    orient = ORIENTATION_PERIOD * np.arange(n_orient, dtype=np.float64) / n_orient
    return (np.arange(n_shape, dtype=np.float64), scales, orient,
            _positions(n_x, resolution), _positions(n_y, resolution))


# ---- drawing ------------------------------------------------------------------------------------

def render(values, resolution=DEFAULT_RESOLUTION):
    """Draw sprites from factor values (any values, on the grid or not).

    Parameters
    ----------
    values : array_like, shape (N, 5)
        Columns in :data:`FACTOR_NAMES` order: shape index (0, 1 or 2), scale (> 0),
        orientation (radians, counter-clockwise), x and y of the centre (pixels).
    resolution : int

    Returns
    -------
    ndarray of float32, shape (N, resolution * resolution)
        Coverage k / 16 of each pixel, rows of the image one after the other.

    Notes
    -----
    A sample point at column position s_x and row position s_y (pixels) is inside the sprite if
    the point (p, q) of the shape's own coordinates that lands there is inside the shape:

        u = s_x - x,   v = y - s_y                       (v points up on the screen)
        p = ( cos(theta) u + sin(theta) v) / rho
        q = (-sin(theta) u + cos(theta) v) / rho,        rho = scale * resolution / 4,

    the rotation by -theta undoing the sprite's counter-clockwise turn by theta.
    """
    resolution = _check_resolution(resolution)
    values = check_array(values, "values", ndim=2)
    if values.shape[1] != len(FACTOR_NAMES):
        raise ValidationError(f"values: expected {len(FACTOR_NAMES)} columns {FACTOR_NAMES}, "
                              f"got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValidationError("values: expected finite factor values, found NaN or infinity")
    shapes = values[:, 0]
    if not np.all(np.isin(shapes, np.arange(len(SHAPES)))):
        bad = shapes[~np.isin(shapes, np.arange(len(SHAPES)))][0]
        raise ValidationError(f"values[:, 0] (shape): expected 0, 1 or 2 for {SHAPES}, got {bad:g}")
    if np.any(values[:, 1] <= 0):
        raise ValidationError(f"values[:, 1] (scale): expected positive scales, got "
                              f"{values[:, 1].min():g}")
    return _counts(values.astype(np.float64), resolution).astype(np.float32) / SUPERSAMPLE ** 2


def _counts(values, resolution, chunk_samples=1 << 21):
    """Number of sample points inside each sprite, per pixel: uint8 (N, resolution**2)."""
    s = SUPERSAMPLE
    n = len(values)
    out = np.empty((n, resolution * resolution), dtype=np.uint8)
    # sample coordinates along one axis: pixel j, sub-sample a at j + (a + 1/2) / s (exact in binary)
    t = (np.arange(resolution * s, dtype=np.float64) + 0.5) / s
    radius = values[:, 1] * (RADIUS_FRACTION * resolution)
    cos, sin = _rotation(values[:, 2])
    per_sprite = (resolution * s) ** 2
    step = max(1, chunk_samples // per_sprite)
    for shape in range(len(SHAPES)):
        rows = np.flatnonzero(values[:, 0] == shape)
        for start in range(0, len(rows), step):
            r = rows[start:start + step]
            u = t[None, None, :] - values[r, 3, None, None]       # to the right
            v = values[r, 4, None, None] - t[None, :, None]       # upwards (rows grow downwards)
            c, sn, rad = cos[r, None, None], sin[r, None, None], radius[r, None, None]
            # the shape turned counter-clockwise by theta: undo the turn on the sample points
            p = (c * u + sn * v) / rad
            q = (c * v - sn * u) / rad
            inside = _inside(shape, p, q)
            counts = inside.reshape(len(r), resolution, s, resolution, s).sum(axis=(2, 4))
            out[r] = counts.reshape(len(r), -1).astype(np.uint8)
    return out


# ---- the data set -------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False, repr=False)
class SpriteData:
    """Sprites with their factors.

    Attributes
    ----------
    x : ndarray of float32, shape (N, resolution**2)
        Pixel coverage in [0, 1].
    values : ndarray of float64, shape (N, 5)
        Factor values, columns in :data:`FACTOR_NAMES` order.
    indices : ndarray of int64, shape (N, 5)
        Index of each factor value in its grid: ``values[i, f] == grid[f][indices[i, f]]``.
    names : tuple of str
        :data:`FACTOR_NAMES`.
    sizes : tuple of int
        Number of grid values per factor.
    grid : tuple of 5 float64 arrays
        The grid values of each factor.
    resolution : int
    split : str
        ``"all"``, ``"train"`` or ``"test"``.
    """

    x: np.ndarray
    values: np.ndarray
    indices: np.ndarray
    names: tuple
    sizes: tuple
    grid: tuple
    resolution: int
    split: str = "all"

    def __len__(self):
        return int(self.x.shape[0])

    def __repr__(self):
        return (f"SpriteData(split={self.split!r}, x={self.x.shape} {self.x.dtype}, "
                f"resolution={self.resolution}, sizes={dict(zip(self.names, self.sizes))})")

    def take(self, rows, split):
        """The same data restricted to ``rows`` (used for the splits)."""
        return SpriteData(self.x[rows], self.values[rows], self.indices[rows], self.names,
                          self.sizes, self.grid, self.resolution, split)


def _grid_indices(sizes):
    """All index combinations in C order: (prod(sizes), 5) int64."""
    return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1).astype(np.int64)


def _build(resolution, sizes, counts=None):
    grid = _grid_values(resolution, sizes)
    indices = _grid_indices(sizes)
    values = np.stack([grid[f][indices[:, f]] for f in range(len(FACTOR_NAMES))], axis=1)
    if counts is None:
        counts = _counts(values, resolution)
    x = counts.astype(np.float32) / SUPERSAMPLE ** 2
    return SpriteData(x, values, indices, FACTOR_NAMES, sizes, grid, resolution), counts


def generate(resolution=DEFAULT_RESOLUTION, grid=None):
    """Draw every sprite of the grid (no cache; see :func:`load_sprites` for the cached copy).

    Parameters
    ----------
    resolution : int, default 32
        Height and width in pixels; at least 16 (the smallest sprite must span a disc of
        radius 2 pixels) and at most 512.
    grid : dict, optional
        Factor name (one of :data:`FACTOR_NAMES`) -> number of values, each >= 1 (at most 3
        shapes, and at most as many positions as whole pixels in the middle half of the image,
        plus one); missing factors take :data:`DEFAULT_GRID`.

    Returns
    -------
    SpriteData
        ``x`` (N, resolution**2) float32 in [0, 1], ``values`` (N, 5) float64, ``indices``
        (N, 5) int64, ``names``, ``sizes``; N = prod(sizes), rows in grid (C) order.

    Raises
    ------
    ValidationError
        An unknown factor name, a grid size below 1, or a resolution too small (or too large)
        to draw, with what was expected.
    """
    resolution = _check_resolution(resolution)
    sizes = _check_grid(grid, resolution)
    return _build(resolution, sizes)[0]


def split_indices(n, seed=SPLIT_SEED, test_fraction=TEST_FRACTION):
    """Rows of the train and test splits of ``n`` examples, each sorted.

    The test rows are the first ``round(test_fraction * n)`` entries of the stable argsort of
    ``n`` raw 64-bit outputs of ``numpy.random.PCG64(seed)``: a uniformly random permutation
    whose bits do not depend on the NumPy version.

    Returns
    -------
    train, test : ndarray of int64
    """
    n = check_positive_int(n, "n")
    keys = np.random.PCG64(seed).random_raw(n)
    order = np.argsort(keys, kind="stable")
    n_test = int(round(test_fraction * n))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def cache_path(root=None, resolution=DEFAULT_RESOLUTION, grid=None):
    """Where :func:`load_sprites` keeps the images of this resolution and grid."""
    resolution = _check_resolution(resolution)
    sizes = _check_grid(grid, resolution)
    return _cache_path(resolve_root(root), resolution, sizes)


def _cache_path(root, resolution, sizes):
    return root / "sprites" / f"sprites-{resolution}px-{'x'.join(map(str, sizes))}-v{CACHE_VERSION}.npz"


def _digest(counts, values, indices):
    h = hashlib.sha256()
    for a in (counts, values, indices):
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _meta(resolution, sizes):
    return {"version": CACHE_VERSION, "resolution": resolution, "sizes": list(sizes),
            "supersample": SUPERSAMPLE, "scale_range": list(SCALE_RANGE),
            "orientation_period": ORIENTATION_PERIOD, "radius_fraction": RADIUS_FRACTION}


def _read_cache(path, resolution, sizes):
    """The cached counts, or raise DataFileError saying what is wrong with the file."""
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            counts, values, indices = f["counts"], f["values"], f["indices"]
    except Exception as exc:
        # a damaged file can fail anywhere in zip, npy or json parsing, with any of their errors
        raise DataFileError(f"{path}: cannot be read as a sprites cache ({type(exc).__name__}: {exc})") from exc
    expected = _meta(resolution, sizes)
    stored = {k: meta.get(k) for k in expected}
    if stored != expected:
        raise DataFileError(f"{path}: made with other parameters {stored}, expected {expected}")
    if meta.get("sha256") != _digest(counts, values, indices):
        raise DataFileError(f"{path}: the arrays fail their stored SHA-256 (corrupt file)")
    return counts


def load_sprites(root=None, split="train", resolution=DEFAULT_RESOLUTION, grid=None):
    """The sprites of one split, generated once and cached below the data root.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Data root; by default the folder in the environment variable ``MINIVAE_DATA``, else
        ``./data``. The cache goes to ``<root>/sprites/``.
    split : {"train", "test", "all"}
        The 90 % / 10 % split described in the module docstring, or the whole grid.
    resolution, grid
        As for :func:`generate`.

    Returns
    -------
    SpriteData
        Identical (byte for byte) to the matching rows of ``generate(resolution, grid)``.

    Notes
    -----
    A cache file that cannot be read, fails its SHA-256 or was made with other parameters is
    regenerated and rewritten, with a ``RuntimeWarning`` naming the file and the problem.
    """
    split = check_choice(split, "split", ("train", "test", "all"))
    resolution = _check_resolution(resolution)
    sizes = _check_grid(grid, resolution)
    path = _cache_path(resolve_root(root), resolution, sizes)
    counts = None
    if path.is_file():
        try:
            counts = _read_cache(path, resolution, sizes)
        except DataFileError as exc:
            warnings.warn(f"{exc}; regenerating it", RuntimeWarning, stacklevel=2)
    data, counts_now = _build(resolution, sizes, counts)
    if counts is None:
        meta = dict(_meta(resolution, sizes), sha256=_digest(counts_now, data.values, data.indices))

        def write(f):
            buf = io.BytesIO()
            np.savez_compressed(buf, counts=counts_now, values=data.values, indices=data.indices,
                                meta=np.array(json.dumps(meta, sort_keys=True)))
            f.write(buf.getvalue())

        atomic_write(path, write)
    if split == "all":
        return data
    train, test = split_indices(len(data))
    return data.take(train if split == "train" else test, split)
