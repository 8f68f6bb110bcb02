"""Reference pair potentials as :class:`Potential` subclasses: Morse and Lennard-Jones.

They are physically real, exactly E(3)-invariant and cheap, so they test everything that all
molecular models share (forces, stress, the ASE calculator, MD, export) before a learned model
exists. Their functional forms are ASE's (``ase.calculators.morse.MorsePotential`` and
``ase.calculators.lj.LennardJones(smooth=True)``), which the tests use as an independent check.
Parameters are the same for every element. Energies are in eV, lengths in Å. With
``learnable=True`` the physical parameters are trained (``model: {name: morse, learnable: true}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from noether.atoms.potential import Graph, Potential, PotentialConfig, as_dtype
from noether.core.config import config_repr, make_config
from noether.core.registry import register_model

__all__ = ["LennardJones", "LennardJonesConfig", "Morse", "MorseConfig"]


class _PairPotential(Potential):
    """A pair potential: each atom's energy is half its pairs' within the cutoff (one hop)."""

    @property
    def message_hops(self) -> int:
        return 1


def _pair_to_atoms(graph: Graph, pair_energy: Tensor) -> Tensor:
    """Half of each (directed) pair energy to its centre atom: ``(E,) -> (N,)``."""
    out = torch.zeros(graph.numbers.shape[0], dtype=pair_energy.dtype, device=pair_energy.device)
    return out.index_add(0, graph.edge_index[0], 0.5 * pair_energy)


def smoothstep_cutoff(r: Tensor, r_on: float, r_off: float) -> Tensor:
    """1 below ``r_on``, 0 above ``r_off``, the quintic smoothstep between (C², as ASE's Morse)."""
    s = ((r_off - r) / (r_off - r_on)).clamp(0.0, 1.0)
    return s**3 * (6.0 * s**2 - 15.0 * s + 10.0)


def _store(module: nn.Module, name: str, value: float, learnable: bool) -> None:
    """A physical constant as a trained parameter or a fixed buffer (both follow ``.to``)."""
    tensor = torch.tensor(float(value), dtype=torch.float64)  # exact until .to(dtype)
    if learnable:
        module.register_parameter(name, nn.Parameter(tensor))
    else:
        module.register_buffer(name, tensor)


@dataclass(frozen=True)
class MorseConfig(PotentialConfig):
    """Options of :class:`Morse` (and those of every Potential)."""

    epsilon: float = 1.0
    """Well depth ``ε`` in eV."""
    r0: float = 1.0
    """Position of the minimum ``r₀`` in Å."""
    rho0: float = 6.0
    """Stiffness ``ρ₀`` (dimensionless)."""
    rcut1: float = 1.9
    """Start of the smooth cutoff, in units of ``r0``."""
    rcut2: float = 2.7
    """End of the smooth cutoff (the neighbour cutoff), in units of ``r0``."""
    learnable: bool = False
    """Train ``epsilon``, ``r0`` and ``rho0`` (else they are fixed buffers)."""


@dataclass(frozen=True)
class LennardJonesConfig(PotentialConfig):
    """Options of :class:`LennardJones` (and those of every Potential)."""

    sigma: float = 1.0
    """``σ`` in Å."""
    epsilon: float = 1.0
    """Well depth ``ε`` in eV."""
    rc: float | None = None
    """Cutoff in Å; None: ``3 σ``."""
    ro: float | None = None
    """Onset of the smooth cutoff in Å; None: ``0.66 rc``."""
    learnable: bool = False
    """Train ``sigma`` and ``epsilon``."""


@register_model("morse")
class Morse(_PairPotential):
    """``V(r) = ε (exp(-2ρ₀(r/r₀ - 1)) - 2 exp(-ρ₀(r/r₀ - 1)))`` times a smooth cutoff that falls
    from 1 at ``rcut1·r₀`` to 0 at ``rcut2·r₀``.

    Options: :class:`MorseConfig` (or its fields as keywords): ``epsilon`` (eV), ``r0`` (Å),
    ``rho0``, ``rcut1``, ``rcut2``, ``learnable``, and those of every Potential (``dtype``, ...).
    """

    def __init__(self, config: MorseConfig | None = None, /, **options: Any):
        c = make_config(MorseConfig, config, options)
        super().__init__(
            cutoff=c.rcut2 * c.r0,
            neighbor_method=c.neighbor_method,
            atomref=c.atomref,
            elements=c.elements,
            energy_scale=c.energy_scale,
            energy_shift=c.energy_shift,
        )
        self.config = c
        _store(self, "epsilon", c.epsilon, c.learnable)
        _store(self, "r0", c.r0, c.learnable)
        _store(self, "rho0", c.rho0, c.learnable)
        self.r_on, self.r_off = float(c.rcut1 * c.r0), float(c.rcut2 * c.r0)
        self.to(as_dtype(c.dtype))

    def extra_repr(self) -> str:
        return config_repr(self.config)

    def atomic_energies(self, graph: Graph) -> Tensor:
        r = graph.lengths
        expf = torch.exp(self.rho0 * (1.0 - r / self.r0))
        pair = self.epsilon * expf * (expf - 2.0) * smoothstep_cutoff(r, self.r_on, self.r_off)
        return _pair_to_atoms(graph, pair)


@register_model("lennard-jones")
class LennardJones(_PairPotential):
    """``V(r) = 4ε((σ/r)¹² - (σ/r)⁶)`` times ASE's smooth cutoff between ``ro`` and ``rc``
    (C¹ in r: ``(rc² - r²)² (rc² + 2r² - 3ro²) / (rc² - ro²)³``).

    Options: :class:`LennardJonesConfig` (or its fields as keywords): ``sigma`` (Å), ``epsilon``
    (eV), ``rc`` (Å, default 3σ), ``ro`` (Å, default 0.66 rc), ``learnable``, and those of every
    Potential.
    """

    def __init__(self, config: LennardJonesConfig | None = None, /, **options: Any):
        c = make_config(LennardJonesConfig, config, options)
        rc = 3.0 * c.sigma if c.rc is None else c.rc
        ro = 0.66 * rc if c.ro is None else c.ro
        super().__init__(
            cutoff=rc,
            neighbor_method=c.neighbor_method,
            atomref=c.atomref,
            elements=c.elements,
            energy_scale=c.energy_scale,
            energy_shift=c.energy_shift,
        )
        self.config = c
        _store(self, "sigma", c.sigma, c.learnable)
        _store(self, "epsilon", c.epsilon, c.learnable)
        self.rc, self.ro = float(rc), float(ro)
        self.to(as_dtype(c.dtype))

    def extra_repr(self) -> str:
        return config_repr(self.config)

    def atomic_energies(self, graph: Graph) -> Tensor:
        r2 = graph.vectors.square().sum(-1)
        c6 = (self.sigma**2 / r2) ** 3
        rc2, ro2 = self.rc**2, self.ro**2
        switch = torch.where(
            r2 < ro2,
            torch.ones_like(r2),
            (rc2 - r2).clamp(min=0.0) ** 2 * (rc2 + 2.0 * r2 - 3.0 * ro2) / (rc2 - ro2) ** 3,
        )
        pair = 4.0 * self.epsilon * (c6 * c6 - c6) * switch
        return _pair_to_atoms(graph, pair)
