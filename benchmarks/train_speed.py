"""Training steps per second of the student on random data: fp32/bf16 x NCHW/channels-last.

    .venv/bin/python benchmarks/train_speed.py [--batch 8 --crop 128 --steps 5]

Prints one line per setting. Run alone on the machine.
"""

from __future__ import annotations

import argparse
import time

import torch

from litedenoise.models import LiteDenoiseNet


def steps_per_second(batch: int, crop: int, steps: int, bf16: bool, channels_last: bool) -> float:
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = LiteDenoiseNet().to(memory_format=memory_format)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    image = torch.rand(batch, 3, crop, crop).to(memory_format=memory_format)
    for step in range(steps + 3):
        if step == 3:  # warm-up done
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
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.batch}x{args.crop}px, {torch.get_num_threads()} threads, torch {torch.__version__}")
    for bf16 in (False, True):
        for channels_last in (True, False):
            rate = steps_per_second(args.batch, args.crop, args.steps, bf16, channels_last)
            print(f"{'bf16' if bf16 else 'fp32'} {'channels-last' if channels_last else 'NCHW'}: {rate:.2f} steps/s")


if __name__ == "__main__":
    main()
