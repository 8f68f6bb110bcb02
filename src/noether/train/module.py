"""The LightningModule every run trains: a registered model driven by a registered task."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch import Tensor, nn

from noether import __version__
from noether.core.task import Task
from noether.train.config import Config
from noether.train.metrics import EpochMetrics
from noether.train.schedules import apply_warmup, lightning_scheduler, make_optimizer

CHECKPOINT_KEY = "noether"


def rng_state() -> dict[str, Any]:
    """The global random states of torch, numpy and Python, as checkpoint-safe values."""
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (global state)
    return {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    random.setstate(state["python"])


class TrainingModule(L.LightningModule):
    """Train, validate and test ``model`` on ``task`` with the optimiser of ``config``.

    Logged: ``train/loss`` and ``lr`` every step; ``val/loss``, ``val/<q>_mae``, ``val/<q>_rmse``
    per validation (``test/...`` likewise), exact over the whole split and all processes.
    """

    def __init__(
        self, model: nn.Module, task: Task, config: Config, steps_per_epoch: int | None = None
    ) -> None:
        super().__init__()
        self.model, self.task, self.config = model, task, config
        self.steps_per_epoch = steps_per_epoch
        self.resume_position: tuple[int, int] | None = None
        self._position = (0, 0)
        self._metrics = {"val": EpochMetrics(), "test": EpochMetrics()}
        self.collect_parity = False
        self.parity: dict[str, list[tuple[Tensor, Tensor]]] = {}
        self.results: dict[str, dict[str, float]] = {}
        self.evaluated_samples = 0
        self._train_sum = torch.zeros(2, dtype=torch.float64)  # loss * samples, samples

    def forward(self, batch: Any) -> Any:
        return self.task.forward(self.model, batch)

    # -- training --------------------------------------------------------------------------
    def on_train_epoch_start(self) -> None:
        self._train_sum = torch.zeros(2, dtype=torch.float64, device=self.device)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Samples of this epoch consumed once this batch completes (checkpoints record it).
        self._position = (self.current_epoch, batch_idx + 1)
        schedule = self.config.schedule
        if schedule.name == "plateau" and schedule.warmup_steps:
            apply_warmup(self.optimizers().optimizer, self.global_step, schedule.warmup_steps)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        pred = self.task.forward(self.model, batch)
        loss = self.task.loss(pred, batch)
        n = self.task.batch_size(batch)
        self._train_sum += torch.stack([loss.detach().double() * n, loss.new_tensor(n).double()])
        distributed = self.trainer.world_size > 1
        self.log(
            "train/loss",
            loss,
            on_step=True,
            on_epoch=False,
            prog_bar=True,
            batch_size=n,
            sync_dist=distributed,
        )
        lr = self.optimizers().optimizer.param_groups[0]["lr"]
        self.log("lr", lr, on_step=True, on_epoch=False, batch_size=n)
        return loss

    def train_epoch_loss(self) -> float | None:
        """Mean training loss of the epoch so far over all processes (a collective call);
        ``None`` if no batch was trained (a run resumed from the end of an epoch)."""
        total = self.trainer.strategy.reduce(self._train_sum.clone(), reduce_op="sum")
        return float(total[0] / total[1]) if total[1] > 0 else None

    def configure_optimizers(self) -> dict[str, Any]:
        trained = [p for p in self.model.parameters() if p.requires_grad]  # finetune.freeze
        optimizer = make_optimizer(trained, self.config.optim)
        trainer = self.config.trainer
        if self.steps_per_epoch is None:  # a task's own data module: ask Lightning
            total = int(self.trainer.estimated_stepping_batches)
        else:
            total = trainer.max_epochs * self.steps_per_epoch
            if trainer.max_steps > 0:
                total = min(total, trainer.max_steps)
        scheduler = lightning_scheduler(optimizer, self.config.schedule, total)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    # -- validation and test ---------------------------------------------------------------
    def _evaluate(self, stage: str, batch: Any) -> None:
        pred = self.task.forward(self.model, batch)
        loss = self.task.loss(pred, batch)
        metrics = self._metrics[stage]
        metrics.update_loss(loss, self.task.batch_size(batch))
        for name, (p, r) in self.task.compare(pred, batch).items():
            metrics.update(name, p, r)
            if self.collect_parity:
                pairs = self.parity.setdefault(name, [])
                pairs.append((p.detach().float().cpu(), r.detach().float().cpu()))

    def _start(self, stage: str) -> None:
        self._metrics[stage].reset()
        self.parity = {}

    def _finish(self, stage: str) -> None:
        def reduce(t: Tensor) -> Tensor:
            return self.trainer.strategy.reduce(t.to(self.device), reduce_op="sum").cpu()

        values = self._metrics[stage].compute(reduce)
        self.results[stage] = values
        self.evaluated_samples = self._metrics[stage].samples  # this process's share
        for key, value in values.items():
            self.log(f"{stage}/{key}", value, prog_bar=key == "loss", sync_dist=False)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate("val", batch)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate("test", batch)

    def on_validation_epoch_start(self) -> None:
        if self.trainer.state.fn == TrainerFn.FITTING:
            self.task.before_validation(self.model)
        self._start("val")

    def on_validation_epoch_end(self) -> None:
        self._finish("val")

    def on_test_epoch_start(self) -> None:
        self._start("test")

    def on_test_epoch_end(self) -> None:
        self._finish("test")

    # -- checkpoints -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "config": self.config.to_dict(),
            "position": list(self._position),
            "version": __version__,
            "rng": rng_state(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None:
            return
        self.resume_position = tuple(state["position"])
        set_rng_state(state["rng"])
