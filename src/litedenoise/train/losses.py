"""Pixel losses for restoration training."""

from __future__ import annotations

import torch
import torch.nn.functional as F

CHARBONNIER_EPSILON = 1e-3


def pixel_loss(name: str, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean ``l1``, ``mse`` or ``charbonnier`` loss between two same-shape tensors."""
    if name == "l1":
        return F.l1_loss(estimate, target)
    if name == "mse":
        return F.mse_loss(estimate, target)
    if name == "charbonnier":
        return torch.sqrt((estimate - target) ** 2 + CHARBONNIER_EPSILON**2).mean()
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
