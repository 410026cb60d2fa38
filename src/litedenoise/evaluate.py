"""The evaluation harness: networks and classical baselines scored on noisy/clean pairs, whole images.

Every figure in the docs comes from here. Networks run through the one inference path
(``infer.denoise``, on a ``runtimes`` backend), baselines through ``baselines.Baseline``, and both
are scored with ``metrics.psnr`` / ``metrics.ssim`` (the convention is ``METRIC_CONVENTION``).

A *method* is anything called with a noisy uint8 HxWx3 image that returns ``(output, seconds)``:
``NetworkMethod`` and ``baselines.Baseline`` are the two kinds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from torch import nn

from litedenoise.errors import LiteDenoiseError
from litedenoise.infer import DEFAULT_MEMORY_BUDGET_MB, denoise
from litedenoise.metrics import PSNR_CAP, psnr, ssim
from litedenoise.runtimes import Backend

METRIC_CONVENTION = (
    f"PSNR/SSIM: RGB, rounded to 8 bits, data range 255, no border crop, mean of per-image values; "
    f"PSNR capped at {PSNR_CAP:g} dB (identical images); SSIM Gaussian window sigma 1.5 (Wang et al. 2004)"
)


class Method(Protocol):
    name: str

    def __call__(self, noisy: np.ndarray) -> tuple[np.ndarray, float]: ...


@dataclass
class NetworkMethod:
    """A network (``nn.Module`` or ``runtimes.Backend``) through ``infer.denoise``; ``tta`` adds the x8 self-ensemble."""

    name: str
    model: nn.Module | Backend
    tta: bool = False
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB

    def __call__(self, noisy: np.ndarray) -> tuple[np.ndarray, float]:
        started = time.perf_counter()
        output = denoise(noisy, self.model, tta=self.tta, memory_budget_mb=self.memory_budget_mb)
        return output, time.perf_counter() - started


@dataclass(frozen=True)
class EvalImage:
    """One test image: its name and uint8 HxWx3 noisy and clean pixels of the same size."""

    name: str
    noisy: np.ndarray
    clean: np.ndarray


@dataclass
class EvalSet:
    """The images of a test set, and one line per input that was skipped (unpaired, unreadable, mismatched)."""

    description: str
    images: list[EvalImage]
    skipped: list[str] = field(default_factory=list)


def load_pairs(folder: str | Path, *, split: str | None = None) -> EvalSet:
    """The pairs of a folder in any layout ``data.paired`` knows, or of a PolyU ``split`` GROUP:KIND.

    Images without a partner, unreadable images and pairs of different sizes are skipped and
    listed in ``skipped``; no image left is an error.
    """
    from litedenoise.data.paired import holds_polyu, polyu_pairs, scan_pairs

    if split:
        group, _, kind = split.partition(":")
        pairs, skipped = polyu_pairs(folder, group, kind or "crops"), []
        description = f"PolyU {group}:{kind or 'crops'} ({folder})"
    else:
        if holds_polyu(folder):
            raise LiteDenoiseError(f"{folder} is the shared data folder: choose a PolyU set with --split, e.g. --split val:crops")
        scan = scan_pairs(folder)
        pairs, skipped = scan.pairs, [f"{name}: no partner" for name in scan.unpaired]
        description = str(folder)
    images = []
    for pair in pairs:
        loaded = _read_pair(pair.name, pair.noisy, pair.clean)
        if isinstance(loaded, str):
            skipped.append(loaded)
        else:
            images.append(loaded)
    return _checked(EvalSet(description, images, skipped))


def load_synthetic(folder: str | Path, level: str, *, seed: int = 0) -> EvalSet:
    """Clean images of ``folder`` with camera noise at ``data.camera_noise.EVALUATION_NOISE_LEVELS[level]``.

    The noise is a pure function of ``seed``, the level and the file name, so the set is the same
    on every run. Unreadable files are skipped and listed.
    """
    from litedenoise.data.camera_noise import EVALUATION_NOISE_LEVELS, evaluation_noise
    from litedenoise.imageio import image_files, read_rgb_uint8

    if level not in EVALUATION_NOISE_LEVELS:
        raise LiteDenoiseError(f"unknown noise level {level!r}; choose from {', '.join(EVALUATION_NOISE_LEVELS)}")
    folder = Path(folder)
    if not folder.is_dir():
        raise LiteDenoiseError(f"{folder}: no such folder")
    files = image_files(folder)
    images, skipped = [], []
    for path in files:
        try:
            clean = read_rgb_uint8(path)
        except LiteDenoiseError as error:
            skipped.append(f"{path.name}: {error}")
            continue
        if (reason := _too_small(clean)) is not None:
            skipped.append(f"{path.name}: {reason}")
            continue
        images.append(EvalImage(path.name, evaluation_noise(clean, level, seed, path.name), clean))
    return _checked(EvalSet(f"{folder}, camera noise '{level}' (seed {seed})", images, skipped))


def _read_pair(name: str, noisy_path: Path, clean_path: Path) -> EvalImage | str:
    from litedenoise.imageio import as_rgb_uint8, is_grey, read_image

    try:
        noisy, clean = read_image(noisy_path).pixels, read_image(clean_path).pixels
    except LiteDenoiseError as error:
        return f"{name}: {error}"
    if is_grey(noisy) != is_grey(clean):
        kinds = ["grey" if is_grey(pixels) else "colour" for pixels in (noisy, clean)]
        return f"{name}: noisy is {kinds[0]}, clean {kinds[1]}"
    if noisy.shape[:2] != clean.shape[:2]:
        return f"{name}: noisy is {noisy.shape[1]}x{noisy.shape[0]}, clean {clean.shape[1]}x{clean.shape[0]}"
    if (reason := _too_small(clean)) is not None:
        return f"{name}: {reason}"
    return EvalImage(name, as_rgb_uint8(noisy), as_rgb_uint8(clean))


def _too_small(image: np.ndarray) -> str | None:
    from litedenoise.metrics import SSIM_WINDOW

    if min(image.shape[:2]) < SSIM_WINDOW:
        return f"{image.shape[1]}x{image.shape[0]} is smaller than SSIM's {SSIM_WINDOW}-px window"
    return None


def _checked(found: EvalSet) -> EvalSet:
    if not found.images:
        reasons = f" ({len(found.skipped)} skipped: {found.skipped[0]}{' ...' if len(found.skipped) > 1 else ''})" if found.skipped else ""
        raise LiteDenoiseError(f"{found.description}: no images to evaluate{reasons}")
    return found


@dataclass
class MethodScores:
    """Per-image scores of one method, in the order of the images, and their summary."""

    images: list[str] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    pixels: int = 0

    def summary(self) -> dict:
        """``{"psnr", "ssim", "n", "sec_per_mpix"}``: means over images, and seconds per megapixel over all of them."""
        result = {"psnr": float(np.mean(self.psnr)), "n": len(self.psnr), "sec_per_mpix": sum(self.seconds) / (self.pixels / 1e6)}
        if self.ssim:
            result["ssim"] = float(np.mean(self.ssim))
        return {key: result[key] for key in ("psnr", "ssim", "n", "sec_per_mpix") if key in result}

    @property
    def capped(self) -> int:
        """How many images scored the PSNR cap (output identical to the reference)."""
        return sum(value >= PSNR_CAP for value in self.psnr)


def score_methods(
    methods: list[Method],
    images: list[EvalImage],
    *,
    with_ssim: bool = True,
    on_image: Callable[[EvalImage, dict[str, np.ndarray]], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, MethodScores]:
    """Run every method on every image and score it; keyed by method name, in the order given.

    Images are the outer loop, so ``on_image(image, {name: output})`` sees all outputs of one
    image together (the report cuts its comparison crops there) and only one image's outputs are
    held at a time.
    """
    names = [method.name for method in methods]
    if len(set(names)) != len(names):
        raise LiteDenoiseError(f"two methods share a name: {names}")
    scores = {name: MethodScores() for name in names}
    for index, image in enumerate(images):
        outputs = {}
        for method in methods:
            output, seconds = method(image.noisy)
            record = scores[method.name]
            record.images.append(image.name)
            record.psnr.append(psnr(output, image.clean))
            if with_ssim:
                record.ssim.append(ssim(output, image.clean))
            record.seconds.append(seconds)
            record.pixels += image.noisy.shape[0] * image.noisy.shape[1]
            outputs[method.name] = output
            if progress:
                progress(f"[{index + 1}/{len(images)}] {image.name} {method.name}: {record.psnr[-1]:.2f} dB, {seconds:.2f} s")
        if on_image:
            on_image(image, outputs)
    return scores


def evaluate(model: nn.Module | None, pairs: list[tuple[np.ndarray, np.ndarray]], *, bf16: bool = False, with_ssim: bool = True) -> dict:
    """Mean PSNR (and SSIM) of one network (None: the noisy input) over (noisy, clean) uint8 HxWx3 pairs.

    The short form for training-time validation and scripts. Returns ``psnr``, ``ssim`` (if
    asked), ``n``, ``sec_per_mpix`` and the per-image values under ``per_image_psnr`` (and
    ``per_image_ssim``), in the order of ``pairs``.
    """
    from litedenoise.baselines import Baseline
    from litedenoise.runtimes import load_backend

    if model is None:
        method: Method = Baseline("identity")
    else:
        # the CLI's backend: a copy in eval mode, so a model in training keeps its mode
        method = NetworkMethod("model", load_backend("torch-bf16" if bf16 else "torch", model))
    images = [EvalImage(str(index), noisy, clean) for index, (noisy, clean) in enumerate(pairs)]
    scores = score_methods([method], images, with_ssim=with_ssim)[method.name]
    result = {**scores.summary(), "per_image_psnr": scores.psnr}
    if with_ssim:
        result["per_image_ssim"] = scores.ssim
    return result


def network_labels(sources: list[str]) -> list[str]:
    """How networks are named in results: ``student`` / ``teacher``, or a file's name; files of
    the same name in different folders (every run's ``best.safetensors``) by their paths as given.
    The same network given twice is refused."""
    names = [source if source in ("student", "teacher") else Path(source).name for source in sources]
    labels = [str(source) if names.count(name) > 1 else name for source, name in zip(sources, names, strict=True)]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise LiteDenoiseError(f"{repeated[0]} is given twice as a --model")
    return labels


def build_methods(
    models: list[str],
    baselines: list[str],
    *,
    runtime: str = "torch",
    precision: str = "fp32",
    export_size: tuple[int, int] | None = None,
    tta: bool = False,
    threads: int | None = None,
    data: Path | None = None,
    cache_dir: Path | None = None,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    noise: str = "real",
) -> list[Method]:
    """Baselines first (multipliers tuned for ``noise``: "real" or "synthetic"; outputs cached under
    ``cache_dir``), then each network of
    ``models`` (a shipped name or a .safetensors / .onnx / .tflite file) on ``runtime``, and with
    ``tta`` its x8 self-ensemble as a further method. ``export_size`` (height, width) is the size
    an onnx / tflite export is made at (default: any size for onnx in fp32 or fp16, else
    ``runtimes.DEFAULT_TILE_SIZE``)."""
    from litedenoise.baselines import tuned_baseline
    from litedenoise.runtimes import default_cache_dir, load_backend, runtime_for_file

    methods: list[Method] = [tuned_baseline(name, (cache_dir or default_cache_dir()) / "baselines", noise) for name in baselines]
    for source, label in zip(models, network_labels(models), strict=True):
        file_runtime = runtime_for_file(source)
        chosen = file_runtime or runtime
        backend = load_backend(
            chosen,
            source,
            precision=precision if not file_runtime else "fp32",
            tile_size=export_size if chosen in ("onnx", "tflite") and not file_runtime else None,
            threads=threads,
            data=data,
            cache_dir=cache_dir,
        )
        if chosen != "torch" and not file_runtime:
            label += f" ({chosen}{'' if chosen == 'torch-bf16' else ' ' + precision})"
        methods.append(NetworkMethod(label, backend, memory_budget_mb=memory_budget_mb))
        if tta:
            methods.append(NetworkMethod(f"{label} + x8 TTA", backend, tta=True, memory_budget_mb=memory_budget_mb))
    return methods
