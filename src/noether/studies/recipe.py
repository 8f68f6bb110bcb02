"""The training recipe the studies share: AdamW, warm-up plus cosine, one CPU process per run;
and how a study reuses a finished run (its ``result.json`` records the config it was made with)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["cpu_run_sections", "first_change", "refuse_changed", "reusable_result"]


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


def first_change(old: Any, new: Any, name: str = "") -> str | None:
    """The first key where two JSON values differ, as ``key old -> new``; None if equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*new, *(k for k in old if k not in new)]:
            change = first_change(old.get(key), new.get(key), f"{name}.{key}" if name else key)
            if change:
                return change
        return None
    return None if old == new else f"{name} {old} -> {new}"


def reusable_result(done: Path, config: dict[str, Any], overwrite: bool) -> dict | None:
    """The result a finished run wrote to ``done`` (its ``result.json``) when it was made with
    ``config``; None when there is none, or when it was made with another config and
    ``overwrite`` (the caller trains it again). Another config without ``overwrite`` is a
    ``ValueError`` naming the run folder and the first differing key."""
    if not done.is_file():
        return None
    result = json.loads(done.read_text())
    change = first_change(result.get("config"), json.loads(json.dumps(config)))
    if change is None:
        return result
    if not overwrite:
        raise ValueError(
            f"{done.parent} was trained with other settings ({change}); pass --overwrite to "
            f"start it again"
        )
    return None


def refuse_changed(changed: list[tuple[Any, str]], overwrite: bool) -> None:
    """Raise ``ValueError`` naming the first ``(folder, change)`` of runs made with other
    settings, unless ``overwrite`` (which trains them again)."""
    if changed and not overwrite:
        folder, change = changed[0]
        raise ValueError(
            f"{folder} was trained with other settings ({change}); pass --overwrite to start "
            f"it again"
        )
