"""Time and peak memory of `litedenoise.denoise` on one full-resolution image.

Default: the challenge's full resolution, 2432x3200 RGB uint8, shipped student, default memory
budget. Prints one JSON line. Run alone: other processes on the cores distort the time.

    .venv/bin/python benchmarks/fullres_memory.py [--height 2432 --width 3200] [--memory-mb 2048] [--tile N] [--bf16]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import numpy as np
import torch

import litedenoise
from litedenoise.infer import (
    DEFAULT_MEMORY_BUDGET_MB,
    padded_indices,
    plan_tiles,
    tile_side_for_budget,
)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--height", type=int, default=2432)
    parser.add_argument("--width", type=int, default=3200)
    parser.add_argument("--memory-mb", type=float, default=DEFAULT_MEMORY_BUDGET_MB)
    parser.add_argument("--tile", type=int)
    parser.add_argument("--weights", default="student")
    parser.add_argument("--bf16", action="store_true", help="under bfloat16 autocast, as the CLI runs where the CPU has it")
    args = parser.parse_args()

    model = litedenoise.load_model(args.weights)
    image = np.random.default_rng(0).integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    tile = args.tile or tile_side_for_budget(model, args.memory_mb, bf16=args.bf16)
    padded = [len(padded_indices(side, model.size_multiple)) for side in (args.height, args.width)]
    tiles = len(plan_tiles(padded[0], padded[1], tile, model.receptive_field_radius, model.size_multiple))
    before = rss_mb()
    started = time.perf_counter()
    litedenoise.denoise(image, model, tile=args.tile, memory_budget_mb=args.memory_mb, bf16=args.bf16)
    seconds = time.perf_counter() - started
    print(json.dumps({
        "image": f"{args.height}x{args.width}",
        "tile": tile,
        "tiles": tiles,
        "memory_budget_mb": args.memory_mb,
        "precision": "bf16" if args.bf16 else "fp32",
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before),
        "peak_rss_mb": round(rss_mb()),
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
