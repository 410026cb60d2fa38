"""The training loop: plain PyTorch, one file, no framework.

``train(config, run_dir)`` trains a student or teacher on random crops, validates on full
validation images through the same inference path users get, keeps the best EMA weights by
validation PSNR, and writes a resumable checkpoint to ``run_dir`` every few hundred steps.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader
from tqdm import tqdm

from litedenoise.data.camera_noise import CameraNoiseRange
from litedenoise.data.crops import CropSources, TrainingCrops, crop_windows
from litedenoise.data.paired import ImagePair, check_pair_sizes, resolve_pair_set
from litedenoise.errors import LiteDenoiseError
from litedenoise.evaluate import evaluate
from litedenoise.imageio import image_files, read_rgb_uint8
from litedenoise.train import distributed, teachers
from litedenoise.train.config import Stage, TrainConfig, config_to_yaml, config_to_yaml_value
from litedenoise.train.losses import distillation_loss, pixel_loss
from litedenoise.weights import build_model, load_model, parameter_count, save_weights

CHECKPOINT_NAME = "last.pt"
BEST_WEIGHTS_NAME = "best.safetensors"


def decode_pair_set(spec: str, data_root: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(noisy, clean) uint8 images of one pair set, decoded into RAM."""
    return [(read_rgb_uint8(pair.noisy), read_rgb_uint8(pair.clean)) for pair in matched_pairs(spec, data_root)]


def matched_pairs(spec: str, data_root: Path) -> list[ImagePair]:
    """The pairs of a pair set, refused in one line (naming them) if any noisy and clean image
    differ in size: crops of such a pair would not show the same scene."""
    pairs = resolve_pair_set(spec, data_root)
    problems = check_pair_sizes(pairs)
    if problems:
        listed = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise LiteDenoiseError(f"pair set {spec}: noisy and clean differ in size: {listed}")
    return pairs


def decode_photo_set(spec: str, data_root: Path) -> list[np.ndarray]:
    """Clean uint8 photos of a folder, or the clean side of a ``polyu:GROUP:KIND`` set."""
    if spec.startswith("polyu:"):
        files = [pair.clean for pair in resolve_pair_set(spec, data_root)]
    else:
        folder = data_root / spec
        if not folder.is_dir():
            raise LiteDenoiseError(f"clean photo folder {folder} does not exist")
        files = image_files(folder)
    if not files:
        raise LiteDenoiseError(f"clean photo set {spec} holds no images")
    return [read_rgb_uint8(path) for path in files]


def stage_sources(config: TrainConfig, stage: Stage) -> tuple[list[str], list[str]]:
    """The pair sets and clean photo sets a stage draws samples from: its own, else the run's, and
    none of a kind that the fractions leave out (those are neither decoded nor licence-bearing)."""
    pair_sets = config.real_pair_sets if stage.real_pair_sets is None else stage.real_pair_sets
    photo_sets = config.clean_photo_dirs if stage.clean_photo_dirs is None else stage.clean_photo_dirs
    uses_pairs = config.real_fraction > 0.0 or config.transplant_fraction > 0.0
    return (pair_sets if uses_pairs else []), ([] if config.real_fraction == 1.0 else photo_sets)


def real_pair_shares(pair_sets: list[tuple[str, list]], crop_size: int) -> dict[str, float]:
    """The fraction of a stage's real crops each pair set supplies. Crops are drawn in proportion to
    area, so a set of a few full-size images can outweigh one of many small crops; a set listed
    twice is drawn from twice as often."""
    windows: dict[str, int] = {}
    for spec, pairs in pair_sets:
        windows[spec] = windows.get(spec, 0) + sum(crop_windows(clean.shape, crop_size) for _, clean in pairs)
    total = sum(windows.values())
    return {spec: count / total for spec, count in windows.items()} if total else {}


def stage_datasets(
    config: TrainConfig, data_root: Path, announce: bool = False, teacher: torch.nn.Module | None = None
) -> list[TrainingCrops]:
    """One crop dataset per stage; each image set is decoded once however many stages use it,
    and every stage is checked before training starts. ``announce`` prints how a stage's real
    crops divide between its pair sets, when it has more than one. With a ``teacher``, it is run
    once on each real pair's noisy image, whose crops then carry its output."""
    pair_cache: dict[str, list] = {}
    photo_cache: dict[str, list] = {}
    teacher_cache: dict[str, list] = {}
    datasets = []
    for index, stage in enumerate(config.stages):
        pair_sets, photo_sets = stage_sources(config, stage)
        sources = CropSources(teacher_outputs=None if teacher is None else [])
        for spec in pair_sets:
            if spec not in pair_cache:
                pair_cache[spec] = decode_pair_set(spec, data_root)
            sources.real_pairs.extend(pair_cache[spec])
            if teacher is not None:
                if spec not in teacher_cache:
                    teacher_cache[spec] = teacher_outputs(teacher, spec, pair_cache[spec], config.bf16, announce)
                sources.teacher_outputs.extend(teacher_cache[spec])
        for spec in photo_sets:
            if spec not in photo_cache:
                photo_cache[spec] = decode_photo_set(spec, data_root)
            sources.clean_photos.extend(photo_cache[spec])
        if sources.largest_crop() < stage.crop_size:
            raise LiteDenoiseError(
                f"stage {index}: crop_size {stage.crop_size} is larger than every image in its sources "
                f"({', '.join(pair_sets + photo_sets)})"
            )
        if announce and len(pair_sets) > 1:
            shares = real_pair_shares([(spec, pair_cache[spec]) for spec in pair_sets], stage.crop_size)
            listed = ", ".join(f"{share:.1%} from {spec} (images: {len(pair_cache[spec])})" for spec, share in shares.items())
            print(f"stage {index} ({stage.crop_size} px): real crops are drawn by area: {listed}", file=sys.stderr, flush=True)
        dataset = TrainingCrops(
            sources, stage.crop_size, config.real_fraction, config.seed, config.noise_model, config.camera_noise,
            config.transplant_fraction, config.transplant_levels,
        )
        if sources.real_pairs and not dataset.real_pairs:  # the fractions would silently fall to 0
            raise LiteDenoiseError(
                f"stage {index}: no real pair of {', '.join(pair_sets)} is at least {stage.crop_size}x{stage.crop_size}; "
                "give the stage larger pairs (its own real_pair_sets), a smaller crop_size, or real_pair_sets: []"
            )
        datasets.append(dataset)
    return datasets


def teacher_outputs(teacher: torch.nn.Module, spec: str, pairs: list[tuple[np.ndarray, np.ndarray]], bf16: bool, announce: bool) -> list[np.ndarray]:
    """The teacher's 8-bit output for each pair's whole noisy image, through the inference path."""
    from litedenoise.infer import denoise

    noisy_images = tqdm(
        [noisy for noisy, _ in pairs], desc=f"teacher on {spec}", unit="image", dynamic_ncols=True, disable=not announce, leave=False
    )
    return [denoise(noisy, teacher, bf16=bf16) for noisy in noisy_images]


def stage_batches(config: TrainConfig, datasets: list[TrainingCrops], start_step: int, rank: int = 0, world_size: int = 1):
    """Yield ``(stage_index, noisy, clean)`` batches from ``start_step`` to the end of the last
    stage (``(stage_index, noisy, clean, teacher, has_teacher)`` where the datasets carry the
    teacher's outputs).

    Sample indices run on across stages, so a resumed run draws exactly the samples an
    uninterrupted one would. With several processes, each step's batch is cut into
    ``world_size`` equal shards and this process gets shard ``rank``.
    """
    for index, stage in enumerate(config.stages):  # every stage before the first step, not when it comes
        if stage.batch_size % world_size:
            raise LiteDenoiseError(f"stage {index}: batch_size {stage.batch_size} does not split over {world_size} processes")
    first_step = first_sample = 0
    for index, (stage, dataset) in enumerate(zip(config.stages, datasets, strict=True)):
        if start_step < first_step + stage.steps:
            shard = stage.batch_size // world_size
            indices = [
                first_sample + step * stage.batch_size + rank * shard + offset
                for step in range(max(0, start_step - first_step), stage.steps)
                for offset in range(shard)
            ]
            loader = DataLoader(
                dataset,
                batch_size=shard,
                sampler=indices,
                num_workers=config.num_workers,
                prefetch_factor=4 if config.num_workers > 0 else None,
            )
            for batch in loader:
                yield index, *batch
        first_step += stage.steps
        first_sample += stage.steps * stage.batch_size


def frozen_teacher(source: str | torch.nn.Module, name: str, config: TrainConfig) -> torch.nn.Module:
    """The teacher (its x8 self-ensemble with ``teacher_tta``), frozen and checked against every
    stage's crop and the input/output convention."""
    teacher = teachers.load_teacher(source)
    if config.teacher_tta:
        teacher = teachers.SelfEnsemble(teacher)
    teachers.check_teacher(teacher, [stage.crop_size for stage in config.stages], name, [stage.batch_size for stage in config.stages])
    if config.teacher_once_on_real_pairs and not hasattr(teacher, "receptive_field_radius"):
        raise LiteDenoiseError(
            f"teacher_once_on_real_pairs runs the teacher on whole images through the tiled inference path, which needs "
            f"our weights (a TeacherNet or LiteDenoiseNet .safetensors); {name} can only run online"
        )
    return teacher


def initial_model(config: TrainConfig) -> torch.nn.Module:
    """A fresh network, or the ``init_weights`` file's network when fine-tuning."""
    model = build_model(config.model, config.width)
    if config.init_weights is not None:
        source = load_model(config.init_weights)
        if type(source) is not type(model) or source.width != model.width:
            raise LiteDenoiseError(
                f"init weights {config.init_weights} are {type(source).__name__}(width={source.width}), "
                f"but the run trains {type(model).__name__}(width={model.width})"
            )
        model.load_state_dict(source.state_dict())
    return model


def training_data_description(config: TrainConfig) -> str:
    """The data samples were drawn from: real pairs unless real_fraction is 0, transplanted real
    noise if transplant_fraction is not 0, synthesis unless the two leave nothing for it; the sets
    of every stage, its own where it names them."""
    sources = [stage_sources(config, stage) for stage in config.stages]
    pair_sets = ", ".join(dict.fromkeys(spec for pairs, _ in sources for spec in pairs)) or "none"
    photo_sets = ", ".join(dict.fromkeys(spec for _, photos in sources for spec in photos)) or "none"
    parts = []
    if config.real_fraction > 0.0:
        parts.append(f"real pairs {pair_sets}")
    if config.transplant_fraction > 0.0:
        parts.append(
            f"real noise of {pair_sets} transplanted onto {photo_sets} "
            f"(transplant_fraction {config.transplant_fraction}, levels {config.transplant_levels})"
        )
    if config.real_fraction + config.transplant_fraction < 1.0 - 1e-9:
        noise = config.noise_model
        if config.noise_model == "camera":
            defaults = CameraNoiseRange()
            changed = [
                f"{f.name} {config_to_yaml_value(getattr(config.camera_noise, f.name))}"
                for f in dataclasses.fields(CameraNoiseRange)
                if getattr(config.camera_noise, f.name) != getattr(defaults, f.name)
            ]
            noise += f" ({', '.join(changed)})" if changed else ""
        parts.append(f"{noise} synthetic noise on {photo_sets}")
    return "; ".join([*parts, f"real_fraction {config.real_fraction}"])


def validation_set_names(config: TrainConfig) -> list[str]:
    return [config.val_set, *(f"{config.val_set} with camera noise '{level}'" for level in config.val_noise_levels)]


def validation_sets(config: TrainConfig, data_root: Path) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """The real validation pairs, then for each of ``val_noise_levels`` their clean images with the
    evaluation's seeded camera noise (``camera_noise.evaluation_noise``, seed 0), by name."""
    from litedenoise.data.camera_noise import evaluation_noise

    files = matched_pairs(config.val_set, data_root)
    real = [(read_rgb_uint8(pair.noisy), read_rgb_uint8(pair.clean)) for pair in files]
    synthetic = [
        [(evaluation_noise(clean, level, 0, pair.name), clean) for pair, (_, clean) in zip(files, real, strict=True)]
        for level in config.val_noise_levels
    ]
    return dict(zip(validation_set_names(config), [real, *synthetic], strict=True))


def validation_scores(model: torch.nn.Module, val_sets: dict[str, list], bf16: bool) -> dict[str, float]:
    """PSNR on each of ``validation_sets``, by name; their mean is what picks a run's best weights."""
    return {name: evaluate(model, pairs, bf16=bf16, with_ssim=False)["psnr"] for name, pairs in val_sets.items()}


def ema_with_warmup(decay: float):
    """EMA update with decay ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so that the
    average forgets the random initialisation quickly instead of carrying it for ~1/(1-decay) steps.

    For ``AveragedModel(multi_avg_fn=...)``: it updates a device's tensors together, so ``n`` is
    read back from a GPU once per step, not once per tensor (the teacher has 207)."""

    def average(averaged: list[torch.Tensor], current: list[torch.Tensor], updates: torch.Tensor) -> None:
        count = float(updates)
        step_decay = min(decay, (1.0 + count) / (10.0 + count))
        for average_tensor, current_tensor in zip(averaged, current, strict=True):
            average_tensor.lerp_(current_tensor, 1.0 - step_decay)

    return average


def learning_rate_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from lr to lr_min over the remaining steps."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.total_steps - config.warmup_steps))
    floor = config.lr_min / config.lr
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def slow_bf16_warning(config: TrainConfig, device: torch.device) -> str | None:
    """A line for the user when ``bf16`` autocast would run emulated on this CPU (10-15x slower than fp32)."""
    from litedenoise.runtimes import cpu_has_native_bf16

    if config.bf16 and device.type == "cpu" and not cpu_has_native_bf16():
        return "warning: bf16=true on a CPU without AVX-512 BF16 or AMX trains 10-15x slower than fp32 (docs/training.md); override with bf16=false"
    return None


def save_checkpoint(path: Path, **state) -> None:
    temporary = path.with_name(path.name + ".tmp")
    torch.save(state, temporary)
    temporary.replace(path)


def train(
    config: TrainConfig, run_dir: str | Path, data_root: Path, resume: bool = False, teacher: torch.nn.Module | None = None
) -> Path:
    """Train per ``config``, writing logs and checkpoints to ``run_dir``; returns the best weights' path.

    ``teacher`` is a distillation teacher given as a module (taking the place of
    ``config.teacher_weights``). Under ``torchrun`` every process runs this; rank 0 validates,
    logs and writes files.
    """
    processes = distributed.start()
    try:
        return _train(config, Path(run_dir), data_root, resume, processes, teacher)
    finally:
        distributed.stop(processes)


def _train(
    config: TrainConfig, run_dir: Path, data_root: Path, resume: bool, processes: distributed.Processes, teacher_module: torch.nn.Module | None
) -> Path:
    main_process = processes.is_main
    if run_dir.exists() and not run_dir.is_dir():
        raise LiteDenoiseError(f"{run_dir} is a file, not a run folder")
    if not resume and ((run_dir / CHECKPOINT_NAME).exists() or (run_dir / BEST_WEIGHTS_NAME).exists()):
        raise LiteDenoiseError(f"{run_dir} already holds a run; resume it (--resume {run_dir}) or give another folder")
    torch.manual_seed(config.seed)
    model = initial_model(config)
    if teacher_module is not None:
        teacher_source, teacher_name = teacher_module, type(teacher_module).__name__
    else:
        teacher_source = teacher_name = config.teacher_weights
    for option in ("teacher_tta", "teacher_once_on_real_pairs"):
        if teacher_source is None and getattr(config, option):
            raise LiteDenoiseError(f"{option} needs a teacher: give --teacher or teacher_weights")
    teacher = None if teacher_source is None else frozen_teacher(teacher_source, teacher_name, config)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(processes.device, memory_format=memory_format)
    if teacher is not None:
        teacher = teacher.to(processes.device, memory_format=memory_format)
    ema = AveragedModel(model, multi_avg_fn=ema_with_warmup(config.ema_decay))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.99), weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate_factor(step, config))
    step, best_psnr = 0, -math.inf

    checkpoint_path = run_dir / CHECKPOINT_NAME
    if resume:
        if not checkpoint_path.is_file():
            raise LiteDenoiseError(f"nothing to resume: {checkpoint_path} not found")
        try:
            state = torch.load(checkpoint_path, weights_only=True, map_location=processes.device)
            model.load_state_dict(state["model"])
            ema.load_state_dict(state["ema"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
        except Exception as error:  # truncated, another program's file, another network's state
            raise LiteDenoiseError(f"{checkpoint_path} is damaged or not a checkpoint of this {config.model} run: {str(error).splitlines()[0][:200]}") from None
        if "torch_rng" in state:  # absent in checkpoints from before exact resume
            torch.set_rng_state(state["torch_rng"].cpu())
        step, best_psnr = int(state["step"]), float(state["best_psnr"])
        # the saved state holds the run's old lr and weight_decay; a resume's overrides of them count
        scheduler.base_lrs = [config.lr] * len(optimizer.param_groups)
        for group in optimizer.param_groups:
            group.update(initial_lr=config.lr, lr=config.lr * learning_rate_factor(step, config), weight_decay=config.weight_decay)
    trainable = model
    if processes.world_size > 1:
        trainable = torch.nn.parallel.DistributedDataParallel(model, device_ids=[processes.device.index] if processes.device.type == "cuda" else None)
    if config.compile:
        trainable = torch.compile(trainable)

    if main_process and (warning := slow_bf16_warning(config, processes.device)):  # before any teacher pass
        print(warning, file=sys.stderr, flush=True)
    teacher_on_real_pairs = config.teacher_once_on_real_pairs and config.real_fraction > 0.0  # transplants run it online
    datasets = stage_datasets(config, data_root, announce=main_process, teacher=teacher if teacher_on_real_pairs else None)
    if main_process:
        val_sets = validation_sets(config, data_root)
        run_dir.mkdir(parents=True, exist_ok=True)  # only now: a run refused above leaves no folder behind
        (run_dir / "config.yaml").write_text(config_to_yaml(config))
        log_file = (run_dir / "log.csv").open("a", newline="")
        log = csv.writer(log_file)
        if not resume:
            log.writerow(["step", "loss", "lr", "val_psnr", "seconds"])
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tensorboard"))

    def checkpoint() -> None:
        save_checkpoint(
            checkpoint_path,
            model=model.state_dict(),
            ema=ema.state_dict(),
            optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict(),
            torch_rng=torch.get_rng_state(),
            step=step,
            best_psnr=best_psnr,
        )

    started = time.monotonic()
    progress = tqdm(total=config.total_steps, initial=step, dynamic_ncols=True, disable=not main_process)
    autocast = torch.autocast(processes.device.type, dtype=torch.bfloat16, enabled=config.bf16)
    running_loss, running_count = 0.0, 0
    model.train()
    batches = stage_batches(config, datasets, step, processes.rank, processes.world_size)
    for stage_index, noisy, clean, *cached in batches:
        progress.set_description(f"{config.model} stage {stage_index} {config.stages[stage_index].crop_size}px")
        noisy = noisy.to(processes.device, memory_format=memory_format)
        clean = clean.to(processes.device, memory_format=memory_format)
        with autocast:
            output = trainable(noisy)
        if teacher is None:
            loss = pixel_loss(config.loss, output.float(), clean)
        else:
            with torch.no_grad(), autocast:
                teacher_output = teacher_targets(teacher, noisy, *cached)
            loss = distillation_loss(config.loss, output.float(), teacher_output, clean, config.alpha_teacher)
        global_loss = distributed.mean_over_processes(loss.detach(), processes).item()
        if not math.isfinite(global_loss):
            checkpoint_note = f"last good checkpoint: {checkpoint_path}" if checkpoint_path.exists() else "no checkpoint yet"
            raise LiteDenoiseError(f"loss became {global_loss} at step {step}; stopping ({checkpoint_note})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        ema.update_parameters(model)
        step += 1
        running_loss += global_loss
        running_count += 1
        progress.update(1)

        # every process must agree to stop, or the others would wait for it forever
        out_of_time = config.max_minutes is not None and distributed.any_process(
            time.monotonic() - started > 60 * config.max_minutes, processes
        )
        if not main_process:
            if out_of_time:
                break
            continue
        val_psnr = None
        if step % config.val_every == 0 or step == config.total_steps or out_of_time:  # a stop leaves best weights
            scores = validation_scores(ema.module, val_sets, config.bf16)
            val_psnr = sum(scores.values()) / len(scores)
            if len(scores) > 1:
                for name, value in scores.items():
                    writer.add_scalar(f"val/psnr {name}", value, step)
            writer.add_scalar("val/psnr", val_psnr, step)
            if val_psnr > best_psnr:
                best_psnr = val_psnr
                save_weights(run_dir / BEST_WEIGHTS_NAME, ema.module, weights_metadata(config, step, val_psnr, teacher_name))
        if step % 50 == 0 or val_psnr is not None:
            mean_loss = running_loss / max(1, running_count)
            running_loss, running_count = 0.0, 0
            lr = optimizer.param_groups[0]["lr"]
            log.writerow([step, f"{mean_loss:.6f}", f"{lr:.3e}", "" if val_psnr is None else f"{val_psnr:.3f}", f"{time.monotonic() - started:.0f}"])
            log_file.flush()
            writer.add_scalar("train/loss", mean_loss, step)
            writer.add_scalar("train/lr", lr, step)
            progress.set_postfix(loss=f"{mean_loss:.4f}", best_val=f"{best_psnr:.2f}")
        if step % config.checkpoint_every == 0 or step == config.total_steps or out_of_time:
            checkpoint()
        if out_of_time:
            break
    progress.close()
    if main_process:
        writer.close()
        log_file.close()
        print(f"trained {parameter_count(model):,} parameters to step {step}; best val PSNR {best_psnr:.2f} dB")
    return run_dir / BEST_WEIGHTS_NAME


POLYU_LICENCE = "weights trained on PolyU (non-commercial research use only)"


def training_licence(config: TrainConfig) -> str:
    """What the data's terms make of the weights: PolyU's restriction carries over to anything trained on it."""
    sources = [spec for stage in config.stages for specs in stage_sources(config, stage) for spec in specs]
    if any(source.startswith("polyu:") or "polyu" in Path(source).parts for source in sources):
        return POLYU_LICENCE
    return "the terms of the training data named under 'data' apply"


def teacher_targets(
    teacher: torch.nn.Module, noisy: torch.Tensor, cached: torch.Tensor | None = None, has_cached: torch.Tensor | None = None
) -> torch.Tensor:
    """The teacher's output for a batch: ``cached`` where ``has_cached`` says the dataset holds
    it (real pairs, with ``teacher_once_on_real_pairs``), run online for the other samples."""
    if cached is None:
        return teacher(noisy).float()
    targets = cached.to(noisy.device)
    online = ~has_cached.to(noisy.device)
    if online.any():
        targets[online] = teacher(noisy[online]).float()
    return targets


def teacher_description(teacher_name: str | None, config: TrainConfig) -> str:
    if teacher_name is None:
        return "none (supervised)"
    ensemble = "the x8 self-ensemble of " if config.teacher_tta else ""
    once = ", run once on the real pairs' whole images" if config.teacher_once_on_real_pairs else ""
    return f"{ensemble}{teacher_name} (alpha_teacher {config.alpha_teacher}{once})"


def weights_metadata(config: TrainConfig, step: int, val_psnr: float, teacher_name: str | None) -> dict[str, str]:
    return {
        "data": training_data_description(config),
        "licence": training_licence(config),
        "teacher": teacher_description(teacher_name, config),
        "recipe": config_to_yaml(config),
        "step": str(step),
        "val_set": " | ".join(validation_set_names(config)) + (" (val_psnr: the mean over these)" if config.val_noise_levels else ""),
        "val_psnr": f"{val_psnr:.3f}",
    }
