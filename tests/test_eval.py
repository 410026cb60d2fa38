"""The evaluation harness (``litedenoise eval``, ``litedenoise report``) on tiny generated data sets.

Images are at most 48x64 and the network a width-2 student, so the file runs in seconds; one
test runs BM3D on a 48x64 image (~2 s).
"""

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from litedenoise import baselines
from litedenoise.baselines import Baseline
from litedenoise.cli import main
from litedenoise.evaluate import EvalImage, load_pairs, load_synthetic, score_methods
from litedenoise.infer import denoise_tensor
from litedenoise.metrics import PSNR_CAP
from litedenoise.report import ComparisonCrops, pareto_front
from litedenoise.runtimes import Backend


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LITEDENOISE_CACHE", str(tmp_path / "cache"))


def _by_hand_psnr(noisy_path, clean_path):
    noisy = np.asarray(Image.open(noisy_path), dtype=np.float64)
    clean = np.asarray(Image.open(clean_path), dtype=np.float64)
    return 10 * np.log10(255**2 / np.mean((noisy - clean) ** 2))


def test_the_identity_baseline_scores_the_hand_computed_psnr_and_rows_go_to_csv(tmp_path, data_root, weights, capsys):
    table = tmp_path / "scores.csv"
    assert main(["eval", str(data_root / "pairs"), "--model", str(weights), "--baseline", "identity", "--json", "--csv", str(table)]) == 0
    results = json.loads(capsys.readouterr().out)
    assert list(results) == ["identity", "tiny.safetensors"]
    for scores in results.values():
        assert set(scores) == {"psnr", "ssim", "n", "sec_per_mpix"} and scores["n"] == 3
    rows = list(csv.DictReader(table.open()))
    assert [row["image"] for row in rows] == ["0", "1", "2"] * 2
    by_hand = [_by_hand_psnr(data_root / "pairs" / "noisy" / f"{i}.png", data_root / "pairs" / "clean" / f"{i}.png") for i in range(3)]
    assert [float(row["psnr"]) for row in rows[:3]] == [round(v, 4) for v in by_hand]
    assert abs(results["identity"]["psnr"] - np.mean(by_hand)) < 1e-9
    # the CSV is never overwritten without --overwrite, and that is said before any work
    before = table.read_bytes()
    assert main(["eval", str(data_root / "pairs"), "--model", str(weights), "--csv", str(table)]) == 1
    assert table.read_bytes() == before
    assert "already exists" in capsys.readouterr().err

def test_a_csv_into_a_missing_folder_is_refused_before_any_work(tmp_path, data_root, capsys, monkeypatch):
    import litedenoise.cli

    monkeypatch.setattr(litedenoise.cli, "_evaluation", lambda args: pytest.fail("evaluated before checking the CSV's folder"))
    assert main(["eval", str(data_root / "pairs"), "--baseline", "nlm", "--csv", str(tmp_path / "missing" / "scores.csv")]) == 1
    assert "missing does not exist" in capsys.readouterr().err and not (tmp_path / "missing").exists()


def test_a_perfect_output_gets_the_capped_psnr_and_says_so(tmp_path, capsys):
    clean = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for side in ("noisy", "clean"):
        (tmp_path / side).mkdir()
        Image.fromarray(clean).save(tmp_path / side / "same.png")
    assert main(["eval", str(tmp_path), "--baseline", "identity"]) == 0
    out = capsys.readouterr().out
    assert f"{PSNR_CAP:.2f}(cap)" in out
    assert f"1 of 1 images are identical to the reference; their PSNR is capped at {PSNR_CAP:g} dB" in out


def test_a_mistyped_model_path_is_reported_before_the_data_is_read(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nowhere"), "--model", str(tmp_path / "mine.safetensors")]) == 1
    assert f"--model {tmp_path / 'mine.safetensors'}: no such file" in capsys.readouterr().err


def test_the_data_folder_without_a_split_says_to_choose_one(data_root, capsys):
    (data_root / "polyu").mkdir()
    (data_root / "polyu" / "split.json").write_text("{}")
    assert main(["eval", str(data_root), "--baseline", "identity"]) == 1
    assert "choose a PolyU set with --split" in capsys.readouterr().err


def test_unpaired_mismatched_and_unreadable_inputs_are_skipped_by_name_and_the_rest_is_scored(tmp_path, data_root, capsys):
    pairs = data_root / "pairs"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(pairs / "noisy" / "lonely.png")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(pairs / "noisy" / "small.png")
    Image.fromarray(np.zeros((24, 20, 3), np.uint8)).save(pairs / "clean" / "small.png")
    (pairs / "noisy" / "broken.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(pairs / "clean" / "broken.png")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(pairs / "noisy" / "mixed.png")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(pairs / "clean" / "mixed.png")
    assert main(["eval", str(pairs), "--baseline", "identity", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["identity"]["n"] == 3
    assert "skipped noisy/lonely.png: no partner" in captured.err
    assert "skipped small: noisy is 20x20, clean 20x24" in captured.err
    assert "skipped broken:" in captured.err
    assert "skipped mixed: noisy is colour, clean grey" in captured.err
    assert "skipped 4 of 7 inputs; evaluating the other 3" in captured.err
    assert "Traceback" not in captured.err


def test_an_empty_data_set_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "noisy").mkdir()
    (tmp_path / "clean").mkdir()
    assert main(["eval", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("litedenoise: error:") and "no images to evaluate" in err and err.count("\n") == 1


def test_bm3d_and_nlm_run_with_their_tuned_multipliers_and_bm3d_is_read_back_from_the_cache(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    clean = np.tile(np.linspace(40, 200, 64, dtype=np.float32)[None, :, None], (48, 1, 3))
    noisy = np.clip(clean + rng.normal(0, 10, clean.shape), 0, 255).astype(np.uint8)
    image = EvalImage("ramp", noisy, clean.astype(np.uint8))
    methods = [baselines.tuned_baseline("bm3d", tmp_path), baselines.tuned_baseline("nlm", tmp_path), Baseline("identity")]
    first = score_methods(methods, [image])
    assert first["bm3d" + f" (sigma x {baselines.TUNED_MULTIPLIERS['real']['bm3d']:g})"].psnr[0] > first["identity"].psnr[0] + 3
    assert first["nlm" + f" (sigma x {baselines.TUNED_MULTIPLIERS['real']['nlm']:g})"].psnr[0] > first["identity"].psnr[0] + 3
    monkeypatch.setattr(baselines, "bm3d_denoise", lambda *args: pytest.fail("BM3D recomputed despite the cache"))
    again = score_methods(methods[:1], [image])
    name = methods[0].name
    assert again[name].psnr == first[name].psnr and again[name].seconds == first[name].seconds and first[name].seconds[0] > 0


def test_bm3d_of_a_grey_image_denoises_it_and_stays_grey():
    # bm3d_rgb divides each opponent channel by its range, which is 0 for the chroma of a grey image
    rng = np.random.default_rng(1)
    clean = np.tile(np.linspace(40, 200, 64, dtype=np.float32)[None, :, None], (48, 1, 3))
    noisy = np.repeat(np.clip(clean[..., :1] + rng.normal(0, 10, (48, 64, 1)), 0, 255).astype(np.uint8), 3, axis=2)
    image = EvalImage("grey ramp", noisy, clean.astype(np.uint8))
    method = baselines.tuned_baseline("bm3d", None, noise="synthetic")
    scores = score_methods([method, Baseline("identity")], [image])
    assert scores[method.name].psnr[0] > scores["identity"].psnr[0] + 3
    output, _ = method(noisy)
    assert baselines.is_grey_rgb(output)


class _PositionDependent(Backend):
    """Multiplies each pixel by a ramp over columns: not invariant to flips or rotations."""

    name, size_multiple, receptive_field_radius = "ramp", 1, 0

    def __call__(self, tile):
        return tile * torch.linspace(0.5, 1.0, tile.shape[-1])


def test_tta_averages_the_eight_flips_and_rotations_each_undone():
    image = torch.rand(1, 3, 8, 12)
    expected = np.zeros((8, 12, 3))
    pixels = image[0].permute(1, 2, 0).numpy()
    for variant in range(8):
        turned = np.rot90(pixels[:, ::-1] if variant & 4 else pixels, variant & 3)
        result = turned * np.linspace(0.5, 1.0, turned.shape[1])[None, :, None]
        result = np.rot90(result, -(variant & 3))
        expected += result[:, ::-1] if variant & 4 else result
    output = denoise_tensor(image, _PositionDependent(), tta=True)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(output, expected / 8, atol=1e-6)
    assert not np.allclose(output, denoise_tensor(image, _PositionDependent())[0].permute(1, 2, 0).numpy(), atol=1e-3)


def test_eval_tta_adds_a_row_per_network(data_root, weights, capsys):
    assert main(["eval", str(data_root / "pairs"), "--model", str(weights), "--tta", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == ["tiny.safetensors", "tiny.safetensors + x8 TTA"]


def test_synthetic_noise_sets_are_reproducible_and_differ_per_image_and_level(data_root):
    first = load_synthetic(data_root / "photos", "medium", seed=0)
    again = load_synthetic(data_root / "photos", "medium", seed=0)
    assert np.array_equal(first.images[0].noisy, again.images[0].noisy)
    assert not np.array_equal(first.images[0].noisy, load_synthetic(data_root / "photos", "high", seed=0).images[0].noisy)
    assert not np.array_equal(first.images[0].noisy, load_synthetic(data_root / "photos", "medium", seed=1).images[0].noisy)
    assert np.array_equal(first.images[0].clean, np.asarray(Image.open(data_root / "photos" / "p.png")))


def test_a_polyu_split_reads_the_groups_of_split_json(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        for side in ("noisy", "clean"):
            (tmp_path / "polyu" / "crops" / side).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "polyu" / "crops" / side / f"{name}.png")
    groups = {"train": ["a"], "val": ["b", "c"], "unseen_camera": []}
    (tmp_path / "polyu" / "split.json").write_text(json.dumps({group: {"crops": names, "full": []} for group, names in groups.items()}))
    assert [image.name for image in load_pairs(tmp_path, split="val:crops").images] == ["b", "c"]


def test_the_pareto_front_keeps_only_points_nothing_beats_on_both_speed_and_quality():
    points = {"fast": (0.1, 30.0), "slow-better": (10.0, 35.0), "dominated": (5.0, 29.0), "middle": (1.0, 33.0)}
    assert pareto_front(points) == ["fast", "middle", "slow-better"]


def test_comparison_crops_are_cut_where_the_methods_differ_most():
    clean = np.full((96, 128, 3), 128, np.uint8)
    good = clean.copy()
    bad = clean.copy()
    bad[60:80, 90:110] = 0  # the methods disagree only here
    crops = ComparisonCrops(keep=1)
    crops(EvalImage("x", clean, clean), {"identity": clean, "good": good, "bad": bad})
    crop = crops.crops[0]
    side = crop.panels["clean"].shape[0]
    assert side == 48 and list(crop.panels) == ["noisy", "good", "bad", "clean"]
    assert crop.top <= 60 and crop.top + side >= 80 and crop.left <= 90 and crop.left + side >= 110
    # shown: only those methods are compared and drawn
    only = ComparisonCrops(keep=1, shown=["identity", "good", "bad"])
    only(EvalImage("x", clean, clean), {"identity": clean, "good": good, "bad": bad, "extra": np.zeros_like(clean)})
    assert list(only.crops[0].panels) == ["noisy", "good", "bad", "clean"] and only.crops[0].top == crop.top


def test_report_writes_a_self_contained_page_a_markdown_summary_and_keeps_an_existing_report(tmp_path, data_root, weights, capsys):
    output = tmp_path / "report"
    args = ["report", str(data_root / "pairs"), "--model", str(weights), "--baseline", "identity", "--baseline", "nlm", "-o", str(output)]
    assert main(args) == 0
    page = (output / "report.html").read_text()
    assert "<img" in page and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page and "src=\"" not in page.replace('src="data:', "")
    markdown = (output / "report.md").read_text()
    assert "| identity |" in markdown and "(pareto.png)" in markdown and "(crop_1.png)" in markdown
    for name in ("pareto.png", "per_image.png", "crop_1.png", "crop_3.png", "results.json"):
        assert (output / name).stat().st_size > 0
    results = json.loads((output / "results.json").read_text())
    assert results["summary"]["identity"]["n"] == 3
    before = page
    capsys.readouterr()
    assert main(args) == 1
    assert "report.html already exists; use --overwrite" in capsys.readouterr().err
    assert (output / "report.html").read_text() == before
    (output / "crop_mine.png").write_bytes(b"the user's")  # not a crop_N.png: not the report's to replace
    assert main([*args, "--overwrite"]) == 0
    assert (output / "crop_mine.png").read_bytes() == b"the user's"


def test_a_comparison_crop_of_an_image_smaller_than_its_window_is_the_whole_image():
    clean = np.full((32, 40, 3), 128, np.uint8)
    crops = ComparisonCrops(keep=1)
    crops(EvalImage("small", clean, clean), {"identity": clean, "a": clean, "b": np.zeros_like(clean)})
    assert crops.crops[0].panels["clean"].shape == (32, 32, 3)


def test_eval_on_the_onnx_runtime_matches_pytorch_through_the_same_inference_path(data_root, weights, capsys):
    pairs = str(data_root / "pairs")
    assert main(["eval", pairs, "--model", str(weights), "--json"]) == 0
    torch_scores = json.loads(capsys.readouterr().out)["tiny.safetensors"]
    assert main(["eval", pairs, "--model", str(weights), "--runtime", "onnx", "--export-size", "64x64", "--json"]) == 0
    onnx_scores = json.loads(capsys.readouterr().out)["tiny.safetensors (onnx fp32)"]
    assert onnx_scores["n"] == 3 and abs(onnx_scores["psnr"] - torch_scores["psnr"]) < 0.01


def test_synthetic_noise_and_a_polyu_split_do_not_combine(data_root, capsys):
    assert main(["eval", str(data_root), "--split", "val:crops", "--noise", "low"]) == 1
    assert "does not combine with --split" in capsys.readouterr().err


def test_evaluate_scores_what_the_module_gives_and_leaves_the_module_as_it_was():
    from litedenoise.evaluate import evaluate
    from litedenoise.infer import denoise
    from litedenoise.metrics import psnr
    from litedenoise.models import LiteDenoiseNet

    torch.manual_seed(0)
    model = LiteDenoiseNet(width=4).train()
    rng = np.random.default_rng(0)
    clean = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(2)]
    pairs = [(np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8), image) for image in clean]
    scored = evaluate(model, pairs, with_ssim=False)["per_image_psnr"]  # runs a channels-last copy
    by_hand = [psnr(denoise(noisy, model), target) for noisy, target in pairs]  # the module itself, NCHW
    assert scored == pytest.approx(by_hand, abs=1e-3)
    assert model.training and all(p.is_contiguous() for p in model.parameters())


def test_two_runs_best_weights_are_told_apart_by_their_folders_and_one_file_twice_is_refused(tmp_path, data_root, weights, capsys):
    import shutil

    runs = []
    for name in ("r1", "r2"):
        (tmp_path / name).mkdir()
        runs.append(str(shutil.copy(weights, tmp_path / name / "best.safetensors")))
    pairs = str(data_root / "pairs")
    assert main(["eval", pairs, "--model", runs[0], "--model", runs[1], "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == set(runs)
    assert main(["eval", pairs, "--model", runs[0], "--model", runs[0]]) == 1
    assert "best.safetensors is given twice as a --model" in capsys.readouterr().err


def test_a_pair_smaller_than_the_ssim_window_is_skipped_by_name_and_a_negative_seed_is_refused(tmp_path, data_root, capsys):
    import shutil

    folder = tmp_path / "set"
    shutil.copytree(data_root / "pairs", folder)
    for kind in ("noisy", "clean"):
        Image.fromarray(np.full((10, 40, 3), 100, np.uint8)).save(folder / kind / "thin.png")
    assert main(["eval", str(folder), "--baseline", "identity", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["identity"]["n"] == 3 and "thin: 40x10 is smaller than SSIM's 11-px window" in captured.err
    with pytest.raises(SystemExit):
        main(["eval", str(data_root / "photos"), "--noise", "low", "--seed", "-1"])
    assert "must be a whole number, 0 or more" in capsys.readouterr().err
