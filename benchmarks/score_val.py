"""Score weights files on the validation sets a run with ``val_noise_levels`` uses, as it does.

    .venv/bin/python benchmarks/score_val.py ../runs/student-v0.4.safetensors --data ../shared/data --tta

Each file is scored, bf16 (``--fp32``: as a run with ``bf16: false`` validates), on ``--val-set``'s real pairs and on its clean images with the
evaluation's camera noise at each of ``--levels`` (seed 0), and the mean over those sets is the
number a run keeps its best weights by. ``--tta`` also scores each file's x8 self-ensemble, the
teacher that ``teacher_tta=true`` distils from (``train.teachers.SelfEnsemble``). Only
validation data is read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from litedenoise.data.camera_noise import EVALUATION_NOISE_LEVELS
from litedenoise.errors import LiteDenoiseError
from litedenoise.train.config import TrainConfig
from litedenoise.train.loop import validation_scores, validation_sets
from litedenoise.train.teachers import SelfEnsemble
from litedenoise.weights import file_digest, load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, nargs="+", help=".safetensors files")
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--val-set", default="polyu:val:crops")
    parser.add_argument("--levels", nargs="*", default=list(EVALUATION_NOISE_LEVELS), help="camera noise levels added to the val images")
    parser.add_argument("--tta", action="store_true", help="also score each file's x8 self-ensemble")
    parser.add_argument("--fp32", action="store_true", help="score in fp32, not bf16 (CPUs without native bf16)")
    args = parser.parse_args()

    try:
        sets = validation_sets(TrainConfig(val_set=args.val_set, val_noise_levels=args.levels), args.data)
        print("| weights | " + " | ".join(sets) + " | mean |")
        print("|---|" + "---|" * (len(sets) + 1))
        for path in args.weights:
            model = load_model(path)
            variants = [("", model)] + ([(" x8 self-ensemble", SelfEnsemble(model).eval())] if args.tta else [])
            for suffix, network in variants:
                scores = validation_scores(network, sets, bf16=not args.fp32)
                cells = " | ".join(f"{value:.2f}" for value in scores.values())
                print(f"| {path.name} ({file_digest(path)}){suffix} | {cells} | {np.mean(list(scores.values())):.3f} |", flush=True)
    except LiteDenoiseError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
