"""Real noise moved onto other photos ("noise transplant").

A real pair's residual (noisy - clean) is camera noise after the camera's own pipeline: its
spatial and cross-channel correlations are real, which no synthesis here reproduces exactly.
PolyU has only 67 crop-file pairs, so a network that trains on them sees the same noise on the
same content again and again. Transplanting puts that noise on other content: the residual is
normalised by the pair's noise level function (the residual's mean and spread at each clean
intensity, per channel) and re-scaled by the same function at the new photo's intensities.

Arrays are float HxWx3 in [0, 1] unless a name says uint8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL_BINS = 16  # clean-intensity bins per channel
MIN_BIN_PIXELS = 500  # fewer pixels than this in a bin: its level is interpolated from neighbours
MIN_SPREAD = 0.5 / 255  # floor of the spread divided by, so that clipped highlights do not blow up
# How a pair's level function is fitted: from its own pixels (flat beyond their intensities), or
# with the shape of all pairs' pooled function (fit_pooled_shape_noise_levels).
TRANSPLANT_LEVELS = ("own", "pooled_shape")


@dataclass(frozen=True)
class NoiseLevelFunction:
    """The residual's mean and standard deviation as functions of the clean intensity, per channel.

    ``centres`` holds each channel's centres of the bins that had enough pixels (an empty array:
    no information, level 0); between and beyond them the level is interpolated, flat at the ends.
    """

    centres: tuple[np.ndarray, np.ndarray, np.ndarray]
    mean: tuple[np.ndarray, np.ndarray, np.ndarray]
    spread: tuple[np.ndarray, np.ndarray, np.ndarray]

    def at(self, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The residual's mean and spread at each pixel of ``clean`` (HxWx3 in [0, 1])."""
        mean = np.zeros(clean.shape, np.float32)
        spread = np.zeros(clean.shape, np.float32)
        for channel in range(3):
            if len(self.centres[channel]):
                mean[..., channel] = np.interp(clean[..., channel], self.centres[channel], self.mean[channel])
                spread[..., channel] = np.interp(clean[..., channel], self.centres[channel], self.spread[channel])
        return mean, spread


def fit_noise_levels(pairs: list[tuple[np.ndarray, np.ndarray]], how: str) -> list[NoiseLevelFunction]:
    """One noise level function per (noisy, clean) uint8 pair, fitted as ``how`` (one of
    ``TRANSPLANT_LEVELS``) says."""
    if how == "own":
        return [fit_noise_level(noisy, clean) for noisy, clean in pairs]
    if how == "pooled_shape":
        return fit_pooled_shape_noise_levels(pairs)
    raise ValueError(f"unknown transplant_levels {how!r}")


def fit_noise_level(noisy_uint8: np.ndarray, clean_uint8: np.ndarray) -> NoiseLevelFunction:
    """The noise level function of one real pair (uint8 HxWx3 arrays of the same shape); flat
    beyond the intensities the pair holds."""
    return _level_from_sums(_bin_sums(noisy_uint8, clean_uint8))


def fit_pooled_shape_noise_levels(pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[NoiseLevelFunction]:
    """Each pair's noise level function with the shape of all pairs' pooled one: the pooled
    spread, scaled per channel by the pair's median ratio to it over the intensities the pair
    holds, and the pair's own mean. Beyond its intensities a pair's level then follows the pooled
    curve instead of staying flat. ``pairs`` are (noisy, clean) uint8 HxWx3 arrays."""
    sums = [_bin_sums(noisy, clean) for noisy, clean in pairs]
    pooled = _level_from_sums(np.sum(sums, axis=0))
    levels = []
    for own in map(_level_from_sums, sums):
        means, spreads = [], []
        for channel in range(3):
            centres = pooled.centres[channel]
            if len(own.centres[channel]) and len(centres):
                pooled_here = np.interp(own.centres[channel], centres, pooled.spread[channel])
                scale = np.median(own.spread[channel] / np.maximum(pooled_here, MIN_SPREAD))
                means.append(np.interp(centres, own.centres[channel], own.mean[channel]))
                spreads.append(pooled.spread[channel] * scale)
            else:
                means.append(np.zeros_like(centres))
                spreads.append(np.zeros_like(centres))
        levels.append(NoiseLevelFunction(pooled.centres, tuple(means), tuple(spreads)))
    return levels


def _bin_sums(noisy_uint8: np.ndarray, clean_uint8: np.ndarray) -> np.ndarray:
    """Pixel count, residual sum and residual square sum per channel and clean-intensity bin:
    shape (3 sums, 3 channels, LEVEL_BINS)."""
    residual = (noisy_uint8.astype(np.float64) - clean_uint8.astype(np.float64)) / 255.0
    clean = clean_uint8.astype(np.float64) / 255.0
    sums = np.zeros((3, 3, LEVEL_BINS))
    for channel in range(3):
        bins = np.minimum((clean[..., channel] * LEVEL_BINS).astype(np.int64), LEVEL_BINS - 1).ravel()
        values = residual[..., channel].ravel()
        sums[:, channel] = [np.bincount(bins, weights, minlength=LEVEL_BINS) for weights in (None, values, values * values)]
    return sums


def _level_from_sums(sums: np.ndarray) -> NoiseLevelFunction:
    centres, means, spreads = [], [], []
    for count, total, squares in sums.transpose(1, 0, 2):
        enough = count >= MIN_BIN_PIXELS
        mean = total[enough] / count[enough]
        spread = np.sqrt(np.maximum(squares[enough] / count[enough] - mean * mean, 0.0))
        centres.append((np.flatnonzero(enough) + 0.5) / LEVEL_BINS)
        means.append(mean)
        spreads.append(spread)
    return NoiseLevelFunction(tuple(centres), tuple(means), tuple(spreads))


def transplant_noise(
    clean: np.ndarray, source_noisy: np.ndarray, source_clean: np.ndarray, level: NoiseLevelFunction
) -> np.ndarray:
    """``clean`` with the noise of the source pair's crop (same shape), ``level`` being that
    pair's noise level function: the source residual is normalised at the source's intensities
    and re-scaled at ``clean``'s. The result is clipped to [0, 1]."""
    source_mean, source_spread = level.at(source_clean)
    normalised = (source_noisy - source_clean - source_mean) / np.maximum(source_spread, MIN_SPREAD)
    mean, spread = level.at(clean)
    return np.clip(clean + mean + normalised * spread, 0.0, 1.0)
