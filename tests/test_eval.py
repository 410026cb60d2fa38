"""The ``litedenoise eval`` command on a tiny generated paired folder."""

import csv
import json

import numpy as np

from litedenoise.cli import main
from litedenoise.models.student import LiteDenoiseNet
from litedenoise.weights import save_weights


def test_eval_prints_json_summaries_and_writes_per_image_rows(tmp_path, data_root, capsys):
    weights = tmp_path / "tiny.safetensors"
    save_weights(weights, LiteDenoiseNet(width=2), {})
    table = tmp_path / "scores.csv"
    assert main(["eval", str(data_root / "pairs"), "--weights", str(weights), "--json", "--csv", str(table)]) == 0
    results = json.loads(capsys.readouterr().out)
    assert set(results) == {"noisy", str(weights)}
    for scores in results.values():
        assert set(scores) == {"psnr", "ssim", "n", "sec_per_mpix"} and scores["n"] == 3
    rows = list(csv.DictReader(table.open()))
    assert [row["image"] for row in rows] == ["0.png", "1.png", "2.png"] * 2
    # the noisy input's PSNR, by hand: 10 log10(255^2 / MSE) per image, then the mean
    from PIL import Image

    by_hand = []
    for index in range(3):
        noisy = np.asarray(Image.open(data_root / "pairs" / "noisy" / f"{index}.png"), dtype=np.float64)
        clean = np.asarray(Image.open(data_root / "pairs" / "clean" / f"{index}.png"), dtype=np.float64)
        by_hand.append(10 * np.log10(255**2 / np.mean((noisy - clean) ** 2)))
    assert [float(row["psnr"]) for row in rows[:3]] == [round(v, 4) for v in by_hand]
    assert abs(results["noisy"]["psnr"] - np.mean(by_hand)) < 1e-9
    # the CSV is never overwritten without --overwrite
    before = table.read_bytes()
    assert main(["eval", str(data_root / "pairs"), "--weights", str(weights), "--csv", str(table)]) == 1
    assert table.read_bytes() == before
    assert "already exists" in capsys.readouterr().err
