"""The training recipe the studies share: AdamW, warm-up plus cosine, one CPU process per run."""

from __future__ import annotations

from typing import Any

__all__ = ["cpu_run_sections"]


def cpu_run_sections(lr: float, steps: int, max_epochs: int) -> dict[str, dict[str, Any]]:
    """The ``optim``, ``schedule`` and ``trainer`` sections of a study run's config.

    AdamW at peak ``lr`` with gradient clipping at 10, 5 % linear warm-up then cosine decay to 1 % of
    ``lr``, ``steps`` optimiser steps (``max_epochs`` only bounds the epochs that hold them), float32
    on one CPU process, no progress bar.
    """
    return {
        "optim": {"name": "adamw", "lr": lr, "clip_grad_norm": 10.0},
        "schedule": {"name": "cosine", "warmup_steps": steps // 20, "min_lr_ratio": 0.01},
        "trainer": {
            "max_epochs": max_epochs,
            "max_steps": steps,
            "precision": "32",
            "accelerator": "cpu",
            "devices": 1,
            "num_nodes": 1,
            "progress_bar": False,
            "log_every_n_steps": 10,
        },
    }
