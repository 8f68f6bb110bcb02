"""What a task is: its data, how samples become a batch, the loss and the compared quantities.

A task subclasses :class:`Task`, takes its options as keyword arguments of ``__init__`` (these are
the keys of the config's ``task:`` section) and is registered with
:func:`noether.core.registry.register_task`. The training stack calls, in order::

    task.datasets()                     once, on every process
    task.collate(samples) -> batch      in the data-loader workers
    task.forward(model, batch) -> pred  train, validation and test steps
    task.loss(pred, batch) -> scalar    train, validation and test steps
    task.compare(pred, batch)           validation and test: MAE, RMSE and parity plots
    task.after_training(model) -> bool  once at the end, on the best checkpoint's model

and, when a run starts from another run's weights, ``task.adapt_initialised(model, ...)`` once
before training.

Validation and test run under ``torch.no_grad()``: a ``forward`` that needs autograd (forces as
``-dE/dr``) wraps its own work in ``torch.enable_grad()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from torch import Tensor, nn
from torch.utils.data import Dataset, default_collate


class MustExist:
    """Marker for :data:`DataPath`: the config validator checks that the path exists."""

    def __repr__(self) -> str:
        return "MustExist()"


DataPath = Annotated[str, MustExist()]
"""Type hint of a task option that names a data file or folder: a missing path stops the run
before training with a message naming the key."""


@dataclass
class Splits:
    """Train, validation and (optional) test datasets, when the task splits its data itself.

    A task that returns one :class:`~torch.utils.data.Dataset` instead has it split by the
    stack with the fractions ``data.split`` and the run's seed; the indices go to ``splits.npz``.
    """

    train: Dataset
    val: Dataset
    test: Dataset | None = None


class Task:
    """Base class of training tasks. Subclasses override the methods marked *required*."""

    units: ClassVar[dict[str, str]] = {}
    """Unit of each quantity returned by :meth:`compare` (for tables and plot labels)."""

    def unit_conversions(self, unit: str) -> dict[str, tuple[str, float, str]]:
        """``{quantity: (from, factor, to)}`` that reports :attr:`units` in ``unit`` (the
        ``trainer.units`` of the console lines). None here: a task with units to change overrides it.

        Raises:
            ValueError: the task has no such unit.
        """
        raise ValueError(
            f"{unit!r}: task {type(self).__name__} has no quantity whose unit can be changed"
        )

    key_aliases: ClassVar[dict[str, str]] = {}
    """Old config keys of this task and their current names (``{"data": "path"}``): a config or
    checkpoint with the old key still loads, and is saved under the new one. The data a task
    reads is ``task.path`` in every task."""

    def datasets(self) -> Dataset | Splits:
        """*Required.* The data: one dataset (the stack splits it) or :class:`Splits`."""
        raise NotImplementedError(f"{type(self).__name__} must implement datasets()")

    def collate(self, samples: list[Any]) -> Any:
        """Turn a list of samples into a batch; PyTorch's ``default_collate`` unless overridden."""
        return default_collate(samples)

    def forward(self, model: nn.Module, batch: Any) -> Any:
        """*Required.* The model's prediction for a batch (a tensor or a dict of tensors)."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def loss(self, pred: Any, batch: Any) -> Tensor:
        """*Required.* The scalar training loss of a batch (a mean over its samples)."""
        raise NotImplementedError(f"{type(self).__name__} must implement loss()")

    def compare(self, pred: Any, batch: Any) -> dict[str, tuple[Tensor, Tensor]]:
        """``{quantity: (predicted, reference)}``: the stack reports each quantity's MAE and RMSE
        over the whole split, and evaluation draws a parity plot of each. Empty by default."""
        return {}

    def batch_size(self, batch: Any) -> int:
        """Number of samples in a batch, for weighting batch means; first tensor's leading axis
        by default."""
        for value in _tensors(batch):
            return int(value.shape[0])
        raise ValueError(
            f"{type(self).__name__}: cannot find a tensor in the batch; override batch_size()"
        )

    def model_defaults(self) -> dict[str, Any]:
        """Model constructor arguments this task implies (input and output widths, say); used
        for the arguments the model accepts and the config leaves out."""
        return {}

    #: True when :meth:`before_validation` changes the model (the stack then refuses weight
    #: averaging, whose swapped-in copy would lose or undo the change)
    edits_model_before_validation: bool = False

    def before_validation(self, model: nn.Module) -> None:
        """Called while training, before each validation pass (on every process), with the model
        as it will be validated and checkpointed: a task may re-fit what the optimiser does not
        train (a constant, say). Nothing by default."""

    def after_training(self, model: nn.Module) -> bool:
        """Called once when training ends (on the first process), with the model of the run's
        ``best.ckpt`` in eval mode on the CPU: a task may re-fit what the optimiser does not
        train without touching the training itself. Returns True when it changed the model; the
        stack then writes the model back into ``best.ckpt`` (``last.ckpt``, which resumes the
        run, keeps the trained state). Nothing by default."""
        return False

    def adapt_initialised(
        self,
        model: nn.Module,
        fresh: Mapping[str, Tensor],
        source_config: Mapping[str, Any],
        new_elements: str = "mean",
    ) -> tuple[dict[str, Any], list[str]]:
        """Called once when a run starts from another run's weights (``finetune.init_from``),
        after they are loaded into ``model``: a task adapts what depends on its data (the atoms
        task: the embedding rows of elements the source never trained on, from the source's
        trained rows or from ``fresh``, the model's own initialisation, per ``new_elements``;
        and the reference energies, refit on this run's training split). ``source_config`` is
        the source run's resolved config. Returns the model options it set (written into this
        run's config.yaml) and one line per change for the console. Nothing by default."""
        return {}, []


def _tensors(batch: Any):
    if isinstance(batch, Tensor):
        yield batch
    elif isinstance(batch, dict):
        for value in batch.values():
            yield from _tensors(value)
    elif isinstance(batch, list | tuple):
        for value in batch:
            yield from _tensors(value)


__all__ = ["DataPath", "MustExist", "Splits", "Task"]
