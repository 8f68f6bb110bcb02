"""One training stack for every model: YAML config, Lightning, resume, logs, plots, DDP.

What a model or task file needs lives in :mod:`noether.core` (no Lightning), so registering is
cheap::

    from noether.core import DataPath, Splits, Task, register_model, register_task

The same names are re-exported here for code written against earlier versions. Training itself:
:func:`noether.train.run.train` and :func:`noether.train.evaluate.evaluate`, or the commands
``noether train`` and ``noether evaluate``. See docs/training.md.
"""

from noether.core.registry import register_model, register_task
from noether.core.task import DataPath, Splits, Task

__all__ = ["DataPath", "Splits", "Task", "register_model", "register_task"]
