"""The pictures of lectures 000, 003 and 004 (minivae.plots) and missing-data imputation
(minivae.inpaint): shapes, the numbers behind each picture, clamped observed pixels, different
completions, clear errors, and figures that render to PNG."""
import numpy as np
import pytest
from matplotlib.figure import Figure

import minivae
from minivae import plots
from minivae.errors import ValidationError
from minivae.inpaint import inpaint, region_mask
from minivae.train import fit


@pytest.fixture(scope="module")
def vae2():
    return minivae.VAE(input_dim=16, latent_dim=2, hidden=(8,), seed=0)


@pytest.fixture(scope="module")
def ae2():
    return minivae.AE(input_dim=16, latent_dim=2, hidden=(8,), seed=0)


def _png_bytes(fig, tmp_path, name="fig.png"):
    path = tmp_path / name
    plots.save(fig, path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


# --------------------------------------------------------------------------------------------
# region_mask
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("region,expected_hidden", [
    ("bottom", lambda m: m[14:, :]), ("top", lambda m: m[:14, :]),
    ("left", lambda m: m[:, :14]), ("right", lambda m: m[:, 14:]), ("centre", lambda m: m[7:21, 7:21]),
])
def test_region_mask_hides_exactly_the_region(region, expected_hidden):
    observed = region_mask(region, 0.5).reshape(28, 28)
    assert observed.dtype == bool
    assert not expected_hidden(observed).any()
    assert (~observed).sum() == expected_hidden(observed).size


@pytest.mark.parametrize("kwargs,match", [
    ({"region": "middle"}, "region"), ({"fraction": 0.0}, "fraction"), ({"fraction": 1.5}, "fraction"),
])
def test_region_mask_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        region_mask(**kwargs)


# --------------------------------------------------------------------------------------------
# inpaint
# --------------------------------------------------------------------------------------------
def test_inpaint_keeps_observed_pixels_and_draws_different_completions(vae2, rng):
    x = rng.random((3, 16)).astype(np.float32)
    observed = np.arange(16) < 10
    out = inpaint(vae2, x, observed, n_samples=5, n_steps=7, rng=0)
    assert out.shape == (3, 5, 16)
    assert np.array_equal(out[:, :, observed], np.broadcast_to(x[:, None, observed], (3, 5, 10)))
    hidden = out[:, :, ~observed]
    assert np.all((hidden >= 0) & (hidden <= 1))
    assert not np.allclose(hidden, 0.5), "hidden pixels were never filled in"
    for i in range(3):
        spread = hidden[i].std(axis=0).max()
        assert spread > 1e-3, f"completions of image {i} are all the same"


def test_inpaint_per_example_mask_and_reproducibility(vae2, rng):
    x = rng.random((2, 16)).astype(np.float32)
    observed = rng.random((2, 16)) < 0.5
    a = inpaint(vae2, x, observed, n_samples=3, n_steps=4, rng=np.random.default_rng(7))
    b = inpaint(vae2, x, observed, n_samples=3, n_steps=4, rng=np.random.default_rng(7))
    assert np.array_equal(a, b)
    for i in range(2):
        assert np.array_equal(a[i][:, observed[i]], np.tile(x[i, observed[i]], (3, 1)))


def test_inpaint_recovers_the_hidden_half_of_a_learned_pattern():
    """On data made of two prototypes the left half identifies the right half, so a trained VAE
    must complete the right half with the matching prototype (far better than the grey fill)."""
    gen = np.random.default_rng(0)
    protos = np.array([[1.0] * 8 + [0.0, 1.0] * 4, [0.0] * 8 + [1.0, 1.0, 0.0, 0.0] * 2], dtype=np.float32)
    labels = gen.integers(0, 2, 2000)
    data = np.clip(protos[labels] + 0.05 * gen.standard_normal((2000, 16)), 0, 1).astype(np.float32)
    model = minivae.VAE(input_dim=16, latent_dim=2, hidden=(16,), seed=1)
    fit(model, data, epochs=15, batch_size=50, lr=3e-3, progress=False, verbose=False)
    observed = np.arange(16) < 8
    out = inpaint(model, protos, observed, n_samples=4, n_steps=30, rng=0)
    err = np.abs(out[:, :, ~observed] - protos[:, None, ~observed]).mean()
    assert err < 0.15, f"mean absolute error of the completed half: {err:.3f} (the 0.5 fill gives 0.5)"


@pytest.mark.parametrize("kwargs,match", [
    ({"observed": np.ones(16)}, "boolean"),
    ({"observed": np.ones(15, dtype=bool)}, "shape"),
    ({"n_samples": 0}, "n_samples"),
    ({"n_steps": -1}, "n_steps"),
    ({"rng": None}, "rng"),
])
def test_inpaint_rejects_bad_arguments(vae2, kwargs, match):
    args = {"x": np.full((2, 16), 0.5, np.float32), "observed": np.ones(16, dtype=bool), "n_samples": 2,
            "n_steps": 2, "rng": 0}
    args.update(kwargs)
    with pytest.raises(ValidationError, match=match):
        inpaint(vae2, **args)


def test_inpaint_needs_a_vae(ae2):
    with pytest.raises(ValidationError, match="VAE"):
        inpaint(ae2, np.zeros((1, 16), np.float32), np.ones(16, dtype=bool), rng=0)


def test_inpaint_checks_the_data_range(vae2):
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        inpaint(vae2, np.full((1, 16), 3.0, np.float32), np.ones(16, dtype=bool), rng=0)


# --------------------------------------------------------------------------------------------
# The numbers behind the pictures
# --------------------------------------------------------------------------------------------
def test_interpolate_runs_from_one_reconstruction_to_the_other(vae2, rng):
    xa, xb = rng.random(16).astype(np.float32), rng.random(16).astype(np.float32)
    path = plots.interpolate(vae2, xa, xb, steps=6)
    assert path.shape == (6, 16)
    np.testing.assert_allclose(path[0], vae2.reconstruct(xa[None])[0], rtol=1e-5)
    np.testing.assert_allclose(path[-1], vae2.reconstruct(xb[None])[0], rtol=1e-5)
    za, zb = vae2.embed(np.stack([xa, xb]))
    np.testing.assert_allclose(path[2], vae2.decode(((0.6 * za + 0.4 * zb))[None])[0], rtol=1e-5)
    with pytest.raises(ValidationError, match="steps"):
        plots.interpolate(vae2, xa, xb, steps=1)


def test_latent_grid_default_is_prior_quantiles_and_limits_are_respected():
    from scipy.stats import norm
    g = plots.latent_grid(5)
    assert g.shape == (25, 2)
    np.testing.assert_allclose(np.unique(g[:, 0]), norm.ppf(np.linspace(0.05, 0.95, 5)))
    assert g[0, 1] == g[:, 1].max() and g[0, 0] == g[:, 0].min()       # top-left first
    g = plots.latent_grid(3, limits=(-2, 4))
    np.testing.assert_allclose(np.unique(g[:, 1]), [-2, 1, 4])
    with pytest.raises(ValidationError, match="limits"):
        plots.latent_grid(3, limits=(1, 1))
    g = plots.latent_grid(3, limits=((-2, 4), (10, 12)))          # one range per axis
    np.testing.assert_allclose(np.unique(g[:, 0]), [-2, 1, 4])
    np.testing.assert_allclose(np.unique(g[:, 1]), [10, 11, 12])
    assert g[0, 1] == 12 and g[-1, 1] == 10
    with pytest.raises(ValidationError, match="per axis"):
        plots.latent_grid(3, limits=((-2, 4), (1,)))
    with pytest.raises(ValidationError, match="lo < hi"):
        plots.latent_grid(3, limits=((-2, 4), (3, 3)))


def test_class_direction_is_the_difference_of_class_means(vae2, rng):
    x = rng.random((20, 16)).astype(np.float32)
    y = np.arange(20) % 3
    z = vae2.embed(x)
    np.testing.assert_allclose(plots.class_direction(vae2, x, y, 0, 2), z[y == 2].mean(0) - z[y == 0].mean(0), rtol=1e-5)
    with pytest.raises(ValidationError, match="class 7"):
        plots.class_direction(vae2, x, y, 0, 7)
    with pytest.raises(ValidationError, match="labels"):
        plots.class_direction(vae2, x, y[:5], 0, 2)


def test_edit_moves_codes_along_the_direction(vae2, rng):
    x = rng.random((3, 16)).astype(np.float32)
    direction = np.array([1.0, -0.5])
    out = plots.edit(vae2, x, direction, [0.0, 1.0, 2.0])
    assert out.shape == (3, 3, 16)
    np.testing.assert_allclose(out[:, 0], vae2.reconstruct(x), rtol=1e-5)
    np.testing.assert_allclose(out[:, 2], vae2.decode((vae2.embed(x) + 2 * direction).astype(np.float32)), rtol=1e-5)
    with pytest.raises(ValidationError, match="direction"):
        plots.edit(vae2, x, np.ones(3), [1.0])
    with pytest.raises(ValidationError, match="amounts"):
        plots.edit(vae2, x, direction, [])


# --------------------------------------------------------------------------------------------
# The figures
# --------------------------------------------------------------------------------------------
def test_embedding_figure_draws_one_panel_per_model(vae2, ae2, rng, tmp_path):
    x = rng.random((50, 16)).astype(np.float32)
    y = rng.integers(0, 10, 50)
    fig = plots.embedding_figure({"VAE": vae2, "AE": ae2}, x, y)
    assert isinstance(fig, Figure)
    scatters = [ax for ax in fig.axes if ax.get_title()]
    assert len(scatters) == 2
    np.testing.assert_allclose(scatters[0].collections[0].get_offsets(), vae2.embed(x), rtol=1e-5)
    _png_bytes(fig, tmp_path)
    with pytest.raises(ValidationError, match="labels"):
        plots.embedding_figure(vae2, x, y[:3])
    with pytest.raises(ValidationError, match="latent_dim=3"):
        plots.embedding_figure(minivae.VAE(input_dim=16, latent_dim=3, hidden=(4,)), x, y)


def test_samples_figure_panels_and_determinism(tmp_path):
    vae2 = minivae.VAE(latent_dim=2, hidden=(8,), seed=0)
    ae2 = minivae.AE(latent_dim=2, hidden=(8,), seed=0)
    fig = plots.samples_figure({"VAE": vae2, "AE": ae2}, n=9, rng=3)
    assert [ax.get_title() for ax in fig.axes] == ["VAE", "AE"]
    assert [ax.images[0].get_array().shape for ax in fig.axes] == [(3 * 29 + 1, 3 * 29 + 1)] * 2
    a = _png_bytes(fig, tmp_path, "a.png")
    b = _png_bytes(plots.samples_figure({"VAE": vae2, "AE": ae2}, n=9, rng=3), tmp_path, "b.png")
    assert a == b
    with pytest.raises(ValidationError, match="models"):
        plots.samples_figure({}, n=4)
    with pytest.raises(ValidationError, match="784"):
        plots.image_grid(np.zeros((4, 16)))


def test_carpet_interpolation_edit_and_inpainting_figures(vae2, ae2, rng, tmp_path):
    # 784-pixel models, since the figures lay images out as 28 x 28.
    vae = minivae.VAE(latent_dim=2, hidden=(8,), seed=0)
    ae = minivae.AE(latent_dim=2, hidden=(8,), seed=0)
    x = rng.random((4, 784)).astype(np.float32)
    fig = plots.carpet_figure(vae, n=5)
    assert fig.axes[0].images[0].get_array().shape == (5 * 29 + 1, 5 * 29 + 1)
    fig = plots.carpet_figure(ae, n=5, limits=((-1, 3), (0, 8)), n_ticks=3)   # z ticks label the cells
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-1", "1", "3"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["8", "4", "0"]
    np.testing.assert_allclose(ax.get_xticks(), [14.5, 72.5, 130.5])
    _png_bytes(fig, tmp_path, "carpet.png")
    with pytest.raises(ValidationError, match="latent_dim=20"):
        plots.carpet_figure(minivae.VAE(hidden=(8,)))
    fig = plots.interpolation_figure({"VAE": vae, "AE": ae}, x[0], x[1], steps=4)
    assert len(fig.axes) == 2 and fig.axes[0].images[0].get_array().shape == (29 + 1, 6 * 29 + 1)
    _png_bytes(fig, tmp_path, "interp.png")
    fig = plots.edit_figure(vae, x[:2], [1.0, 0.0], [0, 1, 2])
    assert fig.axes[0].images[0].get_array().shape == (2 * 29 + 1, 3 * 29 + 1)
    observed = region_mask("bottom")
    comps = inpaint(vae, x[:2], observed, n_samples=3, n_steps=2, rng=0)
    fig = plots.inpainting_figure(x[:2], observed, comps)
    canvas = fig.axes[0].images[0].get_array()
    assert canvas.shape == (2 * 29 + 1, 5 * 29 + 1)
    # the second column shows the hidden pixels in mid-grey
    observed_panel = canvas[1:29, 30:58]
    assert np.all(observed_panel[~observed.reshape(28, 28)] == 0.5)
    _png_bytes(fig, tmp_path, "inpaint.png")
    with pytest.raises(ValidationError, match="completions"):
        plots.inpainting_figure(x[:2], observed, comps[:1])


# --------------------------------------------------------------------------------------------
# reconstruction_figure
# --------------------------------------------------------------------------------------------
def test_reconstruction_figure_alternates_image_rows_and_reconstruction_rows(tmp_path):
    model = minivae.VAE(input_dim=784, latent_dim=2, hidden=(8,), likelihood="gaussian", seed=0)
    x = np.random.default_rng(0).random((6, 784)).astype(np.float32)
    fig = plots.reconstruction_figure(model, x, ncol=3)
    assert isinstance(fig, Figure)
    canvas = fig.axes[0].images[0].get_array()
    rec = np.clip(model.reconstruct(x), 0, 1)
    expected = plots.tile(np.concatenate([x[:3], rec[:3], x[3:], rec[3:]]), nrow=3)
    np.testing.assert_allclose(canvas, expected)
    assert canvas.min() >= 0 and canvas.max() <= 1          # a Gaussian mean is clipped for display
    _png_bytes(fig, tmp_path)
    with pytest.raises(ValidationError, match="multiple of ncol=4, got 6"):
        plots.reconstruction_figure(model, x, ncol=4)
