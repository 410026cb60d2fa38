import torch
from torch import nn

from litedenoise.export.torch_audit import audit_module
from litedenoise.models import LiteDenoiseNet, TeacherNet


def test_student_graph_holds_only_npu_native_operators():
    audit = audit_module(LiteDenoiseNet(width=4), torch.rand(1, 3, 32, 32))
    assert audit.passed, [str(v) for v in audit.violations]
    assert set(audit.operator_counts) == {
        "aten.conv2d.default",
        "aten.relu.default",
        "aten.add.Tensor",
        "aten.upsample_nearest2d.vec",
        "aten.cat.default",
        "aten.clamp.default",
    }


def test_teacher_prelu_strided_2x2_conv_and_transposed_conv_are_each_reported():
    audit = audit_module(TeacherNet(width=4), torch.rand(1, 3, 32, 32))
    reasons = {(v.operator, v.reason) for v in audit.violations}
    assert ("aten.prelu.default", "operator not NPU-native") in reasons
    assert ("aten.conv_transpose2d.input", "operator not NPU-native") in reasons
    assert any(op == "aten.conv2d.default" and "kernel 2x2" in reason for op, reason in reasons)


class _Patched(nn.Module):
    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return torch.clamp(self.layer(x), 0.0, 1.0)


def test_conv_attributes_outside_the_allowlist_are_reported():
    cases = {
        "dilation (2, 2)": nn.Conv2d(3, 3, 3, padding=2, dilation=2),
        "groups 3": nn.Conv2d(3, 3, 3, padding=1, groups=3),
        "kernel 5x5": nn.Conv2d(3, 3, 5, padding=2),
        "stride (3, 3)": nn.Conv2d(3, 3, 3, stride=3, padding=1),
    }
    for expected, layer in cases.items():
        audit = audit_module(_Patched(layer), torch.rand(1, 3, 24, 24))
        assert any(expected in v.reason for v in audit.violations), (expected, audit.violations)


def test_a_clamp_to_another_range_and_bilinear_upsampling_are_reported():
    class Bad(nn.Module):
        def forward(self, x):
            x = nn.functional.interpolate(x, scale_factor=2.0, mode="bilinear")
            return torch.clamp(x, 0.0, 0.5)

    audit = audit_module(Bad(), torch.rand(1, 3, 8, 8))
    assert not audit.passed
    assert any("[0.0, 0.5]" in v.reason for v in audit.violations)
    assert any("bilinear" in v.operator for v in audit.violations)
