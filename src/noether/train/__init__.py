"""One training stack for every model: YAML config, Lightning, resume, logs, plots, DDP.

Only the pieces a model or task file needs are imported here (no Lightning), so registering is
cheap::

    from noether.train import DataPath, Splits, Task, register_model, register_task

Training itself: :func:`noether.train.run.train` and :func:`noether.train.evaluate.evaluate`,
or the commands ``noether train`` and ``noether evaluate``. See docs/training.md.
"""

from noether.train.registry import register_model, register_task
from noether.train.task import DataPath, Splits, Task

__all__ = ["DataPath", "Splits", "Task", "register_model", "register_task"]
