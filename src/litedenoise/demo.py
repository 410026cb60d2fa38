"""``litedenoise demo``: the shipped student on a synthetic-noise photo and, if data is there, a real pair.

The synthetic case needs nothing but the installed packages: scikit-image's "astronaut" photo
(512x512, shipped inside scikit-image) with the evaluation's camera-pipeline noise at its
"medium" level (``camera_noise.evaluation_noise``, the noise of the Kodak24 / McMaster18 sets) and a
fixed seed. The real
case takes the first PolyU ``val`` pair from the data folder. Each case writes the denoised
image and a side-by-side comparison PNG (noisy | denoised | clean) and prints PSNR before and
after. The demo owns its output folder and rewrites its files there on every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from litedenoise.data.camera_noise import evaluation_noise
from litedenoise.errors import LiteDenoiseError
from litedenoise.imageio import read_rgb_uint8, write_image
from litedenoise.infer import denoise
from litedenoise.metrics import psnr, ssim

DEMO_NOISE_LEVEL = "medium"
DEMO_SEED = 2026
COMPARISON_CROP = 512


def synthetic_example() -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean) uint8 HxWx3: scikit-image's astronaut with fixed-seed camera-like noise."""
    from skimage import data

    clean = data.astronaut()
    return evaluation_noise(clean, DEMO_NOISE_LEVEL, DEMO_SEED, "astronaut"), clean


def comparison_strip(noisy: np.ndarray, denoised: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Centre crops (at most COMPARISON_CROP square) of the three images side by side, labelled."""
    height, width = clean.shape[:2]
    side_h, side_w = min(height, COMPARISON_CROP), min(width, COMPARISON_CROP)
    top, left = (height - side_h) // 2, (width - side_w) // 2
    panels = []
    for label, image in (("noisy", noisy), ("denoised", denoised), ("clean", clean)):
        panel = Image.fromarray(image[top : top + side_h, left : left + side_w])
        draw = ImageDraw.Draw(panel)
        draw.rectangle((0, 0, 8 + 7 * len(label), 18), fill=(0, 0, 0))
        draw.text((4, 3), label, fill=(255, 255, 255))
        panels.append(np.asarray(panel))
    return np.concatenate(panels, axis=1)


def run_case(name: str, noisy: np.ndarray, clean: np.ndarray, model, output_dir: Path) -> dict[str, float]:
    denoised = denoise(noisy, model)
    write_image(output_dir / f"{name}_denoised.png", denoised, overwrite=True)
    write_image(output_dir / f"{name}_comparison.png", comparison_strip(noisy, denoised, clean), overwrite=True)
    scores = {
        "psnr_noisy": psnr(noisy, clean),
        "psnr_denoised": psnr(denoised, clean),
        "ssim_noisy": ssim(noisy, clean),
        "ssim_denoised": ssim(denoised, clean),
    }
    print(
        f"{name:>10}: PSNR {scores['psnr_noisy']:.2f} -> {scores['psnr_denoised']:.2f} dB, "
        f"SSIM {scores['ssim_noisy']:.4f} -> {scores['ssim_denoised']:.4f}  ({output_dir / (name + '_comparison.png')})"
    )
    return scores


def run_demo(model, output_dir: str | Path, data_folder: Path | None) -> dict[str, dict[str, float]]:
    """Run the synthetic case and, with ``data_folder``, the first PolyU val full-size pair."""
    output_dir = Path(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LiteDenoiseError(f"cannot make the output folder {output_dir}: {error.strerror}") from None
    results = {"synthetic": run_case("synthetic", *synthetic_example(), model, output_dir)}
    if data_folder is not None:
        from litedenoise.data.paired import polyu_pairs

        pair = polyu_pairs(data_folder, "val", "full")[0]
        results["polyu_val"] = run_case(
            "polyu_val", read_rgb_uint8(pair.noisy), read_rgb_uint8(pair.clean), model, output_dir
        )
    return results
