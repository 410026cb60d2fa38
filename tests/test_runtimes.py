"""Runtimes: ONNX Runtime and LiteRT on fixed-size tiles give PyTorch's output; the export
cache; torch-bf16; ``litedenoise denoise --runtime``.

A width-2 student, exported once per format at 384x448 (height != width, so a swapped axis
shows) and shared by the tests; each export takes ~5-15 s on two busy cores. Tolerances
(max abs error on [0, 1] outputs): fp32 files 1e-5 against PyTorch (measured ~1e-7); torch-bf16
5e-3 against fp32 (measured ~1e-3).
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from litedenoise.cli import main
from litedenoise.errors import LiteDenoiseError
from litedenoise.export import convert
from litedenoise.infer import denoise_tensor, pad_to_multiple, plan_tiles, tile_side_for_budget
from litedenoise.models import LiteDenoiseNet
from litedenoise.runtimes import Backend, cached_export, load_backend
from litedenoise.weights import save_weights

TILE = (384, 448)  # (height, width); each kept pixel needs 144 px of context per side
STATIC_RUNTIMES = ("onnx", "tflite")


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    return LiteDenoiseNet(width=2).eval()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def backends(student, cache):
    """{runtime: backend} for the student exported at TILE into ``cache``."""
    return {runtime: load_backend(runtime, student, tile_size=TILE, threads=1, cache_dir=cache) for runtime in STATIC_RUNTIMES}


@pytest.fixture(scope="module")
def weights(student, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_weights(path, student, {"data": "test"})
    return path


def untiled(model, image, min_size=(0, 0)):
    """``model`` on the whole image padded as for a fixed tile of ``min_size``, cropped back."""
    padded = pad_to_multiple(image, model.size_multiple, min_size)
    with torch.no_grad():
        return model(padded)[..., : image.shape[-2], : image.shape[-1]]


@pytest.mark.parametrize("runtime", STATIC_RUNTIMES)
def test_a_static_file_on_several_fixed_tiles_matches_pytorch_on_the_whole_image(backends, student, runtime):
    image = torch.rand(1, 3, 397, 501)  # pads to 400x512: 2 x 2 tiles of 384x448
    backend = backends[runtime]
    assert isinstance(backend, Backend) and backend.fixed_size == TILE
    assert len(plan_tiles(400, 512, TILE, 140, 16, fixed=True)) == 4
    output = denoise_tensor(image, backend)
    assert output.shape == image.shape
    assert (output - untiled(student, image)).abs().max() < 1e-5


@pytest.mark.parametrize("runtime", STATIC_RUNTIMES)
@pytest.mark.parametrize("height, width", [(100, 150), (150, 501)], ids=["smaller", "smaller-in-height"])
def test_an_image_smaller_than_the_fixed_tile_is_padded_up_to_it(backends, student, runtime, height, width):
    image = torch.rand(1, 3, height, width)
    output = denoise_tensor(image, backends[runtime])
    assert output.shape == image.shape
    assert (output - untiled(student, image, min_size=TILE)).abs().max() < 1e-5


def test_a_second_load_reuses_the_cached_export(backends, student, cache, monkeypatch):
    files = sorted(cache.iterdir())
    assert [path.suffix for path in files] == [".onnx", ".tflite"]  # no temporary folders left behind
    mtimes = [path.stat().st_mtime_ns for path in files]

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(convert, "export_model", no_export)
    again = load_backend("tflite", student, tile_size=TILE, cache_dir=cache)
    assert again.path == backends["tflite"].path
    assert sorted(cache.iterdir()) == files and [path.stat().st_mtime_ns for path in files] == mtimes


@pytest.mark.parametrize("runtime", STATIC_RUNTIMES)
def test_a_damaged_cached_export_is_exported_again_and_a_bad_export_fails_once(backends, student, tmp_path, monkeypatch, capsys, runtime):
    cached = backends[runtime].path
    damaged = tmp_path / cached.name
    damaged.write_bytes(cached.read_bytes()[:1000])  # as a full disk would leave it
    backend = load_backend(runtime, student, tile_size=TILE, threads=1, cache_dir=tmp_path)
    assert backend.path == damaged and damaged.stat().st_size == cached.stat().st_size
    assert "exporting it again" in capsys.readouterr().err
    image = torch.rand(1, 3, *TILE)
    torch.testing.assert_close(backend(image), backends[runtime](image), atol=1e-5, rtol=0)

    damaged.write_bytes(b"not a model")
    monkeypatch.setattr(convert, "export_model", lambda model, path, **options: Path(path).write_bytes(b"still not a model"))
    with pytest.raises(LiteDenoiseError, match="not a readable"):
        load_backend(runtime, student, tile_size=TILE, threads=1, cache_dir=tmp_path)


def test_the_cache_key_follows_the_weights_precision_and_size(student, tmp_path, monkeypatch):
    exports = []

    def fake_export(model, path, **options):
        exports.append(options)
        path.write_bytes(b"exported")
        return path

    monkeypatch.setattr(convert, "export_model", fake_export)
    first = cached_export(student, "tflite", "fp32", TILE, tmp_path)
    assert cached_export(student, "tflite", "fp32", TILE, tmp_path) == first and len(exports) == 1
    torch.manual_seed(1)  # the student's seed is 0
    changed = LiteDenoiseNet(width=2).eval()
    paths = {
        cached_export(changed, "tflite", "fp32", TILE, tmp_path),
        cached_export(student, "tflite", "fp16", TILE, tmp_path),
        cached_export(student, "tflite", "fp32", (384, 384), tmp_path),
        cached_export(student, "onnx", "fp32", TILE, tmp_path),
        cached_export(student, "onnx", "fp32", None, tmp_path),
    }
    assert len(exports) == 6 and len(paths | {first}) == 6
    assert exports[-2]["layout"] == "nchw" and exports[0]["layout"] == "nhwc"
    assert exports[-1]["any_size"] and exports[-1]["size"] == (128, 128) and not exports[-2]["any_size"]


def test_an_exported_file_loads_with_its_own_shape_and_layout(backends):
    for runtime, layout in (("onnx", False), ("tflite", True)):
        backend = load_backend(runtime, backends[runtime].path, threads=1)
        assert backend.fixed_size == TILE and backend.nhwc == layout
        assert backend.size_multiple == 16 and backend.receptive_field_radius == 140


@pytest.fixture(scope="module")
def any_size_onnx(student, tmp_path_factory):
    """The student as an ONNX file of free height and width (its own cache: the fixed-size tests count theirs)."""
    return load_backend("onnx", student, threads=1, cache_dir=tmp_path_factory.mktemp("any-size-cache"))


def test_onnx_without_a_tile_size_takes_any_size_and_tiles_by_the_memory_budget(any_size_onnx, student):
    backend = any_size_onnx
    assert backend.fixed_size is None and "-fp32-anysize-nchw-" in backend.path.name and backend.name.endswith("any size")
    # the network's own fp32 working-memory figure sizes the tiles, as for PyTorch
    assert backend.working_bytes_per_pixel() == student.working_bytes_per_pixel(False)
    image = torch.rand(1, 3, 397, 501)  # pads to 400x512; tiles of 320 (the smallest is 304): 3 x 3 of them
    assert (denoise_tensor(image, backend, tile=320) - untiled(student, image)).abs().max() < 1e-5
    small = torch.rand(1, 3, 100, 150)  # one tile, padded to 112x160 only: no fixed size to fill
    assert (denoise_tensor(small, backend) - untiled(student, small)).abs().max() < 1e-5
    with pytest.raises(ValueError, match="multiples of 16"):
        backend(torch.rand(1, 3, 100, 160))


def test_an_any_size_onnx_file_loads_as_any_size_and_bad_free_axes_are_refused(any_size_onnx, tmp_path):
    from litedenoise.runtimes import _onnx_shape

    loaded = load_backend("onnx", any_size_onnx.path, threads=1)
    assert loaded.fixed_size is None and loaded.size_multiple == 16
    # a file alone says what it holds (here the width-2 test student), memory line included, not the fallback's
    assert loaded.working_bytes_per_pixel() == LiteDenoiseNet(width=2).working_bytes_per_pixel(False)
    anonymous = tmp_path / "anonymous.onnx"  # a file without our metadata is taken for the shipped student
    free_sides = {"x": {2: "h", 3: "w"}}
    torch.onnx.export(LiteDenoiseNet(width=2).eval(), (torch.rand(1, 3, 64, 64),), str(anonymous), dynamo=False, dynamic_axes=free_sides, input_names=["x"])
    unnamed = load_backend("onnx", anonymous, threads=1)
    assert unnamed.working_bytes_per_pixel() == LiteDenoiseNet().working_bytes_per_pixel(False)
    assert len(plan_tiles(1088, 1920, tile_side_for_budget(unnamed, 2048), 140, 16)) == 2  # not 15 by the fallback
    assert _onnx_shape(tmp_path, [1, 3, "16*rows", "16*cols"]) == (1, 3, None, None)
    assert _onnx_shape(tmp_path, [1, None, None, 3]) == (1, None, None, 3)
    for shape in ([1, 3, 384, "cols"], ["batch", 3, "rows", "cols"], [1, 3, 0, 448]):
        with pytest.raises(LiteDenoiseError, match="neither fixed nor free in height and width only"):
            _onnx_shape(tmp_path, shape)


def test_torch_is_pytorch_fp32_and_torch_bf16_is_close_to_it(student):
    image = torch.rand(1, 3, 64, 80)
    expected = untiled(student, image)
    fp32, bf16 = load_backend("torch", student), load_backend("torch-bf16", student)
    assert fp32.fixed_size is None and bf16.fixed_size is None
    assert (denoise_tensor(image, fp32) - expected).abs().max() < 1e-5
    assert (denoise_tensor(image, bf16) - expected).abs().max() < 5e-3
    assert next(student.parameters()).is_contiguous()  # the module given is copied, not converted to channels-last


def text_file(folder, name):
    path = folder / name
    path.write_text("not a model\n")
    return path


@pytest.mark.parametrize(
    "runtime, model, options, message",
    [
        ("jax", None, {}, "unknown runtime 'jax'"),
        ("tflite", None, {"precision": "int4"}, "unknown precision 'int4'"),
        ("torch", None, {"precision": "fp16"}, "runtime torch does not run precision 'fp16'"),
        ("onnx", None, {"precision": "a16w8"}, "a16w8"),  # refused by export_model: TFLite only
        ("tflite", "x.onnx", {}, r"x.onnx is a .onnx file, which runs on runtime onnx"),
        ("torch", "x.tflite", {}, r"x.tflite is a .tflite file, which runs on runtime tflite"),
        ("tflite", "notes.tflite", {}, "not a readable TFLite model"),
        ("onnx", "notes.onnx", {}, "not a readable ONNX model"),
        ("tflite", "missing.tflite", {}, "no such file"),
        ("tflite", None, {"threads": 0}, "threads must be at least 1"),
    ],
)
def test_bad_runtimes_precisions_and_files_give_one_line_errors(student, tmp_path, runtime, model, options, message):
    if model in ("notes.tflite", "notes.onnx"):
        model = text_file(tmp_path, model)
    elif model is not None:
        model = tmp_path / model
    cache = tmp_path / "cache"
    with pytest.raises(LiteDenoiseError, match=message) as error:
        load_backend(runtime, student if model is None else model, tile_size=TILE, cache_dir=cache, **options)
    assert "\n" not in str(error.value)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_an_exported_file_refuses_another_tile_size_and_a_precision(backends):
    path = backends["tflite"].path
    with pytest.raises(LiteDenoiseError, match="takes 384x448 tiles, not 320x320"):
        load_backend("tflite", path, tile_size=(320, 320))
    with pytest.raises(LiteDenoiseError, match="already exported"):
        load_backend("tflite", path, precision="int8")
    with pytest.raises(LiteDenoiseError, match="runs 384x448 tiles only"):
        denoise_tensor(torch.rand(1, 3, 64, 64), backends["tflite"], tile=320)


# --- litedenoise denoise --runtime ------------------------------------------------------------


def photo(folder, height=48, width=64):
    path = folder / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def test_cli_runtime_tflite_exports_the_weights_once_and_writes_the_image(weights, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LITEDENOISE_CACHE", str(tmp_path / "cache"))
    source = photo(tmp_path)
    assert main(["denoise", str(source), "--weights", str(weights), "--runtime", "tflite", "--tile", "320", "--threads", "1"]) == 0
    with Image.open(tmp_path / "photo_denoised.png") as result:
        assert result.size == (64, 48) and result.mode == "RGB"
    [exported] = (tmp_path / "cache").iterdir()
    assert "-fp32-320x320-nhwc-" in exported.name and exported.suffix == ".tflite"
    assert "litedenoise: error" not in capsys.readouterr().err


def test_cli_weights_naming_an_exported_file_runs_it_with_the_runtime_of_its_suffix(backends, student, tmp_path):
    source = photo(tmp_path, 100, 150)
    assert main(["denoise", str(source), "--weights", str(backends["onnx"].path), "-o", str(tmp_path / "out.png")]) == 0
    with Image.open(tmp_path / "out.png") as result:
        pixels = np.asarray(result).astype(np.float32) / 255
    with Image.open(source) as image:
        tensor = torch.from_numpy(np.asarray(image).transpose(2, 0, 1).copy()).float()[None] / 255
    expected = untiled(student, tensor, min_size=TILE)[0].numpy().transpose(1, 2, 0)
    assert np.abs(pixels - expected).max() <= 0.5 / 255 + 1e-5


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--runtime", "tflite", "--weights", "x.onnx"], "x.onnx is a .onnx file"),
        (["--runtime", "tflite", "--precision", "int4"], "unknown precision 'int4'"),
        (["--runtime", "torch", "--precision", "int8"], "runtime torch does not run precision 'int8'"),
        (["--runtime", "jax"], "unknown runtime 'jax'"),
        (["--weights", "NOTES"], "not a readable TFLite model"),
        (["--runtime", "tflite", "--device", "cuda"], "--device cuda is for the PyTorch runtimes"),
    ],
)
def test_cli_bad_runtime_precision_or_model_file_gives_one_line_and_exit_1(weights, tmp_path, capsys, arguments, message):
    source = photo(tmp_path)
    arguments = [str(text_file(tmp_path, "notes.tflite")) if item == "NOTES" else item for item in arguments]
    if "--weights" not in arguments:
        arguments += ["--weights", str(weights)]
    assert main(["denoise", str(source), *arguments]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("litedenoise: error:") and message in line
    assert not (tmp_path / "photo_denoised.png").exists()


def test_the_im2col_query_says_which_convolution_pytorch_runs_for_bf16_here():
    from torch.profiler import profile

    from litedenoise.runtimes import bf16_convolutions_use_im2col

    conv = torch.nn.Conv2d(8, 8, 3, padding=1)
    tile = torch.rand(1, 8, 32, 32).contiguous(memory_format=torch.channels_last)
    with profile() as profiler, torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        conv(tile)
    ran = {event.key for event in profiler.key_averages()}
    assert ("aten::_slow_conv2d_forward" in ran) == bf16_convolutions_use_im2col()


@pytest.mark.parametrize("flags, runtime, warned", [(set(), "torch-bf16", True), ({"avx512_bf16"}, "torch-bf16", False), (set(), "torch", False)])
def test_cli_torch_bf16_warns_where_the_cpu_emulates_bfloat16(weights, tmp_path, monkeypatch, capsys, flags, runtime, warned):
    import litedenoise.runtimes

    monkeypatch.setattr(litedenoise.runtimes, "cpu_flags", lambda: flags)
    source = photo(tmp_path)
    assert main(["denoise", str(source), "--weights", str(weights), "--runtime", runtime, "-o", str(tmp_path / "out.png")]) == 0
    assert ("runs emulated" in capsys.readouterr().err) == warned and (tmp_path / "out.png").is_file()


@pytest.mark.parametrize(
    "flags, expected", [({"avx512f", "avx512_bf16"}, "torch-bf16"), ({"amx_bf16"}, "torch-bf16"), ({"avx2", "avx512f"}, "torch"), (set(), "torch")]
)
def test_the_default_runtime_is_bf16_only_where_the_cpu_computes_it_natively(monkeypatch, flags, expected):
    import litedenoise.runtimes

    monkeypatch.setattr(litedenoise.runtimes, "cpu_flags", lambda: flags)
    assert litedenoise.runtimes.default_runtime() == expected


def test_cli_runtime_onnx_exports_an_any_size_file_once_and_tiles_by_tile(weights, student, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LITEDENOISE_CACHE", str(tmp_path / "cache"))
    source = photo(tmp_path, 330, 350)
    for run in range(2):
        assert main(["denoise", str(source), "--weights", str(weights), "--runtime", "onnx", "--tile", "320", "--threads", "1", "--overwrite"]) == 0
        notice = [line for line in capsys.readouterr().err.splitlines() if line.startswith("exporting")]
        assert notice == ([f"exporting LiteDenoiseNet for onnx fp32 at any size, once: cached in {tmp_path / 'cache'}"] if run == 0 else [])
    [exported] = (tmp_path / "cache").iterdir()
    assert "-fp32-anysize-nchw-" in exported.name  # --tile sized the tiles, not the file
    with Image.open(tmp_path / "photo_denoised.png") as result:
        pixels = np.asarray(result).astype(np.float32) / 255
    with Image.open(source) as image:
        tensor = torch.from_numpy(np.asarray(image).transpose(2, 0, 1).copy()).float()[None] / 255
    expected = untiled(student, tensor)[0].numpy().transpose(1, 2, 0)
    assert np.abs(pixels - expected).max() <= 0.5 / 255 + 1e-5


def test_an_exported_teacher_given_on_its_own_is_tiled_with_its_own_receptive_field(tmp_path):
    from litedenoise.models import TeacherNet

    teacher = TeacherNet(width=2).eval()
    path = convert.export_model(teacher, tmp_path / "teacher.onnx", size=(64, 64), any_size=True)
    alone = load_backend("onnx", path, threads=1)  # no network given: the file says what it holds
    assert (alone.size_multiple, alone.receptive_field_radius) == (8, 196)  # not the student's 16 and 140
    assert alone.working_bytes_per_pixel() == teacher.working_bytes_per_pixel(False)
    np.testing.assert_allclose(alone(torch.full((1, 3, 64, 64), 0.5)).numpy(), 0.5, atol=1e-6)  # it still runs
