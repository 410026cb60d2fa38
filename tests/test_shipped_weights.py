"""The shipped student: provenance in its metadata, and a golden score that catches numerical drift."""

import pytest

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
GOLDEN_DENOISED_PSNR = 34.39


def test_the_shipped_student_file_is_at_most_8_mb_and_names_its_licence(student):
    assert shipped_weights_path("student").stat().st_size <= 8_000_000
    assert "non-commercial" in student.metadata["licence"]
