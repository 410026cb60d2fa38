"""Export to TFLite and ONNX, the file audit, and the ``export`` / ``audit`` commands.

The student here is width 4, not 2: at width 2 the first LiteBlock squeezes to one channel, and
the TFLite converter rewrites a one-input-channel conv as DEPTHWISE_CONV_2D (not on the
allowlist); from width 4 up (the shipped model is 16) every conv stays CONV_2D. Images are
64x64 and the teacher width 2 at 16x16, so each conversion takes seconds on two busy cores.

Tolerances against PyTorch (max abs error on [0, 1] outputs): fp32 1e-5 (measured ~6e-8),
fp16 TFLite weights 1e-3 (measured ~3e-5), fp16 ONNX graph 2e-3 (measured ~3e-4). Integer
exports of the random-init student are compared by PSNR between the two outputs: int8 on an
image it was not calibrated on > 40 dB (measured 49.4 dB), a16w8 on a calibration crop > 70 dB
(measured 87.1 dB; int8 there 55.7 dB).
"""

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter
from torch import nn

from litedenoise.cli import main
from litedenoise.errors import LiteDenoiseError
from litedenoise.export import allowlist
from litedenoise.export.convert import export_model
from litedenoise.export.file_audit import audit_file
from litedenoise.export.quantize import calibration_crops
from litedenoise.imageio import write_image
from litedenoise.infer import denoise_tensor
from litedenoise.models import LiteDenoiseNet, TeacherNet
from litedenoise.runtimes import load_backend
from litedenoise.weights import load_model, save_weights

SIZE = (64, 64)
CALIBRATION_SIZE = (32, 32)  # not SIZE: the int8 test carries the calibration across sizes
STUDENT_TFLITE_OPERATORS = {"CONV_2D", "ADD", "PAD", "RESIZE_NEAREST_NEIGHBOR", "CONCATENATION", "RELU_0_TO_1"}
STUDENT_ONNX_OPERATORS = {"Conv", "Relu", "Add", "Resize", "Concat", "Clip"}


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    return LiteDenoiseNet(width=4).eval()


@pytest.fixture(scope="module")
def exported(student, tmp_path_factory):
    """The student exported once in each format and precision: {(format, precision): path}."""
    folder = tmp_path_factory.mktemp("exported")
    files = {}
    for file_format in ("tflite", "onnx"):
        for precision in ("fp32", "fp16"):
            path = folder / f"student_{precision}.{file_format}"
            files[file_format, precision] = export_model(student, path, precision=precision, size=SIZE)
    return files


@pytest.fixture(scope="module")
def image():
    return torch.rand(1, 3, *SIZE, generator=torch.Generator().manual_seed(1))


def run_tflite(path: Path, nhwc: np.ndarray) -> np.ndarray:
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], nhwc)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def run_onnx(path: Path, nchw: np.ndarray) -> np.ndarray:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"image": nchw})[0]


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-5), ("fp16", 1e-3)])
def test_student_tflite_is_npu_clean_nhwc_and_matches_pytorch(exported, student, image, precision, tolerance):
    path = exported["tflite", precision]
    audit = audit_file(path)
    assert audit.ok, audit.render()
    expected_operators = STUDENT_TFLITE_OPERATORS | ({"DEQUANTIZE"} if precision == "fp16" else set())
    assert set(audit.operator_counts()) == expected_operators
    assert audit.inputs[0].endswith("float32[1, 64, 64, 3]")
    with torch.no_grad():
        expected = student(image).permute(0, 2, 3, 1).numpy()
    output = run_tflite(path, image.permute(0, 2, 3, 1).contiguous().numpy())
    assert output.shape == (1, *SIZE, 3)
    assert np.abs(output - expected).max() < tolerance


def test_fp16_tflite_stores_fp16_weights_at_about_half_the_size(exported):
    fp16 = audit_file(exported["tflite", "fp16"])
    assert any(row.operator == "DEQUANTIZE" and row.attributes == "float16 -> float32" for row in fp16.operators)
    assert exported["tflite", "fp16"].stat().st_size < 0.6 * exported["tflite", "fp32"].stat().st_size


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-5), ("fp16", 2e-3)])
def test_student_onnx_is_npu_clean_nchw_and_matches_pytorch(exported, student, image, precision, tolerance):
    path = exported["onnx", precision]
    audit = audit_file(path)
    assert audit.ok, audit.render()
    assert set(audit.operator_counts()) == STUDENT_ONNX_OPERATORS | ({"Cast"} if precision == "fp16" else set())
    assert audit.inputs == ["image: float32[1, 3, 64, 64]"]
    assert onnx.load(str(path)).opset_import[0].version >= 17
    with torch.no_grad():
        expected = student(image).numpy()
    assert np.abs(run_onnx(path, image.numpy()) - expected).max() < tolerance


def test_the_audit_table_lists_every_operator_with_kernel_stride_and_verdict(exported):
    text = audit_file(exported["tflite", "fp32"]).render()
    assert "CONV_2D" in text and "3x3 stride 2 dilation 1 VALID fused RELU" in text
    assert "RESIZE_NEAREST_NEIGHBOR" in text and "32x32 -> 64x64" in text
    assert text.splitlines()[-1].startswith("OK: all")


def test_tflite_audit_names_the_teachers_transposed_conv_2x2_conv_and_prelu(tmp_path):
    # the teacher's three non-NPU layers; the whole tiny TeacherNet takes ~20 s to convert here
    teachers_layers = nn.Sequential(nn.Conv2d(3, 4, 2, stride=2), nn.PReLU(4), nn.ConvTranspose2d(4, 3, 2, stride=2)).eval()
    audit = audit_file(export_model(teachers_layers, tmp_path / "teacher.tflite", size=(16, 16)))
    assert not audit.ok
    reasons = {(v.operator, v.reason) for v in audit.violations}
    assert ("TRANSPOSE_CONV", "operator not NPU-native") in reasons
    assert ("CONV_2D", "kernel 2x2 (only 3x3)") in reasons
    # litert-torch lowers PReLU to relu(x) - alpha * relu(-x): the MUL and SUB are what is left of it
    assert {"MUL", "SUB"} <= {operator for operator, _ in reasons}
    assert "NOT NPU-ready" in audit.render()


def test_teacher_onnx_audit_names_prelu_and_transposed_conv(tmp_path):
    torch.manual_seed(0)
    audit = audit_file(export_model(TeacherNet(width=2), tmp_path / "teacher.onnx", size=(16, 16)))
    operators = {v.operator for v in audit.violations if v.reason == "operator not NPU-native"}
    assert {"PRelu", "ConvTranspose"} <= operators
    assert any(v.operator == "Conv" and "kernel 2x2" in v.reason for v in audit.violations)


def test_a_fused_relu6_is_flagged(tmp_path):
    class ConvRelu6(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return nn.functional.relu6(self.conv(x))

    audit = audit_file(export_model(ConvRelu6().eval(), tmp_path / "relu6.tflite", size=(16, 16)))
    assert [v.reason for v in audit.violations] == ["fused activation RELU6 (only ReLU or none)"]


def test_dynamic_shapes_and_non_nearest_resize_are_flagged(tmp_path):
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "height", "width"])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, None, None])
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    resize = helper.make_node("Resize", ["image", "", "scales"], ["out"], mode="linear")
    graph = helper.make_graph([resize], "g", [image], [out], initializer=[scales])
    path = tmp_path / "dynamic.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    audit = audit_file(path)
    reasons = [str(v) for v in audit.violations]
    assert any("input image" in r and "dynamic shape" in r for r in reasons)
    assert any("mode linear (only nearest)" in r for r in reasons)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"size": (40, 64)}, "size 40x64 is not a multiple of 16"),
        ({"format": "coreml"}, "unknown format 'coreml'"),
        ({"precision": "int4"}, "unknown precision 'int4'"),
        ({"layout": "nhwc", "format": "onnx"}, "ONNX export is NCHW only"),
        ({"precision": "a16w8", "format": "onnx"}, "a16w8 export is TFLite only"),
        ({"calibration": "photos"}, "calibration images .* are for int8 and a16w8 exports, not fp32"),
        ({"precision": "int8", "calibration_size": (40, 40)}, "calibration size 40x40 is not a multiple of 16"),
        ({"any_size": True}, "any-size export is ONNX fp32 or fp16 only, not tflite fp32"),
        ({"any_size": True, "format": "onnx", "precision": "int8"}, "any-size export is ONNX fp32 or fp16 only, not onnx int8"),
    ],
)
def test_bad_export_options_give_one_line_errors_and_write_nothing(student, tmp_path, options, message):
    name = "out.onnx" if options.get("format") == "onnx" else "out.tflite"
    with pytest.raises(LiteDenoiseError, match=message) as error:
        export_model(student, tmp_path / name, **{"size": SIZE, **options})
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_is_kept_without_overwrite(student, tmp_path):
    path = tmp_path / "out.onnx"
    path.write_bytes(b"mine")
    with pytest.raises(LiteDenoiseError, match="already exists; use --overwrite") as error:
        export_model(student, path, size=SIZE)
    assert "\n" not in str(error.value)
    assert path.read_bytes() == b"mine" and list(tmp_path.iterdir()) == [path]


def test_a_file_that_is_no_model_gives_a_one_line_error(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_bytes(b"\xff\xff not a protobuf")
    with pytest.raises(LiteDenoiseError, match="not a readable ONNX file") as error:
        audit_file(path)
    assert "\n" not in str(error.value)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    save_weights(folder / "student.safetensors", LiteDenoiseNet(width=4), {"data": "test"})
    save_weights(folder / "teacher.safetensors", TeacherNet(width=2), {"data": "test"})
    return folder


def test_cli_export_writes_and_audits_the_student(weights, tmp_path, capsys):
    output = tmp_path / "student.onnx"
    code = main(["export", "student", "--weights", str(weights / "student.safetensors"), "--size", "64x64", "-o", str(output)])
    assert code == 0 and output.is_file()
    printed = capsys.readouterr()
    assert "OK: all" in printed.out and f"wrote {output}" in printed.out
    # 64 px is less than the context a tile needs on both sides: such a file cannot tile a larger image
    assert "note: student.onnx denoises images of up to 64x64; larger ones need a file of 304x304 or more" in printed.err
    assert main(["audit", str(output)]) == 0


def test_cli_any_size_onnx_export_is_flagged_for_npus_but_succeeds_and_runs_any_size(weights, tmp_path, capsys):
    output = tmp_path / "student.onnx"
    code = main(["export", "student", "--weights", str(weights / "student.safetensors"), "--size", "64x64", "--any-size", "-o", str(output)])
    printed = capsys.readouterr()
    assert code == 0 and "dynamic shape" in printed.out and "NOT NPU-ready" in printed.out
    assert "note: student.onnx is for ONNX Runtime on a PC; for an NPU export at a fixed --size" in printed.err
    assert "denoises images of up to" not in printed.err  # --size was only the example traced
    model = load_model(weights / "student.safetensors")
    image = torch.rand(1, 3, 48, 80)  # neither 64x64 nor a multiple of 16: run_tiles pads it
    output_image = denoise_tensor(image, load_backend("onnx", output, threads=1))
    assert output_image.shape == image.shape
    assert (output_image - denoise_tensor(image, model)).abs().max() < 1e-5
    assert main(["audit", str(output)]) == 1


def test_cli_export_lists_the_teachers_violations_but_succeeds_and_audit_fails_on_them(weights, tmp_path, capsys):
    output = tmp_path / "teacher.onnx"
    assert main(["export", "teacher", "--weights", str(weights / "teacher.safetensors"), "--size", "16x16", "-o", str(output)]) == 0
    assert "PRelu" in capsys.readouterr().out
    assert main(["audit", str(output)]) == 1


def test_cli_export_of_a_student_with_a_violation_exits_1(weights, tmp_path, capsys):
    # NCHW TFLite I/O brings TRANSPOSE ops, which are not on the allowlist
    output = tmp_path / "student.tflite"
    arguments = ["export", "student", "--weights", str(weights / "student.safetensors"), "--size", "64x64", "--layout", "nchw", "-o", str(output)]
    assert main(arguments) == 1
    captured = capsys.readouterr()
    assert "TRANSPOSE" in captured.out and "outside the NPU allowlist" in captured.err


def test_cli_export_errors_are_one_line(weights, tmp_path, capsys):
    arguments = ["export", "student", "--weights", str(weights / "student.safetensors"), "-o", str(tmp_path / "s.tflite")]
    assert main([*arguments, "--size", "40x64"]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
    with pytest.raises(SystemExit) as usage:
        main([*arguments, "--size", "64by64"])
    assert usage.value.code == 2
    assert main(["export", "student", "--weights", str(weights / "teacher.safetensors"), "-o", str(tmp_path / "s.onnx")]) == 1
    assert "holds a TeacherNet, not a LiteDenoiseNet" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --- integer exports ---------------------------------------------------------------------------


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def photo_like(height: int, width: int, seed: int) -> np.ndarray:
    """HxWx3 uint8: smooth colour waves plus noise, standing in for a noisy photo."""
    rows, columns = np.mgrid[0:height, 0:width] / max(height, width)
    rng = np.random.default_rng(seed)
    phase = rng.random(3) * 6
    waves = np.stack([columns * 4 + phase[0], rows * 5 + phase[1], (rows + columns) * 3 + phase[2]], axis=2)
    return np.clip(127 + 100 * np.sin(waves) + rng.normal(0, 12, waves.shape), 0, 255).astype(np.uint8)


def photo_tensor(height: int, width: int, seed: int) -> torch.Tensor:
    return torch.from_numpy(photo_like(height, width, seed)).permute(2, 0, 1)[None].float() / 255


@pytest.fixture(scope="module")
def calibration_folder(tmp_path_factory):
    """Four 48x40 photo-like PNGs, larger than the 32x32 calibration crop."""
    folder = tmp_path_factory.mktemp("calibration")
    for index in range(4):
        write_image(folder / f"shot{index}.png", photo_like(40, 48, seed=index))
    return folder


@pytest.fixture(scope="module")
def int8_student(student, calibration_folder, tmp_path_factory):
    path = tmp_path_factory.mktemp("int8") / "student_int8.tflite"
    return export_model(student, path, precision="int8", size=SIZE, calibration=calibration_folder, calibration_size=CALIBRATION_SIZE)


def test_int8_student_calibrated_at_a_smaller_size_is_integer_throughout_with_float_io(int8_student):
    audit = audit_file(int8_student)
    assert audit.ok, audit.render()
    # one QUANTIZE after the float32 input, one DEQUANTIZE before the output, int8 between:
    # no requantising QUANTIZE before the concatenations, and the clamp stays RELU_0_TO_1 in int8
    counts = audit.operator_counts()
    assert set(counts) == STUDENT_TFLITE_OPERATORS | {"QUANTIZE", "DEQUANTIZE"}
    assert counts["QUANTIZE"] == counts["DEQUANTIZE"] == 1
    for row in audit.operators:
        expected = {"QUANTIZE": "float32, int8", "DEQUANTIZE": "float32, int8"}.get(row.operator)
        assert row.dtypes in ([expected] if expected else ["int8", "int32, int8"]), row
    assert audit.inputs[0].endswith("float32[1, 64, 64, 3]") and audit.outputs[0].endswith("float32[1, 64, 64, 3]")


def test_int8_student_matches_pytorch_within_40_db(int8_student, student):
    image = photo_tensor(*SIZE, seed=10)  # like the calibration images, not one of them
    with torch.no_grad():
        expected = student(image).permute(0, 2, 3, 1).numpy()
    output = run_tflite(int8_student, image.permute(0, 2, 3, 1).contiguous().numpy())
    assert output.min() >= 0 and output.max() <= 1
    assert psnr(output, expected) > 40


def test_the_audit_flags_requantising_and_float_ops_inside_an_int8_graph(exported, tmp_path):
    # ai-edge-quantizer's plain recipe, without export_model's boundary and range handling
    from ai_edge_quantizer import quantizer, recipe

    plain = quantizer.Quantizer(str(exported["tflite", "fp32"]), recipe.static_wi8_ai8())
    sample = {"args_0": np.random.default_rng(0).random((1, *SIZE, 3), dtype=np.float32)}
    statistics = plain.calibrate({"serving_default": [sample]}, num_threads=1)
    path = tmp_path / "plain_int8.tflite"
    path.write_bytes(bytes(plain.quantize(statistics, enable_progress_bar=False, enable_progress_report=False).quantized_model))
    violations = audit_file(path).violations
    assert ("RELU_0_TO_1", allowlist.FLOAT_COMPUTE_IN_INTEGER_GRAPH) in {(v.operator, v.reason) for v in violations}
    conversions = [v.reason for v in violations if v.operator in ("QUANTIZE", "DEQUANTIZE")]
    assert any(reason.startswith("int8 -> int8 inside the graph") for reason in conversions)  # before each concatenation
    assert any(reason.startswith("int8 -> float32 inside the graph") for reason in conversions)  # around the float clamp


def test_calibration_is_carried_only_between_identical_graphs(exported):
    from litedenoise.export.quantize import _carried, _read

    fp32, fp16 = (_read(exported["tflite", precision].read_bytes()) for precision in ("fp32", "fp16"))
    names = [tensor.name.decode() for tensor in fp32.subgraphs[0].tensors]
    assert _carried({names[0]: "range"}, fp32, fp32) == {names[0]: "range"}
    with pytest.raises(LiteDenoiseError, match="converts to a different graph at the calibration size"):
        _carried({names[0]: "range"}, fp16, fp32)  # the fp16 graph has DEQUANTIZE ops the fp32 one has not


def test_an_int8_export_without_calibration_images_gives_a_one_line_error_and_writes_nothing(student, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    output = tmp_path / "out"
    output.mkdir()
    with pytest.raises(LiteDenoiseError, match="holds no images") as error:
        export_model(student, output / "s.tflite", precision="int8", size=SIZE, calibration=empty)
    assert "\n" not in str(error.value)
    monkeypatch.delenv("LITEDENOISE_DATA", raising=False)
    with pytest.raises(LiteDenoiseError, match="give a calibration folder") as error:
        export_model(student, output / "s.tflite", precision="int8", size=SIZE)
    assert "\n" not in str(error.value)
    assert list(output.iterdir()) == []


def test_default_calibration_takes_centre_crops_of_the_noisy_polyu_train_images(tmp_path):
    polyu = tmp_path / "polyu"
    for side, value in (("noisy", 200), ("clean", 100)):
        (polyu / "crops" / side).mkdir(parents=True)
        for name in ("a", "b", "c"):
            pixels = np.zeros((40, 48, 3), np.uint8)
            pixels[4:36, 8:40] = value  # the centre 32x32
            write_image(polyu / "crops" / side / f"{name}.png", pixels)
    (polyu / "split.json").write_text('{"train": {"crops": ["a", "b", "c"]}}')
    crops = calibration_crops(None, CALIBRATION_SIZE, count=2, data=tmp_path)
    assert len(crops) == 2 and crops[0].shape == (1, 32, 32, 3) and crops[0].dtype == np.float32
    assert all(np.all(crop == np.float32(200 / 255)) for crop in crops)


def test_cli_exports_an_a16w8_student_that_is_integer_throughout_and_close_to_pytorch(weights, student, calibration_folder, tmp_path, capsys):
    output = tmp_path / "student_a16w8.tflite"
    arguments = ["export", "student", "--weights", str(weights / "student.safetensors"), "-o", str(output)]
    arguments += ["--precision", "a16w8", "--size", "32x32", "--calibration", str(calibration_folder), "--calibration-size", "32x32"]
    assert main(arguments) == 0
    assert "OK: all" in capsys.readouterr().out
    audit = audit_file(output)
    # int16 has no RELU_0_TO_1 kernel: the clamp is a RELU saturating at 1.0
    assert set(audit.operator_counts()) == STUDENT_TFLITE_OPERATORS - {"RELU_0_TO_1"} | {"RELU", "QUANTIZE", "DEQUANTIZE"}
    assert all("float32" not in row.dtypes for row in audit.operators if row.operator not in ("QUANTIZE", "DEQUANTIZE"))
    assert any("int16" in row.dtypes for row in audit.operators if row.operator == "RELU")
    # int16 resolution shows on a calibrated image: on a new one the error is activations outside
    # the ranges four images gave (~49 dB for int8 and a16w8 alike)
    image = photo_tensor(40, 48, seed=0)[:, :, 4:36, 8:40]  # the centre crop calibrated on
    with torch.no_grad():
        expected = student(image).permute(0, 2, 3, 1).numpy()
    assert psnr(run_tflite(output, image.permute(0, 2, 3, 1).contiguous().numpy()), expected) > 70


def test_cli_int8_export_with_an_empty_calibration_folder_exits_1_with_one_line(weights, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    output = tmp_path / "student.tflite"
    arguments = ["export", "student", "--weights", str(weights / "student.safetensors"), "-o", str(output), "--precision", "int8"]
    assert main([*arguments, "--calibration", str(empty)]) == 1
    error = capsys.readouterr().err
    assert "holds no images" in error and error.strip().count("\n") == 0
    assert not output.exists()


def test_a_full_width_int8_student_keeps_its_weights_and_loads(calibration_folder, tmp_path):
    # The quantizer stores large constants after the flatbuffer; moving the clamp re-packs the
    # model, which once dropped them and left a 94 KB file that LiteRT refused to load.
    torch.manual_seed(0)
    path = export_model(
        LiteDenoiseNet().eval(), tmp_path / "full.tflite", precision="int8", size=(32, 32), calibration=calibration_folder, calibration_size=(32, 32)
    )
    assert path.stat().st_size > 1_900_000  # 1.96M int8 weights
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    assert audit_file(path).ok


def test_int8_ranges_cover_every_calibration_image_not_mostly_the_first(student, tmp_path):
    # ai-edge-quantizer's own calibration merged images by a moving average that weights the first
    # ones most: after dark first images a bright one clipped at the residual ADD (PolyU val lost
    # 6.3 dB). The ranges must come from all images alike.
    folder = tmp_path / "calibration"
    folder.mkdir()
    for index in range(4):
        write_image(folder / f"{index}_dark.png", (photo_like(32, 32, seed=index) * 0.25).astype(np.uint8))
    bright = 255 - (photo_like(32, 32, seed=9) * 0.25).astype(np.uint8)
    write_image(folder / "9_bright.png", bright)
    path = export_model(student, tmp_path / "s.tflite", precision="int8", size=(32, 32), calibration=folder, calibration_size=(32, 32))
    image = torch.from_numpy(bright).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        expected = student(image).permute(0, 2, 3, 1).numpy()
    assert psnr(run_tflite(path, image.permute(0, 2, 3, 1).contiguous().numpy()), expected) > 40


def test_the_int8_clamp_reads_the_8_bit_output_grid(int8_student):
    # input + residual is quantised to [0, 1] in steps of 1/255: the ADD writes the output grid
    # itself and saturates, so there is one rounding, not two
    interpreter = Interpreter(model_path=str(int8_student))
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    (clamp,) = [op for op in interpreter._get_ops_details() if op["op_name"] == "RELU_0_TO_1"]
    for index in (clamp["inputs"][0], clamp["outputs"][0]):
        scale, zero_point = details[index]["quantization"]
        assert (details[index]["dtype"], zero_point) == (np.int8, -128) and scale == pytest.approx(1 / 255)


@pytest.fixture(scope="module")
def int8_onnx(student, calibration_folder, tmp_path_factory):
    path = tmp_path_factory.mktemp("int8_onnx") / "student_int8.onnx"
    return export_model(student, path, precision="int8", size=SIZE, calibration=calibration_folder, calibration_size=CALIBRATION_SIZE)


def test_int8_onnx_calibrated_at_a_smaller_size_is_a_clean_qdq_graph_close_to_pytorch(int8_onnx, student):
    audit = audit_file(int8_onnx)
    assert audit.ok, audit.render()
    counts = audit.operator_counts()
    assert {"QuantizeLinear", "DequantizeLinear", "Conv", "Add", "Resize", "Concat"} <= set(counts)
    assert audit.inputs == ["image: float32[1, 3, 64, 64]"] and audit.outputs == ["denoised: float32[1, 3, 64, 64]"]
    image = photo_tensor(*SIZE, seed=10)
    with torch.no_grad():
        expected = student(image).numpy()
    output = run_onnx(int8_onnx, image.numpy())
    assert output.min() >= 0 and output.max() <= 1
    assert psnr(output, expected) > 40


def test_the_onnx_audit_flags_float_compute_outside_qdq_pairs(tmp_path):
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("QuantizeLinear", ["image", "scale", "zero"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["dq"]),
        helper.make_node("Relu", ["dq"], ["denoised"]),  # a float result that is never quantised
    ]
    initializers = [helper.make_tensor("scale", TensorProto.FLOAT, [], [1 / 255]), helper.make_tensor("zero", TensorProto.INT8, [], [-128])]
    shape = [1, 3, 16, 16]
    values = [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name in ("image", "denoised")]
    graph = helper.make_graph(nodes, "g", values[:1], values[1:], initializers)
    path = tmp_path / "partial.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    violations = {(v.operator, v.reason) for v in audit_file(path).violations}
    assert violations == {("Relu", allowlist.FLOAT_COMPUTE_OUTSIDE_QDQ)}


@pytest.mark.parametrize("content", [b"", None], ids=["empty-file", "model-without-graph"])
def test_an_onnx_file_without_operators_fails_the_audit(tmp_path, capsys, content):
    import onnx

    path = tmp_path / "hollow.onnx"
    if content is None:
        onnx.save(onnx.ModelProto(), str(path))
    else:
        path.write_bytes(content)
    assert main(["audit", str(path)]) == 1  # it passed as "all 0 operators are on the NPU allowlist"
    assert "holds no operators" in capsys.readouterr().err
