"""Issue 6 in one command on a short GPU lease: teacher, distilled student, no-teacher control.

On the device machine (its Python has torch; the checkout travels, ``../shared`` does not):

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site device-data/wheels/*.whl &&
    PYTHONPATH=/tmp/site:src PYTHONUNBUFFERED=1 python3 benchmarks/device_job.py --data device-data --out $OUT

with ``device-data`` staged here first (``benchmarks/stage_device_data.py``, plus the pypng
wheel: docs/training.md, "A short GPU lease") and named in the run's ``carry``. The three runs follow ``recipes/device-h200.yaml``. A throughput probe (a few
real training steps of each model on random tensors) turns each run's minutes into stage steps,
so the learning-rate schedule ends inside the time; ``max_minutes`` stops a run that is slower
than the probe said, keeping its best weights. Brought back under ``--out``: both students'
weights (7.9 MB each; the teacher's 166 MB cannot return), every run's ``log.csv`` and
``summary.json`` with the val PSNR of all three. Try it on a CPU first with a small recipe (a
narrow teacher, small batches) and ``--minutes 1 0.5 0.5``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import shutil
import time
from pathlib import Path

import torch

from litedenoise.train.config import Stage, load_recipe
from litedenoise.train.loop import train
from litedenoise.weights import build_model, load_model, shipped_weights_path

REPO = Path(__file__).resolve().parent.parent
PROBE_STEPS = 8


def seconds_per_step(model: torch.nn.Module, teacher: torch.nn.Module | None, batch: int, crop: int, device: torch.device) -> float:
    """Wall time of one bf16 training step (forward, backward, AdamW) on random crops."""
    model = model.to(device, memory_format=torch.channels_last).train()
    if teacher is not None:
        teacher = teacher.to(device, memory_format=torch.channels_last).eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    noisy = torch.rand(batch, 3, crop, crop, device=device).to(memory_format=torch.channels_last)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            with torch.no_grad():
                target = noisy if teacher is None else teacher(noisy)
            loss = (model(noisy).float() - target.float()).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up: kernels chosen, memory allocated
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(PROBE_STEPS):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / PROBE_STEPS


def fitted_stages(stages: list[Stage], seconds: float, step_seconds: float) -> list[Stage]:
    """The stages in their recipe proportions, with as many steps in all as ``seconds`` holds."""
    total = max(1, int(seconds / step_seconds))
    weight = sum(stage.steps for stage in stages)
    return [dataclasses.replace(stage, steps=max(1, round(total * stage.steps / weight))) for stage in stages]


def val_curve(run_dir: Path) -> list[tuple[int, float]]:
    with (run_dir / "log.csv").open() as file:
        return [(int(row["step"]), float(row["val_psnr"])) for row in csv.DictReader(file) if row["val_psnr"]]


def run(name: str, section: str, minutes: float, args, teacher: torch.nn.Module | None = None) -> dict:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    overrides = [f"max_minutes={minutes}"]
    if section == "student":
        overrides.append(f"init_weights={args.init}")
    config = load_recipe(args.recipe, overrides, section=section)
    probe_model = load_model(args.init) if section == "student" else build_model("teacher", width=config.width)
    biggest = max(config.stages, key=lambda s: s.batch_size * s.crop_size**2)
    step_seconds = seconds_per_step(probe_model, teacher, biggest.batch_size, biggest.crop_size, device)
    # 15% of the minutes left for data loading, validation and checkpoints
    config.stages = fitted_stages(config.stages, 0.85 * 60 * minutes, step_seconds)
    config.val_every = max(1, config.total_steps // 6)
    print(f"{name}: {step_seconds * 1e3:.1f} ms per step -> stages {[(s.crop_size, s.batch_size, s.steps) for s in config.stages]}")
    run_dir = args.runs / name
    started = time.monotonic()
    best = train(config, run_dir, args.data, teacher=teacher)
    curve = val_curve(run_dir)
    shutil.copyfile(run_dir / "log.csv", args.out / f"{name}-log.csv")
    return {
        "best_weights": str(best),
        "minutes": (time.monotonic() - started) / 60,
        "ms_per_step_probe": step_seconds * 1e3,
        "stages": [[s.crop_size, s.batch_size, s.steps] for s in config.stages],
        "val_curve": curve,
        "best_val_psnr": max(psnr for _, psnr in curve),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="staged data (benchmarks/stage_device_data.py)")
    parser.add_argument("--out", type=Path, required=True, help="where the students, logs and summary.json go")
    parser.add_argument("--runs", type=Path, default=Path("/tmp/device-runs"), help="run folders (must not hold runs)")
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "device-h200.yaml", help="teacher and student sections")
    parser.add_argument("--init", type=Path, default=shipped_weights_path("student"), help="the students' starting weights")
    parser.add_argument(
        "--minutes", type=float, nargs=3, default=(4.5, 1.3, 1.3), metavar=("TEACHER", "STUDENT", "CONTROL"), help="each run's minutes"
    )
    args = parser.parse_args()
    if args.runs.exists() and any(args.runs.iterdir()):
        raise SystemExit(f"error: {args.runs} already holds runs; remove it or pick another --runs")
    args.out.mkdir(parents=True, exist_ok=True)
    torch.backends.cudnn.benchmark = True

    summary = {"recipe": str(args.recipe), "init": str(args.init)}
    teacher = None
    runs = (("teacher", "teacher"), ("student", "student"), ("control", "student"))
    for (name, section), minutes in zip(runs, args.minutes, strict=True):
        summary[name] = run(name, section, minutes, args, teacher=teacher if name == "student" else None)
        # written after each run, so that a lease cut short still returns what finished
        (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        print(f"{name}: best val {summary[name]['best_val_psnr']:.3f} dB in {summary[name]['minutes']:.1f} min")
        if name == "teacher":
            teacher = load_model(summary["teacher"]["best_weights"])
        else:
            shutil.copyfile(summary[name]["best_weights"], args.out / f"{name}.safetensors")


if __name__ == "__main__":
    main()
