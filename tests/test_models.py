import pytest
import torch

from litedenoise.models import LiteDenoiseNet, TeacherNet
from litedenoise.weights import parameter_count


def test_student_has_exactly_the_papers_parameter_count():
    assert parameter_count(LiteDenoiseNet()) == 1_963_411


def test_teacher_has_about_41_6_million_parameters():
    assert abs(parameter_count(TeacherNet()) - 41.6e6) < 0.05e6


@pytest.mark.parametrize("model_class", [LiteDenoiseNet, TeacherNet])
def test_tiny_models_run_forward_and_backward_with_outputs_in_unit_range(model_class):
    model = model_class(width=4)
    image = torch.rand(2, 3, 32, 48, requires_grad=True)
    output = model(image)
    assert output.shape == image.shape
    assert output.min() >= 0 and output.max() <= 1
    output.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_the_untrained_teacher_is_the_identity_so_its_clamp_passes_gradients():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 64, 64) * 0.5 + 0.25
    teacher = TeacherNet(width=8)
    output = teacher(image)
    assert torch.equal(output, image)
    output.sum().backward()  # the output block's last conv still learns from the first step
    assert teacher.out_block[-1][0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("model_class", [LiteDenoiseNet, TeacherNet])
def test_models_reject_odd_widths(model_class):
    with pytest.raises(ValueError):
        model_class(width=3)


def _measured_radius(model: torch.nn.Module, size: int, offsets: range) -> int:
    """Largest distance from an output pixel to an input pixel that influences it."""
    model = model.double()
    with torch.no_grad():  # keep every ReLU/PReLU in its linear part and the output unclamped
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                module.bias.fill_(0.05)
                if not module.weight.any():  # a zero-initialised conv would hide the paths through it
                    module.weight.normal_(0.0, 0.1)
        last_conv = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        last_conv.weight.mul_(1e-3)
        last_conv.bias.zero_()
    radius = 0
    for offset in offsets:
        image = torch.full((1, 3, size, size), 0.5, dtype=torch.double, requires_grad=True)
        centre = size // 2 + offset
        model(image)[0, :, centre, centre].sum().backward()
        rows, cols = torch.nonzero(image.grad[0].abs().sum(0)).unbind(1)
        radius = max(radius, int((rows - centre).abs().max()), int((cols - centre).abs().max()))
    return radius


@pytest.mark.parametrize("model_class, size", [(LiteDenoiseNet, 320), (TeacherNet, 416)])
def test_receptive_field_radius_covers_the_measured_extent(model_class, size):
    measured = _measured_radius(model_class(width=2), size, range(0, 16, 5))
    assert measured > 0
    assert measured <= model_class.receptive_field_radius < measured + 16


def test_the_students_in_place_blocks_give_the_out_of_place_outputs_and_gradients(monkeypatch):
    from torch.nn import functional as F

    from litedenoise.models import student

    model, image, target = LiteDenoiseNet(width=4), torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)

    def output_and_gradients():
        model.zero_grad()
        output = model(image)
        (output - target).abs().mean().backward()
        return [output.detach(), *(parameter.grad.clone() for parameter in model.parameters())]

    in_place = output_and_gradients()
    monkeypatch.setattr(student.LiteBlock, "forward", lambda self, x: F.relu(x + self.expand(F.relu(self.squeeze(x)))))
    monkeypatch.setattr(student.Down, "forward", lambda self, x: F.relu(self.conv(x)))
    out_of_place = output_and_gradients()
    assert all(torch.equal(a, b) for a, b in zip(in_place, out_of_place))
