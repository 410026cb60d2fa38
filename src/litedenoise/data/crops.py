"""Random training crops from real noisy/clean pairs and from clean photos with synthetic noise.

Every sample is a pure function of ``(seed, sample_index)``: the crop position, the source
image, the flip/rotation and the noise all come from a generator seeded with those two numbers.
A resumed run therefore sees exactly the samples an uninterrupted one would, whatever the
number of loader workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset

from litedenoise.data.camera_noise import CameraNoiseRange, add_camera_noise
from litedenoise.data.noise import (
    PoissonGaussianRange,
    add_gaussian_noise,
    add_poisson_gaussian_noise,
)
from litedenoise.data.real_noise import fit_noise_levels, transplant_noise

NOISE_MODELS = ("camera", "poisson_gaussian", "gaussian")
DEFAULT_CAMERA_NOISE = CameraNoiseRange()  # frozen, so one shared default is safe


def synthesize_noise(
    clean: np.ndarray, noise_model: str, rng: np.random.Generator, camera_noise: CameraNoiseRange = DEFAULT_CAMERA_NOISE
) -> np.ndarray:
    """A noisy version of a clean float HxWx3 crop in [0, 1], parameters drawn from ``rng``.

    ``camera``: the full unprocess / raw noise / re-process pipeline (``camera_noise.py``), its
    parameters drawn from ``camera_noise``;
    ``poisson_gaussian``: signal-dependent noise in linear light only; ``gaussian``: the
    textbook baseline.
    """
    if noise_model == "camera":
        return add_camera_noise(clean, camera_noise.sample(rng), rng)
    if noise_model == "poisson_gaussian":
        return add_poisson_gaussian_noise(clean, PoissonGaussianRange().sample(rng), rng)
    if noise_model == "gaussian":
        return add_gaussian_noise(clean, rng)
    raise ValueError(f"unknown noise model {noise_model!r}")


def dihedral(image: np.ndarray, variant: int) -> np.ndarray:
    """One of the 8 flips/90-degree rotations of an HxWxC array (variant in 0..7)."""
    if variant & 4:
        image = image[:, ::-1]
    return np.rot90(image, k=variant & 3)


def crop_windows(shape: tuple[int, ...], crop_size: int) -> int:
    """How many crop positions an image of this shape offers: its weight when crops are drawn."""
    return max(shape[0] - crop_size + 1, 0) * max(shape[1] - crop_size + 1, 0)


@dataclass
class CropSources:
    """Decoded uint8 HxWx3 images held in RAM: (noisy, clean) pairs and clean-only photos, and,
    when a distillation teacher has been run on the real pairs' noisy images, its outputs (one
    per pair, in the same order)."""

    real_pairs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    clean_photos: list[np.ndarray] = field(default_factory=list)
    teacher_outputs: list[np.ndarray] | None = None

    def largest_crop(self) -> int:
        sides = [min(c.shape[:2]) for _, c in self.real_pairs] + [min(c.shape[:2]) for c in self.clean_photos]
        return max(sides, default=0)


class TrainingCrops(Dataset):
    """Map-style dataset of ``(noisy, clean)`` float32 CHW tensors in [0, 1]; with the sources'
    ``teacher_outputs``, of ``(noisy, clean, teacher, has_teacher)``, where ``teacher`` is the
    teacher's output cropped with a real pair (zeros, and ``has_teacher`` False, for other samples).

    ``real_fraction`` of samples come from real pairs, ``transplant_fraction`` from clean photos
    with the noise of a real pair's crop moved onto them (``real_noise.py``; ``transplant_levels``
    says how a pair's noise level function is fitted: ``own`` or ``pooled_shape``), the rest from clean
    photos with ``noise_model``'s synthetic noise. Images are picked in proportion to their usable
    area, so a full-size photo is sampled more often than a small crop. The index space is
    unbounded: index ``i`` is simply the ``i``-th sample of the run.
    """

    def __init__(
        self,
        sources: CropSources,
        crop_size: int,
        real_fraction: float,
        seed: int,
        noise_model: str = "poisson_gaussian",
        camera_noise: CameraNoiseRange = DEFAULT_CAMERA_NOISE,
        transplant_fraction: float = 0.0,
        transplant_levels: str = "own",
    ):
        self.crop_size = crop_size
        self.seed = seed
        self.noise_model = noise_model
        self.camera_noise = camera_noise
        usable = [i for i, (_, clean) in enumerate(sources.real_pairs) if min(clean.shape[:2]) >= crop_size]
        self.real_pairs = [sources.real_pairs[i] for i in usable]
        self.teacher_outputs = None if sources.teacher_outputs is None else [sources.teacher_outputs[i] for i in usable]
        self.clean_photos = [c for c in sources.clean_photos if min(c.shape[:2]) >= crop_size]
        if not self.real_pairs and not self.clean_photos:
            raise ValueError(f"no source image is at least {crop_size}x{crop_size}")
        self.real_fraction = real_fraction if self.clean_photos else 1.0
        self.transplant_fraction = transplant_fraction if self.clean_photos else 0.0
        if not self.real_pairs:
            self.real_fraction = self.transplant_fraction = 0.0
        self.real_weights = self._area_weights([clean for _, clean in self.real_pairs])
        self.clean_weights = self._area_weights(self.clean_photos)
        self.noise_levels = fit_noise_levels(self.real_pairs, transplant_levels) if self.transplant_fraction else []

    def _area_weights(self, images: list[np.ndarray]) -> np.ndarray:
        areas = np.array([crop_windows(i.shape, self.crop_size) for i in images], dtype=np.float64)
        return areas / areas.sum() if len(areas) else areas

    def __len__(self) -> int:
        return 2**62

    def _crop_window(self, rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[slice, slice]:
        top = rng.integers(0, shape[0] - self.crop_size + 1)
        left = rng.integers(0, shape[1] - self.crop_size + 1)
        return slice(top, top + self.crop_size), slice(left, left + self.crop_size)

    def _real_crop(self, rng: np.random.Generator, pair: int | None = None) -> tuple[np.ndarray, ...]:
        """A random (noisy, clean) float crop of real pair ``pair`` (drawn by area if None), and the
        teacher's output in the same window when the sources hold it."""
        if pair is None:
            pair = rng.choice(len(self.real_pairs), p=self.real_weights)
        images = self.real_pairs[pair] if self.teacher_outputs is None else (*self.real_pairs[pair], self.teacher_outputs[pair])
        rows, cols = self._crop_window(rng, images[1].shape)
        return tuple(image[rows, cols].astype(np.float32) / 255.0 for image in images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        rng = np.random.default_rng([self.seed, index])
        variant = int(rng.integers(8))
        kind = rng.random()
        teacher = None
        if kind < self.real_fraction:
            noisy, clean, *cached = self._real_crop(rng)
            teacher = cached[0] if cached else None
        else:
            photo = self.clean_photos[rng.choice(len(self.clean_photos), p=self.clean_weights)]
            rows, cols = self._crop_window(rng, photo.shape)
            clean = photo[rows, cols].astype(np.float32) / 255.0
            if kind < self.real_fraction + self.transplant_fraction:
                pair = rng.choice(len(self.real_pairs), p=self.real_weights)
                source_noisy, source_clean, *_ = self._real_crop(rng, pair)
                # The noise's own orientation, independent of the photo's.
                source_variant = int(rng.integers(8))
                source_noisy, source_clean = (dihedral(x, source_variant) for x in (source_noisy, source_clean))
                noisy = transplant_noise(clean, source_noisy, source_clean, self.noise_levels[pair])
            else:
                noisy = synthesize_noise(clean, self.noise_model, rng, self.camera_noise)
            # Real pairs are stored as 8-bit files; quantise the others the same way.
            noisy = np.round(noisy * 255.0) / 255.0
        noisy, clean = (torch.from_numpy(np.ascontiguousarray(dihedral(x, variant).transpose(2, 0, 1))).float() for x in (noisy, clean))
        if self.teacher_outputs is None:
            return noisy, clean
        if teacher is None:
            return noisy, clean, torch.zeros_like(clean), torch.tensor(False)
        return noisy, clean, torch.from_numpy(np.ascontiguousarray(dihedral(teacher, variant).transpose(2, 0, 1))), torch.tensor(True)
