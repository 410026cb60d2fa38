"""Regenerate docs/results.md (and the report in docs/report/) from the evaluation harness.

    make results                      # = .venv/bin/python benchmarks/make_results.py --data ../shared/data
    .venv/bin/python benchmarks/make_results.py --data ../shared/data --only polyu-val-crops

Every table comes from ``litedenoise.evaluate`` on the shipped student (or ``--weights``), with
the tuned baselines of ``litedenoise.baselines``; BM3D outputs are cached (``$LITEDENOISE_CACHE``),
so a rerun costs the networks only. Each set's table names the weights file and the commit.
Run it on an otherwise idle machine: the seconds per megapixel are timings.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from litedenoise.baselines import TUNED_MULTIPLIERS
from litedenoise.bench import machine_info
from litedenoise.evaluate import METRIC_CONVENTION, EvalSet, build_methods, load_pairs, load_synthetic, network_label, score_methods
from litedenoise.metrics import PSNR_CAP
from litedenoise.report import ComparisonCrops, write_report
from litedenoise.weights import file_digest, read_metadata, shipped_weights_path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class TestSet:
    key: str
    title: str
    baselines: tuple[str, ...]
    tta: bool = False
    extra_runtimes: tuple[tuple[str, str], ...] = ()  # (runtime, precision) rows of the student besides torch fp32
    report: str | None = None  # folder under docs/ for the HTML report of this set


SETS = (
    TestSet(
        "polyu-val-crops",
        "PolyU val, 21 crops of 512x512 (4 scenes)",
        ("identity", "nlm", "bm3d"),
        tta=True,
        extra_runtimes=(("torch-bf16", "fp32"), ("tflite", "int8")),
        report="report",
    ),
    TestSet("polyu-val-full", "PolyU val, 4 full-size images", ("identity", "nlm")),  # BM3D: ~8 min per full-size image here
    TestSet("polyu-unseen-crops", "PolyU unseen_camera (Sony A7 II), 12 crops of 512x512", ("identity", "nlm", "bm3d"), True),
    TestSet("polyu-unseen-full", "PolyU unseen_camera (Sony A7 II), 6 full-size images", ("identity", "nlm")),
    *(
        # BM3D at one level only: at ~20 s per image, the three levels of both sets would take ~50 min
        TestSet(
            f"{name}-{level}",
            f"{title}, synthetic camera noise '{level}' (seed 0)",
            ("identity", "nlm", "bm3d") if level == "medium" else ("identity", "nlm"),
        )
        for name, title in (("kodak24", "Kodak24"), ("mcmaster18", "McMaster18"))
        for level in ("low", "medium", "high")
    ),
)


def load_set(key: str, data: Path) -> EvalSet:
    if key.startswith("polyu-"):
        group = "val" if "-val-" in key else "unseen_camera"
        return load_pairs(data, split=f"{group}:{key.rsplit('-', 1)[1]}")
    name, level = key.rsplit("-", 1)
    return load_synthetic(data / "clean" / name, level, seed=0)


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return head + (" (with uncommitted changes)" if dirty else "")


def weights_line(weights: str) -> str:
    path = shipped_weights_path("student") if weights == "student" else Path(weights)
    digest = file_digest(path)
    metadata = read_metadata(path)
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    return f"`{shown}` (sha256 {digest}; {metadata.get('architecture', '?')}, {metadata.get('params', '?')} parameters)"


def run_set(test_set: TestSet, data: Path, weights: str, calibration: Path, provenance: dict, teacher: str | None = None) -> dict:
    found = load_set(test_set.key, data)
    noise = "real" if test_set.key.startswith("polyu-") else "synthetic"
    # the tables and targets call the evaluated weights "student" whatever their file's name
    label = network_label(weights)

    def as_student(methods: list) -> list:
        return [replace(m, name="student" + m.name[len(label) :]) if m.name.startswith(label) else m for m in methods]

    methods = as_student(build_methods([weights], list(test_set.baselines), tta=test_set.tta, noise=noise))
    if teacher is not None and test_set.key.startswith("polyu-") and test_set.key.endswith("-crops"):
        methods += [replace(method, name="teacher") for method in build_methods([teacher], [])]
    for runtime, precision in test_set.extra_runtimes:
        size = (512, 512) if test_set.key.endswith("-crops") else None  # a crop is one tile; else the default 1024x1024
        methods += as_student(build_methods([weights], [], runtime=runtime, precision=precision, export_size=size, data=calibration))
    # the crops show one row per kind of method: the runtime variants of the student look alike
    shown = [method.name for method in methods if "(" not in method.name or method.name.startswith(("bm3d", "nlm"))]
    crops = ComparisonCrops(keep=4, shown=shown) if test_set.report else None
    print(f"== {test_set.title}: {len(found.images)} images, {len(methods)} methods", file=sys.stderr, flush=True)
    scores = score_methods(methods, found.images, on_image=crops, progress=lambda line: print(line, file=sys.stderr, flush=True))
    if test_set.report:
        write_report(REPO / "docs" / test_set.report, found, scores, crops.crops, title=f"Evaluation: {test_set.title}", provenance=provenance, overwrite=True)
    return {
        "title": test_set.title,
        "data": found.description,
        "skipped": found.skipped,
        "summary": {name: record.summary() for name, record in scores.items()},
        "capped": {name: record.capped for name, record in scores.items()},
    }


def table(result: dict) -> str:
    lines = ["| method | PSNR (dB) | SSIM | s / Mpix |", "|---|---|---|---|"]
    best = max(s["psnr"] for s in result["summary"].values())
    for name, s in result["summary"].items():
        value = f"{s['psnr']:.2f}" + (f" ({result['capped'][name]} capped at {PSNR_CAP:g})" if result["capped"][name] else "")
        value = f"**{value}**" if s["psnr"] == best else value
        lines.append(f"| {name} | {value} | {s['ssim']:.4f} | {s['sec_per_mpix']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--weights", default="student", help="student weights to evaluate (default: the shipped student)")
    parser.add_argument("--teacher", help="teacher weights, evaluated beside the student on the PolyU crop sets")
    parser.add_argument("--only", nargs="+", help=f"set keys to (re)run: {' '.join(s.key for s in SETS)}; the others are read from the last run")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results.md")
    parser.add_argument("--render-only", action="store_true", help="rewrite the markdown from docs/results/results.json, running nothing")
    args = parser.parse_args()

    record_path = REPO / "docs" / "results" / "results.json"
    previous = json.loads(record_path.read_text()) if record_path.exists() else {"sets": {}}
    machine = machine_info()
    provenance = {
        "weights": weights_line(args.weights),
        **({"teacher": weights_line(args.teacher)} if args.teacher else {}),
        "commit": commit(),
        "date": datetime.date.today().isoformat(),
        "machine": f"{machine['cpu']}, {machine['logical_cpus']} logical CPUs, torch {torch.__version__}, "
        f"load average {machine['load_average'][0]:.2f} at start",
        "command": "make results",
    }
    results = dict(previous["sets"])
    if args.render_only:
        args.out.write_text(render(results))
        return
    for test_set in SETS:
        if args.only and test_set.key not in args.only:
            continue
        results[test_set.key] = {**run_set(test_set, args.data, args.weights, args.data, provenance, args.teacher), "provenance": provenance}
        record_path.parent.mkdir(parents=True, exist_ok=True)  # after each set: a long run that stops keeps what it finished
        record_path.write_text(json.dumps({"sets": results}, indent=1) + "\n")
        args.out.write_text(render(results))
    print(f"wrote {args.out} and {record_path}", file=sys.stderr)


def student_against_baselines(results: dict) -> str:
    """One row per set: the noisy input, the best classical baseline, the student, and the difference."""
    lines = [
        "## Summary: the shipped student against the best classical baseline",
        "",
        "Where BM3D was not run (full-size sets, synthetic 'low' and 'high'), the best baseline is among those that were.",
        "",
        "| set | noisy input (dB) | best baseline run (dB) | student (dB) | student - that baseline (dB) |",
        "|---|---|---|---|---|",
    ]
    for test_set in SETS:
        if test_set.key not in results:
            continue
        summary = results[test_set.key]["summary"]
        baselines = {name: s["psnr"] for name, s in summary.items() if name.startswith(("bm3d", "nlm"))}
        best = max(baselines, key=baselines.get)
        student = summary["student"]["psnr"]
        cells = [results[test_set.key]["title"], f"{summary['identity']['psnr']:.2f}", f"{best}: {baselines[best]:.2f}", f"{student:.2f}"]
        lines.append(f"| {' | '.join(cells)} | {student - baselines[best]:+.2f} |")
    return "\n".join(lines)


def shipping_targets(results: dict) -> str:
    """The targets the shipped weights were trained for (issue 6), each met or by how far it falls short."""

    def psnr(key: str, method: str) -> float | None:
        summary = results.get(key, {}).get("summary", {})
        return summary[method]["psnr"] if method in summary else None

    def bm3d(key: str) -> float | None:
        summary = results.get(key, {}).get("summary", {})
        return next((s["psnr"] for name, s in summary.items() if name.startswith("bm3d")), None)

    def row(target: str, have: float | None, reference: float | None, wanted: float, how: str, above: str = "met") -> str:
        if have is None or reference is None:
            return f"| {target} | not measured | - | - |"
        margin = have - reference
        verdict = (above if margin > 0 else "met") if margin >= wanted else f"not met: {wanted - margin:.2f} dB short"
        return f"| {target} | {how.format(have=have, reference=reference)} | {margin:+.2f} dB | {verdict} |"

    val, unseen = "polyu-val-crops", "polyu-unseen-crops"
    student = psnr(val, "student")
    lines = [
        "## Targets of the shipped weights",
        "",
        "| target | measured | margin | verdict |",
        "|---|---|---|---|",
        row("PolyU val crops: student >= tuned BM3D + 0.5 dB", student, bm3d(val), 0.5, "student {have:.2f} vs BM3D {reference:.2f}"),
        row("PolyU val crops: student >= teacher - 0.1 dB", student, psnr(val, "teacher"), -0.1, "student {have:.2f} vs teacher {reference:.2f}",
            above="not a distillation result: the teacher is below the student, which was not distilled from it"),
        row("PolyU unseen_camera crops: student > tuned BM3D", psnr(unseen, "student"), bm3d(unseen), 0.0, "student {have:.2f} vs BM3D {reference:.2f}"),
        row("PolyU val crops: LiteRT int8 >= fp32 - 0.1 dB", psnr(val, "student (tflite int8)"), student, -0.1, "int8 {have:.2f} vs fp32 {reference:.2f}"),
        "",
        "The distilled student against the same student trained without a teacher on the same budget is a training "
        "comparison, not a harness run: `docs/model-card.md`.",
        "",
    ]
    return "\n".join(lines)


def paper_versus_ours(results: dict) -> str:
    """Each headline claim of the paper (``../shared/docs/paper-spec.md``), our figure, and whether the two compare."""

    def student(key: str) -> str:
        if key not in results:
            return "not run"
        summary = results[key]["summary"]["student"]
        return f"{summary['psnr']:.2f} dB / {summary['ssim']:.4f}"

    def teacher_gap() -> tuple[str, str]:
        summary = results.get("polyu-val-crops", {}).get("summary", {})
        if "teacher" not in summary:
            return "not measured in this run (no --teacher; `docs/model-card.md` has the CPU-trained one)", "not yet"
        teacher, student_psnr = summary["teacher"]["psnr"], summary["student"]["psnr"]
        ours = f"{teacher:.2f} dB on PolyU val crops; student - teacher {student_psnr - teacher:+.2f} dB"
        if teacher < student_psnr:
            return ours, "no: our CPU-trained teacher is below the student, which was not distilled from it"
        return ours, "in kind: different data"

    different_data = (
        "no: different data. The challenge's smartphone images are not available here; PolyU is DSLR noise "
        "(22.8-39.6 dB noisy PSNR full-size). Our val is 4 scenes (21 crops); published PolyU tables use all 100 crops, 67 of which we train on"
    )
    rows = [
        ("student parameters", "1.96M (1,963,411 in the released definition)", "1,963,411 (`tests/test_models.py`)", "yes: the same architecture"),
        (
            "teacher parameters",
            "~41.6M",
            "41,604,998 at width 64 (`docs/foundation.md`); the CPU-trained teacher is width 32, 10,406,854",
            "the architecture, yes; the trained one is 4x narrower (`docs/model-card.md`)",
        ),
        (
            "student PSNR / SSIM, challenge validation, full resolution 2432x3200",
            "37.66 dB / 0.9278",
            f"{student('polyu-val-full')} on PolyU val full-size",
            different_data,
        ),
        (
            "student PSNR / SSIM, held-out test",
            "37.58 dB / 0.9098",
            f"{student('polyu-unseen-full')} on PolyU unseen_camera full-size",
            "no: different data; ours holds out a camera, not only scenes",
        ),
        ("teacher PSNR, and the student's gap to it", "37.71 dB, gap 0.05 dB", *teacher_gap()),
        (
            "gap closed by distillation",
            "from 1.63 dB",
            "from 1.05 to 0.73 dB on the PolyU `val` four-set mean: students from scratch, 4,500 steps, the width-32 teacher (`docs/distillation.md`)",
            "partly: CPU scale, a 4x narrower teacher, our data",
        ),
        (
            "Full HD (1088x1920) runtime",
            "34.0 ms Dimensity 9500 NPU, 46.1 ms Snapdragon 8 Elite NPU",
            full_hd_latency(),
            "no: no phone or NPU here; the CPU figure only ranks our runtimes",
        ),
    ]
    lines = ["## The paper versus ours", "", "| claim of the paper | the paper | ours | comparable? |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines) + "\n"


def full_hd_latency() -> str:
    """The LiteRT int8 Full-HD median of `docs/results/bench.json` (`litedenoise bench`, section "Measured latency")."""
    bench = json.loads((REPO / "docs/results/bench.json").read_text())
    row = next(row for row in bench["rows"] if row["runtime"] == "tflite-int8" and row["size"] == [1088, 1920])
    day = bench["date"][:10]
    return f"{row['median_ms']:.0f} ms LiteRT int8 on 2 CPU cores, {day} (`docs/deployment.md`)"


def render(results: dict) -> str:
    first = next(iter(results.values()))["provenance"]
    lines = [
        "# Results",
        "",
        "Every table is written by `make results` (`benchmarks/make_results.py`) from the evaluation harness "
        "(`litedenoise eval`, `src/litedenoise/evaluate.py`); nothing here is typed by hand.",
        "",
        f"- {METRIC_CONVENTION}.",
        "- Whole images at full resolution through the one inference path (`infer.denoise`, tiled where the image exceeds the memory budget).",
        "- Baselines: BM3D (`bm3d` package) and OpenCV non-local means with noise level = wavelet sigma estimate x a multiplier, "
        f"tuned on PolyU `train` for the PolyU sets (BM3D x{TUNED_MULTIPLIERS['real']['bm3d']:g}, NLM x{TUNED_MULTIPLIERS['real']['nlm']:g}) "
        f"and on CBSD432 photos with the same synthetic noise for Kodak24 and McMaster18 (BM3D x{TUNED_MULTIPLIERS['synthetic']['bm3d']:g}, "
        f"NLM x{TUNED_MULTIPLIERS['synthetic']['nlm']:g}); `benchmarks/tune_baselines.py`, `docs/results/baseline-tuning.json`, "
        "`docs/evaluation.md`. Nothing is tuned on a test set.",
        "- s / Mpix is wall-clock seconds per megapixel on the machine named below, both cores. BM3D's come from its output cache, "
        "measured when each output was first computed.",
        "- `student + x8 TTA` is the flip/rotate self-ensemble (`--tta`). `tflite int8` is the LiteRT export of `docs/deployment.md`, "
        "calibrated on PolyU train crops, exported at 512x512 for the crop sets (one tile per crop).",
        "- BM3D is not run on the full-size sets (at about 77 s per megapixel here, 7-9 minutes per image), and on the synthetic sets at "
        "the 'medium' level only.",
        *(
            ["- `teacher` (PolyU crop sets only) is the teacher named on its set's table (`docs/model-card.md`); it is not shipped."]
            if "teacher" in first
            else []
        ),
        "",
        f"Weights: {first['weights']}. Commit: {first['commit']}. Date: {first['date']}. Machine: {first['machine']}.",
        "",
        "Reproduce one set: `.venv/bin/litedenoise eval ../shared/data --split val:crops --model student --baseline identity --baseline nlm "
        "--baseline bm3d --tta`; a synthetic one: `.venv/bin/litedenoise eval ../shared/data/clean/kodak24 --noise medium --model student "
        "--baseline identity --baseline bm3d`.",
        "",
    ]
    lines += [student_against_baselines(results), "", shipping_targets(results)]
    for test_set in SETS:
        result = results.get(test_set.key)
        if result is None:
            lines += [f"## {test_set.title}", "", "Not run yet.", ""]
            continue
        provenance = result["provenance"]
        lines += [f"## {result['title']}", ""]
        if provenance != first:
            lines += [f"Weights: {provenance['weights']}. Commit: {provenance['commit']}. Date: {provenance['date']}.", ""]
        if result["skipped"]:
            lines += [f"Skipped {len(result['skipped'])} inputs: {'; '.join(result['skipped'])}", ""]
        lines += [table(result), ""]
        if test_set.report:
            lines += [f"Pictures: [`docs/{test_set.report}/report.md`]({test_set.report}/report.md) (HTML: `docs/{test_set.report}/report.html`; "
                      f"screenshot `docs/{test_set.report}/screenshot.png`).", ""]

    lines.append(paper_versus_ours(results))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
