"""Offline distillation targets: a teacher's outputs on real pairs, blended with their ground truth.

    .venv/bin/python benchmarks/teacher_targets.py ../runs/teacher-real/best.safetensors --tta --alpha 0.9 \
        --data ../shared/data --pairs polyu:train:crops --out ../runs/targets-real

OUT is a pair folder that a ``real_pair_sets`` entry can name (give its absolute path):
``OUT/noisy/`` links to the pairs' noisy files, ``OUT/clean/`` holds
``alpha * teacher + (1 - alpha) * ground truth`` as 8-bit PNG (``train.losses.blended_target``),
the teacher run on each whole noisy file through the inference path (``--tta``: its x8
self-ensemble). With ``loss=mse``, training on OUT is distilling from that teacher at ``--alpha``
on those pairs, at the cost of a run without a teacher; the self-ensemble is equivariant to the
crops' flips and rotations, so a crop of its output is its output for the crop. Nothing is
overwritten: OUT must not exist yet.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from litedenoise.data.paired import data_root, resolve_pair_set
from litedenoise.errors import LiteDenoiseError
from litedenoise.imageio import read_rgb_uint8, write_image
from litedenoise.infer import denoise
from litedenoise.metrics import psnr
from litedenoise.train.losses import blended_target
from litedenoise.weights import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("teacher", type=Path, help="the teacher's .safetensors weights")
    parser.add_argument("--data", help="the shared data folder (default: $LITEDENOISE_DATA)")
    parser.add_argument("--pairs", default="polyu:train:crops", help="the real pair set (polyu:GROUP:KIND or a folder)")
    parser.add_argument("--out", required=True, type=Path, help="the new pair folder (must not exist)")
    parser.add_argument("--alpha", type=float, default=0.9, help="the teacher's weight (default 0.9, the paper's)")
    parser.add_argument("--tta", action="store_true", help="the teacher's x8 self-ensemble (8x the time)")
    parser.add_argument("--bf16", action="store_true", help="run the teacher under bf16 autocast (default fp32)")
    args = parser.parse_args()
    try:
        if not 0.0 <= args.alpha <= 1.0:
            raise LiteDenoiseError(f"--alpha must be in [0, 1], got {args.alpha}")
        if args.out.exists():
            raise LiteDenoiseError(f"{args.out} exists; choose a new folder")
        pairs = resolve_pair_set(args.pairs, data_root(args.data))
        teacher = load_model(args.teacher).eval()
        (args.out / "noisy").mkdir(parents=True)
        (args.out / "clean").mkdir()
        started, gains = time.perf_counter(), []
        for pair in tqdm(pairs, desc="teacher targets"):
            noisy, clean = read_rgb_uint8(pair.noisy), read_rgb_uint8(pair.clean)
            output = denoise(noisy.astype(np.float32) / 255.0, teacher, bf16=args.bf16, tta=args.tta)  # float: rounded once, below
            gains.append(psnr(output, clean) - psnr(noisy, clean))
            target = blended_target(output, clean.astype(np.float32) / 255.0, args.alpha)
            write_image(args.out / "clean" / f"{pair.name}.png", np.round(target.clip(0.0, 1.0) * 255.0).astype(np.uint8))
            (args.out / "noisy" / f"{pair.name}{pair.noisy.suffix}").symlink_to(pair.noisy.resolve())
    except LiteDenoiseError as error:
        sys.exit(f"error: {error}")
    print(
        f"{args.out}: {len(pairs)} pairs in {time.perf_counter() - started:.0f} s; the teacher gains "
        f"{np.mean(gains):.2f} dB over the noisy files on average (they are its training data, so this flatters it)"
    )


if __name__ == "__main__":
    main()
