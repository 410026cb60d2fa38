"""Backends that run the network on one tile: PyTorch (fp32, bf16), ONNX Runtime and LiteRT.

A backend takes a 1x3xHxW float32 NCHW tile in [0, 1] and gives the denoised tile of the same
shape; ``infer.denoise_tensor`` does the padding, tiling and stitching around it. The PyTorch
backends take any size. ONNX and TFLite files have one static input shape (``fixed_size``), so
every tile sent to them is exactly that size.

``load_backend`` builds one from an ``nn.Module``, a weights name or file, or an exported
``.onnx`` / ``.tflite`` file. A network given for ONNX or TFLite is exported with
``export.convert.export_model`` once and cached under ``$LITEDENOISE_CACHE`` (default
``~/.cache/litedenoise``), keyed by its weights, precision, size, format and layout. A cached
file that no longer loads (damaged since) is exported again, once.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from litedenoise.errors import LiteDenoiseError
from litedenoise.models import LiteDenoiseNet

RUNTIMES = ("torch", "torch-bf16", "onnx", "tflite")
TORCH_RUNTIMES = ("torch", "torch-bf16")
FILE_SUFFIXES = {".onnx": "onnx", ".tflite": "tflite"}
FILE_LAYOUTS = {"onnx": "nchw", "tflite": "nhwc"}  # what load_backend exports: each format's default
DEFAULT_TILE_SIZE = (1024, 1024)  # (height, width) of an export made for tflite, or for onnx in int8
ANY_SIZE_PRECISIONS = ("fp32", "fp16")  # onnx exports in these take any size unless a tile size is given
CACHE_ENV_VAR = "LITEDENOISE_CACHE"


class Backend:
    """Runs a network on one tile: 1x3xHxW float32 NCHW in [0, 1] -> the same shape. The tile
    may be a view of the caller's image, so it is read, never written.

    ``fixed_size`` is the (height, width) every tile must have (a static-shape file), or None
    for any size that is a multiple of ``size_multiple``. ``receptive_field_radius`` is the
    context in pixels each output pixel depends on, which sets the tiles' overlap.
    """

    name: str
    size_multiple: int
    receptive_field_radius: int
    fixed_size: tuple[int, int] | None = None

    def __call__(self, tile: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class TorchBackend(Backend):
    """An ``nn.Module`` in eager PyTorch, fp32 or under bfloat16 autocast, on the module's device.

    Each tile goes in channels-last (NHWC) memory order, and the convolutions follow the input's
    order: on the CPU that took a third less time and less memory than NCHW, with or without
    converting the weights too (docs/foundation.md), so the module is used as it is.
    ``threads`` sets PyTorch's intra-op threads during each call.
    """

    def __init__(self, model: nn.Module, *, bf16: bool = False, threads: int | None = None):
        self.model = model
        self.bf16, self.threads = bf16, threads
        self.name = "torch-bf16" if bf16 else "torch fp32"
        self.size_multiple = model.size_multiple
        self.receptive_field_radius = model.receptive_field_radius
        self.device = next(model.parameters()).device

    @torch.no_grad()
    def __call__(self, tile: torch.Tensor) -> torch.Tensor:
        device = tile.device  # the result goes back where the tile came from
        tile = tile.to(self.device)
        _, channels, height, width = tile.shape
        if tile.stride() != (channels * height * width, 1, width * channels, channels):
            # not .contiguous(): with a batch of one it keeps whatever stride the batch axis has,
            # and the student ran 1.5x slower on such a tile (docs/foundation.md)
            tile = torch.empty_like(tile, memory_format=torch.channels_last).copy_(tile)
        previous_threads = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                return self.model(tile).float().to(device)
        finally:
            if self.threads:
                torch.set_num_threads(previous_threads)


class _FileBackend(Backend):
    """An exported file: tiles go in one at a time, in the file's layout (NHWC or NCHW), each of
    the file's fixed size or, for an any-size ONNX file, any multiple of the size multiple.

    ``source`` is the network the file was exported from, or its class: a file on its own is
    taken to be the student (of its default width) unless it says otherwise, as our ONNX files do.
    """

    def __init__(self, runtime: str, path: Path, label: str, shape: tuple[int | None, ...], source: nn.Module | type = LiteDenoiseNet):
        self.path = path
        self.nhwc = _is_nhwc(path, shape)
        sides = (shape[1], shape[2]) if self.nhwc else (shape[2], shape[3])
        self.fixed_size = None if None in sides else sides  # None: an any-size ONNX file
        self.size_multiple = source.size_multiple
        self.receptive_field_radius = source.receptive_field_radius
        self.name = f"{runtime} {label} " + (f"{sides[0]}x{sides[1]}" if self.fixed_size else "any size")
        if self.fixed_size and any(side % self.size_multiple for side in self.fixed_size):
            raise LiteDenoiseError(f"{path}: input {sides[0]}x{sides[1]} is not a multiple of {self.size_multiple}")
        if not isinstance(source, nn.Module):
            with torch.device("meta"):  # a file alone: its figures, not its weights
                source = source()
        measured = getattr(source, "working_bytes_per_pixel", None)
        if self.fixed_size is None and measured is not None:
            # run_tiles sizes an any-size file's tiles by this (unknown networks get the fallback):
            # the network's fp32 figure, since ONNX Runtime's peak per tile pixel stayed below it
            # (the student: 569-660 bytes at sides 1024-2048 against 800; benchmarks/forward_memory.py)
            self.working_bytes_per_pixel = lambda bf16=False, im2col=False: measured(False)

    def __call__(self, tile: torch.Tensor) -> torch.Tensor:
        if self.fixed_size is not None and tuple(tile.shape[-2:]) != self.fixed_size:
            raise ValueError(f"{self.name} takes {self.fixed_size[0]}x{self.fixed_size[1]} tiles, got {tuple(tile.shape)}")
        if self.fixed_size is None and any(side % self.size_multiple for side in tile.shape[-2:]):
            raise ValueError(f"{self.name} takes tiles whose sides are multiples of {self.size_multiple}, got {tuple(tile.shape)}")
        outputs = []
        for image in tile.detach().cpu().float():
            array = image.permute(1, 2, 0) if self.nhwc else image
            result = torch.from_numpy(self._run(np.ascontiguousarray(array.numpy()[None])))[0]
            outputs.append(result.permute(2, 0, 1) if self.nhwc else result)
        return torch.stack(outputs)

    def _run(self, array: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class OnnxBackend(_FileBackend):
    """An ``.onnx`` file in ONNX Runtime on the CPU execution provider."""

    def __init__(self, path: Path, label: str, threads: int | None = None, source: nn.Module | type = LiteDenoiseNet):
        import onnxruntime

        from litedenoise.export.convert import ONNX_ARCHITECTURE_KEY, ONNX_WIDTH_KEY

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime's own exception types; the message is the useful part
            raise LiteDenoiseError(f"{path}: not a readable ONNX model ({_first_line(error)})") from None
        (image,) = self.session.get_inputs()
        if image.type != "tensor(float)":
            raise LiteDenoiseError(f"{path}: input {image.name} is {image.type}, expected float32 (tensor(float))")
        self.input_name = image.name
        described = self.session.get_modelmeta().custom_metadata_map
        if not isinstance(source, nn.Module) and ONNX_ARCHITECTURE_KEY in described:
            from litedenoise.weights import build_model

            with torch.device("meta"):
                source = build_model(described[ONNX_ARCHITECTURE_KEY], int(described.get(ONNX_WIDTH_KEY, 0)) or None)
        super().__init__("onnx", path, label, _onnx_shape(path, image.shape), source)

    def _run(self, array: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: array})[0]


class TfliteBackend(_FileBackend):
    """A ``.tflite`` file in the LiteRT interpreter (XNNPACK on the CPU)."""

    def __init__(self, path: Path, label: str, threads: int | None = None, source: nn.Module | type = LiteDenoiseNet):
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads or torch.get_num_threads())
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise LiteDenoiseError(f"{path}: not a readable TFLite model ({_first_line(error)})") from None
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise LiteDenoiseError(f"{path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
        if inputs[0]["dtype"] != np.float32 or outputs[0]["dtype"] != np.float32:
            raise LiteDenoiseError(f"{path}: input and output must be float32, not {inputs[0]['dtype'].__name__} / {outputs[0]['dtype'].__name__}")
        if (inputs[0]["shape_signature"] < 0).any():
            raise LiteDenoiseError(f"{path}: input has a dynamic shape {list(inputs[0]['shape_signature'])}; export it at a fixed size")
        self.input_index, self.output_index = inputs[0]["index"], outputs[0]["index"]
        super().__init__("tflite", path, label, tuple(int(side) for side in inputs[0]["shape"]), source)

    def _run(self, array: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input_index, array)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index)


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _onnx_shape(path: Path, shape: list) -> tuple[int | None, ...]:
    """The input shape with None for free height and width (an any-size file); the batch and
    colour axes must be fixed."""
    if len(shape) == 4:
        spatial = (1, 2) if shape[3] == 3 and shape[1] != 3 else (2, 3)
        fixed = [isinstance(side, int) and side > 0 for side in shape]
        if all(fixed):
            return tuple(shape)
        if not any(fixed[axis] for axis in spatial) and all(fixed[axis] for axis in range(4) if axis not in spatial):
            return tuple(None if axis in spatial else shape[axis] for axis in range(4))
    raise LiteDenoiseError(f"{path}: input shape {shape} is neither fixed nor free in height and width only; export it at a fixed size")


def _is_nhwc(path: Path, shape: tuple[int, ...]) -> bool:
    """NHWC if the last axis holds the 3 colours, NCHW if the second does."""
    if len(shape) != 4 or shape[0] != 1 or 3 not in (shape[1], shape[3]):
        raise LiteDenoiseError(f"{path}: input shape {list(shape)} is not one RGB image (1xHxWx3 or 1x3xHxW)")
    return shape[3] == 3 and shape[1] != 3


def cpu_flags() -> set[str]:
    """The instruction-set flags of this machine's CPU, from /proc/cpuinfo (empty where there is none)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return set()
    return next((set(value.split()) for key, _, value in (line.partition(":") for line in lines) if key.strip() == "flags"), set())


def cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX: without either, bfloat16 is emulated and 10-15x slower than fp32 (``docs/training.md``)."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def bf16_convolutions_use_im2col() -> bool:
    """Whether PyTorch runs bfloat16 convolutions on this CPU with its own im2col fallback
    instead of oneDNN, as it does without AVX-512 (the AVX2-only Zen 3 EPYC): its column buffer
    holds 9 bf16 values per input channel per pixel, so a tile needs about 3x the memory it needs
    in oneDNN (``docs/deployment.md``)."""
    try:
        return not torch.ops.mkldnn._is_mkldnn_bf16_supported()
    except (AttributeError, RuntimeError):  # a private query: without it, assume the larger need
        return not cpu_has_native_bf16()


def emulated_bf16_warning(runtime: str, device: str = "cpu") -> str | None:
    """Why torch-bf16 is a poor choice on this CPU (bfloat16 emulated), or None where it is not."""
    if runtime == "torch-bf16" and device == "cpu" and not cpu_has_native_bf16():
        return (
            "this CPU has no AVX-512 BF16 or AMX, so torch-bf16 runs emulated: "
            "about 6x slower than --runtime torch, with smaller tiles for the same --memory-mb (docs/deployment.md)"
        )
    return None


def default_runtime() -> str:
    """The runtime ``denoise`` takes unless told: torch-bf16 on CPUs that compute bfloat16
    natively (AVX-512 BF16 or AMX; 3.1x faster than fp32 at Full HD on Zen 4, -0.01 dB on PolyU
    val), torch elsewhere (without them bf16 is emulated: 6x slower in ``denoise`` on an AVX2-only
    Zen 3, 10-15x in training). ``docs/deployment.md``
    has the measurements.

    Not defaults: onnx, the same output to 1e-6, is no longer clearly faster than torch per run
    on an AVX2-only Zen 3 since the CLI reuses freed memory (``allocator.py``), and needs a
    one-time export of about 12 s; the int8 files quantise the input to 8 bits (a 16-bit photo
    would come back with 8-bit precision) and need calibration images to export.
    """
    return "torch-bf16" if cpu_has_native_bf16() else "torch"


def exports_any_size(runtime: str, precision: str) -> bool:
    """Whether ``load_backend`` exports for any size when no tile size is given (onnx in fp32 or
    fp16); the other exports are made at the tile size, which is then fixed."""
    return runtime == "onnx" and precision in ANY_SIZE_PRECISIONS


def runtime_for_file(path: str | Path) -> str | None:
    """The runtime of an exported file's name ("onnx", "tflite"); None for weights and names."""
    return FILE_SUFFIXES.get(Path(path).suffix.lower())


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "litedenoise")


def load_backend(
    runtime: str,
    model: nn.Module | str | Path,
    *,
    precision: str = "fp32",
    tile_size: tuple[int, int] | None = None,
    threads: int | None = None,
    cache_dir: Path | None = None,
    data: Path | None = None,
) -> Backend:
    """A backend of ``runtime`` (one of RUNTIMES) for ``model``.

    ``model`` is an ``nn.Module``, a weights name or ``.safetensors`` file (``load_model``), or,
    for "onnx" / "tflite", an exported file of that format: its static input shape and layout
    are read from it, its network (size multiple, receptive field, memory line) from the metadata
    our ONNX exports carry, else taken to be the shipped student. A network for "onnx" / "tflite" is exported at ``tile_size`` (height,
    width) in ``precision`` (fp32, fp16, or int8 / a16w8 calibrated on the data folder ``data``);
    without a ``tile_size``, onnx in fp32 or fp16 is exported for any size (tiles then follow the
    memory budget, as for PyTorch) and the rest at DEFAULT_TILE_SIZE. The file goes into ``cache_dir`` (default ``$LITEDENOISE_CACHE`` or
    ``~/.cache/litedenoise``), and a later call with the same weights and settings reuses the
    file. The PyTorch runtimes are fp32 ("torch") and bfloat16 autocast ("torch-bf16"), both
    channels-last (``TorchBackend``); they run a copy of a module in eval mode. ``threads`` is the number of
    intra-op threads (default: PyTorch's, one per physical core).
    """
    if runtime not in RUNTIMES:
        raise LiteDenoiseError(f"unknown runtime {runtime!r}: use {', '.join(RUNTIMES)}")
    if threads is not None and threads < 1:
        raise LiteDenoiseError(f"the number of threads must be at least 1, got {threads}")
    file_runtime = None if isinstance(model, nn.Module) else runtime_for_file(model)
    if file_runtime is not None and file_runtime != runtime:
        suffix = Path(model).suffix
        raise LiteDenoiseError(f"{model} is a {suffix} file, which runs on runtime {file_runtime} (--runtime {file_runtime}), not {runtime}")

    if runtime in TORCH_RUNTIMES:
        if precision != "fp32":
            raise LiteDenoiseError(
                f"runtime {runtime} does not run precision {precision!r}: torch is fp32 and torch-bf16 bfloat16; use onnx or tflite for fp16 and int8"
            )
        module = copy.deepcopy(model) if isinstance(model, nn.Module) else _load_module(model)
        return TorchBackend(module.eval(), bf16=runtime == "torch-bf16", threads=threads)

    backend_class = OnnxBackend if runtime == "onnx" else TfliteBackend
    if file_runtime is not None:
        path = Path(model)
        if not path.is_file():
            raise LiteDenoiseError(f"{path}: no such file")
        if precision != "fp32":
            raise LiteDenoiseError(f"{path} is already exported: its precision is fixed (precision {precision} is for exports from weights)")
        backend = backend_class(path, path.name, threads)
        if tile_size is not None and backend.fixed_size is not None and tuple(tile_size) != backend.fixed_size:
            size = backend.fixed_size
            raise LiteDenoiseError(f"{path} takes {size[0]}x{size[1]} tiles, not {tile_size[0]}x{tile_size[1]}; leave the tile size out")
        return backend

    from litedenoise.export.convert import PRECISIONS

    if precision not in PRECISIONS:
        raise LiteDenoiseError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
    module = model if isinstance(model, nn.Module) else _load_module(model)
    size = None if tile_size is None and exports_any_size(runtime, precision) else tuple(tile_size or DEFAULT_TILE_SIZE)
    cache_dir = cache_dir or default_cache_dir()
    path = cached_export(module, runtime, precision, size, cache_dir, data)
    try:
        return backend_class(path, precision, threads, source=module)
    except LiteDenoiseError as error:
        # the cache's own file, damaged since it was written (a full disk, a copied-in cache):
        # export it again rather than fail on every run until the user finds and deletes it
        print(f"{error}; exporting it again", file=sys.stderr)
        path.unlink(missing_ok=True)
        path = cached_export(module, runtime, precision, size, cache_dir, data)
        return backend_class(path, precision, threads, source=module)


def _load_module(name_or_path: str | Path) -> nn.Module:
    from litedenoise.weights import load_model

    return load_model(name_or_path)


def cached_export(model: nn.Module, format: str, precision: str, size: tuple[int, int] | None, cache_dir: Path, data: Path | None = None) -> Path:
    """The path of ``model`` exported as ``format`` in ``precision`` at ``size`` under ``cache_dir``
    (``size`` None: an any-size ONNX file).

    Exports only when no file for the same weights, settings and layout is there yet. The
    export goes to a temporary folder beside the cache entry and is renamed into place, so a
    failed or concurrent export never leaves a partial file.
    """
    from litedenoise.export.convert import INTEGER_PRECISIONS, export_model

    layout = FILE_LAYOUTS[format]
    integer = precision in INTEGER_PRECISIONS
    key = hashlib.sha256()
    size_text = "anysize" if size is None else f"{size[0]}x{size[1]}"
    key.update(f"{type(model).__name__} {format} {precision} {size_text} {layout}".encode())
    if integer:  # the calibration images are part of an integer file
        key.update(str(data).encode())
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        key.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        key.update((tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy().tobytes())
    name = f"{type(model).__name__}-{precision}-{size_text}-{layout}-{key.hexdigest()[:16]}.{format}"
    path = Path(cache_dir) / name
    if path.is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LiteDenoiseError(f"cannot create the export cache {path.parent}: {error.strerror or error} (set ${CACHE_ENV_VAR})") from None
    shown_size = "any size" if size is None else size_text
    print(f"exporting {type(model).__name__} for {format} {precision} at {shown_size}, once: cached in {path.parent}", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as scratch:
        temporary = Path(scratch) / name
        on_cpu = all(parameter.device.type == "cpu" for parameter in model.parameters())
        # the converters print progress on stdout, which belongs to the caller's output (eval --json)
        with contextlib.redirect_stdout(sys.stderr):
            source = model if on_cpu else copy.deepcopy(model).cpu()
            # an any-size file is traced at a small example size: the trace is the same for any
            example = (8 * model.size_multiple,) * 2 if size is None else size
            export_model(source, temporary, precision=precision, size=example, layout=layout, data=data if integer else None, any_size=size is None)
        os.replace(temporary, path)
    return path
