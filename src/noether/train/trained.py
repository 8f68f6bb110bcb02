"""The end of a run: the task may edit the model of ``best.ckpt`` (:func:`finish_best_checkpoint`).

Loading a trained model needs no trainer: :func:`noether.core.checkpoints.load_trained_model`
(re-exported here for code written against earlier versions)."""

from __future__ import annotations

from pathlib import Path

from noether.core.checkpoints import (
    BEST,
    FLOAT64_PRECISIONS,
    PREFIX,
    load_checkpoint,
    load_trained_model,
    model_of,
    save_checkpoint,
)
from noether.core.task import Task

__all__ = ["FLOAT64_PRECISIONS", "finish_best_checkpoint", "load_trained_model"]


def finish_best_checkpoint(checkpoints: str | Path, task: Task) -> bool:
    """Let ``task.after_training`` edit the model of ``<checkpoints>/best.ckpt``; write it back.

    The file is replaced atomically and records ``"after_training": True`` in its ``noether``
    section. Returns False (and leaves the file alone) when there is no best checkpoint or the
    task changed nothing.
    """
    path = Path(checkpoints) / BEST
    if not path.is_file():
        return False
    checkpoint = load_checkpoint(path)
    model = model_of(checkpoint)
    if not task.after_training(model):
        return False
    state = checkpoint["state_dict"]
    for key, value in model.state_dict().items():
        state[PREFIX + key] = value.to(state[PREFIX + key].dtype)
    checkpoint["noether"]["after_training"] = True
    save_checkpoint(checkpoint, path)
    return True
