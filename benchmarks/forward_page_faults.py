"""Time and page faults of the shipped student's Full-HD forward in eager PyTorch, as the
inference path runs one tile (``runtimes.TorchBackend``: channels-last, no grad, fp32).

The allocator is set as the CLI sets it (``allocator.reuse_freed_memory``) unless
``--glibc-default``; ``--out-of-place`` runs the blocks' ReLUs and adds out of place, as the
student did before 2026-12-07 (same output). 2 warm-up forwards, then ``--runs`` timed; prints the
median and minimum milliseconds and the minor page faults per forward. Run each setting in its own
process (the allocator setting is process-wide) and alone on the cores.

    .venv/bin/python benchmarks/forward_page_faults.py [--glibc-default] [--out-of-place]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
import torch.nn.functional as F

from litedenoise.allocator import reuse_freed_memory
from litedenoise.models import student
from litedenoise.runtimes import TorchBackend
from litedenoise.weights import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--glibc-default", action="store_true", help="leave the allocator as a library caller finds it")
    parser.add_argument("--out-of-place", action="store_true", help="the blocks as before 2026-12-07: a new tensor for every ReLU and add")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not args.glibc_default:
        reuse_freed_memory()
    if args.out_of_place:
        student.LiteBlock.forward = lambda self, x: F.relu(x + self.expand(F.relu(self.squeeze(x))))
        student.Down.forward = lambda self, x: F.relu(self.conv(x))
    backend = TorchBackend(load_model("student").eval())
    frame = torch.rand(1, 3, 1088, 1920)
    for _ in range(2):
        backend(frame)
    faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    seconds = []
    for _ in range(args.runs):
        start = time.perf_counter()
        backend(frame)
        seconds.append(time.perf_counter() - start)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before) // args.runs
    setting = f"{'out-of-place' if args.out_of_place else 'in-place'} blocks, {'glibc default' if args.glibc_default else 'CLI allocator'}"
    print(f"{setting}: median {statistics.median(seconds) * 1000:.0f} ms, min {min(seconds) * 1000:.0f} ms, {faults} page faults per forward", flush=True)


if __name__ == "__main__":
    main()
