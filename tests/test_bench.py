"""``litedenoise bench``: the work counted from the models, the machine's peaks, the report and bad input.

No test reads a time for its value: the cores are shared, so times are only checked to exist
and be positive. The bench runs a width-2 student at 320x320 with 2 runs on torch and ONNX
(exported at 320x320, one tile); torch.compile is left out (its first call takes about a minute
here), and int8 rows are made to fail to load rather than calibrated.
"""

import json

import pytest
from torch import nn

from litedenoise import bench, runtimes
from litedenoise.cli import main
from litedenoise.errors import LiteDenoiseError
from litedenoise.models import LiteDenoiseNet, TeacherNet

TINY_MATMUL = 32


def test_the_student_does_the_papers_53_9_kmac_per_pixel():
    cost = bench.model_cost(LiteDenoiseNet())
    assert cost.macs_per_pixel == pytest.approx(53_900, rel=0.01)
    assert cost.macs_per_pixel * 1088 * 1920 == pytest.approx(112.5e9, rel=0.01)
    assert cost.macs_per_pixel * 2432 * 3200 == pytest.approx(419e9, rel=0.01)


def test_the_teacher_does_2_93_mmac_per_pixel_and_the_papers_3_1_counts_its_transposed_convs_per_output_pixel():
    model = TeacherNet()
    cost = bench.model_cost(model)
    assert cost.macs_per_pixel == pytest.approx(2_934_144, rel=1e-6)
    transposed = {name for name, module in model.named_modules() if isinstance(module, nn.ConvTranspose2d)}
    per_output_pixel = sum(conv.macs_per_pixel * (4 if conv.name in transposed else 1) for conv in cost.convs)  # 2x2 stride 2
    assert per_output_pixel == pytest.approx(3.1e6, rel=0.01)


def test_per_pixel_costs_do_not_depend_on_the_sample_size():
    model = LiteDenoiseNet(width=4)
    small, large = bench.model_cost(model, (64, 64)), bench.model_cost(model, (128, 96))
    assert small.macs_per_pixel == pytest.approx(large.macs_per_pixel)
    assert small.activation_elements_per_pixel == pytest.approx(large.activation_elements_per_pixel)
    assert small.weight_elements == large.weight_elements == sum(p.numel() for p in model.parameters())


def test_matmul_peaks_and_copy_bandwidth_are_positive_on_tiny_sizes():
    peaks = bench.matmul_peaks(TINY_MATMUL, seconds=0.01)
    for precision in ("fp32", "bf16", "int8"):
        assert peaks[precision]["gmac_per_s"] > 0, precision
    assert set(peaks["int8"]["measured"]) == {"torch._int_mm", "onnxruntime MatMulInteger"}
    assert peaks["int8"]["gmac_per_s"] == max(value for value in peaks["int8"]["measured"].values() if value)
    assert bench.copy_bandwidth(1, seconds=0.01) > 0


def test_the_bench_command_writes_a_json_report_and_a_markdown_row_per_runtime(weights, tmp_path, capsys):
    report_path, table_path = tmp_path / "bench.json", tmp_path / "bench.md"
    code = main(
        ["bench", "--weights", str(weights), "--runtimes", "torch", "onnx-fp32", "--sizes", "320x320", "--runs", "2", "--warmup", "1"]
        + ["--matmul-size", str(TINY_MATMUL), "--json", str(report_path), "--markdown", str(table_path)]
    )
    assert code == 0
    report = json.loads(report_path.read_text())
    assert {"date", "model", "protocol", "machine", "versions", "peaks", "rows"} <= set(report)
    assert report["model"]["params"] == sum(p.numel() for p in LiteDenoiseNet(width=2).parameters())
    assert {"cpu", "flags", "threads"} <= set(report["machine"]) and "avx512_bf16" in report["machine"]["flags"]
    assert report["versions"]["torch"] and report["versions"]["onnxruntime"]
    assert [(row["runtime"], row["status"]) for row in report["rows"]] == [("torch", "ok"), ("onnx-fp32", "ok")]
    for row in report["rows"]:
        assert len(row["times_ms"]) == 2 and min(row["times_ms"]) > 0 and row["first_call_ms"] > 0
        assert row["min_ms"] <= row["median_ms"] <= row["max_ms"]
        assert row["tiles"] == 1 and row["computed_pixels"] == 320 * 320
        assert row["achieved_gmac_per_s"] > 0 and 0 < row["peak_share"]
    assert report["rows"][1]["fixed_size"] == [320, 320] and report["rows"][0]["fixed_size"] is None

    table = table_path.read_text()
    assert table in capsys.readouterr().out
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0] for row in rows] == ["| torch", "| onnx-fp32"]


def test_a_runtime_that_cannot_load_gives_skipped_rows_and_the_others_still_run(monkeypatch):
    real_load = runtimes.load_backend

    def load(runtime, model, **options):
        if options.get("precision") == "int8":
            raise LiteDenoiseError("int8 export is not there yet")
        return real_load(runtime, model, **options)

    monkeypatch.setattr(runtimes, "load_backend", load)
    report = bench.run_benchmark(
        LiteDenoiseNet(width=2), runtimes=["onnx-int8", "torch"], sizes=[(64, 64), (96, 64)], runs=1, warmup=1, matmul_size=TINY_MATMUL
    )
    assert [(row["runtime"], row["size"], row["status"]) for row in report["rows"]] == [
        ("onnx-int8", [64, 64], "skipped"),
        ("onnx-int8", [96, 64], "skipped"),
        ("torch", [64, 64], "ok"),
        ("torch", [96, 64], "ok"),
    ]
    assert report["rows"][0]["reason"] == "int8 export is not there yet"
    assert "skipped: int8 export is not there yet" in bench.render_markdown(report)


@pytest.mark.parametrize("flags, named, bf16_status", [(set(), False, "skipped"), (set(), True, "ok"), ({"amx_bf16"}, False, "ok")])
def test_the_default_protocol_skips_torch_bf16_where_the_cpu_emulates_it(monkeypatch, flags, named, bf16_status):
    monkeypatch.setattr(runtimes, "cpu_flags", lambda: flags)
    monkeypatch.setitem(bench.PROTOCOLS, "student", bench.Protocol(("torch", "torch-bf16"), ((64, 64),), runs=1, warmup=1))
    report = bench.run_benchmark(LiteDenoiseNet(width=2), runtimes=["torch", "torch-bf16"] if named else None, matmul_size=TINY_MATMUL)
    assert [(row["runtime"], row["status"]) for row in report["rows"]] == [("torch", "ok"), ("torch-bf16", bf16_status)]
    if bf16_status == "skipped":
        assert "emulated" in report["rows"][1]["reason"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--runtimes", "torch", "tensorrt"], "unknown runtime 'tensorrt'"),
        (["--sizes", "1080x1920"], "not a multiple of 16"),
        (["--runs", "0"], "at least 1"),
    ],
)
def test_bad_input_exits_1_with_one_line(weights, capsys, arguments, message):
    assert main(["bench", "--weights", str(weights), *arguments]) == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_an_existing_report_is_refused_before_anything_runs_without_overwrite(weights, tmp_path, capsys):
    existing = tmp_path / "bench.md"
    existing.write_text("earlier results")
    assert main(["bench", "--weights", str(weights), "--markdown", str(existing)]) == 1
    error = capsys.readouterr().err
    assert "already exists; use --overwrite" in error and error.count("\n") == 1
    assert existing.read_text() == "earlier results"
