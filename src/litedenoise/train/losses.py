"""Pixel losses for restoration training."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

TensorOrArray = TypeVar("TensorOrArray", torch.Tensor, np.ndarray)
PIXEL_LOSSES = ("l1", "mse", "charbonnier", "psnr")
CHARBONNIER_EPSILON = 1e-3
# keeps log10 finite for an exact match; far below 8-bit rounding's squared error, (1/255)^2 / 12 = 1.3e-6
PSNR_MSE_FLOOR = 1e-10


def pixel_loss(name: str, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean ``l1``, ``mse``, ``charbonnier`` or ``psnr`` loss between two same-shape NCHW tensors.

    ``psnr`` is minus the batch's mean PSNR (data range 1): each image's squared error is averaged
    before the log, so every image counts by its PSNR, as in the evaluation's mean over images,
    and not by its share of the batch's error, which L1 and MSE give to the noisiest images.
    """
    if name == "l1":
        return F.l1_loss(estimate, target)
    if name == "mse":
        return F.mse_loss(estimate, target)
    if name == "charbonnier":
        return torch.sqrt((estimate - target) ** 2 + CHARBONNIER_EPSILON**2).mean()
    if name == "psnr":
        per_image_mse = ((estimate - target) ** 2).flatten(1).mean(dim=1)
        return (10.0 * torch.log10(per_image_mse + PSNR_MSE_FLOOR)).mean()
    raise ValueError(f"unknown loss {name!r}")


def distillation_loss(
    name: str, student: torch.Tensor, teacher: torch.Tensor, ground_truth: torch.Tensor, alpha_teacher: float
) -> torch.Tensor:
    """``alpha_teacher * L(student, teacher) + (1 - alpha_teacher) * L(student, ground_truth)``.

    The paper's alpha is 0.9: the teacher's output is nine times the ground truth's weight.
    """
    return alpha_teacher * pixel_loss(name, student, teacher) + (1.0 - alpha_teacher) * pixel_loss(
        name, student, ground_truth
    )


def blended_target(teacher: TensorOrArray, ground_truth: TensorOrArray, alpha_teacher: float) -> TensorOrArray:
    """``alpha_teacher * teacher + (1 - alpha_teacher) * ground_truth``: distilling offline.

    Under ``mse`` the distillation loss is ``mse(student, blended_target)`` plus a constant, so
    training on pairs whose clean side is this target (computed once, ``benchmarks/teacher_targets.py``)
    has the gradients of distilling from the teacher online, at none of its cost per step.
    """
    return alpha_teacher * teacher + (1.0 - alpha_teacher) * ground_truth
