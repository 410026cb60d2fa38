"""Proof that a PyTorch model uses only NPU-native operations, read off its ``torch.export`` graph.

Each ``call_function`` node must be an allowed operator *with allowed attributes*: a 3x3
convolution (stride 1 or 2, dilation 1, groups 1, not transposed), ReLU, nearest 2x upsampling,
concatenation, addition, constant padding, or a clamp to [0, 1]. Anything else is reported with
the reason, so a change that sneaks in a PReLU, a 2x2 strided conv or a transposed conv fails.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn

ALLOWED_STRIDES = ((1, 1), (2, 2))


@dataclass(frozen=True)
class Violation:
    node: str
    operator: str
    reason: str

    def __str__(self) -> str:
        return f"{self.node}: {self.operator}: {self.reason}"


def _arg(node: torch.fx.Node, index: int, default):
    return node.args[index] if len(node.args) > index else default


def _pair(value) -> tuple[int, int]:
    return tuple(value) * (2 // len(value)) if isinstance(value, (list, tuple)) else (value, value)


def _shape(node: torch.fx.Node) -> tuple[int, ...]:
    return tuple(node.meta["val"].shape)


def _check_conv2d(node: torch.fx.Node) -> str | None:
    kernel = _shape(node.args[1])[-2:]
    stride, dilation, groups = _pair(_arg(node, 3, 1)), _pair(_arg(node, 5, 1)), _arg(node, 6, 1)
    problems = []
    if kernel != (3, 3):
        problems.append(f"kernel {kernel[0]}x{kernel[1]} (only 3x3)")
    if stride not in ALLOWED_STRIDES:
        problems.append(f"stride {stride} (only 1 or 2)")
    if dilation != (1, 1):
        problems.append(f"dilation {dilation} (only 1)")
    if groups != 1:
        problems.append(f"groups {groups} (only 1)")
    return ", ".join(problems) or None


def _check_upsample(node: torch.fx.Node) -> str | None:
    input_shape, output_shape = _shape(node.args[0])[-2:], _shape(node)[-2:]
    if output_shape != (2 * input_shape[0], 2 * input_shape[1]):
        return f"scale {input_shape}->{output_shape} (only exactly 2x)"
    return None


def _check_clamp(node: torch.fx.Node) -> str | None:
    low, high = _arg(node, 1, None), _arg(node, 2, None)
    if (low, high) != (0.0, 1.0):
        return f"clamp to [{low}, {high}] (only [0, 1])"
    return None


def _check_pad(node: torch.fx.Node) -> str | None:
    value = _arg(node, 2, 0.0)
    return None if value == 0 else f"pad value {value} (only zero padding)"


CHECKS = {
    "aten.conv2d.default": _check_conv2d,
    "aten.relu.default": lambda node: None,
    "aten.upsample_nearest2d.vec": _check_upsample,
    "aten.cat.default": lambda node: None,
    "aten.add.Tensor": lambda node: None,
    "aten.constant_pad_nd.default": _check_pad,
    "aten.clamp.default": _check_clamp,
}


@dataclass(frozen=True)
class TorchAudit:
    operator_counts: dict[str, int]
    violations: list[Violation]

    @property
    def passed(self) -> bool:
        return not self.violations


def audit_module(model: nn.Module, example_input: torch.Tensor) -> TorchAudit:
    """Export ``model`` on ``example_input`` (NCHW) with ``torch.export`` and audit every operator."""
    program = torch.export.export(model.eval(), (example_input,))
    counts: Counter[str] = Counter()
    violations = []
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        operator = str(node.target)
        counts[operator] += 1
        check = CHECKS.get(operator)
        reason = "operator not NPU-native" if check is None else check(node)
        if reason:
            violations.append(Violation(node.name, operator, reason))
    return TorchAudit(dict(counts), violations)
