"""Working memory of one no-grad tile through the inference path, per network width and tile side.

Each (width, side) runs in a fresh process (``bench.forward_working_bytes``): random weights, one
small tile for the one-off set-up, then the peak RSS growth over ``--tiles`` side x side tiles in
a row (default 3) through ``runtimes.TorchBackend`` (channels-last), as ``infer.denoise_tensor``
calls it, or through the any-size ONNX file in ONNX Runtime (``--runtime onnx``), with the
allocator set as the CLI sets it (``allocator.reuse_freed_memory`` for fp32 PyTorch;
``--glibc-default`` leaves it alone, as a library caller has it). Prints one JSON line per width:
the bytes per pixel at each side (peak growth over side squared: fixed costs included, so it falls
as tiles grow), the slope of a least-squares line through the sides, and the network's own
figure (``infer.working_bytes_per_pixel``), which ``infer.tile_side_for_budget`` divides the budget by.
Linux only. Run alone: the numbers are per process, but the time is not.

    .venv/bin/python benchmarks/forward_memory.py --architecture TeacherNet --widths 16 32 64 [--sides 512 768 1024] [--bf16]
    .venv/bin/python benchmarks/forward_memory.py --runtime onnx --sides 1024 1536 2048  # the any-size ONNX file
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from litedenoise.allocator import cli_reuses_freed_memory
from litedenoise.bench import forward_working_bytes_in_new_process, machine_info
from litedenoise.infer import working_bytes_per_pixel
from litedenoise.weights import build_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--architecture", choices=["LiteDenoiseNet", "TeacherNet"], default="LiteDenoiseNet")
    parser.add_argument("--widths", type=int, nargs="+", default=[16])
    parser.add_argument("--sides", type=int, nargs="+", default=[512, 768, 1024])
    parser.add_argument("--bf16", action="store_true", help="under bfloat16 autocast, as --bf16 inference runs")
    parser.add_argument("--runtime", choices=["torch", "onnx"], default="torch", help="onnx: the any-size ONNX file in ONNX Runtime (fp32)")
    parser.add_argument("--tiles", type=int, default=3, help="tiles in a row per measurement: the peak over all of them")
    parser.add_argument("--glibc-default", action="store_true", help="leave the allocator as a library caller finds it, not as the CLI sets it")
    args = parser.parse_args()
    if args.bf16 and args.runtime == "onnx":
        parser.error("--bf16 is for --runtime torch")

    reused = not args.glibc_default and cli_reuses_freed_memory("torch-bf16" if args.bf16 else args.runtime)
    for width in args.widths:
        working = [
            forward_working_bytes_in_new_process(
                args.architecture, width, side, bf16=args.bf16, runtime=args.runtime, tiles=args.tiles, cli_allocator=not args.glibc_default
            )
            for side in args.sides
        ]
        pixels = np.array(args.sides, dtype=np.float64) ** 2
        slope, intercept = np.polyfit(pixels, np.array(working, dtype=np.float64), 1) if len(pixels) > 1 else (np.nan, np.nan)
        print(json.dumps({
            "architecture": args.architecture,
            "width": width,
            "runtime": args.runtime,
            "precision": "bf16" if args.bf16 else "fp32",
            "tiles": args.tiles,
            "allocator": "reuse freed memory, as the CLI" if reused else "glibc default",
            "working_mb_by_side": {side: round(value / 2**20, 1) for side, value in zip(args.sides, working)},
            "bytes_per_pixel_by_side": {side: round(value / side**2) for side, value in zip(args.sides, working)},
            "slope_bytes_per_pixel": None if np.isnan(slope) else round(slope),
            "intercept_mb": None if np.isnan(intercept) else round(intercept / 2**20, 1),
            "in_the_code": working_bytes_per_pixel(build_model(args.architecture, width), bf16=args.bf16),
            "threads": torch.get_num_threads(),
            "cpu": machine_info()["cpu"],
            "torch": torch.__version__,
        }), flush=True)


if __name__ == "__main__":
    main()
