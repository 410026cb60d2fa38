"""Distillation teachers from our weights, a user's module or an ONNX file, and their checks."""

import pytest
import torch
from torch import nn

from litedenoise.errors import LiteDenoiseError
from litedenoise.models import LiteDenoiseNet
from litedenoise.train import loop, teachers
from litedenoise.train.config import make_config
from litedenoise.weights import read_metadata


def distill_config(teacher: str | None = None, crop_size: int = 32, steps: int = 2):
    return make_config(dict(
        width=2, real_pair_sets=["pairs"], clean_photo_dirs=["photos"], val_set="pairs",
        stages=[{"crop_size": crop_size, "batch_size": 2, "steps": steps}],
        warmup_steps=1, val_every=steps, checkpoint_every=steps, num_workers=0,
        teacher_weights=teacher, alpha_teacher=1.0,
    ))


def near_identity_student() -> LiteDenoiseNet:
    """A tiny student whose residual branch is off: output = input, a valid (if lazy) denoiser."""
    model = LiteDenoiseNet(width=2)
    nn.init.zeros_(model.out_conv.weight)
    nn.init.zeros_(model.out_conv.bias)
    return model.eval()


class Scaled(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def first_logged_loss(run_dir) -> float:
    return float((run_dir / "log.csv").read_text().splitlines()[1].split(",")[1])


def test_a_student_initialised_as_its_own_teacher_starts_with_zero_distillation_loss(tmp_path, data_root):
    from litedenoise.weights import save_weights

    weights = tmp_path / "start.safetensors"
    save_weights(weights, near_identity_student(), {})
    config = distill_config(str(weights), steps=1)
    config.init_weights = str(weights)
    loop.train(config, tmp_path / "run", data_root)
    assert first_logged_loss(tmp_path / "run") < 1e-6
    # and with ground truth in the mix the same start has a real loss
    config.alpha_teacher = 0.9
    loop.train(config, tmp_path / "run2", data_root)
    assert first_logged_loss(tmp_path / "run2") > 1e-4


def test_an_onnx_teacher_runs_in_onnx_runtime_and_matches_the_module_it_came_from(tmp_path):
    model = LiteDenoiseNet(width=2).eval()
    path = tmp_path / "teacher.onnx"
    torch.onnx.export(
        model, (torch.rand(1, 3, 32, 32),), str(path), dynamo=False, opset_version=17,
        input_names=["image"], output_names=["denoised"], dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}},
    )
    teacher = teachers.load_teacher(str(path))
    x = torch.rand(2, 3, 48, 64)
    with torch.no_grad():
        assert torch.allclose(teacher(x), model(x), atol=1e-5)


def test_a_student_distils_from_an_onnx_teacher(tmp_path, data_root):
    path = tmp_path / "teacher.onnx"
    torch.onnx.export(
        near_identity_student(), (torch.rand(1, 3, 32, 32),), str(path), dynamo=False, opset_version=17,
        input_names=["image"], output_names=["denoised"], dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}},
    )
    best = loop.train(distill_config(str(path)), tmp_path / "run", data_root)
    assert str(path) in read_metadata(best)["teacher"]


def test_an_onnx_teacher_with_a_batch_of_one_as_export_writes_it_distils_a_batch_of_two(tmp_path, data_root):
    # `litedenoise export --any-size` and torch.onnx.export's default fix the batch at 1
    path = tmp_path / "teacher.onnx"
    model = near_identity_student()
    torch.onnx.export(
        model, (torch.rand(1, 3, 32, 32),), str(path), dynamo=False, opset_version=17,
        input_names=["image"], output_names=["denoised"], dynamic_axes={"image": {2: "h", 3: "w"}},
    )
    teacher = teachers.load_teacher(str(path))
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        assert torch.allclose(teacher(x), model(x), atol=1e-5)
    best = loop.train(distill_config(str(path)), tmp_path / "run", data_root)
    assert str(path) in read_metadata(best)["teacher"]


def test_an_onnx_teacher_whose_static_batch_does_not_divide_the_batch_size_is_refused(tmp_path, data_root):
    path = tmp_path / "three.onnx"
    torch.onnx.export(near_identity_student(), (torch.rand(3, 3, 32, 32),), str(path), dynamo=False, opset_version=17)
    with pytest.raises(LiteDenoiseError, match="static batch of 3; batch_size 2"):
        loop.train(distill_config(str(path)), tmp_path / "run", data_root)
    assert not (tmp_path / "run").exists()


def test_an_onnx_teacher_with_a_static_shape_other_than_the_crop_is_refused(tmp_path, data_root):
    path = tmp_path / "static.onnx"
    torch.onnx.export(near_identity_student(), (torch.rand(1, 3, 64, 64),), str(path), dynamo=False, opset_version=17)
    with pytest.raises(LiteDenoiseError, match="static 64x64 input; crop_size 32"):
        loop.train(distill_config(str(path)), tmp_path / "run", data_root)


def test_a_teacher_from_a_python_file_factory_and_one_given_directly_as_a_module(tmp_path, data_root):
    script = tmp_path / "my_teacher.py"
    script.write_text("import torch\n\ndef build():\n    return torch.nn.Identity()\n")
    best = loop.train(distill_config(f"{script}:build"), tmp_path / "file", data_root)
    assert f"{script}:build" in read_metadata(best)["teacher"]
    # an identity teacher with alpha 1 makes the loss the student's distance to its own input
    best = loop.train(distill_config(), tmp_path / "module", data_root, teacher=near_identity_student())
    assert "LiteDenoiseNet" in read_metadata(best)["teacher"]
    assert first_logged_loss(tmp_path / "module") == pytest.approx(first_logged_loss(tmp_path / "file"), rel=1e-5)


@pytest.mark.parametrize(
    ("teacher", "message"),
    [
        (Scaled(255.0), r"must take and return RGB in \[0, 1\]"),
        (nn.Conv2d(3, 1, 1), "must map 1x3xHxW to 1x3xHxW"),
        (nn.Flatten(), "must map 1x3xHxW to 1x3xHxW"),
        (nn.Linear(5, 5), "fails on a 1x3x32x32 float input"),
    ],
)
def test_a_teacher_of_the_wrong_convention_is_refused_before_training(tmp_path, data_root, teacher, message):
    with pytest.raises(LiteDenoiseError, match=message):
        loop.train(distill_config(), tmp_path / "run", data_root, teacher=teacher)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_teacher_sources_that_cannot_be_loaded_give_one_line_errors(tmp_path):
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")
    (tmp_path / "factory.py").write_text("def build():\n    return 42\n")
    cases = [
        (str(tmp_path / "missing.onnx"), "not found"),
        (str(tmp_path / "broken.onnx"), "ONNX Runtime cannot load it"),
        (f"{tmp_path / 'factory.py'}:build", "returned int, not a torch nn.Module"),
        (f"{tmp_path / 'factory.py'}:absent", "could not build it"),
        (f"{tmp_path / 'nowhere.py'}:build", "not found"),
        ("no_such_package.models:build", "could not build it"),
    ]
    for source, message in cases:
        with pytest.raises(LiteDenoiseError, match=message) as caught:
            teachers.load_teacher(source)
        assert "\n" not in str(caught.value)


def test_the_shipped_student_passes_the_convention_check_with_a_wide_margin():
    from litedenoise.weights import load_model

    student = load_model("student")
    probe = teachers.convention_probe(64)
    with torch.no_grad():
        change = (student(probe) - probe).abs().mean().item()
    assert change < teachers.CONVENTION_TOLERANCE / 4
    teachers.check_teacher(student, [64], "shipped student")


def shift_right_teacher() -> nn.Module:
    """A 'denoiser' that moves the image one pixel right: not symmetric under flips, so its
    self-ensemble differs from it."""
    conv = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)
    nn.init.zeros_(conv.weight)
    conv.weight.data[:, 0, 1, 0] = 1.0
    conv.size_multiple, conv.receptive_field_radius = 1, 1  # what inference asks of a network
    return conv.eval()


def test_a_self_ensemble_teacher_is_the_tta_of_inference_and_trains_the_student_towards_it(tmp_path, data_root):
    from litedenoise.infer import denoise_tensor

    shift = shift_right_teacher()
    image = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        ensemble = teachers.SelfEnsemble(shift)(image)
        assert torch.allclose(ensemble, denoise_tensor(image, shift, tta=True, tile=64), atol=1e-6)
        assert (ensemble - shift(image)).abs().mean() > 0.01
    plain = loop.train(distill_config(), tmp_path / "plain", data_root, teacher=shift_right_teacher())
    config = distill_config()
    config.teacher_tta = True
    tta = loop.train(config, tmp_path / "tta", data_root, teacher=shift_right_teacher())
    assert read_metadata(tta)["teacher"].startswith("the x8 self-ensemble of Conv2d")
    assert not read_metadata(plain)["teacher"].startswith("the x8")
    # same crops, same start: only the teacher's target differs, so the first loss does
    assert first_logged_loss(tmp_path / "tta") != pytest.approx(first_logged_loss(tmp_path / "plain"), rel=1e-3)


def test_teacher_tta_without_a_teacher_is_refused(tmp_path, data_root):
    config = distill_config()
    config.teacher_tta = True
    with pytest.raises(LiteDenoiseError, match="teacher_tta needs a teacher"):
        loop.train(config, tmp_path / "run", data_root)


def shifted_student(shift: float) -> LiteDenoiseNet:
    """A tiny student whose output is clamp(input + shift): a teacher that works pixel by pixel,
    so its output on a whole image, cropped, equals its output on the crop."""
    model = near_identity_student()
    nn.init.constant_(model.out_conv.bias, shift)
    return model


def test_teacher_outputs_run_once_on_real_pairs_are_cropped_and_turned_with_them(data_root):
    config = distill_config(steps=6)
    config.real_fraction = 0.5
    teacher = shifted_student(0.1)
    datasets = loop.stage_datasets(config, data_root, teacher=teacher)
    batches = list(loop.stage_batches(config, datasets, 0))
    has_teacher = torch.cat([known for *_, known in batches])
    assert 0 < has_teacher.sum() < len(has_teacher)  # real pairs carry it, synthetic samples do not
    for _, noisy, _, cached, known in batches:
        with torch.no_grad():
            online = teacher(noisy)
        assert torch.allclose(cached[known], online[known], atol=0.5 / 255 + 1e-6)  # 8-bit targets
        assert not cached[~known].any()
        assert torch.equal(loop.teacher_targets(teacher, noisy, cached, known)[~known], online[~known])


class ShapeRecordingStudent(LiteDenoiseNet):
    def __init__(self):
        super().__init__(width=2)
        self.load_state_dict(shifted_student(13 / 255).state_dict())  # whole 8-bit levels: targets exact
        self.batch_sizes = []

    def forward(self, x):
        self.batch_sizes.append(x.shape[0])
        return super().forward(x)


def test_a_teacher_run_once_on_real_pairs_is_not_run_on_their_batches_and_gives_the_same_loss(tmp_path, data_root):
    config = distill_config(steps=2)
    config.real_fraction, config.alpha_teacher = 1.0, 0.9
    online = ShapeRecordingStudent()
    loop.train(config, tmp_path / "online", data_root, teacher=online.eval())
    config.teacher_once_on_real_pairs = True
    once = ShapeRecordingStudent()
    best = loop.train(config, tmp_path / "once", data_root, teacher=once.eval())
    assert 2 in online.batch_sizes and 2 not in once.batch_sizes  # the batches are never run once cached
    assert first_logged_loss(tmp_path / "once") == pytest.approx(first_logged_loss(tmp_path / "online"), rel=1e-5)
    assert "run once on the real pairs" in read_metadata(best)["teacher"]


def test_a_teacher_run_once_on_real_pairs_must_be_one_the_inference_path_can_tile(tmp_path, data_root):
    config = distill_config()
    config.teacher_once_on_real_pairs = True
    with pytest.raises(LiteDenoiseError, match="teacher_once_on_real_pairs needs a teacher"):
        loop.train(config, tmp_path / "none", data_root)
    with pytest.raises(LiteDenoiseError, match="can only run online"):
        loop.train(config, tmp_path / "scaled", data_root, teacher=Scaled(1.0))
    assert not (tmp_path / "none").exists() and not (tmp_path / "scaled").exists()
