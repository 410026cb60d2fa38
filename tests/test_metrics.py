import math

import numpy as np

from litedenoise.metrics import PSNR_CAP, psnr, ssim


def test_psnr_matches_a_hand_computation_on_rounded_uint8_values():
    reference = np.zeros((4, 4, 3), np.uint8)
    estimate = reference.copy()
    estimate[0, 0, 0] = 10  # one error of 10 levels among 48 values
    expected = 10 * math.log10(255**2 / (100 / 48))
    assert math.isclose(psnr(estimate, reference), expected, rel_tol=1e-9)


def test_float_images_are_rounded_to_8_bit_before_scoring():
    reference = np.full((8, 8, 3), 100, np.uint8)
    almost = np.full((8, 8, 3), 100.4 / 255, np.float32)  # rounds to 100
    assert psnr(almost, reference) == PSNR_CAP


def test_identical_images_give_the_capped_psnr_and_ssim_one():
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert psnr(image, image) == PSNR_CAP
    assert ssim(image, image) == 1.0


def test_ssim_falls_with_noise_and_uses_the_gaussian_window_convention():
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    slightly = np.clip(clean + rng.normal(0, 2, clean.shape), 0, 255).astype(np.uint8)
    strongly = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    assert 1.0 > ssim(slightly, clean) > ssim(strongly, clean) > 0.0
