"""Training throughput of the student on random data: fp32 vs bf16 autocast, NCHW vs channels-last,
at the progressive-expansion crop sizes (batch shrinking as crops grow).

    .venv/bin/python benchmarks/train_speed.py [--settings 128x8 256x4 512x2 1024x1] [--steps 5]

Prints a markdown table (steps/s, samples/s, Mpix/s). Run alone on the machine.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from litedenoise.models import LiteDenoiseNet


def steps_per_second(batch: int, crop: int, steps: int, bf16: bool, channels_last: bool) -> float:
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = LiteDenoiseNet().to(memory_format=memory_format)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    image = torch.rand(batch, 3, crop, crop).to(memory_format=memory_format)
    warmup = 1
    for step in range(steps + warmup):
        if step == warmup:
            started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            output = model(image)
        loss = (output.float() - image).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", nargs="+", default=["128x8", "256x4", "512x2", "1024x1"], help="CROPxBATCH")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per fp32 setting")
    parser.add_argument("--bf16-steps", type=int, default=2, help="timed steps per bf16 setting (slow on AVX2-only CPUs)")
    parser.add_argument("--layouts", nargs="+", default=["channels-last", "nchw"])
    args = parser.parse_args()
    print(f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}\n")
    print("| crop x batch | precision | layout | steps/s | samples/s | Mpix/s |")
    print("|---|---|---|---|---|---|")
    for setting in args.settings:
        crop, batch = (int(value) for value in setting.split("x"))
        for bf16 in (False, True):
            for layout in args.layouts:
                rate = steps_per_second(batch, crop, args.bf16_steps if bf16 else args.steps, bf16, layout == "channels-last")
                print(
                    f"| {crop}x{batch} | {'bf16' if bf16 else 'fp32'} | {layout} | {rate:.3f} | {rate * batch:.2f} | "
                    f"{rate * batch * crop * crop / 1e6:.3f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
