"""How far is the baselines' noise estimate from the true noise on the PolyU crops and full-size images?

    .venv/bin/python benchmarks/noise_estimate.py --data ../shared/data --output docs/results/noise-estimate.json

The classical baselines set their noise level to the wavelet estimate of ``baselines.estimate_noise_sigma``
times a multiplier tuned on PolyU ``train`` crops. That only carries over to another image if the
ratio of the true noise (the standard deviation of noisy - clean) to the estimate is about the
same there. This prints that ratio per image for each split. Then each `val` and `unseen_camera`
crop is located in its scene's full-size clean image (normalised cross-correlation of the grey
clean images; scenes matched by name), and the crop files are compared with that region of the
full-size files. Nothing here changes a setting.
Findings: docs/evaluation.md (Classical baselines).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from litedenoise.baselines import estimate_noise_sigma
from litedenoise.errors import LiteDenoiseError
from litedenoise.evaluate import EvalImage, load_pairs
from litedenoise.metrics import psnr

SPLITS = ("train:crops", "val:crops", "val:full", "unseen_camera:crops", "unseen_camera:full")


def scene_of_crop(crop_name: str, full: list[EvalImage]) -> EvalImage | None:
    """The full-size image of a crop's scene: crop "Canon5D2_5_200_3200_toy_1" -> full "Canon5D2_toy"."""
    scene = crop_name.split("_")[-2].lower()
    found = [image for image in full if scene.startswith(image.name.rsplit("_", 1)[-1].lower())]
    return found[0] if len(found) == 1 else None


def crop_against_region(crop: EvalImage, full: EvalImage) -> dict:
    grey = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) for image in (full.clean, crop.clean)]
    _, correlation, _, (x, y) = cv2.minMaxLoc(cv2.matchTemplate(grey[0], grey[1], cv2.TM_CCOEFF_NORMED))
    h, w = crop.clean.shape[:2]
    noisy, clean = full.noisy[y : y + h, x : x + w], full.clean[y : y + h, x : x + w]
    return {
        "crop": crop.name,
        "full": full.name,
        "correlation": correlation,
        "crop_estimate": estimate_noise_sigma(crop.noisy),
        "region_estimate": estimate_noise_sigma(noisy),
        "noisy_crop_vs_region_psnr": psnr(crop.noisy, noisy),
        "clean_crop_vs_region_psnr": psnr(crop.clean, clean),
        "crop_noisy_psnr": psnr(crop.noisy, crop.clean),
        "region_noisy_psnr": psnr(noisy, clean),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--output", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()

    try:
        result = {}
        images = {split: load_pairs(args.data, split=split).images for split in SPLITS}  # decoded once, used twice
        print("| split | n | true std / estimate: median | min | max |\n|---|---|---|---|---|")
        for split in SPLITS:
            rows = []
            for image in images[split]:
                true_std = float(np.std(image.noisy.astype(np.float32) - image.clean.astype(np.float32)) / 255.0)
                estimate = estimate_noise_sigma(image.noisy)
                rows.append({"image": image.name, "estimate": estimate, "true_std": true_std, "ratio": true_std / estimate})
            ratios = [row["ratio"] for row in rows]
            result[split] = rows
            print(f"| {split} | {len(rows)} | {np.median(ratios):.1f} | {min(ratios):.1f} | {max(ratios):.1f} |", flush=True)
        print(
            "\n| split | crops located (correlation > 0.99) | estimate, region / crop: median | noisy crop vs region (dB) | "
            "clean crop vs region (dB) | noisy PSNR, crop / region (dB) |\n|---|---|---|---|---|---|"
        )
        for group in ("val", "unseen_camera"):
            full, crops = images[f"{group}:full"], images[f"{group}:crops"]
            rows = [crop_against_region(crop, scene) for crop in crops if (scene := scene_of_crop(crop.name, full))]
            rows = [row for row in rows if row["correlation"] > 0.99]
            result[f"{group} crops in full"] = rows

            def median(key: str, rows: list = rows) -> float:
                return float(np.median([row[key] for row in rows]))

            ratio = float(np.median([row["region_estimate"] / row["crop_estimate"] for row in rows]))
            print(
                f"| {group} | {len(rows)} of {len(crops)} | {ratio:.1f} | {median('noisy_crop_vs_region_psnr'):.2f} | "
                f"{median('clean_crop_vs_region_psnr'):.2f} | {median('crop_noisy_psnr'):.2f} / {median('region_noisy_psnr'):.2f} |",
                flush=True,
            )
        if args.output:
            args.output.write_text(json.dumps(result, indent=1) + "\n")
    except LiteDenoiseError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
