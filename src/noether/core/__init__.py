"""The bottom layer: what every family of noether may import, and which imports none of them.

- :mod:`noether.core.registry`: models and tasks registered by name.
- :mod:`noether.core.task`: the :class:`Task` base class of training tasks.
- :mod:`noether.core.config` and :mod:`noether.core.validation`: configs as values, the typed
  validator and YAML round trips.
- :mod:`noether.core.io`: atomic writes and figure saving.
- :mod:`noether.core.shards`: the one HDF5 shard layer.
- :mod:`noether.core.cost`: the one executed-FLOP counter.
"""

from noether.core.registry import register_model, register_task
from noether.core.task import DataPath, Splits, Task

__all__ = ["DataPath", "Splits", "Task", "register_model", "register_task"]
