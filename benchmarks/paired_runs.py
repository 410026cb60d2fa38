"""Score training runs on PolyU and compare each with its control run, image by image.

Runs differ in one recipe field (``--compare``, e.g. ``alpha_teacher`` or ``noise_model``) and
in their seed; the control is the run of the same seed whose field equals ``--control`` (one per
seed; a list field's value is written as Python prints it, e.g. ``"['half_crops']"``). Each
run's ``best.safetensors`` (and ``--reference`` weights, e.g. the teacher) is evaluated at full
resolution through the project's inference path on the chosen PolyU splits. Per-image PSNRs go
to a JSON file (runs already in it are not scored again); a markdown table of means and paired
differences (run minus control) goes to standard output.

    .venv/bin/python benchmarks/paired_runs.py --data ../shared/data --compare alpha_teacher --control 0 \\
        --reference src/litedenoise/pretrained/student.safetensors \\
        --runs ../runs/distill-a{0,0.5,0.9}-s{0,1} --output docs/results/distillation.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch
import yaml

from litedenoise.data.paired import resolve_pair_set
from litedenoise.evaluate import evaluate
from litedenoise.imageio import read_rgb_uint8
from litedenoise.train.config import TrainConfig
from litedenoise.weights import load_model, read_metadata

SPLITS = ("val:crops", "val:full", "unseen_camera:crops", "unseen_camera:full")


def run_settings(run_dir: Path, field: str) -> tuple[str, int]:
    """The run's value of ``field`` (as text) and its seed, from the run's config.yaml; a run
    written before the field existed has its default."""
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    value = config.get(field, getattr(TrainConfig(), field))
    return f"{value:g}" if isinstance(value, float) else str(value), int(config["seed"])


def score(weights: Path, split_pairs: dict[str, list]) -> dict[str, list[float]]:
    model = load_model(weights)
    return {split: evaluate(model, pairs, with_ssim=False)["per_image_psnr"] for split, pairs in split_pairs.items()}


def controls_by_seed(settings: dict[str, tuple[str, int]], control_value: str) -> dict[int, str]:
    """Each seed's control run; two at one seed would make the pairing ambiguous, so they are refused."""
    controls: dict[int, str] = {}
    for run, (value, seed) in settings.items():
        if value == control_value:
            if seed in controls:
                raise SystemExit(f"two control runs at seed {seed} ({controls[seed]}, {run}); compare them in separate commands")
            controls[seed] = run
    return controls


def paired_table(results: dict, settings: dict[str, tuple[str, int]], controls: dict[int, str], splits: list[str], field: str) -> str:
    """``settings``: each run's value of ``field`` and its seed (``run_settings``); ``controls``: ``controls_by_seed``."""
    lines = [
        f"| {field} | seed | " + " | ".join(f"{s}: PSNR (vs control: mean diff, min..max, better/n)" for s in splits) + " |",
        "|---|---|" + "---|" * len(splits),
    ]
    for run in sorted(settings, key=lambda r: (settings[r][1], settings[r][0])):
        value, seed = settings[run]
        cells = []
        for split in splits:
            mine = results[run][split]
            cell = f"{statistics.mean(mine):.2f}"
            control = controls.get(seed)
            if control and control != run:
                diffs = [a - b for a, b in zip(mine, results[control][split], strict=True)]
                better = sum(d > 0 for d in diffs)
                cell += f" ({statistics.mean(diffs):+.3f}, {min(diffs):+.2f}..{max(diffs):+.2f}, {better}/{len(diffs)})"
            cells.append(cell)
        lines.append(f"| {value} | {seed} | " + " | ".join(cells) + " |")
    for name in ("noisy", "reference"):
        if name in results:
            lines.append(f"| {name} | - | " + " | ".join(f"{statistics.mean(results[name][s]):.2f}" for s in splits) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the data folder holding polyu/")
    parser.add_argument("--runs", type=Path, nargs="+", required=True, help="run directories with best.safetensors")
    parser.add_argument("--compare", required=True, help="the recipe field the runs differ in, e.g. alpha_teacher")
    parser.add_argument("--control", required=True, help="the control runs' value of that field, e.g. 0")
    parser.add_argument("--reference", type=Path, help="other weights scored alongside (e.g. the teacher)")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS))
    parser.add_argument("--output", type=Path, required=True, help="JSON of per-image PSNRs (extended, not replaced)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    settings = {str(run): run_settings(run, args.compare) for run in args.runs}
    controls = controls_by_seed(settings, args.control)  # refuses an ambiguous pairing before any scoring

    results = json.loads(args.output.read_text()) if args.output.exists() else {}
    split_pairs = {
        split: [(read_rgb_uint8(p.noisy), read_rgb_uint8(p.clean)) for p in resolve_pair_set(f"polyu:{split}", args.data)]
        for split in args.splits
    }
    if "noisy" not in results:
        results["noisy"] = {split: evaluate(None, pairs)["per_image_psnr"] for split, pairs in split_pairs.items()}
    weights = {str(run): run / "best.safetensors" for run in args.runs}
    if args.reference:
        weights["reference"] = args.reference
    for name, path in weights.items():
        if name in results and all(split in results[name] for split in args.splits):
            continue
        print(f"scoring {name} ({read_metadata(path).get('step', '?')} steps)", flush=True)
        results[name] = score(path, split_pairs)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=1))
    print(paired_table(results, settings, controls, args.splits, args.compare))


if __name__ == "__main__":
    main()
