"""PSNR and SSIM of ``denoise(..., strength=S)`` for several strengths, on PolyU splits.

What keeping part of the noise costs in fidelity: strength 1 is the network's output, 0 the noisy
input. Each split's pairs are denoised once per strength with the shipped student (fp32 PyTorch,
the default budget); the mean PSNR/SSIM is printed per split and strength. Not a tuning: the
default stays 1.

    .venv/bin/python benchmarks/strength_sweep.py ../shared/data --splits val:crops unseen_camera:crops --strengths 1 0.9 0.8 0.7 0.5
"""

from __future__ import annotations

import argparse

import numpy as np

from litedenoise.evaluate import load_pairs
from litedenoise.infer import denoise
from litedenoise.metrics import psnr, ssim
from litedenoise.weights import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data")
    parser.add_argument("--splits", nargs="+", default=["val:crops"])
    parser.add_argument("--strengths", nargs="+", type=float, default=[1.0, 0.9, 0.8, 0.7, 0.5])
    parser.add_argument("--weights", default="student")
    args = parser.parse_args()
    model = load_model(args.weights).eval()
    print("| split | strength | PSNR dB | SSIM |\n|---|--:|--:|--:|")
    for split in args.splits:
        pairs = load_pairs(args.data, split=split).images
        for strength in args.strengths:
            outputs = [denoise(image.noisy, model, strength=strength) for image in pairs]
            scores = [(psnr(out, image.clean), ssim(out, image.clean)) for out, image in zip(outputs, pairs)]
            mean_psnr, mean_ssim = np.mean(scores, axis=0)
            print(f"| {split} ({len(pairs)}) | {strength:g} | {mean_psnr:.2f} | {mean_ssim:.4f} |", flush=True)


if __name__ == "__main__":
    main()
