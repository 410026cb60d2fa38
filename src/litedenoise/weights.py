"""Weights on disk: safetensors files that carry their provenance.

Every file we write stores, next to the tensors, string metadata: ``architecture``
(LiteDenoiseNet or TeacherNet), ``width``, ``params``, ``data``, ``recipe`` and measured
metrics. ``load_model`` rebuilds the network from that metadata and refuses tensors that do not
fit it. Nothing here unpickles anything.
"""

from __future__ import annotations

import copy
import hashlib
from importlib import resources
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import nn

from litedenoise.errors import LiteDenoiseError
from litedenoise.models import LiteDenoiseNet, TeacherNet

SHIPPED_WEIGHTS = {"student": "student.safetensors"}
MODEL_NAMES = ("student", "teacher")


def build_model(architecture: str, width: int | None = None) -> nn.Module:
    """A freshly initialised network; ``width`` None gives the paper's width."""
    if architecture in ("student", "LiteDenoiseNet"):
        return LiteDenoiseNet() if width is None else LiteDenoiseNet(width)
    if architecture in ("teacher", "TeacherNet"):
        return TeacherNet() if width is None else TeacherNet(width)
    raise LiteDenoiseError(f"unknown architecture {architecture!r}: use student (LiteDenoiseNet) or teacher (TeacherNet)")


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save_weights(path: str | Path, model: nn.Module, metadata: dict[str, str], dtype: torch.dtype = torch.float32) -> None:
    """Write ``model``'s tensors as ``dtype`` and ``metadata`` (plus architecture, width, params) to ``path``.

    ``load_model`` reads a float16 file back into an fp32 network (half the file, for a teacher kept as an init).
    """
    if not dtype.is_floating_point:
        raise LiteDenoiseError(f"weights are stored as a float type (float32, float16, bfloat16), not {dtype}")
    own = {"architecture": type(model).__name__, "width": str(model.width), "params": str(parameter_count(model))}
    contradicted = sorted(key for key in own.keys() & metadata.keys() if str(metadata[key]) != own[key])
    if contradicted:
        given = ", ".join(f"{key}={metadata[key]}" for key in contradicted)
        raise LiteDenoiseError(f"metadata {given} contradicts the network ({', '.join(f'{key}={own[key]}' for key in contradicted)})")
    path = Path(path)
    if path.is_dir() or not path.parent.is_dir():
        raise LiteDenoiseError(f"cannot write {path}: " + ("it is a folder" if path.is_dir() else f"no folder {path.parent}"))
    from litedenoise.imageio import atomic_write_bytes

    state = {k: v.detach().to(dtype).contiguous().cpu() for k, v in model.state_dict().items()}
    # in memory, then written as every output is: safetensors' own file writer leaves it readable by its owner only
    data = save(state, metadata={**own, **{key: str(value) for key, value in metadata.items()}})
    atomic_write_bytes(path, data, overwrite=True)


def read_metadata(path: str | Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as error:
        raise LiteDenoiseError(f"{path}: not a readable safetensors file ({error})") from None


def file_digest(path: str | Path) -> str:
    """The first 12 hex digits of a file's SHA-256: how the docs and metadata name a weights file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def shipped_weights_path(name: str) -> Path:
    if name not in SHIPPED_WEIGHTS:
        raise LiteDenoiseError(
            f"no shipped weights for {name!r} (shipped: {', '.join(SHIPPED_WEIGHTS)}); "
            "train them (litedenoise train) and pass the file's path"
        )
    path = Path(str(resources.files("litedenoise") / "pretrained" / SHIPPED_WEIGHTS[name]))
    if not path.is_file():
        raise LiteDenoiseError(f"shipped weights {path} are missing from the installation")
    return path


def load_model(name_or_path: str | Path = "student", *, architecture: str | None = None) -> nn.Module:
    """A network in eval mode: ``"student"`` gives the shipped default, a path loads that file.

    The architecture and width come from the file's metadata; ``architecture`` overrides a file
    without metadata. Tensors that do not fit the architecture are refused, naming the mismatch.
    """
    is_name = str(name_or_path) in MODEL_NAMES and not Path(name_or_path).is_file()  # a folder named student is not a file
    path = shipped_weights_path(str(name_or_path)) if is_name else Path(name_or_path)
    if not path.is_file():
        raise LiteDenoiseError(f"weights file {path} not found")
    metadata = read_metadata(path)
    with safe_open(str(path), framework="pt") as handle:
        state = {key: handle.get_tensor(key) for key in handle.keys()}
    arch = architecture or metadata.get("architecture", "LiteDenoiseNet")
    try:
        width = int(metadata["width"]) if "width" in metadata else _guess_width(arch, state)
        model = build_model(arch, width)
    except ValueError as error:
        raise LiteDenoiseError(f"{path}: metadata does not describe a valid model ({error})") from None
    _check_fits(model, state, path)
    model.load_state_dict(state)
    model.metadata = metadata
    return model.eval()


def interpolate_models(start: nn.Module, end: nn.Module, fraction: float) -> nn.Module:
    """A copy of ``end`` with every tensor ``(1 - fraction) * start + fraction * end``.

    Meant for two trainings of one network where one began from the other (a fine-tune and its
    starting point): their weights lie in one basin, so the blend trades the two's strengths
    instead of breaking both. Networks of different shapes are refused."""
    if not 0.0 <= fraction <= 1.0:
        raise LiteDenoiseError(f"interpolation fraction must be in [0, 1], got {fraction}")
    start_state, end_state = start.state_dict(), end.state_dict()
    if type(start) is not type(end) or any(
        key not in start_state or start_state[key].shape != tensor.shape for key, tensor in end_state.items()
    ):
        raise LiteDenoiseError(f"cannot interpolate {type(start).__name__} (width {start.width}) and {type(end).__name__} (width {end.width})")
    blended = copy.deepcopy(end)
    blended.load_state_dict({key: torch.lerp(start_state[key].float(), tensor.float(), fraction) for key, tensor in end_state.items()})
    return blended.eval()


def _guess_width(architecture: str, state: dict[str, torch.Tensor]) -> int | None:
    key = "in_conv.weight" if architecture in ("student", "LiteDenoiseNet") else "in_block.0.0.weight"
    return int(state[key].shape[0]) if key in state else None


def _check_fits(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if wrong_shape:
        key = wrong_shape[0]
        problems.append(f"{len(wrong_shape)} of wrong shape (e.g. {key}: {tuple(state[key].shape)} vs {tuple(expected[key].shape)})")
    if problems:
        raise LiteDenoiseError(
            f"{path}: tensors do not fit {type(model).__name__}(width={model.width}): {'; '.join(problems)}"
        )
