"""An evaluation as pictures: a self-contained HTML page and a markdown summary.

``write_report`` turns ``evaluate.score_methods`` results into a folder holding ``report.html``
(every image inlined, no network needed), ``report.md`` with its PNG figures beside it, and
``results.json``. The figures: the summary table, PSNR against seconds per megapixel (the Pareto
view: nothing up and to the left of a point is better at both), per-image PSNR bars, and zoomed
crops side by side where the methods differ most (``ComparisonCrops`` picks them while the
evaluation runs, so no full-size output is held longer than one image).
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from litedenoise.errors import LiteDenoiseError
from litedenoise.evaluate import METRIC_CONVENTION, EvalImage, EvalSet, MethodScores
from litedenoise.metrics import PSNR_CAP, psnr

REPORT_FILES = ("report.html", "report.md", "results.json", "pareto.png", "per_image.png")


@dataclass
class Crop:
    """One window of one image: the noisy, clean and each method's pixels, and how much the methods differ there (dB)."""

    image: str
    top: int
    left: int
    panels: dict[str, np.ndarray]
    spread_db: float


@dataclass
class ComparisonCrops:
    """``score_methods``'s ``on_image`` callback keeping the ``keep`` windows where the methods differ most.

    In each image it takes the square window (a quarter of the shorter side, 48 to 160 pixels)
    where the local PSNR of the best and the worst method is furthest apart, methods other than
    ``identity`` compared (all of them when fewer than two are left). ``shown`` limits the
    methods shown and compared to those names (default: all).
    """

    keep: int = 4
    shown: list[str] | None = None
    crops: list[Crop] = field(default_factory=list)

    def __call__(self, image: EvalImage, outputs: dict[str, np.ndarray]) -> None:
        from scipy.ndimage import uniform_filter

        if self.shown is not None:
            outputs = {name: output for name, output in outputs.items() if name in self.shown}
        side = min(int(np.clip(min(image.clean.shape[:2]) // 4, 48, 160)), *image.clean.shape[:2])
        compared = [name for name in outputs if name != "identity"]
        compared = compared if len(compared) >= 2 else list(outputs)
        clean = image.clean.astype(np.float32)
        local_mse = []
        for name in compared:
            error = ((np.asarray(outputs[name], np.float32) - clean) ** 2).mean(axis=2)
            local_mse.append(uniform_filter(error, size=side, mode="constant") + 1e-3)
        local_mse = np.stack(local_mse)
        spread = 10 * np.log10(local_mse.max(axis=0) / local_mse.min(axis=0))
        half = side // 2
        valid = spread[half : clean.shape[0] - side + half + 1, half : clean.shape[1] - side + half + 1]
        row, col = np.unravel_index(int(np.argmax(valid)), valid.shape)
        window = (slice(row, row + side), slice(col, col + side))
        panels = {"noisy": image.noisy[window]}
        panels.update({name: np.asarray(output)[window] for name, output in outputs.items() if name != "identity"})
        panels["clean"] = image.clean[window]
        self.crops.append(Crop(image.name, int(row), int(col), panels, float(valid[row, col])))
        self.crops.sort(key=lambda crop: -crop.spread_db)
        del self.crops[self.keep :]


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names of the (seconds per Mpix, PSNR) points no other point beats on both, fastest first."""
    front = [
        name
        for name, (seconds, quality) in points.items()
        if not any(s <= seconds and q >= quality and (s, q) != (seconds, quality) for s, q in points.values())
    ]
    return sorted(front, key=lambda name: points[name][0])


def report_crop_files(output_dir: Path) -> list[Path]:
    """The comparison crops a report wrote into ``output_dir`` (``crop_N.png``), and no other file."""
    return sorted(path for path in output_dir.glob("crop_*.png") if re.fullmatch(r"crop_\d+\.png", path.name))


def check_report_folder(output_dir: Path, overwrite: bool) -> None:
    """Refuse, before any work, a folder that is a file, or that holds a report without ``overwrite``."""
    if output_dir.exists() and not output_dir.is_dir():
        raise LiteDenoiseError(f"-o {output_dir} is not a folder: a report is a folder of files")
    if not overwrite:
        clashes = [output_dir / name for name in REPORT_FILES if (output_dir / name).exists()] + report_crop_files(output_dir)
        if clashes:
            raise LiteDenoiseError(f"{clashes[0]} already exists; use --overwrite to replace the report in {output_dir}")


def write_report(
    output_dir: str | Path,
    found: EvalSet,
    scores: dict[str, MethodScores],
    crops: list[Crop],
    *,
    title: str,
    provenance: dict[str, str],
    overwrite: bool = False,
) -> Path:
    """Write the report files (``REPORT_FILES`` and one ``crop_N.png`` per crop) into ``output_dir``.

    ``provenance`` (weights, commit, machine, command...) is printed under the title. Existing
    report files are kept unless ``overwrite``; nothing else in the folder is touched. Returns the
    HTML page's path.
    """
    import matplotlib

    matplotlib.use("Agg")
    output_dir = Path(output_dir)
    check_report_folder(output_dir, overwrite)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LiteDenoiseError(f"cannot create {output_dir}: {error.strerror}") from None
    for old in report_crop_files(output_dir):  # a previous report's crops: ours to replace
        old.unlink()

    summaries = {name: record.summary() for name, record in scores.items()}
    figures = {"pareto.png": _pareto_figure(summaries), "per_image.png": _per_image_figure(scores)}
    for index, crop in enumerate(crops):
        figures[f"crop_{index + 1}.png"] = _crop_figure(crop)
    for name, png in figures.items():
        (output_dir / name).write_bytes(png)

    record = {
        "title": title,
        "data": found.description,
        "skipped": found.skipped,
        "provenance": provenance,
        "convention": METRIC_CONVENTION,
        "summary": summaries,
        "per_image": {name: {"images": r.images, "psnr": r.psnr, "ssim": r.ssim, "seconds": r.seconds} for name, r in scores.items()},
        "crops": [{"image": c.image, "top": c.top, "left": c.left, "spread_db": c.spread_db} for c in crops],
    }
    (output_dir / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    (output_dir / "report.md").write_text(render_markdown(record, [f"crop_{i + 1}.png" for i in range(len(crops))]))
    page = output_dir / "report.html"
    page.write_text(_render_html(record, figures))
    return page


def render_markdown(record: dict, crop_files: list[str]) -> str:
    """The report as markdown, its figures referenced as files beside it."""
    lines = [f"# {record['title']}", ""]
    lines += [f"- {key}: {value}" for key, value in record["provenance"].items()]
    lines += [f"- data: {record['data']}", f"- {record['convention']}"]
    if record["skipped"]:
        lines.append(f"- skipped {len(record['skipped'])} inputs: " + "; ".join(record["skipped"]))
    lines += ["", _table_from_record(record), "![PSNR against seconds per megapixel](pareto.png)", "", "![per-image PSNR](per_image.png)", ""]
    if crop_files:
        lines += ["## Where the methods differ most", ""]
        for crop, name in zip(record["crops"], crop_files):
            where = f"window at row {crop['top']}, column {crop['left']}"
            lines += [f"{crop['image']}, {where} ({crop['spread_db']:.1f} dB between best and worst method there):", "", f"![{crop['image']}]({name})", ""]
    return "\n".join(lines)


TABLE_HEADER = ("method", "PSNR (dB)", "SSIM", "s / Mpix", "images")


def _table_rows(record: dict) -> list[tuple[str, ...]]:
    """The summary table's cells, one tuple per method (a capped PSNR flagged), for markdown and HTML alike."""
    rows = []
    for name, summary in record["summary"].items():
        capped = sum(value >= PSNR_CAP for value in record["per_image"][name]["psnr"])
        flag = f" ({capped} capped at {PSNR_CAP:g})" if capped else ""
        ssim = f"{summary['ssim']:.4f}" if "ssim" in summary else "-"
        rows.append((name, f"{summary['psnr']:.2f}{flag}", ssim, f"{summary['sec_per_mpix']:.2f}", str(summary["n"])))
    return rows


def _table_from_record(record: dict) -> str:
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in _table_rows(record)]
    return "\n".join(lines) + "\n"


def _render_html(record: dict, figures: dict[str, bytes]) -> str:
    def image(name: str, alt: str) -> str:
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(figures[name]).decode()}">'

    header = "".join(f"<th>{html.escape(cell)}</th>" for cell in TABLE_HEADER)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in _table_rows(record))
    facts = "".join(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in record["provenance"].items())
    facts += f"<li>data: {html.escape(record['data'])}</li><li>{html.escape(record['convention'])}</li>"
    if record["skipped"]:
        facts += f"<li>skipped {len(record['skipped'])} inputs: {html.escape('; '.join(record['skipped']))}</li>"
    crops = "".join(
        f"<h3>{html.escape(c['image'])}: row {c['top']}, column {c['left']} ({c['spread_db']:.1f} dB between best and worst)</h3>"
        + image(f"crop_{i + 1}.png", c["image"])
        for i, c in enumerate(record["crops"])
    )
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(record['title'])}</title><style>{style}</style></head><body>"
        f"<h1>{html.escape(record['title'])}</h1><ul>{facts}</ul>"
        f"<table><tr>{header}</tr>{rows}</table>"
        f"<p>{image('pareto.png', 'PSNR against seconds per megapixel')}</p><p>{image('per_image.png', 'per-image PSNR')}</p>"
        + (f"<h2>Where the methods differ most</h2>{crops}" if crops else "")
        + f"<p><small>written {datetime.date.today().isoformat()} by litedenoise report</small></p></body></html>\n"
    )


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _pareto_figure(summaries: dict[str, dict]) -> bytes:
    import matplotlib.pyplot as plt

    points = {name: (max(s["sec_per_mpix"], 1e-3), s["psnr"]) for name, s in summaries.items()}
    figure, axes = plt.subplots(figsize=(7.5, 4.5))
    front = pareto_front(points)
    axes.plot([points[n][0] for n in front], [points[n][1] for n in front], "--", color="0.6", zorder=1, label="Pareto front")
    markers = "osD^vP*Xh"
    for index, (name, (seconds, quality)) in enumerate(points.items()):
        label = f"{name}: {quality:.2f} dB, {summaries[name]['sec_per_mpix']:.2g} s/Mpix"
        axes.scatter([seconds], [quality], zorder=2, s=45, marker=markers[index % len(markers)], label=label)
    axes.set_xscale("log")
    axes.set_xlabel("seconds per megapixel (log; the noisy input is plotted at 0.001)")
    axes.set_ylabel("PSNR (dB)")
    axes.set_title("Quality against time on this machine (up and left is better)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _png(figure)


def _per_image_figure(scores: dict[str, MethodScores]) -> bytes:
    """Bars of each method's PSNR gain over the noisy input per image (the noisy input's own PSNR above each group)."""
    import matplotlib.pyplot as plt

    reference = scores.get("identity")
    names = [name for name in scores if name != "identity"] or list(scores)
    images = scores[names[0]].images
    figure, axes = plt.subplots(figsize=(min(16.0, max(7.0, 0.12 * len(images) * len(names) + 2)), 4.5))
    width = 0.8 / len(names)
    positions = np.arange(len(images))
    for index, name in enumerate(names):
        values = np.minimum(scores[name].psnr, PSNR_CAP) - (np.minimum(reference.psnr, PSNR_CAP) if reference else 0.0)
        axes.bar(positions + index * width - 0.4 + width / 2, values, width, label=name)
    axes.axhline(0.0, color="0.3", linewidth=0.8)
    axes.set_xticks(positions, [Path(name).stem for name in images], rotation=60, ha="right", fontsize=7)
    axes.set_ylabel("PSNR gain over the noisy input (dB)" if reference else "PSNR (dB)")
    axes.set_title("Per image")
    axes.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def _crop_figure(crop: Crop) -> bytes:
    import matplotlib.pyplot as plt

    count = len(crop.panels)
    figure, axes = plt.subplots(1, count, figsize=(3.4 * count, 3.8))
    clean = crop.panels["clean"]
    for axis, (name, pixels) in zip(np.atleast_1d(axes), crop.panels.items()):
        axis.imshow(pixels, interpolation="nearest")
        label = name if name == "clean" else f"{name}\n{psnr(pixels, clean):.2f} dB here"
        axis.set_title(label, fontsize=8)
        axis.set_axis_off()
    figure.suptitle(f"{crop.image}: {clean.shape[1]}x{clean.shape[0]} window at ({crop.left}, {crop.top}), zoomed", fontsize=9)
    return _png(figure)
