"""Fitting effective models to exact energies: least squares for the head, AdamW for the layers.

The training stack of noether is for the large models; this is a small mean-squared-error fit of a
few hundred parameters on a few thousand ``(S, Omega[S])`` pairs, so it is a plain full-batch-ish
AdamW loop. The shell head is first set to the least-squares fit on the *current* effective spins,
which for a fresh transformer (value weights near zero, so ``S^eff ~ S``) is the linear model:
training starts at the linear model's loss and only improves on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from noether.lattice.attention import EffectiveModel


@dataclass
class FitResult:
    """Losses of a fit: mean squared errors of the total energy, in the unit of ``t`` squared."""

    train_mse: float
    test_mse: float
    steps: int
    history: list[float]

    @property
    def test_rmse(self) -> float:
        return math.sqrt(self.test_mse)


@torch.no_grad()
def mse(model: EffectiveModel, spins: Tensor, energies: Tensor, batch: int = 1024) -> float:
    """Mean squared error of ``model`` on ``(M, N, 3)`` spins against ``(M,)`` energies."""
    total = 0.0
    for i in range(0, len(spins), batch):
        error = model(spins[i : i + batch]).double() - energies[i : i + batch]
        total += (error**2).sum().item()
    return total / max(len(spins), 1)


@torch.no_grad()
def fit_head(model: EffectiveModel, spins: Tensor, energies: Tensor) -> float:
    """Least-squares fit of the shell head on the model's effective spins; returns the train MSE."""
    return model.head.fit_least_squares(model.effective_spins(spins.to(model.dtype)), energies)


def fit(
    model: EffectiveModel,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    steps: int = 2000,
    lr: float = 3e-3,
    batch_size: int = 256,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> FitResult:
    """Fit ``model`` to ``train = (spins (M, N, 3), Omega (M,))``; report MSE on ``test``.

    The head starts at its least-squares solution; a model without layers stops there (it is
    linear in its parameters, so that is the exact minimum). Otherwise AdamW with a cosine
    learning-rate decay trains all parameters; the best test loss seen is kept.
    """
    spins, energies = train
    fit_head(model, spins, energies)
    history = [mse(model, *test)]
    if model.n_layers == 0 or steps == 0:
        return FitResult(mse(model, spins, energies), history[0], 0, history)
    generator = torch.Generator().manual_seed(seed)
    scale = energies.var().clamp_min(1e-12)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    best = (history[0], {k: v.clone() for k, v in model.state_dict().items()})
    check_every = max(steps // 20, 1)
    for step in range(steps):
        index = torch.randint(len(spins), (min(batch_size, len(spins)),), generator=generator)
        target = energies[index].to(model.dtype)
        loss = ((model(spins[index]) - target) ** 2).mean() / scale
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if (step + 1) % check_every == 0 or step + 1 == steps:
            history.append(mse(model, *test))
            if history[-1] < best[0]:
                best = (history[-1], {k: v.clone() for k, v in model.state_dict().items()})
        if progress:
            progress(1)
    model.load_state_dict(best[1])
    return FitResult(mse(model, spins, energies), best[0], steps, history)
