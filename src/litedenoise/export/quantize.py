"""Full-integer TFLite: integer activations, int8 weights per output channel, float32 image in and out.

ai-edge-quantizer quantises the FP32 ``.tflite`` (litert-torch's own PT2E quantiser rejects the
student's stride-2 PAD ops: "same scale constraint"). Precision "int8" gives int8 activations,
"a16w8" int16 activations; weights are int8 per output channel in both.

The file takes and gives float32 in [0, 1], like the float exports: one QUANTIZE right after the
input and one DEQUANTIZE right before the output, integer everywhere between. The input scale is
pinned to [0, 1] (int8: 1/255 with zero point -128, so every 8-bit pixel value is exact).

Calibration at full HD took 15 GB of RAM, so the statistics are gathered at a small size and
carried to the export size; ``quantize_tflite`` does it in these steps:

1. Calibrate the FP32 graph converted at the calibration size on the images ourselves
   (``activation_ranges``): per activation tensor, the 0.1th to 99.9th percentile of its values
   on each crop, widened over crops. One range per tensor, so nothing in it depends on height
   and width. ai-edge-quantizer's own calibration takes the absolute min/max of each crop and
   merges crops by a moving average that weights the first crops most: ranges followed the first
   few images, brighter ones clipped at the residual ADD, and INT8 lost 6.3 dB on PolyU val.
   Absolute min/max over all crops loses 0.15 dB (outliers stretch the scales); the 99.9th
   percentile 0.05 dB (docs/deployment.md).
2. Check that the graph at the export size is the same graph (same operators in the same order,
   the same wiring and dtypes; only H and W differ) and map the statistics onto it by tensor
   index. litert-torch names tensors after the modules that make them, so the names match too;
   the index mapping would survive a renaming, and a graph that differs is a clear error.
3. Widen the ranges that must share one scale (a CONCATENATION's inputs and output, and what the
   PAD / RESIZE_NEAREST_NEIGHBOR before it pass along) to their union. Otherwise the quantiser
   inserts an int8 -> int8 requantising QUANTIZE in front of each decoder concatenation.
4. Give the tensor the final clamp reads (input + residual) the range [0, 1] exactly, so that
   the ADD writes the 8-bit output grid itself (scale 1/255) instead of rounding twice.
5. Quantise the graph at the export size with those statistics (static_wi8_ai8 / static_wi8_ai16).
6. Move the final clamp inside the integer graph. ai-edge-quantizer does not quantise
   RELU_0_TO_1 and leaves it in float32 after a DEQUANTIZE. For int8 it becomes an int8
   RELU_0_TO_1 (a native TFLite kernel) with the output scale 1/255 on [0, 1]. int16 has no
   RELU_0_TO_1 kernel: a16w8 uses RELU with the symmetric int16 scale 1/32767, whose saturation
   at 1.0 makes it the same clamp to [0, 1].

On a PC CPU int8 runs ~5x faster than fp32 under XNNPACK; int16 activations are ~230x slower
than int8 there (``../shared/docs/toolchain-notes.md``), so a16w8 is for NPUs with 16x8 kernels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from litedenoise.errors import LiteDenoiseError

ACTIVATION_BITS = {"int8": 8, "a16w8": 16}
DEFAULT_CALIBRATION_SIZE = (256, 256)  # (height, width) of the crops the statistics come from
DEFAULT_CALIBRATION_IMAGES = 32
DEFAULT_CALIBRATION_SET = "polyu:train:crops"  # noisy images, in the data folder
INPUT_RANGE = (0.0, 1.0)
# Activation ranges are this percentile of each tensor's values per crop (and its mirror for the
# minimum), widened over crops; chosen on PolyU val crops against 99.99 / 99.999 / 100.
CALIBRATION_PERCENTILE = 99.9
# Operators whose inputs and output must share one scale: TFLite's int8 CONCATENATION needs it,
# and PAD and RESIZE_NEAREST_NEIGHBOR hand their input's scale to their output.
SHARED_SCALE_OPERATORS = ("CONCATENATION", "PAD", "RESIZE_NEAREST_NEIGHBOR")
CLAMP_OUTPUT_SCALES = {8: (1 / 255, -128), 16: (1 / 32767, 0)}  # (scale, zero point) putting [0, 1] at the top


def calibration_crops(
    calibration: str | Path | None,
    size: tuple[int, int],
    count: int = DEFAULT_CALIBRATION_IMAGES,
    data: str | Path | None = None,
) -> list[np.ndarray]:
    """Up to ``count`` centre crops of ``size`` (height, width): NHWC float32 RGB in [0, 1], 1xHxWx3.

    ``calibration`` is a folder of images (any ``read_rgb_uint8`` reads; not its sub-folders), or
    None for the noisy PolyU train crops in the data folder ``data`` (default
    ``$LITEDENOISE_DATA``). From more than ``count`` images, ``count`` are taken evenly spaced in
    name order, so the crops are the same on every run.
    """
    from litedenoise.imageio import SUPPORTED_SUFFIXES, image_files, read_rgb_uint8

    if count < 1:
        raise LiteDenoiseError(f"the number of calibration images must be at least 1, got {count}")
    if calibration is None:
        images = _default_calibration_images(data)
    else:
        folder = Path(calibration)
        if not folder.is_dir():
            raise LiteDenoiseError(f"calibration folder {folder} does not exist")
        images = image_files(folder)
        if not images:
            raise LiteDenoiseError(f"calibration folder {folder} holds no images ({', '.join(sorted(SUPPORTED_SUFFIXES))})")
    if len(images) > count:
        images = [images[index] for index in np.linspace(0, len(images) - 1, count).round().astype(int)]

    height, width = size
    crops = []
    for path in images:
        pixels = read_rgb_uint8(path)
        if pixels.shape[0] < height or pixels.shape[1] < width:
            raise LiteDenoiseError(
                f"{path} is {pixels.shape[1]}x{pixels.shape[0]} (WxH), smaller than the {width}x{height} calibration crop; choose a smaller calibration size"
            )
        top, left = (pixels.shape[0] - height) // 2, (pixels.shape[1] - width) // 2
        crop = pixels[top : top + height, left : left + width]
        crops.append(crop[None].astype(np.float32) / 255.0)
    return crops


def _default_calibration_images(data: str | Path | None) -> list[Path]:
    from litedenoise.data.paired import data_root, resolve_pair_set

    try:
        return [pair.noisy for pair in resolve_pair_set(DEFAULT_CALIBRATION_SET, data_root(data))]
    except LiteDenoiseError as error:
        raise LiteDenoiseError(
            "integer export calibrates on images: give a calibration folder (export --calibration DIR) "
            f"or a data folder with polyu/ (--data, $LITEDENOISE_DATA) ({error})"
        ) from None


def quantize_tflite(float_model: bytes, calibration_model: bytes, crops: list[np.ndarray], precision: str, num_threads: int = 1) -> bytes:
    """Full-integer copy of ``float_model`` (FP32 TFLite bytes), calibrated on ``crops``.

    ``calibration_model`` is the same network converted at the crops' size (it may be
    ``float_model`` itself); ``crops`` are its input arrays. Steps: the module docstring.
    """
    from ai_edge_quantizer import algorithm_manager, qtyping, quantizer

    bits = ACTIVATION_BITS[precision]
    target = _read(float_model)
    statistics = _carried(activation_ranges(calibration_model, crops, num_threads=num_threads), _read(calibration_model), target)
    low, high = INPUT_RANGE
    for name in [_tensor_names(target.subgraphs[0])[index] for index in target.subgraphs[0].inputs]:
        observed = statistics[name]
        statistics[name] = {**observed, "min": np.full_like(observed["min"], low), "max": np.full_like(observed["max"], high)}
    statistics = _unit_range_before_clamp(_shared_ranges(statistics, target), target)

    recipe = quantizer.Quantizer(bytearray(float_model))
    recipe.add_static_config(".*", qtyping.TFLOperationName.ALL_SUPPORTED, activation_num_bits=bits, weight_num_bits=8)
    for boundary in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):  # float32 I/O
        recipe.update_quantization_recipe(".*", boundary, algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE)
    quantized = recipe.quantize(statistics, enable_progress_bar=False, enable_progress_report=False).quantized_model
    return _integer_clamp(bytes(quantized), bits)


def activation_ranges(calibration_model: bytes, crops: list[np.ndarray], percentile: float = CALIBRATION_PERCENTILE, num_threads: int = 1) -> dict[str, dict]:
    """[low, high] of every activation tensor of ``calibration_model`` (FP32 TFLite bytes) on ``crops``.

    On each crop a tensor's range is the (100 - ``percentile``)th to ``percentile``th percentile
    of its values; over crops, the widest of those. Returned as ai-edge-quantizer's statistics
    (``{"min", "max"}`` arrays of shape 1x1x1x1 per tensor name), always containing 0.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # No delegate: XNNPACK fuses the graph and leaves the intermediate tensors unwritten.
    interpreter = Interpreter(
        model_content=calibration_model,
        num_threads=num_threads,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    (graph,) = _read(calibration_model).subgraphs
    produced = {index for op in graph.operators for index in op.outputs}
    activations = [index for index in [*graph.inputs, *sorted(produced)] if index not in graph.outputs]  # the float output is not quantised
    (input_index,) = graph.inputs
    low = {index: np.inf for index in activations}
    high = {index: -np.inf for index in activations}
    for crop in crops:
        interpreter.set_tensor(input_index, crop)
        interpreter.invoke()
        for index in activations:
            values = interpreter.get_tensor(index).ravel()
            crop_low, crop_high = np.percentile(values, [100 - percentile, percentile])
            low[index], high[index] = min(low[index], crop_low), max(high[index], crop_high)
    names = _tensor_names(graph)
    return {
        names[index]: {"min": np.full((1, 1, 1, 1), min(low[index], 0.0), np.float32), "max": np.full((1, 1, 1, 1), max(high[index], 0.0), np.float32)}
        for index in activations
    }


def _unit_range_before_clamp(statistics: dict[str, dict], model) -> dict[str, dict]:
    """The tensor the final clamp reads (input + residual) gets the range [0, 1] exactly.

    With int8 that is the scale 1/255 (zero point -128): the ADD then writes the 8-bit output
    grid itself and saturates at 0 and 1, instead of rounding once to its own calibrated scale
    and again to the clamp's 1/255 grid (measured: 0.04 dB on PolyU val, docs/deployment.md).
    """
    from ai_edge_litert.tools import flatbuffer_utils

    (graph,) = model.subgraphs
    names = _tensor_names(graph)
    unit = dict(statistics)
    for op in graph.operators:
        if flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) == "RELU_0_TO_1" and op.outputs[0] in graph.outputs:
            low, high = INPUT_RANGE
            unit[names[op.inputs[0]]] = {"min": np.full((1, 1, 1, 1), low, np.float32), "max": np.full((1, 1, 1, 1), high, np.float32)}
    return unit


def _read(model: bytes):
    from ai_edge_litert.tools import flatbuffer_utils

    return flatbuffer_utils.convert_bytearray_to_object(bytearray(model))


def _tensor_names(graph) -> list[str]:
    return [tensor.name.decode() for tensor in graph.tensors]


def _carried(statistics: dict[str, dict], source, target) -> dict[str, dict]:
    """``statistics`` of the ``source`` graph's tensors keyed by the same tensors' names in ``target``."""
    from ai_edge_litert.tools import flatbuffer_utils

    def structure(model) -> list:
        (graph,) = model.subgraphs
        operators = [(flatbuffer_utils.opcode_to_name(model, op.opcodeIndex), list(op.inputs), list(op.outputs)) for op in graph.operators]
        return [operators, list(graph.inputs), list(graph.outputs), [tensor.type for tensor in graph.tensors]]

    if len(source.subgraphs) != 1 or len(target.subgraphs) != 1 or structure(source) != structure(target):
        raise LiteDenoiseError(
            "the network converts to a different graph at the calibration size than at the export size; calibrate at the export size (calibration size = size)"
        )
    source_names, target_names = _tensor_names(source.subgraphs[0]), _tensor_names(target.subgraphs[0])
    if len(set(source_names)) != len(source_names):
        raise LiteDenoiseError("the converted graph has tensors that share a name; calibrate at the export size (calibration size = size)")
    by_index = dict(zip(source_names, target_names))
    return {by_index[name]: values for name, values in statistics.items()}


def _shared_ranges(statistics: dict[str, dict], model) -> dict[str, dict]:
    """Each group of tensors joined by SHARED_SCALE_OPERATORS gets the union of their ranges."""
    from ai_edge_litert.tools import flatbuffer_utils

    (graph,) = model.subgraphs
    names = _tensor_names(graph)
    group_of: dict[str, str] = {}

    def root(name: str) -> str:
        while group_of.setdefault(name, name) != name:
            name = group_of[name]
        return name

    for op in graph.operators:
        if flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) in SHARED_SCALE_OPERATORS:
            members = [names[index] for index in [*op.inputs, *op.outputs] if index >= 0 and names[index] in statistics]
            for member in members[1:]:
                group_of[root(member)] = root(members[0])
    groups: dict[str, list[str]] = {}
    for name in list(group_of):
        groups.setdefault(root(name), []).append(name)
    shared = dict(statistics)
    for members in groups.values():
        low = np.minimum.reduce([statistics[name]["min"] for name in members])
        high = np.maximum.reduce([statistics[name]["max"] for name in members])
        for name in members:
            shared[name] = {"min": low, "max": high}
    return shared


def _integer_clamp(model_bytes: bytes, bits: int) -> bytes:
    """DEQUANTIZE -> float RELU_0_TO_1 -> output becomes integer clamp -> DEQUANTIZE -> output."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = _read(model_bytes)
    _inline_buffers(model, model_bytes)
    (graph,) = model.subgraphs
    operators = graph.operators

    def name_of(op) -> str:
        return flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)

    producer = {index: position for position, op in enumerate(operators) for index in op.outputs}
    for position, clamp in enumerate(operators):
        source = producer.get(clamp.inputs[0])
        if name_of(clamp) != "RELU_0_TO_1" or source is None or name_of(operators[source]) != "DEQUANTIZE":
            continue
        if clamp.outputs[0] not in graph.outputs:
            continue  # only the final clamp is moved; the file audit flags any other float op
        dequantize = operators[source]
        integer, middle, output = dequantize.inputs[0], clamp.inputs[0], clamp.outputs[0]
        scale, zero_point = CLAMP_OUTPUT_SCALES[bits]
        middle_tensor = graph.tensors[middle]  # the float tensor between them becomes the clamp's integer output
        middle_tensor.type = graph.tensors[integer].type
        middle_tensor.quantization = schema.QuantizationParametersT()
        middle_tensor.quantization.scale, middle_tensor.quantization.zeroPoint = [scale], [zero_point]
        clamp.inputs, clamp.outputs = [integer], [middle]
        dequantize.inputs, dequantize.outputs = [middle], [output]
        if bits == 16:
            clamp.opcodeIndex = _operator_code(model, schema.BuiltinOperator.RELU, version=3)  # version 3: int16
            clamp.builtinOptionsType, clamp.builtinOptions = 0, None
        operators[source], operators[position] = clamp, dequantize
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _inline_buffers(model, model_bytes: bytes) -> None:
    """Move constant data stored after the flatbuffer (offset/size buffers, which the quantizer
    writes) into the buffers themselves: re-packing the model would drop it otherwise."""
    import numpy as np

    for buffer in model.buffers:
        if buffer.offset and buffer.offset > 1:
            buffer.data = np.frombuffer(model_bytes, dtype=np.uint8, count=buffer.size, offset=buffer.offset).copy()
            buffer.offset, buffer.size = 0, 0


def _operator_code(model, builtin: int, version: int) -> int:
    from ai_edge_litert import schema_py_generated as schema

    for index, code in enumerate(model.operatorCodes):
        if code.builtinCode == builtin and code.version == version:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def quantize_onnx(calibration_model: bytes, crops: list[np.ndarray], size: tuple[int, int], num_threads: int = 1) -> bytes:
    """Full-integer ONNX in QDQ form, for input ``size`` (height, width), from the FP32 ONNX
    ``calibration_model`` exported at the crops' size; ``crops`` are NCHW float32 in [0, 1].

    ONNX Runtime's static quantiser writes int8 per-channel weights and int8 activations as
    QuantizeLinear/DequantizeLinear pairs around each operator: the form NPU execution providers
    (QNN, for one) compile to integer kernels and ONNX Runtime's CPU provider fuses into QLinearConv.
    Every activation's range is ours (``_onnx_activation_ranges``, the same per-crop percentile as
    for TFLite), handed over as tensor overrides; the final clamp's input is pinned to [0, 1] as
    in ``_unit_range_before_clamp``. The graph has no
    size-dependent constants (Resize takes scales, Pad and Conv take pads), so the statistics carry
    over by giving the calibrated graph the export size: only its input and output dimensions change.
    """
    import tempfile

    import onnx
    import onnxruntime
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = onnx.load_model_from_string(calibration_model)
    (image,) = [value.name for value in model.graph.input]
    (clamp,) = [node for node in model.graph.node if node.op_type == "Clip"]

    ranges = _onnx_activation_ranges(model, crops, num_threads)
    ranges[clamp.input[0]] = tuple(np.float32(bound) for bound in INPUT_RANGE)

    class Crops(CalibrationDataReader):
        def __init__(self):
            self.remaining = iter(crops)

        def get_next(self):
            crop = next(self.remaining, None)
            return None if crop is None else {image: crop}

    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "fp32.onnx", Path(folder) / "int8.onnx"
        source.write_bytes(calibration_model)
        quantize_static(
            source,
            target,
            Crops(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,  # overridden below for every activation
            extra_options={"TensorQuantOverrides": {name: [{"rmin": low, "rmax": high}] for name, (low, high) in ranges.items()}},
        )
        quantized = onnx.load_model(target)
    del quantized.graph.value_info[:]
    for value in [*quantized.graph.input, *quantized.graph.output]:
        dims = value.type.tensor_type.shape.dim
        dims[2].dim_value, dims[3].dim_value = size
    quantized = onnx.shape_inference.infer_shapes(quantized, strict_mode=True)
    content = quantized.SerializeToString()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = num_threads
    onnxruntime.InferenceSession(content, options, providers=["CPUExecutionProvider"])  # loads at the new size, or raises
    return content


def _onnx_activation_ranges(model, crops: list[np.ndarray], num_threads: int, percentile: float = CALIBRATION_PERCENTILE) -> dict[str, tuple]:
    """``activation_ranges`` for an FP32 ONNX model: every node output's per-crop percentile range, widened over crops."""
    import onnx
    import onnxruntime

    probed = onnx.ModelProto()
    probed.CopyFrom(model)
    final = {value.name for value in model.graph.output}
    names = [name for node in model.graph.node if node.op_type != "Constant" for name in node.output if name not in final]
    probed.graph.output.extend(onnx.ValueInfoProto(name=name) for name in names)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = num_threads
    session = onnxruntime.InferenceSession(probed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    (image,) = [value.name for value in model.graph.input]
    low = dict.fromkeys(names, np.inf)
    high = dict.fromkeys(names, -np.inf)
    for crop in crops:
        for name, values in zip(names, session.run(names, {image: crop})):
            crop_low, crop_high = np.percentile(values, [100 - percentile, percentile])
            low[name], high[name] = min(low[name], crop_low), max(high[name], crop_high)
    return {name: (np.float32(min(low[name], 0.0)), np.float32(max(high[name], 0.0))) for name in names}
