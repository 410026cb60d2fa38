"""The shipped student: provenance in its metadata, and a golden score that catches numerical drift;
the committed teacher checkpoint: it loads and denoises."""

from pathlib import Path

import pytest
import torch

from litedenoise.demo import synthetic_example
from litedenoise.infer import denoise
from litedenoise.metrics import psnr
from litedenoise.weights import load_model, shipped_weights_path


@pytest.fixture(scope="module")
def student():
    return load_model("student")


def test_the_shipped_student_is_the_papers_architecture_with_provenance(student):
    metadata = student.metadata
    assert metadata["architecture"] == "LiteDenoiseNet" and metadata["params"] == "1963411"
    for key in ("data", "recipe", "val_psnr", "licence"):
        assert metadata.get(key), key


def test_the_shipped_student_denoises_the_demo_photo_to_its_golden_psnr(student):
    noisy, clean = synthetic_example()
    assert psnr(noisy, clean) == pytest.approx(GOLDEN_NOISY_PSNR, abs=0.01)
    assert psnr(denoise(noisy, student), clean) == pytest.approx(GOLDEN_DENOISED_PSNR, abs=0.05)


# Measured with the shipped weights (see docs/model-card.md); a change in the model, the
# inference path, the noise synthesis or the metric moves these.
GOLDEN_NOISY_PSNR = 32.44
GOLDEN_DENOISED_PSNR = 34.59


def test_the_shipped_student_file_is_at_most_8_mb_and_names_its_licence(student):
    assert shipped_weights_path("student").stat().st_size <= 8_000_000
    assert "non-commercial" in student.metadata["licence"]


def test_the_committed_teacher_checkpoint_loads_in_fp32_with_provenance_and_denoises():
    # weights/: the CPU-session teacher that the next session continues with --init (docs/model-card.md)
    teacher = load_model(REPO / "weights" / "teacher-w32-6450.safetensors")
    assert type(teacher).__name__ == "TeacherNet" and teacher.width == 32
    assert teacher.metadata["params"] == "10406854" and teacher.metadata["step"] == "1700" and "teacher-w32-4750" in teacher.metadata["init"]
    assert all(parameter.dtype == torch.float32 for parameter in teacher.parameters())
    for key in ("data", "recipe", "val_psnr", "licence"):
        assert teacher.metadata.get(key), key
    noisy, clean = synthetic_example()
    noisy, clean = noisy[:128, :128], clean[:128, :128]
    assert psnr(denoise(noisy, teacher), clean) > psnr(noisy, clean) + 1.0


REPO = Path(__file__).resolve().parents[1]
