"""Export a network to a deployable file: TFLite (through litert-torch) or ONNX (torch.onnx).

Shapes are static: NPUs compile one graph per input size, and the TFLite converter refuses
dynamic height and width. TFLite files take and give NHWC float32 RGB in [0, 1] by default
(``litert_torch.to_channel_last_io``, which also removes the layout TRANSPOSE ops); ONNX files
take and give NCHW. Precision is fp32, fp16 or int8 (both formats), or a16w8 (TFLite only); the
integer ones are full-integer post-training quantisation calibrated on images (``quantize.py``).
"""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from litedenoise.errors import LiteDenoiseError
from litedenoise.export.quantize import ACTIVATION_BITS, DEFAULT_CALIBRATION_IMAGES, DEFAULT_CALIBRATION_SIZE, calibration_crops, quantize_onnx, quantize_tflite
from litedenoise.imageio import atomic_write_bytes

FORMATS = {"tflite": ".tflite", "onnx": ".onnx"}
INTEGER_PRECISIONS = tuple(ACTIVATION_BITS)  # int8 (TFLite and ONNX), a16w8 (TFLite only)
PRECISIONS = ("fp32", "fp16", *INTEGER_PRECISIONS)
LAYOUTS = ("nhwc", "nchw")
DEFAULT_SIZE = (1088, 1920)  # (height, width): full HD rounded up to a multiple of 16
ONNX_OPSET = 18  # the torch.onnx (dynamo) exporter's own opset: no version conversion
# metadata_props of our ONNX files: the network they hold, so that a file given on its own is tiled
# with its own receptive field and memory line (runtimes.OnnxBackend), not the student's
ONNX_ARCHITECTURE_KEY, ONNX_WIDTH_KEY = "litedenoise.architecture", "litedenoise.width"


def export_model(
    model: nn.Module,
    path: str | Path,
    *,
    format: str | None = None,
    precision: str = "fp32",
    size: tuple[int, int] = DEFAULT_SIZE,
    layout: str | None = None,
    overwrite: bool = False,
    calibration: str | Path | None = None,
    calibration_size: tuple[int, int] = DEFAULT_CALIBRATION_SIZE,
    calibration_images: int = DEFAULT_CALIBRATION_IMAGES,
    data: str | Path | None = None,
    any_size: bool = False,
) -> Path:
    """Write ``model`` for input ``size`` (height, width) to ``path``; returns the path.

    ``any_size`` (ONNX fp32 and fp16 only) writes a file whose height and width are free, any
    multiples of the network's size multiple (``size`` is then only the example traced): for
    ONNX Runtime on a PC, which then runs tiles of whatever size memory allows. NPUs and the
    integer files need a fixed size.

    ``format`` is "tflite" or "onnx" (None: from the file suffix). ``layout`` is the file's
    input/output layout: "nhwc" (the TFLite default) or "nchw" (the only ONNX layout; TFLite then
    carries TRANSPOSE ops, which the audit flags). ``precision`` "fp16" stores fp16 weights: in
    TFLite as fp16 constants widened by DEQUANTIZE ops (x86 XNNPACK still computes in fp32, so
    on a PC this is a size win only); in ONNX weights and activations are fp16, with the fp32
    input and output cast at the boundary.

    ``precision`` "int8" (int8 activations) and "a16w8" (int16 activations, TFLite only) write a
    full-integer file with int8 per-channel weights that still takes and gives float32 in [0, 1]:
    in TFLite one QUANTIZE after the input and one DEQUANTIZE before the output; in ONNX the QDQ
    form (QuantizeLinear/DequantizeLinear around every operator). It is calibrated on centre crops
    of ``calibration_size`` (height, width) from up to ``calibration_images`` images of the folder
    ``calibration``, or, with None, of the noisy PolyU train crops in the data folder ``data``
    (default ``$LITEDENOISE_DATA``). The network is converted at the crop size for calibration and
    again at ``size``, and the per-tensor ranges are carried over (``quantize.py`` says how), so
    calibration memory does not grow with ``size``.

    The file is written atomically: a failed export leaves nothing behind.
    """
    path = Path(path)
    format = _checked_format(path, format)
    if precision not in PRECISIONS:
        raise LiteDenoiseError(f"unknown precision {precision!r}: use {' or '.join(PRECISIONS)}")
    layout = layout or ("nhwc" if format == "tflite" else "nchw")
    if layout not in LAYOUTS:
        raise LiteDenoiseError(f"unknown layout {layout!r}: use {' or '.join(LAYOUTS)}")
    if format == "onnx" and layout != "nchw":
        raise LiteDenoiseError("ONNX export is NCHW only; drop --layout or use --layout nchw")
    integer = precision in INTEGER_PRECISIONS
    if precision == "a16w8" and format != "tflite":
        raise LiteDenoiseError("a16w8 export is TFLite only; write a .tflite file or use fp32, fp16 or int8 for ONNX")
    if any_size and (format != "onnx" or integer):
        raise LiteDenoiseError(f"any-size export is ONNX fp32 or fp16 only, not {format} {precision}: NPUs and integer files need a fixed size")
    if not integer and (calibration is not None or data is not None):
        raise LiteDenoiseError(f"calibration images (--calibration, --data) are for int8 and a16w8 exports, not {precision}")
    height, width = _checked_size(model, size)
    if path.exists() and not overwrite:
        raise LiteDenoiseError(f"{path} already exists; use --overwrite (overwrite=True) to replace it")
    if not path.parent.is_dir():
        raise LiteDenoiseError(f"cannot write {path}: folder {path.parent} does not exist")

    crops = None
    if integer:  # read the images before the slow conversions: a bad folder fails in a second
        crop_size = _checked_size(model, calibration_size, what="calibration size")
        crops = calibration_crops(calibration, crop_size, calibration_images, data)
        if layout == "nchw":
            crops = [np.ascontiguousarray(crop.transpose(0, 3, 1, 2)) for crop in crops]

    model = model.eval()
    try:
        if format == "onnx" and integer:
            content = quantize_onnx(_onnx_bytes(model, *crop_size, "fp32"), crops, (height, width), num_threads=torch.get_num_threads())
        elif format == "onnx":
            content = _onnx_bytes(model, height, width, precision, any_size=any_size)
        elif not integer:
            content = _tflite_bytes(model, height, width, precision, layout)
        else:
            content = _tflite_bytes(model, height, width, "fp32", layout)
            calibration_model = content if crop_size == (height, width) else _tflite_bytes(model, *crop_size, "fp32", layout)
            content = quantize_tflite(content, calibration_model, crops, precision, num_threads=torch.get_num_threads())
    except LiteDenoiseError:
        raise
    except Exception as error:  # converter internals: keep the traceback chained, tell the person one line
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise LiteDenoiseError(f"{format} {precision} conversion of {type(model).__name__} failed: {lines[0]}") from error
    if format == "onnx" and hasattr(model, "width"):
        content = _with_network_metadata(content, model)
    atomic_write_bytes(path, content, overwrite=overwrite)
    return path


def _checked_format(path: Path, format: str | None) -> str:
    suffix = path.suffix.lower()
    if format is None:
        by_suffix = {ending: name for name, ending in FORMATS.items()}
        if suffix not in by_suffix:
            raise LiteDenoiseError(f"cannot tell the format of {path}: name it .tflite or .onnx, or give the format")
        return by_suffix[suffix]
    if format not in FORMATS:
        raise LiteDenoiseError(f"unknown format {format!r}: use {' or '.join(FORMATS)}")
    if suffix != FORMATS[format]:
        raise LiteDenoiseError(f"{path}: a {format} file must end in {FORMATS[format]}")
    return format


def _checked_size(model: nn.Module, size: tuple[int, int], what: str = "size") -> tuple[int, int]:
    multiple = getattr(model, "size_multiple", 1)
    if len(size) != 2 or any(not isinstance(side, int) or side <= 0 for side in size):
        raise LiteDenoiseError(f"{what} must be two positive integers (height, width), got {size!r}")
    if any(side % multiple for side in size):
        raise LiteDenoiseError(f"{what} {size[0]}x{size[1]} is not a multiple of {multiple} ({type(model).__name__} needs sides divisible by {multiple})")
    return size[0], size[1]


def _tflite_bytes(model: nn.Module, height: int, width: int, precision: str, layout: str) -> bytes:
    import litert_torch

    if layout == "nhwc":
        model = litert_torch.to_channel_last_io(model, args=[0], outputs=[0]).eval()
        sample = torch.rand(1, height, width, 3)
    else:
        sample = torch.rand(1, 3, height, width)
    data = litert_torch.convert(model, (sample,)).model_content()
    return _fp16_weights(data) if precision == "fp16" else data


def _fp16_weights(tflite: bytes) -> bytes:
    from ai_edge_quantizer import algorithm_manager, qtyping, quantizer

    weights = quantizer.Quantizer(bytearray(tflite))
    weights.add_weight_only_config(".*", qtyping.TFLOperationName.ALL_SUPPORTED, 16, algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING)
    return bytes(weights.quantize(enable_progress_bar=False, enable_progress_report=False).quantized_model)


class _Fp16(nn.Module):
    """fp32 image in, fp16 network, fp32 image out: the exporter writes the two Casts."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = copy.deepcopy(model).half()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.half()).float()


def _with_network_metadata(content: bytes, model: nn.Module) -> bytes:
    import onnx

    proto = onnx.load_from_string(content)
    onnx.helper.set_model_props(proto, {ONNX_ARCHITECTURE_KEY: type(model).__name__, ONNX_WIDTH_KEY: str(model.width)})
    return proto.SerializeToString()


def _onnx_bytes(model: nn.Module, height: int, width: int, precision: str, *, any_size: bool = False) -> bytes:
    # fp16 through torch rather than an fp32->fp16 graph rewrite: onnxruntime's float16 tool
    # leaves its Casts out of topological order and stale value types that break shape inference.
    multiple = getattr(model, "size_multiple", 1)
    model = _Fp16(model).eval() if precision == "fp16" else model
    sample = torch.rand(1, 3, height, width)
    # free sides are traced as multiples of the size multiple, so the exporter can prove the
    # upsampled maps line up with the skip connections for every size it admits
    dynamic = {"x": {2: multiple * torch.export.Dim("rows"), 3: multiple * torch.export.Dim("cols")}} if any_size else None
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # "torchvision is not installed" lines, about operators we never use
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the exporter's deprecations, not ours to act on
            program = torch.onnx.export(
                model, (sample,), opset_version=ONNX_OPSET, input_names=["image"], output_names=["denoised"],
                external_data=False, dynamo=True, dynamic_shapes=dynamic, verbose=False,
            )  # fmt: skip
    finally:
        exporter_log.setLevel(level)
    return program.model_proto.SerializeToString()
