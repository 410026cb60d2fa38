"""The NPU allowlist: the only operations the student may use, and the attributes each may take.

One list for every audit: the ``torch.export`` graph (``torch_audit.py``) and the exported
``.tflite`` and ``.onnx`` files (``file_audit.py``). Each row names one operation as each format
spells it; the rule functions below check the attributes the formats share, so a 5x5 kernel or a
clamp to [0, 0.5] reads the same whichever file it is found in.
"""

from __future__ import annotations

from dataclasses import dataclass

CONV_KERNEL = (3, 3)
CONV_STRIDES = ((1, 1), (2, 2))
CONV_DILATION = (1, 1)
UPSAMPLE_FACTOR = 2
CLAMP_RANGE = (0.0, 1.0)
# TFLite fuses an activation into CONV_2D, ADD, CONCATENATION...; only ReLU (or none) is native.
FUSED_ACTIVATIONS = ("NONE", "RELU")

NOT_NPU_NATIVE = "operator not NPU-native"
# An integer graph (int8 / a16w8 export) computes in these activation types between the input
# QUANTIZE and the output DEQUANTIZE; float compute there would leave the NPU.
INTEGER_ACTIVATIONS = ("int8", "int16")
FLOAT_COMPUTE_IN_INTEGER_GRAPH = "float compute inside an integer graph (only integer between the input QUANTIZE and the output DEQUANTIZE)"


@dataclass(frozen=True)
class NpuOperation:
    what: str
    torch: tuple[str, ...]
    tflite: tuple[str, ...]
    onnx: tuple[str, ...]


ALLOWLIST = (
    NpuOperation("3x3 convolution, stride 1 or 2, dilation 1, groups 1", ("aten.conv2d.default",), ("CONV_2D",), ("Conv",)),
    NpuOperation("ReLU", ("aten.relu.default",), ("RELU",), ("Relu",)),
    NpuOperation("nearest upsampling by exactly 2", ("aten.upsample_nearest2d.vec",), ("RESIZE_NEAREST_NEIGHBOR",), ("Resize",)),
    NpuOperation("concatenation", ("aten.cat.default",), ("CONCATENATION",), ("Concat",)),
    NpuOperation("addition", ("aten.add.Tensor",), ("ADD",), ("Add",)),
    NpuOperation("zero padding", ("aten.constant_pad_nd.default",), ("PAD",), ("Pad",)),
    # litert-torch lowers torch.clamp(x, 0, 1) to RELU_0_TO_1; ONNX exporters emit Clip(0, 1).
    NpuOperation("clamp to [0, 1]", ("aten.clamp.default",), ("RELU_0_TO_1",), ("Clip",)),
    # fp16 exports only: fp16 weights widened to fp32 (TFLite), fp32 I/O cast to and from fp16 (ONNX).
    NpuOperation("fp16 <-> fp32 conversion", (), ("DEQUANTIZE",), ("Cast",)),
    # int8 / a16w8 TFLite only, and only at the boundary (conversion_problems): the float32
    # image quantised after the input, the integer result dequantised before the output.
    NpuOperation("float32 <-> integer conversion at the input and output", (), ("QUANTIZE", "DEQUANTIZE"), ()),
    # int8 ONNX only (QDQ form): each operator reads DequantizeLinear outputs and writes into a
    # QuantizeLinear, which an NPU compiler or ONNX Runtime fuses into one integer kernel.
    NpuOperation("quantise / dequantise around each operator of a QDQ integer graph", (), (), ("QuantizeLinear", "DequantizeLinear")),
    NpuOperation("constant tensor (no compute)", (), (), ("Constant",)),
)

TORCH_OPERATORS = frozenset(name for operation in ALLOWLIST for name in operation.torch)
TFLITE_OPERATORS = frozenset(name for operation in ALLOWLIST for name in operation.tflite)
ONNX_OPERATORS = frozenset(name for operation in ALLOWLIST for name in operation.onnx)


@dataclass(frozen=True)
class Violation:
    node: str
    operator: str
    reason: str

    def __str__(self) -> str:
        return f"{self.node}: {self.operator}: {self.reason}"


def conv_problems(kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int], groups: int = 1) -> str | None:
    problems = []
    if tuple(kernel) != CONV_KERNEL:
        problems.append(f"kernel {kernel[0]}x{kernel[1]} (only 3x3)")
    if tuple(stride) not in CONV_STRIDES:
        problems.append(f"stride {tuple(stride)} (only 1 or 2)")
    if tuple(dilation) != CONV_DILATION:
        problems.append(f"dilation {tuple(dilation)} (only 1)")
    if groups != 1:
        problems.append(f"groups {groups} (only 1)")
    return ", ".join(problems) or None


def upsample_problems(input_size: tuple[int, int], output_size: tuple[int, int]) -> str | None:
    """``input_size`` and ``output_size`` are (height, width)."""
    if tuple(output_size) != (UPSAMPLE_FACTOR * input_size[0], UPSAMPLE_FACTOR * input_size[1]):
        return f"scale {tuple(input_size)}->{tuple(output_size)} (only exactly 2x)"
    return None


def clamp_problems(low: float | None, high: float | None) -> str | None:
    if (low, high) != CLAMP_RANGE:
        return f"clamp to [{low}, {high}] (only [0, 1])"
    return None


def pad_problems(value: float) -> str | None:
    return None if value == 0 else f"pad value {value} (only zero padding)"


def conversion_problems(operator: str, source: str, target: str, *, at_input: bool, at_output: bool) -> str | None:
    """QUANTIZE / DEQUANTIZE from dtype ``source`` to ``target``: fp16 weights widened to float32,
    the float32 input quantised (``at_input``: it reads a graph input) or the integer result
    dequantised (``at_output``: it writes a graph output). Anything else, such as an int8 -> int8
    requantisation, is a conversion inside the graph."""
    if operator == "DEQUANTIZE" and (source, target) == ("float16", "float32"):
        return None
    if operator == "QUANTIZE" and source == "float32" and target in INTEGER_ACTIVATIONS and at_input:
        return None
    if operator == "DEQUANTIZE" and source in INTEGER_ACTIVATIONS and target == "float32" and at_output:
        return None
    return f"{source} -> {target} inside the graph (only fp16 weights -> float32, float32 input -> integer, integer -> float32 output)"


QDQ_OPERATORS = ("QuantizeLinear", "DequantizeLinear")
FLOAT_COMPUTE_OUTSIDE_QDQ = (
    "float compute outside QuantizeLinear/DequantizeLinear pairs (in a QDQ graph every operator reads dequantised and writes quantised tensors)"
)


def qdq_problems(operator: str, source: str, *, reads: str) -> str | None:
    """A QuantizeLinear / DequantizeLinear of a QDQ graph. ``reads`` says what its input is: "input"
    (the graph input), "weight" (an initializer), "quantize" (a QuantizeLinear's output),
    "dequantize" (a DequantizeLinear's output) or "compute" (any other operator's output)."""
    if operator == "QuantizeLinear" and source == "float32" and reads in ("input", "compute"):
        return None
    if operator == "DequantizeLinear" and source in (*INTEGER_ACTIVATIONS, "int32") and reads in ("weight", "quantize"):
        return None
    return f"{operator} of {source} reading a {reads} tensor (only quantise the input or an operator's result, dequantise weights or quantised tensors)"


def fused_activation_problems(activation: str) -> str | None:
    return None if activation in FUSED_ACTIVATIONS else f"fused activation {activation} (only ReLU or none)"
