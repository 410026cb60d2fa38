"""Noisy/clean image pairs on disk.

``find_pairs`` recognises these layouts of a folder by what it holds:

- ``noisy/`` + ``clean/``: files pair by stem (``noisy/a.jpg`` with ``clean/a.png``); the pair is
  named by the stem.
- Mobile AI challenge: ``original/`` (noisy) + ``denoised/`` (target), same file names; pairs by
  stem as above.
- SIDD-Medium: scene folders ``<scene>/`` holding ``0001_NOISY_SRGB_010.PNG`` and
  ``0001_GT_SRGB_010.PNG``; files pair when their names differ only in ``NOISY``/``GT``, and the
  pair is named ``<scene>/<id>`` with the id the file stem without that word
  (``0001_SRGB_010``). The same files directly in the folder (no scene folders) are named ``<id>``.

Only file names are read, never pixels; hidden files (``.*``, e.g. macOS ``._`` copies) are
skipped, as are files that are not images (SIDD's ``.MAT``). Images without a partner, names that would pair twice,
and a folder in no layout (or in several) are errors that name the files: a silently smaller data
set is worse. ``check_pair_sizes`` compares image sizes from the file headers.

PolyU, as kept in ``../shared/data/polyu``, has the first layout twice (``crops/`` and ``full/``)
and a ``split.json`` that names each group's stems.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from litedenoise.errors import LiteDenoiseError
from litedenoise.imageio import image_files, read_image_size

DATA_ENV_VAR = "LITEDENOISE_DATA"
POLYU_GROUPS = ("train", "val", "unseen_camera")
POLYU_KINDS = ("crops", "full")

# (noisy folder, clean folder, description) of the layouts that keep each side in its own folder.
TWO_FOLDER_LAYOUTS = (
    ("noisy", "clean", "noisy/ + clean/ (paired by file stem)"),
    ("original", "denoised", "original/ + denoised/ (Mobile AI challenge, same file names)"),
)
SIDD_LAYOUT = "SIDD-Medium: <scene>/ folders, or the folder itself, holding *_NOISY_* and *_GT_* images"
LAYOUTS = tuple(description for _, _, description in TWO_FOLDER_LAYOUTS) + (SIDD_LAYOUT,)

# "0001_NOISY_SRGB_010" -> ("0001", "NOISY", "SRGB_010"); the id is "0001_SRGB_010".
_SIDD_NAME = re.compile(r"^(?P<before>.+?)_(?P<side>NOISY|GT)_(?P<after>.+)$")
_LISTED = 10  # names shown in an error message before "and N more"


@dataclass(frozen=True)
class ImagePair:
    name: str
    noisy: Path
    clean: Path


@dataclass(frozen=True)
class PairScan:
    """What ``scan_pairs`` found: the complete pairs, and one line per image left without a partner."""

    pairs: list[ImagePair]
    unpaired: list[str]


def find_pairs(folder: str | Path, names: list[str] | None = None) -> list[ImagePair]:
    """Pairs in ``folder``, in any layout listed in this module's docstring, sorted by name.

    ``names`` keeps only those pair names (and every one of them must be present). Reads file
    names only, so a damaged image is found when it is read, and a size mismatch by
    ``check_pair_sizes``. An image without a partner is an error (``scan_pairs`` lists them instead).
    """
    folder = Path(folder)
    scan = scan_pairs(folder, names)
    if scan.unpaired:
        raise LiteDenoiseError(f"{folder}: {len(scan.unpaired)} images without a partner: {_listed(scan.unpaired)}")
    if not scan.pairs:
        raise LiteDenoiseError(f"{folder}: no image pairs found")
    return scan.pairs


def scan_pairs(folder: str | Path, names: list[str] | None = None) -> PairScan:
    """Like ``find_pairs``, but images without a partner are listed in the result, not raised, so an
    evaluation can go on with the rest. A folder in no layout, clashing names and missing ``names``
    are still errors; an empty result is not (the caller decides)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LiteDenoiseError(f"{folder}: no such folder")
    two_folder = [
        (noisy, clean)
        for noisy, clean, _ in TWO_FOLDER_LAYOUTS
        if (folder / noisy).is_dir() or (folder / clean).is_dir()
    ]
    sidd_images = _sidd_images(folder)
    found = [f"{noisy}/ + {clean}/" for noisy, clean in two_folder] + (["SIDD"] if sidd_images else [])
    if not found:
        raise LiteDenoiseError(f"{folder}: no paired images in a known layout; looked for: {'; '.join(LAYOUTS)}")
    if len(found) > 1:
        raise LiteDenoiseError(f"{folder}: holds several layouts ({', '.join(found)}); give a folder with one")
    if two_folder:
        noisy_side, clean_side = two_folder[0]
        pairs, unpaired = _two_folder_pairs(folder, noisy_side, clean_side)
    else:
        pairs, unpaired = _sidd_pairs(folder, sidd_images)

    wanted = sorted(pairs) if names is None else sorted(names)
    missing = [name for name in wanted if name not in pairs]
    if missing:
        raise LiteDenoiseError(f"{folder}: {len(missing)} missing pairs: {_listed(missing)}")
    return PairScan([pairs[name] for name in wanted], unpaired if names is None else [])


def check_pair_sizes(pairs: list[ImagePair]) -> list[str]:
    """One line per pair whose noisy and clean images differ in size (or whose header is unreadable).

    Sizes are width x height after EXIF orientation, read from the file headers without decoding
    pixels. An empty list means every pair matches.
    """
    problems = []
    for pair in pairs:
        try:
            noisy, clean = read_image_size(pair.noisy), read_image_size(pair.clean)
        except LiteDenoiseError as error:
            problems.append(f"{pair.name}: {error}")
            continue
        if noisy != clean:
            problems.append(f"{pair.name}: noisy {noisy[0]}x{noisy[1]}, clean {clean[0]}x{clean[1]} ({pair.noisy}, {pair.clean})")
    return problems


def data_root(explicit: str | Path | None = None) -> Path:
    """The data folder: ``explicit`` if given, else ``$LITEDENOISE_DATA``."""
    root = explicit or os.environ.get(DATA_ENV_VAR)
    if not root:
        raise LiteDenoiseError(f"no data folder: pass one or set {DATA_ENV_VAR} (e.g. ../shared/data)")
    root = Path(root)
    if not root.is_dir():
        raise LiteDenoiseError(f"data folder {root} does not exist")
    return root


def holds_polyu(root: str | Path) -> bool:
    """Whether ``root`` is a data folder with PolyU's pairs and their split, as the shared one is."""
    return (Path(root) / "polyu" / "split.json").is_file()


def polyu_pairs(root: str | Path, group: str, kind: str = "crops") -> list[ImagePair]:
    """PolyU pairs of one split group (train, val, unseen_camera) and kind (crops, full)."""
    if group not in POLYU_GROUPS or kind not in POLYU_KINDS:
        raise LiteDenoiseError(f"PolyU group must be one of {POLYU_GROUPS} and kind one of {POLYU_KINDS}")
    polyu = Path(root) / "polyu"
    split_file = polyu / "split.json"
    if not holds_polyu(root):
        raise LiteDenoiseError(f"{split_file} not found: is {root} the shared data folder?")
    split = json.loads(split_file.read_text())
    return find_pairs(polyu / kind, split[group][kind])


def resolve_pair_set(spec: str, root: str | Path) -> list[ImagePair]:
    """Pairs named by ``polyu:GROUP:KIND`` (e.g. ``polyu:val:crops``) or by a folder path
    (relative to ``root`` unless absolute) in any layout ``find_pairs`` knows."""
    if spec.startswith("polyu:"):
        parts = spec.split(":")
        if len(parts) != 3:
            raise LiteDenoiseError(f"{spec!r}: write PolyU sets as polyu:GROUP:KIND, e.g. polyu:val:crops")
        return polyu_pairs(root, parts[1], parts[2])
    return find_pairs(Path(root) / spec)


# --- layouts ---------------------------------------------------------------------------------


def _two_folder_pairs(folder: Path, noisy_side: str, clean_side: str) -> tuple[dict[str, ImagePair], list[str]]:
    for side in (noisy_side, clean_side):
        if not (folder / side).is_dir():
            raise LiteDenoiseError(f"{folder}: expected sub-folders '{noisy_side}/' and '{clean_side}/' with paired images; '{side}/' is missing")
    noisy: dict[str, list[Path]] = {}
    clean: dict[str, list[Path]] = {}
    for side, by_stem in ((noisy_side, noisy), (clean_side, clean)):
        for image in image_files(folder / side):
            by_stem.setdefault(image.stem, []).append(image)
    return _paired(folder, noisy, clean)


def _sidd_images(folder: Path) -> dict[Path, list[Path]]:
    """Images by place (``folder`` itself, its scene folders) if any of them has a SIDD name, else {}.

    Every image in a scene folder must belong to a pair; images directly in ``folder`` count only
    when some of them have SIDD names (the flat variant), as other layouts ignore them too.
    """
    reserved = {side for noisy, clean, _ in TWO_FOLDER_LAYOUTS for side in (noisy, clean)}
    scenes = [path for path in sorted(folder.iterdir()) if path.is_dir() and not path.name.startswith(".") and path.name not in reserved]
    images = {place: image_files(place) for place in [folder, *scenes]}
    if not any(_SIDD_NAME.match(image.stem) for image in images[folder]):
        del images[folder]
    if not any(_SIDD_NAME.match(image.stem) for place in images.values() for image in place):
        return {}
    return {place: found for place, found in images.items() if found}


def _sidd_pairs(folder: Path, images: dict[Path, list[Path]]) -> tuple[dict[str, ImagePair], list[str]]:
    noisy: dict[str, list[Path]] = {}
    clean: dict[str, list[Path]] = {}
    strangers: list[str] = []
    for place, place_images in images.items():
        for image in place_images:
            match = _SIDD_NAME.match(image.stem)
            if match is None:
                strangers.append(_relative(folder, image))
                continue
            identifier = f"{match['before']}_{match['after']}"
            name = identifier if place == folder else f"{place.name}/{identifier}"
            (noisy if match["side"] == "NOISY" else clean).setdefault(name, []).append(image)
    if strangers:
        raise LiteDenoiseError(
            f"{folder}: {len(strangers)} images in SIDD folders are neither *_NOISY_* nor *_GT_*: {_listed(strangers)}"
        )
    return _paired(folder, noisy, clean)


def _paired(folder: Path, noisy: dict[str, list[Path]], clean: dict[str, list[Path]]) -> tuple[dict[str, ImagePair], list[str]]:
    """Pairs from the images of each side by pair name, and the images (relative paths) without a
    partner. A name on one side twice is an error."""
    clashes = [", ".join(_relative(folder, path) for path in paths) for side in (noisy, clean) for paths in side.values() if len(paths) > 1]
    if clashes:
        raise LiteDenoiseError(f"{folder}: images that would pair under one name (keep one of each): {_listed(clashes)}")
    alone = [paths[0] for name, paths in noisy.items() if name not in clean]
    alone += [paths[0] for name, paths in clean.items() if name not in noisy]
    pairs = {name: ImagePair(name, paths[0], clean[name][0]) for name, paths in noisy.items() if name in clean}
    return pairs, sorted(_relative(folder, path) for path in alone)


def _relative(folder: Path, path: Path) -> str:
    return path.relative_to(folder).as_posix()


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return f"{shown} and {len(items) - _LISTED} more" if len(items) > _LISTED else shown
