"""Fidelity of every runtime and precision: PSNR against ground truth and against PyTorch fp32.

Runs the shipped student (or ``--weights``) over PolyU pairs through the one inference path
(``infer.denoise_tensor``) with each backend: PyTorch fp32 (the reference), PyTorch fp16 (real
half-precision arithmetic: weights and every activation in fp16, rounded after each operator;
oneDNN accumulates inside a convolution in fp32), PyTorch bf16 autocast, and the exported
TFLite (LiteRT, XNNPACK) and ONNX (ONNX Runtime CPU) files in each precision. x86 XNNPACK
widens fp16 TFLite weights to fp32 and computes in fp32, so that row measures fp16 *storage*
only; ONNX Runtime has no fp16 convolution on x86 and casts around it, rounding each
operator's result to fp16. Exports are made at ``--size`` (default: the crops' 512x512, so
one tile per crop); integer files are calibrated on PolyU ``train`` crops, never on the
evaluated split. ``--json`` keeps the per-image values.

    .venv/bin/python benchmarks/export_fidelity.py --data ../shared/data --json docs/results/fidelity.json
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from litedenoise.data.paired import resolve_pair_set
from litedenoise.imageio import atomic_write_bytes, read_rgb_uint8
from litedenoise.infer import denoise_tensor
from litedenoise.metrics import psnr
from litedenoise.runtimes import load_backend
from litedenoise.weights import load_model

ROWS = ["torch:fp16", "torch:bf16", "tflite:fp32", "tflite:fp16", "tflite:int8", "onnx:fp32", "onnx:fp16", "onnx:int8"]


class HalfPrecision(nn.Module):
    """The network in fp16 (weights and activations), fp32 image in and out."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = copy.deepcopy(model).half()
        self.size_multiple, self.receptive_field_radius = model.size_multiple, model.receptive_field_radius

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.half()).float()


def as_uint8(tensor: torch.Tensor) -> np.ndarray:
    return np.round(tensor[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="val:crops", help="PolyU GROUP:KIND")
    parser.add_argument("--weights", default="student")
    parser.add_argument("--size", default=None, help="export size HxW (default: the first image's)")
    parser.add_argument("--rows", nargs="+", default=ROWS, help=f"RUNTIME:PRECISION rows besides PyTorch fp32 (default: {' '.join(ROWS)}; also tflite:a16w8)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    torch.set_num_threads(args.threads)
    model = load_model(args.weights).eval()
    pairs = resolve_pair_set(f"polyu:{args.split}", args.data)
    images = [(p.noisy.name, read_rgb_uint8(p.noisy), read_rgb_uint8(p.clean)) for p in pairs]
    tensors = [torch.tensor(noisy).permute(2, 0, 1)[None].float() / 255 for _, noisy, _ in images]
    size = tuple(int(side) for side in args.size.split("x")) if args.size else images[0][1].shape[:2]

    def score(label: str, run) -> dict:
        start = time.perf_counter()
        outputs = [as_uint8(run(tensor)) for tensor in tensors]
        seconds = time.perf_counter() - start
        return {"label": label, "outputs": outputs, "seconds": seconds, "psnr": [psnr(out, clean) for out, (_, _, clean) in zip(outputs, images)]}

    results = [score("PyTorch fp32", lambda t: denoise_tensor(t, model))]
    reference = results[0]
    if "torch:fp16" in args.rows:
        half = HalfPrecision(model)
        results.append(score("PyTorch fp16 (half arithmetic)", lambda t: denoise_tensor(t, half)))
    if "torch:bf16" in args.rows:
        results.append(score("PyTorch bf16 autocast", lambda t: denoise_tensor(t, load_backend("torch-bf16", model))))
    with tempfile.TemporaryDirectory() as cache:
        for file_format, precision in [row.split(":") for row in args.rows if not row.startswith("torch:")]:
            start = time.perf_counter()
            backend = load_backend(file_format, model, precision=precision, tile_size=size, cache_dir=Path(cache), data=args.data, threads=args.threads)
            export_seconds = time.perf_counter() - start
            result = score(f"{file_format} {precision}", lambda t, backend=backend: denoise_tensor(t, backend))
            result["export_seconds"] = export_seconds
            results.append(result)
            print(f"{result['label']}: {np.mean(result['psnr']):.3f} dB ({export_seconds:.0f} s export)", flush=True)

    print(f"\n{len(images)} PolyU {args.split} images, export size {size[0]}x{size[1]}, {args.threads} threads; PSNR on 8-bit RGB outputs")
    print("| runtime, precision | PSNR vs clean: mean / worst (dB) | change vs PyTorch fp32: mean / worst (dB) | PSNR vs PyTorch fp32: mean / min (dB) |")
    print("|---|---|---|---|")
    summary = []
    for result in results:
        change = np.array(result["psnr"]) - np.array(reference["psnr"])
        agreement = [psnr(out, ref) for out, ref in zip(result["outputs"], reference["outputs"])]
        agreement_text = "-" if result is reference else f"{np.mean(agreement):.2f} / {np.min(agreement):.2f}"
        change_text = "-" if result is reference else f"{change.mean():+.3f} / {change.min():+.3f}"
        print(f"| {result['label']} | {np.mean(result['psnr']):.3f} / {np.min(result['psnr']):.2f} | {change_text} | {agreement_text} |")
        summary.append(
            {
                "label": result["label"],
                "psnr_mean": float(np.mean(result["psnr"])),
                "psnr_per_image": [float(value) for value in result["psnr"]],
                "change_mean": float(change.mean()),
                "change_worst": float(change.min()),
                "agreement_per_image": [float(value) for value in agreement],
                "seconds": result["seconds"],
                **({"export_seconds": result["export_seconds"]} if "export_seconds" in result else {}),
            }
        )
    if args.json:
        record = {"split": args.split, "size": list(size), "weights": args.weights, "images": [name for name, _, _ in images], "rows": summary}
        atomic_write_bytes(args.json, json.dumps(record, indent=1).encode(), overwrite=True)


if __name__ == "__main__":
    main()
