"""Stage a training subset of the shared data inside the checkout, for the device (GPU) machine.

    .venv/bin/python benchmarks/stage_device_data.py --data ../shared/data --to device-data

The device tool sends the checkout and nothing beside it (``../shared`` stays behind), at most
64 MiB in all, so the data must travel as an ignored folder named in ``carry``. This copies,
byte for byte (no re-encoding: the noise is the data):

- every PolyU ``train`` and ``val`` crop pair (about 4 MB);
- as many PolyU ``train`` full-size pairs as fit in ``--budget-mib``, taken in turn from each
  camera so that no camera is left out (the full-size noisy JPEGs are 1-4 MB each);
- a ``split.json`` naming only what was staged;
- the clean photos of ``clean/cbsd432``, in name order, as many as fit in ``--clean-mib``: the
  recipe mixes their synthetic noise with the real pairs (``recipes/device-h200.yaml``).

No ``unseen_camera`` image is staged: it is never trained or tuned on. ``device-data/`` is in
``.gitignore``; the PolyU licence (non-commercial research use only) forbids committing it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path

from litedenoise.data.paired import resolve_pair_set

MIB = 2**20
CLEAN_PHOTOS = Path("clean/cbsd432")


def pair_bytes(pair) -> int:
    return pair.noisy.stat().st_size + pair.clean.stat().st_size


def camera(name: str) -> str:
    return name.split("_")[0]


def full_pairs_within(pairs: list, budget: int) -> list:
    """Pairs taken one camera at a time in turn, skipping any that would pass ``budget`` bytes."""
    by_camera = defaultdict(list)
    for pair in pairs:
        by_camera[camera(pair.name)].append(pair)
    chosen, used = [], 0
    for pair in itertools.chain.from_iterable(itertools.zip_longest(*by_camera.values())):
        if pair is not None and used + pair_bytes(pair) <= budget:
            chosen.append(pair)
            used += pair_bytes(pair)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (holding polyu/)")
    parser.add_argument("--to", type=Path, default=Path("device-data"), help="destination folder, created (must not exist)")
    parser.add_argument("--budget-mib", type=float, default=34.0, help="the most the staged PolyU files may take (MiB)")
    parser.add_argument("--clean-mib", type=float, default=12.0, help="the most the staged clean photos may take (MiB)")
    args = parser.parse_args()

    if args.to.exists():
        sys.exit(f"error: {args.to} exists; remove it or pick another --to")
    if not (args.data / CLEAN_PHOTOS).is_dir():
        sys.exit(f"error: {args.data / CLEAN_PHOTOS} not found; the recipe's synthetic noise needs those clean photos")
    crops = {group: resolve_pair_set(f"polyu:{group}:crops", args.data) for group in ("train", "val")}
    budget = int(args.budget_mib * MIB) - sum(pair_bytes(p) for pairs in crops.values() for p in pairs)
    if budget <= 0:
        sys.exit(f"error: --budget-mib {args.budget_mib} does not hold the PolyU crops alone")
    full = full_pairs_within(resolve_pair_set("polyu:train:full", args.data), budget)

    staged = {"crops": crops["train"] + crops["val"], "full": full}
    for kind, pairs in staged.items():
        for pair in pairs:
            for side, source in (("noisy", pair.noisy), ("clean", pair.clean)):
                destination = args.to / "polyu" / kind / side / source.name
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)
    split = {
        "note": f"staged by benchmarks/stage_device_data.py from {args.data}: a subset of its PolyU split",
        "train": {"crops": [p.name for p in crops["train"]], "full": [p.name for p in full]},
        "val": {"crops": [p.name for p in crops["val"]], "full": []},
        "unseen_camera": {"crops": [], "full": []},
    }
    (args.to / "polyu" / "split.json").write_text(json.dumps(split, indent=1) + "\n")
    photos, photo_bytes = [], 0
    for photo in sorted((args.data / CLEAN_PHOTOS).iterdir()):
        if photo.is_file() and photo_bytes + photo.stat().st_size <= args.clean_mib * MIB:
            photos.append(photo)
            photo_bytes += photo.stat().st_size
    (args.to / CLEAN_PHOTOS).mkdir(parents=True)
    for photo in photos:
        shutil.copyfile(photo, args.to / CLEAN_PHOTOS / photo.name)
    total = sum(pair_bytes(p) for pairs in staged.values() for p in pairs)
    cameras = sorted({camera(p.name) for p in full})
    print(
        f"staged {len(staged['crops'])} crop pairs and {len(full)} of "
        f"{len(resolve_pair_set('polyu:train:full', args.data))} train full-size pairs "
        f"({', '.join(cameras)}) in {args.to}: {total / MIB:.1f} MiB; {len(photos)} clean photos of {CLEAN_PHOTOS}: {photo_bytes / MIB:.1f} MiB"
    )


if __name__ == "__main__":
    main()
