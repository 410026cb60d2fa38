import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from litedenoise import infer
from litedenoise.bench import forward_working_bytes_in_new_process
from litedenoise.errors import LiteDenoiseError
from litedenoise.infer import denoise, denoise_tensor, pad_to_multiple, plan_tiles, tile_side_for_budget
from litedenoise.models import LiteDenoiseNet, TeacherNet
from litedenoise.runtimes import Backend, bf16_convolutions_use_im2col, load_backend


@pytest.fixture(scope="module")
def tiny_student():
    torch.manual_seed(1)
    return LiteDenoiseNet(width=4).eval()


@pytest.mark.parametrize(
    "height, width, tile, fixed",
    [
        (640, 800, 320, False),
        (2432, 3200, 2304, False),
        (48, 64, 320, False),
        (1088, 1920, 512, False),
        # static-shape files: every tile is exactly the file's size
        (400, 512, (384, 448), True),
        (1088, 1920, (512, 512), True),
        (384, 2000, (384, 448), True),
        (2432, 3200, (1024, 1024), True),
    ],
)
def test_tiles_partition_the_image_on_the_size_multiple_grid(height, width, tile, fixed):
    tiles = plan_tiles(height, width, tile=tile, overlap=140, multiple=16, fixed=fixed)
    covered = np.zeros((height, width), dtype=int)
    for t in tiles:
        assert t.top % 16 == 0 and t.left % 16 == 0 and t.height % 16 == 0 and t.width % 16 == 0
        assert not fixed or (t.height, t.width) == tile
        assert t.top + t.height <= height and t.left + t.width <= width
        for keep_start, keep_end, start, size, full in (
            (t.keep_top, t.keep_bottom, t.top, t.height, height),
            (t.keep_left, t.keep_right, t.left, t.width, width),
        ):
            # every kept pixel is at least the (rounded) overlap away from a cut edge
            assert start == 0 or keep_start - start >= 144
            assert start + size == full or start + size - keep_end >= 144
        covered[t.keep_top : t.keep_bottom, t.keep_left : t.keep_right] += 1
    assert (covered == 1).all()


@pytest.mark.parametrize(
    "height, width, tile, fixed, count",
    [
        (320, 320, 304, False, 4),  # each edge window keeps 160 px: 2 x 2, not 20 x 20 windows of 16 kept px
        (1088, 1920, 1456, False, 2),
        (2432, 3200, (1024, 1024), True, 12),  # 3 x 4: the first and last keep 880 px, the others 736
    ],
)
def test_edge_tiles_need_context_on_one_side_only_so_the_fewest_tiles_fit(height, width, tile, fixed, count):
    assert len(plan_tiles(height, width, tile=tile, overlap=140, multiple=16, fixed=fixed)) == count


def test_a_numpy_integer_tile_side_is_a_tile_side(tiny_student):
    image = np.random.default_rng(0).integers(0, 256, (40, 70, 3), dtype=np.uint8)
    np.testing.assert_array_equal(denoise(image, tiny_student, tile=np.int64(320)), denoise(image, tiny_student, tile=320))


def test_tiled_output_equals_untiled_output_with_a_small_memory_budget(tiny_student):
    image = torch.rand(1, 3, 421, 437)  # sides not multiples of 16
    whole = denoise_tensor(image, tiny_student, tile=10_000)
    tiled_by_budget = denoise_tensor(image, tiny_student, memory_budget_mb=40)
    assert len(plan_tiles(432, 448, tile_side_for_budget(tiny_student, 40), 140, 16)) >= 9  # at least 3x3 tiles
    assert tiled_by_budget.shape == image.shape
    assert (tiled_by_budget - whole).abs().max() <= 1e-5


@pytest.mark.parametrize("tta", [False, True])
def test_progress_hears_of_every_tile_from_none_to_all(tiny_student, tta):
    forwards, heard = [], []
    hook = tiny_student.register_forward_pre_hook(lambda module, inputs: forwards.append(inputs[0].shape))
    try:
        denoise(np.zeros((400, 500, 3), np.uint8), tiny_student, tile=320, tta=tta, progress=lambda done, total: heard.append((done, total)))
    finally:
        hook.remove()
    total = 8 if tta else len(forwards)
    assert len(forwards) > (8 if tta else 1) and heard == [(done, total) for done in range(total + 1)]


def test_a_module_runs_its_tiles_channels_last_and_is_left_as_it_was(tiny_student):
    layouts = []
    hook = tiny_student.register_forward_pre_hook(lambda _, inputs: layouts.append(inputs[0].is_contiguous(memory_format=torch.channels_last)))
    image = torch.rand(1, 3, 64, 80)
    try:
        result = denoise_tensor(image, tiny_student)
    finally:
        hook.remove()
    assert layouts == [True]  # faster and smaller than NCHW on the CPU (docs/foundation.md)
    assert (result - tiny_student(image)).abs().max() <= 1e-5
    assert all(parameter.is_contiguous() for parameter in tiny_student.parameters())


def test_a_module_gets_its_tiles_in_standard_nhwc_strides_whatever_the_image_layout(tiny_student):
    seen = []
    hook = tiny_student.register_forward_pre_hook(lambda _, inputs: seen.append((inputs[0].shape, inputs[0].stride())))
    try:
        denoise(np.zeros((48, 64, 3), np.uint8), tiny_student)  # one tile, a view of an HxWxC array
        denoise_tensor(torch.rand(1, 3, 40, 50), tiny_student)
    finally:
        hook.remove()
    assert len(seen) == 2
    for (_, channels, height, width), stride in seen:
        # a batch of one with another batch stride is channels-last to PyTorch, and ran 1.5x slower
        assert stride == (channels * height * width, 1, width * channels, channels)


@pytest.mark.parametrize("model_class", [LiteDenoiseNet, TeacherNet])
def test_wider_networks_get_smaller_tiles_for_the_same_memory_budget(model_class):
    sides = [tile_side_for_budget(model_class(width=width), 2048) for width in (4, 8, 16, 32)]
    assert sides == sorted(sides, reverse=True) and len(set(sides)) == 4


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="measures peak memory through Linux's /proc")
@pytest.mark.parametrize(
    "runtime, bf16",
    [
        ("torch", False),
        ("torch", True),  # oneDNN's bf16, or PyTorch's im2col fallback on CPUs without AVX-512
        ("onnx", False),  # the any-size ONNX file, whose tiles follow the network's fp32 figure
    ],
)
def test_a_tile_sized_for_a_memory_budget_uses_most_of_it_and_no_more(runtime, bf16):
    budget_mb = 512 if bf16 and bf16_convolutions_use_im2col() else 128  # im2col: far more memory per pixel
    side = tile_side_for_budget(LiteDenoiseNet(width=4), budget_mb, bf16=bf16)
    assert side >= 512  # set by the budget, far above the smallest tile this model allows
    used = forward_working_bytes_in_new_process("LiteDenoiseNet", 4, side, bf16=bf16, runtime=runtime)
    assert 0.4 * budget_mb * 2**20 < used <= budget_mb * 2**20


@pytest.mark.parametrize("im2col", [False, True])
def test_a_bf16_backend_gets_the_tiles_its_working_memory_allows(tiny_student, monkeypatch, im2col):
    # oneDNN's bf16 needs less memory than fp32; PyTorch's im2col fallback (no AVX-512) needs more
    monkeypatch.setattr(infer, "bf16_convolutions_use_im2col", lambda: im2col)
    monkeypatch.setattr(tiny_student, "forward", lambda tile: tile)  # only the tiling is under test
    image = torch.rand(1, 3, 448, 448)
    tiles = {}
    for runtime in ("torch", "torch-bf16"):
        backend = load_backend(runtime, tiny_student)
        calls = []
        backend.model.register_forward_pre_hook(lambda _, inputs, calls=calls: calls.append(inputs[0].shape))
        denoise_tensor(image, backend, memory_budget_mb=48)
        tiles[runtime] = len(calls)
    assert tiles["torch"] > 1
    assert tiles["torch-bf16"] > tiles["torch"] if im2col else tiles["torch-bf16"] == 1


@pytest.mark.parametrize("height, width, multiple, min_size", [(20, 20, 16, (0, 0)), (4, 5, 8, (0, 0)), (37, 29, 16, (64, 32)), (3, 2, 16, (0, 0))])
def test_padding_reflects_and_falls_back_to_replicate_for_tiny_images(height, width, multiple, min_size):
    image = torch.rand(1, 3, height, width)
    padded = pad_to_multiple(image, multiple, min_size)
    expected = image
    for axis, minimum in ((-2, min_size[0]), (-1, min_size[1])):
        side = expected.shape[axis]
        pad = max(-(-side // multiple) * multiple, minimum) - side
        mode = "reflect" if pad < side else "replicate"
        expected = torch.nn.functional.pad(expected, (0, 0, 0, pad) if axis == -2 else (0, pad, 0, 0), mode=mode)
    assert padded.shape == expected.shape and padded.shape[-2] % multiple == 0 and padded.shape[-1] % multiple == 0
    assert torch.equal(padded, expected)


_IMAGE_BUFFERS_SCRIPT = """
import resource, sys, numpy as np, torch
from pathlib import Path
from litedenoise.infer import denoise
from litedenoise.runtimes import Backend

class Copy(Backend):  # no network: what is left is the image buffers and one tile
    name, size_multiple, receptive_field_radius = "copy", 16, 16
    def __call__(self, tile):
        return tile.clone()

image = np.random.default_rng(0).integers(0, 256, (2000, 3000, 3), dtype=np.uint8)
denoise(image[:64, :64], Copy(), tile=64)
Path("/proc/self/clear_refs").write_text("5")
before = int(next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS")).split()[1])
denoise(image, Copy(), tile=512)
peak = int(next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM")).split()[1])
print((peak - before) * 1024 / image.shape[0] / image.shape[1])
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="measures peak memory through Linux's /proc")
def test_a_big_image_costs_little_memory_beyond_its_tiles():
    result = subprocess.run([sys.executable, "-c", _IMAGE_BUFFERS_SCRIPT], capture_output=True, text=True, check=True)
    bytes_per_pixel = float(result.stdout.strip())
    # the uint8 result (3 bytes per pixel) and one 512 px tile's buffers; a whole float32 copy
    # of the image, in or out, would be 12 more
    assert bytes_per_pixel < 10


@pytest.mark.parametrize(
    "image",
    [
        np.random.default_rng(0).integers(0, 256, (37, 29, 3), dtype=np.uint8),
        np.random.default_rng(0).integers(0, 65536, (37, 29, 3), dtype=np.uint16),
        np.random.default_rng(0).random((37, 29, 3), dtype=np.float32),
        np.random.default_rng(0).integers(0, 256, (37, 29), dtype=np.uint8),
    ],
    ids=["uint8", "uint16", "float32", "grey"],
)
def test_denoise_returns_the_input_shape_and_dtype(image, tiny_student):
    output = denoise(image, tiny_student)
    assert output.shape == image.shape and output.dtype == image.dtype


def test_denoise_passes_alpha_through_untouched(tiny_student):
    image = np.random.default_rng(0).integers(0, 256, (20, 24, 4), dtype=np.uint8)
    output = denoise(image, tiny_student)
    assert np.array_equal(output[..., 3], image[..., 3])


def test_views_of_an_array_are_denoised_like_their_copies(tiny_student):
    image = np.random.default_rng(0).integers(0, 256, (40, 50, 4), dtype=np.uint8)
    for view in (image[::-1], image[5:37, 3:45], image[..., :3], image[..., 0]):
        assert np.array_equal(denoise(view, tiny_student), denoise(view.copy(), tiny_student))


def test_a_float64_image_keeps_its_alpha_exactly(tiny_student):
    image = np.random.default_rng(0).random((20, 24, 4))
    output = denoise(image, tiny_student)
    assert output.dtype == np.float64 and np.array_equal(output[..., 3], image[..., 3])


def test_uint8_result_matches_the_tensor_path_rounded(tiny_student):
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    expected = denoise_tensor(torch.from_numpy(image.transpose(2, 0, 1)).float()[None] / 255, tiny_student)
    expected = np.round(expected[0].numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
    assert np.array_equal(denoise(image, tiny_student), expected)


@pytest.mark.parametrize("bad", [np.zeros((0, 64, 3), np.uint8), np.zeros((0, 0), np.uint8), [[0.5, 0.5]]], ids=["no-rows", "empty", "list"])
def test_an_empty_image_or_one_that_is_not_an_array_is_refused(bad, tiny_student):
    with pytest.raises(LiteDenoiseError, match="expected"):
        denoise(bad, tiny_student)


def test_a_model_given_by_name_or_an_integer_tensor_is_refused(tiny_student):
    with pytest.raises(LiteDenoiseError, match="not str: see litedenoise.load_model"):
        denoise(np.zeros((16, 16, 3), np.uint8), "student")
    with pytest.raises(ValueError, match="float tensor"):  # it came back as a uint8 tensor of 0s and 1s
        denoise_tensor(torch.full((1, 3, 16, 16), 255, dtype=torch.uint8), tiny_student)


class _StaticCopy(Backend):  # a static-shape file's contract, without the file
    name, size_multiple, receptive_field_radius, fixed_size = "small.onnx", 16, 140, (64, 64)

    def __call__(self, tile):
        return tile.clone()


@pytest.mark.parametrize(
    "model, tile, message, one_tile",
    [
        (_StaticCopy(), None, "small.onnx runs 64x64 tiles only: too small to cut this 96x128 image into tiles; this network needs 304 or more", (48, 64)),
        (None, 17, "tile 17: too small to cut this 96x128 image into tiles; this network needs 304 or more", (16, 16)),
    ],
    ids=["static-file", "tile-17"],
)
def test_a_tile_too_small_to_cut_the_image_is_refused_by_the_size_given(model, tile, message, one_tile, tiny_student):
    with pytest.raises(LiteDenoiseError) as error:
        denoise_tensor(torch.rand(1, 3, 96, 128), model or tiny_student, tile=tile)
    assert message in str(error.value)
    assert denoise_tensor(torch.rand(1, 3, *one_tile), model or tiny_student, tile=tile).shape == (1, 3, *one_tile)  # one tile: fine


@pytest.mark.parametrize("bad", [np.full((8, 8, 3), 1.5, np.float32), np.full((8, 8, 3), np.nan, np.float32)])
def test_float_images_outside_the_unit_range_are_refused(bad, tiny_student):
    with pytest.raises(LiteDenoiseError, match=r"\[0, 1\]"):
        denoise(bad, tiny_student)


@pytest.mark.parametrize(
    "options", [{"memory_budget_mb": 0}, {"memory_budget_mb": float("nan")}, {"memory_budget_mb": float("inf")}, {"tile": 0}, {"tile": 256.0}]
)
def test_a_budget_or_tile_that_is_not_a_positive_number_is_refused(options, tiny_student):
    with pytest.raises(LiteDenoiseError, match="must be a"):
        denoise_tensor(torch.rand(1, 3, 32, 32), tiny_student, **options)


@pytest.mark.parametrize("shape, dtype", [((40, 48, 3), np.uint8), ((40, 48), np.uint8), ((40, 48, 4), np.uint16), ((40, 48, 3), np.float32)])
def test_strength_blends_the_result_with_the_input_from_none_to_all(tiny_student, shape, dtype):
    rng = np.random.default_rng(0)
    image = rng.random(shape).astype(dtype) if dtype == np.float32 else rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    full = denoise(image, tiny_student)
    np.testing.assert_array_equal(denoise(image, tiny_student, strength=1.0), full)
    np.testing.assert_array_equal(denoise(image, tiny_student, strength=0.0), image)
    half = denoise(image, tiny_student, strength=0.5).astype(np.float64)
    step = 1e-6 if dtype == np.float32 else 1  # one rounding step
    assert np.abs(half - (image.astype(np.float64) + full) / 2).max() <= step
    assert np.abs(full.astype(np.float64) - image).max() > 4 * step  # the network did change it


@pytest.mark.parametrize("strength", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_a_strength_outside_0_to_1_is_refused(tiny_student, strength):
    with pytest.raises(LiteDenoiseError, match="strength must be a number from 0 to 1"):
        denoise(np.zeros((8, 8, 3), np.uint8), tiny_student, strength=strength)


def test_unsupported_shapes_and_dtypes_are_refused(tiny_student):
    with pytest.raises(LiteDenoiseError):
        denoise(np.zeros((8, 8, 5), np.uint8), tiny_student)
    with pytest.raises(LiteDenoiseError):
        denoise(np.zeros((8, 8, 3), np.int32), tiny_student)


@pytest.mark.parametrize(
    "shape, tta", [((421, 437, 3), False), ((421, 437), False), ((421, 437, 1), False), ((421, 437, 3), True)], ids=["rgb", "grey", "grey-hwc", "rgb-tta"]
)
def test_an_integer_image_is_the_float_path_rounded_when_converted_tile_by_tile(shape, tta, tiny_student):
    image = np.random.default_rng(0).integers(0, 65536, shape, dtype=np.uint16)
    rgb = np.broadcast_to(image.reshape(421, 437, -1), (421, 437, 3)).transpose(2, 0, 1).astype(np.float32)
    expected = denoise_tensor(torch.from_numpy(rgb)[None] / 65535, tiny_student, tile=10_000, tta=tta)[0].numpy().transpose(1, 2, 0)
    if len(shape) == 2 or shape[2] == 1:
        expected = expected.mean(axis=2).reshape(shape)
    expected = np.round(np.clip(expected, 0.0, 1.0) * 65535)
    result = denoise(image, tiny_student, memory_budget_mb=48, tta=tta)  # 3x3 tiles or more
    assert result.dtype == np.uint16 and np.abs(result - expected).max() <= 1  # tiled equals whole up to float rounding
