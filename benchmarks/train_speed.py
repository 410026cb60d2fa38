"""Training throughput on random data: fp32 vs bf16 autocast, NCHW vs channels-last, eager vs
torch.compile, at the progressive-expansion crop sizes (batch shrinking as crops grow).

    .venv/bin/python benchmarks/train_speed.py [--settings 128x8 256x4 512x2 1024x1] [--steps 5]
    .venv/bin/python benchmarks/train_speed.py --settings 128x8 --precisions fp32 --layouts channels-last --compile
    .venv/bin/python benchmarks/train_speed.py --model teacher --width 32 --settings 128x8 --precisions fp32 --layouts channels-last --steps 2

Prints a markdown table (steps/s, samples/s, Mpix/s). Run alone on the machine.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from litedenoise.weights import build_model, parameter_count


def steps_per_second(
    model_name: str, width: int | None, batch: int, crop: int, steps: int, bf16: bool, channels_last: bool, compiled: bool
) -> float:
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = build_model(model_name, width).to(memory_format=memory_format)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    forward = torch.compile(model) if compiled else model
    image = torch.rand(batch, 3, crop, crop).to(memory_format=memory_format)
    warmup = 3 if compiled else 1  # compiling happens in the first call
    for step in range(steps + warmup):
        if step == warmup:
            started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            output = forward(image)
        loss = (output.float() - image).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps / (time.perf_counter() - started)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value} (use --precisions to skip one)")
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", nargs="+", default=["128x8", "256x4", "512x2", "1024x1"], help="CROPxBATCH")
    parser.add_argument("--steps", type=positive_int, default=5, help="timed steps per fp32 setting")
    parser.add_argument("--bf16-steps", type=positive_int, default=2, help="timed steps per bf16 setting (slow on AVX2-only CPUs)")
    parser.add_argument("--layouts", nargs="+", default=["channels-last", "nchw"])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (after 3 untimed steps)")
    parser.add_argument("--model", default="student", choices=["student", "teacher"])
    parser.add_argument("--width", type=int, help="first-level width (default: the paper's)")
    args = parser.parse_args()
    params = parameter_count(build_model(args.model, args.width))
    print(f"{args.model} ({params:,} parameters), {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}\n")
    print("| crop x batch | precision | layout | mode | steps/s | samples/s | Mpix/s |")
    print("|---|---|---|---|---|---|---|")
    for setting in args.settings:
        crop, batch = (int(value) for value in setting.split("x"))
        for precision in args.precisions:
            for layout in args.layouts:
                for compiled in (False, True) if args.compile else (False,):
                    bf16 = precision == "bf16"
                    steps = args.bf16_steps if bf16 else args.steps
                    rate = steps_per_second(args.model, args.width, batch, crop, steps, bf16, layout == "channels-last", compiled)
                    print(
                        f"| {crop}x{batch} | {precision} | {layout} | {'compiled' if compiled else 'eager'} | {rate:.3f} | "
                        f"{rate * batch:.2f} | {rate * batch * crop * crop / 1e6:.3f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
