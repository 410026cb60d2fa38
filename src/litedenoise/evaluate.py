"""Scoring a model on noisy/clean pairs through the one inference path (whole images)."""

from __future__ import annotations

import time

import numpy as np
from torch import nn

from litedenoise.infer import denoise
from litedenoise.metrics import psnr, ssim


def evaluate(
    model: nn.Module | None,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    *,
    bf16: bool = False,
    with_ssim: bool = True,
) -> dict:
    """Mean PSNR (and SSIM) over (noisy, clean) uint8 HxWx3 pairs, in the project's convention.

    ``model`` None scores the noisy input itself. Returns ``psnr``, ``ssim`` (if asked), ``n``,
    ``sec_per_mpix`` (denoising time only) and the per-image values as lists under
    ``per_image_psnr`` (and ``per_image_ssim``), in the order of ``pairs``.
    """
    if model is not None:
        model.eval()
    psnrs, ssims, seconds, pixels = [], [], 0.0, 0
    for noisy, clean in pairs:
        started = time.perf_counter()
        output = noisy if model is None else denoise(noisy, model, bf16=bf16)
        seconds += time.perf_counter() - started
        pixels += noisy.shape[0] * noisy.shape[1]
        psnrs.append(psnr(output, clean))
        if with_ssim:
            ssims.append(ssim(output, clean))
    result = {
        "psnr": float(np.mean(psnrs)),
        "n": len(pairs),
        "sec_per_mpix": seconds / (pixels / 1e6),
        "per_image_psnr": [float(v) for v in psnrs],
    }
    if with_ssim:
        result["ssim"] = float(np.mean(ssims))
        result["per_image_ssim"] = [float(v) for v in ssims]
    return result
