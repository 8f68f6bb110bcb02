"""A trained model rebuilt from its run: the config's model with the checkpoint's weights."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from noether.core.task import Task
from noether.train.checkpoints import BEST, find_checkpoint, load_checkpoint, save_checkpoint
from noether.train.config import build, model_component

__all__ = ["FLOAT64_PRECISIONS", "finish_best_checkpoint", "load_trained_model"]

PREFIX = "model."

FLOAT64_PRECISIONS = ("64", "64-true", "double")


def load_trained_model(path: str | Path, prefer: str = BEST) -> nn.Module:
    """The model of a run folder (``prefer``, else the other checkpoint) or of one ``.ckpt`` file.

    Rebuilt through the training registry from the ``model:`` section of the config stored in the
    checkpoint (the task and its data are not needed), in float64 when
    the run trained in float64 (its weights load without rounding), in eval mode on the CPU; with EMA
    the checkpoint holds the averaged weights.
    """
    return _model_of(load_checkpoint(find_checkpoint(path, prefer=prefer)))


def _model_of(checkpoint: dict) -> nn.Module:
    config = checkpoint["noether"]["config"]
    model = build(model_component(config["model"], config.get("imports") or ()), "model")
    if str((config.get("trainer") or {}).get("precision", "auto")) in FLOAT64_PRECISIONS:
        model = model.double()
    state = {
        k[len(PREFIX) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(PREFIX)
    }
    model.load_state_dict(state)
    return model.eval()


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
    model = _model_of(checkpoint)
    if not task.after_training(model):
        return False
    state = checkpoint["state_dict"]
    for key, value in model.state_dict().items():
        state[PREFIX + key] = value.to(state[PREFIX + key].dtype)
    checkpoint["noether"]["after_training"] = True
    save_checkpoint(checkpoint, path)
    return True
