"""What re-applying 4:2:2 costs a JPEG turned upright by a quarter turn (EXIF orientation 6).

Saves a crop of a photo as a 4:2:2 JPEG that says orientation 6, reads it with ``read_image``
(upright), writes it back at the same quality once with 4:2:2 forced (what ``write_image`` did
before 2026-12-07) and once as ``read_image`` now says (4:4:4), and prints each result's PSNR
against the upright pixels and its size. No denoising: only the file round trip.

    .venv/bin/python benchmarks/jpeg_quarter_turn.py ../shared/data/polyu/full/clean/Canon5D2_recie.jpg
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from PIL import ExifTags, Image

from litedenoise.imageio import read_image, write_image
from litedenoise.metrics import psnr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photo", type=Path)
    parser.add_argument("--crop", type=int, nargs=2, default=[1024, 768], metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--quality", type=int, default=95)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = 6
        with Image.open(args.photo) as photo:
            photo.convert("RGB").crop((0, 0, *args.crop)).save(folder / "in.jpg", quality=args.quality, subsampling=1, exif=exif.tobytes())
        loaded = read_image(folder / "in.jpg")
        for label, subsampling in (("4:2:2 again (before)", 1), ("as read_image says (now)", loaded.jpeg_subsampling)):
            out = folder / f"out-{subsampling}.jpg"
            write_image(out, loaded.pixels, like=dataclasses.replace(loaded, jpeg_subsampling=subsampling), jpeg_quality=args.quality)
            print(f"{label}: subsampling {subsampling}, {psnr(read_image(out).pixels, loaded.pixels):.2f} dB, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
