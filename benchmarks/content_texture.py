"""Does BM3D win on the PolyU crops because their clean images are smooth?

    git show 6e6fdfe:src/litedenoise/pretrained/student.safetensors > ../runs/student-v0.3.safetensors
    .venv/bin/python benchmarks/content_texture.py --data ../shared/data \
        --model student --model ../runs/student-v0.3.safetensors --output docs/results/content-texture.json

Findings: docs/evaluation.md (Why smoothing pays on PolyU).

Texture of a clean image = the PSNR of that image blurred by a Gaussian of ``--sigma`` pixels
against itself: the higher it is, the less a denoiser loses by smoothing. It is printed for every
clean image set we evaluate on. Then, on the PolyU crop sets, each network is scored image by
image against tuned BM3D (outputs from the baselines' cache, computed if missing), and the
Spearman rank correlation between an image's texture and BM3D's lead over the network tells
whether BM3D's wins are on the smooth images. As a last measure of how much plain smoothing pays,
a Gaussian blur of the noisy input is scored, its sigma chosen on the ``train`` crops. Nothing here
chooses weights or settings of the shipped student or the baselines.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import spearmanr

from litedenoise.errors import LiteDenoiseError
from litedenoise.evaluate import build_methods, load_pairs, score_methods
from litedenoise.imageio import image_files, read_rgb_uint8
from litedenoise.metrics import psnr

PAIR_SETS = ("train:crops", "val:crops", "unseen_camera:crops")
PHOTO_DIRS = ("clean/cbsd432", "clean/kodak24", "clean/mcmaster18")
BLUR_SIGMAS = (0.5, 0.75, 1.0, 1.25, 1.5)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    blurred = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return np.clip(np.round(blurred), 0, 255).astype(np.uint8)


def blur_psnr(clean: np.ndarray, sigma: float) -> float:
    return psnr(gaussian_blur(clean, sigma), clean)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--model", action="append", default=[], help="a network to compare with BM3D (repeatable)")
    parser.add_argument("--sigma", type=float, default=1.0, help="Gaussian blur in pixels")
    parser.add_argument("--output", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()

    try:
        pairs = {split: load_pairs(args.data, split=split).images for split in PAIR_SETS}
        clean_sets = {f"polyu {split}": [image.clean for image in images] for split, images in pairs.items()}
        for folder in PHOTO_DIRS:
            files = image_files(args.data / folder)
            clean_sets[folder] = [read_rgb_uint8(path) for path in files]
        result: dict = {"sigma": args.sigma, "texture": {}, "bm3d_lead": {}}
        print(f"| clean images | n | blur PSNR, sigma {args.sigma:g} px (dB): mean | min | max |\n|---|---|---|---|---|")
        for name, images in clean_sets.items():
            values = [blur_psnr(image, args.sigma) for image in images]
            result["texture"][name] = {"n": len(values), "mean": float(np.mean(values)), "min": float(np.min(values)), "max": float(np.max(values))}
            print(f"| {name} | {len(values)} | {np.mean(values):.2f} | {np.min(values):.2f} | {np.max(values):.2f} |")

        methods = build_methods(args.model, ["bm3d"])
        print("\n| set | network | network (dB) | BM3D (dB) | images BM3D wins | Spearman(texture, BM3D lead) | p |\n|---|---|---|---|---|---|---|")
        for split in PAIR_SETS[1:]:
            texture = [blur_psnr(image.clean, args.sigma) for image in pairs[split]]
            scores = score_methods(methods, pairs[split], with_ssim=False)
            bm3d = np.array(scores[methods[0].name].psnr)
            for method in methods[1:]:
                network = np.array(scores[method.name].psnr)
                lead = bm3d - network
                rho, p = spearmanr(texture, lead)
                result["bm3d_lead"][f"{split} {method.name}"] = {
                    "network_psnr": float(network.mean()),
                    "bm3d_psnr": float(bm3d.mean()),
                    "bm3d_wins": int((lead > 0).sum()),
                    "n": len(lead),
                    "spearman": float(rho),
                    "p": float(p),
                    "per_image": {"texture": texture, "bm3d_lead": lead.tolist()},
                }
                wins = f"{(lead > 0).sum()} of {len(lead)}"
                print(f"| {split} | {method.name} | {network.mean():.2f} | {bm3d.mean():.2f} | {wins} | {rho:+.2f} | {p:.3f} |", flush=True)

        blur_scores = {
            split: [float(np.mean([psnr(gaussian_blur(image.noisy, sigma), image.clean) for image in images])) for sigma in BLUR_SIGMAS]
            for split, images in pairs.items()
        }
        chosen = int(np.argmax(blur_scores["train:crops"]))
        result["noisy_blur"] = {"sigmas": BLUR_SIGMAS, "psnr": blur_scores, "chosen_on_train": BLUR_SIGMAS[chosen]}
        print(f"\n| Gaussian blur of the noisy input, sigma (px) | {' | '.join(f'{sigma:g}' for sigma in BLUR_SIGMAS)} |\n|---|" + "---|" * len(BLUR_SIGMAS))
        for split, values in blur_scores.items():
            print(f"| polyu {split} (dB) | " + " | ".join(f"**{v:.2f}**" if i == chosen else f"{v:.2f}" for i, v in enumerate(values)) + " |")
        if args.output:
            args.output.write_text(json.dumps(result, indent=1) + "\n")
    except LiteDenoiseError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
