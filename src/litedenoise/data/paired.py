"""Noisy/clean image pairs on disk.

Layout: a folder with ``noisy/`` and ``clean/`` sub-folders whose files pair by file stem
(``noisy/a.jpg`` with ``clean/a.png``). PolyU, as kept in ``../shared/data/polyu``, has that
layout twice (``crops/`` and ``full/``) and a ``split.json`` that names each group's stems.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from litedenoise.errors import LiteDenoiseError
from litedenoise.imageio import SUPPORTED_SUFFIXES

DATA_ENV_VAR = "LITEDENOISE_DATA"
POLYU_GROUPS = ("train", "val", "unseen_camera")
POLYU_KINDS = ("crops", "full")


@dataclass(frozen=True)
class ImagePair:
    name: str
    noisy: Path
    clean: Path


def _images_by_stem(folder: Path) -> dict[str, Path]:
    return {
        path.stem: path
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES
    }


def find_pairs(folder: str | Path, names: list[str] | None = None) -> list[ImagePair]:
    """Pairs in ``folder/noisy`` and ``folder/clean``, sorted by name.

    ``names`` keeps only those stems (and every one of them must be present). Files present on
    one side only are an error that names them: a silently smaller data set is worse.
    """
    folder = Path(folder)
    noisy_dir, clean_dir = folder / "noisy", folder / "clean"
    if not noisy_dir.is_dir() or not clean_dir.is_dir():
        raise LiteDenoiseError(f"{folder}: expected sub-folders 'noisy/' and 'clean/' with paired images")
    noisy, clean = _images_by_stem(noisy_dir), _images_by_stem(clean_dir)
    unpaired = sorted(set(noisy) ^ set(clean))
    if unpaired:
        raise LiteDenoiseError(f"{folder}: images without a partner: {', '.join(unpaired[:10])}")
    wanted = sorted(noisy) if names is None else sorted(names)
    missing = [name for name in wanted if name not in noisy]
    if missing:
        raise LiteDenoiseError(f"{folder}: missing pairs: {', '.join(missing[:10])}")
    if not wanted:
        raise LiteDenoiseError(f"{folder}: no image pairs found")
    return [ImagePair(name, noisy[name], clean[name]) for name in wanted]


def data_root(explicit: str | Path | None = None) -> Path:
    """The data folder: ``explicit`` if given, else ``$LITEDENOISE_DATA``."""
    root = explicit or os.environ.get(DATA_ENV_VAR)
    if not root:
        raise LiteDenoiseError(f"no data folder: pass one or set {DATA_ENV_VAR} (e.g. ../shared/data)")
    root = Path(root)
    if not root.is_dir():
        raise LiteDenoiseError(f"data folder {root} does not exist")
    return root


def polyu_pairs(root: str | Path, group: str, kind: str = "crops") -> list[ImagePair]:
    """PolyU pairs of one split group (train, val, unseen_camera) and kind (crops, full)."""
    if group not in POLYU_GROUPS or kind not in POLYU_KINDS:
        raise LiteDenoiseError(f"PolyU group must be one of {POLYU_GROUPS} and kind one of {POLYU_KINDS}")
    polyu = Path(root) / "polyu"
    split_file = polyu / "split.json"
    if not split_file.is_file():
        raise LiteDenoiseError(f"{split_file} not found: is {root} the shared data folder?")
    split = json.loads(split_file.read_text())
    return find_pairs(polyu / kind, split[group][kind])


def resolve_pair_set(spec: str, root: str | Path) -> list[ImagePair]:
    """Pairs named by ``polyu:GROUP:KIND`` (e.g. ``polyu:val:crops``) or by a folder path
    (relative to ``root`` unless absolute) holding ``noisy/`` and ``clean/``."""
    if spec.startswith("polyu:"):
        parts = spec.split(":")
        if len(parts) != 3:
            raise LiteDenoiseError(f"{spec!r}: write PolyU sets as polyu:GROUP:KIND, e.g. polyu:val:crops")
        return polyu_pairs(root, parts[1], parts[2])
    return find_pairs(Path(root) / spec)
