import json

import numpy as np
import pytest
from PIL import Image

from litedenoise.data.crops import CropSources, TrainingCrops
from litedenoise.data.paired import find_pairs, polyu_pairs
from litedenoise.errors import LiteDenoiseError


def _write(path, size=(24, 20), value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)


def test_pairs_are_matched_by_stem_across_formats(tmp_path):
    _write(tmp_path / "noisy" / "a.jpg")
    _write(tmp_path / "clean" / "a.png")
    _write(tmp_path / "noisy" / "b.png")
    _write(tmp_path / "clean" / "b.png")
    pairs = find_pairs(tmp_path)
    assert [p.name for p in pairs] == ["a", "b"]
    assert pairs[0].noisy.suffix == ".jpg" and pairs[0].clean.suffix == ".png"


def test_unpaired_files_are_reported_by_name(tmp_path):
    _write(tmp_path / "noisy" / "a.png")
    _write(tmp_path / "clean" / "a.png")
    _write(tmp_path / "noisy" / "orphan.png")
    with pytest.raises(LiteDenoiseError, match="orphan"):
        find_pairs(tmp_path)


def test_an_empty_or_malformed_folder_is_an_error(tmp_path):
    with pytest.raises(LiteDenoiseError, match="noisy"):
        find_pairs(tmp_path)
    (tmp_path / "noisy").mkdir()
    (tmp_path / "clean").mkdir()
    with pytest.raises(LiteDenoiseError, match="no image pairs"):
        find_pairs(tmp_path)


def test_polyu_groups_follow_split_json(tmp_path):
    for name in ("s1", "s2", "s3"):
        _write(tmp_path / "polyu" / "crops" / "noisy" / f"{name}.jpg")
        _write(tmp_path / "polyu" / "crops" / "clean" / f"{name}.jpg")
    split = {"train": {"crops": ["s1", "s2"], "full": []}, "val": {"crops": ["s3"], "full": []}}
    (tmp_path / "polyu" / "split.json").write_text(json.dumps(split))
    assert [p.name for p in polyu_pairs(tmp_path, "train")] == ["s1", "s2"]
    assert [p.name for p in polyu_pairs(tmp_path, "val")] == ["s3"]


def _sources():
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    noisy = np.clip(clean.astype(int) + 5, 0, 255).astype(np.uint8)
    photo = rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)
    return CropSources(real_pairs=[(noisy, clean)], clean_photos=[photo])


def test_each_training_sample_is_a_pure_function_of_seed_and_index():
    first = TrainingCrops(_sources(), crop_size=16, real_fraction=0.5, seed=3)
    second = TrainingCrops(_sources(), crop_size=16, real_fraction=0.5, seed=3)
    for index in (0, 7, 123456):
        for a, b in zip(first[index], second[index]):
            assert a.shape == (3, 16, 16) and a.dtype.is_floating_point
            assert np.array_equal(a.numpy(), b.numpy())
    other_seed = TrainingCrops(_sources(), crop_size=16, real_fraction=0.5, seed=4)
    assert not all(np.array_equal(first[i][0].numpy(), other_seed[i][0].numpy()) for i in range(5))


def test_real_crops_keep_noisy_and_clean_aligned_through_flips_and_rotations():
    dataset = TrainingCrops(_sources(), crop_size=16, real_fraction=1.0, seed=0)
    for index in range(20):
        noisy, clean = dataset[index]
        expected = np.clip(np.round(clean.numpy() * 255) + 5, 0, 255) / 255
        assert np.allclose(noisy.numpy(), expected, atol=1e-6)


def test_a_crop_larger_than_every_source_is_refused():
    with pytest.raises(ValueError, match="64x64"):
        TrainingCrops(_sources(), crop_size=64, real_fraction=0.5, seed=0)
