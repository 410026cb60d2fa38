import dataclasses

import numpy as np
import pytest

from litedenoise.data.camera_noise import (
    SRGB_TO_YCBCR,
    CameraNoiseParams,
    CameraNoiseRange,
    add_camera_noise,
    add_sensor_noise,
    demosaic_bilinear,
    mosaic,
    process,
    unprocess,
)
from litedenoise.data.noise import PoissonGaussianLevel, add_poisson_gaussian_noise

ONE_LEVEL = 1 / 255


def _params(**changes) -> CameraNoiseParams:
    params = CameraNoiseRange().sample(np.random.default_rng(3))
    return dataclasses.replace(params, **{"jpeg_quality": None, "chroma_blur_sigma": 0.0, **changes})


def _grey(value: float, size: int = 64) -> np.ndarray:
    return np.full((size, size, 3), value, np.float32)


def _neighbour_correlation(residual: np.ndarray, axis: int) -> float:
    """Correlation of each pixel's residual with its neighbour's along ``axis``, mean over channels."""
    first = np.take(residual, np.arange(residual.shape[axis] - 1), axis=axis)
    second = np.take(residual, np.arange(1, residual.shape[axis]), axis=axis)
    return float(np.mean([np.corrcoef(first[..., c].ravel(), second[..., c].ravel())[0, 1] for c in range(3)]))


@pytest.mark.parametrize("shape", [(16, 20, 3), (15, 13, 3)])
def test_the_pipeline_without_noise_returns_the_clean_photo(shape):
    clean = np.random.default_rng(0).random(shape).astype(np.float32)
    params = _params(shot_variance=0.0, read_variance=0.0)
    assert np.abs(process(unprocess(clean, params), params) - clean).max() < ONE_LEVEL
    noisy = add_camera_noise(clean, params, np.random.default_rng(0))
    assert noisy.dtype == np.float32 and noisy.shape == shape
    assert np.abs(noisy - clean).max() < ONE_LEVEL


def test_bilinear_demosaic_keeps_a_flat_colour_on_even_and_odd_sizes():
    for shape in [(6, 8, 3), (7, 5, 3)]:
        flat = np.broadcast_to(np.float32([0.2, 0.5, 0.8]), shape)
        assert np.allclose(demosaic_bilinear(mosaic(flat)), flat, atol=1e-6)


def test_the_same_seed_reproduces_the_same_parameters_and_noise():
    clean = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32)
    ranges = CameraNoiseRange(jpeg_probability=0.5)
    samples = []
    for _ in range(2):
        rng = np.random.default_rng(42)
        params = [ranges.sample(rng) for _ in range(4)]  # JPEG on and off among them
        samples.append((params, [add_camera_noise(clean, p, rng) for p in params]))
    assert samples[0][0] == samples[1][0]
    assert all(np.array_equal(a, b) for a, b in zip(samples[0][1], samples[1][1]))


def test_raw_noise_variance_grows_with_the_signal_as_shot_plus_read_noise():
    shot, read = 4e-3, 4e-6
    rng = np.random.default_rng(0)
    variances = []
    for signal in (0.05, 0.2, 0.6):
        noisy = add_sensor_noise(np.full((200, 200), signal, np.float32), shot, read, rng)
        variances.append(noisy.var())
        assert abs(variances[-1] / (shot * signal + read) - 1) < 0.05
    assert variances[0] < variances[1] < variances[2]


def test_noise_in_the_photo_grows_with_brightness_in_linear_raw_units():
    params = _params(shot_variance=2e-3, read_variance=1e-6)
    variances = []
    for value in (0.15, 0.35, 0.6):  # sRGB greys whose raw values stay below white
        clean = _grey(value)
        noisy = add_camera_noise(clean, params, np.random.default_rng(0))
        variances.append((unprocess(noisy, params) - unprocess(clean, params)).var())
    assert variances[0] < variances[1] < variances[2]


def test_the_residual_is_spatially_correlated_unlike_independent_poisson_gaussian_noise():
    clean = _grey(0.4)
    camera = add_camera_noise(clean, _params(shot_variance=2e-3, read_variance=1e-6), np.random.default_rng(0))
    independent = add_poisson_gaussian_noise(clean, PoissonGaussianLevel(2e-3, 1e-3), np.random.default_rng(0))
    for axis in (0, 1):
        assert _neighbour_correlation(camera - clean, axis) > 0.3
        assert abs(_neighbour_correlation(independent - clean, axis)) < 0.05


def test_chroma_noise_reduction_removes_colour_noise_and_keeps_luminance_noise():
    clean = _grey(0.4)
    spreads = []
    for sigma in (0.0, 3.0):
        params = _params(shot_variance=2e-3, read_variance=1e-6, chroma_blur_sigma=sigma)
        residual = add_camera_noise(clean, params, np.random.default_rng(0)) - clean
        spreads.append((residual @ SRGB_TO_YCBCR.T).reshape(-1, 3).std(axis=0))
    (luma, *chroma), (luma_reduced, *chroma_reduced) = spreads
    assert abs(luma_reduced / luma - 1) < 0.1
    assert all(after < before / 3 for before, after in zip(chroma, chroma_reduced))


def test_sampled_parameters_stay_inside_the_configured_ranges():
    ranges = CameraNoiseRange()
    rng = np.random.default_rng(0)
    for _ in range(200):
        params = ranges.sample(rng)
        assert ranges.shot_variance[0] <= params.shot_variance <= ranges.shot_variance[1]
        low, high = ranges.read_variance_bounds(params.shot_variance)
        assert low * (1 - 1e-9) <= params.read_variance <= high * (1 + 1e-9)
        assert ranges.red_gain[0] <= params.red_gain <= ranges.red_gain[1]
        assert ranges.blue_gain[0] <= params.blue_gain <= ranges.blue_gain[1]
        assert ranges.brightness_gain[0] <= params.brightness_gain <= ranges.brightness_gain[1]
        assert ranges.chroma_blur_sigma[0] <= params.chroma_blur_sigma <= ranges.chroma_blur_sigma[1]
        assert params.jpeg_quality is None or ranges.jpeg_quality[0] <= params.jpeg_quality <= ranges.jpeg_quality[1]
        assert np.allclose(np.sum(params.camera_to_srgb, axis=1), 1.0)  # grey stays grey


def test_jpeg_changes_the_output_and_can_be_switched_off():
    clean = np.random.default_rng(2).random((32, 32, 3)).astype(np.float32)
    params = _params(shot_variance=1e-3, read_variance=1e-6)
    plain = add_camera_noise(clean, params, np.random.default_rng(0))
    compressed = add_camera_noise(clean, dataclasses.replace(params, jpeg_quality=75), np.random.default_rng(0))
    assert np.abs(compressed - plain).mean() > ONE_LEVEL
    assert np.allclose(np.round(compressed * 255), compressed * 255, atol=1e-3)  # decoded 8-bit values
    rng = np.random.default_rng(0)
    assert all(CameraNoiseRange(jpeg_probability=0.0).sample(rng).jpeg_quality is None for _ in range(50))
    assert all(CameraNoiseRange(jpeg_probability=1.0).sample(rng).jpeg_quality is not None for _ in range(50))


def _lag_correlation(residual: np.ndarray, lag: int) -> float:
    """Horizontal correlation of the luminance residual at ``lag`` pixels."""
    luma = (residual @ SRGB_TO_YCBCR.T)[..., 0]
    return float(np.corrcoef(luma[:, :-lag].ravel(), luma[:, lag:].ravel())[0, 1])


def test_the_luma_low_pass_correlates_the_noise_further_and_keeps_its_level():
    clean = _grey(0.4, size=128)
    residuals = []
    for weight in (0.0, 0.3):
        params = _params(shot_variance=2e-3, read_variance=1e-6, luma_lowpass_weight=weight, luma_lowpass_sigma=4.0)
        residuals.append(add_camera_noise(clean, params, np.random.default_rng(0)) - clean)
    plain, shaped = residuals
    assert _lag_correlation(plain, 4) < 0.05
    assert _lag_correlation(shaped, 4) > 0.2
    assert abs(shaped.std() / plain.std() - 1) < 0.05


def test_the_luma_low_pass_does_not_shift_the_brightness_of_clipped_noise():
    # Strong noise on a dark photo clips at 0, so the noise has a mean; the low-pass must keep it.
    clean = np.random.default_rng(1).uniform(0.02, 0.3, (128, 128, 3)).astype(np.float32)
    means = []
    for weight in (0.0, 0.2):
        params = _params(shot_variance=8e-3, read_variance=1e-4, luma_lowpass_weight=weight, luma_lowpass_sigma=6.0)
        means.append(float((add_camera_noise(clean, params, np.random.default_rng(0)) - clean).mean()))
    assert abs(means[0]) > 0.5 * ONE_LEVEL  # the clip does bias this noise
    assert abs(means[1] - means[0]) < 0.5 * ONE_LEVEL  # only the second clip moves it (the unfixed version: 6 levels)


def test_the_luma_low_pass_is_off_and_undrawn_by_default_so_default_draws_do_not_change():
    default, with_off_range = CameraNoiseRange(), CameraNoiseRange(luma_lowpass_sigma=(5.0, 6.0))
    first, second = (np.random.default_rng(7) for _ in range(2))
    for _ in range(20):
        params = default.sample(first)
        assert params == with_off_range.sample(second)
        assert params.luma_lowpass_weight == 0.0
    ranges = CameraNoiseRange(luma_lowpass_weight=(0.05, 0.2), luma_lowpass_sigma=(3.0, 6.0))
    drawn = [ranges.sample(np.random.default_rng(seed)) for seed in range(50)]
    assert all(0.05 <= p.luma_lowpass_weight <= 0.2 and 3.0 <= p.luma_lowpass_sigma <= 6.0 for p in drawn)


@pytest.mark.parametrize(
    "changes",
    [{"shot_variance": (2e-3, 2e-4)}, {"shot_variance": (0.0, 1e-3)}, {"luma_lowpass_weight": (0.5, 1.5)},
     {"jpeg_probability": 2.0}, {"cameras": ("sony_a7_ii",)}, {"cameras": ()}],
)
def test_a_range_that_cannot_be_sampled_is_refused(changes):
    with pytest.raises(ValueError, match="camera noise"):
        CameraNoiseRange(**changes)
