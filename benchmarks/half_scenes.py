"""A data root with half of PolyU's ``train`` crop files: every other scene, as links.

    .venv/bin/python benchmarks/half_scenes.py --data ../shared/data --out /tmp/halfdata
    .venv/bin/python benchmarks/half_scenes.py --data ../shared/data --out /tmp/quarterdata --every 4 --name quarter_crops

For measuring what more real pairs buy (``docs/model-card.md``, "How much do more real pairs
buy?"): train once on ``polyu:train:crops`` and once on ``half_crops`` under ``--data OUT``.
OUT links ``polyu`` back to the data (so every PolyU set, validation included, is the same) and
holds ``half_crops/{noisy,clean}`` (``--name``), links to the crop files of every other ``train``
scene (``--every``), the scenes sorted by name, so every fourth scene is a subset of every other
one. A scene is a stem without its crop number. Nothing is copied; OUT must not exist yet.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from litedenoise.data.paired import data_root, polyu_pairs


def scene_of(stem: str) -> str:
    """``NikonD800_6-3_125_5000_plant_12`` -> ``NikonD800_6-3_125_5000_plant`` (one stem has a doubled ``_``)."""
    return stem.rsplit("_", 1)[0].rstrip("_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="the shared data folder (default: $LITEDENOISE_DATA)")
    parser.add_argument("--out", required=True, type=Path, help="the new data root (must not exist)")
    parser.add_argument("--every", type=int, default=2, help="keep every N-th scene (default 2)")
    parser.add_argument("--name", default="half_crops", help="the pair folder, a pair set name under OUT")
    args = parser.parse_args()
    root = data_root(args.data).resolve()
    if args.out.exists():
        raise SystemExit(f"{args.out} exists; choose a new folder")
    pairs = polyu_pairs(root, "train", "crops")
    scenes = sorted({scene_of(pair.noisy.stem) for pair in pairs})
    kept = scenes[0 :: args.every]
    (args.out / args.name / "noisy").mkdir(parents=True)
    (args.out / args.name / "clean").mkdir()
    (args.out / "polyu").symlink_to(root / "polyu")
    linked = [pair for pair in pairs if scene_of(pair.noisy.stem) in kept]
    for pair in linked:
        (args.out / args.name / "noisy" / pair.noisy.name).symlink_to(pair.noisy.resolve())
        (args.out / args.name / "clean" / pair.noisy.name).symlink_to(pair.clean.resolve())
    print(f"{args.out}: {len(linked)} of {len(pairs)} crop files, {len(kept)} of {len(scenes)} scenes")


if __name__ == "__main__":
    main()
