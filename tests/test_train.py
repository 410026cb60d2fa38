import dataclasses

import numpy as np
import pytest
import torch
import yaml

from litedenoise.data.camera_noise import CameraNoiseRange
from litedenoise.errors import LiteDenoiseError
from litedenoise.evaluate import evaluate
from litedenoise.train import loop
from litedenoise.train.config import Stage, TrainConfig, config_to_yaml, load_recipe, make_config
from litedenoise.weights import load_model, read_metadata


def tiny_config(crop_size=32, steps=6, **changes) -> TrainConfig:
    values = dict(
        width=2, real_pair_sets=["pairs"], clean_photo_dirs=["photos"], val_set="pairs",
        stages=[{"crop_size": crop_size, "batch_size": 2, "steps": steps}],
        warmup_steps=2, val_every=3, checkpoint_every=3, num_workers=1,
    )
    return make_config({**values, **changes})


def test_a_tiny_run_writes_best_weights_with_provenance_and_a_log(tmp_path, data_root):
    best = loop.train(tiny_config(), tmp_path / "run", data_root)
    metadata = read_metadata(best)
    assert metadata["architecture"] == "LiteDenoiseNet" and metadata["width"] == "2"
    assert float(metadata["val_psnr"]) > 0 and "crop_size: 32" in metadata["recipe"]
    assert "real pairs pairs" in metadata["data"] and "photos" in metadata["data"]
    assert "non-commercial" not in metadata["licence"]  # no PolyU in this run
    assert load_model(best).width == 2
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss") and rows[-1].startswith("6,")


def test_resume_continues_from_the_checkpointed_step(tmp_path, data_root):
    run = tmp_path / "run"
    loop.train(tiny_config(), run, data_root)
    loop.train(tiny_config(steps=9), run, data_root, resume=True)
    state = torch.load(run / loop.CHECKPOINT_NAME, weights_only=True)
    assert state["step"] == 9


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path, data_root):
    with pytest.raises(LiteDenoiseError, match="nothing to resume"):
        loop.train(tiny_config(), tmp_path / "empty", data_root, resume=True)


def test_a_non_finite_loss_stops_the_run_with_a_clear_message(tmp_path, data_root, monkeypatch):
    monkeypatch.setattr(loop, "pixel_loss", lambda name, a, b: torch.tensor(float("nan")))
    with pytest.raises(LiteDenoiseError, match="loss became nan at step 0"):
        loop.train(tiny_config(), tmp_path / "run", data_root)


def test_warm_up_then_cosine_decay_reaches_the_floor():
    stages = [Stage(crop_size=64, batch_size=4, steps=40), Stage(crop_size=128, batch_size=2, steps=60)]
    config = TrainConfig(stages=stages, warmup_steps=10, lr=1e-3, lr_min=1e-5)
    factors = [loop.learning_rate_factor(step, config) for step in range(101)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)  # one schedule over both stages
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert factors[100] == pytest.approx(1e-2)


def test_recipes_refuse_unknown_keys_and_wrong_types(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("val_evry: 10\n")
    with pytest.raises(LiteDenoiseError, match="unknown config key.*val_evry"):
        load_recipe(recipe)
    recipe.write_text("stages: [{crop_size: big, batch_size: 1, steps: 1}]\n")
    with pytest.raises(LiteDenoiseError, match="crop_size"):
        load_recipe(recipe)
    recipe.write_text("stages: [{crop_size: 64, batch_size: 1}]\n")
    with pytest.raises(LiteDenoiseError, match="steps"):
        load_recipe(recipe)
    assert load_recipe(recipe, ["stages=[{crop_size: 64, batch_size: 1, steps: 2}]"]).stages[0].crop_size == 64
    with pytest.raises(LiteDenoiseError, match="key=value"):
        load_recipe(None, ["val_every"])
    # YAML 1.1 reads 1e-4 as a string; a float field still takes it, a word is still refused
    assert load_recipe(None, ["lr=1e-4"]).lr == 1e-4
    with pytest.raises(LiteDenoiseError, match="'lr' must be float, got 'fast'"):
        load_recipe(None, ["lr=fast"])


def test_a_recipe_sets_the_camera_noise_ranges_and_they_survive_the_saved_config(tmp_path):
    config = load_recipe(None, ["noise_model=camera", "camera_noise={shot_variance: [2e-4, 2e-3], jpeg_probability: 0}"])
    assert config.camera_noise.shot_variance == (2e-4, 2e-3) and config.camera_noise.jpeg_probability == 0.0
    assert config.camera_noise.chroma_blur_sigma == CameraNoiseRange().chroma_blur_sigma  # unset keys keep their defaults
    assert make_config(yaml.safe_load(config_to_yaml(config))) == config  # what a resumed run reads back
    assert "camera (shot_variance [0.0002, 0.002], jpeg_probability 0.0) synthetic noise" in loop.training_data_description(config)
    assert "camera synthetic noise" in loop.training_data_description(load_recipe(None, ["noise_model=camera"]))
    for bad, message in [
        ("camera_noise={shot_varience: [1e-3, 2e-3]}", "unknown camera_noise key.*shot_varience"),
        ("camera_noise={shot_variance: [2e-3, 2e-4]}", "shot_variance must be a range"),
        ("camera_noise={shot_variance: [1e-3]}", "'shot_variance' must be tuple\\[float, float\\]"),
        ("camera_noise=strong", "'camera_noise' must be CameraNoiseRange"),
    ]:
        with pytest.raises(LiteDenoiseError, match=message):
            load_recipe(None, [bad])


def test_the_camera_noise_ranges_reach_the_training_crops(data_root):
    photos_only = {"real_fraction": 0.0, "noise_model": "camera", "stages": [{"crop_size": 32, "batch_size": 2, "steps": 1}]}
    quiet = loop.stage_datasets(tiny_config(**photos_only, camera_noise=CameraNoiseRange(shot_variance=(1e-5, 2e-5), jpeg_probability=0.0)), data_root)[0]
    loud = loop.stage_datasets(tiny_config(**photos_only, camera_noise=CameraNoiseRange(shot_variance=(1e-2, 2e-2), jpeg_probability=0.0)), data_root)[0]
    spread = [float(np.mean([(d[i][0] - d[i][1]).std() for i in range(8)])) for d in (quiet, loud)]
    assert spread[1] > 5 * spread[0]


def test_the_shipped_cpu_recipe_loads():
    config = load_recipe("recipes/foundation-cpu.yaml")
    assert config.model == "student" and config.stages == [Stage(crop_size=128, batch_size=8, steps=5500)]


def test_polyu_anywhere_in_the_data_makes_the_weights_non_commercial():
    assert loop.training_licence(tiny_config()) != loop.POLYU_LICENCE
    assert loop.training_licence(tiny_config(real_pair_sets=["polyu:train:crops"])) == loop.POLYU_LICENCE
    # a stage's own sources count too: big crops come from the PolyU full-size images
    stages = [{"crop_size": 32, "batch_size": 2, "steps": 2, "clean_photo_dirs": ["polyu:train:full"]}]
    assert loop.training_licence(tiny_config(stages=stages)) == loop.POLYU_LICENCE
    # sources no sample is drawn from do not count
    assert loop.training_licence(tiny_config(stages=stages, real_fraction=1.0)) != loop.POLYU_LICENCE


def test_the_data_description_names_only_what_samples_are_drawn_from():
    assert loop.training_data_description(tiny_config(real_fraction=1.0)) == "real pairs pairs; real_fraction 1.0"
    assert loop.training_data_description(tiny_config(real_fraction=0.0)) == (
        "poisson_gaussian synthetic noise on photos; real_fraction 0.0"
    )
    assert "real pairs pairs; poisson_gaussian synthetic noise on photos" in loop.training_data_description(tiny_config())
    # a stage's own sets are named too
    own = {"real_pair_sets": ["mine"], "clean_photo_dirs": ["shots"]}
    stages = [{"crop_size": 32, "batch_size": 2, "steps": 1}, {"crop_size": 32, "batch_size": 2, "steps": 1, **own}]
    assert loop.training_data_description(tiny_config(stages=stages)).startswith("real pairs pairs, mine; poisson_gaussian synthetic noise on photos, shots")


def test_the_shipping_recipe_trains_both_networks_in_bf16_with_growing_crops_and_camera_noise():
    teacher = load_recipe("recipes/ship-cpu.yaml", section="teacher")
    student = load_recipe("recipes/ship-cpu.yaml", section="student")
    assert teacher.model == "teacher" and teacher.width == 32
    assert [stage.crop_size for stage in student.stages] == [128, 256, 512]
    assert student.stages[-1].clean_photo_dirs == ["polyu:train:full"]  # CBSD432 photos are smaller than 512
    for config in (teacher, student):
        assert config.bf16 and config.noise_model == "camera" and config.val_set == "polyu:val:crops"


def test_the_multi_session_teacher_recipe_uses_the_shipped_students_data_and_selection_score():
    teacher = load_recipe("recipes/ship-cpu-teacher.yaml", section="teacher")
    student = load_recipe("recipes/ship-cpu-distill.yaml", section="student")
    assert teacher.model == "teacher" and teacher.width == 32
    assert [stage.crop_size for stage in teacher.stages] == [128, 256]
    # v0.6's data and four-set validation, so the teacher and the student it teaches are scored alike
    for key in ("real_fraction", "clean_photo_dirs", "noise_model", "val_set", "val_noise_levels"):
        assert getattr(teacher, key) == getattr(student, key), key
    assert teacher.real_pair_sets == ["polyu:train:crops"]
    # it is resumed session after session, so a killed session loses at most a few minutes
    assert teacher.checkpoint_every <= 50 and teacher.max_minutes is not None


def test_the_one_session_teacher_recipe_is_the_multi_session_one_on_a_shorter_schedule():
    multi = load_recipe("recipes/ship-cpu-teacher.yaml", section="teacher")
    one = load_recipe("recipes/ship-cpu-teacher-session.yaml", section="teacher")
    schedule = {"stages", "val_every", "max_minutes"}
    differing = {f.name for f in dataclasses.fields(multi) if getattr(multi, f.name) != getattr(one, f.name)}
    assert differing == schedule
    assert [stage.crop_size for stage in one.stages] == [128, 256] and one.bf16
    assert sum(stage.steps for stage in one.stages) < sum(stage.steps for stage in multi.stages)


def test_the_cpu_distillation_recipe_grows_its_crops_and_validates_on_full_images():
    config = load_recipe("recipes/cpu.yaml", section="student")
    assert [stage.crop_size for stage in config.stages] == [128, 256]
    assert config.alpha_teacher == 0.9 and config.val_set == "polyu:val:full" and not config.bf16
    with pytest.raises(LiteDenoiseError, match="none for 'teacher'"):
        load_recipe("recipes/cpu.yaml", section="teacher")


def test_a_crop_larger_than_every_training_image_is_refused_before_training(tmp_path, data_root):
    with pytest.raises(LiteDenoiseError, match="stage 0: crop_size 128 is larger than every image"):
        loop.train(tiny_config(crop_size=128), tmp_path / "run", data_root)
    assert not (tmp_path / "run").exists()


def test_a_stage_whose_real_pairs_are_all_smaller_than_its_crop_is_refused_not_run_without_them(tmp_path, data_root):
    from PIL import Image

    (data_root / "big").mkdir()
    Image.fromarray(np.zeros((96, 96, 3), np.uint8)).save(data_root / "big" / "p.png")
    config = tiny_config(crop_size=64, clean_photo_dirs=["big"])  # the pairs are 48x64
    with pytest.raises(LiteDenoiseError, match="stage 0: no real pair of pairs is at least 64x64"):
        loop.train(config, tmp_path / "run", data_root)
    assert not (tmp_path / "run").exists()


def test_the_train_command_accepts_overrides_after_options_and_resumes(tmp_path, data_root):
    from litedenoise.cli import main

    overrides = [
        "width=2", "real_pair_sets=[pairs]", "clean_photo_dirs=[photos]", "val_set=pairs",
        "stages=[{crop_size: 32, batch_size: 2, steps: 4}]", "warmup_steps=1", "val_every=2", "checkpoint_every=2",
        "num_workers=0",
    ]
    run = tmp_path / "run"
    assert main(["train", "student", "--run-dir", str(run), "--data", str(data_root), *overrides]) == 0
    assert (run / "best.safetensors").is_file()
    assert main(["train", "student", "--run-dir", str(run), "--data", str(data_root), *overrides]) == 1
    more = "stages=[{crop_size: 32, batch_size: 2, steps: 6}]"
    assert main(["train", "student", "--resume", str(run), "--data", str(data_root), more]) == 0
    assert torch.load(run / loop.CHECKPOINT_NAME, weights_only=True)["step"] == 6


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("litedenoise: error:")]
    return line


@pytest.mark.parametrize(
    "extra, message",
    [
        (["stages=[{crop_size: 64"], "override 'stages=[{crop_size: 64' is not valid YAML"),
        (["stages=[{crop_size: 17, batch_size: 2, steps: 1}]"], "crop_size must be a multiple of 16 for the student, got 17"),
        (["model=teacher"], "model=teacher contradicts litedenoise train student"),
        (["width=3"], "width must be an even number of 2 or more, got 3"),
        (["num_workers=-1"], "num_workers must be 0 or more, got -1"),
        (["seed=-1"], "seed must be 0 or more, got -1"),
    ],
    ids=["broken-yaml", "crop-17", "model-override", "odd-width", "negative-workers", "negative-seed"],
)
def test_the_train_command_refuses_a_bad_override_in_one_line_and_makes_no_run_folder(tmp_path, data_root, capsys, extra, message):
    from litedenoise.cli import main

    run = tmp_path / "run"
    assert main(["train", "student", "--run-dir", str(run), "--data", str(data_root), *extra]) == 1
    assert message in _one_line_error(capsys) and not run.exists()


def test_a_run_is_resumed_only_as_what_it_is_from_its_own_folder(tmp_path, data_root, capsys):
    from litedenoise.cli import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(config_to_yaml(tiny_config()))
    resume = ["--resume", str(run), "--data", str(data_root)]
    assert main(["train", "teacher", *resume]) == 1
    assert f"{run} is a student run: resume it with litedenoise train student --resume {run}" in _one_line_error(capsys)
    assert main(["train", "student", *resume, "--run-dir", str(tmp_path / "other")]) == 1
    assert "leave out --recipe and --run-dir" in _one_line_error(capsys)
    assert main(["train", "student", "--resume", str(tmp_path / "missing"), "--data", str(data_root)]) == 1
    assert "no such run folder" in _one_line_error(capsys)


@pytest.mark.parametrize("content", [b"\x80\x02 not a whole checkpoint", None], ids=["truncated", "another-dict"])
def test_a_damaged_or_foreign_checkpoint_is_refused_in_one_line(tmp_path, data_root, content):
    run = tmp_path / "run"
    run.mkdir()
    if content is None:
        torch.save({"weights": torch.zeros(2)}, run / loop.CHECKPOINT_NAME)
    else:
        (run / loop.CHECKPOINT_NAME).write_bytes(content)
    with pytest.raises(LiteDenoiseError, match="is damaged or not a checkpoint of this student run"):
        loop.train(tiny_config(), run, data_root, resume=True)


def test_distillation_loss_weighs_teacher_nine_to_one_against_ground_truth_by_default():
    from litedenoise.train.losses import distillation_loss, pixel_loss

    student, teacher, truth = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.1), torch.full((1, 3, 4, 4), 0.5)
    alpha = TrainConfig().alpha_teacher
    assert alpha == 0.9
    mixed = distillation_loss("l1", student, teacher, truth, alpha)
    assert mixed.item() == pytest.approx(0.9 * 0.1 + 0.1 * 0.5)
    assert distillation_loss("mse", student, teacher, truth, 0.0).item() == pytest.approx(pixel_loss("mse", student, truth).item())


def test_mse_on_the_blended_target_has_the_gradients_of_distilling_online_and_l1_does_not():
    from litedenoise.train.losses import blended_target, distillation_loss, pixel_loss

    generator = torch.Generator().manual_seed(0)
    teacher, truth = torch.rand(2, 3, 8, 8, generator=generator), torch.rand(2, 3, 8, 8, generator=generator)
    target = blended_target(teacher, truth, 0.9)
    assert torch.allclose(target, 0.9 * teacher + 0.1 * truth)

    def gradient(loss_of) -> torch.Tensor:
        student = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)).requires_grad_()
        loss_of(student).backward()
        return student.grad

    online = gradient(lambda s: distillation_loss("mse", s, teacher, truth, 0.9))
    offline = gradient(lambda s: pixel_loss("mse", s, target))
    assert torch.allclose(online, offline, atol=1e-7)
    # the equivalence is MSE's: L1's gradient depends on the signs of both errors, not of their blend
    online_l1 = gradient(lambda s: distillation_loss("l1", s, teacher, truth, 0.9))
    assert not torch.allclose(online_l1, gradient(lambda s: pixel_loss("l1", s, target)))


def test_psnr_loss_is_minus_the_mean_of_the_images_psnrs_so_each_image_counts_by_its_own_psnr():
    from litedenoise.metrics import psnr
    from litedenoise.train.losses import pixel_loss

    target = torch.full((2, 3, 8, 8), 0.5)
    estimate = target.clone()
    estimate[0] += 4 / 255  # about 36 dB
    estimate[1] += 32 / 255  # about 18 dB: 64 times the first image's squared error
    expected = -np.mean([psnr(e.permute(1, 2, 0).numpy(), t.permute(1, 2, 0).numpy()) for e, t in zip(estimate, target)])
    assert pixel_loss("psnr", estimate, target).item() == pytest.approx(expected, abs=1e-3)
    # MSE lets the noisy image drive the gradient; the PSNR loss gives each image the same pull per dB
    estimate.requires_grad_(True)
    pixel_loss("psnr", estimate, target).backward()
    per_image_pull = estimate.grad.abs().flatten(1).sum(dim=1)
    assert per_image_pull[0] > per_image_pull[1] * 7
    assert torch.isfinite(pixel_loss("psnr", target, target))
    with pytest.raises(LiteDenoiseError, match="psnr"):
        TrainConfig(loss="ssim")


def test_init_weights_of_another_architecture_and_a_teacher_that_does_not_fit_the_crop_are_refused(tmp_path, data_root):
    from litedenoise.models import LiteDenoiseNet, TeacherNet
    from litedenoise.weights import save_weights

    wide = tmp_path / "wide.safetensors"
    save_weights(wide, LiteDenoiseNet(width=4), {})
    with pytest.raises(LiteDenoiseError, match="width=4"):
        loop.train(tiny_config(init_weights=str(wide)), tmp_path / "a", data_root)
    assert not (tmp_path / "a").exists()  # a refused run leaves no folder behind
    from litedenoise.train.teachers import check_teacher

    coarse = TeacherNet(width=2)
    coarse.size_multiple = 32  # a network of the user's that downsamples five times
    with pytest.raises(LiteDenoiseError, match="multiples of 32"):
        check_teacher(coarse, [48], "coarse")


@pytest.mark.parametrize("model, crop_size, multiple", [("student", 24, 16), ("teacher", 36, 8)])
def test_a_crop_the_network_cannot_take_is_refused_before_any_run_folder_exists(model, crop_size, multiple):
    with pytest.raises(LiteDenoiseError, match=f"crop_size must be a multiple of {multiple} for the {model}, got {crop_size}"):
        tiny_config(model=model, crop_size=crop_size)


def _two_stage_config():
    return tiny_config(
        stages=[
            {"crop_size": 16, "batch_size": 3, "steps": 2},
            {"crop_size": 32, "batch_size": 2, "steps": 3, "real_pair_sets": []},
        ],
        num_workers=0,
    )


def test_progressive_stages_run_in_order_with_their_own_crops_batches_and_sources(data_root):
    config = _two_stage_config()
    datasets = loop.stage_datasets(config, data_root)
    assert datasets[1].real_fraction == 0.0  # stage 1 draws on clean photos only
    shapes = [(index, tuple(noisy.shape)) for index, noisy, _ in loop.stage_batches(config, datasets, 0)]
    assert shapes == [(0, (3, 3, 16, 16))] * 2 + [(1, (2, 3, 32, 32))] * 3


def test_each_stage_says_how_its_real_crops_divide_between_pair_sets_and_draws_them_so(data_root, capsys):
    from PIL import Image

    big = np.random.default_rng(1).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    for kind in ("noisy", "clean"):
        (data_root / "big" / kind).mkdir(parents=True)
        Image.fromarray(big).save(data_root / "big" / kind / "0.png")
    datasets = loop.stage_datasets(tiny_config(real_pair_sets=["pairs", "big"], real_fraction=1.0), data_root, announce=True)
    # 32 px crops: three 48x64 pairs offer 17 x 33 positions each, the 96x128 pair 65 x 97
    message = capsys.readouterr().err
    assert "stage 0 (32 px)" in message and "21.1% from pairs (images: 3)" in message and "78.9% from big (images: 1)" in message
    assert datasets[0].real_weights[3] == pytest.approx(6305 / (3 * 561 + 6305))  # the share announced is the share drawn
    datasets = loop.stage_datasets(tiny_config(real_pair_sets=["pairs", "big", "pairs"], real_fraction=1.0), data_root, announce=True)
    assert "34.8% from pairs (images: 3)" in capsys.readouterr().err  # listed twice: drawn twice as often
    assert datasets[0].real_weights[3] == pytest.approx(6305 / (6 * 561 + 6305))
    loop.stage_datasets(tiny_config(), data_root, announce=True)
    assert capsys.readouterr().err == ""  # one pair set: nothing to say


def test_batches_after_a_resume_across_a_stage_boundary_equal_the_uninterrupted_ones(data_root):
    config = _two_stage_config()
    datasets = loop.stage_datasets(config, data_root)
    uninterrupted = [clean for _, _, clean in loop.stage_batches(config, datasets, 0)]
    resumed = [clean for _, _, clean in loop.stage_batches(config, datasets, 3)]
    assert len(resumed) == 2
    assert all(torch.equal(a, b) for a, b in zip(uninterrupted[3:], resumed, strict=True))


def test_a_batch_that_does_not_split_evenly_over_the_processes_is_refused(data_root):
    config = _two_stage_config()  # stage 0 has batch 3
    datasets = loop.stage_datasets(config, data_root)
    with pytest.raises(LiteDenoiseError, match="stage 0: batch_size 3 does not split over 2 processes"):
        next(loop.stage_batches(config, datasets, 0, rank=0, world_size=2))
    config.stages[0].batch_size, config.stages[1].batch_size = 2, 3  # a later stage: refused before the first step
    with pytest.raises(LiteDenoiseError, match="stage 1: batch_size 3 does not split over 2 processes"):
        next(loop.stage_batches(config, datasets, 0, rank=0, world_size=2))


def test_two_process_shards_cover_each_batch_exactly_once(data_root):
    config = tiny_config(stages=[{"crop_size": 16, "batch_size": 4, "steps": 2}, {"crop_size": 32, "batch_size": 2, "steps": 2}], num_workers=0)
    datasets = loop.stage_datasets(config, data_root)
    whole = [clean for _, _, clean in loop.stage_batches(config, datasets, 0)]
    rank0 = [clean for _, _, clean in loop.stage_batches(config, datasets, 0, rank=0, world_size=2)]
    rank1 = [clean for _, _, clean in loop.stage_batches(config, datasets, 0, rank=1, world_size=2)]
    for batch, first, second in zip(whole, rank0, rank1, strict=True):
        assert first.shape[0] == second.shape[0] == batch.shape[0] // 2
        assert torch.equal(torch.cat([first, second]), batch)
        assert not torch.equal(first, second)


def test_the_paper_recipe_has_a_teacher_and_a_distilled_student_growing_to_1024_crops():
    teacher = load_recipe("recipes/paper.yaml", section="teacher")
    student = load_recipe("recipes/paper.yaml", section="student")
    assert teacher.model == "teacher" and student.model == "student"
    assert student.alpha_teacher == 0.9
    for config in (teacher, student):
        crops = [stage.crop_size for stage in config.stages]
        assert crops == sorted(crops) and crops[-1] == 1024
    with pytest.raises(LiteDenoiseError, match="none for 'other'"):
        load_recipe("recipes/paper.yaml", section="other")


def test_validation_can_add_synthetic_noise_on_the_val_images_and_selects_by_the_mean(tmp_path, data_root):
    config = tiny_config(val_noise_levels=["medium"])
    sets = loop.validation_sets(config, data_root)
    (real_name, real), (noisy_name, synthetic) = sets.items()
    assert real_name == "pairs" and "camera noise 'medium'" in noisy_name
    assert all((a[1] == b[1]).all() and not (a[0] == b[0]).all() for a, b in zip(real, synthetic))  # same clean, new noise

    best = loop.train(config, tmp_path / "run", data_root)
    metadata = read_metadata(best)
    assert noisy_name in metadata["val_set"]
    model = load_model(best)
    mean = sum(evaluate(model, pairs, with_ssim=False)["psnr"] for pairs in sets.values()) / 2
    assert float(metadata["val_psnr"]) == pytest.approx(mean, abs=2e-3)
    with pytest.raises(LiteDenoiseError, match="val_noise_levels"):
        tiny_config(val_noise_levels=["loud"])


def test_the_ema_forgets_the_initial_weights_within_tens_of_steps_not_thousands():
    from torch.optim.swa_utils import AveragedModel

    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    averages = {
        "warm-up": AveragedModel(model, multi_avg_fn=loop.ema_with_warmup(0.999)),
        "plain": AveragedModel(model, avg_fn=lambda averaged, current, n: 0.999 * averaged + 0.001 * current),
    }
    for ema in averages.values():
        ema.update_parameters(model)  # the first update copies the current weights (0.0)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for _ in range(100):
        for ema in averages.values():
            ema.update_parameters(model)
    assert averages["warm-up"].module.weight.item() > 0.9
    assert averages["plain"].module.weight.item() < 0.1  # still ~90% the first weights


def test_a_run_stopped_by_its_time_budget_still_validates_and_leaves_best_weights(tmp_path, data_root):
    config = tiny_config(steps=1000, val_every=10_000, checkpoint_every=10_000, max_minutes=0.0)
    best = loop.train(config, tmp_path / "run", data_root)
    assert best.is_file()
    assert torch.load(tmp_path / "run" / loop.CHECKPOINT_NAME, weights_only=True)["step"] == 1


def test_a_compiled_run_trains_the_same_weights_as_an_eager_one(tmp_path, data_root):
    from torch._dynamo.utils import counters

    from litedenoise.weights import load_model

    counters.clear()
    eager = load_model(loop.train(tiny_config(steps=3, num_workers=0), tmp_path / "eager", data_root))
    assert not counters["stats"]["unique_graphs"]
    compiled = load_model(loop.train(tiny_config(steps=3, num_workers=0, compile=True), tmp_path / "compiled", data_root))
    assert counters["stats"]["unique_graphs"] > 0  # the run really went through torch.compile
    for (name, a), b in zip(eager.state_dict().items(), compiled.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-4), name


def test_sources_no_sample_is_drawn_from_are_not_needed(tmp_path, data_root):
    loop.train(tiny_config(steps=1, real_fraction=1.0, clean_photo_dirs=["no_such_folder"]), tmp_path / "real", data_root)
    loop.train(tiny_config(steps=1, real_fraction=0.0, real_pair_sets=["no_such_folder"]), tmp_path / "synthetic", data_root)
    with pytest.raises(LiteDenoiseError, match="no_such_folder"):
        loop.train(tiny_config(steps=1, real_fraction=0.5, clean_photo_dirs=["no_such_folder"]), tmp_path / "mixed", data_root)


@pytest.mark.parametrize("flags, bf16, warned", [(set(), True, True), ({"avx2"}, False, False), ({"amx_bf16"}, True, False), ({"avx512_bf16"}, True, False)])
def test_bf16_on_a_cpu_that_emulates_it_is_announced(monkeypatch, flags, bf16, warned):
    import litedenoise.runtimes

    monkeypatch.setattr(litedenoise.runtimes, "cpu_flags", lambda: flags)
    warning = loop.slow_bf16_warning(tiny_config(bf16=bf16), torch.device("cpu"))
    assert (warning is not None) == warned
    assert warning is None or "bf16=false" in warning
    assert loop.slow_bf16_warning(tiny_config(bf16=True), torch.device("cuda")) is None


@pytest.mark.parametrize("role", ["real_pair_sets", "val_set"])
def test_a_pair_whose_noisy_and_clean_images_differ_in_size_is_refused_by_name_before_training(tmp_path, data_root, role):
    from PIL import Image

    rng = np.random.default_rng(0)
    for kind, (height, width) in (("noisy", (56, 72)), ("clean", (48, 64))):  # a bigger noisy image would crop misaligned
        (data_root / "shifted" / kind).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(data_root / "shifted" / kind / "a.png")
    config = tiny_config(**({"real_pair_sets": ["shifted"]} if role == "real_pair_sets" else {"val_set": "shifted"}))
    with pytest.raises(LiteDenoiseError, match=r"pair set shifted: noisy and clean differ in size: a: noisy 72x56, clean 64x48"):
        loop.train(config, tmp_path / "run", data_root)
    assert not (tmp_path / "run").exists()


def test_a_new_run_into_a_folder_that_holds_one_or_onto_a_file_is_refused_and_changes_nothing(tmp_path, data_root):
    loop.train(tiny_config(steps=3), tmp_path / "run", data_root)
    before = {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir() if path.is_file()}
    with pytest.raises(LiteDenoiseError, match="already holds a run; resume it"):
        loop.train(tiny_config(steps=3, seed=1), tmp_path / "run", data_root)
    assert {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir() if path.is_file()} == before
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(LiteDenoiseError, match="is a file, not a run folder"):
        loop.train(tiny_config(steps=3), tmp_path / "notes.txt", data_root)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_resume_that_overrides_lr_and_weight_decay_trains_with_them(tmp_path, data_root):
    config = tiny_config(steps=4, lr=1e-3, lr_min=1e-4, warmup_steps=1, checkpoint_every=2, val_every=2, max_minutes=None)
    config.stages[0].steps = 2
    loop.train(config, tmp_path / "run", data_root)
    config.stages[0].steps, config.lr, config.lr_min, config.weight_decay = 4, 1e-2, 1e-2, 0.5
    loop.train(config, tmp_path / "run", data_root, resume=True)
    state = torch.load(tmp_path / "run" / loop.CHECKPOINT_NAME, weights_only=True)
    [group] = state["optimizer"]["param_groups"]
    assert group["weight_decay"] == 0.5 and group["initial_lr"] == 1e-2
    assert state["scheduler"]["base_lrs"] == [1e-2]
    assert group["lr"] == pytest.approx(1e-2)  # lr_min = lr: a flat schedule at the new rate
