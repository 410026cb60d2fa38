"""Synthetic real-camera-like noise for clean sRGB photos.

The minimum model is heteroscedastic Poisson-Gaussian noise in linear light: a clean sRGB image
is linearised, each pixel gets shot noise whose variance grows with the signal (``shot_gain *
signal``) plus signal-independent read noise (``read_sigma**2``), and the result goes back to sRGB.
Plain additive Gaussian noise in sRGB is not what cameras make: their noise is stronger in the
mid-tones than in the highlights and strongest, relative to the signal, in the shadows.

Arrays are float32 HxWx3 (or NHWC-compatible) in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer function (IEC 61966-2-1); [0, 1] -> [0, 1]."""
    srgb = np.clip(srgb, 0.0, 1.0)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """sRGB transfer function; [0, 1] -> [0, 1] (input clipped first)."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


@dataclass(frozen=True)
class PoissonGaussianLevel:
    """One noise level, in linear-light units where 1.0 is the sensor's white level.

    ``shot_gain`` is the variance per unit of signal (1 / photo-electrons at white);
    ``read_sigma`` the standard deviation of the signal-independent part; ``channel_gains``
    scale the shot gain per RGB channel (white balance amplifies the weak channels' noise).
    """

    shot_gain: float
    read_sigma: float
    channel_gains: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class PoissonGaussianRange:
    """Log-uniform ranges the training sampler draws levels from.

    Defaults span roughly 27-44 dB noisy PSNR on natural photos: clean DSLR frames up to
    high-ISO phone frames. PolyU's real pairs (31-41 dB) sit inside the range.
    """

    shot_gain: tuple[float, float] = (1e-4, 1e-2)
    read_sigma: tuple[float, float] = (2e-4, 4e-3)
    channel_gain_spread: float = 1.3  # each channel's gain drawn log-uniform in [1/spread, spread]

    def sample(self, rng: np.random.Generator) -> PoissonGaussianLevel:
        def log_uniform(low: float, high: float, size=None):
            return np.exp(rng.uniform(np.log(low), np.log(high), size))

        spread = self.channel_gain_spread
        gains = log_uniform(1 / spread, spread, 3)
        return PoissonGaussianLevel(
            shot_gain=float(log_uniform(*self.shot_gain)),
            read_sigma=float(log_uniform(*self.read_sigma)),
            channel_gains=tuple(float(g) for g in gains),
        )


def add_poisson_gaussian_noise(
    clean_srgb: np.ndarray, level: PoissonGaussianLevel, rng: np.random.Generator
) -> np.ndarray:
    """Return a noisy copy of ``clean_srgb`` (float HxWx3 in [0, 1]) as float32 in [0, 1].

    Shot noise is drawn from a true Poisson distribution (counts = signal / gain), so the
    variance is ``gain * signal`` and dark pixels stay non-negative before read noise.
    """
    linear = srgb_to_linear(clean_srgb.astype(np.float32))
    gains = level.shot_gain * np.asarray(level.channel_gains, dtype=np.float32)
    photo_electrons = rng.poisson(linear / gains)
    noisy = photo_electrons * gains + rng.normal(0.0, level.read_sigma, linear.shape)
    return linear_to_srgb(noisy).astype(np.float32)


GAUSSIAN_SIGMA_RANGE = (1.0 / 255, 12.0 / 255)


def add_gaussian_noise(clean_srgb: np.ndarray, rng: np.random.Generator, sigma_range=GAUSSIAN_SIGMA_RANGE) -> np.ndarray:
    """Plain additive white Gaussian noise in sRGB, sigma uniform in ``sigma_range``: the textbook
    model, kept as the baseline that realistic synthesis must beat."""
    sigma = rng.uniform(*sigma_range)
    return np.clip(clean_srgb + rng.normal(0.0, sigma, clean_srgb.shape), 0.0, 1.0).astype(np.float32)
