import numpy as np

from litedenoise.data.noise import (
    PoissonGaussianLevel,
    PoissonGaussianRange,
    add_poisson_gaussian_noise,
    linear_to_srgb,
    srgb_to_linear,
)


def test_srgb_and_linear_transfer_functions_invert_each_other():
    values = np.linspace(0, 1, 101)
    assert np.allclose(linear_to_srgb(srgb_to_linear(values)), values, atol=1e-6)


def test_noise_variance_in_linear_light_grows_with_the_signal_as_poisson_gaussian():
    level = PoissonGaussianLevel(shot_gain=4e-3, read_sigma=2e-3)
    rng = np.random.default_rng(0)
    measured = []
    for linear_value in (0.05, 0.2, 0.6):
        clean = np.full((200, 200, 3), linear_to_srgb(np.float32(linear_value)), np.float32)
        noisy = srgb_to_linear(add_poisson_gaussian_noise(clean, level, rng))
        variance = noisy.var()
        expected = level.shot_gain * linear_value + level.read_sigma**2
        assert abs(variance / expected - 1) < 0.05
        measured.append(variance)
    assert measured[0] < measured[1] < measured[2]  # heteroscedastic, not plain Gaussian


def test_channel_gains_scale_each_channels_shot_noise():
    level = PoissonGaussianLevel(shot_gain=4e-3, read_sigma=0.0, channel_gains=(2.0, 1.0, 0.5))
    clean = np.full((200, 200, 3), linear_to_srgb(np.float32(0.3)), np.float32)
    noisy = srgb_to_linear(add_poisson_gaussian_noise(clean, level, np.random.default_rng(0)))
    variances = noisy.reshape(-1, 3).var(axis=0)
    assert variances[0] > 1.5 * variances[1] > 1.5 * 1.5 * variances[2]


def test_the_same_seed_reproduces_the_same_noise_and_level():
    clean = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32)
    samples = []
    for _ in range(2):
        rng = np.random.default_rng(42)
        level = PoissonGaussianRange().sample(rng)
        samples.append((level, add_poisson_gaussian_noise(clean, level, rng)))
    assert samples[0][0] == samples[1][0]
    assert np.array_equal(samples[0][1], samples[1][1])


def test_sampled_levels_stay_inside_the_configured_ranges():
    ranges = PoissonGaussianRange()
    rng = np.random.default_rng(0)
    for _ in range(100):
        level = ranges.sample(rng)
        assert ranges.shot_gain[0] <= level.shot_gain <= ranges.shot_gain[1]
        assert ranges.read_sigma[0] <= level.read_sigma <= ranges.read_sigma[1]
