"""Local-update Metropolis on a batch of independent chains, and the exact reference sampler.

:func:`local_metropolis` moves one randomly chosen spin per chain per step with the symmetric
proposal of :func:`~noether.lattice.spins.perturb` and accepts with ``min(1, exp(-beta dE))``. Each
step is reversible with respect to ``exp(-beta E)``, so any number of steps is too: that is what
makes it a valid proposal kernel inside SLMC's cumulative update.

:class:`ExactMetropolis` runs it on the exact energy (one batched diagonalisation per step): the
reference Monte Carlo, at ``N`` diagonalisations per chain per sweep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from noether.lattice.model import DoubleExchangeModel
from noether.lattice.spins import check_spins, magnetisation, perturb, random_spins

EnergyFn = Callable[[Tensor], Tensor]


@torch.no_grad()
def local_metropolis(
    energy_fn: EnergyFn,
    spins: Tensor,
    energies: Tensor,
    beta: float,
    n_steps: int,
    step_size: float,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor, Tensor]:
    """``n_steps`` single-spin Metropolis updates on every chain.

    Args:
        energy_fn: spins ``(B, N, 3)`` -> energies ``(B,)``.
        spins: ``(B, N, 3)`` current configurations; energies: ``(B,)`` their energies.
        beta: inverse temperature; step_size: width of the proposal (see ``perturb``).
    Returns:
        New spins, their energies and the number of accepted moves per chain ``(B,)``.
    """
    batch, n_sites = spins.shape[0], spins.shape[1]
    rows = torch.arange(batch)
    accepted = torch.zeros(batch, dtype=torch.long)
    spins, energies = spins.clone(), energies.clone()
    for _ in range(n_steps):
        sites = torch.randint(n_sites, (batch,), generator=generator)
        trial = spins.clone()
        trial[rows, sites] = perturb(spins[rows, sites], step_size, generator)
        trial_energies = energy_fn(trial)
        log_u = torch.rand(batch, generator=generator, dtype=energies.dtype).log()
        accept = log_u < -beta * (trial_energies - energies)
        spins[accept] = trial[accept]
        energies = torch.where(accept, trial_energies, energies)
        accepted += accept
    return spins, energies, accepted


def tune_step(step_size: float, acceptance: float, target: float = 0.5) -> float:
    """Multiplicative step-size update towards a target acceptance (burn-in only)."""
    return float(
        min(max(step_size * torch.exp(torch.tensor(2.0 * (acceptance - target))), 1e-3), 1e2)
    )


@dataclass
class ChainRecord:
    """What a sampler recorded: per-chain series ``(B, n)`` and costs."""

    magnetisation: Tensor
    energy: Tensor  # exact Omega / N per recorded step
    accepted: Tensor  # acceptance fraction per recorded step and chain
    diagonalisations_per_step: int
    seconds: float
    samples: Tensor | None = None  # (B, n, N, 3) if kept


class ExactMetropolis:
    """Reference sampler: local Metropolis on the exact ``Omega[S]``, ``n_chains`` in a batch."""

    def __init__(
        self,
        model: DoubleExchangeModel,
        n_chains: int = 8,
        step_size: float = 0.5,
        seed: int = 0,
        spins: Tensor | None = None,
    ) -> None:
        self.model = model
        self.generator = torch.Generator().manual_seed(seed)
        if spins is None:
            spins = random_spins(n_chains, n_sites=model.n_sites, generator=self.generator)
        self.spins = check_spins(spins, model.n_sites).clone()
        self.energies = model.energy(self.spins)
        self.step_size = step_size

    def sweep(self, n_sweeps: int = 1) -> Tensor:
        """``n_sweeps * N`` single-spin updates per chain; returns the acceptance per chain."""
        n_steps = n_sweeps * self.model.n_sites
        self.spins, self.energies, acc = local_metropolis(
            self.model.energy,
            self.spins,
            self.energies,
            self.model.beta,
            n_steps,
            self.step_size,
            self.generator,
        )
        return acc.double() / n_steps

    def burn_in(self, n_sweeps: int, progress: Callable[[int], None] | None = None) -> None:
        """Equilibrate, tuning the step size towards 50 % single-spin acceptance."""
        for _ in range(n_sweeps):
            acceptance = self.sweep().mean().item()
            self.step_size = tune_step(self.step_size, acceptance)
            if progress:
                progress(1)

    def run(
        self,
        n_sweeps: int,
        keep_every: int = 0,
        progress: Callable[[int], None] | None = None,
    ) -> ChainRecord:
        """Record ``|m|``, ``Omega/N`` and acceptance after every sweep (spins every
        ``keep_every`` sweeps when positive)."""
        mags, energies, accepted, kept = [], [], [], []
        start = time.perf_counter()
        for i in range(n_sweeps):
            accepted.append(self.sweep())
            mags.append(magnetisation(self.spins))
            energies.append(self.energies / self.model.n_sites)
            if keep_every and (i + 1) % keep_every == 0:
                kept.append(self.spins.clone())
            if progress:
                progress(1)
        seconds = time.perf_counter() - start
        return ChainRecord(
            magnetisation=torch.stack(mags, 1),
            energy=torch.stack(energies, 1),
            accepted=torch.stack(accepted, 1),
            diagonalisations_per_step=self.model.n_sites,
            seconds=seconds,
            samples=torch.stack(kept, 1) if kept else None,
        )
