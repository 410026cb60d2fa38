"""Blend two trainings of one student, score each blend on val, and keep the best.

    .venv/bin/python benchmarks/interpolate_weights.py ../runs/v02.safetensors \
        src/litedenoise/pretrained/student.safetensors --data ../shared/data \
        --save ../runs/blend.safetensors --json ../runs/blend.json

Blend ``t`` is ``(1 - t) * START + t * END`` for each of ``--fractions``. END should be a
fine-tune of START (v0.3 of v0.2): both then sit in one basin and the blend trades their
strengths, here v0.3's real noise against v0.2's synthetic noise. Every blend is scored, bf16,
on ``--val-set``'s real pairs and on its clean images with the evaluation's camera noise at each
of ``--levels`` (seed 0), exactly as a run with ``val_noise_levels`` validates. The best is the
one with the best mean over those sets; blends within 0.01 dB of it go to the larger ``t``. Only
validation data is read, so the choice is not tuned on any test set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from litedenoise.data.camera_noise import EVALUATION_NOISE_LEVELS
from litedenoise.errors import LiteDenoiseError
from litedenoise.train.config import TrainConfig
from litedenoise.train.loop import validation_scores, validation_sets
from litedenoise.weights import file_digest, interpolate_models, load_model, save_weights

TIE_DB = 0.01


def weights_label(path: Path, model) -> str:
    return f"{model.metadata.get('name', path.name)}, sha256 {file_digest(path)}"


def blend_metadata(start, end, start_label: str, end_label: str, fraction: float, set_names: list[str], mean_psnr: float) -> dict[str, str]:
    """END's metadata, with what the blend is made of and what it scored."""
    metadata = dict(end.metadata)
    for key in ("data", "licence", "training"):
        values = dict.fromkeys(item for item in (start.metadata.get(key), end.metadata.get(key)) if item)
        metadata[key] = " | ".join(values)
    metadata["init"] = f"blend {1 - fraction:.2f} x ({start_label}) + {fraction:.2f} x ({end_label})"
    metadata["name"] = f"blend of {start.metadata.get('name', 'start')} and {end.metadata.get('name', 'end')}, t={fraction:.2f}"
    metadata["val_set"] = " | ".join(set_names) + " (val_psnr: the mean over these)"
    metadata["val_psnr"] = f"{mean_psnr:.3f}"
    metadata.pop("step", None)
    return metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("start", type=Path, help="the weights fine-tuning began from (t = 0)")
    parser.add_argument("end", type=Path, help="the fine-tuned weights (t = 1)")
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--val-set", default="polyu:val:crops")
    parser.add_argument("--levels", nargs="*", default=list(EVALUATION_NOISE_LEVELS), help="camera noise levels added to the val images")
    parser.add_argument("--fractions", type=float, nargs="+", default=[round(0.1 * i, 1) for i in range(11)])
    parser.add_argument("--save", type=Path, help="write the best blend here (refuses an existing file)")
    parser.add_argument("--json", type=Path, help="write every blend's scores here (refuses an existing file)")
    args = parser.parse_args()

    try:
        for path in (args.save, args.json):
            if path is not None and path.exists():
                raise LiteDenoiseError(f"{path} exists; choose another path")
        start, end = load_model(args.start), load_model(args.end)
        config = TrainConfig(val_set=args.val_set, val_noise_levels=args.levels)
        sets = validation_sets(config, args.data)
        rows = []
        for fraction in args.fractions:
            blended = interpolate_models(start, end, fraction)
            scores = validation_scores(blended, sets, bf16=True)
            rows.append({"t": fraction, "mean": float(np.mean(list(scores.values()))), **scores})
            print(f"t={fraction:.2f}  mean {rows[-1]['mean']:.3f}  " + "  ".join(f"{value:.3f}" for value in scores.values()), flush=True)
    except LiteDenoiseError as error:
        sys.exit(f"error: {error}")

    top = max(row["mean"] for row in rows)
    best = max((row for row in rows if row["mean"] >= top - TIE_DB), key=lambda row: row["t"])
    print("sets: " + " | ".join(sets))
    print(f"best: t={best['t']:.2f}, mean {best['mean']:.3f} dB (ties within {TIE_DB} dB go to the larger t)")
    if args.json is not None:
        args.json.write_text(json.dumps({"start": str(args.start), "end": str(args.end), "sets": list(sets), "blends": rows, "best_t": best["t"]}, indent=2))
    if args.save is not None:
        metadata = blend_metadata(start, end, weights_label(args.start, start), weights_label(args.end, end), best["t"], list(sets), best["mean"])
        save_weights(args.save, interpolate_models(start, end, best["t"]), metadata)
        print(f"wrote {args.save}")


if __name__ == "__main__":
    main()
