import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from litedenoise.data.crops import CropSources, TrainingCrops
from litedenoise.data.real_noise import fit_noise_level, fit_pooled_shape_noise_levels, transplant_noise
from litedenoise.errors import LiteDenoiseError
from litedenoise.train import loop
from litedenoise.train.config import make_config


def _gradient_pair(seed=0, bias=1.0, correlated=False):
    """A clean horizontal ramp over the whole 8-bit range and a noisy copy whose noise has spread
    2 + 6 * intensity (8-bit units) and mean ``bias``."""
    rng = np.random.default_rng(seed)
    clean = np.repeat(np.repeat(np.linspace(0, 255, 512)[None, :, None], 256, axis=0), 3, axis=2)
    white = rng.standard_normal(clean.shape)
    if correlated:
        white = uniform_filter(white, size=(3, 3, 1))
        white /= white.std()
    noisy = clean + bias + white * (2.0 + 6.0 * clean / 255.0)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8), np.round(clean).astype(np.uint8)


def test_the_noise_level_function_recovers_an_intensity_dependent_spread_and_mean():
    level = fit_noise_level(*_gradient_pair())
    mean, spread = level.at(np.array([[[0.25] * 3, [0.75] * 3]]))
    for pixel, intensity in enumerate((0.25, 0.75)):
        assert spread[0, pixel] * 255 == pytest.approx([2.0 + 6.0 * intensity] * 3, rel=0.1)
        assert mean[0, pixel] * 255 == pytest.approx([1.0] * 3, abs=0.3)


def test_a_pooled_shape_level_follows_the_curve_beyond_the_pairs_own_intensities():
    full = _gradient_pair(seed=1)
    dark_half = tuple(image[:, :256] for image in _gradient_pair(seed=2))  # intensities 0 to 0.5 only
    bright = np.full((1, 1, 3), 0.9)
    own = fit_noise_level(*dark_half).at(bright)[1][0, 0] * 255
    pooled_shape = fit_pooled_shape_noise_levels([dark_half, full])
    assert own == pytest.approx([2.0 + 6.0 * 0.47] * 3, rel=0.1)  # flat from the last bin it has
    assert pooled_shape[0].at(bright)[1][0, 0] * 255 == pytest.approx([2.0 + 6.0 * 0.9] * 3, rel=0.1)
    mid = np.full((1, 1, 3), 0.25)
    assert pooled_shape[1].at(mid)[1][0, 0] * 255 == pytest.approx([2.0 + 6.0 * 0.25] * 3, rel=0.1)


def test_transplanted_noise_takes_the_level_of_the_new_photos_intensity():
    noisy, clean = _gradient_pair()
    level = fit_noise_level(noisy, clean)
    source = (noisy[:, 200:328] / 255.0, clean[:, 200:328] / 255.0)  # mid-grey part of the ramp
    for intensity in (0.1, 0.9):
        photo = np.full((256, 128, 3), intensity)
        residual = (transplant_noise(photo, *source, level) - photo) * 255
        assert residual.std() == pytest.approx(2.0 + 6.0 * intensity, rel=0.1)
        assert residual.mean() == pytest.approx(1.0, abs=0.3)


def test_transplanted_noise_keeps_its_spatial_correlation():
    def neighbour_correlation(residual):
        return np.corrcoef(residual[:, :-1].ravel(), residual[:, 1:].ravel())[0, 1]

    for correlated, expected in ((True, 2 / 3), (False, 0.0)):
        noisy, clean = _gradient_pair(correlated=correlated)
        photo = np.full((256, 256, 3), 0.5)
        moved = transplant_noise(photo, noisy[:, 128:384] / 255.0, clean[:, 128:384] / 255.0, fit_noise_level(noisy, clean)) - photo
        assert neighbour_correlation(moved) == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize("levels", ["own", "pooled_shape"])
def test_transplant_samples_are_photos_carrying_the_real_pairs_noise(levels):
    rng = np.random.default_rng(0)
    clean = rng.integers(20, 230, (200, 200, 3), dtype=np.uint8)  # enough pixels in every level bin
    noisy = clean + 5  # a pure offset: level mean 5/255, spread 0
    photo = rng.integers(20, 230, (30, 30, 3), dtype=np.uint8)
    sources = CropSources(real_pairs=[(noisy, clean)], clean_photos=[photo])
    dataset = TrainingCrops(sources, crop_size=16, real_fraction=0.0, seed=1, transplant_fraction=1.0, transplant_levels=levels)
    for index in range(10):
        noisy_crop, clean_crop = dataset[index]
        assert np.allclose(noisy_crop.numpy(), clean_crop.numpy() + 5 / 255, atol=1e-6)
        photo_values = set(np.unique(photo))
        assert set(np.unique(np.round(clean_crop.numpy() * 255).astype(int))) <= photo_values
    assert np.array_equal(dataset[3][0].numpy(), dataset[3][0].numpy())


def test_a_zero_transplant_fraction_leaves_every_sample_as_it_was():
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    sources = CropSources(real_pairs=[(clean // 2, clean)], clean_photos=[rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)])
    without = TrainingCrops(sources, crop_size=16, real_fraction=0.5, seed=2)
    with_zero = TrainingCrops(sources, crop_size=16, real_fraction=0.5, seed=2, transplant_fraction=0.0)
    with_some = TrainingCrops(sources, crop_size=16, real_fraction=0.5, seed=2, transplant_fraction=0.5)
    same = [all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(without[i], other[i])) for other in (with_zero, with_some) for i in range(20)]
    assert all(same[:20])
    assert not all(same[20:])  # the synthetic half became transplants


def test_the_transplant_fraction_is_checked_and_named():
    base = dict(real_pair_sets=["polyu:train:crops"], clean_photo_dirs=["clean/cbsd432"])
    with pytest.raises(LiteDenoiseError, match="transplant_fraction must be in"):
        make_config({**base, "real_fraction": 0.6, "transplant_fraction": 0.5})
    with pytest.raises(LiteDenoiseError, match="transplant_levels must be own or pooled_shape"):
        make_config({**base, "transplant_levels": "pooled"})
    config = make_config({**base, "real_fraction": 0.0, "transplant_fraction": 0.4})
    description = loop.training_data_description(config)
    assert "real noise of polyu:train:crops transplanted onto clean/cbsd432 (transplant_fraction 0.4, levels own)" in description
    assert "synthetic noise on clean/cbsd432" in description
    # the pairs lend only their noise, but they are used, so their licence applies
    assert loop.training_licence(config) == loop.POLYU_LICENCE
    everything_real = make_config({**base, "real_fraction": 0.7, "transplant_fraction": 0.3})
    assert "synthetic" not in loop.training_data_description(everything_real)
