"""The ``litedenoise denoise`` command: where outputs go, what survives a round trip, bad input.

Every test runs a width-2 student from a safetensors file written here, on images of at most
64x64 (one tiling test uses 320x330), so the file runs in seconds on two busy cores.
"""

import subprocess
import sys

import numpy as np
import png  # pypng, to write and inspect 16-bit colour PNG independently of litedenoise
import pytest
import torch
from PIL import Image, JpegImagePlugin
from safetensors.torch import save_file

from litedenoise.cli import main
from litedenoise.models.student import LiteDenoiseNet


@pytest.fixture
def denoise(weights):
    """Run ``litedenoise denoise ARGS --weights tiny`` in-process; returns the exit code."""

    def run(*args):
        return main(["denoise", *map(str, args), "--weights", str(weights)])

    return run


def random_pixels(height=32, width=40, channels=3, dtype=np.uint8, seed=0):
    shape = (height, width) if channels == 1 else (height, width, channels)
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


def save_8bit(path, pixels, **options):
    Image.fromarray(pixels).save(path, **options)
    return path


def save_16bit_rgb_png(path, pixels):
    height, width, channels = pixels.shape
    with open(path, "wb") as file:
        png.Writer(width, height, greyscale=False, alpha=channels == 4, bitdepth=16).write(
            file, pixels.reshape(height, width * channels)
        )
    return path


def load(path):
    with Image.open(path) as image:
        return image.mode, np.asarray(image)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith(("error:", "litedenoise: error:"))]


def assert_only_expected_lines(stderr):
    """Each line is a progress line, a one-line error or the failure count: no stray trace lines."""
    for line in stderr.splitlines():
        assert " -> " in line or line.startswith(("error:", "litedenoise: error:")) or line.endswith(
            "images failed"
        ), f"unexpected stderr line: {line!r}"
    assert "Traceback" not in stderr


# --- where the output goes -------------------------------------------------------------------


def test_a_single_png_is_denoised_beside_it_with_the_same_shape_and_dtype(tmp_path, denoise, capsys):
    source = save_8bit(tmp_path / "photo.png", random_pixels(32, 40))

    assert denoise(source) == 0

    mode, pixels = load(tmp_path / "photo_denoised.png")
    assert mode == "RGB"
    assert pixels.shape == (32, 40, 3) and pixels.dtype == np.uint8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png", "photo_denoised.png"]
    assert error_lines(capsys.readouterr().err) == []


def test_a_person_at_a_terminal_sees_the_tiles_go_by_and_a_log_does_not(tmp_path, denoise, capsys, monkeypatch):
    source = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (320, 330, 3), dtype=np.uint8)).save(source)
    assert denoise(source, "-o", tmp_path / "log.png", "--tile", "320") == 0
    assert "tile/s" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert denoise(source, "-o", tmp_path / "terminal.png", "--tile", "320") == 0
    shown = capsys.readouterr().err
    assert "big.png: 100%" in shown and "tile/s" in shown


def test_output_option_with_a_file_name_writes_the_single_result_there(tmp_path, denoise):
    source = save_8bit(tmp_path / "photo.png", random_pixels(32, 40))
    destination = tmp_path / "clean.png"

    assert denoise(source, "-o", destination) == 0

    assert load(destination)[1].shape == (32, 40, 3)
    assert not (tmp_path / "photo_denoised.png").exists()


def test_output_option_with_a_missing_folder_creates_it_and_writes_each_result_there(tmp_path, denoise):
    first = save_8bit(tmp_path / "first.png", random_pixels(32, 40, seed=1))
    second = save_8bit(tmp_path / "second.jpg", random_pixels(24, 48, seed=2), quality=90)
    folder = tmp_path / "results" / "today"

    assert denoise(first, second, "-o", folder) == 0

    assert sorted(p.name for p in folder.iterdir()) == ["first_denoised.png", "second_denoised.jpg"]
    assert load(folder / "first_denoised.png")[1].shape == (32, 40, 3)
    with Image.open(folder / "second_denoised.jpg") as image:
        assert image.format == "JPEG" and image.size == (48, 24)


def test_a_jpeg_keeps_its_chroma_subsampling_and_quality_sets_the_output_jpeg(tmp_path, denoise):
    pixels = random_pixels(48, 64, seed=3)
    full_chroma = save_8bit(tmp_path / "full.jpg", pixels, quality=95, subsampling=0)
    half_chroma = save_8bit(tmp_path / "half.jpg", pixels, quality=95, subsampling=2)

    assert denoise(full_chroma, half_chroma, "-o", tmp_path / "q95") == 0
    assert denoise(full_chroma, "-o", tmp_path / "q40.jpg", "--quality", "40") == 0

    samplings = {}
    for name in ("q95/full_denoised.jpg", "q95/half_denoised.jpg", "q40.jpg"):
        with Image.open(tmp_path / name) as image:
            samplings[name] = JpegImagePlugin.get_sampling(image)
    assert samplings == {"q95/full_denoised.jpg": 0, "q95/half_denoised.jpg": 2, "q40.jpg": 0}
    assert (tmp_path / "q40.jpg").stat().st_size < (tmp_path / "q95" / "full_denoised.jpg").stat().st_size


def test_a_folder_input_is_expanded_to_the_images_inside_it(tmp_path, denoise):
    photos = tmp_path / "photos"
    photos.mkdir()
    save_8bit(photos / "a.png", random_pixels(seed=1))
    save_8bit(photos / "b.JPG", random_pixels(seed=2))
    (photos / "notes.txt").write_text("not an image, and not picked up")

    assert denoise(photos) == 0

    assert sorted(p.name for p in photos.iterdir()) == ["a.png", "a_denoised.png", "b.JPG", "b_denoised.JPG", "notes.txt"]


def test_a_glob_pattern_input_is_expanded_to_the_matching_images(tmp_path, denoise):
    for name in ("x1.png", "x2.png", "y.png"):
        save_8bit(tmp_path / name, random_pixels())

    assert denoise(tmp_path / "x*.png") == 0

    assert (tmp_path / "x1_denoised.png").is_file() and (tmp_path / "x2_denoised.png").is_file()
    assert not (tmp_path / "y_denoised.png").exists()


def test_a_file_whose_name_contains_brackets_is_denoised(tmp_path, denoise):
    source = save_8bit(tmp_path / "shot[1].png", random_pixels())

    assert denoise(source) == 0

    assert (tmp_path / "shot[1]_denoised.png").is_file()


# --- what survives the round trip ------------------------------------------------------------


def test_a_16_bit_png_gives_a_16_bit_png(tmp_path, denoise):
    source = save_16bit_rgb_png(tmp_path / "deep.png", random_pixels(24, 32, dtype=np.uint16))

    assert denoise(source) == 0

    width, height, rows, info = png.Reader(filename=str(tmp_path / "deep_denoised.png")).read()
    pixels = np.array([np.asarray(row, dtype=np.uint16) for row in rows]).reshape(height, width, -1)
    assert (width, height, info["bitdepth"], info["planes"]) == (32, 24, 16, 3)
    assert np.any(pixels % 257 != 0), "values are 8-bit values scaled up, not 16-bit results"


def test_a_greyscale_png_gives_a_greyscale_png(tmp_path, denoise):
    source = save_8bit(tmp_path / "grey.png", random_pixels(24, 32, channels=1))

    assert denoise(source) == 0

    mode, pixels = load(tmp_path / "grey_denoised.png")
    assert mode == "L" and pixels.shape == (24, 32)


def test_an_rgba_png_keeps_its_alpha_channel_byte_identical(tmp_path, denoise):
    original = random_pixels(24, 32, channels=4, seed=3)
    source = save_8bit(tmp_path / "cutout.png", original)

    assert denoise(source) == 0

    mode, pixels = load(tmp_path / "cutout_denoised.png")
    assert mode == "RGBA"
    np.testing.assert_array_equal(pixels[..., 3], original[..., 3])


def test_a_grey_png_with_alpha_stays_grey_with_its_alpha_and_matches_the_grey_result(tmp_path, denoise):
    original = random_pixels(24, 32, channels=2, seed=4)
    with_alpha = save_8bit(tmp_path / "scan.png", original)
    without = save_8bit(tmp_path / "plain.png", original[..., 0])

    assert denoise(with_alpha) == 0 and denoise(without) == 0

    mode, pixels = load(tmp_path / "scan_denoised.png")
    assert mode == "LA"
    np.testing.assert_array_equal(pixels[..., 1], original[..., 1])
    np.testing.assert_array_equal(pixels[..., 0], load(tmp_path / "plain_denoised.png")[1])


def test_strength_0_writes_the_input_back_and_strength_1_the_default(tmp_path, denoise):
    original = random_pixels(24, 32, seed=5)
    source = save_8bit(tmp_path / "photo.png", original)
    assert denoise(source, "-o", tmp_path / "none.png", "--strength", "0") == 0
    assert denoise(source, "-o", tmp_path / "all.png", "--strength", "1") == 0
    assert denoise(source, "-o", tmp_path / "default.png") == 0
    np.testing.assert_array_equal(load(tmp_path / "none.png")[1], original)
    np.testing.assert_array_equal(load(tmp_path / "all.png")[1], load(tmp_path / "default.png")[1])


@pytest.mark.parametrize("output, problem", [("photo.xyz", "unknown suffix '.xyz' (use one of .avif, .bmp,"), ("missing/photo.png", "does not exist")])
def test_an_output_that_cannot_be_written_is_refused_before_the_network_runs(tmp_path, denoise, capsys, monkeypatch, output, problem):
    import litedenoise.infer

    def no_denoising(*args, **kwargs):
        raise AssertionError("denoised before the output was checked")

    monkeypatch.setattr(litedenoise.infer, "denoise", no_denoising)
    source = save_8bit(tmp_path / "photo.png", random_pixels())
    assert denoise(source, "-o", tmp_path / output) == 1
    [line] = error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: cannot write {tmp_path / output}:") and problem in line
    assert not (tmp_path / output).exists()


# --- never destroying a file -----------------------------------------------------------------


def test_an_existing_output_is_kept_byte_identical_without_the_overwrite_flag(tmp_path, denoise, capsys):
    source = save_8bit(tmp_path / "photo.png", random_pixels())
    existing = tmp_path / "photo_denoised.png"
    existing.write_bytes(b"someone's earlier result")

    assert denoise(source) == 1

    assert existing.read_bytes() == b"someone's earlier result"
    [line] = error_lines(capsys.readouterr().err)
    assert "--overwrite" in line and str(existing) in line


def test_two_inputs_bound_for_one_output_are_refused_before_anything_is_written(tmp_path, denoise, capsys):
    for folder in ("day1", "day2"):
        (tmp_path / folder).mkdir()
        save_8bit(tmp_path / folder / "photo.png", random_pixels())
    output = tmp_path / "out"

    assert denoise(tmp_path / "day1" / "photo.png", tmp_path / "day2" / "photo.png", "-o", output, "--overwrite") == 1

    [line] = error_lines(capsys.readouterr().err)
    assert "would both be written to" in line and not output.exists()


def test_a_folder_denoised_in_place_twice_leaves_its_earlier_outputs_out(tmp_path, denoise, capsys):
    folder = tmp_path / "shots"
    folder.mkdir()
    save_8bit(folder / "photo.png", random_pixels())
    assert denoise(folder) == 0
    capsys.readouterr()

    assert denoise(folder) == 1  # photo_denoised.png exists: refused as before, and nothing else is tried

    err = capsys.readouterr().err
    assert "leaving out 1 earlier output(s) named *_denoised" in err and "photo_denoised_denoised" not in err
    assert sorted(path.name for path in folder.iterdir()) == ["photo.png", "photo_denoised.png"]


@pytest.mark.parametrize("command", ["denoise", "report"])
def test_an_output_folder_that_is_a_file_is_refused_before_any_work(tmp_path, denoise, capsys, command):
    sources = [save_8bit(tmp_path / name, random_pixels()) for name in ("a.png", "b.png")]
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    if command == "denoise":
        assert denoise(*sources, "-o", taken) == 1
    else:
        assert main(["report", str(tmp_path), "--baseline", "identity", "-o", str(taken)]) == 1
    [line] = error_lines(capsys.readouterr().err)
    assert f"-o {taken}" in line and "not a folder" in line and taken.read_text() == "mine"


def test_an_empty_weights_argument_is_a_usage_error_not_the_shipped_student(tmp_path, capsys):
    source = save_8bit(tmp_path / "photo.png", random_pixels())
    with pytest.raises(SystemExit) as exit_info:
        main(["denoise", str(source), "--weights", ""])
    assert exit_info.value.code == 2 and "must name a file" in capsys.readouterr().err
    assert not (tmp_path / "photo_denoised.png").exists()


def test_an_input_named_twice_is_denoised_once(tmp_path, denoise, capsys):
    source = save_8bit(tmp_path / "photo.png", random_pixels())

    assert denoise(source, tmp_path / "." / "photo.png", "-o", tmp_path / "out") == 0

    assert [path.name for path in (tmp_path / "out").iterdir()] == ["photo_denoised.png"]
    assert error_lines(capsys.readouterr().err) == []


def test_an_existing_output_is_replaced_with_the_overwrite_flag(tmp_path, denoise):
    source = save_8bit(tmp_path / "photo.png", random_pixels(32, 40))
    existing = tmp_path / "photo_denoised.png"
    existing.write_bytes(b"someone's earlier result")

    assert denoise(source, "--overwrite") == 0

    assert load(existing)[1].shape == (32, 40, 3)


def test_the_input_itself_is_never_overwritten_even_with_the_overwrite_flag(tmp_path, denoise, capsys):
    source = save_8bit(tmp_path / "photo.png", random_pixels())
    before = source.read_bytes()

    assert denoise(source, "-o", source, "--overwrite") == 1

    assert source.read_bytes() == before
    [line] = error_lines(capsys.readouterr().err)
    assert str(source) in line


# --- bad input -------------------------------------------------------------------------------


def missing_file(folder):
    return folder / "missing.png", []


def text_file_named_png(folder):
    path = folder / "notes.png"
    path.write_text("this is text, not a PNG\n")
    return path, []


def truncated_jpeg(folder):
    path = save_8bit(folder / "cut.jpg", random_pixels(64, 64, seed=4), quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, []


def zero_byte_file(folder):
    path = folder / "empty.png"
    path.touch()
    return path, []


def image_smaller_than_min_side(folder):
    return save_8bit(folder / "sliver.png", random_pixels(8, 40)), ["--min-side", "16"]


def image_over_max_pixels(folder):
    return save_8bit(folder / "huge.png", random_pixels(64, 64)), ["--max-pixels", "2000"]


@pytest.mark.parametrize(
    "make_bad_input",
    [missing_file, text_file_named_png, truncated_jpeg, zero_byte_file, image_smaller_than_min_side, image_over_max_pixels],
)
def test_a_bad_input_gives_a_one_line_error_naming_it_and_the_good_files_are_still_processed(
    tmp_path, denoise, capsys, make_bad_input
):
    before = save_8bit(tmp_path / "before.png", random_pixels(32, 40, seed=5))
    bad, options = make_bad_input(tmp_path)
    after = save_8bit(tmp_path / "after.png", random_pixels(32, 40, seed=6))

    assert denoise(before, bad, after, *options) == 1

    stderr = capsys.readouterr().err
    assert_only_expected_lines(stderr)
    [line] = error_lines(stderr)
    assert str(bad) in line
    assert (tmp_path / "before_denoised.png").is_file() and (tmp_path / "after_denoised.png").is_file()
    assert not bad.with_name(f"{bad.stem}_denoised{bad.suffix}").exists()


def test_an_output_file_under_a_regular_file_gives_a_one_line_error(tmp_path, denoise, capsys):
    source = save_8bit(tmp_path / "photo.png", random_pixels())
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")

    assert denoise(source, "-o", blocker / "clean.png") == 1

    stderr = capsys.readouterr().err
    assert_only_expected_lines(stderr)
    [line] = error_lines(stderr)
    assert str(blocker / "clean.png") in line


def test_an_output_folder_under_a_regular_file_gives_a_one_line_error(tmp_path, denoise, capsys):
    source = save_8bit(tmp_path / "photo.png", random_pixels())
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")

    assert denoise(source, "-o", blocker / "results") == 1

    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("litedenoise: error:") and str(blocker) in line


# --- tiling, device, weights -----------------------------------------------------------------


def test_a_tile_smaller_than_the_image_gives_the_same_output_as_no_tiling(tmp_path, denoise):
    # 320x330 pads to 320x336, so tile 320 (the smallest valid: 2*144+16 = 304, rounded to 16)
    # splits the width into several overlapping tiles; the default budget gives one tile.
    source = save_8bit(tmp_path / "wide.png", random_pixels(320, 330, seed=7))

    assert denoise(source, "-o", tmp_path / "whole.png") == 0
    assert denoise(source, "-o", tmp_path / "tiled.png", "--tile", "320") == 0

    whole = load(tmp_path / "whole.png")[1].astype(np.int16)
    tiled = load(tmp_path / "tiled.png")[1].astype(np.int16)
    assert whole.shape == tiled.shape == (320, 330, 3)
    assert np.abs(whole - tiled).max() <= 1


def test_a_tile_too_small_for_the_receptive_field_gives_a_one_line_error(tmp_path, denoise, capsys):
    source = save_8bit(tmp_path / "photo.png", random_pixels(32, 64))

    assert denoise(source, "--tile", "32") == 1

    [line] = error_lines(capsys.readouterr().err)
    assert "--tile" in line or "tile" in line


@pytest.mark.parametrize(
    "option, value",
    [("--memory-mb", "0"), ("--memory-mb", "-5"), ("--memory-mb", "nan"), ("--memory-mb", "inf"), ("--tile", "0"), ("--tile", "-16"), ("--max-pixels", "-1"),
     ("--quality", "0"), ("--quality", "101"), ("--quality", "high"), ("--strength", "1.5"), ("--strength", "-0.1"), ("--strength", "nan")],
)
def test_a_number_out_of_range_is_refused_in_one_line_before_any_work(tmp_path, denoise, capsys, option, value):
    source = save_8bit(tmp_path / "photo.png", random_pixels())

    with pytest.raises(SystemExit) as exit:
        denoise(source, option, value)

    assert exit.value.code == 2
    [line] = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert f"argument {option}: must be" in line and repr(value) in line
    assert not (tmp_path / "photo_denoised.png").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_gives_a_one_line_error(tmp_path, denoise, capsys):
    source = save_8bit(tmp_path / "photo.png", random_pixels())

    assert denoise(source, "--device", "cuda") == 1

    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("litedenoise: error:") and "cuda" in line.lower()
    assert not (tmp_path / "photo_denoised.png").exists()


def student_file_claiming_width(path, width):
    """A width-2 student's tensors under metadata that says another width (save_weights refuses to write one)."""
    state = {key: value.contiguous() for key, value in LiteDenoiseNet(width=2).state_dict().items()}
    save_file(state, str(path), metadata={"architecture": "LiteDenoiseNet", "width": width})
    return path


def weights_with_a_false_width(folder):
    return student_file_claiming_width(folder / "false_width.safetensors", "4")


def weights_of_unrelated_tensors(folder):
    path = folder / "unrelated.safetensors"
    save_file({"encoder.weight": torch.randn(8, 3), "decoder.bias": torch.randn(8)}, str(path))
    return path


@pytest.mark.parametrize("make_weights", [weights_with_a_false_width, weights_of_unrelated_tensors])
def test_weights_whose_tensors_do_not_fit_give_a_one_line_error(tmp_path, capsys, make_weights):
    source = save_8bit(tmp_path / "photo.png", random_pixels())
    bad_weights = make_weights(tmp_path)

    assert main(["denoise", str(source), "--weights", str(bad_weights)]) == 1

    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("litedenoise: error:") and str(bad_weights) in line
    assert not (tmp_path / "photo_denoised.png").exists()


def test_weights_with_an_odd_width_in_their_metadata_give_a_one_line_error(tmp_path, capsys):
    source = save_8bit(tmp_path / "photo.png", random_pixels())
    bad_weights = student_file_claiming_width(tmp_path / "odd.safetensors", "3")

    assert main(["denoise", str(source), "--weights", str(bad_weights)]) == 1

    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("litedenoise: error:") and str(bad_weights) in line


# --- the real console script -----------------------------------------------------------------


def denoise_in_a_new_process(source, weights):
    """``python -m litedenoise.cli denoise SOURCE --weights WEIGHTS``: what a user's shell sees."""
    command = [sys.executable, "-m", "litedenoise.cli", "denoise", str(source), "--weights", str(weights)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_the_console_script_prints_only_its_progress_line_for_a_good_jpeg(tmp_path, weights):
    source = save_8bit(tmp_path / "photo.jpg", random_pixels(48, 64), quality=95)  # decoded read-only

    completed = denoise_in_a_new_process(source, weights)

    assert completed.returncode == 0
    assert completed.stderr.splitlines() == [f"{source} -> {tmp_path / 'photo_denoised.jpg'}"]


def test_the_console_script_reports_a_bad_input_in_one_line_without_a_traceback(tmp_path, weights):
    bad = tmp_path / "notes.png"
    bad.write_text("this is text, not a PNG\n")

    completed = denoise_in_a_new_process(bad, weights)

    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    [line] = error_lines(completed.stderr)
    assert str(bad) in line
    assert_only_expected_lines(completed.stderr)


def test_demo_refuses_an_output_that_is_a_file_and_a_data_folder_without_polyu_before_any_work(tmp_path, capsys, monkeypatch):
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    assert main(["demo", "-o", str(taken)]) == 1
    [line] = error_lines(capsys.readouterr().err)
    assert "cannot make the output folder" in line and taken.read_text() == "mine"

    monkeypatch.setenv("LITEDENOISE_DATA", str(tmp_path))
    assert main(["demo", "-o", str(tmp_path / "demo")]) == 1
    [line] = error_lines(capsys.readouterr().err)
    assert f"$LITEDENOISE_DATA {tmp_path} holds no PolyU pairs" in line and not (tmp_path / "demo").exists()
