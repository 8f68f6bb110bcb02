"""A trained model rebuilt from its run: the config's model with the checkpoint's weights."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from noether.train.checkpoints import BEST, find_checkpoint, load_checkpoint
from noether.train.config import build, load_config

__all__ = ["FLOAT64_PRECISIONS", "load_trained_model"]

FLOAT64_PRECISIONS = ("64", "64-true", "double")


def load_trained_model(path: str | Path, prefer: str = BEST) -> nn.Module:
    """The model of a run folder (``prefer``, else the other checkpoint) or of one ``.ckpt`` file.

    Rebuilt through the training registry from the config stored in the checkpoint, in float64 when
    the run trained in float64 (its weights load without rounding), in eval mode on the CPU; with EMA
    the checkpoint holds the averaged weights.
    """
    checkpoint = load_checkpoint(find_checkpoint(path, prefer=prefer))
    config = load_config(checkpoint["noether"]["config"])
    model = build(config.model, "model")
    if str(config.trainer.precision) in FLOAT64_PRECISIONS:
        model = model.double()
    prefix = "model."
    state = {
        k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)
    }
    model.load_state_dict(state)
    return model.eval()
