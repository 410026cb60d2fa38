"""Proof that a PyTorch model uses only NPU-native operations, read off its ``torch.export`` graph.

Each ``call_function`` node must be an operator of the NPU allowlist (``allowlist.py``) *with
allowed attributes*: a 3x3 convolution (stride 1 or 2, dilation 1, groups 1, not transposed),
ReLU, nearest 2x upsampling, concatenation, addition, constant padding, or a clamp to [0, 1].
Anything else is reported with the reason, so a change that sneaks in a PReLU, a 2x2 strided
conv or a transposed conv fails.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn

from litedenoise.export import allowlist
from litedenoise.export.allowlist import Violation

__all__ = ["TorchAudit", "Violation", "audit_module"]


def _arg(node: torch.fx.Node, index: int, default):
    return node.args[index] if len(node.args) > index else default


def _pair(value) -> tuple[int, int]:
    return tuple(value) * (2 // len(value)) if isinstance(value, (list, tuple)) else (value, value)


def _shape(node: torch.fx.Node) -> tuple[int, ...]:
    return tuple(node.meta["val"].shape)


def _check_conv2d(node: torch.fx.Node) -> str | None:
    kernel = _shape(node.args[1])[-2:]
    return allowlist.conv_problems(kernel, _pair(_arg(node, 3, 1)), _pair(_arg(node, 5, 1)), _arg(node, 6, 1))


def _check_upsample(node: torch.fx.Node) -> str | None:
    return allowlist.upsample_problems(_shape(node.args[0])[-2:], _shape(node)[-2:])


def _check_clamp(node: torch.fx.Node) -> str | None:
    return allowlist.clamp_problems(_arg(node, 1, None), _arg(node, 2, None))


def _check_pad(node: torch.fx.Node) -> str | None:
    return allowlist.pad_problems(_arg(node, 2, 0.0))


ATTRIBUTE_CHECKS = {
    "aten.conv2d.default": _check_conv2d,
    "aten.upsample_nearest2d.vec": _check_upsample,
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
    """Export ``model`` on ``example_input`` (NCHW) with ``torch.export`` and audit every operator
    of its functional graph, the one converters lower (in-place ReLU and add become ReLU and add)."""
    program = torch.export.export(model.eval(), (example_input,)).run_decompositions({})
    counts: Counter[str] = Counter()
    violations = []
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        operator = str(node.target)
        counts[operator] += 1
        if operator not in allowlist.TORCH_OPERATORS:
            reason = allowlist.NOT_NPU_NATIVE
        else:
            check = ATTRIBUTE_CHECKS.get(operator)
            reason = check(node) if check else None
        if reason:
            violations.append(Violation(node.name, operator, reason))
    return TorchAudit(dict(counts), violations)
