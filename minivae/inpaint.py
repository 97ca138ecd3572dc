"""Missing-data imputation with a trained VAE: fill in the hidden pixels of an image.

Lecture 000 hides part of a digit and lets the VAE draw *several different* completions. minivae
does it with the iterative procedure of Rezende, Mohamed and Wierstra (2014, section 5.2), a
Markov chain that alternates the two halves of the model while the observed pixels stay fixed:

1. start from x_0 = the observed pixels, with the hidden ones set to ``fill`` (0.5 by default);
2. encode the current image, draw z_t ~ q(z | x_t) with the reparameterization z = mu + sigma eps;
3. decode, m_t = E[x | z_t], and write m_t into the hidden pixels only:
   x_{t+1} = mask * x + (1 - mask) * m_t;
4. repeat steps 2-3 ``n_steps`` times.

What this is and what it is not. If q(z | x) were the exact posterior p(z | x) and the hidden
pixels were *sampled* from p(x | z), this would be a Gibbs sampler whose stationary distribution is
p(x_hidden | x_observed). With the amortized q of a trained VAE it is an approximation (a
"pseudo-Gibbs" chain): nothing guarantees that it samples the exact conditional. Filling with the
decoder's mean rather than a draw from p(x | z) keeps the completions smooth grey-level images;
the randomness, and hence the difference between completions, comes from z. Chains started with
different noise end in different plausible completions, which is what the lecture's figure shows.
"""
from __future__ import annotations

import numpy as np

from .errors import ValidationError
from .estimators import reparameterize
from .models import VAE
from .runtime.validation import check_finite_float, check_image_shape, check_positive_int, check_rng

__all__ = ["inpaint", "region_mask"]


def region_mask(region="bottom", fraction=0.5, shape=(28, 28)):
    """A boolean mask of *observed* pixels (True = observed) with one part of the image hidden.

    Parameters
    ----------
    region : {"bottom", "top", "left", "right", "centre"}
        The part that is hidden.
    fraction : float in (0, 1)
        How much of the rows (top/bottom), columns (left/right) or of each side (centre) is hidden.
    shape : (H, W)

    Returns
    -------
    (H * W,) bool array.
    """
    regions = ("bottom", "top", "left", "right", "centre")
    if region not in regions:
        raise ValidationError(f"region: expected one of {list(regions)}, got {region!r}")
    fraction = check_finite_float(fraction, "fraction")
    if not 0.0 < fraction < 1.0:
        raise ValidationError(f"fraction: expected a number strictly between 0 and 1, got {fraction}")
    h, w = check_image_shape(shape)
    observed = np.ones((h, w), dtype=bool)
    kh, kw = max(1, round(h * fraction)), max(1, round(w * fraction))
    if region == "bottom":
        observed[h - kh:, :] = False
    elif region == "top":
        observed[:kh, :] = False
    elif region == "left":
        observed[:, :kw] = False
    elif region == "right":
        observed[:, w - kw:] = False
    else:
        r0, c0 = (h - kh) // 2, (w - kw) // 2
        observed[r0:r0 + kh, c0:c0 + kw] = False
    return observed.reshape(-1)


def inpaint(model, x, observed, n_samples=4, n_steps=50, rng=None, fill=0.5):
    """Complete the hidden pixels of each image several times with a VAE (see the module notes).

    Parameters
    ----------
    model : minivae.VAE
        A trained VAE (an AE has no q(z | x) to sample from, so every chain would be the same).
    x : (N, D) images in the model's range; only the observed pixels are read.
    observed : (D,) or (N, D) bool
        True where a pixel is observed (kept exactly), False where it is to be filled in.
    n_samples : int
        Completions per image, one independent chain each.
    n_steps : int
        Encode-sample-decode iterations per chain.
    rng : numpy.random.Generator or int
        Draws the noise eps of every step.
    fill : float
        Initial value of the hidden pixels.

    Returns
    -------
    (N, n_samples, D) array: completions; ``out[i, k][observed[i]] == x[i][observed[i]]``.
    """
    if not isinstance(model, VAE):
        raise ValidationError(f"model: expected a minivae.VAE (inpainting samples z from q(z | x)), "
                              f"got {type(model).__name__}")
    x = model.check_x(x)
    n, D = x.shape
    observed = np.asarray(observed)
    if observed.dtype != bool:
        raise ValidationError(f"observed: expected a boolean mask (True = observed pixel), got dtype {observed.dtype}")
    if observed.shape not in ((D,), (n, D)):
        raise ValidationError(f"observed: expected shape ({D},) or ({n}, {D}), got {observed.shape}")
    n_samples = check_positive_int(n_samples, "n_samples")
    n_steps = check_positive_int(n_steps, "n_steps")
    if rng is None:
        raise ValidationError("rng: inpainting draws noise; pass a numpy.random.Generator or an integer seed")
    rng = check_rng(rng)
    fill = check_finite_float(fill, "fill")
    if model.needs_unit_interval and not 0 <= fill <= 1:
        raise ValidationError(f"fill: expected a value in [0, 1] for the {model.likelihood.name} likelihood "
                              f"(the start value of the missing pixels), got {fill}")

    # One chain per (image, sample): stack them as rows so every step is one batched pass.
    keep = np.broadcast_to(observed, (n, D))
    keep = np.repeat(keep, n_samples, axis=0)
    target = np.repeat(x, n_samples, axis=0)
    cur = np.where(keep, target, np.asarray(fill, dtype=x.dtype)).astype(x.dtype)
    for _ in range(n_steps):
        mu, log_var = model.encode(cur)
        z, _ = reparameterize(mu, log_var, model.sample_noise(len(cur), rng))
        mean = model.decode(z)
        # The decoder's mean may leave [0, 1] for a Gaussian likelihood; clip so the next
        # encoder pass sees an image in the range it was trained on.
        if model.needs_unit_interval:
            mean = np.clip(mean, 0.0, 1.0)
        cur = np.where(keep, target, mean).astype(x.dtype)
    return cur.reshape(n, n_samples, D)
