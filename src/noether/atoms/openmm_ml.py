"""Any noether potential in OpenMM, through OpenMM-ML (``MLPotential("noether", model=...)``).

noether registers itself in the ``openmmml.potentials`` entry-point group (pyproject.toml), so
with the ``openmm`` extra installed::

    from openmmml import MLPotential

    potential = MLPotential("noether", model="runs/et-md17")  # or "model.pt2", a .ckpt, a .pt
    system = potential.createSystem(topology)
    mixed = potential.createMixedSystem(topology, mm_system, ligand_atoms)

The model (anything :func:`~noether.atoms.calculator.load_model` reads) is evaluated on the CPU
(or ``device=``) by an ``openmm.PythonForce`` (OpenMM >= 8.6). At the boundary, positions and box
vectors go from nm to Å, the energy from eV to kJ/mol and forces from eV/Å to kJ/(mol nm), with
the constants of :mod:`noether.atoms.units`. A periodic topology (one with box vectors) is
evaluated with periodic boundaries in all three directions; a molecule without.

Options of ``MLPotential("noether", ...)``: ``model`` (required), ``device`` (default ``"cpu"``),
``dtype`` (``torch.float64`` to cast a :class:`~noether.atoms.potential.Potential`; default: the
model's own). The force is picklable (OpenMM copies and serialises forces): a model given by its
path is pickled as the path and loaded again, a model object as itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import openmm
import openmm.app
import torch
from openmm import unit
from openmmml.mlpotential import MLPotentialImpl, MLPotentialImplFactory

from noether.atoms.calculator import inference_model
from noether.atoms.units import energy_factor, length_factor

__all__ = ["NoetherForceFunction", "NoetherPotentialImpl", "NoetherPotentialImplFactory"]

ANGSTROM_PER_NM = length_factor("nm")
KJ_PER_MOL_PER_EV = 1.0 / energy_factor("kJ/mol")


class NoetherForceFunction:
    """The function an ``openmm.PythonForce`` calls: a ``State`` to ``(energy kJ/mol, forces
    (n, 3) kJ/(mol nm))`` for the atoms ``numbers`` (in the force's particle order).

    Args:
        model: a noether potential or its path (see :func:`~noether.atoms.calculator.load_model`).
        numbers: ``(n,)`` atomic numbers of the particles the force acts on.
        periodic: evaluate with the state's box vectors, periodic along all three axes.
        device, dtype: where and in which dtype a :class:`Potential` runs (None: its own dtype).
        loaded: the model already loaded from ``model`` with these options (saves a second load).
    """

    def __init__(
        self,
        model: torch.nn.Module | str | os.PathLike,
        numbers: Iterable[int],
        periodic: bool,
        device: str = "cpu",
        dtype: torch.dtype | None = None,
        loaded: torch.nn.Module | None = None,
    ):
        self.source = model if isinstance(model, torch.nn.Module) else os.path.abspath(model)
        self.numbers = torch.as_tensor(list(numbers), dtype=torch.long)
        self.periodic = bool(periodic)
        self.device, self.dtype = device, dtype
        self.model = loaded or inference_model(self.source, device=device, dtype=dtype)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("model")  # a path loads again; a model object is the source itself
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.model = inference_model(self.source, device=self.device, dtype=self.dtype)

    def __call__(self, state: openmm.State) -> tuple[float, np.ndarray]:
        dtype = self.model.dtype
        nm = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        positions = torch.as_tensor(np.asarray(nm) * ANGSTROM_PER_NM, dtype=dtype)
        cell = pbc = None
        if self.periodic:
            box = state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer)
            cell = torch.as_tensor(np.asarray(box) * ANGSTROM_PER_NM, dtype=dtype)
            pbc = torch.ones(3, dtype=torch.bool)
        device = self.device
        out = self.model(
            self.numbers.to(device),
            positions.to(device),
            None,
            None if cell is None else cell.to(device),
            None if pbc is None else pbc.to(device),
            compute_forces=True,
        )
        energy = float(out["energy"].detach().sum()) * KJ_PER_MOL_PER_EV
        forces = out["forces"].detach().cpu().double().numpy()
        return energy, forces * (KJ_PER_MOL_PER_EV * ANGSTROM_PER_NM)


class NoetherPotentialImpl(MLPotentialImpl):
    """Adds one ``PythonForce`` evaluating a noether potential on the ML atoms of a System; the
    model is loaded here, so a path that holds no potential is refused at ``MLPotential(...)``."""

    def __init__(
        self,
        model: torch.nn.Module | str | os.PathLike,
        device: str = "cpu",
        dtype: torch.dtype | None = None,
    ):
        self.source, self.device, self.dtype = model, device, dtype
        self.model = inference_model(model, device=device, dtype=dtype)

    def addForces(
        self,
        topology: openmm.app.Topology,
        system: openmm.System,
        atoms: Iterable[int] | None,
        forceGroup: int,
        **args,
    ) -> None:
        included = list(topology.atoms())
        if atoms is not None:
            atoms = list(atoms)
            included = [included[i] for i in atoms]
        missing = [atom for atom in included if atom.element is None]
        if missing:
            atom = missing[0]
            raise ValueError(
                f"topology atom {atom.index} ({atom.name} of residue {atom.residue.name}) has no "
                f"element; accepted: atoms with elements (noether needs atomic numbers)"
            )
        periodic = topology.getPeriodicBoxVectors() is not None
        compute = NoetherForceFunction(
            self.source,
            [atom.element.atomic_number for atom in included],
            periodic,
            device=self.device,
            dtype=self.dtype,
            loaded=self.model,
        )
        force = openmm.PythonForce(compute)
        force.setName("noether")
        force.setForceGroup(forceGroup)
        force.setUsesPeriodicBoundaryConditions(periodic)
        if atoms is not None:
            force.setParticles(atoms)
        system.addForce(force)

    def getMLLongRange(self) -> bool:
        """False: a noether potential sees only the atoms within its cutoff."""
        return False


class NoetherPotentialImplFactory(MLPotentialImplFactory):
    """What the ``openmmml.potentials`` entry point ``noether`` names."""

    def createImpl(
        self,
        name: str,
        model: torch.nn.Module | str | os.PathLike | None = None,
        device: str = "cpu",
        dtype: torch.dtype | None = None,
        **args,
    ) -> NoetherPotentialImpl:
        if model is None:
            raise ValueError(
                f'MLPotential("{name}") needs model=: a training run folder, a .ckpt, a '
                f"save_potential .pt or an exported .pt2"
            )
        if args:
            raise TypeError(
                f'MLPotential("{name}"): unknown options {sorted(args)}; accepted: model, '
                f"device, dtype"
            )
        return NoetherPotentialImpl(model, device=device, dtype=dtype)
