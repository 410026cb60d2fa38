"""Latency of the one inference path per runtime and image size, held against a roofline.

The record (run it alone on the machine: other work on the cores skews every number)::

    .venv/bin/litedenoise bench --json docs/results/bench.json --markdown docs/results/bench.md
    .venv/bin/litedenoise bench --model teacher --memory-mb 12000 --json docs/results/bench-teacher.json --markdown docs/results/bench-teacher.md

The first is the paper's protocol for the shipped student: Full HD (1088x1920) and 2432x3200,
torch fp32 / bf16 / torch.compile, ONNX Runtime fp32 / int8 and LiteRT fp32 / int8, 2 warm-up and
10 timed runs. The second times the randomly initialised teacher (latency does not depend on the
weights) at Full HD only: 3 runs of torch fp32, torch bf16 and ONNX fp32.

Protocol. A row is one (runtime, precision, image size): ``warmup`` untimed calls of
``infer.denoise_tensor`` on a random 1x3xHxW image in [0, 1] (the first is timed on its own and
reported as the first call: for torch.compile it holds the compilation), then ``runs`` timed calls.
Median, min, max and inter-quartile range are in milliseconds, and the JSON keeps every raw time.
Static-shape backends (ONNX, TFLite) are exported once, at the first size asked for (Full HD by
default), and larger images are tiled at that fixed size; export time is reported, not counted.
Each row says how many tiles the image took: the calls the inference path made into the backend.

Roofline. The work is counted from the model: the multiply-accumulates of every convolution
(``model_cost``: 53,856 MAC per pixel for the student). Bytes follow a simple stated model: each
convolution reads its input and its weights once and writes its output once, at the row's element
size (fp32 4 bytes, bf16 2, int8 1); elementwise operations (ReLU, add, resize, concat, clamp) are
taken as fused and free; weights are read once per tile. The machine's peaks come from square
matrix multiplies (``matmul_peaks``) and its bandwidth from a large tensor copy
(``copy_bandwidth``). A row gives the GMAC/s it achieved (MACs actually computed, tile overlap
included, over the median), its share of the peak at the row's precision, and the roofline's
ceiling min(peak, MACs per byte x bandwidth).
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import importlib.metadata
import multiprocessing
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from litedenoise.allocator import cli_reuses_freed_memory, reuse_freed_memory
from litedenoise.errors import LiteDenoiseError
from litedenoise.export.convert import DEFAULT_SIZE as FULL_HD
from litedenoise.infer import DEFAULT_MEMORY_BUDGET_MB, denoise_tensor
from litedenoise.models import TeacherNet
from litedenoise.runtimes import TorchBackend, cpu_flags, emulated_bf16_warning, load_backend
from litedenoise.weights import build_model

LARGE = (2432, 3200)  # (height, width): the paper's full-resolution test size
DEFAULT_MATMUL_SIZE = 2048
COPY_MEGABYTES = 256  # well beyond any last-level cache
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")
PACKAGES = ("litedenoise", "torch", "onnxruntime", "ai-edge-litert", "litert-torch", "numpy")
ELEMENT_BYTES = {"fp32": 4, "bf16": 2, "int8": 1}
STATIC_RUNTIMES = ("onnx", "tflite")  # exported once at a fixed input size


@dataclass(frozen=True)
class BenchRuntime:
    """What a ``--runtimes`` name loads: a ``runtimes.RUNTIMES`` backend at a precision.

    ``precision`` is also what the backend computes in, so it picks the peak the row is held
    against (torch-bf16 loads fp32 weights and computes under bf16 autocast).
    """

    runtime: str
    precision: str
    compiled: bool = False  # torch.compile the backend's module


BENCH_RUNTIMES = {
    "torch": BenchRuntime("torch", "fp32"),
    "torch-bf16": BenchRuntime("torch-bf16", "bf16"),
    "torch-compile": BenchRuntime("torch", "fp32", compiled=True),
    "onnx-fp32": BenchRuntime("onnx", "fp32"),
    "onnx-int8": BenchRuntime("onnx", "int8"),
    "tflite-fp32": BenchRuntime("tflite", "fp32"),
    "tflite-int8": BenchRuntime("tflite", "int8"),
}


@dataclass(frozen=True)
class Protocol:
    """The defaults of one architecture's benchmark."""

    runtimes: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...]
    runs: int
    warmup: int


PROTOCOLS = {
    "student": Protocol(tuple(BENCH_RUNTIMES), (FULL_HD, LARGE), runs=10, warmup=2),
    # ~6 TMAC per Full-HD image: about a minute a run on two cores
    "teacher": Protocol(("torch", "torch-bf16", "onnx-fp32"), (FULL_HD,), runs=3, warmup=1),
}


# --- work and bytes, counted from the model ----------------------------------------------------


@dataclass(frozen=True)
class ConvCost:
    """One convolution's work and traffic per pixel of the network's input."""

    name: str
    macs_per_pixel: float
    weight_elements: int  # weight and bias, read once per call
    activation_elements_per_pixel: float  # its input read plus its output written


@dataclass(frozen=True)
class ModelCost:
    convs: tuple[ConvCost, ...]

    @property
    def macs_per_pixel(self) -> float:
        return sum(conv.macs_per_pixel for conv in self.convs)

    @property
    def weight_elements(self) -> int:
        return sum(conv.weight_elements for conv in self.convs)

    @property
    def activation_elements_per_pixel(self) -> float:
        return sum(conv.activation_elements_per_pixel for conv in self.convs)

    def bytes_moved(self, pixels: float, tiles: int, element_bytes: int) -> float:
        """Bytes read and written for ``pixels`` input pixels computed in ``tiles`` calls."""
        return element_bytes * (self.activation_elements_per_pixel * pixels + self.weight_elements * tiles)


def model_cost(model: nn.Module, sample_size: tuple[int, int] = (64, 64)) -> ModelCost:
    """Per-pixel MACs and traffic of every Conv2d / ConvTranspose2d, from one forward on a sample.

    Forward hooks read each convolution's real input and output shapes; every layer's size is
    proportional to the input's, so the per-pixel figures hold at any size. A convolution does
    (output elements x input channels per group x kernel area) MACs; a transposed one does
    (input elements x output channels per group x kernel area). The teacher counts 2.93 MMAC per
    pixel: the paper's ~3.1 MMAC matches counting its three 2x2 stride-2 transposed
    convolutions per output pixel, four times the multiplies they do.
    """
    pixels = sample_size[0] * sample_size[1]
    convs: list[ConvCost] = []

    def record(name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            kernel_area = module.kernel_size[0] * module.kernel_size[1]
            if isinstance(module, nn.ConvTranspose2d):
                macs = inputs[0][0].numel() * module.out_channels // module.groups * kernel_area
            else:
                macs = output[0].numel() * module.in_channels // module.groups * kernel_area
            weights = sum(p.numel() for p in module.parameters(recurse=False))
            activations = inputs[0][0].numel() + output[0].numel()
            convs.append(ConvCost(name, macs / pixels, weights, activations / pixels))

        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in model.named_modules() if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        parameter = next(model.parameters())
        with torch.no_grad():
            model(torch.rand(1, 3, *sample_size, device=parameter.device, dtype=parameter.dtype))
    finally:
        for handle in handles:
            handle.remove()
    return ModelCost(tuple(convs))


# --- the machine: peaks, bandwidth, description -----------------------------------------------


def _best_seconds(call: Callable[[], object], seconds: float, max_calls: int = 20) -> float:
    """Fastest of repeated ``call()``s after one warm-up, within about ``seconds`` of calls."""
    call()
    best, start = float("inf"), time.perf_counter()
    for _ in range(max_calls):
        begin = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - begin)
        if time.perf_counter() - start > seconds:
            break
    return best


def matmul_peaks(size: int = DEFAULT_MATMUL_SIZE, *, threads: int | None = None, seconds: float = 1.0) -> dict[str, dict]:
    """This machine's GMAC/s on ``size`` x ``size`` by ``size`` x ``size`` matrix multiplies.

    fp32 and bf16: ``torch.mm``. int8 (int8 weights, int32 accumulation): ``torch._int_mm`` and
    onnxruntime ``MatMulInteger`` (uint8 x int8, the VNNI kernel family ORT's int8 convolutions
    use) are both measured and the peak is the faster; ``torch._int_mm`` on CPU is not the
    fastest int8 GEMM, and a peak below what the int8 runtimes reach would mean nothing.
    Returns {precision: {"gmac_per_s", "method", "measured": {method: GMAC/s or None}}}.
    """
    macs = float(size) ** 3
    generator = torch.Generator().manual_seed(0)
    peaks = {}
    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.rand(size, size, generator=generator).to(dtype)
        b = torch.rand(size, size, generator=generator).to(dtype)
        gmacs = macs / _best_seconds(lambda a=a, b=b: torch.mm(a, b), seconds) / 1e9
        peaks[precision] = {"gmac_per_s": gmacs, "method": f"torch.mm {precision}", "measured": {f"torch.mm {precision}": gmacs}}

    int8 = {"torch._int_mm": _int_mm_gmacs(size, seconds, generator), "onnxruntime MatMulInteger": _onnxruntime_int8_gmacs(size, seconds, threads)}
    working = {method: gmacs for method, gmacs in int8.items() if gmacs is not None}
    best = max(working, key=working.get) if working else None
    peaks["int8"] = {"gmac_per_s": working.get(best), "method": best, "measured": int8}
    return peaks


def _int_mm_gmacs(size: int, seconds: float, generator: torch.Generator) -> float | None:
    a = torch.randint(-128, 128, (size, size), dtype=torch.int8, generator=generator)
    b = torch.randint(-128, 128, (size, size), dtype=torch.int8, generator=generator)
    try:
        return float(size) ** 3 / _best_seconds(lambda: torch._int_mm(a, b), seconds) / 1e9
    except (RuntimeError, NotImplementedError):  # not built for this CPU or this torch
        return None


def _onnxruntime_int8_gmacs(size: int, seconds: float, threads: int | None) -> float | None:
    try:
        import onnxruntime
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.integers(-128, 128, (size, size), dtype=np.int8), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["c"])],
        "int8_matmul",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [size, size])],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [size, size])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    a = rng.integers(0, 256, (size, size), dtype=np.uint8)
    return float(size) ** 3 / _best_seconds(lambda: session.run(None, {"a": a}), seconds) / 1e9


def copy_bandwidth(megabytes: int = COPY_MEGABYTES, seconds: float = 1.0) -> float:
    """GB/s (1e9 bytes) of copying one float32 tensor of ``megabytes`` MiB into another: read plus write."""
    source = torch.rand(megabytes * 2**20 // 4)
    destination = torch.empty_like(source)
    return 2 * source.numel() * 4 / _best_seconds(lambda: destination.copy_(source), seconds) / 1e9


def forward_working_bytes(
    architecture: str, width: int, side: int, *, bf16: bool = False, runtime: str = "torch", tiles: int = 3, cli_allocator: bool = True
) -> int:
    """Peak RSS growth, in bytes, of ``tiles`` no-grad ``side`` x ``side`` tiles in a row through
    ``TorchBackend`` (the inference path's call), or with ``runtime`` "onnx" through the any-size
    ONNX file in ONNX Runtime, for a randomly initialised network: memory does not depend on the
    weights. With ``cli_allocator`` the allocator is set as the CLI sets it for that runtime
    (``allocator.reuse_freed_memory`` for fp32 PyTorch), whose heap settles by the third tile.
    Linux only. Run it in a fresh process (``forward_working_bytes_in_new_process``): memory an
    earlier allocation left in the heap would hide part of the peak."""
    if cli_allocator and cli_reuses_freed_memory("torch-bf16" if bf16 else runtime):
        reuse_freed_memory()
    torch.manual_seed(0)
    model = build_model(architecture, width).eval()
    if runtime == "onnx":
        with tempfile.TemporaryDirectory() as cache:  # the session holds the model once created
            backend = load_backend("onnx", model, cache_dir=Path(cache))
    else:
        backend = TorchBackend(model, bf16=bf16)
    backend(torch.rand(1, 3, 2 * model.size_multiple, 2 * model.size_multiple))  # one-off set-up
    tile = torch.rand(1, 3, side, side)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak RSS, to the current RSS
    before = _proc_status_kib("VmRSS")
    for _ in range(tiles):
        backend(tile)
    return (_proc_status_kib("VmHWM") - before) * 1024


def forward_working_bytes_in_new_process(
    architecture: str, width: int, side: int, *, bf16: bool = False, runtime: str = "torch", tiles: int = 3, cli_allocator: bool = True
) -> int:
    """``forward_working_bytes`` in a freshly spawned interpreter (nothing inherited from this one)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(forward_working_bytes, architecture, width, side, bf16=bf16, runtime=runtime, tiles=tiles, cli_allocator=cli_allocator).result()


def _proc_status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LiteDenoiseError(f"/proc/self/status has no {field}")


def machine_info() -> dict:
    """CPU model and the instruction-set flags that decide which kernels run, from /proc/cpuinfo."""
    model_name, flags = platform.processor() or "unknown", cpu_flags()
    with contextlib.suppress(OSError):
        fields = (line.partition(":") for line in Path("/proc/cpuinfo").read_text().splitlines())
        model_name = next((value.strip() for key, _, value in fields if key.strip() == "model name"), model_name)
    return {
        "cpu": model_name,
        "flags": {flag: flag in flags for flag in CPU_FLAGS},
        "logical_cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
    }


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


# --- the benchmark -----------------------------------------------------------------------------


def run_benchmark(
    model: nn.Module,
    *,
    runtimes: list[str] | None = None,
    sizes: list[tuple[int, int]] | None = None,
    runs: int | None = None,
    warmup: int | None = None,
    threads: int | None = None,
    data: str | Path | None = None,
    weights: str = "",
    matmul_size: int = DEFAULT_MATMUL_SIZE,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Time ``model`` under each runtime at each (height, width) size; returns the report (JSON-ready).

    None takes the architecture's default from ``PROTOCOLS``. ``threads`` sets torch's thread
    count for the run (and is handed to every backend); ``data`` is the data folder int8 exports
    calibrate on (default ``$LITEDENOISE_DATA``); ``weights`` says in the report where the weights
    came from. ``memory_budget_mb`` sizes the PyTorch rows' tiles, as in ``denoise``. A runtime
    that cannot be loaded (a missing package, an export not supported) gives
    skipped rows with the reason; a failed run gives a failed row; neither stops the others.
    ``progress`` receives one line per row. Left to the protocol, torch-bf16 is skipped on a CPU
    that emulates bfloat16; named in ``runtimes``, it runs.
    """
    protocol = PROTOCOLS["teacher" if isinstance(model, TeacherNet) else "student"]
    chosen = set(runtimes or ())
    runtimes = list(runtimes or protocol.runtimes)
    sizes = [tuple(size) for size in (sizes or protocol.sizes)]
    runs = protocol.runs if runs is None else runs
    warmup = protocol.warmup if warmup is None else warmup
    _check_request(model, runtimes, sizes, runs, warmup, threads, matmul_size)
    progress = progress or (lambda line: None)

    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        machine = {**machine_info(), "threads": torch.get_num_threads()}
        cost = model_cost(model)
        progress(f"matmul peaks ({matmul_size}^3) and copy bandwidth on {machine['threads']} threads")
        peaks = {"matmul_size": matmul_size, **matmul_peaks(matmul_size, threads=threads), "copy_gb_per_s": copy_bandwidth()}
        export_size = sizes[0]
        rows = []
        with tempfile.TemporaryDirectory(prefix="litedenoise-bench-") as cache_dir:  # a fresh export each time: its time is reported
            for name in runtimes:
                if name not in chosen and (emulated := emulated_bf16_warning(BENCH_RUNTIMES[name].runtime)):
                    # it would take most of the benchmark's time, for a runtime no one deploys here
                    reason = f"{emulated}; name it in --runtimes to time it"
                    progress(f"{name}: skipped ({reason})")
                    rows += _skipped_rows(name, sizes, reason)
                    continue
                # the backends get the threads asked for; None leaves each at its default, torch's count
                rows += _runtime_rows(model, name, sizes, export_size, runs, warmup, threads, data, Path(cache_dir), cost, peaks, progress, memory_budget_mb)
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": {
            "architecture": type(model).__name__,
            "width": getattr(model, "width", None),
            "params": sum(p.numel() for p in model.parameters()),
            "weights": weights,
            "macs_per_pixel": cost.macs_per_pixel,
            "conv_weight_elements": cost.weight_elements,
            "conv_activation_elements_per_pixel": cost.activation_elements_per_pixel,
        },
        "protocol": {
            "runtimes": runtimes,
            "sizes": [list(size) for size in sizes],
            "runs": runs,
            "warmup": warmup,
            "threads": machine["threads"],
            "static_export_size": list(export_size),
            "image": "torch.rand(1, 3, H, W), seed 0: float32 NCHW in [0, 1]",
            "path": "litedenoise.infer.denoise_tensor with its default tiling (pad, tile, run, stitch)",
            "memory_budget_mb": memory_budget_mb,
            "bytes_model": "each conv reads its input and weights once and writes its output once at the row's element size; "
            "elementwise ops fused and free; weights read once per tile",
        },
        "machine": machine,
        "versions": package_versions(),
        "peaks": peaks,
        "rows": rows,
    }


def _check_request(model: nn.Module, runtimes: list[str], sizes: list[tuple], runs: int, warmup: int, threads: int | None, matmul_size: int) -> None:
    for name in runtimes:
        if name not in BENCH_RUNTIMES:
            raise LiteDenoiseError(f"unknown runtime {name!r}: use any of {', '.join(BENCH_RUNTIMES)}")
    multiple = model.size_multiple
    for size in sizes:
        if len(size) != 2 or any(not isinstance(side, int) or side <= 0 for side in size):
            raise LiteDenoiseError(f"a size must be two positive integers (height, width), got {size!r}")
        if size[0] % multiple or size[1] % multiple:
            raise LiteDenoiseError(f"size {size[0]}x{size[1]} is not a multiple of {multiple} ({type(model).__name__} needs sides divisible by {multiple})")
    if runs < 1 or warmup < 1:
        raise LiteDenoiseError(f"--runs and --warmup must be at least 1 (the first call loads or compiles), got {runs} and {warmup}")
    if threads is not None and threads < 1:
        raise LiteDenoiseError(f"--threads must be at least 1, got {threads}")
    if matmul_size < 1:
        raise LiteDenoiseError(f"--matmul-size must be at least 1, got {matmul_size}")


def _skipped_rows(name: str, sizes: list[tuple[int, int]], reason: str) -> list[dict]:
    return [{"runtime": name, "precision": BENCH_RUNTIMES[name].precision, "size": list(size), "status": "skipped", "reason": reason} for size in sizes]


def _runtime_rows(
    model: nn.Module,
    name: str,
    sizes: list[tuple[int, int]],
    export_size: tuple[int, int],
    runs: int,
    warmup: int,
    threads: int | None,
    data: str | Path | None,
    cache_dir: Path,
    cost: ModelCost,
    peaks: dict,
    progress: Callable[[str], None],
    memory_budget_mb: float,
) -> list[dict]:
    """One runtime's rows: load (export) it once, then time it at every size."""
    from litedenoise import runtimes

    spec = BENCH_RUNTIMES[name]
    start = time.perf_counter()
    try:
        if spec.runtime in STATIC_RUNTIMES:
            backend = runtimes.load_backend(
                spec.runtime, model, precision=spec.precision, tile_size=export_size, threads=threads, cache_dir=cache_dir, data=Path(data) if data else None
            )
        else:
            backend = runtimes.load_backend(spec.runtime, model, threads=threads)
            if spec.compiled:  # in place on the backend's copy: the module keeps its type, which infer.py sizes tiles by
                backend.model.compile()
    except Exception as error:  # a missing package, an export this model or precision lacks: a row, not a crash
        reason = _one_line(error)
        progress(f"{name}: skipped ({reason})")
        return _skipped_rows(name, sizes, reason)
    export_s = time.perf_counter() - start
    fixed_size = getattr(backend, "fixed_size", None)

    rows = []
    try:
        for size in sizes:
            row = {
                "runtime": name,
                "precision": spec.precision,
                "size": list(size),
                "export_s": export_s,
                "fixed_size": list(fixed_size) if fixed_size else None,
            }
            try:
                row.update(_timed_row(backend, size, runs, warmup, memory_budget_mb), status="ok", reason=None)
                row.update(_roofline(row, cost, peaks))
                progress(f"{name} {size[0]}x{size[1]}: median {row['median_ms']:.0f} ms, {row['tiles']} tile(s), first call {row['first_call_ms']:.0f} ms")
            except Exception as error:  # one failed size does not stop the others
                row.update(status="failed", reason=_one_line(error))
                progress(f"{name} {size[0]}x{size[1]}: failed ({row['reason']})")
            rows.append(row)
    finally:
        del backend
        if spec.compiled:
            torch.compiler.reset()
        gc.collect()
    return rows


def _timed_row(backend: Callable, size: tuple[int, int], runs: int, warmup: int, memory_budget_mb: float) -> dict:
    image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))

    def seconds() -> float:
        start = time.perf_counter()
        denoise_tensor(image, backend, memory_budget_mb=memory_budget_mb)
        return time.perf_counter() - start

    with _recording_calls(backend) as tile_shapes:
        first_call = seconds()
    warmup_ms = [1e3 * seconds() for _ in range(warmup - 1)]
    times_ms = [1e3 * seconds() for _ in range(runs)]
    q1, median, q3 = np.percentile(times_ms, [25, 50, 75])
    return {
        "first_call_ms": 1e3 * first_call,
        "warmup_ms": warmup_ms,
        "times_ms": times_ms,
        "median_ms": float(median),
        "min_ms": min(times_ms),
        "max_ms": max(times_ms),
        "q1_ms": float(q1),
        "q3_ms": float(q3),
        "iqr_ms": float(q3 - q1),
        "tiles": len(tile_shapes),
        "tile_shapes": [list(shape) for shape in tile_shapes],
        "computed_pixels": sum(height * width for height, width in tile_shapes),
    }


@contextlib.contextmanager
def _recording_calls(backend: Callable) -> Iterator[list[tuple[int, int]]]:
    """Record the height and width of every tile the inference path hands ``backend`` while inside.

    The instance's class is swapped for a same-named subclass whose ``__call__`` records, so
    whatever ``infer.py`` checks of the type or its name still holds; it is restored on leaving.
    """
    shapes: list[tuple[int, int]] = []
    original = type(backend)

    def call(self, tile, *args, **kwargs):
        shapes.append(tuple(tile.shape[-2:]))
        return original.__call__(self, tile, *args, **kwargs)

    recording = type(original.__name__, (original,), {"__call__": call, "__slots__": (), "__module__": original.__module__})
    object.__setattr__(backend, "__class__", recording)  # object's: a frozen dataclass refuses its own
    try:
        yield shapes
    finally:
        object.__setattr__(backend, "__class__", original)


def _roofline(row: dict, cost: ModelCost, peaks: dict) -> dict:
    height, width = row["size"]
    seconds = row["median_ms"] / 1e3
    macs = cost.macs_per_pixel * row["computed_pixels"]
    moved = cost.bytes_moved(row["computed_pixels"], row["tiles"], ELEMENT_BYTES[row["precision"]])
    peak = peaks[row["precision"]]["gmac_per_s"]
    achieved = macs / seconds / 1e9
    intensity = macs / moved
    ceiling = min(peak, intensity * peaks["copy_gb_per_s"]) if peak else None
    return {
        "image_gmac": cost.macs_per_pixel * height * width / 1e9,
        "computed_gmac": macs / 1e9,
        "gbytes_moved": moved / 1e9,
        "macs_per_byte": intensity,
        "achieved_gmac_per_s": achieved,
        "peak_gmac_per_s": peak,
        "peak_share": achieved / peak if peak else None,
        "roofline_gmac_per_s": ceiling,
        "bound": None if peak is None else ("compute" if ceiling == peak else "memory"),
    }


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    message = lines[0] if lines else ""
    return message if isinstance(error, LiteDenoiseError) else f"{type(error).__name__}: {message}".rstrip(": ")


# --- the report as a table ---------------------------------------------------------------------

TABLE_HEADER = (
    "| runtime | precision | size | tiles | median ms | min ms | max ms | IQR ms | GMAC/s | % of peak | roofline GMAC/s | first call ms | export s | notes |",
    "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
)


def render_markdown(report: dict) -> str:
    """The report as markdown: what was measured on what, then one table row per (runtime, size)."""
    model, machine, peaks, protocol = report["model"], report["machine"], report["peaks"], report["protocol"]
    flags = machine["flags"]
    amx = any(flags.get(flag) for flag in ("amx_tile", "amx_bf16", "amx_int8"))
    flag_text = (
        ", ".join(f"{flag} {'yes' if flags.get(flag) else 'no'}" for flag in ("avx512f", "avx512_bf16", "avx512_vnni")) + f", amx {'yes' if amx else 'no'}"
    )
    versions = ", ".join(f"{package} {version}" for package, version in report["versions"].items() if version and package != "litedenoise")
    int8 = peaks["int8"]
    int8_text = f"{int8['gmac_per_s']:.0f} ({int8['method']})" if int8["gmac_per_s"] else "not measured"
    export = "x".join(map(str, protocol["static_export_size"]))
    lines = [
        f"## litedenoise bench: {model['architecture']} (width {model['width']}, {model['params']:,} parameters; {model['weights'] or 'weights not named'})",
        "",
        f"- {report['date']}; {machine['cpu']} ({flag_text}); {protocol['threads']} threads; load average at start "
        f"{', '.join(f'{load:.2f}' for load in machine['load_average'] or [])}",
        f"- {versions}",
        f"- work: {model['macs_per_pixel'] / 1e3:.2f} kMAC/pixel (convolutions, counted from the model); "
        f"{protocol['warmup']} warm-up + {protocol['runs']} timed runs of the full image path on a random image; "
        f"ONNX/TFLite exported once at {export} and tiled at that size",
        f"- peaks ({peaks['matmul_size']}^3 matmul), GMAC/s: fp32 {peaks['fp32']['gmac_per_s']:.0f} (torch.mm), "
        f"bf16 {peaks['bf16']['gmac_per_s']:.0f} (torch.mm), int8 {int8_text}; copy bandwidth {peaks['copy_gb_per_s']:.1f} GB/s",
        "",
        *TABLE_HEADER,
    ]
    for row in report["rows"]:
        lines.append(_table_row(row))
    return "\n".join(lines) + "\n"


def _table_row(row: dict) -> str:
    size = "x".join(map(str, row["size"]))
    if row["status"] != "ok":
        reason = row["reason"].replace("|", "/")  # a bar would end the cell
        cells = [row["runtime"], row["precision"], size, *[""] * 10, f"{row['status']}: {reason}"]
        return "| " + " | ".join(cells) + " |"

    def number(value: float | None, digits: int = 0) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    shapes = sorted({tuple(shape) for shape in row["tile_shapes"]})
    tiles = f"{row['tiles']} x {'/'.join(f'{h}x{w}' for h, w in shapes)}"
    share = None if row["peak_share"] is None else 100 * row["peak_share"]
    cells = [
        row["runtime"],
        row["precision"],
        size,
        tiles,
        number(row["median_ms"]),
        number(row["min_ms"]),
        number(row["max_ms"]),
        number(row["iqr_ms"]),
        number(row["achieved_gmac_per_s"], 1),
        number(share, 1),
        number(row["roofline_gmac_per_s"]),
        number(row["first_call_ms"]),
        number(row["export_s"], 1),
        f"{row['bound']}-bound roofline" if row["bound"] else "",
    ]
    return "| " + " | ".join(cells) + " |"
