"""Self-learning Monte Carlo with the cumulative update (Liu, Shen, Qi, Meng, Fu 2017).

From a state ``S`` of the exact chain, ``n_inner`` local Metropolis steps on the *effective* energy
give a proposal ``S'`` (no diagonalisation); one exact Metropolis-Hastings test with a single
diagonalisation of ``h[S']`` then accepts it with

    A(S -> S') = min(1, exp(-beta [(Omega[S'] - Omega[S]) - (E_eff[S'] - E_eff[S])])).

The inner chain is reversible with respect to ``exp(-beta E_eff)``, so its proposal ratio is
``exp(-beta (E_eff[S] - E_eff[S']))`` and the test above leaves ``exp(-beta Omega)`` exactly
invariant, whatever the effective model. A bad model only lowers the acceptance.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from noether.lattice.metropolis import ChainRecord, local_metropolis, tune_step
from noether.lattice.model import DoubleExchangeModel
from noether.lattice.spins import check_spins, magnetisation, random_spins


class SLMC:
    """Cumulative-update SLMC on ``n_chains`` independent chains in a batch.

    Args:
        model: the physical model (exact energy by diagonalisation).
        effective: spins ``(B, N, 3)`` -> effective energies ``(B,)`` (an ``EffectiveModel``).
        n_inner: local effective-model updates per exact test (default: 2 sweeps, ``2 N``).
        step_size: width of the inner single-spin proposal; tuned during :meth:`burn_in`.
    """

    def __init__(
        self,
        model: DoubleExchangeModel,
        effective: nn.Module,
        n_chains: int = 8,
        n_inner: int | None = None,
        step_size: float = 0.5,
        seed: int = 0,
        spins: Tensor | None = None,
    ) -> None:
        self.model = model
        self.effective = effective
        self.n_inner = 2 * model.n_sites if n_inner is None else int(n_inner)
        if self.n_inner < 1:
            raise ValueError(f"n_inner must be >= 1, got {n_inner}")
        self.step_size = step_size
        self.generator = torch.Generator().manual_seed(seed)
        if spins is None:
            spins = random_spins(n_chains, n_sites=model.n_sites, generator=self.generator)
        self.spins = check_spins(spins, model.n_sites).clone()
        self.energies = model.energy(self.spins)
        self.eff_energies = self._effective(self.spins)
        self.inner_seconds = 0.0
        self.exact_seconds = 0.0
        self.proposals: list[tuple[Tensor, Tensor]] = []  # (spins, Omega) of every proposal
        self.keep_proposals = False

    @torch.no_grad()
    def _effective(self, spins: Tensor) -> Tensor:
        return self.effective(spins).double()

    @torch.no_grad()
    def step(self) -> tuple[Tensor, Tensor]:
        """One cumulative update on every chain: returns (accepted ``(B,)``, inner acceptance)."""
        beta = self.model.beta
        start = time.perf_counter()
        proposal, eff_proposal, inner_acc = local_metropolis(
            self._effective,
            self.spins,
            self.eff_energies,
            beta,
            self.n_inner,
            self.step_size,
            self.generator,
        )
        middle = time.perf_counter()
        exact_proposal = self.model.energy(proposal)
        self.exact_seconds += time.perf_counter() - middle
        self.inner_seconds += middle - start
        if self.keep_proposals:
            self.proposals.append((proposal.clone(), exact_proposal.clone()))
        log_ratio = -beta * ((exact_proposal - self.energies) - (eff_proposal - self.eff_energies))
        log_u = torch.rand(log_ratio.shape, generator=self.generator, dtype=log_ratio.dtype).log()
        accept = log_u < log_ratio
        self.spins = torch.where(accept[:, None, None], proposal, self.spins)
        self.energies = torch.where(accept, exact_proposal, self.energies)
        self.eff_energies = torch.where(accept, eff_proposal, self.eff_energies)
        return accept, inner_acc.double() / self.n_inner

    def burn_in(self, n_steps: int, progress: Callable[[int], None] | None = None) -> None:
        """Equilibrate, tuning the inner step size towards 50 % inner acceptance."""
        for _ in range(n_steps):
            _, inner = self.step()
            self.step_size = tune_step(self.step_size, inner.mean().item())
            if progress:
                progress(1)

    def run(
        self,
        n_steps: int,
        keep_every: int = 0,
        progress: Callable[[int], None] | None = None,
    ) -> ChainRecord:
        """Record ``|m|``, ``Omega/N`` and the exact-test acceptance after every update."""
        mags, energies, accepted, kept = [], [], [], []
        self.inner_seconds = self.exact_seconds = 0.0
        start = time.perf_counter()
        for i in range(n_steps):
            accept, _ = self.step()
            accepted.append(accept.double())
            mags.append(magnetisation(self.spins))
            energies.append(self.energies / self.model.n_sites)
            if keep_every and (i + 1) % keep_every == 0:
                kept.append(self.spins.clone())
            if progress:
                progress(1)
        return ChainRecord(
            magnetisation=torch.stack(mags, 1),
            energy=torch.stack(energies, 1),
            accepted=torch.stack(accepted, 1),
            diagonalisations_per_step=1,
            seconds=time.perf_counter() - start,
            samples=torch.stack(kept, 1) if kept else None,
        )
