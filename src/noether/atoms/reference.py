"""Reference pair potentials as :class:`Potential` subclasses: Morse and Lennard-Jones.

They are physically real, exactly E(3)-invariant and cheap, so they test everything that all
molecular models share (forces, stress, the ASE calculator, MD, export) before a learned model
exists. Their functional forms are ASE's (``ase.calculators.morse.MorsePotential`` and
``ase.calculators.lj.LennardJones(smooth=True)``), which the tests use as an independent check.
Parameters are the same for every element. Energies are in eV, lengths in Å. With
``learnable=True`` the physical parameters are trained (``model: {name: morse, learnable: true}``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from noether.atoms.potential import Graph, Potential, as_dtype
from noether.core.registry import register_model

__all__ = ["LennardJones", "Morse"]


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


@register_model("morse")
class Morse(Potential):
    """``V(r) = ε (exp(-2ρ₀(r/r₀ - 1)) - 2 exp(-ρ₀(r/r₀ - 1)))`` times a smooth cutoff that falls
    from 1 at ``rcut1·r₀`` to 0 at ``rcut2·r₀``.

    Args:
        epsilon: well depth, eV. r0: position of the minimum, Å. rho0: stiffness (dimensionless).
        rcut1, rcut2: start and end of the cutoff, in units of ``r0``.
        dtype: parameter dtype (float32 or float64).
    """

    def __init__(
        self,
        epsilon: float = 1.0,
        r0: float = 1.0,
        rho0: float = 6.0,
        rcut1: float = 1.9,
        rcut2: float = 2.7,
        *,
        learnable: bool = False,
        dtype: str | torch.dtype = "float32",
        neighbor_method: str = "auto",
        atomref: dict[str, float] | None = None,
        energy_scale: float = 1.0,
        energy_shift: float = 0.0,
    ):
        super().__init__(
            cutoff=rcut2 * r0,
            neighbor_method=neighbor_method,
            atomref=atomref,
            energy_scale=energy_scale,
            energy_shift=energy_shift,
        )
        _store(self, "epsilon", epsilon, learnable)
        _store(self, "r0", r0, learnable)
        _store(self, "rho0", rho0, learnable)
        self.r_on, self.r_off = float(rcut1 * r0), float(rcut2 * r0)
        self.to(as_dtype(dtype))

    def atomic_energies(self, graph: Graph) -> Tensor:
        r = graph.lengths
        expf = torch.exp(self.rho0 * (1.0 - r / self.r0))
        pair = self.epsilon * expf * (expf - 2.0) * smoothstep_cutoff(r, self.r_on, self.r_off)
        return _pair_to_atoms(graph, pair)


@register_model("lennard-jones")
class LennardJones(Potential):
    """``V(r) = 4ε((σ/r)¹² - (σ/r)⁶)`` times ASE's smooth cutoff between ``ro`` and ``rc``
    (C¹ in r: ``(rc² - r²)² (rc² + 2r² - 3ro²) / (rc² - ro²)³``).

    Args:
        sigma: Å. epsilon: eV. rc: cutoff, Å (default 3σ). ro: onset, Å (default 0.66 rc).
        learnable: train ``sigma`` and ``epsilon``.
        atomref, energy_scale, energy_shift: see :class:`Potential`.
    """

    def __init__(
        self,
        sigma: float = 1.0,
        epsilon: float = 1.0,
        rc: float | None = None,
        ro: float | None = None,
        *,
        learnable: bool = False,
        dtype: str | torch.dtype = "float32",
        neighbor_method: str = "auto",
        atomref: dict[str, float] | None = None,
        energy_scale: float = 1.0,
        energy_shift: float = 0.0,
    ):
        rc = 3.0 * sigma if rc is None else rc
        ro = 0.66 * rc if ro is None else ro
        super().__init__(
            cutoff=rc,
            neighbor_method=neighbor_method,
            atomref=atomref,
            energy_scale=energy_scale,
            energy_shift=energy_shift,
        )
        _store(self, "sigma", sigma, learnable)
        _store(self, "epsilon", epsilon, learnable)
        self.rc, self.ro = float(rc), float(ro)
        self.to(as_dtype(dtype))

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
