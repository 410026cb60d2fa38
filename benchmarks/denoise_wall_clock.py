"""Wall clock of ``litedenoise denoise IMAGE`` as a user runs it: a new process per run, imports,
reading, tiling, the network and writing included.

For each ``--runtimes`` entry ("default" is no ``--runtime`` flag) it runs the command
``--runs`` times on each image, with ``$LITEDENOISE_CACHE`` set to a new empty folder at the
start, so the first onnx or tflite run includes the one-time export. Prints the wall seconds of
each run and the median per image and runtime.

    .venv/bin/python benchmarks/denoise_wall_clock.py IMAGE [IMAGE ...] --runtimes onnx torch --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--runtimes", nargs="+", default=["default", "torch"], help="'default' (no --runtime), or any runtime of denoise")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    command = [str(Path(sys.executable).with_name("litedenoise")), "denoise"]
    with tempfile.TemporaryDirectory() as scratch:
        environment = {**os.environ, "LITEDENOISE_CACHE": str(Path(scratch) / "cache")}
        for image in args.images:
            for runtime in args.runtimes:
                flags = [] if runtime == "default" else ["--runtime", runtime]
                times = []
                for run in range(args.runs):
                    output = Path(scratch) / f"out-{run}{image.suffix}"
                    start = time.perf_counter()
                    subprocess.run([*command, str(image), "-o", str(output), "--overwrite", *flags], env=environment, check=True, capture_output=True)
                    times.append(time.perf_counter() - start)
                    print(f"{image.name} {runtime} run {run + 1}: {times[-1]:.2f} s", flush=True)
                print(f"{image.name} {runtime}: median {statistics.median(times):.2f} s of {args.runs}", flush=True)


if __name__ == "__main__":
    main()
