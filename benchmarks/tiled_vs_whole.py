"""Fixed-size tiles through an exported file against PyTorch on the whole image, PolyU full size.

Exports the shipped student (or ``--weights``) for TFLite at ``--tile`` in each of
``--precisions`` (``runtimes.load_backend``, cached), denoises each ``polyu:val:full`` image
through that fixed-tile backend (``infer.denoise_tensor``: pad, tiles of exactly that size with
144 px of context, stitch) and through PyTorch fp32 on the whole image in one piece, and prints
per image: tiled vs whole (float PSNR and max abs difference on [0, 1] outputs) and each vs
clean (8-bit PSNR, as ``litedenoise eval`` reports it).

    .venv/bin/python benchmarks/tiled_vs_whole.py --data ../shared/data --tile 512x512 --precisions fp32 int8
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from litedenoise.cli import parse_size
from litedenoise.data.paired import resolve_pair_set
from litedenoise.imageio import read_rgb_uint8
from litedenoise.infer import denoise_tensor, pad_to_multiple, plan_tiles
from litedenoise.metrics import psnr
from litedenoise.runtimes import load_backend
from litedenoise.weights import load_model

WHOLE = 10**6  # a tile side larger than any image: one piece


def float_psnr(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    mse = float(((estimate.double() - reference.double()) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def as_image(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].permute(1, 2, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="data folder holding polyu/")
    parser.add_argument("--split", default="val:full", help="PolyU GROUP:KIND")
    parser.add_argument("--weights", default="student")
    parser.add_argument("--tile", type=parse_size, default=(512, 512), metavar="HxW", help="the export size, which every tile has")
    parser.add_argument("--precisions", nargs="+", default=["fp32"], help="TFLite precisions: fp32 fp16 int8 (int8 calibrates on the data folder)")
    parser.add_argument("--threads", type=int, help="threads for both (default: torch.get_num_threads())")
    parser.add_argument("--cache", type=Path, help="export cache (default: $LITEDENOISE_CACHE or ~/.cache/litedenoise)")
    args = parser.parse_args()

    model = load_model(args.weights)
    whole_backend = load_backend("torch", model, threads=args.threads)
    tiled_backends = {
        precision: load_backend("tflite", model, precision=precision, tile_size=args.tile, threads=args.threads, cache_dir=args.cache, data=args.data)
        for precision in args.precisions
    }
    pairs = resolve_pair_set(f"polyu:{args.split}", args.data)
    print(f"{args.weights} on {len(pairs)} polyu:{args.split} images; whole: {whole_backend.name}; tiled: {args.tile[0]}x{args.tile[1]} TFLite tiles")
    print("| image | size (HxW) | precision | tiles | tiled vs whole: PSNR dB / max abs | whole vs clean dB | tiled vs clean dB |")
    print("|---|---|---|---|---|---|---|")
    totals: dict[str, list[tuple[float, float, float, float]]] = {precision: [] for precision in args.precisions}
    for pair in pairs:
        noisy, clean = read_rgb_uint8(pair.noisy), read_rgb_uint8(pair.clean)
        image = torch.tensor(noisy).permute(2, 0, 1)[None].float() / 255
        whole = denoise_tensor(image, whole_backend, tile=WHOLE)
        whole_to_clean = psnr(as_image(whole), clean)
        for precision, backend in tiled_backends.items():
            padded = pad_to_multiple(image, backend.size_multiple, backend.fixed_size)
            tiles = len(plan_tiles(*padded.shape[-2:], backend.fixed_size, backend.receptive_field_radius, backend.size_multiple, fixed=True))
            tiled = denoise_tensor(image, backend)
            scores = (float_psnr(tiled, whole), float((tiled - whole).abs().max()), whole_to_clean, psnr(as_image(tiled), clean))
            totals[precision].append(scores)
            size = f"{noisy.shape[0]}x{noisy.shape[1]}"
            print(f"| {pair.noisy.name} | {size} | {precision} | {tiles} | {scores[0]:.2f} / {scores[1]:.2e} | {scores[2]:.2f} | {scores[3]:.2f} |", flush=True)
    for precision, rows in totals.items():
        mean = np.mean(rows, axis=0)
        worst_diff = max(row[1] for row in rows)
        print(f"| mean | | {precision} | | {mean[0]:.2f} / {worst_diff:.2e} (worst) | {mean[2]:.2f} | {mean[3]:.2f} |")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
