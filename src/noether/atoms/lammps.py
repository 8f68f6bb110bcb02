"""A noether :class:`Potential` as a LAMMPS ML-IAP unified model (``pair_style mliap unified``).

LAMMPS hands a unified model, for the atoms of one domain, the pairs ``i -> j`` closer than the
pair cutoff ``2 * rcutfac`` of every *local* atom ``i`` (``data.pair_i``, ``data.pair_j``,
``data.rij = x_j - x_i`` in Å; ``j`` is local or ghost), the element of every local and ghost
atom (``data.elems``), and takes back per-atom energies of the local atoms (``data.eatoms``,
eV), their sum (``data.energy``) and one vector per pair, ``dE/drij`` (``data.update_pair_forces``
adds it to atom ``i`` and subtracts it from atom ``j``, and tallies the virial
``-rij ⊗ dE/drij``). Ghost atoms' own pairs and their positions are not given.

A message-passing model's energy of atom ``i`` depends on every atom within
``message_hops * cutoff`` of it (:attr:`Potential.message_hops`), through pairs between ghost
atoms that LAMMPS never lists at the model's own cutoff. So :class:`LAMMPSPotential` asks for the
receptive field as the pair cutoff: ``rcutfac = message_hops * cutoff / 2``. Then every atom
that can reach a local atom's energy is a neighbour of it, and the pairs fix all their relative
positions: :func:`energy_from_pairs` rebuilds positions along a spanning forest of the pairs
(``x_j = x_i + rij``, differentiable in ``rij``), runs the model once on local and ghost atoms
with its own neighbour list at ``cutoff``, sums the energies of local atoms only, and returns
``dE/drij`` of the forest's pairs (zero for the others). That is exact: forces on local and ghost
atoms (LAMMPS sums the ghosts' onto their owners) and the virial equal those of the whole
periodic system, to rounding. Ghost atoms come with the pair cutoff; no ``comm_modify`` needed.

The cost is the pair list at the receptive field: ``(message_hops * cutoff)^3`` times the
model's own pairs per atom. Exact at the model's own cutoff would need per-layer ghost exchange
(LAMMPS sending updated node features of ghost atoms between layers), which the CPU unified
interface does not offer. See docs/lammps.md.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

from noether.atoms.checkpoint import potential_from_payload, potential_payload
from noether.atoms.elements import atomic_number, symbol
from noether.atoms.neighbors import neighbor_list
from noether.atoms.potential import Potential
from noether.core.io import atomic_path

__all__ = [
    "LAMMPSPotential",
    "domain_pairs",
    "energy_from_pairs",
    "load_lammps",
    "pair_forces",
    "pair_virial",
    "write_lammps",
]


def _forest(n: int, a: np.ndarray, b: np.ndarray):
    """Components, parents and depths of a breadth-first spanning forest of ``n`` nodes joined
    by pairs ``a[k] - b[k]``, and for each non-root node the pair ``k`` to its parent with the
    sign of ``x_node - x_parent = sign * (x_b[k] - x_a[k])``."""
    adjacency = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)).tocsr()
    n_components, labels = connected_components(adjacency, directed=False)
    roots = np.unique(labels, return_index=True)[1]
    # one breadth-first search from a virtual node joined to each component's first atom
    rows = np.concatenate([a, np.full(n_components, n)])
    cols = np.concatenate([b, roots])
    virtual = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    order, parent = breadth_first_order(virtual, n, directed=False, return_predecessors=True)
    parent = parent[:n]
    parent[roots] = -1
    depth = np.zeros(n, dtype=np.int64)
    for node in order[1:]:  # breadth-first: every parent comes before its children
        if parent[node] >= 0:
            depth[node] = depth[parent[node]] + 1
    # the pair behind each tree edge: (parent -> node) gives +rij, (node -> parent) gives -rij
    index = coo_matrix((np.arange(1, len(a) + 1), (a, b)), shape=(n, n)).tocsr()
    child = np.nonzero(parent >= 0)[0]
    forward = np.asarray(index[parent[child], child]).ravel()
    backward = np.asarray(index[child, parent[child]]).ravel()
    pair = np.where(forward > 0, forward, backward) - 1
    sign = np.where(forward > 0, 1.0, -1.0)
    return labels, parent, depth, child, pair, sign


def energy_from_pairs(
    model: Potential,
    numbers: np.ndarray,
    local: np.ndarray,
    pair_i: np.ndarray,
    pair_j: np.ndarray,
    rij: np.ndarray,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Energies of local atoms and ``dE/drij`` from a pair list, as LAMMPS gives it.

    Args:
        numbers: ``(n_total,)`` atomic numbers of the local and ghost atoms.
        local: ``(n_local,)`` indices of the atoms whose energies count.
        pair_i, pair_j: ``(P,)`` indices of each pair's atoms; rij: ``(P, 3)`` ``x_j - x_i``, Å.
            The pairs must hold every atom within ``model.message_hops * model.cutoff`` of a
            local atom (the receptive field).

    Returns:
        ``atomic_energies (n_local,)`` eV, their sum ``energy`` (eV), and ``dE/drij (P, 3)``
        eV/Å (float64).
    """
    dtype, device = model.dtype, model.device
    pair_i, pair_j, local = (np.asarray(v, dtype=np.int64) for v in (pair_i, pair_j, local))
    atoms, inverse = np.unique(np.concatenate([local, pair_i, pair_j]), return_inverse=True)
    n, n_local, n_pairs = len(atoms), len(local), len(pair_i)
    slot_local = inverse[:n_local]
    a, b = inverse[n_local : n_local + n_pairs], inverse[n_local + n_pairs :]
    labels, parent, depth, child, pair, sign = _forest(n, a, b)

    rij_t = torch.as_tensor(np.ascontiguousarray(rij), dtype=dtype, device=device)
    rij_t.requires_grad_(True)
    with torch.enable_grad():
        positions = rij_t.new_zeros(n, 3)
        step = torch.as_tensor(sign, dtype=dtype, device=device)[:, None] * rij_t[pair]
        depth_child = depth[child]
        for level in range(1, int(depth.max(initial=0)) + 1):
            here = depth_child == level
            nodes = torch.as_tensor(child[here], device=device)
            parents = torch.as_tensor(parent[child[here]], device=device)
            positions = positions.index_copy(0, nodes, positions[parents] + step[here])
        # one frame per connected component, so no pair joins atoms of two components
        order = np.argsort(labels, kind="stable")
        slot = np.empty(n, dtype=np.int64)
        slot[order] = np.arange(n)
        positions = positions[torch.as_tensor(order, device=device)]
        z = torch.as_tensor(np.asarray(numbers)[atoms[order]], dtype=torch.long, device=device)
        batch = torch.as_tensor(labels[order], dtype=torch.long, device=device)
        n_graphs = int(labels.max(initial=0)) + 1
        cell = positions.new_zeros(n_graphs, 3, 3)
        pbc = torch.zeros(n_graphs, 3, dtype=torch.bool, device=device)
        edge_index, shifts = neighbor_list(
            positions, model.cutoff, batch, cell, pbc, method=model.neighbor_method
        )
        atomic, _ = model.energy_from_pairs(
            z, positions, batch, n_graphs, cell, pbc, edge_index, shifts
        )
        atomic = atomic[torch.as_tensor(slot[slot_local], device=device)]
        energy = atomic.sum()
        (grad,) = torch.autograd.grad(energy, rij_t, allow_unused=True)
    if grad is None:
        grad = torch.zeros_like(rij_t)
    return (
        atomic.detach().cpu().double().numpy(),
        float(energy.detach()),
        np.ascontiguousarray(grad.detach().cpu().double().numpy()),
    )


def domain_pairs(atoms, cutoff: float):
    """The pair list LAMMPS would give one domain holding all of ``atoms`` (ASE), built with
    ASE's neighbour list: every periodic image within ``cutoff`` Å of an atom is a ghost atom.

    Returns ``numbers (n_total,)``, ``local (n,)``, ``pair_i``, ``pair_j (P,)`` and
    ``rij (P, 3)`` for :func:`energy_from_pairs` (local atoms first, then ghosts), and
    ``owner (n_total,)``: the atom of ``atoms`` each local or ghost atom is.
    """
    from ase.neighborlist import neighbor_list as ase_neighbor_list

    i, j, shift = ase_neighbor_list("ijS", atoms, cutoff)
    n = len(atoms)
    ghost = shift.any(axis=1)
    images, index = np.unique(np.column_stack([j, shift])[ghost], axis=0, return_inverse=True)
    pair_j = j.copy()
    pair_j[ghost] = n + index.ravel()
    rij = atoms.positions[j] + shift @ np.asarray(atoms.cell[:]) - atoms.positions[i]
    numbers = np.concatenate([atoms.numbers, atoms.numbers[images[:, 0]]])
    owner = np.concatenate([np.arange(n), images[:, 0]])
    return numbers, np.arange(n), i, pair_j, rij, owner


def pair_forces(fij: np.ndarray, pair_i: np.ndarray, pair_j: np.ndarray, n_total: int):
    """``(n_total, 3)`` forces from pair gradients as ML-IAP applies them: ``f_i += fij``,
    ``f_j -= fij``; and the virial ``-Σ rij ⊗ fij`` is :func:`pair_virial`."""
    f = np.zeros((n_total, 3))
    np.add.at(f, pair_i, fij)
    np.subtract.at(f, pair_j, fij)
    return f


def pair_virial(fij: np.ndarray, rij: np.ndarray) -> np.ndarray:
    """``(6,)`` virial ``-Σ rij ⊗ fij`` in LAMMPS's order xx yy zz xy xz yz (eV), as ML-IAP's
    ``v_tally``."""
    w = -np.einsum("pa,pb->ab", rij, fij)
    return np.array([w[0, 0], w[1, 1], w[2, 2], w[0, 1], w[0, 2], w[1, 2]])


class LAMMPSPotential:
    """A noether potential as an ML-IAP unified model: what ``pair_style mliap unified FILE 0``
    loads (written by :func:`write_lammps`), in LAMMPS metal units (Å, eV).

    It has what LAMMPS's ``mliap_unified_couple`` reads (``element_types``, ``ndescriptors``,
    ``nparams``, ``rcutfac``, ``interface``) and calls (``compute_forces``; the descriptor and
    gradient steps are part of it). It does not subclass ``lammps.mliap``'s abstract class so
    that it imports without LAMMPS. Pickled, it carries the model as a
    :func:`~noether.atoms.checkpoint.potential_payload`.

    Args:
        model: the potential (run in its own dtype; float64 for MD).
        elements: the element names ``pair_coeff * * ...`` may map LAMMPS types to; default:
            every element the model accepts.
        hops: receptive field in neighbour hops (default ``model.message_hops``); the pair
            cutoff is ``hops * model.cutoff``. Fewer hops than the model's give wrong energies.
    """

    def __init__(
        self, model: Potential, elements: list[str] | None = None, hops: int | None = None
    ):
        if not isinstance(model, Potential):
            raise TypeError(f"LAMMPS needs a noether Potential, got {type(model).__name__}")
        offset = getattr(model, "frame_offset", None)
        if offset is not None and float(offset) != 0.0:
            raise ValueError(
                f"{type(model).__name__} adds frame_offset = {float(offset)} per frame, which "
                "has no per-atom share in a LAMMPS domain; accepted: models with frame_offset 0"
            )
        self.model = model.eval()
        if hops is None:
            try:
                hops = model.message_hops
            except NotImplementedError as error:
                raise ValueError(f"{error}, or pass hops (the neighbour hops it reaches)") from None
        self.hops = int(hops)
        if self.hops < 1:
            raise ValueError(f"hops must be at least 1, got {hops}")
        if elements is None:
            elements = [symbol(z) for z in range(1, model.max_atomic_number + 1)]
        for name in elements:
            z = atomic_number(name)
            if z > model.max_atomic_number:
                raise ValueError(
                    f"element {name} (Z = {z}) is beyond this {type(model).__name__}'s range; "
                    f"accepted: atomic numbers 1 to {model.max_atomic_number}"
                )
        self.element_types = list(elements)
        self._numbers = np.array([atomic_number(e) for e in self.element_types], dtype=np.int64)
        self.ndescriptors = 1
        self.nparams = 1
        self.rcutfac = 0.5 * self.hops * model.cutoff
        self.interface = None

    def __getstate__(self) -> dict:
        return {
            "potential": potential_payload(self.model),
            "element_types": self.element_types,
            "hops": self.hops,
        }

    def __setstate__(self, state: dict) -> None:
        model = potential_from_payload(state["potential"], "LAMMPS model")
        self.__init__(model, state["element_types"], state["hops"])

    def compute_descriptors(self, data) -> None:
        """Nothing: the model's features are computed in :meth:`compute_forces`."""

    def compute_gradients(self, data) -> None:
        """Nothing: energies and pair gradients are computed together in :meth:`compute_forces`."""

    def compute_forces(self, data) -> None:
        """Energies of the local atoms and ``dE/drij`` of every pair into ``data``."""
        elems = np.asarray(data.elems)
        if elems.size and elems.min() < 0:
            raise ValueError(
                "an atom type is mapped to NULL in pair_coeff; this model needs every atom typed"
            )
        n_list = int(data.nlistatoms)
        local = np.asarray(data.iatoms)[:n_list] if n_list else np.zeros(0, dtype=np.int64)
        atomic, energy, fij = energy_from_pairs(
            self.model,
            self._numbers[elems],
            local,
            np.asarray(data.pair_i),
            np.asarray(data.pair_j),
            np.asarray(data.rij),
        )
        data.update_pair_forces(fij)
        data.eatoms = atomic
        data.energy = energy


def write_lammps(
    model: Potential,
    path: str | os.PathLike,
    elements: list[str] | None = None,
    hops: int | None = None,
) -> Path:
    """Pickle a :class:`LAMMPSPotential` of ``model`` to ``path`` (atomically) for
    ``pair_style mliap unified PATH 0``. LAMMPS reads ``.pt``/``.pth`` with ``torch.load``, which
    refuses pickled objects, so any other suffix is accepted (``.pkl`` by convention)."""
    path = Path(path)
    if path.suffix in (".pt", ".pth"):
        raise ValueError(
            f"{path}: LAMMPS loads .pt/.pth files with torch.load, which refuses this model; "
            "accepted: another suffix, e.g. .pkl"
        )
    unified = LAMMPSPotential(model, elements, hops)
    with atomic_path(path, path.suffix or ".pkl") as tmp, open(tmp, "wb") as handle:
        pickle.dump(unified, handle)
    return path


def load_lammps(path: str | os.PathLike) -> LAMMPSPotential:
    """Read back a file of :func:`write_lammps` (as LAMMPS does)."""
    with open(path, "rb") as handle:
        unified = pickle.load(handle)
    if not isinstance(unified, LAMMPSPotential):
        raise ValueError(f"{path}: not a noether LAMMPS model ({type(unified).__name__})")
    return unified
