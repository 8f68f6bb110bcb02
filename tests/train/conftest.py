"""Shared helpers of the training-stack tests: a tiny toy config, no run folder inherited from the
environment (one torch thread: tests/conftest.py)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

TINY = {
    "seed": 3,
    "model": {"name": "toy-mlp", "hidden": 16, "layers": 2},
    "task": {"name": "toy-regression", "n_samples": 128},
    "data": {"batch_size": 16, "split": [0.75, 0.125, 0.125]},
    "optim": {"name": "adamw", "lr": 0.01, "clip_grad_norm": 1.0},
    "schedule": {"name": "cosine", "warmup_steps": 4},
    "trainer": {"max_epochs": 3, "progress_bar": False, "precision": "32"},
}


def tiny_config(**sections) -> dict:
    """The tiny toy config with some sections updated (``trainer={"max_epochs": 2}``)."""
    config = copy.deepcopy(TINY)
    for name, values in sections.items():
        if isinstance(values, dict):
            config.setdefault(name, {}).update(values)
        else:
            config[name] = values
    return config


@pytest.fixture(autouse=True)
def _no_run_dir():
    yield
    os.environ.pop("NOETHER_RUN_DIR", None)


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    env.pop("NOETHER_RUN_DIR", None)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env
