"""The bottom layer: what every family of noether may import, and which imports none of them.

- :mod:`noether.core.registry`: models and tasks registered by name.
- :mod:`noether.core.task`: the :class:`Task` base class of training tasks.
- :mod:`noether.core.io`: atomic writes and figure saving.
"""

from noether.core.registry import register_model, register_task
from noether.core.task import DataPath, Splits, Task

__all__ = ["DataPath", "Splits", "Task", "register_model", "register_task"]
