"""Exact epoch metrics: sums over every batch of every process, reduced once at epoch end.

Means of batch means are wrong when batches differ in size and RMSE is not a mean at all, so
the accumulator keeps sums (loss times samples, |error|, error squared, counts) in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


class EpochMetrics:
    """Accumulates the loss and, per compared quantity, absolute and squared errors."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.loss_sum = 0.0
        self.samples = 0
        self.errors: dict[str, list[float]] = {}  # name -> [sum |e|, sum e^2, count]

    def update_loss(self, loss: Tensor, batch_size: int) -> None:
        self.loss_sum += float(loss.detach()) * batch_size
        self.samples += batch_size

    def update(self, name: str, pred: Tensor, ref: Tensor) -> None:
        if pred.shape != ref.shape:
            raise ValueError(
                f"compare(): {name!r} predicted shape {tuple(pred.shape)} differs from the "
                f"reference shape {tuple(ref.shape)}"
            )
        err = (pred.detach().double() - ref.detach().double()).reshape(-1)
        sums = self.errors.setdefault(name, [0.0, 0.0, 0])
        sums[0] += err.abs().sum().item()
        sums[1] += (err * err).sum().item()
        sums[2] += err.numel()

    def compute(self, reduce: Callable[[Tensor], Tensor] | None = None) -> dict[str, float]:
        """``{"loss", "<q>_mae", "<q>_rmse"}``; ``reduce`` sums a float64 tensor over processes.

        Every process must hold the same quantity names (they come from the same task).
        """
        names = sorted(self.errors)
        flat = [self.loss_sum, float(self.samples)]
        for name in names:
            flat.extend(float(v) for v in self.errors[name])
        totals = torch.tensor(flat, dtype=torch.float64)
        if reduce is not None:
            totals = reduce(totals)
        values = totals.tolist()
        out = {"loss": values[0] / values[1] if values[1] else math.nan}
        for i, name in enumerate(names):
            abs_sum, sq_sum, count = values[2 + 3 * i : 5 + 3 * i]
            out[f"{name}_mae"] = abs_sum / count if count else math.nan
            out[f"{name}_rmse"] = math.sqrt(sq_sum / count) if count else math.nan
        return out
