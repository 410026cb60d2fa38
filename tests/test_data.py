import json

import numpy as np
import pytest
import torch
from PIL import Image

from litedenoise.data.crops import CropSources, TrainingCrops
from litedenoise.data.paired import LAYOUTS, check_pair_sizes, find_pairs, polyu_pairs
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


# --- more layouts: Mobile AI, SIDD-Medium; size checks -------------------------------------


def _sidd_scene(folder, ids=("010", "011"), size=(20, 24)):
    for identifier in ids:
        _write(folder / f"0001_NOISY_SRGB_{identifier}.PNG", size)
        _write(folder / f"0001_GT_SRGB_{identifier}.PNG", size)


def test_mobile_ai_original_and_denoised_folders_pair_by_file_name(tmp_path):
    for name in ("b.png", "a.png"):
        _write(tmp_path / "original" / name)
        _write(tmp_path / "denoised" / name)
    pairs = find_pairs(tmp_path)
    assert [p.name for p in pairs] == ["a", "b"]
    assert pairs[0].noisy == tmp_path / "original" / "a.png" and pairs[0].clean == tmp_path / "denoised" / "a.png"


def test_sidd_scene_folders_pair_noisy_with_gt_and_name_pairs_scene_slash_id(tmp_path):
    scene = "0001_001_S6_00100_00060_3200_L"
    _sidd_scene(tmp_path / scene)
    _sidd_scene(tmp_path / "0002_001_GP_00100_00100_3200_N")
    (tmp_path / scene / "0001_GT_RAW_010.MAT").write_bytes(b"raw data is not an image")
    pairs = find_pairs(tmp_path)
    assert [p.name for p in pairs] == [
        f"{scene}/0001_SRGB_010",
        f"{scene}/0001_SRGB_011",
        "0002_001_GP_00100_00100_3200_N/0001_SRGB_010",
        "0002_001_GP_00100_00100_3200_N/0001_SRGB_011",
    ]
    assert pairs[0].noisy.name == "0001_NOISY_SRGB_010.PNG" and pairs[0].clean.name == "0001_GT_SRGB_010.PNG"
    assert [p.name for p in find_pairs(tmp_path, [f"{scene}/0001_SRGB_011"])] == [f"{scene}/0001_SRGB_011"]


def test_sidd_files_directly_in_the_folder_are_named_by_id(tmp_path):
    _sidd_scene(tmp_path)
    pairs = find_pairs(tmp_path)
    assert [p.name for p in pairs] == ["0001_SRGB_010", "0001_SRGB_011"]
    assert pairs[1].noisy.name == "0001_NOISY_SRGB_011.PNG"


def test_unpaired_files_are_listed_ten_at_most_with_a_count(tmp_path):
    _sidd_scene(tmp_path / "scene", ids=["010"])
    for index in range(12):
        _write(tmp_path / "scene" / f"0001_NOISY_SRGB_{100 + index}.PNG")
    with pytest.raises(LiteDenoiseError, match="12 images without a partner") as error:
        find_pairs(tmp_path)
    message = str(error.value)
    assert "scene/0001_NOISY_SRGB_100.PNG" in message and "scene/0001_NOISY_SRGB_109.PNG" in message
    assert "0001_NOISY_SRGB_110" not in message and message.endswith("and 2 more")


def test_unpaired_mobile_ai_files_are_named(tmp_path):
    _write(tmp_path / "original" / "a.png")
    _write(tmp_path / "denoised" / "a.png")
    _write(tmp_path / "denoised" / "lonely.png")
    with pytest.raises(LiteDenoiseError, match="denoised/lonely.png"):
        find_pairs(tmp_path)


def test_images_in_a_scene_folder_that_are_neither_noisy_nor_gt_are_named(tmp_path):
    _sidd_scene(tmp_path / "scene")
    _write(tmp_path / "scene" / "thumbnail.png")
    with pytest.raises(LiteDenoiseError, match="scene/thumbnail.png"):
        find_pairs(tmp_path)


def test_two_images_that_would_pair_under_one_name_are_an_error(tmp_path):
    _write(tmp_path / "noisy" / "a.png")
    _write(tmp_path / "noisy" / "a.jpg")
    _write(tmp_path / "clean" / "a.png")
    with pytest.raises(LiteDenoiseError, match="noisy/a.jpg, noisy/a.png"):
        find_pairs(tmp_path)


def test_a_folder_in_no_known_layout_names_the_layouts_looked_for(tmp_path):
    _write(tmp_path / "photos" / "a.png")
    with pytest.raises(LiteDenoiseError) as error:
        find_pairs(tmp_path)
    for layout in LAYOUTS:
        assert layout in str(error.value)
    assert "\n" not in str(error.value)


def test_a_folder_holding_two_layouts_is_an_error_rather_than_a_choice(tmp_path):
    for side in ("noisy", "clean", "original", "denoised"):
        _write(tmp_path / side / "a.png")
    with pytest.raises(LiteDenoiseError, match="several layouts"):
        find_pairs(tmp_path)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(LiteDenoiseError, match="no such folder"):
        find_pairs(tmp_path / "absent")


def test_finding_pairs_reads_file_names_only_never_pixels(tmp_path):
    for side in ("noisy", "clean"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "a.png").write_bytes(b"not a png at all")
    assert [p.name for p in find_pairs(tmp_path)] == ["a"]


def test_size_check_reports_only_the_pairs_whose_sizes_differ(tmp_path):
    _write(tmp_path / "noisy" / "same.png", size=(20, 24))
    _write(tmp_path / "clean" / "same.png", size=(20, 24))
    _write(tmp_path / "noisy" / "other.png", size=(20, 24))
    _write(tmp_path / "clean" / "other.png", size=(20, 26))
    problems = check_pair_sizes(find_pairs(tmp_path))
    assert len(problems) == 1
    assert problems[0].startswith("other: noisy 24x20, clean 26x20")


def test_size_check_reads_headers_only_and_reports_unreadable_ones(tmp_path):
    _write(tmp_path / "noisy" / "a.png", size=(200, 240))
    _write(tmp_path / "clean" / "a.png", size=(200, 240))
    clean = tmp_path / "clean" / "a.png"
    clean.write_bytes(clean.read_bytes()[:200])  # header intact, pixels cut off
    (tmp_path / "noisy" / "b.png").write_bytes(b"not a png at all")
    _write(tmp_path / "clean" / "b.png")
    problems = check_pair_sizes(find_pairs(tmp_path))
    assert len(problems) == 1 and problems[0].startswith("b: cannot read the header of")


def test_size_check_compares_sizes_after_exif_orientation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turned upright, the 24x20 pixels become 20x24
    _write(tmp_path / "clean" / "a.png", size=(24, 20))
    path = tmp_path / "noisy" / "a.jpg"
    path.parent.mkdir()
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(path, exif=exif)
    assert check_pair_sizes(find_pairs(tmp_path)) == []


@pytest.mark.parametrize("noise_model", ["camera", "poisson_gaussian", "gaussian"])
def test_every_noise_model_makes_reproducible_noisy_crops(noise_model):
    dataset = TrainingCrops(_sources(), crop_size=16, real_fraction=0.0, seed=1, noise_model=noise_model)
    first, again = dataset[5], dataset[5]
    assert torch.equal(first[0], again[0])
    assert not torch.equal(first[0], first[1])  # noise was added
    assert 0.0 <= float(first[0].min()) and float(first[0].max()) <= 1.0
