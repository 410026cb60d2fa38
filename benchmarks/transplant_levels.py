"""How noisy are transplanted crops? Noisy PSNR of real PolyU crops against the same crops
carrying transplanted noise (``data/real_noise.py``).

    .venv/bin/python benchmarks/transplant_levels.py --data ../shared/data [--samples 300]

For random 128 px windows of the PolyU ``train`` crop files (seed 0), prints the percentiles of
the noisy PSNR (8-bit, dB) of the versions of each clean window: its real noisy window; the
noise of another window of the same pair moved onto it (self); the noise of a window of a random
pair moved onto it (cross, what training does); each transplant with the pair's own level
function and with the pooled shape (``transplant_levels``). Reads training data only; takes seconds.
"""

from __future__ import annotations

import argparse

import numpy as np

from litedenoise.data.paired import data_root
from litedenoise.data.real_noise import TRANSPLANT_LEVELS, fit_noise_levels, transplant_noise
from litedenoise.metrics import psnr
from litedenoise.train.loop import decode_pair_set

WINDOW = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="the shared data folder (default: $LITEDENOISE_DATA)")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    pairs_uint8 = decode_pair_set("polyu:train:crops", data_root(args.data))
    levels = {how: fit_noise_levels(pairs_uint8, how) for how in TRANSPLANT_LEVELS}
    pairs = [(noisy / 255.0, clean / 255.0) for noisy, clean in pairs_uint8]
    rng = np.random.default_rng(0)

    def window(image_pair):
        top, left = (rng.integers(0, side - WINDOW + 1) for side in image_pair[1].shape[:2])
        return tuple(image[top : top + WINDOW, left : left + WINDOW] for image in image_pair)

    results: dict[str, list[float]] = {"real": []}
    for _ in range(args.samples):
        target = rng.integers(len(pairs))
        noisy, clean = window(pairs[target])
        results["real"].append(psnr(noisy, clean))
        source = rng.integers(len(pairs))
        donor_windows = {"self": window(pairs[target]), "cross": window(pairs[source])}
        for kind, donor in (("self", target), ("cross", source)):
            for fit, pair_levels in levels.items():
                moved = transplant_noise(clean, *donor_windows[kind], pair_levels[donor])
                results.setdefault(f"{kind}-transplant, {fit} levels", []).append(psnr(moved, clean))
    print(f"noisy PSNR (dB) of {args.samples} windows of {WINDOW} px from the PolyU train crop files")
    print("| version | 10th percentile | median | 90th percentile |")
    print("|---|---|---|---|")
    for name, values in results.items():
        low, median, high = np.percentile(values, [10, 50, 90])
        print(f"| {name} | {low:.2f} | {median:.2f} | {high:.2f} |")


if __name__ == "__main__":
    main()
