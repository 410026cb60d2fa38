"""Distillation teachers: our weights, a user's PyTorch module, or an exported ONNX file.

Every teacher follows the project's convention (NCHW float RGB in [0, 1] in, the denoised image
in the same form out) and is checked against it on a probe image before any training starts,
so a teacher made for [0, 255] or [-1, 1] data (or one that is not a denoiser at all) is refused
instead of silently teaching the student the wrong thing. Channel order cannot be probed this
way: denoisers treat R, G and B almost alike.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

from litedenoise.errors import LiteDenoiseError
from litedenoise.infer import dihedral_mean
from litedenoise.weights import load_model

# A denoiser may change the probe image this much (mean absolute difference) and still follow the
# convention. Measured: the shipped student 0.014; it wrapped for [-1, 1] data 0.13, for [0, 255] 0.43.
CONVENTION_TOLERANCE = 0.08


class OnnxTeacher(nn.Module):
    """An ONNX file run by ONNX Runtime on the CPU, behind the nn.Module interface."""

    def __init__(self, path: Path):
        super().__init__()
        import onnxruntime

        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime raises its own exception types
            raise LiteDenoiseError(f"teacher {path}: ONNX Runtime cannot load it ({str(error).splitlines()[0]})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise LiteDenoiseError(f"teacher {path}: needs one input and one output, has {len(inputs)} and {len(outputs)}")
        self.input_name = inputs[0].name
        self.input_shape = inputs[0].shape  # ints for static dimensions, strings or None for dynamic ones
        self.path = path

    def static_side(self) -> tuple[int, int] | None:
        height, width = self.input_shape[2:4] if len(self.input_shape) == 4 else (None, None)
        return (height, width) if isinstance(height, int) and isinstance(width, int) else None

    def static_batch(self) -> int | None:
        """The batch size fixed in the file (1 for most exports, ours included), or None."""
        batch = self.input_shape[0] if self.input_shape else None
        return batch if isinstance(batch, int) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        images = x.detach().float().contiguous().cpu().numpy()
        chunk = self.static_batch() or len(images)
        if len(images) % chunk:
            raise LiteDenoiseError(f"teacher {self.path} takes batches of {chunk}; got {len(images)}")
        outputs = [self.session.run(None, {self.input_name: images[i : i + chunk]})[0] for i in range(0, len(images), chunk)]
        return torch.from_numpy(np.concatenate(outputs).astype(np.float32, copy=False)).to(x.device)


class SelfEnsemble(nn.Module):
    """A teacher's x8 self-ensemble (``teacher_tta``): the mean of its outputs over the 8 flips and
    90-degree rotations of the input, each undone. It costs 8 forward passes of the teacher, and
    it is a stronger teacher than the network alone: v0.4's scores 0.24 dB higher on the four
    validation sets (docs/distillation.md)."""

    def __init__(self, teacher: nn.Module):
        super().__init__()
        self.teacher = teacher
        self.size_multiple = getattr(teacher, "size_multiple", 1)
        if hasattr(teacher, "receptive_field_radius"):  # flips and turns keep it; inference needs it
            self.receptive_field_radius = teacher.receptive_field_radius

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dihedral_mean(self.teacher, x)


def _module_from_factory(spec: str) -> nn.Module:
    """``path/to/file.py:function`` or ``package.module:function``, called with no arguments."""
    location, _, function_name = spec.rpartition(":")
    try:
        if location.endswith(".py"):
            if not Path(location).is_file():
                raise LiteDenoiseError(f"teacher {spec}: {location} not found")
            module_spec = importlib.util.spec_from_file_location(Path(location).stem, location)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(location)
        factory = getattr(module, function_name)
        teacher = factory()
    except LiteDenoiseError:
        raise
    except Exception as error:  # the user's code may raise anything
        raise LiteDenoiseError(f"teacher {spec}: could not build it ({type(error).__name__}: {error})") from None
    if not isinstance(teacher, nn.Module):
        raise LiteDenoiseError(f"teacher {spec}: {function_name}() returned {type(teacher).__name__}, not a torch nn.Module")
    return teacher


def load_teacher(source: str | nn.Module) -> nn.Module:
    """A teacher from ``.safetensors`` weights, an ``.onnx`` file, a ``file.py:function`` or
    ``package.module:function`` factory, or a module given directly; frozen and in eval mode."""
    if isinstance(source, nn.Module):
        teacher = source
    elif str(source).endswith(".onnx"):
        if not Path(source).is_file():
            raise LiteDenoiseError(f"teacher {source} not found")
        teacher = OnnxTeacher(Path(source))
    elif ":" in str(source) and not str(source).endswith(".safetensors"):
        teacher = _module_from_factory(str(source))
    else:
        teacher = load_model(source)
    return teacher.requires_grad_(False).eval()


def check_teacher(teacher: nn.Module, crop_sizes: list[int], name: str, batch_sizes: list[int] = ()) -> None:
    """Refuse, in one line, a teacher that cannot take the crops and batches or breaks the convention."""
    multiple = getattr(teacher, "size_multiple", 1)
    onnx = teacher.teacher if isinstance(teacher, SelfEnsemble) else teacher
    static = onnx.static_side() if isinstance(onnx, OnnxTeacher) else None
    static_batch = onnx.static_batch() if isinstance(onnx, OnnxTeacher) else None
    for batch_size in batch_sizes:
        if static_batch is not None and batch_size % static_batch:
            raise LiteDenoiseError(
                f"teacher {name} has a static batch of {static_batch}; batch_size {batch_size} needs a "
                "dynamic-batch export or a batch size it divides"
            )
    for crop in crop_sizes:
        if crop % multiple:
            raise LiteDenoiseError(f"teacher {name} needs sides that are multiples of {multiple}; crop_size {crop} is not")
        if static is not None and static != (crop, crop):
            raise LiteDenoiseError(
                f"teacher {name} has a static {static[0]}x{static[1]} input; crop_size {crop} needs a "
                "dynamic-shape export or one of that size"
            )
    side = static[0] if static is not None else min(crop_sizes)
    parameter = next(teacher.parameters(), None)  # a module already on a GPU is probed there
    probe = convention_probe(side).to(parameter.device if parameter is not None else "cpu")
    if static_batch is not None:
        probe = probe.expand(static_batch, -1, -1, -1)
    with torch.no_grad():
        try:
            output = teacher(probe)
        except Exception as error:  # a user model can fail in any way
            raise LiteDenoiseError(f"teacher {name} fails on a 1x3x{side}x{side} float input ({type(error).__name__}: {error})") from None
    if not isinstance(output, torch.Tensor) or tuple(output.shape) != tuple(probe.shape):
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise LiteDenoiseError(f"teacher {name} must map 1x3xHxW to 1x3xHxW; it returned {shape}")
    output = output.float()
    if not torch.isfinite(output).all():
        raise LiteDenoiseError(f"teacher {name} returns non-finite values on a clean probe image")
    difference = (output - probe).abs().mean().item()
    if difference > CONVENTION_TOLERANCE:
        raise LiteDenoiseError(
            f"teacher {name} changes a noisy probe image by {difference:.3f} on average (output range "
            f"{output.min().item():.2f}..{output.max().item():.2f}): it must take and return RGB in [0, 1], NCHW"
        )


def convention_probe(side: int) -> torch.Tensor:
    """A smooth colour image (R ramps across, G down, B flat) with mild noise, which a denoiser
    barely changes and a model expecting another value range moves far from itself."""
    ramp = torch.linspace(0.15, 0.85, side)
    red = ramp.expand(side, side)
    green = ramp[:, None].expand(side, side)
    blue = torch.full((side, side), 0.3)
    generator = torch.Generator().manual_seed(0)
    noisy = torch.stack([red, green, blue]) + 0.02 * torch.randn(3, side, side, generator=generator)
    return noisy.clamp(0, 1)[None]
