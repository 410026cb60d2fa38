"""``plot_run`` and ``litedenoise plot``: curves drawn from a synthetic ``log.csv``, bad run folders."""

import math

import numpy as np
import pytest
from PIL import Image

from litedenoise.cli import main
from litedenoise.errors import LiteDenoiseError
from litedenoise.train.plot import plot_run, read_training_log


def _write_log(run_dir, steps=200, validate_every=50):
    """A log shaped like ``train.loop``'s: loss decays, LR warms up then follows a cosine."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = ["step,loss,lr,val_psnr,seconds"]
    for step in range(10, steps + 1, 10):
        loss = 0.1 * math.exp(-step / 80) + 0.01
        lr = 1e-3 * min(1.0, step / 40) * 0.5 * (1 + math.cos(math.pi * step / steps))
        psnr = f"{30 + 5 * (1 - math.exp(-step / 100)):.3f}" if step % validate_every == 0 else ""
        lines.append(f"{step},{loss:.6f},{lr:.3e},{psnr},{step // 10}")
    (run_dir / "log.csv").write_text("\n".join(lines) + "\n")
    return run_dir


def test_a_run_log_becomes_a_png_of_readable_size_in_the_run_folder(tmp_path):
    run = _write_log(tmp_path / "run")
    output = plot_run(run)
    assert output == run / "curves.png"
    with Image.open(output) as image:
        assert image.format == "PNG"
        assert image.width >= 500 and image.height >= 600
        assert len(np.unique(np.asarray(image.convert("L")))) > 10  # something was drawn


def test_the_default_output_is_redrawn_but_an_explicit_one_is_kept_unless_overwrite(tmp_path):
    run = _write_log(tmp_path / "run")
    plot_run(run)
    plot_run(run)
    explicit = tmp_path / "elsewhere" / "curves.png"
    assert plot_run(run, explicit) == explicit
    with pytest.raises(LiteDenoiseError, match="--overwrite"):
        plot_run(run, explicit)
    assert plot_run(run, explicit, overwrite=True) == explicit


def test_a_resumed_run_keeps_the_later_row_of_a_repeated_step(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(
        "step,loss,lr,val_psnr,seconds\n10,0.5,1e-3,,1\n20,0.4,1e-3,30.0,2\n"
        "step,loss,lr,val_psnr,seconds\n20,0.3,1e-3,31.0,3\n30,0.2,1e-3,,4\n"
    )
    curves = read_training_log(log)
    assert curves.steps == [10, 20, 30] and curves.loss == [0.5, 0.3, 0.2]
    assert curves.val_steps == [20] and curves.val_psnr == [31.0]


def test_a_resume_drops_what_the_interrupted_run_logged_after_its_checkpoint(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(  # killed at step 40 with its checkpoint at 20; the resume has reached 30
        "step,loss,lr,val_psnr,seconds\n10,0.5,1e-3,,1\n20,0.4,1e-3,30.0,2\n30,0.3,1e-3,,3\n40,0.2,1e-3,35.0,4\n"
        "20,0.45,1e-3,30.5,5\n30,0.35,1e-3,,6\n"
    )
    curves = read_training_log(log)
    assert curves.steps == [10, 20, 30] and curves.loss == [0.5, 0.45, 0.35]
    assert curves.val_steps == [20] and curves.val_psnr == [30.5]  # not the abandoned 35.0 at step 40


def test_a_folder_without_log_is_named_as_such(tmp_path):
    with pytest.raises(LiteDenoiseError, match="log.csv not found"):
        plot_run(tmp_path)


def test_a_run_without_validation_yet_still_plots(tmp_path):
    run = _write_log(tmp_path / "run", steps=30, validate_every=1000)
    assert plot_run(run).is_file()


@pytest.mark.parametrize(
    ("log_text", "message"),
    [
        (None, "no such run folder"),
        ("", "no logged steps"),
        ("step,loss,lr,val_psnr,seconds\n", "no logged steps"),
        ("a,b\n1,2\n", "not a training log"),
        ("step,loss,lr,val_psnr,seconds\n10,nan?,1e-3,,1\n", "step 10 is malformed"),
    ],
    ids=["missing folder", "empty log", "header only", "other csv", "bad number"],
)
def test_a_bad_run_folder_is_a_one_line_error(tmp_path, log_text, message):
    run = tmp_path / "run"
    if log_text is not None:
        run.mkdir()
        (run / "log.csv").write_text(log_text)
    with pytest.raises(LiteDenoiseError, match=message) as error:
        plot_run(run)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "run" / "curves.png").exists()


def test_the_plot_command_exits_0_on_a_run_and_1_on_a_folder_without_log(tmp_path, capsys):
    run = _write_log(tmp_path / "run")
    assert main(["plot", str(run)]) == 0
    assert (run / "curves.png").is_file()
    assert main(["plot", str(run), "-o", str(tmp_path / "c.png")]) == 0
    assert main(["plot", str(run), "-o", str(tmp_path / "c.png")]) == 1
    assert main(["plot", str(run), "-o", str(tmp_path / "c.png"), "--overwrite"]) == 0
    (tmp_path / "empty").mkdir()
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "empty")]) == 1
    assert capsys.readouterr().err.startswith("litedenoise: error: ")
