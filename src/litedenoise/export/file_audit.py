"""Audit an exported ``.tflite`` or ``.onnx`` file against the NPU allowlist (``allowlist.py``).

The torch-side audit proves what PyTorch hands the converter; this one reads what the converter
actually wrote: every operator with its count, tensor dtypes and key attributes (kernel, stride,
dilation, fused activation, resize mode...), each checked against the allowlist, plus inputs and
outputs with dynamic dimensions. A TFLite graph with integer activations (int8 or a16w8 export)
must stay integer between the input and the output: QUANTIZE / DEQUANTIZE are allowed only there,
and an operator reading or writing a float activation is flagged. ``FileAudit.render()`` prints
it as a table.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from litedenoise.errors import LiteDenoiseError
from litedenoise.export import allowlist
from litedenoise.export.allowlist import Violation

TFLITE_IDENTIFIER = b"TFL3"  # the flatbuffer file identifier, bytes 4..8


@dataclass(frozen=True)
class OperatorRow:
    """Operators that share name, attributes, dtypes and verdict; ``problem`` None means allowed."""

    operator: str
    attributes: str
    dtypes: str
    problem: str | None
    count: int


@dataclass(frozen=True)
class FileAudit:
    path: Path
    format: str
    inputs: list[str]
    outputs: list[str]
    operators: list[OperatorRow]
    violations: list[Violation]

    @property
    def ok(self) -> bool:
        return not self.violations

    def operator_counts(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for row in self.operators:
            counts[row.operator] += row.count
        return dict(counts)

    def render(self) -> str:
        lines = [f"{self.path} ({self.format})"]
        lines += [f"  input  {text}" for text in self.inputs] + [f"  output {text}" for text in self.outputs]
        header = ("operator", "count", "dtypes", "attributes", "NPU allowlist")
        rows = [header] + [(r.operator, str(r.count), r.dtypes, r.attributes, r.problem or "ok") for r in self.operators]
        widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
        for row in rows:
            cells = [cell.rjust(width) if column == 1 else cell.ljust(width) for column, (cell, width) in enumerate(zip(row, widths))]
            lines.append("  ".join([*cells, row[-1]]).rstrip())
        shape_problems = [v for v in self.violations if v.operator == "shape"]
        lines += [f"  {violation}" for violation in shape_problems]
        if self.ok:
            lines.append(f"OK: all {sum(r.count for r in self.operators)} operators are on the NPU allowlist")
        else:
            kinds = sorted({v.operator for v in self.violations if v.operator != "shape"})
            lines.append(f"NOT NPU-ready: {len(self.violations)} violations ({', '.join(kinds + ['dynamic shape'] * bool(shape_problems))})")
        return "\n".join(lines)


def audit_file(path: str | Path) -> FileAudit:
    """Read an exported model and audit it: a TFLite flatbuffer (known by its identifier) or ``.onnx``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LiteDenoiseError(f"{path}: no such file") from None
    except OSError as error:
        raise LiteDenoiseError(f"cannot read {path}: {error.strerror or error}") from None
    if data[4:8] == TFLITE_IDENTIFIER:
        audit = _audit_tflite(path, data)
    elif path.suffix.lower() == ".onnx":
        audit = _audit_onnx(path, data)
    else:
        raise LiteDenoiseError(f"{path}: neither a TFLite flatbuffer nor an .onnx file")
    if not audit.operators:  # an empty protobuf parses as an ONNX model with no graph
        raise LiteDenoiseError(f"{path}: holds no operators, so it is not an exported network")
    return audit


class _Rows:
    """Collects operators into table rows (first-seen order) and violations."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str, str | None]] = Counter()
        self.violations: list[Violation] = []

    def add(self, node: str, operator: str, attributes: str, dtypes: set[str], problem: str | None) -> None:
        self.counts[(operator, attributes, ", ".join(sorted(dtypes)), problem)] += 1
        if problem:
            self.violations.append(Violation(node, operator, problem))

    def dynamic(self, node: str, shape: list) -> None:
        self.violations.append(Violation(node, "shape", f"dynamic shape {shape} (NPUs need static shapes)"))

    def rows(self) -> list[OperatorRow]:
        return [OperatorRow(op, attributes, dtypes, problem, count) for (op, attributes, dtypes, problem), count in self.counts.items()]


def _join(*problems: str | None) -> str | None:
    return "; ".join(p for p in problems if p) or None


# --- TFLite ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TfliteGraph:
    model: Any  # flatbuffer object API: schema ModelT / SubGraphT
    graph: Any

    def shape(self, index: int) -> list[int]:
        return [int(side) for side in self.graph.tensors[index].shape]

    def dtype(self, index: int) -> str:
        from ai_edge_litert.tools import flatbuffer_utils

        return flatbuffer_utils.type_to_name(self.graph.tensors[index].type).lower()

    def constant(self, index: int) -> np.ndarray | None:
        data = self.model.buffers[self.graph.tensors[index].buffer].data
        return None if data is None else np.asarray(data, np.uint8)


def _audit_tflite(path: Path, data: bytes) -> FileAudit:
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    try:
        model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    except Exception as error:  # a truncated or corrupt flatbuffer raises anything
        raise LiteDenoiseError(f"{path}: not a readable TFLite file ({type(error).__name__})") from None
    activations = _enum_names(schema.ActivationFunctionType)
    collected = _Rows()
    inputs, outputs = [], []
    for graph_index, subgraph in enumerate(model.subgraphs):
        graph = _TfliteGraph(model, subgraph)
        prefix = f"subgraph {graph_index} " if graph_index else ""
        for kind, indices, texts in (("input", subgraph.inputs, inputs), ("output", subgraph.outputs, outputs)):
            for index in indices:
                tensor = subgraph.tensors[index]
                texts.append(f"{tensor.name.decode()}: {graph.dtype(index)}{graph.shape(index)}")
                signature = graph.shape(index) if tensor.shapeSignature is None else [int(side) for side in tensor.shapeSignature]
                if any(side < 0 for side in signature):
                    collected.dynamic(f"{prefix}{kind} {tensor.name.decode()}", signature)

        operators = subgraph.operators or []
        integer_graph = any(graph.dtype(i) in allowlist.INTEGER_ACTIVATIONS for op in operators for i in op.outputs)
        for op_index, op in enumerate(operators):
            name = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) or "UNKNOWN"
            if name == "CUSTOM":
                name = f"CUSTOM:{model.operatorCodes[op.opcodeIndex].customCode.decode()}"
            dtypes = {graph.dtype(i) for i in [*op.inputs, *op.outputs] if i >= 0}
            attributes, problem = _tflite_attributes(name, op, graph)
            if integer_graph and name not in ("QUANTIZE", "DEQUANTIZE"):
                activation_dtypes = {graph.dtype(i) for i in [*op.inputs, *op.outputs] if i >= 0 and graph.constant(i) is None}
                if activation_dtypes & {"float32", "float16"}:
                    problem = _join(problem, allowlist.FLOAT_COMPUTE_IN_INTEGER_GRAPH)
            activation = activations.get(getattr(op.builtinOptions, "fusedActivationFunction", 0), "?")
            if activation != "NONE":
                attributes = f"{attributes} fused {activation}".strip()
                problem = _join(problem, allowlist.fused_activation_problems(activation))
            if name not in allowlist.TFLITE_OPERATORS:
                hint = " (NCHW I/O: export with layout nhwc)" if name == "TRANSPOSE" else ""
                problem = _join(allowlist.NOT_NPU_NATIVE + hint, problem)
            collected.add(f"{prefix}op {op_index}", name, attributes, dtypes, problem)
    return FileAudit(path, "tflite", inputs, outputs, collected.rows(), collected.violations)


def _tflite_attributes(name: str, op: Any, graph: _TfliteGraph) -> tuple[str, str | None]:
    """Key attributes of one operator as text, and what about them breaks the allowlist."""
    from ai_edge_litert import schema_py_generated as schema

    options = op.builtinOptions
    inputs = [i for i in op.inputs if i >= 0]
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"):
        weights = graph.shape(inputs[1])  # OHWI; depthwise 1HWO
        kernel, stride = (weights[1], weights[2]), (options.strideH, options.strideW)
        dilation = (getattr(options, "dilationHFactor", 1), getattr(options, "dilationWFactor", 1))
        padding = _enum_names(schema.Padding).get(options.padding, "?")
        text = f"{kernel[0]}x{kernel[1]} stride {_side(stride)} dilation {_side(dilation)} {padding}"
        if name != "CONV_2D":
            return text, None  # off the allowlist anyway; the attributes are for the reader
        groups = graph.shape(inputs[0])[-1] // max(weights[-1], 1)
        return text, allowlist.conv_problems(kernel, stride, dilation, groups)
    if name == "RESIZE_NEAREST_NEIGHBOR":
        before, after = graph.shape(inputs[0])[1:3], graph.shape(op.outputs[0])[1:3]
        text = f"{before[0]}x{before[1]} -> {after[0]}x{after[1]}"
        text += " align_corners" * bool(options.alignCorners) + " half_pixel_centers" * bool(options.halfPixelCenters)
        problem = "align_corners (shifts pixels; only without)" if options.alignCorners else None
        return text, _join(allowlist.upsample_problems(tuple(before), tuple(after)), problem)
    if name == "CONCATENATION":
        return f"axis {options.axis}", None
    if name == "PAD":
        amounts = graph.constant(inputs[1])
        return f"pads {'?' if amounts is None else amounts.view(np.int32).reshape(-1, 2).tolist()}", None
    if name in ("DEQUANTIZE", "QUANTIZE"):
        source, target = graph.dtype(inputs[0]), graph.dtype(op.outputs[0])
        at_input, at_output = inputs[0] in graph.graph.inputs, op.outputs[0] in graph.graph.outputs
        text = f"{source} -> {target}" + " at input" * at_input + " at output" * at_output
        return text, allowlist.conversion_problems(name, source, target, at_input=at_input, at_output=at_output)
    return "", None


def _enum_names(enum: type) -> dict[int, str]:
    return {value: name for name, value in vars(enum).items() if not name.startswith("_")}


def _side(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


# --- ONNX --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OnnxGraph:
    types: dict[str, Any]  # value name -> TypeProto.Tensor (after shape inference)
    dtypes: dict[str, str]
    constants: dict[str, np.ndarray]  # initializers and Constant nodes

    def shape(self, name: str) -> list[int | str]:
        if name in self.constants:
            return list(self.constants[name].shape)
        dims = self.types[name].shape.dim if name in self.types else []
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]

    def scalar(self, inputs: list[str], index: int) -> float | None:
        if len(inputs) <= index or inputs[index] not in self.constants:
            return None
        return float(self.constants[inputs[index]].reshape(-1)[0])


def _audit_onnx(path: Path, data: bytes) -> FileAudit:
    import onnx
    from onnx import numpy_helper, shape_inference

    try:
        model = onnx.load_model_from_string(data)
    except Exception as error:  # protobuf decode errors have no common base
        raise LiteDenoiseError(f"{path}: not a readable ONNX file ({type(error).__name__})") from None
    try:
        model = shape_inference.infer_shapes(model)
    except shape_inference.InferenceError:
        pass  # a graph onnx cannot re-infer (runtimes may still run it): keep its own value types
    onnx_graph = model.graph
    types = {v.name: v.type.tensor_type for v in [*onnx_graph.input, *onnx_graph.output, *onnx_graph.value_info]}
    dtypes = {name: _onnx_dtype(t.elem_type) for name, t in types.items()}
    constants: dict[str, np.ndarray] = {}
    for tensor in onnx_graph.initializer:
        dtypes[tensor.name] = _onnx_dtype(tensor.data_type)
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            constants[tensor.name] = numpy_helper.to_array(tensor)
    for node in onnx_graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    graph = _OnnxGraph(types, dtypes, constants)

    collected = _Rows()
    inputs, outputs = [], []
    weights = {t.name for t in onnx_graph.initializer}
    for kind, values, texts in (("input", onnx_graph.input, inputs), ("output", onnx_graph.output, outputs)):
        for value in values:
            if value.name in weights:
                continue  # old exporters list weights as inputs too
            texts.append(f"{value.name}: {dtypes.get(value.name, '?')}{graph.shape(value.name)}")
            if any(not isinstance(side, int) or side <= 0 for side in graph.shape(value.name)):
                collected.dynamic(f"{kind} {value.name}", graph.shape(value.name))

    producer = {output: node.op_type for node in onnx_graph.node for output in node.output}
    qdq_graph = any(node.op_type == "QuantizeLinear" for node in onnx_graph.node)
    graph_inputs, graph_outputs = {value.name for value in onnx_graph.input}, {value.name for value in onnx_graph.output}
    for index, node in enumerate(onnx_graph.node):
        name = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        node_dtypes = {dtypes[n] for n in [*node.input, *node.output] if n in dtypes}
        text, problem = _onnx_attributes(name, node, graph)
        if name in allowlist.QDQ_OPERATORS:
            source = node.input[0]
            made_by = {"QuantizeLinear": "quantize", "DequantizeLinear": "dequantize"}.get(producer.get(source), "compute")
            reads = "input" if source in graph_inputs else "weight" if source in weights else made_by
            text = f"{dtypes.get(source, '?')} -> {dtypes.get(node.output[0], '?')} from {reads}"
            problem = allowlist.qdq_problems(name, dtypes.get(source, "?"), reads=reads)
        elif qdq_graph and name != "Constant":
            activations = [n for n in node.input if n and n not in constants]
            consumers = [other.op_type for other in onnx_graph.node if set(other.input) & set(node.output)]
            unquantised = any(op != "QuantizeLinear" for op in consumers) or bool(set(node.output) & graph_outputs)
            if any(producer.get(n) != "DequantizeLinear" for n in activations) or unquantised:
                problem = _join(problem, allowlist.FLOAT_COMPUTE_OUTSIDE_QDQ)
        if name not in allowlist.ONNX_OPERATORS:
            problem = _join(allowlist.NOT_NPU_NATIVE, problem)
        collected.add(node.name or f"node {index}", name, text, node_dtypes, problem)
    return FileAudit(path, "onnx", inputs, outputs, collected.rows(), collected.violations)


def _onnx_dtype(elem_type: int) -> str:
    import onnx

    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).name if elem_type else "?"


def _onnx_attributes(name: str, node: Any, graph: _OnnxGraph) -> tuple[str, str | None]:
    """Key attributes of one node as text, and what about them breaks the allowlist."""
    import onnx

    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    inputs = list(node.input)
    if name in ("Conv", "ConvTranspose"):
        kernel = tuple(attributes.get("kernel_shape", graph.shape(inputs[1])[2:4]))
        stride, dilation = tuple(attributes.get("strides", (1, 1))), tuple(attributes.get("dilations", (1, 1)))
        groups = attributes.get("group", 1)
        text = f"{kernel[0]}x{kernel[1]} stride {_side(stride)} dilation {_side(dilation)} pads {list(attributes.get('pads', [0] * 4))}"
        text += f" groups {groups}" * (groups != 1)
        return text, allowlist.conv_problems(kernel, stride, dilation, groups) if name == "Conv" else None
    if name == "Resize":
        mode = attributes.get("mode", b"nearest").decode()
        text = f"{mode} {attributes.get('coordinate_transformation_mode', b'half_pixel').decode()}"
        text += f" {attributes.get('nearest_mode', b'round_prefer_floor').decode()}" * (mode == "nearest")
        before, after = graph.shape(inputs[0])[2:4], graph.shape(node.output[0])[2:4]
        known = len(before) == len(after) == 2 and all(isinstance(side, int) for side in [*before, *after])
        text += f" {before[0]}x{before[1]} -> {after[0]}x{after[1]}" if known else ""
        scale = allowlist.upsample_problems(tuple(before), tuple(after)) if known else "scale unknown (only exactly 2x)"
        return text, _join(None if mode == "nearest" else f"mode {mode} (only nearest)", scale)
    if name == "Clip":
        low = graph.scalar(inputs, 1) if len(inputs) > 1 else attributes.get("min")
        high = graph.scalar(inputs, 2) if len(inputs) > 2 else attributes.get("max")
        return f"[{low}, {high}]", allowlist.clamp_problems(low, high)
    if name == "Pad":
        mode = attributes.get("mode", b"constant").decode()
        value = graph.scalar(inputs, 2) or 0.0
        problem = None if mode == "constant" else f"mode {mode} (only zero padding)"
        return f"{mode} {value}", _join(problem, allowlist.pad_problems(value))
    if name == "Concat":
        return f"axis {attributes.get('axis')}", None
    if name == "Cast":
        source, target = graph.dtypes.get(inputs[0], "?"), _onnx_dtype(attributes["to"])
        floats = {source, target} <= {"float32", "float16"}
        return f"{source} -> {target}", None if floats else f"{source} -> {target} (only between float32 and float16)"
    return "", None
