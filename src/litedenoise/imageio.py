"""Reading and writing image files: 8 and 16 bits, EXIF orientation, colour profiles, atomic writes.

Pillow does almost all of the work. Two gaps are filled by small, well-kept libraries: Pillow has no
16-bit colour mode, so 16-bit RGB(A) PNG goes through pypng and 16-bit RGB(A) TIFF through
tifffile. HEIC/HEIF comes from the pillow-heif plugin, AVIF from Pillow itself (11.2 and later).
"""

from __future__ import annotations

import functools
import io
import numbers
import os
import secrets
import stat
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import png  # pypng
import tifffile
from PIL import ExifTags, Image, ImageFile, JpegImagePlugin, TiffImagePlugin, UnidentifiedImageError, features

from litedenoise.errors import LiteDenoiseError

DEFAULT_MAX_PIXELS: int = 100_000_000

# Fixed rather than probed, so that which files a data folder yields does not depend on the
# installed plugins; a missing plugin is reported when such a file is read.
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".heic", ".heif", ".avif"}
)



def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, by name: supported suffixes (any case), no hidden files."""
    return [
        path
        for path in sorted(Path(folder).iterdir())
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith(".")
    ]


_FORMAT_BY_SUFFIX = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".webp": "WEBP",
    ".heic": "HEIF",
    ".heif": "HEIF",
    ".avif": "AVIF",
}
_FORMATS_WITH_METADATA = {"PNG", "JPEG", "TIFF", "WEBP", "HEIF", "AVIF"}
_FORMATS_WITHOUT_GREY = {"WEBP", "HEIF", "AVIF"}
_FORMATS_WITHOUT_ALPHA = {"JPEG"}
_FORMATS_WITHOUT_GREY_ALPHA = {"BMP", "WEBP", "HEIF", "AVIF"}  # these get RGBA

_ORIENTATION = ExifTags.Base.Orientation
# TIFF keeps EXIF-like tags in the same directory as its layout tags (strip offsets, bit depths);
# only these describe the photo and are safe to carry into another file.
_TIFF_TAGS_WORTH_KEEPING = {
    ExifTags.Base.ImageDescription,
    ExifTags.Base.Make,
    ExifTags.Base.Model,
    ExifTags.Base.Orientation,
    ExifTags.Base.Software,
    ExifTags.Base.DateTime,
    ExifTags.Base.Artist,
    ExifTags.Base.Copyright,
    ExifTags.Base.ExifOffset,
    ExifTags.Base.GPSInfo,
}
# EXIF orientation -> the transform that makes the pixels upright (as ImageOps.exif_transpose does).
_UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, -1)[::-1],
    8: lambda a: np.rot90(a, 1),
}
_TRANSPOSING = {5, 6, 7, 8}  # the orientations whose upright image swaps width and height


@dataclass
class LoadedImage:
    """An upright image and the metadata worth carrying to its denoised copy.

    ``pixels`` is HxW (grey), HxWx2 (grey and alpha), HxWx3 (RGB) or HxWx4 (RGBA), uint8 or uint16
    as stored in the file (full range 0-255 or 0-65535). ``exif`` is the EXIF block as Pillow
    writes it (starting with ``b"Exif\\0\\0"``) with Orientation reset to 1, because the rotation is
    already in ``pixels``.
    ``jpeg_subsampling`` is a JPEG's chroma subsampling as Pillow numbers it (0: 4:4:4, 1: 4:2:2,
    2: 4:2:0), or None for other files and layouts Pillow cannot write; a 4:2:2 JPEG turned upright
    by a quarter turn says 0, since Pillow cannot write its upright layout (4:4:0).
    """

    pixels: np.ndarray
    exif: bytes | None
    icc_profile: bytes | None
    source_format: str
    jpeg_subsampling: int | None = None


def _tiff_decoded_by_libtiff(function: Callable) -> Callable:
    """Run ``function`` with Pillow decoding every TIFF through libtiff. Its own decoder, used for
    uncompressed files, turns grey, 16-bit grey and RGBA images stored on their side (orientation
    5-8) upright wrongly, shearing the pixels; libtiff turns them right (tests/test_imageio.py)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        previous, TiffImagePlugin.READ_LIBTIFF = TiffImagePlugin.READ_LIBTIFF, True
        try:
            return function(*args, **kwargs)
        finally:
            TiffImagePlugin.READ_LIBTIFF = previous

    return wrapper


@_tiff_decoded_by_libtiff
def read_image(
    path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int = 1
) -> LoadedImage:
    """Read an image file and turn it upright according to its EXIF orientation.

    Grey stays HxW (HxWx2 with alpha), colour becomes HxWx3 (HxWx4 with alpha); palette and CMYK
    images become RGB (or RGBA). 16-bit files give uint16, all others uint8. Raises
    LiteDenoiseError for a missing, empty, truncated or unreadable file, one with more than
    ``max_pixels`` pixels (checked from the header, before decoding) or a side shorter than
    ``min_side``.
    """
    path = Path(path)
    _check_input_file(path)
    _heif_plugin_available()  # registers the HEIF opener with Pillow on first use
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own fixed limit; max_pixels below is the limit that counts.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as error:
        raise LiteDenoiseError(f"{path} is too large to decode safely: {error}") from error
    except UnidentifiedImageError as error:
        raise LiteDenoiseError(_unreadable_message(path)) from error
    except OSError as error:
        if error.errno is not None:  # the OS refused, e.g. permission denied
            raise LiteDenoiseError(f"cannot read {path}: {error.strerror}") from error
        raise LiteDenoiseError(f"{path} is damaged: {_one_line(error)}") from error
    except Exception as error:  # plugins raise many exception types for damaged headers
        raise LiteDenoiseError(f"{path} is damaged: {_one_line(error)}") from error

    with image:
        width, height = image.size
        _check_size(path, width, height, max_pixels, min_side)
        source_format = "JPEG" if image.format == "MPO" else image.format
        icc_profile = image.info.get("icc_profile") or None
        try:
            _check_single_image(path, image)  # counting frames reads every page's header
            if _is_16bit_colour_png(path, image):
                pixels = _read_16bit_png(path)
            elif _is_16bit_colour_tiff(image):
                pixels = _read_16bit_tiff(path)
            else:
                if image.mode == "CMYK":
                    icc_profile = None  # it describes the CMYK ink, not the RGB we convert to
                pixels = _pixels_from_pillow(path, image)
        except LiteDenoiseError:
            raise
        except Exception as error:  # decoders raise many exception types for damaged data
            raise LiteDenoiseError(f"{path} is damaged or truncated: {_one_line(error)}") from error
        exif, orientation = _exif_with_upright_orientation(image)
        jpeg_subsampling = _jpeg_subsampling(image)

    if orientation in _UPRIGHT:
        pixels = np.ascontiguousarray(_UPRIGHT[orientation](pixels))
    if orientation in _TRANSPOSING and jpeg_subsampling == 1:
        # 4:2:2 halves the chroma along the stored rows, which upright are columns (4:4:0, which
        # Pillow cannot write); 4:2:2 again would halve the full-resolution axis instead
        jpeg_subsampling = 0
    return LoadedImage(pixels, exif, icc_profile, source_format, jpeg_subsampling)


@_tiff_decoded_by_libtiff
def read_image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) as ``read_image`` would return them (EXIF rotation applied), from the
    header alone, without decoding the pixels."""
    path = Path(path)
    _heif_plugin_available()  # registers the HEIF opener with Pillow on first use
    try:
        with Image.open(path) as image:
            width, height = image.size
            # Image.getexif() would decode a PNG to look for a late EXIF chunk; take only what
            # the header holds: the EXIF block (JPEG, WebP, HEIF, early PNG chunk) or TIFF tags.
            if image.format == "TIFF":
                orientation = 1  # Pillow's TIFF reader turns the image upright itself: size included
            elif "exif" in image.info:
                exif = Image.Exif()
                exif.load(image.info["exif"])
                orientation = exif.get(ExifTags.Base.Orientation, 1)
            else:
                orientation = getattr(image, "tag_v2", {}).get(ExifTags.Base.Orientation, 1)
    except Exception as error:  # Pillow and its plugins raise many types for unreadable headers
        raise LiteDenoiseError(f"cannot read the header of {path}: {error}") from error
    return (height, width) if orientation in _TRANSPOSING else (width, height)


def is_grey(pixels: np.ndarray) -> bool:
    """Whether ``read_image``'s pixels are grey (HxW, or HxWx2 with alpha)."""
    return pixels.ndim == 2 or pixels.shape[2] == 2


def read_rgb_uint8(path: str | Path) -> np.ndarray:
    """Read an image as HxWx3 uint8 RGB in [0, 255], for data loading.

    Grey is repeated into three channels, alpha is dropped, 16-bit values are rounded to 8 bits.
    """
    return as_rgb_uint8(read_image(path).pixels)


def as_rgb_uint8(pixels: np.ndarray) -> np.ndarray:
    """``read_image``'s pixels as ``read_rgb_uint8`` gives them."""
    if is_grey(pixels):
        pixels = np.repeat(pixels.reshape(*pixels.shape[:2], -1)[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(_to_uint8(pixels[:, :, :3]))


def write_image(
    path: str | Path,
    pixels: np.ndarray,
    *,
    like: LoadedImage | None = None,
    overwrite: bool = False,
    jpeg_quality: int = 95,
) -> None:
    """Write HxW, HxWx2 (grey and alpha), HxWx3 or HxWx4 uint8/uint16 pixels; the format comes
    from the suffix.

    16-bit pixels stay 16-bit in PNG and TIFF. JPEG, WebP, BMP, HEIF and AVIF hold 8 bits only,
    so uint16 is rounded to uint8 (value / 257). JPEG drops alpha; WebP, HEIF and AVIF store grey
    as RGB, and they, BMP and 16-bit TIFF store grey and alpha as RGBA. WebP is written lossless;
    ``jpeg_quality`` (1-100) also sets HEIF and AVIF quality.

    With ``like``, its EXIF and ICC profile are carried over where the format holds them (not BMP;
    16-bit TIFF, written by tifffile, keeps the ICC profile but drops EXIF; an 8-bit TIFF whose
    EXIF has camera or GPS sub-directories is written uncompressed to keep them), and a JPEG written
    from a JPEG keeps its chroma subsampling (else Pillow's 4:2:0). An ICC profile for a
    different colour space (grey vs RGB) than the output is dropped.

    The file appears complete or not at all (written beside it, then renamed). An existing file is
    replaced only with ``overwrite=True``. Problems raise LiteDenoiseError.
    """
    path = Path(path)
    if isinstance(jpeg_quality, bool) or not isinstance(jpeg_quality, numbers.Integral) or not 1 <= jpeg_quality <= 100:
        raise LiteDenoiseError(f"the JPEG quality must be a whole number from 1 to 100, got {jpeg_quality!r}")
    file_format = check_writable(path, overwrite=overwrite)
    pixels = _checked_pixels(path, pixels)

    keep_16bit = pixels.dtype == np.uint16 and file_format in ("PNG", "TIFF")
    if not keep_16bit:
        pixels = _to_uint8(pixels)
    if file_format in _FORMATS_WITHOUT_ALPHA and pixels.ndim == 3:
        pixels = pixels[:, :, 0] if pixels.shape[2] == 2 else pixels[:, :, :3]
    if file_format in _FORMATS_WITHOUT_GREY and pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    if (file_format in _FORMATS_WITHOUT_GREY_ALPHA or keep_16bit and file_format == "TIFF") and pixels.ndim == 3 and pixels.shape[2] == 2:
        pixels = pixels[:, :, [0, 0, 0, 1]]  # 16-bit grey-and-alpha TIFF: Pillow could not open it
    pixels = np.ascontiguousarray(pixels)

    exif = icc_profile = None
    if like is not None and file_format in _FORMATS_WITH_METADATA:
        exif = like.exif
        if like.icc_profile and _icc_fits(like.icc_profile, pixels):
            icc_profile = like.icc_profile

    def encode(file: BinaryIO) -> None:
        if keep_16bit and file_format == "PNG":
            _write_16bit_png(file, pixels, exif, icc_profile)
        elif file_format == "BMP" and pixels.ndim == 3 and pixels.shape[2] == 4:
            _write_bmp_with_alpha(file, pixels)
        elif keep_16bit:
            _write_16bit_tiff(file, pixels, icc_profile)
        else:
            options = _pillow_save_options(file_format, jpeg_quality)
            if file_format == "JPEG" and like is not None and like.jpeg_subsampling is not None:
                options["subsampling"] = like.jpeg_subsampling
            if exif:
                options["exif"] = exif
                if file_format == "TIFF" and _has_sub_ifds(exif):
                    # libtiff, which Pillow compresses TIFF with, refuses EXIF's sub-IFD pointers
                    # (camera settings, GPS); Pillow's own writer keeps them, uncompressed
                    del options["compression"]
            if icc_profile:
                options["icc_profile"] = icc_profile
            Image.fromarray(pixels).save(file, format=file_format, **options)

    _write_atomically(path, encode, overwrite)


# --- reading ---------------------------------------------------------------------------------


def atomic_write_bytes(path: str | Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` (a report, a table) to ``path`` atomically, refusing what write_image refuses."""
    path = Path(path)
    _check_destination(path, overwrite)
    _write_atomically(path, lambda file: file.write(data), overwrite)


def _check_input_file(path: Path) -> None:
    try:
        status = path.stat()
    except FileNotFoundError:
        raise LiteDenoiseError(f"{path}: no such file") from None
    except OSError as error:
        raise LiteDenoiseError(f"cannot read {path}: {error.strerror or error}") from error
    if stat.S_ISDIR(status.st_mode):
        raise LiteDenoiseError(f"{path} is a folder, not an image file")
    if status.st_size == 0:
        raise LiteDenoiseError(f"{path} is empty (0 bytes)")


@functools.cache
def _heif_plugin_available() -> bool:
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _unreadable_message(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".heic", ".heif") and not _heif_plugin_available():
        return f"cannot read {path}: HEIC/HEIF needs the pillow-heif package (pip install pillow-heif)"
    if suffix == ".avif" and not features.check("avif"):
        return f"cannot read {path}: this Pillow has no AVIF support (Pillow 11.2+ wheels have it)"
    if suffix in (".tif", ".tiff"):
        samples = _unsupported_tiff_samples(path)
        if samples:
            return _unsupported_samples_message(path, samples)
    known = ", ".join(sorted(SUPPORTED_SUFFIXES))
    return f"{path} is not an image file that can be read, or is damaged (supported: {known})"


_TIFF_SAMPLE_KINDS = {1: "unsigned integer", 2: "signed integer", 3: "floating-point"}


def _unsupported_tiff_samples(path: Path) -> str | None:
    """What a TIFF that Pillow cannot open holds, e.g. "32-bit floating-point", if that is why; None
    for a TIFF of 8- or 16-bit unsigned samples (so damaged) or a file tifffile cannot parse either."""
    try:
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages[0]
            bits, kind = page.bitspersample, _TIFF_SAMPLE_KINDS.get(int(page.sampleformat), "other")
    except Exception:  # not a TIFF after all, or a damaged one
        return None
    return None if bits in (8, 16) and kind == "unsigned integer" else f"{bits}-bit {kind}"


def _unsupported_samples_message(path: Path, samples: str) -> str:
    return f"{path} has {samples} samples, which litedenoise does not read: save it with 8- or 16-bit integer samples (PNG or TIFF)"


def _check_size(path: Path, width: int, height: int, max_pixels: int, min_side: int) -> None:
    if width * height > max_pixels:
        raise LiteDenoiseError(
            f"{path} is {width}x{height} = {width * height:,} pixels, more than the limit of "
            f"{max_pixels:,}; raise the limit (--max-pixels; max_pixels= in Python) if you trust this file"
        )
    if min(width, height) < min_side:
        raise LiteDenoiseError(
            f"{path} is {width}x{height} pixels; both sides must be at least {min_side}"
        )


def _check_single_image(path: Path, image: Image.Image) -> None:
    """Refuse an animation or a multi-page file, of which only the first frame would be denoised
    and written. A JPEG's (MPO) extra images are previews or depth maps, and a TIFF page flagged
    as a reduced-resolution copy (NewSubfileType bit 0) is a thumbnail: those pass. (A HEIF's
    thumbnails and depth maps are not among the images pillow-heif counts.)"""
    frames = getattr(image, "n_frames", 1)
    if frames < 2 or image.format in ("MPO", "JPEG"):
        return
    if image.format == "TIFF":
        full_pages = 0
        for page in range(frames):
            image.seek(page)
            full_pages += not image.tag_v2.get(254, 0) & 1
        image.seek(0)
        if full_pages < 2:
            return
    raise LiteDenoiseError(
        f"{path} holds {frames} frames or pages; litedenoise denoises one image per file: "
        "save each one you want as its own PNG or TIFF"
    )


def _is_16bit_colour_png(path: Path, image: Image.Image) -> bool:
    # Pillow opens 16-bit colour PNG as 8-bit RGB/RGBA/LA; 16-bit grey it holds fine (mode I;16).
    if image.format != "PNG" or image.mode not in ("RGB", "RGBA", "LA"):
        return False
    with open(path, "rb") as file:
        reader = png.Reader(file=file)
        reader.preamble()
    return reader.bitdepth == 16


def _is_16bit_colour_tiff(image: Image.Image) -> bool:
    if image.format != "TIFF" or image.mode.startswith("I;16"):
        return False
    bits_per_sample = image.tag_v2.get(ExifTags.Base.BitsPerSample, (1,))
    bits_per_sample = bits_per_sample if isinstance(bits_per_sample, tuple) else (bits_per_sample,)
    return max(bits_per_sample) == 16


def _read_16bit_png(path: Path) -> np.ndarray:
    # read() rather than asDirect(): asDirect rescales to the sBIT depth, which would change values.
    with open(path, "rb") as file:
        width, height, rows, info = png.Reader(file=file).read()
        pixels = np.array([np.asarray(row, dtype=np.uint16) for row in rows])
    pixels = pixels.reshape(height, width, info["planes"])
    return _without_a_single_channel_axis(pixels)


def _read_16bit_tiff(path: Path) -> np.ndarray:
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages[0]
        photometric = tifffile.PHOTOMETRIC(page.photometric)
        if photometric not in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB):
            raise LiteDenoiseError(f"{path}: 16-bit {photometric.name} TIFF is not supported")
        pixels = page.asarray()
        if page.axes.startswith("S"):  # planar: one plane per channel
            pixels = np.moveaxis(pixels, 0, -1)
    if pixels.dtype != np.uint16 or not (pixels.ndim == 2 or pixels.ndim == 3 and pixels.shape[2] <= 4):
        raise LiteDenoiseError(f"{path}: TIFF layout {pixels.shape} {pixels.dtype} is not supported")
    return _without_a_single_channel_axis(pixels)


def _without_a_single_channel_axis(pixels: np.ndarray) -> np.ndarray:
    return pixels[:, :, 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels


def _pixels_from_pillow(path: Path, image: Image.Image) -> np.ndarray:
    _load_all_or_fail(image)
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode == "La":  # alpha-premultiplied grey
        image = image.convert("LA")
    elif image.mode in ("PA", "RGBa") or "transparency" in image.info and image.mode in ("P", "RGB"):
        image = image.convert("RGBA")  # a transparent palette entry or colour key becomes alpha
    elif image.mode == "L" and "transparency" in image.info:
        image = image.convert("LA")
    elif image.mode in ("P", "CMYK", "RGBX", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    pixels = np.asarray(image)
    if pixels.dtype == np.uint8:
        return pixels
    is_16bit = pixels.dtype.kind == "u" and pixels.dtype.itemsize == 2  # I;16 and big-endian I;16B
    if image.mode == "I" and pixels.size and pixels.min() >= 0 and pixels.max() <= 65535:
        is_16bit = True  # some decoders hand 16-bit grey over as 32-bit integers
    if not is_16bit:
        samples = {"F": "32-bit floating-point", "I": "32-bit integer"}.get(image.mode, f"Pillow mode {image.mode}")
        raise LiteDenoiseError(_unsupported_samples_message(path, samples))
    if image.format == "TIFF" and image.tag_v2.get(TiffImagePlugin.PHOTOMETRIC_INTERPRETATION) == 0:
        return 65535 - pixels.astype(np.uint16)  # MinIsWhite: Pillow inverts 8-bit grey, not 16-bit
    return pixels.astype(np.uint16)


def _load_all_or_fail(image: Image.Image) -> None:
    # With LOAD_TRUNCATED_IMAGES on, Pillow pads a truncated JPEG with grey rows instead of failing.
    # It is process-wide and may have been switched on by other code, so force it off here.
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image.load()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _jpeg_subsampling(image: Image.Image) -> int | None:
    if image.format not in ("JPEG", "MPO") or image.mode not in ("RGB", "YCbCr"):
        return None
    sampling = JpegImagePlugin.get_sampling(image)
    return sampling if sampling in (0, 1, 2) else None


def _exif_with_upright_orientation(image: Image.Image) -> tuple[bytes | None, int]:
    """The EXIF block with Orientation set to 1, and the orientation the pixels were stored in."""
    try:
        exif = image.getexif()
        if image.format == "TIFF":
            for tag in [tag for tag in exif if tag not in _TIFF_TAGS_WORTH_KEEPING]:
                del exif[tag]
        if not exif:
            return None, 1
        orientation = exif.get(_ORIENTATION, 1)
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        return exif.tobytes(), orientation if orientation in _UPRIGHT else 1
    except Exception:  # damaged EXIF should not cost the user a readable photo
        return None, 1


# --- writing ---------------------------------------------------------------------------------


def check_writable(path: str | Path, *, overwrite: bool = False) -> str:
    """The format ``write_image`` would write ``path`` in, from its suffix. LiteDenoiseError for an
    unknown suffix, a format this installation cannot write, a missing or read-only folder, or an
    existing file without ``overwrite``: a caller can ask before the work, not after it."""
    path = Path(path)
    file_format = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if file_format is None:
        known = ", ".join(sorted(_FORMAT_BY_SUFFIX))
        raise LiteDenoiseError(f"cannot write {path}: unknown suffix {path.suffix!r} (use one of {known})")
    _check_plugin_for_writing(path, file_format)
    _check_destination(path, overwrite)
    return file_format


def _check_plugin_for_writing(path: Path, file_format: str) -> None:
    if file_format == "HEIF" and not _heif_plugin_available():
        raise LiteDenoiseError(f"cannot write {path}: HEIC/HEIF needs the pillow-heif package")
    if file_format == "AVIF" and not features.check("avif"):
        raise LiteDenoiseError(f"cannot write {path}: this Pillow has no AVIF support")


def _checked_pixels(path: Path, pixels: np.ndarray) -> np.ndarray:
    if not isinstance(pixels, np.ndarray) or pixels.dtype not in (np.uint8, np.uint16):
        kind = pixels.dtype if isinstance(pixels, np.ndarray) else type(pixels).__name__
        raise LiteDenoiseError(f"cannot write {path}: pixels must be uint8 or uint16, not {kind}")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if not (pixels.ndim == 2 or pixels.ndim == 3 and pixels.shape[2] in (2, 3, 4)) or pixels.size == 0:
        shape = "x".join(map(str, pixels.shape))
        raise LiteDenoiseError(f"cannot write {path}: pixels must be HxW, HxWx2, HxWx3 or HxWx4, not {shape}")
    return pixels


def _check_destination(path: Path, overwrite: bool) -> None:
    folder = path.parent
    if path.is_dir():
        raise LiteDenoiseError(f"cannot write {path}: it is a folder")
    if not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "does not exist"
        raise LiteDenoiseError(f"cannot write {path}: {folder} {problem}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LiteDenoiseError(f"cannot write {path}: folder {folder} is not writable")
    if path.exists() and not overwrite:
        raise _already_exists(path)


def _already_exists(path: Path) -> LiteDenoiseError:
    return LiteDenoiseError(f"{path} already exists; use --overwrite (overwrite=True) to replace it")


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Round uint16 to uint8 (value / 257, to nearest); uint8 passes through."""
    if pixels.dtype == np.uint8:
        return pixels
    return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _icc_fits(icc_profile: bytes, pixels: np.ndarray) -> bool:
    colour_space = icc_profile[16:20]  # ICC header: data colour space signature
    return colour_space == (b"GRAY" if is_grey(pixels) else b"RGB ")


def _write_bmp_with_alpha(file: BinaryIO, pixels: np.ndarray) -> None:
    """An RGBA BMP with a BITMAPV4HEADER whose bit masks name the alpha byte. Pillow writes RGBA as
    a plain 32-bit BMP, whose fourth byte readers (Pillow included) take for padding."""
    import struct

    height, width = pixels.shape[:2]
    rows = np.ascontiguousarray(pixels[::-1, :, [2, 1, 0, 3]]).tobytes()  # bottom-up BGRA
    header_size, offset = 108, 14 + 108
    file.write(struct.pack("<2sIHHI", b"BM", offset + len(rows), 0, 0, offset))
    file.write(struct.pack("<IiiHHIIiiII", header_size, width, height, 1, 32, 3, len(rows), 2835, 2835, 0, 0))
    file.write(struct.pack("<IIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000))  # R, G, B, A masks
    file.write(struct.pack("<I", 0x73524742) + bytes(36 + 12))  # LCS_sRGB; endpoints and gamma unused
    file.write(rows)


def _has_sub_ifds(exif: bytes) -> bool:
    parsed = Image.Exif()
    parsed.load(exif)
    return ExifTags.Base.ExifOffset in parsed or ExifTags.Base.GPSInfo in parsed


def _pillow_save_options(file_format: str, jpeg_quality: int) -> dict:
    if file_format == "JPEG":
        return {"quality": jpeg_quality}
    if file_format == "WEBP":
        return {"lossless": True, "exact": True}  # exact: keep colour under transparent pixels
    if file_format in ("HEIF", "AVIF"):
        return {"quality": jpeg_quality}
    if file_format == "TIFF":
        return {"compression": "tiff_adobe_deflate"}
    return {}


def _write_16bit_png(
    file: BinaryIO, pixels: np.ndarray, exif: bytes | None, icc_profile: bytes | None
) -> None:
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    writer = png.Writer(width, height, greyscale=channels in (1, 2), alpha=channels in (2, 4), bitdepth=16)
    encoded = io.BytesIO()
    writer.write(encoded, pixels.reshape(height, width * channels))
    # pypng cannot write colour profiles or EXIF, so add those chunks; they must precede IDAT.
    metadata = []
    if icc_profile:
        metadata.append((b"iCCP", b"ICC profile\0\0" + zlib.compress(icc_profile)))
    if exif:
        metadata.append((b"eXIf", exif.removeprefix(b"Exif\0\0")))
    header, *rest = png.Reader(bytes=encoded.getvalue()).chunks()
    png.write_chunks(file, [header, *metadata, *rest])


def _write_16bit_tiff(file: BinaryIO, pixels: np.ndarray, icc_profile: bytes | None) -> None:
    colour = pixels.ndim == 3  # grey and alpha came as RGBA
    tifffile.imwrite(
        file,
        pixels,
        photometric="rgb" if colour else "minisblack",
        extrasamples=["unassalpha"] if colour and pixels.shape[2] == 4 else None,
        compression="zlib",
        iccprofile=icc_profile,
        metadata=None,
    )


def _write_atomically(path: Path, encode: Callable[[BinaryIO], None], overwrite: bool) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        file = open(temporary, "xb")  # "x": never reuse a file someone else made
    except OSError as error:
        raise LiteDenoiseError(f"cannot write {path}: {error.strerror or error}") from error
    try:
        with file:
            encode(file)
            file.flush()
            os.fsync(file.fileno())
        if path.exists() and not overwrite:  # appeared while we were encoding
            raise _already_exists(path)
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, LiteDenoiseError) or not isinstance(error, Exception):
            raise
        raise LiteDenoiseError(f"could not write {path}: {_one_line(error)}") from error


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
