"""Image files in and out: formats, bit depths, orientation, metadata, bad files, safe writes."""

import io
import warnings

import numpy as np
import png
import pytest
import tifffile
from PIL import ExifTags, Image, ImageCms, ImageOps, JpegImagePlugin

from litedenoise import imageio
from litedenoise.errors import LiteDenoiseError
from litedenoise.imageio import LoadedImage, image_files, read_image, read_rgb_uint8, write_image

ORIENTATION = ExifTags.Base.Orientation
MAKE = ExifTags.Base.Make


def gradient(height=12, width=16, channels=3, dtype=np.uint8):
    """Smooth, distinct pixels so lossy codecs stay close and every rotation is detectable."""
    top = np.iinfo(dtype).max
    y, x = np.mgrid[0:height, 0:width]
    planes = [x / (width - 1), y / (height - 1), (x + y) / (width + height - 2), 1 - x / (width - 1)]
    stacked = np.stack(planes[: max(channels, 1)], axis=-1) * top
    pixels = np.round(stacked).astype(dtype)
    return pixels[:, :, 0] if channels == 1 else pixels


def noise(height=6, width=7, channels=3, dtype=np.uint16, seed=0):
    shape = (height, width) if channels == 1 else (height, width, channels)
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


def srgb_profile():
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_with(orientation, make="TestCam"):
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = make
    return exif.tobytes()


def raises_for_file(path, call, *args, **kwargs):
    with pytest.raises(LiteDenoiseError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, channels",
    [("rgb.png", 3), ("rgba.png", 4), ("grey.png", 1), ("rgb.tif", 3), ("rgba.tif", 4),
     ("grey.tif", 1), ("rgb.bmp", 3), ("grey.bmp", 1), ("rgb.webp", 3), ("rgba.webp", 4)],
)
def test_lossless_8bit_formats_round_trip_exactly(tmp_path, name, channels):
    pixels = noise(channels=channels, dtype=np.uint8)
    write_image(tmp_path / name, pixels)
    loaded = read_image(tmp_path / name)
    assert loaded.pixels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.pixels, pixels)


def test_jpeg_round_trip_is_close_and_reports_its_format(tmp_path):
    pixels = gradient()
    write_image(tmp_path / "a.jpg", pixels)
    loaded = read_image(tmp_path / "a.jpg")
    assert loaded.source_format == "JPEG" and loaded.pixels.shape == pixels.shape
    assert np.abs(loaded.pixels.astype(int) - pixels).mean() < 3


@pytest.mark.parametrize("subsampling", [0, 1, 2])
def test_a_jpeg_written_like_a_jpeg_keeps_its_chroma_subsampling(tmp_path, subsampling):
    Image.fromarray(gradient()).save(tmp_path / "in.jpg", quality=90, subsampling=subsampling)
    loaded = read_image(tmp_path / "in.jpg")
    assert loaded.jpeg_subsampling == subsampling

    write_image(tmp_path / "out.jpg", loaded.pixels, like=loaded)
    write_image(tmp_path / "plain.jpg", loaded.pixels)
    with Image.open(tmp_path / "out.jpg") as out, Image.open(tmp_path / "plain.jpg") as plain:
        assert (JpegImagePlugin.get_sampling(out), JpegImagePlugin.get_sampling(plain)) == (subsampling, 2)


@pytest.mark.parametrize("orientation, expected", [(1, 1), (3, 1), (6, 0), (8, 0)])
def test_a_4_2_2_jpeg_turned_a_quarter_is_written_at_4_4_4_not_halving_its_full_chroma_axis(tmp_path, orientation, expected):
    Image.fromarray(gradient()).save(tmp_path / "in.jpg", quality=90, subsampling=1, exif=exif_with(orientation))
    loaded = read_image(tmp_path / "in.jpg")
    assert loaded.jpeg_subsampling == expected
    write_image(tmp_path / "out.jpg", loaded.pixels, like=loaded)
    with Image.open(tmp_path / "out.jpg") as out:
        assert JpegImagePlugin.get_sampling(out) == expected


@pytest.mark.parametrize("quality", [0, 101, 9.5, True, "95"])
def test_write_refuses_a_jpeg_quality_outside_1_to_100(tmp_path, quality):
    with pytest.raises(LiteDenoiseError, match="JPEG quality must be a whole number from 1 to 100"):
        write_image(tmp_path / "a.jpg", gradient(), jpeg_quality=quality)
    assert not (tmp_path / "a.jpg").exists()


@pytest.mark.parametrize("name", ["rgb.png", "rgba.png", "grey.png", "rgb.tif", "rgba.tif", "grey.tif"])
def test_16bit_png_and_tiff_round_trip_exactly_and_stay_uint16(tmp_path, name):
    channels = {"rgb": 3, "rgba": 4, "grey": 1}[name.split(".")[0]]
    pixels = noise(channels=channels)
    write_image(tmp_path / name, pixels)
    loaded = read_image(tmp_path / name)
    assert loaded.pixels.dtype == np.uint16
    np.testing.assert_array_equal(loaded.pixels, pixels)


def test_16bit_grey_png_written_by_pillow_is_read_without_mangling(tmp_path):
    pixels = noise(channels=1)
    pixels[0, :3] = [0, 255, 65535]
    Image.fromarray(pixels).save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g.png").pixels, pixels)


def test_16bit_grey_alpha_png_and_planar_tiff_keep_all_16_bits(tmp_path):
    grey_alpha = noise(channels=2)
    with open(tmp_path / "la.png", "wb") as file:
        png.Writer(7, 6, greyscale=True, alpha=True, bitdepth=16).write(file, grey_alpha.reshape(6, 14))
    loaded = read_image(tmp_path / "la.png").pixels
    assert loaded.dtype == np.uint16
    np.testing.assert_array_equal(loaded, grey_alpha)

    rgb = noise()
    planes = rgb.transpose(2, 0, 1)
    tifffile.imwrite(tmp_path / "planar.tif", planes, photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(read_image(tmp_path / "planar.tif").pixels, rgb)


def test_16bit_pixels_are_rounded_to_8bit_for_8bit_formats(tmp_path):
    pixels = np.array([[0, 128, 129, 385, 386, 65535]], dtype=np.uint16)
    write_image(tmp_path / "a.bmp", pixels)
    np.testing.assert_array_equal(read_image(tmp_path / "a.bmp").pixels, [[0, 0, 1, 1, 2, 255]])


@pytest.mark.parametrize("suffix", [".heic", ".avif"])
def test_heic_and_avif_round_trip_approximately(tmp_path, suffix):
    pixels = gradient(32, 32)
    write_image(tmp_path / f"a{suffix}", pixels)
    loaded = read_image(tmp_path / f"a{suffix}")
    assert loaded.source_format == {".heic": "HEIF", ".avif": "AVIF"}[suffix]
    assert loaded.pixels.shape == pixels.shape and loaded.pixels.dtype == np.uint8
    assert np.abs(loaded.pixels.astype(int) - pixels).mean() < 6


def test_palette_and_cmyk_images_become_rgb_and_grey_alpha_stays_grey_alpha(tmp_path):
    rgb = gradient()
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(rgb).convert("LA").save(tmp_path / "la.png")
    assert read_image(tmp_path / "p.png").pixels.shape == (12, 16, 3)
    assert read_image(tmp_path / "cmyk.jpg").pixels.shape == (12, 16, 3)
    np.testing.assert_array_equal(read_image(tmp_path / "la.png").pixels, np.asarray(Image.fromarray(rgb).convert("LA")))


@pytest.mark.parametrize("suffix, depth", [(".png", 8), (".png", 16), (".tif", 8)])
def test_grey_and_alpha_round_trips_exactly_where_the_format_holds_it(tmp_path, suffix, depth):
    dtype = np.uint8 if depth == 8 else np.uint16
    pixels = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, (6, 7, 2), endpoint=True).astype(dtype)
    write_image(tmp_path / f"la{suffix}", pixels)
    loaded = read_image(tmp_path / f"la{suffix}").pixels
    assert loaded.dtype == dtype
    np.testing.assert_array_equal(loaded, pixels)


# BMP is written RGBA with an alpha mask (a plain 32-bit BMP's fourth byte is read as padding);
# 16-bit TIFF goes RGBA because Pillow cannot open 16-bit grey-and-alpha TIFF at all
@pytest.mark.parametrize("suffix, depth, shape", [(".jpg", 8, (6, 7)), (".bmp", 8, (6, 7, 4)), (".webp", 8, (6, 7, 4)), (".tif", 16, (6, 7, 4))])
def test_grey_and_alpha_becomes_grey_or_rgba_where_the_format_lacks_it(tmp_path, suffix, depth, shape):
    dtype = np.uint8 if depth == 8 else np.uint16
    pixels = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, (6, 7, 2), endpoint=True).astype(dtype)
    write_image(tmp_path / f"la{suffix}", pixels)
    loaded = read_image(tmp_path / f"la{suffix}").pixels
    assert loaded.shape == shape and loaded.dtype == dtype
    if len(shape) == 3:  # lossless: the grey in all three colours, then the alpha as it was
        np.testing.assert_array_equal(loaded, pixels[:, :, [0, 0, 0, 1]][:, :, : shape[2]])


def test_read_rgb_uint8_gives_three_8bit_channels_for_grey_rgba_and_16bit(tmp_path):
    write_image(tmp_path / "grey.png", gradient(channels=1))
    write_image(tmp_path / "rgba.png", gradient(channels=4))
    write_image(tmp_path / "deep.png", np.full((4, 5, 3), 65535, np.uint16))
    for name in ("grey.png", "rgba.png", "deep.png"):
        pixels = read_rgb_uint8(tmp_path / name)
        assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    np.testing.assert_array_equal(read_rgb_uint8(tmp_path / "rgba.png"), gradient(channels=4)[:, :, :3])
    assert (read_rgb_uint8(tmp_path / "deep.png") == 255).all()


# --- orientation and metadata --------------------------------------------------------------


def test_exif_orientation_6_is_applied_and_the_copy_says_orientation_1(tmp_path):
    pixels = noise(height=4, width=6, dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rotated.png", exif=exif_with(6))

    loaded = read_image(tmp_path / "rotated.png")
    assert loaded.pixels.shape == (6, 4, 3)
    np.testing.assert_array_equal(loaded.pixels, np.rot90(pixels, -1))  # 6 = turn clockwise

    write_image(tmp_path / "out.jpg", loaded.pixels, like=loaded)
    with Image.open(tmp_path / "out.jpg") as written:
        assert written.getexif()[ORIENTATION] == 1
        assert written.getexif()[MAKE] == "TestCam"
    assert read_image(tmp_path / "out.jpg").pixels.shape == (6, 4, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow_exif_transpose(tmp_path, orientation):
    pixels = noise(height=3, width=5, channels=4, dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png", exif=exif_with(orientation))
    with Image.open(tmp_path / "a.png") as image:
        expected = np.asarray(ImageOps.exif_transpose(image))
    np.testing.assert_array_equal(read_image(tmp_path / "a.png").pixels, expected)


def test_orientation_is_applied_to_16bit_colour_png(tmp_path):
    pixels = noise(height=3, width=5)
    write_image(tmp_path / "a.png", pixels, like=LoadedImage(pixels, exif_with(8), None, "PNG"))
    np.testing.assert_array_equal(read_image(tmp_path / "a.png").pixels, np.rot90(pixels, 1))


@pytest.mark.parametrize(
    "name, dtype",
    [("out.png", np.uint8), ("out.jpg", np.uint8), ("out.webp", np.uint8), ("out.tif", np.uint8),
     ("out.png", np.uint16), ("out.tif", np.uint16)],
)
def test_icc_profile_is_carried_to_the_written_file(tmp_path, name, dtype):
    profile = srgb_profile()
    Image.fromarray(gradient()).save(tmp_path / "source.png", icc_profile=profile)
    source = read_image(tmp_path / "source.png")
    assert source.icc_profile == profile

    write_image(tmp_path / name, gradient(dtype=dtype), like=source)
    assert read_image(tmp_path / name).icc_profile == profile


def test_exif_is_carried_into_a_16bit_png(tmp_path):
    source = LoadedImage(noise(), exif_with(1, make="DeepCam"), None, "PNG")
    write_image(tmp_path / "out.png", source.pixels, like=source)
    with Image.open(tmp_path / "out.png") as written:
        assert written.getexif()[MAKE] == "DeepCam"


def test_an_rgb_icc_profile_is_not_attached_to_a_grey_image(tmp_path):
    source = LoadedImage(gradient(), None, srgb_profile(), "PNG")
    write_image(tmp_path / "grey.png", gradient(channels=1), like=source)
    assert read_image(tmp_path / "grey.png").icc_profile is None


def test_tiff_layout_tags_are_not_passed_off_as_exif(tmp_path):
    Image.fromarray(gradient()).save(tmp_path / "a.tif", exif=exif_with(1))
    exif = Image.Exif()
    exif.load(read_image(tmp_path / "a.tif").exif)
    assert exif[MAKE] == "TestCam"
    assert ExifTags.Base.StripOffsets not in exif and ExifTags.Base.BitsPerSample not in exif


# --- bad input -----------------------------------------------------------------------------


def test_a_missing_file_is_reported(tmp_path):
    path = tmp_path / "missing.png"
    assert "no such file" in raises_for_file(path, read_image, path)


def test_a_folder_is_reported(tmp_path):
    path = tmp_path / "folder.png"
    path.mkdir()
    assert "folder" in raises_for_file(path, read_image, path)


def test_an_empty_file_is_reported(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert "empty" in raises_for_file(path, read_image, path)


@pytest.mark.parametrize("name", ["anim.gif", "anim.png", "anim.webp", "pages.tif", "burst.heic"])
def test_an_animation_or_a_multi_page_file_is_refused_not_cut_to_its_first_frame(tmp_path, name):
    imageio._heif_plugin_available()  # registers the HEIF writer with Pillow
    first, second = Image.fromarray(gradient(20, 24)), Image.fromarray(gradient(20, 24)[::-1].copy())
    first.save(tmp_path / name, save_all=True, append_images=[second])
    assert "holds 2 frames or pages" in raises_for_file(tmp_path / name, read_image, tmp_path / name)


def test_a_tiff_with_a_reduced_resolution_thumbnail_page_reads_its_full_image(tmp_path):
    path = tmp_path / "with_thumbnail.tif"
    with tifffile.TiffWriter(path) as tiff:
        tiff.write(gradient(20, 24), photometric="rgb")
        tiff.write(gradient(10, 12), photometric="rgb", subfiletype=1)  # NewSubfileType: reduced resolution
    assert Image.open(path).n_frames == 2
    np.testing.assert_array_equal(read_image(path).pixels, gradient(20, 24))


def test_a_text_file_is_reported_as_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, not a picture\n")
    assert "not an image" in raises_for_file(path, read_image, path)


@pytest.mark.parametrize(
    "pixels, samples",
    [
        (np.full((20, 24, 3), 0.5, np.float32), "32-bit floating-point"),  # Pillow cannot open it at all
        (np.full((20, 24, 3), 0.5, np.float16), "16-bit floating-point"),
        (np.full((20, 24), 0.5, np.float32), "32-bit floating-point"),  # Pillow opens it, as mode F
        (np.full((20, 24), 70_000, np.int32), "32-bit integer"),
    ],
    ids=["rgb-float32", "rgb-float16", "grey-float32", "grey-int32"],
)
def test_a_tiff_of_samples_we_do_not_read_says_what_they_are(tmp_path, pixels, samples):
    path = tmp_path / "linear.tif"
    tifffile.imwrite(path, pixels)
    message = raises_for_file(path, read_image, path)
    assert f"has {samples} samples" in message and "damaged" not in message


@pytest.mark.parametrize("progressive", [False, True])
def test_a_truncated_jpeg_is_reported_even_if_pillow_was_told_to_accept_them(
    tmp_path, monkeypatch, progressive
):
    buffer = io.BytesIO()
    Image.fromarray(gradient(64, 64)).save(buffer, "JPEG", progressive=progressive)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    monkeypatch.setattr("PIL.ImageFile.LOAD_TRUNCATED_IMAGES", True)
    assert "truncated" in raises_for_file(path, read_image, path)


def test_a_truncated_16bit_png_is_reported(tmp_path):
    path = tmp_path / "cut.png"
    write_image(path, noise(40, 40))
    path.write_bytes(path.read_bytes()[:-200])
    assert "truncated" in raises_for_file(path, read_image, path)


def test_an_image_smaller_than_min_side_is_reported(tmp_path):
    path = tmp_path / "small.png"
    write_image(path, gradient(4, 16))
    read_image(path, min_side=4)
    assert "at least 5" in raises_for_file(path, read_image, path, min_side=5)


def test_an_image_with_more_than_max_pixels_is_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    write_image(path, gradient(4, 4))
    monkeypatch.setattr(imageio, "_pixels_from_pillow", lambda *args: pytest.fail("decoded"))
    assert "max_pixels" in raises_for_file(path, read_image, path, max_pixels=15)


def test_pillow_decompression_bomb_error_becomes_our_error(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    write_image(path, gradient(4, 4))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5)  # Pillow refuses above twice this
    raises_for_file(path, read_image, path, max_pixels=1000)


def test_pillow_decompression_bomb_warning_gives_way_to_max_pixels(tmp_path, monkeypatch):
    path = tmp_path / "large.png"
    write_image(path, gradient(4, 4))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # 16 pixels: Pillow would only warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(path, max_pixels=1000).pixels.shape == (4, 4, 3)


def test_a_heic_file_without_the_plugin_says_which_package_is_missing(tmp_path, monkeypatch):
    path = tmp_path / "photo.heic"
    path.write_bytes(b"not really heic")
    monkeypatch.setattr(imageio, "_heif_plugin_available", lambda: False)
    assert "pillow-heif" in raises_for_file(path, read_image, path)


# --- writing safely ------------------------------------------------------------------------


def test_write_refuses_an_unknown_suffix(tmp_path):
    path = tmp_path / "out.gif"
    assert "suffix" in raises_for_file(path, write_image, path, gradient())


def test_write_refuses_a_missing_output_folder(tmp_path):
    path = tmp_path / "nowhere" / "out.png"
    assert "does not exist" in raises_for_file(path, write_image, path, gradient())


def test_write_refuses_a_folder_that_is_not_writable(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    monkeypatch.setattr(imageio.os, "access", lambda *args: False)  # chmod does not stop root
    assert "not writable" in raises_for_file(path, write_image, path, gradient())


def test_write_refuses_float_pixels(tmp_path):
    path = tmp_path / "out.png"
    assert "uint8 or uint16" in raises_for_file(path, write_image, path, gradient().astype(np.float32))


def test_write_refuses_to_overwrite_and_leaves_the_original_bytes(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"original")
    assert "--overwrite" in raises_for_file(path, write_image, path, gradient())
    assert path.read_bytes() == b"original"

    write_image(path, gradient(), overwrite=True)
    np.testing.assert_array_equal(read_image(path).pixels, gradient())


def test_a_failing_write_leaves_no_temporary_file_and_keeps_the_original(tmp_path, monkeypatch):
    path = tmp_path / "out.jpg"
    path.write_bytes(b"original")

    def save_half_then_fail(image, file, *args, **kwargs):
        file.write(b"half an image")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", save_half_then_fail)
    assert "No space left" in raises_for_file(path, write_image, path, gradient(), overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]
    assert path.read_bytes() == b"original"


def test_image_files_lists_the_images_of_a_folder_by_name_and_nothing_else(tmp_path):
    for name in ("b.PNG", "a.jpg", ".hidden.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.png").mkdir()  # a folder named like an image
    assert [path.name for path in image_files(tmp_path)] == ["a.jpg", "b.PNG"]


def test_the_header_size_of_a_tiff_stored_on_its_side_is_its_upright_size(tmp_path):
    stored = gradient(32, 48)
    path = tmp_path / "side.tif"
    tifffile.imwrite(path, stored, photometric="rgb", extratags=[(ExifTags.Base.Orientation, "H", 1, 6, True)])
    upright = read_image(path).pixels
    np.testing.assert_array_equal(upright, np.rot90(stored, -1))
    assert imageio.read_image_size(path) == (upright.shape[1], upright.shape[0]) == (32, 48)


@pytest.mark.parametrize("source", ["photo.jpg", "photo.tif"])
def test_a_tiff_is_written_with_camera_exif_and_its_sub_ifds(tmp_path, source):
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2020:01:01 00:00:00"
    Image.fromarray(gradient(32, 48)).save(tmp_path / source, exif=exif.tobytes())
    write_image(tmp_path / "out.tif", gradient(32, 48), like=read_image(tmp_path / source))
    written = Image.open(tmp_path / "out.tif").getexif()
    assert written[ExifTags.Base.Make] == "Canon"
    assert written.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == "2020:01:01 00:00:00"
    np.testing.assert_array_equal(read_image(tmp_path / "out.tif").pixels, gradient(32, 48))


def test_a_tiff_whose_next_page_offset_points_past_its_end_is_reported_as_damaged(tmp_path):
    import struct

    Image.fromarray(gradient(32, 32)).save(tmp_path / "ok.tif")
    data = bytearray((tmp_path / "ok.tif").read_bytes())
    first = struct.unpack("<I", data[4:8])[0]
    entries = struct.unpack("<H", data[first : first + 2])[0]
    next_offset = first + 2 + 12 * entries
    data[next_offset : next_offset + 4] = struct.pack("<I", len(data) + 1000)
    (tmp_path / "bad.tif").write_bytes(bytes(data))
    assert "is damaged" in raises_for_file(tmp_path / "bad.tif", read_image, tmp_path / "bad.tif")


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
@pytest.mark.parametrize("kind", ["grey", "grey16", "rgba"])
def test_an_uncompressed_tiff_stored_on_its_side_is_turned_upright_not_sheared(tmp_path, orientation, kind):
    stored = {"grey": gradient(32, 48, 1), "grey16": noise(32, 48, 1), "rgba": gradient(32, 48, 4)}[kind]
    extra = {"photometric": "rgb", "extrasamples": ["unassalpha"]} if kind == "rgba" else {}
    tifffile.imwrite(tmp_path / "side.tif", stored, extratags=[(ExifTags.Base.Orientation, "H", 1, orientation, True)], **extra)
    upright = imageio._UPRIGHT[orientation](stored)
    np.testing.assert_array_equal(read_image(tmp_path / "side.tif").pixels, upright)


def test_a_bmp_keeps_its_alpha(tmp_path):
    pixels = noise(6, 7, 4, np.uint8)
    write_image(tmp_path / "a.bmp", pixels)
    assert Image.open(tmp_path / "a.bmp").mode == "RGBA"
    np.testing.assert_array_equal(read_image(tmp_path / "a.bmp").pixels, pixels)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_min_is_white_tiff_reads_as_the_grey_it_shows(tmp_path, dtype):
    stored = noise(8, 9, 1, dtype)
    tifffile.imwrite(tmp_path / "white.tif", stored, photometric="miniswhite")
    np.testing.assert_array_equal(read_image(tmp_path / "white.tif").pixels, np.iinfo(dtype).max - stored)


@pytest.mark.parametrize("channels, key", [(1, 7), (3, (7, 7, 7))])
def test_a_png_colour_key_becomes_alpha(tmp_path, channels, key):
    grey = np.arange(30, dtype=np.uint8).reshape(5, 6)
    Image.fromarray(grey if channels == 1 else np.stack([grey] * 3, axis=-1)).save(tmp_path / "key.png", transparency=key)
    pixels = read_image(tmp_path / "key.png").pixels
    assert pixels.shape == (5, 6, channels + 1)
    assert (pixels[..., -1] == 0).sum() == 1 and pixels[1, 1, -1] == 0  # only the key colour, 7, is transparent


def test_a_16bit_colour_tiff_compressed_with_lzw_as_opencv_writes_it_is_read(tmp_path):
    pixels = noise(16, 20, 3)
    tifffile.imwrite(tmp_path / "lzw.tif", pixels, photometric="rgb", compression="lzw")
    np.testing.assert_array_equal(read_image(tmp_path / "lzw.tif").pixels, pixels)
