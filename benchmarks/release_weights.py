"""Make a run's best weights the shipped default, adding release metadata to the run's own.

    .venv/bin/python benchmarks/release_weights.py ../runs/ship-student/best.safetensors \
        --set name="litedenoise student v0.2" --set training="..." --replace

The tensors are copied unchanged (through ``weights.load_model`` and ``save_weights``); the metadata keeps every key the training wrote (architecture,
params, data, licence, recipe, step, val_psnr) and adds or replaces the ``--set`` ones. The
shipped file is tracked by git, so ``--replace`` loses nothing that is not in the history.
``--fp16`` stores the tensors as float16 instead (the committed teacher in ``weights/``):

    .venv/bin/python benchmarks/release_weights.py ../runs/teacher-s3/best.safetensors --fp16 \
        --to weights/teacher-w32-4750.safetensors --set name="..." --set init="..."
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from litedenoise.weights import file_digest, load_model, read_metadata, save_weights, shipped_weights_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, help="the run's best.safetensors")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="metadata to add or replace")
    parser.add_argument("--to", type=Path, default=shipped_weights_path("student"), help="destination (default: the shipped student)")
    parser.add_argument("--replace", action="store_true", help="overwrite an existing destination")
    parser.add_argument("--fp16", action="store_true", help="store the tensors as float16 (half the file; loads into an fp32 network)")
    args = parser.parse_args()

    if args.to.exists() and not args.replace:
        sys.exit(f"error: {args.to} exists; pass --replace to overwrite it")
    metadata = read_metadata(args.weights)
    if args.fp16:
        metadata.update(stored_as="float16; loads into an fp32 network", source_sha256=f"{file_digest(args.weights)} (fp32)")
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            sys.exit(f"error: --set {item!r} must look like KEY=VALUE")
        metadata[key] = value
    dtype = torch.float16 if args.fp16 else torch.float32
    save_weights(args.to, load_model(args.weights), metadata, dtype)  # refuses tensors that do not fit the architecture
    print(f"wrote {args.to} ({args.to.stat().st_size / 1e6:.1f} MB, {len(metadata)} metadata keys)")


if __name__ == "__main__":
    main()
