"""Training curves from a run folder's ``log.csv``: loss, learning rate and validation PSNR by step.

``log.csv`` is written by ``train.loop`` with the header ``step,loss,lr,val_psnr,seconds``;
``val_psnr`` is empty on rows without validation. A resumed run appends to the same file and
repeats the steps after its last checkpoint: a step at or below one logged before drops the
earlier rows from that step on, since the interrupted run's later steps were not kept.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from litedenoise.errors import LiteDenoiseError

LOG_NAME = "log.csv"
DEFAULT_PLOT_NAME = "curves.png"
_COLUMNS = ("step", "loss", "lr", "val_psnr")


@dataclass
class TrainingLog:
    """The curves of one run, sorted by step; ``val_steps`` holds only the validated steps."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_psnr: list[float] = field(default_factory=list)  # dB


def read_training_log(path: str | Path) -> TrainingLog:
    """Read a run's ``log.csv``; raises LiteDenoiseError if it is missing, empty or malformed."""
    path = Path(path)
    if not path.is_file():
        raise LiteDenoiseError(f"{path} not found: is {path.parent} a training run folder?")
    rows: dict[int, dict[str, str]] = {}
    last_step = -1
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        missing = [column for column in _COLUMNS if column not in (reader.fieldnames or [])]
        if reader.fieldnames and missing:
            raise LiteDenoiseError(f"{path}: not a training log (no column {', '.join(missing)})")
        for row in reader:
            if row["step"] == "step":  # a header repeated by a run restarted in the same folder
                continue
            try:
                step = int(row["step"])
            except (TypeError, ValueError):
                raise LiteDenoiseError(f"{path}, line {reader.line_num}: step {row['step']!r} is not a number") from None
            if step <= last_step:  # a resume went back to its checkpoint: what was logged after it is gone
                rows = {logged: kept for logged, kept in rows.items() if logged < step}
            rows[step], last_step = row, step
    if not rows:
        raise LiteDenoiseError(f"{path} holds no logged steps yet")

    log = TrainingLog()
    for step in sorted(rows):
        row = rows[step]
        try:
            log.steps.append(step)
            log.loss.append(float(row["loss"]))
            log.lr.append(float(row["lr"]))
            if row["val_psnr"]:
                log.val_psnr.append(float(row["val_psnr"]))
                log.val_steps.append(step)
        except (TypeError, ValueError):
            raise LiteDenoiseError(f"{path}: the row for step {step} is malformed: {','.join(map(str, row.values()))}") from None
    return log


def plot_run(run_dir: str | Path, output: str | Path | None = None, *, overwrite: bool = False) -> Path:
    """Draw loss (log scale), learning rate and validation PSNR against step; returns the file.

    The default output, ``RUN_DIR/curves.png``, is redrawn on every call; an explicit ``output``
    that exists is refused unless ``overwrite``. Any format matplotlib writes (by suffix) works.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise LiteDenoiseError(f"{run_dir}: no such run folder")
    log = read_training_log(run_dir / LOG_NAME)
    default = run_dir / DEFAULT_PLOT_NAME
    output = default if output is None else Path(output)
    if output.exists() and not overwrite and output.resolve() != default.resolve():
        raise LiteDenoiseError(f"{output} exists; pass --overwrite to replace it")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise LiteDenoiseError("plotting needs matplotlib: pip install matplotlib") from None
    file_format = output.suffix.lower().lstrip(".")
    if file_format not in FigureCanvasAgg.get_supported_filetypes():
        raise LiteDenoiseError(f"{output}: cannot write a plot as {output.suffix or 'a file without suffix'}; use .png")

    # A bare Figure with the Agg canvas: no pyplot state, no display needed.
    figure = Figure(figsize=(7, 8), layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, lr_axes, psnr_axes = figure.subplots(3, 1, sharex=True)
    figure.suptitle(f"{run_dir.resolve().name}: {len(log.steps)} logged steps, last step {log.steps[-1]}")

    loss_axes.plot(log.steps, log.loss, color="tab:blue")
    if all(value > 0 for value in log.loss):  # log scale cannot show a zero loss
        loss_axes.set_yscale("log")
    loss_axes.set_ylabel("training loss")

    lr_axes.plot(log.steps, log.lr, color="tab:orange")
    lr_axes.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    lr_axes.set_ylabel("learning rate")

    if log.val_steps:
        psnr_axes.plot(log.val_steps, log.val_psnr, marker="o", markersize=3, color="tab:green")
        best = max(range(len(log.val_psnr)), key=log.val_psnr.__getitem__)
        psnr_axes.plot(log.val_steps[best], log.val_psnr[best], marker="*", markersize=10, color="tab:green")
        psnr_axes.set_title(f"best {log.val_psnr[best]:.2f} dB at step {log.val_steps[best]}", loc="right", fontsize="small")
    else:
        psnr_axes.text(0.5, 0.5, "no validation logged yet", transform=psnr_axes.transAxes, ha="center", va="center")
    psnr_axes.set_ylabel("validation PSNR (dB)")
    psnr_axes.set_xlabel("step")
    for axes in (loss_axes, lr_axes, psnr_axes):
        axes.grid(True, alpha=0.3)

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(output, format=file_format, dpi=100)
    except OSError as error:
        raise LiteDenoiseError(f"cannot write {output}: {error.strerror or error}") from None
    return output
