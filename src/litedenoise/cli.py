"""The ``litedenoise`` command: a thin layer over the library API.

Every sub-command parses its arguments, calls one library function and turns a
``LiteDenoiseError`` into a one-line message on stderr with exit code 1 (2 for usage errors).
"""

from __future__ import annotations

import argparse
import glob
import sys
from functools import partial
from pathlib import Path

from litedenoise.allocator import cli_reuses_freed_memory, reuse_freed_memory
from litedenoise.errors import LiteDenoiseError

DENOISED_SUFFIX = "_denoised"
DEFAULT_MIN_SIDE = 16


def _expand_inputs(patterns: list[str], *, leave_out_outputs: bool = False) -> list[Path]:
    """Files, folders (their images, sorted) and glob patterns, in the order given.

    ``leave_out_outputs``: a folder's files named NAME_denoised are taken for earlier outputs
    (denoising beside the inputs puts them there) and left out, with a note on stderr.
    """
    from litedenoise.imageio import image_files

    paths: list[Path] = []
    for pattern in patterns:
        is_pattern = glob.has_magic(pattern) and not Path(pattern).exists()  # 'shot[1].png' is a file
        matches = sorted(glob.glob(pattern)) if is_pattern else [pattern]
        if not matches:
            raise LiteDenoiseError(f"no file matches {pattern!r}")
        for match in map(Path, matches):
            if match.is_dir():
                found = image_files(match)
                outputs = [path for path in found if path.stem.endswith(DENOISED_SUFFIX)] if leave_out_outputs else []
                if outputs:
                    print(f"{match}: leaving out {len(outputs)} earlier output(s) named *{DENOISED_SUFFIX}; name such files to denoise them", file=sys.stderr)
                paths.extend(path for path in found if path not in outputs)
            else:
                paths.append(match)  # missing files are reported per file when read
    return paths


def _output_path(source: Path, output: Path | None, single_input: bool) -> Path:
    """Where the denoised copy of ``source`` goes: ``-o`` file, ``-o`` folder, or beside the input."""
    name = f"{source.stem}{DENOISED_SUFFIX}{source.suffix}"
    if output is None:
        return source.with_name(name)
    if single_input and output.suffix and not output.is_dir():
        return output
    return output / name


def _planned_outputs(sources: list[Path], output: Path | None, single: bool) -> dict[Path, Path]:
    """Each input's output path, refused before any work where two inputs would share one (a.png
    from two folders into one -o folder: they would overwrite one another, or fail half-way)."""
    first_source: dict[Path, Path] = {}
    destinations: dict[Path, Path] = {}
    for source in sources:
        destinations[source] = _output_path(source, output, single)
        resolved = destinations[source].resolve()
        if resolved in first_source:
            raise LiteDenoiseError(f"{first_source[resolved]} and {source} would both be written to {resolved}: give them separate output folders")
        first_source[resolved] = source
    return destinations


def _reuse_freed_memory_for(runtime: str) -> bool:
    """Set the allocator where ``allocator.cli_reuses_freed_memory`` says (fp32 PyTorch: 40% less
    time per Full-HD forward). Process-wide, so the CLI does it and the library does not."""
    return cli_reuses_freed_memory(runtime) and reuse_freed_memory()


def _warn_if_bf16_is_emulated(runtime: str, device: str = "cpu") -> None:
    from litedenoise.runtimes import emulated_bf16_warning

    if warning := emulated_bf16_warning(runtime, device):
        print(f"litedenoise: warning: {warning}", file=sys.stderr)


def _advance(bar, done: int, total: int) -> None:
    bar.total = total
    bar.update(done - bar.n)
    bar.refresh()  # update() alone would not show the total before the first tile is done


def denoise_command(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from litedenoise.imageio import check_writable, read_image, write_image
    from litedenoise.infer import denoise
    from litedenoise.runtimes import TORCH_RUNTIMES, default_runtime, exports_any_size, load_backend, runtime_for_file
    from litedenoise.weights import load_model

    weights = args.weights or args.model
    runtime = args.runtime or runtime_for_file(weights) or default_runtime()
    _reuse_freed_memory_for(runtime)
    _warn_if_bf16_is_emulated(runtime, args.device)
    if args.device == "cuda" and runtime not in TORCH_RUNTIMES:
        raise LiteDenoiseError(f"--device cuda is for the PyTorch runtimes ({', '.join(TORCH_RUNTIMES)}), not {runtime}")
    unique: dict[Path, Path] = {}
    for source in _expand_inputs(args.inputs, leave_out_outputs=args.output is None):
        unique.setdefault(source.resolve(), source)  # an input named twice is denoised once
    sources = list(unique.values())
    if not sources:
        raise LiteDenoiseError("no images found in the given inputs")
    output = Path(args.output) if args.output else None
    single = len(sources) == 1
    destinations = _planned_outputs(sources, output, single)
    if output is not None and not (single and output.suffix):
        if output.exists() and not output.is_dir():
            raise LiteDenoiseError(f"-o {output} exists and is not a folder; several inputs need a folder, one input a file name with a suffix")
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LiteDenoiseError(f"cannot create output folder {output}: {error.strerror}") from None
    if args.device == "cuda" and not torch.cuda.is_available():
        raise LiteDenoiseError("--device cuda asked for, but PyTorch sees no CUDA device")
    precision = args.precision or "fp32"
    file_given = runtime_for_file(weights) is not None
    exported_at_tile = runtime not in TORCH_RUNTIMES and not exports_any_size(runtime, precision)
    on_device = runtime in TORCH_RUNTIMES and not file_given  # PyTorch weights go onto --device; the rest load_backend reads
    backend = load_backend(
        runtime,
        load_model(weights).to(args.device) if on_device else weights,
        precision=precision,
        tile_size=(args.tile, args.tile) if args.tile and (exported_at_tile or file_given) else None,
        threads=args.threads,
        data=Path(args.data) if args.data else None,
    )

    failures = 0
    for source in tqdm(sources, desc="denoise", unit="image", disable=single or not sys.stderr.isatty()):
        destination = destinations[source]
        try:
            if destination.resolve() == source.resolve():
                raise LiteDenoiseError(f"{destination} is the input itself; choose another output")
            check_writable(destination, overwrite=args.overwrite)  # before the work, not after it
            loaded = read_image(source, max_pixels=args.max_pixels, min_side=args.min_side)
            # a big photo takes minutes on a CPU: show its tiles going by, where a person watches
            with tqdm(desc=source.name, unit="tile", leave=False, disable=not sys.stderr.isatty()) as tiles:
                result = denoise(
                    loaded.pixels, backend, tile=args.tile, memory_budget_mb=args.memory_mb, strength=args.strength, progress=partial(_advance, tiles)
                )
            write_image(destination, result, like=loaded, overwrite=args.overwrite, jpeg_quality=args.quality)
            tqdm.write(f"{source} -> {destination}", file=sys.stderr)
        except LiteDenoiseError as error:
            failures += 1
            tqdm.write(f"error: {error}", file=sys.stderr)
    if failures:
        print(f"{failures} of {len(sources)} images failed", file=sys.stderr)
    return 1 if failures else 0


def train_command(args: argparse.Namespace) -> int:
    from litedenoise.data.paired import data_root
    from litedenoise.train.config import load_recipe
    from litedenoise.train.loop import train

    overrides = [f"model={args.model}", *args.overrides]
    if args.teacher:
        overrides.append(f"teacher_weights={args.teacher}")
    if args.init:
        overrides.append(f"init_weights={args.init}")
    if args.resume:
        run_dir = Path(args.resume)
        if args.recipe or args.run_dir:
            raise LiteDenoiseError(f"--resume continues {run_dir} with its own recipe and folder: leave out --recipe and --run-dir")
        if not run_dir.is_dir():
            raise LiteDenoiseError(f"--resume {run_dir}: no such run folder")
        recipe = run_dir / "config.yaml"
        saved_model = load_recipe(recipe).model
        if saved_model != args.model:
            raise LiteDenoiseError(f"{run_dir} is a {saved_model} run: resume it with litedenoise train {saved_model} --resume {run_dir}")
        config = load_recipe(recipe, overrides)
    else:
        if args.run_dir is None:
            raise LiteDenoiseError("give --run-dir DIR for a new run (or --resume DIR)")
        run_dir = Path(args.run_dir)
        config = load_recipe(args.recipe, overrides, section=args.model)
    if config.model != args.model:
        raise LiteDenoiseError(f"model={config.model} contradicts litedenoise train {args.model}: use litedenoise train {config.model}")
    best = train(config, run_dir, data_root(args.data), resume=bool(args.resume))
    print(f"best weights: {best}")
    return 0


def demo_command(args: argparse.Namespace) -> int:
    import os

    from litedenoise.data.paired import DATA_ENV_VAR, data_root, holds_polyu
    from litedenoise.demo import run_demo
    from litedenoise.weights import load_model

    folder = args.data or os.environ.get(DATA_ENV_VAR)
    if folder and not holds_polyu(folder):
        named = "--data" if args.data else f"${DATA_ENV_VAR}"
        raise LiteDenoiseError(f"{named} {folder} holds no PolyU pairs (polyu/split.json): name the shared data folder, or unset it to skip the PolyU case")
    _reuse_freed_memory_for("torch")  # the demo runs fp32 PyTorch
    model = load_model(args.weights or "student")
    print(f"model: {args.weights or 'shipped student'} ({model.metadata.get('architecture')}, {model.metadata.get('params')} parameters)")
    run_demo(model, args.output, data_root(folder) if folder else None)
    return 0


def _evaluation(args: argparse.Namespace, on_image=None):
    """The test set and the scores ``eval`` and ``report`` share: (EvalSet, {method name: MethodScores})."""
    from tqdm import tqdm

    from litedenoise.evaluate import build_methods, load_pairs, load_synthetic, score_methods
    from litedenoise.weights import SHIPPED_WEIGHTS

    if args.noise and args.split:
        raise LiteDenoiseError("--noise makes a synthetic set from a folder of clean images; it does not combine with --split")
    if args.precision != "fp32" and args.runtime not in ("onnx", "tflite"):
        raise LiteDenoiseError(f"--precision {args.precision} is for --runtime onnx or tflite")
    _reuse_freed_memory_for(args.runtime)
    _warn_if_bf16_is_emulated(args.runtime)
    chosen = bool(args.model or args.baseline)
    models = args.model or ([] if chosen else ["student"])
    baselines = args.baseline or ([] if chosen else ["identity"])
    for source in models:  # a mistyped path is reported before the data is read, not after
        if source not in SHIPPED_WEIGHTS and not Path(source).is_file():
            raise LiteDenoiseError(f"--model {source}: no such file, and not a shipped name ({', '.join(SHIPPED_WEIGHTS)})")
    found = load_synthetic(args.data_dir, args.noise, seed=args.seed) if args.noise else load_pairs(args.data_dir, split=args.split)
    for line in found.skipped:
        print(f"skipped {line}", file=sys.stderr)
    if found.skipped:
        total = len(found.images) + len(found.skipped)
        print(f"skipped {len(found.skipped)} of {total} inputs; evaluating the other {len(found.images)}", file=sys.stderr)
    methods = build_methods(
        models,
        baselines,
        runtime=args.runtime,
        precision=args.precision,
        export_size=args.export_size,
        tta=args.tta,
        threads=args.threads,
        data=Path(args.calibration_data) if args.calibration_data else None,
        memory_budget_mb=args.memory_mb,
        noise="synthetic" if args.noise else "real",  # the baselines' multipliers: tuned for each kind
    )
    with tqdm(total=len(found.images) * len(methods), desc="eval", unit="run", disable=not sys.stderr.isatty()) as bar:

        def progress(line: str) -> None:
            bar.update()
            if not sys.stderr.isatty():
                print(line, file=sys.stderr, flush=True)

        scores = score_methods(methods, found.images, on_image=on_image, progress=progress)
    return found, scores


def eval_command(args: argparse.Namespace) -> int:
    import json

    from litedenoise.evaluate import METRIC_CONVENTION
    from litedenoise.metrics import PSNR_CAP

    if args.csv and Path(args.csv).exists() and not args.overwrite:  # before the evaluation, not after it
        raise LiteDenoiseError(f"{args.csv} already exists; use --overwrite to replace it")
    if args.csv and not Path(args.csv).parent.is_dir():
        raise LiteDenoiseError(f"cannot write {args.csv}: folder {Path(args.csv).parent} does not exist")
    found, scores = _evaluation(args)
    if args.csv:
        _write_per_image_csv(Path(args.csv), scores, overwrite=args.overwrite)
    if args.json:
        print(json.dumps({name: record.summary() for name, record in scores.items()}))
        return 0
    print(f"{len(found.images)} images: {found.description}")
    print(METRIC_CONVENTION)
    names = list(scores)
    width = max(len(name) for name in names)
    image_width = max(len(image.name) for image in found.images)
    print("\nper image, PSNR dB / SSIM:")
    print(f"{'image':<{image_width}}  " + "  ".join(f"{name:>{max(len(name), 15)}}" for name in names))
    for index, image in enumerate(found.images):
        cells = [f"{_psnr_text(scores[n].psnr[index])} / {scores[n].ssim[index]:.4f}" for n in names]
        print(f"{image.name:<{image_width}}  " + "  ".join(f"{cell:>{max(len(n), 15)}}" for cell, n in zip(cells, names)))
    print("\nsummary:")
    print(f"{'method':<{width}}  {'PSNR dB':>8}  {'SSIM':>6}  {'s/Mpix':>8}  n")
    for name, record in scores.items():
        summary = record.summary()
        print(f"{name:<{width}}  {summary['psnr']:8.2f}  {summary['ssim']:6.4f}  {summary['sec_per_mpix']:8.2f}  {summary['n']}")
    for name, record in scores.items():
        if record.capped:
            print(f"note: {name}: {record.capped} of {len(record.psnr)} images are identical to the reference; their PSNR is capped at {PSNR_CAP:g} dB")
    return 0


def report_command(args: argparse.Namespace) -> int:
    import os
    import platform

    from litedenoise.bench import machine_info
    from litedenoise.report import ComparisonCrops, check_report_folder, write_report

    output = Path(args.output)
    check_report_folder(output, args.overwrite)  # before the evaluation, not after it
    crops = ComparisonCrops(keep=args.crops)
    found, scores = _evaluation(args, on_image=crops if args.crops else None)
    provenance = {
        "command": "litedenoise " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("litedenoise") else "litedenoise report",
        "machine": f"{machine_info()['cpu']}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}",
    }
    title = args.title or f"Evaluation: {found.description}"
    page = write_report(output, found, scores, crops.crops, title=title, provenance=provenance, overwrite=args.overwrite)
    print(f"wrote {page} and {output / 'report.md'}")
    return 0


def _psnr_text(value: float) -> str:
    from litedenoise.metrics import PSNR_CAP

    return f"{value:.2f}" + ("(cap)" if value >= PSNR_CAP else "")


def _write_per_image_csv(path: Path, scores: dict, overwrite: bool) -> None:
    import csv
    import io

    from litedenoise.imageio import atomic_write_bytes
    from litedenoise.metrics import PSNR_CAP

    buffer = io.StringIO()
    rows = csv.writer(buffer)
    rows.writerow(["method", "image", "psnr", "ssim", "seconds", "psnr_capped"])
    for method, record in scores.items():
        for name, psnr, ssim, seconds in zip(record.images, record.psnr, record.ssim, record.seconds, strict=True):
            rows.writerow([method, name, f"{psnr:.4f}", f"{ssim:.5f}", f"{seconds:.3f}", int(psnr >= PSNR_CAP)])
    atomic_write_bytes(path, buffer.getvalue().encode(), overwrite=overwrite)


def plot_command(args: argparse.Namespace) -> int:
    from litedenoise.train.plot import plot_run

    output = plot_run(args.run_dir, args.output, overwrite=args.overwrite)
    print(f"curves: {output}")
    return 0


def parse_size(text: str) -> tuple[int, int]:
    """``"1088x1920"`` -> (1088, 1920): height first, as in the NCHW/NHWC shapes."""
    height, _, width = text.lower().partition("x")
    if not (height.isdigit() and width.isdigit()):
        raise argparse.ArgumentTypeError(f"size must be HEIGHTxWIDTH, e.g. 1088x1920, not {text!r}")
    return int(height), int(width)


def positive_number(text: str) -> float:
    """A finite number above zero, e.g. a memory budget in MB."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text!r}")
    return value


def positive_integer(text: str) -> int:
    """A whole number above zero, e.g. a tile side or a pixel limit."""
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, not {text!r}")
    return int(text)


def unit_fraction(text: str) -> float:
    """A number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, not {text!r}")
    return value


def jpeg_quality(text: str) -> int:
    """A JPEG quality, 1 to 100."""
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 100, not {text!r}")
    return int(text)


def file_argument(text: str) -> str:
    """A path that is not empty (an empty --weights used to mean the shipped student, silently)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a file, not an empty string")
    return text


def count(text: str) -> int:
    """A whole number of zero or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, not {text!r}")
    return int(text)


def _checked_model(weights: str, architecture: str):
    """The network in ``weights`` (a file or a shipped name), refused unless it is ``architecture``."""
    from litedenoise.models import LiteDenoiseNet, TeacherNet
    from litedenoise.weights import load_model

    model = load_model(weights)
    expected = {"student": LiteDenoiseNet, "teacher": TeacherNet}[architecture]
    if not isinstance(model, expected):
        raise LiteDenoiseError(f"{weights} holds a {type(model).__name__}, not a {expected.__name__} ({architecture}); pass the matching model")
    return model


def export_command(args: argparse.Namespace) -> int:
    from litedenoise.export.convert import export_model
    from litedenoise.export.file_audit import audit_file
    from litedenoise.infer import smallest_tile

    model = _checked_model(args.weights or args.model, args.model)
    path = export_model(
        model,
        args.output,
        format=args.format,
        precision=args.precision,
        size=args.size,
        layout=args.layout,
        overwrite=args.overwrite,
        calibration=args.calibration,
        calibration_size=args.calibration_size,
        calibration_images=args.calibration_images,
        data=args.data,
        any_size=args.any_size,
    )
    audit = audit_file(path)
    print(audit.render())
    print(f"wrote {path}")
    smallest = smallest_tile(model)
    if min(args.size) < smallest and not args.any_size:  # a file this small runs whole images of its size, but cannot tile larger ones
        height, width = args.size
        print(f"note: {path.name} denoises images of up to {height}x{width}; larger ones need a file of {smallest}x{smallest} or more", file=sys.stderr)
    if audit.ok or args.model == "teacher":  # the teacher is not meant for NPUs: its violations are for information
        return 0
    if args.any_size:  # asked for a PC file: the audit says why it is not an NPU one
        print(f"note: {path.name} is for ONNX Runtime on a PC; for an NPU export at a fixed --size", file=sys.stderr)
        return 0
    print("litedenoise: error: the exported student uses operations outside the NPU allowlist (see above)", file=sys.stderr)
    return 1


def audit_command(args: argparse.Namespace) -> int:
    from litedenoise.export.file_audit import audit_file

    audit = audit_file(args.file)
    print(audit.render())
    return 0 if audit.ok else 1


def bench_command(args: argparse.Namespace) -> int:
    import json

    from litedenoise.bench import render_markdown, run_benchmark
    from litedenoise.imageio import atomic_write_bytes
    from litedenoise.weights import build_model

    outputs = [Path(path) for path in (args.json, args.markdown) if path]
    for path in outputs:  # before the benchmark, not after an hour of it
        if path.exists() and not args.overwrite:
            raise LiteDenoiseError(f"{path} already exists; use --overwrite to replace it")
        if not path.parent.is_dir():
            raise LiteDenoiseError(f"cannot write {path}: folder {path.parent} does not exist")
    if args.weights:
        model, weights = _checked_model(args.weights, args.model), str(args.weights)
    elif args.model == "student":
        model, weights = _checked_model("student", "student"), "shipped student"
    else:  # no shipped teacher, and latency does not depend on the weights
        model, weights = build_model("teacher"), "random initialisation"
    # with a torch fp32 row (every protocol has one), as denoise runs it; then for every row
    allocator_set = (args.runtimes is None or "torch" in args.runtimes) and _reuse_freed_memory_for("torch")
    report = run_benchmark(
        model.eval(),
        runtimes=args.runtimes,
        sizes=args.sizes,
        runs=args.runs,
        warmup=args.warmup,
        threads=args.threads,
        data=args.data,
        weights=weights,
        matmul_size=args.matmul_size,
        memory_budget_mb=args.memory_mb,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    report["reuse_freed_memory"] = allocator_set
    markdown = render_markdown(report)
    print(markdown, end="")
    if args.json:
        atomic_write_bytes(Path(args.json), (json.dumps(report, indent=1) + "\n").encode(), overwrite=args.overwrite)
    if args.markdown:
        atomic_write_bytes(Path(args.markdown), markdown.encode(), overwrite=args.overwrite)
    return 0


def _add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    from litedenoise.baselines import BASELINES
    from litedenoise.data.camera_noise import EVALUATION_NOISE_LEVELS
    from litedenoise.export.convert import PRECISIONS
    from litedenoise.infer import DEFAULT_MEMORY_BUDGET_MB
    from litedenoise.runtimes import RUNTIMES

    parser.add_argument(
        "data_dir",
        help="a paired folder (noisy/+clean/, original/+denoised/ or SIDD scenes); the data folder holding polyu/ with --split; "
        "a folder of clean images with --noise",
    )
    parser.add_argument("--split", help="PolyU GROUP:KIND, e.g. val:crops, val:full, unseen_camera:crops")
    parser.add_argument("--noise", choices=list(EVALUATION_NOISE_LEVELS), help="add synthetic camera noise at this level to the clean images in data_dir")
    parser.add_argument("--seed", type=count, default=0, help="--noise: the seed of the synthetic noise (default 0)")
    parser.add_argument(
        "--model",
        action="append",
        metavar="student|teacher|PATH",
        help="a network to evaluate (repeatable): shipped name, .safetensors, .onnx or .tflite "
        "(default: student, when neither --model nor --baseline is given)",
    )
    parser.add_argument("--weights", action="append", dest="model", help=argparse.SUPPRESS)  # the name eval took before --model did
    parser.add_argument(
        "--baseline",
        action="append",
        choices=list(BASELINES),
        help="a classical method (repeatable): identity (the noisy input), bm3d, nlm (OpenCV non-local means), each with its noise level "
        "tuned on PolyU train (with --noise: on CBSD432 with that noise); outputs cached (default: identity, when neither --model nor --baseline is given)",
    )
    parser.add_argument("--runtime", choices=list(RUNTIMES), default="torch", help="runtime for the networks (default: torch, fp32)")
    parser.add_argument("--precision", choices=list(PRECISIONS), default="fp32", help="onnx / tflite runtimes: export precision")
    parser.add_argument(
        "--export-size",
        type=parse_size,
        metavar="HxW",
        help="onnx / tflite runtimes: the size the network is exported at, i.e. the tile (default: any size for onnx fp32/fp16, else 1024x1024)",
    )
    parser.add_argument("--calibration-data", metavar="DIR", help="int8 exports: data folder whose PolyU crops calibrate them (default: $LITEDENOISE_DATA)")
    parser.add_argument("--tta", action="store_true", help="also score each network's x8 flip/rotate self-ensemble")
    parser.add_argument("--threads", type=int, metavar="N", help="intra-op threads for the networks")
    parser.add_argument("--memory-mb", type=positive_number, default=DEFAULT_MEMORY_BUDGET_MB, help="working-memory budget that sizes the PyTorch tiles")


def build_parser() -> argparse.ArgumentParser:
    from litedenoise.bench import BENCH_RUNTIMES, DEFAULT_MATMUL_SIZE, PROTOCOLS
    from litedenoise.export.convert import DEFAULT_SIZE, FORMATS, LAYOUTS, PRECISIONS
    from litedenoise.export.quantize import DEFAULT_CALIBRATION_IMAGES, DEFAULT_CALIBRATION_SIZE
    from litedenoise.imageio import DEFAULT_MAX_PIXELS
    from litedenoise.infer import DEFAULT_MEMORY_BUDGET_MB
    from litedenoise.runtimes import CACHE_ENV_VAR, DEFAULT_TILE_SIZE, RUNTIMES

    parser = argparse.ArgumentParser(prog="litedenoise", description="Real-image denoising for mobile NPUs.")
    commands = parser.add_subparsers(dest="command", required=True)

    denoise = commands.add_parser("denoise", help="denoise image files")
    denoise.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    denoise.add_argument("-o", "--output", help="output file (one input) or folder; default: beside each input as NAME_denoised.EXT")
    denoise.add_argument("--model", choices=["student", "teacher"], default="student", help="shipped weights to use")
    denoise.add_argument("--weights", type=file_argument, help="a .safetensors weights file (overrides --model), or an exported .onnx / .tflite file")
    denoise.add_argument(
        "--runtime",
        metavar="RUNTIME",
        help=f"{' | '.join(RUNTIMES)} (default: the --weights file's format, else torch-bf16 on CPUs with native bfloat16, else torch); onnx and tflite export "
        f"the weights once (onnx fp32/fp16: for any size; the rest at the tile size) and cache the file in ${CACHE_ENV_VAR} (default ~/.cache/litedenoise); "
        "onnx is the faster fp32 runtime on CPUs without native bfloat16 after that export",
    )
    denoise.add_argument("--precision", metavar="PRECISION", help=f"onnx / tflite exports: {' | '.join(PRECISIONS)} (default fp32)")
    denoise.add_argument("--threads", type=int, metavar="N", help="intra-op threads (default: torch.get_num_threads())")
    denoise.add_argument("--data", metavar="DIR", help="int8 / a16w8 exports: data folder whose PolyU crops calibrate them (default: $LITEDENOISE_DATA)")
    default_tile = "x".join(map(str, DEFAULT_TILE_SIZE))
    denoise.add_argument(
        "--tile", type=positive_integer, help=f"tile side in pixels (default: from --memory-mb; tflite and onnx int8: the export size, default {default_tile})"
    )
    denoise.add_argument("--memory-mb", type=positive_number, default=DEFAULT_MEMORY_BUDGET_MB, help="working-memory budget that sizes the tiles")
    denoise.add_argument(
        "--strength", type=unit_fraction, default=1.0, help="0-1: how much of the network's change to keep (default 1; lower keeps some grain and texture)"
    )
    denoise.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="cuda: the PyTorch runtimes only")
    denoise.add_argument("--overwrite", action="store_true", help="replace existing output files")
    denoise.add_argument(
        "--quality", type=jpeg_quality, default=95, help="JPEG, HEIF and AVIF outputs: quality 1-100 (default 95); a JPEG keeps its input's chroma subsampling"
    )
    denoise.add_argument("--max-pixels", type=positive_integer, default=DEFAULT_MAX_PIXELS, help="refuse larger images (decompression-bomb guard)")
    denoise.add_argument("--min-side", type=positive_integer, default=DEFAULT_MIN_SIDE, help="refuse images with a shorter side")
    denoise.set_defaults(handler=denoise_command)

    demo = commands.add_parser("demo", help="denoise a sample photo (and a real PolyU pair) and report PSNR")
    demo.add_argument("-o", "--output", default="out/demo", help="folder for the demo's images (rewritten each run)")
    demo.add_argument("--data", help="data folder with polyu/ (default: $LITEDENOISE_DATA; skipped if unset)")
    demo.add_argument("--weights", type=file_argument, help="a .safetensors weights file instead of the shipped student")
    demo.set_defaults(handler=demo_command)

    evaluate = commands.add_parser("eval", help="PSNR/SSIM of networks and classical baselines on noisy/clean pairs, whole images")
    _add_evaluation_arguments(evaluate)
    evaluate.add_argument("--json", action="store_true", help='print one JSON object keyed by method: {"psnr", "ssim", "n", "sec_per_mpix"}')
    evaluate.add_argument("--csv", metavar="FILE", help="write per-image rows (method, image, psnr, ssim, seconds, psnr_capped) here")
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing --csv file")
    evaluate.set_defaults(handler=eval_command)

    report = commands.add_parser("report", help="evaluate as eval does, then write an HTML page and a markdown summary with figures")
    _add_evaluation_arguments(report)
    report.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for report.html, report.md, results.json and the PNG figures")
    report.add_argument("--title", help="the report's heading")
    report.add_argument("--crops", type=count, default=4, metavar="N", help="zoomed comparison crops: the N images where the methods differ most (0: none)")
    report.add_argument("--overwrite", action="store_true", help="replace a report already in DIR")
    report.set_defaults(handler=report_command)

    train = commands.add_parser("train", help="train a student or teacher")
    train.add_argument("model", choices=["student", "teacher"])
    train.add_argument("--recipe", help="YAML recipe (e.g. recipes/foundation-cpu.yaml)")
    train.add_argument("--run-dir", help="folder for checkpoints and logs (keep it outside the repository)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    train.add_argument("--data", help="data folder (default: $LITEDENOISE_DATA)")
    train.add_argument(
        "--teacher",
        metavar="SOURCE",
        help="distil from this frozen teacher: .safetensors weights, an .onnx file, or a factory "
        "file.py:function / package.module:function returning an nn.Module (alpha_teacher=0.9 by default; "
        "the override teacher_tta=true distils from its x8 self-ensemble)",
    )
    train.add_argument("--init", metavar="WEIGHTS", help="start from these weights, e.g. fine-tune the shipped student")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides")
    train.set_defaults(handler=train_command)

    plot = commands.add_parser("plot", help="draw a training run's loss, learning rate and validation PSNR")
    plot.add_argument("run_dir", metavar="RUN_DIR", help="a training run folder holding log.csv")
    plot.add_argument("-o", "--output", help="image file to write (default: RUN_DIR/curves.png, redrawn each time)")
    plot.add_argument("--overwrite", action="store_true", help="replace an existing -o file")
    plot.set_defaults(handler=plot_command)

    export = commands.add_parser("export", help="export a network to TFLite or ONNX for a fixed input size (ONNX: or any size), then audit the file")
    export.add_argument("model", choices=["student", "teacher"], help="the architecture (student: shipped weights unless --weights)")
    export.add_argument("-o", "--output", required=True, help="file to write: NAME.tflite or NAME.onnx")
    export.add_argument("--format", choices=list(FORMATS), help="default: from the -o suffix")
    export.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default="fp32",
        help="fp16: fp16 weights (TFLite), fp16 graph with fp32 I/O (ONNX); int8 (TFLite, or ONNX in QDQ form) / a16w8 "
        "(TFLite only): int8 weights, int8 / int16 activations, float32 I/O, calibrated on images (a16w8 is for NPUs: very "
        "slow on PC CPUs)",
    )
    default_size = "x".join(map(str, DEFAULT_SIZE))
    export.add_argument("--size", type=parse_size, default=DEFAULT_SIZE, metavar="HxW", help=f"input height x width (default: {default_size})")
    export.add_argument(
        "--any-size",
        action="store_true",
        help="ONNX fp32/fp16: leave height and width free (any multiple of 16 for the student) for ONNX Runtime on a PC; "
        "--size is then only the example traced. NPUs and int8 files need a fixed size",
    )
    export.add_argument("--layout", choices=list(LAYOUTS), help="input/output layout (default: nhwc for TFLite; ONNX is nchw only)")
    export.add_argument("--weights", type=file_argument, help="a .safetensors weights file (overrides the shipped student)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    export.add_argument("--calibration", metavar="DIR", help="int8/a16w8: folder of images to calibrate on (default: the PolyU train crops in the data folder)")
    export.add_argument("--data", metavar="DIR", help="int8/a16w8: data folder holding polyu/ (default: $LITEDENOISE_DATA)")
    default_crop = "x".join(map(str, DEFAULT_CALIBRATION_SIZE))
    export.add_argument(
        "--calibration-size",
        type=parse_size,
        default=DEFAULT_CALIBRATION_SIZE,
        metavar="HxW",
        help=f"int8/a16w8: centre crop calibrated on (default: {default_crop})",
    )
    export.add_argument(
        "--calibration-images",
        type=int,
        default=DEFAULT_CALIBRATION_IMAGES,
        metavar="N",
        help=f"int8/a16w8: at most N images, evenly spaced by name (default: {DEFAULT_CALIBRATION_IMAGES})",
    )
    export.set_defaults(handler=export_command)

    audit = commands.add_parser("audit", help="list a .tflite or .onnx file's operators and check them against the NPU allowlist")
    audit.add_argument("file", help="a .tflite or .onnx file")
    audit.set_defaults(handler=audit_command)

    defaults = "; ".join(
        f"{name}: {' '.join(p.runtimes)} at {' '.join('x'.join(map(str, size)) for size in p.sizes)}, {p.warmup} warm-up + {p.runs} runs"
        for name, p in PROTOCOLS.items()
    )
    bench = commands.add_parser(
        "bench", help="latency of the full inference path per runtime and image size, with a roofline", description=f"Defaults: {defaults}."
    )
    bench.add_argument("--model", choices=["student", "teacher"], default="student", help="shipped student, or a randomly initialised teacher")
    bench.add_argument("--weights", type=file_argument, help="a .safetensors weights file of that architecture")
    bench.add_argument(
        "--runtimes",
        nargs="+",
        metavar="RUNTIME",
        help=f"any of {' '.join(BENCH_RUNTIMES)} (default: all; torch-bf16 only where the CPU computes bfloat16 natively)",
    )
    bench.add_argument("--sizes", nargs="+", type=parse_size, metavar="HxW", help="image sizes; ONNX/TFLite are exported at the first and tile the others")
    bench.add_argument("--runs", type=int, help="timed runs per row")
    bench.add_argument("--warmup", type=int, help="untimed runs before them (the first is reported as the first call)")
    bench.add_argument("--threads", type=int, help="threads for every runtime (default: torch.get_num_threads())")
    bench.add_argument("--data", metavar="DIR", help="int8 rows: data folder whose PolyU crops calibrate the export (default: $LITEDENOISE_DATA)")
    bench.add_argument(
        "--memory-mb", type=positive_number, default=DEFAULT_MEMORY_BUDGET_MB, help="working-memory budget that sizes the PyTorch rows' tiles, as in denoise"
    )
    bench.add_argument("--matmul-size", type=int, default=DEFAULT_MATMUL_SIZE, metavar="N", help="N x N x N matrix multiplies measure the peaks")
    bench.add_argument("--json", metavar="FILE", help="write the report, every raw time included, here")
    bench.add_argument("--markdown", metavar="FILE", help="write the table printed to stdout here")
    bench.add_argument("--overwrite", action="store_true", help="replace existing --json / --markdown files")
    bench.set_defaults(handler=bench_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may follow options (argparse binds an optional positional list early)
    if args.command == "train" and all("=" in item and not item.startswith("-") for item in extra):
        args.overrides += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.handler(args)
    except LiteDenoiseError as error:
        print(f"litedenoise: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("litedenoise: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
