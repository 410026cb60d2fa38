"""PSNR and SSIM with one fixed convention, used by every figure the project reports.

Convention: both images are rounded to 8-bit integers first (what a user would save), RGB,
data range 255, no border crop; a data set's score is the mean of per-image values. SSIM is
scikit-image's with a Gaussian window of sigma 1.5 and population covariance (the Wang et al.
2004 convention), computed per channel and averaged. Identical images have infinite PSNR;
``psnr`` caps it at ``PSNR_CAP`` dB so that means stay finite, and reports say so.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

PSNR_CAP = 100.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round a float [0, 1] image (or pass through a uint8 one) to uint8."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return np.round(image.astype(np.float64) / 257.0).astype(np.uint8)
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def psnr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB of two HxWxC images (uint8, uint16 or float in [0, 1]), capped at PSNR_CAP."""
    estimate, reference = to_uint8(estimate), to_uint8(reference)
    if np.array_equal(estimate, reference):
        return PSNR_CAP
    return min(PSNR_CAP, float(peak_signal_noise_ratio(reference, estimate, data_range=255)))


# The Gaussian window's side (sigma 1.5, truncated at 3.5 sigma, as scikit-image builds it):
# SSIM is not defined for an image with a shorter side.
SSIM_WINDOW = 11


def ssim(estimate: np.ndarray, reference: np.ndarray) -> float:
    """SSIM of two HxWxC images (uint8, uint16 or float in [0, 1]) in the Wang et al. convention."""
    estimate, reference = to_uint8(estimate), to_uint8(reference)
    return float(
        structural_similarity(
            reference,
            estimate,
            data_range=255,
            channel_axis=-1 if reference.ndim == 3 else None,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )
