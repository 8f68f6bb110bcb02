"""Learning-rate schedules: linear warm-up, then constant, cosine decay or reduce-on-plateau.

The factors are pure functions of the optimiser step, so a resumed run reproduces them exactly.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau

from noether.train.config import ScheduleConfig


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Learning-rate factor of linear warm-up at optimiser step ``step`` (0-based): ``(step+1)/W``
    during the first ``W`` steps, 1 after."""
    if warmup_steps <= 0 or step >= warmup_steps:
        return 1.0
    return (step + 1) / warmup_steps


def cosine_factor(step: int, warmup_steps: int, total_steps: int, min_ratio: float = 0.0) -> float:
    """Warm-up, then half a cosine from 1 down to ``min_ratio`` at ``total_steps``."""
    if step < warmup_steps:
        return warmup_factor(step, warmup_steps)
    span = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / span, 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def lightning_scheduler(
    optimizer: Optimizer, config: ScheduleConfig, total_steps: int
) -> dict[str, Any]:
    """The ``lr_scheduler`` entry of ``configure_optimizers`` for a schedule.

    Plateau reduction acts at epoch ends on ``val/loss``; its warm-up is applied per step by
    :func:`apply_warmup`, because a per-step ``LambdaLR`` would overwrite the reductions.
    """
    if config.name == "constant":
        factor = lambda step: warmup_factor(step, config.warmup_steps)  # noqa: E731
        return {"scheduler": LambdaLR(optimizer, factor), "interval": "step"}
    if config.name == "cosine":

        def factor(step: int) -> float:
            return cosine_factor(step, config.warmup_steps, total_steps, config.min_lr_ratio)

        return {"scheduler": LambdaLR(optimizer, factor), "interval": "step"}
    plateau = ReduceLROnPlateau(
        optimizer, mode="min", factor=config.factor, patience=config.patience, min_lr=config.min_lr
    )
    return {"scheduler": plateau, "interval": "epoch", "monitor": "val/loss", "strict": False}


def apply_warmup(optimizer: Optimizer, step: int, warmup_steps: int) -> None:
    """Set each group's learning rate to its ``initial_lr`` times the warm-up factor (plateau)."""
    if step >= warmup_steps:
        return
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])
        group["lr"] = group["initial_lr"] * warmup_factor(step, warmup_steps)


def make_optimizer(parameters, config) -> Optimizer:
    """The optimiser named by an :class:`~noether.train.config.OptimConfig`."""
    if config.name == "adamw":
        return torch.optim.AdamW(
            parameters, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
    if config.name == "adam":
        return torch.optim.Adam(
            parameters, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
    return torch.optim.SGD(
        parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
