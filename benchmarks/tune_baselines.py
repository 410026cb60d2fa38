"""Tune the noise-level multipliers of the classical baselines on PolyU train crops.

    .venv/bin/python benchmarks/tune_baselines.py --data ../shared/data [--json docs/results/baseline-tuning.json]

For each method, every multiplier of a grid scales the wavelet noise estimate of each crop; the
multiplier with the best mean PSNR goes into ``litedenoise.baselines.TUNED_MULTIPLIERS`` (by
hand: the script prints it). BM3D takes ~15 s per 512x512 crop here, so it is tuned on the
centre 256x256 of 16 crops evenly spaced by name; non-local means on all 67 whole crops. Only
``train`` is used: ``val`` reports, ``unseen_camera`` measures generalisation.
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
from litedenoise.data.paired import polyu_pairs
from litedenoise.imageio import read_rgb_uint8
from litedenoise.metrics import psnr

GRID = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
BM3D_CROPS, BM3D_SIDE = 16, 256


def centre(image: np.ndarray, side: int) -> np.ndarray:
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return image[top : top + side, left : left + side]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the shared data folder (holds polyu/)")
    parser.add_argument("--json", default="docs/results/baseline-tuning.json")
    parser.add_argument("--methods", nargs="+", default=["nlm", "bm3d"])
    parser.add_argument("--grid", nargs="+", type=float, default=list(GRID), help="multipliers to try; merged with those already in --json")
    args = parser.parse_args()

    pairs = [(read_rgb_uint8(p.noisy), read_rgb_uint8(p.clean)) for p in polyu_pairs(args.data, "train", "crops")]
    residual_ratio = [float(np.std(n.astype(np.float32) - c) / 255.0 / max(estimate_noise_sigma(n), 1e-6)) for n, c in pairs]
    print(f"{len(pairs)} train crops; true residual std / wavelet estimate: median {np.median(residual_ratio):.2f}", flush=True)
    earlier = json.loads(Path(args.json).read_text())["methods"] if Path(args.json).exists() else {}
    report = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{machine_info()['cpu']}, Python {platform.python_version()}",
        "residual_std_over_estimate_median": float(np.median(residual_ratio)),
        "noisy_psnr": float(np.mean([psnr(n, c) for n, c in pairs])),
        "methods": dict(earlier),
    }
    for method in args.methods:
        if method == "bm3d":
            spaced = np.linspace(0, len(pairs) - 1, BM3D_CROPS).round().astype(int)
            subset = [(centre(pairs[i][0], BM3D_SIDE), centre(pairs[i][1], BM3D_SIDE)) for i in spaced]
            described = f"centre {BM3D_SIDE}x{BM3D_SIDE} of {BM3D_CROPS} train crops"
        else:
            subset, described = pairs, f"all {len(pairs)} train crops"
        scores = {float(m): v for m, v in earlier.get(method, {}).get("psnr_by_multiplier", {}).items()}
        for multiplier in args.grid:
            baseline = Baseline(method, multiplier)
            scores[multiplier] = float(np.mean([psnr(baseline(noisy)[0], clean) for noisy, clean in subset]))
            print(f"{method} x{multiplier:g}: {scores[multiplier]:.3f} dB", flush=True)
        best = max(scores, key=scores.get)
        report["methods"][method] = {
            "images": described,
            "noisy_psnr": float(np.mean([psnr(n, c) for n, c in subset])),
            "psnr_by_multiplier": {f"{m:g}": scores[m] for m in sorted(scores)},
            "best_multiplier": best,
        }
        print(f"{method}: best multiplier {best:g} ({scores[best]:.3f} dB)", flush=True)
    Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
