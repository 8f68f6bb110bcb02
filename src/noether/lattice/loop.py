"""The self-learning loop: train on exact samples, run SLMC, add its labelled proposals, retrain.

Every SLMC proposal gets an exact ``Omega`` anyway (the Metropolis-Hastings test needs it), so the
proposals are free training data, and they come from where the effective model sends the chain:
exactly where its errors cost acceptance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from noether.lattice.attention import EffectiveModel
from noether.lattice.metropolis import ChainRecord
from noether.lattice.model import DoubleExchangeModel
from noether.lattice.slmc import SLMC
from noether.lattice.training import FitResult, fit


@dataclass
class Dataset:
    """Labelled configurations split into train and test: spins ``(M, N, 3)``, Omega ``(M,)``."""

    train: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]

    @classmethod
    def split(cls, spins: Tensor, energies: Tensor, test_fraction: float = 0.2, seed: int = 0):
        perm = torch.randperm(len(spins), generator=torch.Generator().manual_seed(seed))
        n_test = max(round(test_fraction * len(spins)), 1)
        test, train = perm[:n_test], perm[n_test:]
        return cls((spins[train], energies[train]), (spins[test], energies[test]))

    def extend(self, spins: Tensor, energies: Tensor, test_fraction: float = 0.2, seed: int = 0):
        new = Dataset.split(spins, energies, test_fraction, seed)
        return Dataset(
            (torch.cat([self.train[0], new.train[0]]), torch.cat([self.train[1], new.train[1]])),
            (torch.cat([self.test[0], new.test[0]]), torch.cat([self.test[1], new.test[1]])),
        )

    def __len__(self) -> int:
        return len(self.train[0]) + len(self.test[0])


@dataclass
class Round:
    """One round of the loop: the fit, then the SLMC run with the fitted model."""

    fit: FitResult
    record: ChainRecord
    n_data: int


@dataclass
class LoopResult:
    rounds: list[Round] = field(default_factory=list)
    data: Dataset | None = None
    sampler: SLMC | None = None


def self_learning(
    model: DoubleExchangeModel,
    effective: EffectiveModel,
    data: Dataset,
    start: Tensor,
    rounds: int = 2,
    train_steps: int = 600,
    slmc_steps: int = 100,
    explore_steps: int | None = None,
    burn_in: int = 20,
    n_inner: int | None = None,
    seed: int = 0,
    fit_kwargs: dict | None = None,
    progress: Callable[[int], None] | None = None,
) -> LoopResult:
    """Alternate fitting and SLMC ``rounds`` times, growing ``data`` with the labelled proposals.

    Args:
        start: initial chain states ``(B, N, 3)`` (equilibrated ones, e.g. the reference's).
        slmc_steps: recorded updates of the last round; explore_steps: of the earlier rounds,
            whose proposals feed the data (default ``slmc_steps``).
    Returns the rounds (the last one's record is the production run), the grown data and the
    last sampler (its chains continue from where they stopped).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    result = LoopResult(data=data)
    spins = start
    step_size = 0.5
    for r in range(rounds):
        fitted = fit(
            effective,
            result.data.train,
            result.data.test,
            steps=train_steps,
            seed=seed + r,
            progress=progress,
            **(fit_kwargs or {}),
        )
        sampler = SLMC(
            model, effective, n_inner=n_inner, step_size=step_size, seed=seed + 100 + r, spins=spins
        )
        sampler.burn_in(burn_in, progress=progress)
        sampler.keep_proposals = r + 1 < rounds
        last = r + 1 == rounds
        n_steps = slmc_steps if last or explore_steps is None else explore_steps
        record = sampler.run(n_steps, progress=progress)
        result.rounds.append(Round(fitted, record, len(result.data)))
        if sampler.keep_proposals:
            new_spins = torch.cat([p[0] for p in sampler.proposals])
            new_energies = torch.cat([p[1] for p in sampler.proposals])
            result.data = result.data.extend(new_spins, new_energies, seed=seed + r)
        spins, step_size = sampler.spins, sampler.step_size
        result.sampler = sampler
    return result
