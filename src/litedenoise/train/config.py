"""Typed training configuration, loaded from YAML recipes and ``key=value`` overrides."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from litedenoise.data.camera_noise import EVALUATION_NOISE_LEVELS, CameraNoiseRange
from litedenoise.data.real_noise import TRANSPLANT_LEVELS
from litedenoise.errors import LiteDenoiseError
from litedenoise.models import LiteDenoiseNet, TeacherNet
from litedenoise.train.losses import PIXEL_LOSSES


@dataclass
class Stage:
    """One stage of progressive context expansion: ``steps`` steps of ``batch_size`` crops of
    ``crop_size`` pixels. Sources left None are the run's; crops above 512 need the PolyU
    full-size images (``polyu:train:full``), the only large photos in the shared data."""

    crop_size: int
    batch_size: int
    steps: int
    real_pair_sets: list[str] | None = None
    clean_photo_dirs: list[str] | None = None

    def __post_init__(self) -> None:
        for name in ("crop_size", "batch_size", "steps"):
            if getattr(self, name) <= 0:
                raise LiteDenoiseError(f"stage {name} must be positive, got {getattr(self, name)}")


@dataclass
class TrainConfig:
    """Every knob of a training run; defaults are the foundation CPU recipe.

    Real pair sets are either ``polyu:GROUP:KIND`` (e.g. ``polyu:train:full``) or a folder with
    ``noisy/`` and ``clean/`` sub-folders; clean photo folders feed the noise synthesis. Relative
    paths are taken from the data folder; a ``polyu:GROUP:KIND`` entry among the clean photo
    folders means the clean images of those pairs (the large photos big crops need). ``stages`` run in order under one learning-rate
    schedule that spans all of them.
    """

    model: str = "student"  # student (LiteDenoiseNet) or teacher (TeacherNet)
    width: int | None = None  # None: the paper's width
    real_pair_sets: list[str] = field(default_factory=lambda: ["polyu:train:crops", "polyu:train:full"])
    clean_photo_dirs: list[str] = field(default_factory=lambda: ["clean/cbsd432"])
    real_fraction: float = 0.5
    # share of samples that are clean photos with a real pair's noise moved onto them
    # (data/real_noise.py); taken from the clean photos' share, so the synthetic share is what is left
    transplant_fraction: float = 0.0
    transplant_levels: str = "own"  # own or pooled_shape: how each pair's noise level function is fitted (data/real_noise.py)
    noise_model: str = "poisson_gaussian"  # synthetic noise: camera, poisson_gaussian or gaussian
    # the ranges noise_model camera draws from; a recipe sets any of them, e.g. {shot_variance: [2e-4, 2e-3]}
    camera_noise: CameraNoiseRange = field(default_factory=CameraNoiseRange)
    stages: list[Stage] = field(default_factory=lambda: [Stage(crop_size=128, batch_size=8, steps=20_000)])
    lr: float = 5e-4
    lr_min: float = 1e-6
    warmup_steps: int = 500
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    loss: str = "l1"  # l1, mse, charbonnier or psnr (minus the mean PSNR over the batch's images)
    ema_decay: float = 0.999
    bf16: bool = False  # bf16 autocast: ~3x faster on CPUs with AMX, ~15x slower on AVX2-only ones
    channels_last: bool = True
    compile: bool = False  # torch.compile the training forward/backward (first steps pay for compiling)
    num_workers: int = 1
    seed: int = 0
    val_set: str = "polyu:val:crops"
    # also validate on val_set's clean images with the evaluation's camera noise at these levels
    # (low, medium, high); the best weights are then those with the best mean over the sets
    val_noise_levels: list[str] = field(default_factory=list)
    val_every: int = 1000
    checkpoint_every: int = 250
    max_minutes: float | None = None  # stop (and save) after this much wall-clock time
    # Knowledge distillation: with a teacher, the loss is
    # alpha_teacher * L(student, teacher) + (1 - alpha_teacher) * L(student, ground truth).
    # The teacher runs online (frozen, eval mode, no grad): our .safetensors weights, an .onnx
    # file (run by ONNX Runtime) or a factory "file.py:function" / "package.module:function".
    teacher_weights: str | None = None
    alpha_teacher: float = 0.9
    teacher_tta: bool = False  # distil from the teacher's x8 self-ensemble (flips and rotations; 8x its cost)
    # Run the teacher once on each real pair's whole noisy image before training, and crop its
    # output with the pair; it then runs online only on synthetic and transplanted samples.
    # Our weights only (the whole image goes through the tiled inference path); 8-bit targets.
    teacher_once_on_real_pairs: bool = False
    init_weights: str | None = None  # start from these weights (fine-tuning) instead of random

    def __post_init__(self) -> None:
        if self.model not in ("student", "teacher"):
            raise LiteDenoiseError(f"model must be student or teacher, got {self.model!r}")
        if self.noise_model not in ("camera", "poisson_gaussian", "gaussian"):
            raise LiteDenoiseError(f"noise_model must be camera, poisson_gaussian or gaussian, got {self.noise_model!r}")
        if self.loss not in PIXEL_LOSSES:
            raise LiteDenoiseError(f"loss must be {', '.join(PIXEL_LOSSES[:-1])} or {PIXEL_LOSSES[-1]}, got {self.loss!r}")
        if not 0.0 <= self.alpha_teacher <= 1.0:
            raise LiteDenoiseError(f"alpha_teacher must be in [0, 1], got {self.alpha_teacher}")
        if not 0.0 <= self.real_fraction <= 1.0:
            raise LiteDenoiseError(f"real_fraction must be in [0, 1], got {self.real_fraction}")
        if not 0.0 <= self.transplant_fraction <= 1.0 - self.real_fraction + 1e-9:
            raise LiteDenoiseError(
                f"transplant_fraction must be in [0, 1 - real_fraction] = [0, {1.0 - self.real_fraction:g}], got {self.transplant_fraction}"
            )
        if self.transplant_levels not in TRANSPLANT_LEVELS:
            raise LiteDenoiseError(f"transplant_levels must be {' or '.join(TRANSPLANT_LEVELS)}, got {self.transplant_levels!r}")
        unknown = [level for level in self.val_noise_levels if level not in EVALUATION_NOISE_LEVELS]
        if unknown:
            raise LiteDenoiseError(f"val_noise_levels must be among {', '.join(EVALUATION_NOISE_LEVELS)}; got {', '.join(unknown)}")
        if not self.stages:
            raise LiteDenoiseError("stages must list at least one stage")
        multiple = (TeacherNet if self.model == "teacher" else LiteDenoiseNet).size_multiple
        for stage in self.stages:
            if stage.crop_size % multiple:
                raise LiteDenoiseError(f"stage crop_size must be a multiple of {multiple} for the {self.model}, got {stage.crop_size}")
        for name in ("val_every", "checkpoint_every"):
            if getattr(self, name) <= 0:
                raise LiteDenoiseError(f"{name} must be positive, got {getattr(self, name)}")
        if self.width is not None and (self.width < 2 or self.width % 2):
            raise LiteDenoiseError(f"width must be an even number of 2 or more, got {self.width}")
        for name in ("num_workers", "seed"):
            if getattr(self, name) < 0:
                raise LiteDenoiseError(f"{name} must be 0 or more, got {getattr(self, name)}")

    @property
    def total_steps(self) -> int:
        return sum(stage.steps for stage in self.stages)


def _checked_value(name: str, value: object, hint: object) -> object:
    """``value`` if it fits the field's type hint (ints accepted for floats), else an error."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return value
        if option is float and type(value) in (int, float):
            return float(value)
        if option is float and isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if option == list[str] and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        if option == list[Stage] and isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return [_from_dict(Stage, item, f"{name}[{i}]") for i, item in enumerate(value)]
        if option in (int, str, bool) and type(value) is option:
            return value
        if typing.get_origin(option) is tuple and isinstance(value, list | tuple):
            items = typing.get_args(option)
            items = items[:1] * len(value) if items[-1:] == (Ellipsis,) else items
            if len(items) == len(value):
                try:
                    return tuple(_checked_value(name, v, item) for v, item in zip(value, items, strict=True))
                except LiteDenoiseError:
                    pass
        if option is CameraNoiseRange and isinstance(value, dict):
            try:
                return _from_dict(CameraNoiseRange, value, name)
            except ValueError as error:
                raise LiteDenoiseError(str(error)) from None
        if option is CameraNoiseRange and isinstance(value, CameraNoiseRange):
            return value
    raise LiteDenoiseError(f"config key {name!r} must be {_type_name(hint)}, got {value!r}")


def _type_name(hint: object) -> str:
    """``tuple[float, float]``, ``list[Stage]``, ``int | None``: a type hint as a recipe's reader would write it."""
    if isinstance(hint, types.UnionType):
        return " | ".join(_type_name(option) for option in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if hint is Ellipsis:
        return "..."
    arguments = typing.get_args(hint)
    if arguments:
        return f"{typing.get_origin(hint).__name__}[{', '.join(_type_name(a) for a in arguments)}]"
    return getattr(hint, "__name__", str(hint))


def _from_dict(cls: type, values: dict, where: str = "config"):
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise LiteDenoiseError(f"unknown {where} key(s): {', '.join(unknown)} (known: {', '.join(hints)})")
    try:
        return cls(**{name: _checked_value(name, value, hints[name]) for name, value in values.items()})
    except TypeError as error:  # a required field is missing
        raise LiteDenoiseError(f"{where}: {error}") from None


def make_config(values: dict) -> TrainConfig:
    """A TrainConfig from a plain dict, refusing unknown keys and wrong types."""
    return _from_dict(TrainConfig, values)


RECIPE_SECTIONS = ("teacher", "student")


def load_recipe(path: str | Path | None, overrides: list[str] = (), section: str | None = None) -> TrainConfig:
    """Load a YAML recipe (or the defaults when ``path`` is None) and apply ``key=value`` overrides.

    A recipe for a whole teacher-then-student pipeline holds one mapping per model under
    ``teacher:`` and ``student:``; ``section`` picks one (``litedenoise train MODEL`` passes MODEL).
    """
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise LiteDenoiseError(f"recipe {path} not found")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise LiteDenoiseError(f"recipe {path} is not valid YAML: {str(error).splitlines()[0]}") from None
        if not isinstance(values, dict):
            raise LiteDenoiseError(f"recipe {path} must be a mapping of keys to values")
        if set(values) <= set(RECIPE_SECTIONS):
            if section not in values:
                raise LiteDenoiseError(f"recipe {path} has sections {', '.join(values)}; none for {section!r}")
            values = dict(values[section] or {})
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep:
            raise LiteDenoiseError(f"override {override!r} must look like key=value")
        try:
            values[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise LiteDenoiseError(f"override {override!r} is not valid YAML: {str(error).splitlines()[0]}") from None
    return make_config(values)


def config_to_yaml_value(value: object) -> object:
    """``value`` with tuples as lists, which YAML's safe dumper can write."""
    if isinstance(value, dict):
        return {key: config_to_yaml_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [config_to_yaml_value(item) for item in value]
    return value


def config_to_yaml(config: TrainConfig) -> str:
    return yaml.safe_dump(config_to_yaml_value(dataclasses.asdict(config)), sort_keys=False)
