"""Tune the noise-level multipliers of the classical baselines, once per kind of noise.

    .venv/bin/python benchmarks/tune_baselines.py --data ../shared/data --noise real        # PolyU train crops
    .venv/bin/python benchmarks/tune_baselines.py --data ../shared/data --noise synthetic   # CBSD432 + the evaluation levels
    .venv/bin/python benchmarks/tune_baselines.py --data ../shared/data --noise real --methods bm3d --grid 24 32 48 64  # extend a grid

For each method, every multiplier of a grid scales the wavelet noise estimate of each image; the
multiplier with the best mean PSNR goes into ``litedenoise.baselines.TUNED_MULTIPLIERS[noise]``
(by hand: the script prints it). Results merge into ``--json`` (a grid can be extended later).

- ``real``: PolyU ``train`` crops. BM3D takes ~20 s per 512x512 crop here, so it is tuned on the
  centre 256x256 of 16 crops evenly spaced by name; non-local means on all 67 whole crops.
- ``synthetic``: CBSD432 photos (our synthetic-noise training photos) with the camera noise of
  ``data.camera_noise.EVALUATION_NOISE_LEVELS``, every level pooled: BM3D on the centre 256x256
  of 4 photos per level, non-local means on 24 whole photos per level.

Never tuned on ``val``, ``unseen_camera``, Kodak24 or McMaster18: they measure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path

import numpy as np

from litedenoise.baselines import Baseline, estimate_noise_sigma
from litedenoise.bench import machine_info
from litedenoise.data.camera_noise import EVALUATION_NOISE_LEVELS, evaluation_noise
from litedenoise.data.paired import polyu_pairs
from litedenoise.imageio import read_rgb_uint8
from litedenoise.metrics import psnr

GRIDS = {"real": (1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0), "synthetic": (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)}
BM3D_SIDE = 256


def centre(image: np.ndarray, side: int) -> np.ndarray:
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return image[top : top + side, left : left + side]


def evenly_spaced(items: list, count: int) -> list:
    return [items[i] for i in np.linspace(0, len(items) - 1, min(count, len(items))).round().astype(int)]


def tuning_images(data: Path, noise: str, method: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """(noisy, clean) uint8 pairs to tune ``method`` on, and a description of them."""
    if noise == "real":
        pairs = [(read_rgb_uint8(p.noisy), read_rgb_uint8(p.clean)) for p in polyu_pairs(data, "train", "crops")]
        if method == "bm3d":
            subset = [(centre(n, BM3D_SIDE), centre(c, BM3D_SIDE)) for n, c in evenly_spaced(pairs, 16)]
            return subset, f"centre {BM3D_SIDE}x{BM3D_SIDE} of 16 PolyU train crops"
        return pairs, f"all {len(pairs)} PolyU train crops"
    photos = sorted((data / "clean" / "cbsd432").glob("*.jpg"))
    count = 4 if method == "bm3d" else 24
    pairs = []
    for level in EVALUATION_NOISE_LEVELS:
        for path in evenly_spaced(photos, count):
            clean = read_rgb_uint8(path)
            clean = centre(clean, BM3D_SIDE) if method == "bm3d" else clean
            pairs.append((evaluation_noise(clean, level, 1, path.name), clean))  # seed 1: not the test sets' seed 0
    size = f"centre {BM3D_SIDE}x{BM3D_SIDE} of " if method == "bm3d" else ""
    return pairs, f"{size}{count} CBSD432 photos x {len(EVALUATION_NOISE_LEVELS)} levels ({', '.join(EVALUATION_NOISE_LEVELS)}), seed 1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (holds polyu/ and clean/)")
    parser.add_argument("--noise", choices=list(GRIDS), required=True)
    parser.add_argument("--json", type=Path, default=Path("docs/results/baseline-tuning.json"))
    parser.add_argument("--methods", nargs="+", default=["nlm", "bm3d"])
    parser.add_argument("--grid", nargs="+", type=float, help="multipliers to try (default: the kind's grid); merged with those in --json")
    args = parser.parse_args()

    record = json.loads(args.json.read_text()) if args.json.exists() else {}
    section = record.setdefault(args.noise, {"methods": {}})
    section.update({"date": datetime.date.today().isoformat(), "machine": f"{machine_info()['cpu']}, Python {platform.python_version()}"})
    for method in args.methods:
        images, described = tuning_images(args.data, args.noise, method)
        ratios = [float(np.std(n.astype(np.float32) - c) / 255.0 / max(estimate_noise_sigma(n), 1e-6)) for n, c in images]
        print(f"{method}: {described}; true residual std / wavelet estimate: median {np.median(ratios):.2f}", flush=True)
        scores = {float(m): v for m, v in section["methods"].get(method, {}).get("psnr_by_multiplier", {}).items()}
        for multiplier in args.grid or GRIDS[args.noise]:
            baseline = Baseline(method, multiplier)
            scores[multiplier] = float(np.mean([psnr(baseline(noisy)[0], clean) for noisy, clean in images]))
            print(f"{method} x{multiplier:g}: {scores[multiplier]:.3f} dB", flush=True)
        best = max(scores, key=scores.get)
        section["methods"][method] = {
            "images": described,
            "noisy_psnr": float(np.mean([psnr(n, c) for n, c in images])),
            "residual_std_over_estimate_median": float(np.median(ratios)),
            "psnr_by_multiplier": {f"{m:g}": scores[m] for m in sorted(scores)},
            "best_multiplier": best,
        }
        print(f"{method}: best multiplier {best:g} ({scores[best]:.3f} dB)", flush=True)
    args.json.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
