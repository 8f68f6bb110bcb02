"""Neighbour lists in pure PyTorch: all pairs, periodic images, and a cell list.

Every method returns the same full list (both ``i→j`` and ``j→i``): ``edge_index (2, E)`` with
centre ``i = edge_index[0]`` and neighbour ``j = edge_index[1]``, and integer cell ``shifts (E, 3)``
such that the pair vector

    r_ij = positions[j] - positions[i] + shifts @ cell[batch[i]]

has length below ``cutoff``. Shifts refer to the positions as given (atoms outside the cell need not
be wrapped). Periodic images are enumerated as far as the cutoff reaches, so any cutoff works; when
the cutoff is below half of every cell width this is the minimum-image convention. Cells may be
triclinic and periodic along any subset of axes.

Methods: ``"all_pairs"`` (O(n²) per frame, vectorised over a batch of molecules), ``"cell_list"``
(O(n) binning for large or periodic systems), ``"vesin"`` (the optional ``vesin`` package, if
installed) and ``"auto"`` (all pairs for molecules up to :data:`AUTO_ALL_PAIRS_MAX` atoms, the cell
list beyond and for every periodic frame; a periodic axis thinner than the cutoff uses all pairs
over the images it needs).
The list is computed without gradients; build differentiable vectors with :func:`edge_vectors`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["AUTO_ALL_PAIRS_MAX", "METHODS", "complete_cell", "edge_vectors", "neighbor_list"]

METHODS = ("auto", "all_pairs", "cell_list", "vesin")
#: Largest molecule (non-periodic frame) that "auto" treats with all pairs.
AUTO_ALL_PAIRS_MAX = 1024


def edge_vectors(
    positions: Tensor, edge_index: Tensor, shifts: Tensor, cell: Tensor, batch: Tensor
) -> Tensor:
    """``(E, 3)`` pair vectors ``r_j - r_i + shift @ cell`` in Å, differentiable in both inputs."""
    i, j = edge_index[0], edge_index[1]
    shift = torch.einsum("ek,ekl->el", shifts.to(positions.dtype), cell[batch[i]])
    return positions[j] - positions[i] + shift


def _check_inputs(
    positions: Tensor, cutoff: float, batch: Tensor, cell: Tensor, pbc: Tensor
) -> None:
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must have shape (n_atoms, 3), got {tuple(positions.shape)}")
    if not positions.is_floating_point():
        raise TypeError(f"positions must be floating point, got {positions.dtype}")
    if not torch.isfinite(positions).all():
        bad = int(torch.nonzero(~torch.isfinite(positions).all(dim=1))[0, 0])
        raise ValueError(
            f"positions of atom {bad} are {positions[bad].tolist()}; only finite numbers are accepted"
        )
    if not (isinstance(cutoff, (int, float)) and math.isfinite(cutoff) and cutoff > 0):
        raise ValueError(f"cutoff must be a positive finite number in Å, got {cutoff!r}")
    if batch.shape != (positions.shape[0],):
        raise ValueError(f"batch must have shape ({positions.shape[0]},), got {tuple(batch.shape)}")
    if batch.numel() and (batch[1:] < batch[:-1]).any():
        raise ValueError("batch must be sorted: the atoms of each frame must be contiguous")
    if cell.ndim != 3 or cell.shape[1:] != (3, 3):
        raise ValueError(f"cell must have shape (n_graphs, 3, 3), got {tuple(cell.shape)}")
    if pbc.shape != (cell.shape[0], 3):
        raise ValueError(f"pbc must have shape ({cell.shape[0]}, 3), got {tuple(pbc.shape)}")


def neighbor_list(
    positions: Tensor,
    cutoff: float,
    batch: Tensor | None = None,
    cell: Tensor | None = None,
    pbc: Tensor | None = None,
    *,
    method: str = "auto",
) -> tuple[Tensor, Tensor]:
    """All pairs closer than ``cutoff`` (Å) within each frame.

    Args:
        positions: ``(n_atoms, 3)`` Å.
        batch: ``(n_atoms,)`` sorted frame index (None: one frame).
        cell: ``(n_graphs, 3, 3)`` or ``(3, 3)`` lattice vectors as rows, Å (None: no cell).
        pbc: ``(n_graphs, 3)`` or ``(3,)`` bool (None: not periodic).
        method: one of :data:`METHODS`.

    Returns:
        ``edge_index (2, E)`` int64 and ``shifts (E, 3)`` in the dtype of ``positions``.
    """
    if method not in METHODS:
        raise ValueError(
            f"unknown neighbour-list method {method!r}; accepted: {', '.join(METHODS)}"
        )
    positions = positions.detach()
    device, dtype = positions.device, positions.dtype
    n_atoms = positions.shape[0] if positions.ndim == 2 else 0
    if batch is None:
        batch = torch.zeros(n_atoms, dtype=torch.long, device=device)
    n_graphs = int(batch.max()) + 1 if batch.numel() else 1
    if cell is None:
        cell = torch.zeros(n_graphs, 3, 3, dtype=dtype, device=device)
    cell = cell.detach().to(dtype).reshape(-1, 3, 3).expand(n_graphs, 3, 3)
    if pbc is None:
        pbc = torch.zeros(n_graphs, 3, dtype=torch.bool, device=device)
    pbc = pbc.to(torch.bool).reshape(-1, 3).expand(n_graphs, 3)
    _check_inputs(positions, cutoff, batch, cell, pbc)

    periodic = bool(pbc.any())
    counts = torch.bincount(batch, minlength=n_graphs)
    if (method == "all_pairs" and not periodic) or (
        method == "auto" and not periodic and int(counts.max()) <= AUTO_ALL_PAIRS_MAX
    ):
        return _molecule_pairs(positions, batch, counts, cutoff)

    ptr = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
    edges, shifts = [], []
    for g in range(n_graphs):
        a, b = int(ptr[g]), int(ptr[g + 1])
        if a == b:
            continue
        frame_cell = complete_cell(cell[g], pbc[g], g)
        edge, shift = _one_frame(positions[a:b], frame_cell, pbc[g], cutoff, method)
        edges.append(edge + a)
        shifts.append(shift)
    if not edges:
        return torch.zeros(2, 0, dtype=torch.long, device=device), positions.new_zeros(0, 3)
    return torch.cat(edges, dim=1), torch.cat(shifts)


def complete_cell(cell: Tensor, pbc: Tensor, frame: int = 0) -> Tensor:
    """``cell (3, 3)`` with its non-periodic lattice vectors replaced by unit vectors orthogonal to
    the periodic ones when the cell is singular (ASE writes a 2D system as a cell with a zero third
    vector). Shifts along non-periodic axes are always zero, so the pairs do not depend on those
    vectors; only the binning needs an invertible cell. Dependent periodic vectors are an error."""
    if not bool(pbc.any()):
        return cell
    lengths = cell.norm(dim=1)
    volume = torch.linalg.det(cell).abs()
    if bool(lengths.min() > 0) and bool(volume > 1e-10 * lengths.prod()):
        return cell
    periodic = cell[pbc]
    k = periodic.shape[0]
    gram = periodic @ periodic.T
    scale = periodic.norm(dim=1).prod() ** 2
    if not bool(scale > 0) or not bool(torch.linalg.det(gram) > 1e-10 * scale):
        raise ValueError(
            f"frame {frame}: the periodic lattice vectors {periodic.tolist()} (pbc "
            f"{pbc.tolist()}) are not independent; a periodic axis needs its own cell vector"
        )
    q, _ = torch.linalg.qr(periodic.T, mode="complete")  # columns k..2 span the complement
    out = cell.clone()
    out[~pbc] = q[:, k:].T.to(cell.dtype)
    return out


def _one_frame(pos: Tensor, cell: Tensor, pbc: Tensor, cutoff: float, method: str):
    if method == "vesin":
        return _vesin(pos, cell, pbc, cutoff)
    if method == "all_pairs":
        return _periodic_pairs(pos, cell, pbc, cutoff)
    if method == "auto" and not pbc.any() and pos.shape[0] <= AUTO_ALL_PAIRS_MAX:
        return _periodic_pairs(pos, cell, pbc, cutoff)
    return _cell_list(pos, cell, pbc, cutoff)


def _too_thin(cell: Tensor, pbc: Tensor, cutoff: float) -> bool:
    """Whether a periodic axis is thinner than the cutoff (pairs then reach beyond ±1 image)."""
    return bool(pbc.any()) and bool((_heights(cell)[pbc] < cutoff).any())


def _molecule_pairs(positions: Tensor, batch: Tensor, counts: Tensor, cutoff: float):
    """Pairs within each frame of a batch of non-periodic frames, vectorised: O(Σ n_g²)."""
    device = positions.device
    n = positions.shape[0]
    per_atom = counts[batch]  # pairs that start at each atom
    i = torch.repeat_interleave(torch.arange(n, device=device), per_atom)
    start = torch.cumsum(per_atom, 0) - per_atom  # first pair of each atom
    ptr = torch.cumsum(counts, 0) - counts
    j = ptr[batch[i]] + torch.arange(i.numel(), device=device) - start[i]
    d2 = (positions[j] - positions[i]).square().sum(-1)
    keep = (d2 < cutoff * cutoff) & (i != j)
    edge = torch.stack([i[keep], j[keep]])
    return edge, positions.new_zeros(edge.shape[1], 3)


def _heights(cell: Tensor) -> Tensor:
    """Distances between opposite faces of the cell, ``(3,)`` Å."""
    inv = torch.linalg.inv(cell)
    return 1.0 / inv.norm(dim=0)


def _frame_cell(pos: Tensor, cell: Tensor, pbc: Tensor) -> Tensor:
    """The cell to bin in: the given one, or the identity when the frame is not periodic."""
    if pbc.any():
        return cell
    return torch.eye(3, dtype=pos.dtype, device=pos.device)


def _wrap(pos: Tensor, cell: Tensor, pbc: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Fractional coordinates wrapped into [0, 1) along periodic axes, the integer images removed,
    and the wrapped Cartesian positions."""
    frac = torch.linalg.solve(cell.T, pos.T).T  # pos = frac @ cell
    image = torch.where(pbc, torch.floor(frac), torch.zeros_like(frac))
    frac = frac - image
    frac = torch.where(pbc & (frac >= 1.0), frac - 1.0, frac)  # round-off at the upper face
    return frac, image, pos - image @ cell


def _periodic_pairs(pos: Tensor, cell: Tensor, pbc: Tensor, cutoff: float):
    """All pairs over every periodic image within reach: O(n² × images)."""
    n = pos.shape[0]
    if not pbc.any():
        counts = torch.tensor([n], device=pos.device)
        return _molecule_pairs(
            pos, torch.zeros(n, dtype=torch.long, device=pos.device), counts, cutoff
        )
    _, image, wrapped = _wrap(pos, cell, pbc)
    reach = torch.where(pbc, torch.ceil(cutoff / _heights(cell)), torch.zeros(3, dtype=pos.dtype))
    ranges = [torch.arange(-int(r), int(r) + 1, device=pos.device) for r in reach]
    s = torch.cartesian_prod(*ranges).to(pos.dtype).reshape(-1, 3)
    vec = wrapped[None, :, None, :] - wrapped[:, None, None, :] + (s @ cell)[None, None]
    keep = vec.square().sum(-1) < cutoff * cutoff
    self_pair = torch.eye(n, dtype=torch.bool, device=pos.device)[:, :, None] & (s == 0).all(-1)
    i, j, k = torch.nonzero(keep & ~self_pair, as_tuple=True)
    shifts = s[k] + image[i] - image[j]
    return torch.stack([i, j]), shifts


def _bin_counts(pos: Tensor, cell: Tensor, pbc: Tensor, cutoff: float) -> Tensor:
    frame = _frame_cell(pos, cell, pbc)
    frac, _, _ = _wrap(pos, frame, pbc)
    span = torch.where(pbc, torch.ones(3, dtype=pos.dtype), frac.max(0).values - frac.min(0).values)
    return torch.clamp(torch.floor(span * _heights(frame) / cutoff), min=1).long()


# Half of the 27 neighbour-bin offsets: (0, 0, 0) and the 13 that come first lexicographically
# after it. Each pair is found once, from one of its two atoms; the other direction is its mirror.
_ALL_OFFSETS = torch.cartesian_prod(*(torch.arange(-1, 2),) * 3)
_HALF_OFFSETS = _ALL_OFFSETS[13:]


def _cell_list(pos: Tensor, cell: Tensor, pbc: Tensor, cutoff: float):
    """Bins of width ≥ cutoff; each atom looks into its own bin and half of the 26 adjacent ones
    (the other half finds the same pairs from the other atom). O(n).

    With one or two bins along a periodic axis the adjacent bins are the same bins under other
    shifts, so no pair is found twice. A periodic axis thinner than the cutoff needs images beyond
    the adjacent ones: such cells go to :func:`_periodic_pairs`.
    """
    device = pos.device
    if _too_thin(cell, pbc, cutoff):
        return _periodic_pairs(pos, cell, pbc, cutoff)
    frame = _frame_cell(pos, cell, pbc)
    bins = _bin_counts(pos, cell, pbc, cutoff)
    frac, image, wrapped = _wrap(pos, frame, pbc)
    low = torch.where(pbc, torch.zeros(3, dtype=pos.dtype), frac.min(0).values)
    span = torch.where(pbc, torch.ones(3, dtype=pos.dtype), frac.max(0).values - low)
    span = torch.clamp(span, min=torch.finfo(pos.dtype).tiny)
    coord = torch.floor((frac - low) / span * bins).long()
    coord = torch.minimum(torch.clamp(coord, min=0), bins - 1)
    strides = torch.stack([bins[1] * bins[2], bins[2], torch.ones_like(bins[2])])
    bin_id = (coord * strides).sum(-1)
    order = torch.argsort(bin_id, stable=True)
    n_bins = int(bins.prod())
    per_bin = torch.bincount(bin_id, minlength=n_bins)
    first = torch.cumsum(per_bin, 0) - per_bin

    offsets = _HALF_OFFSETS.to(device)
    target = coord[:, None, :] + offsets[None]  # (n, 14, 3)
    wrapped_target = torch.remainder(target, bins)
    cell_shift = torch.div(target - wrapped_target, bins, rounding_mode="floor")
    valid = (pbc | ((target >= 0) & (target < bins))).all(-1)
    centre, which = torch.nonzero(valid, as_tuple=True)
    neighbour_bin = (wrapped_target[centre, which] * strides).sum(-1)
    s = cell_shift[centre, which].to(pos.dtype)
    own_bin = which == 0  # offset (0, 0, 0): both atoms see the pair, keep i < j
    counts = per_bin[neighbour_bin]
    i = torch.repeat_interleave(centre, counts)
    s = torch.repeat_interleave(s, counts, dim=0)
    own_bin = torch.repeat_interleave(own_bin, counts)
    start = torch.repeat_interleave(first[neighbour_bin], counts)
    run_start = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    j = order[start + torch.arange(i.numel(), device=device) - run_start]

    vec = wrapped[j] - wrapped[i] + s @ frame
    keep = (vec.square().sum(-1) < cutoff * cutoff) & (~own_bin | (i < j))
    i, j, s = i[keep], j[keep], s[keep]
    i, j, s = torch.cat([i, j]), torch.cat([j, i]), torch.cat([s, -s])  # both directions
    shifts = torch.where(pbc, s + image[i] - image[j], torch.zeros_like(s))
    key = i * pos.shape[0] + j
    sort = torch.argsort(key, stable=True)
    return torch.stack([i[sort], j[sort]]), shifts[sort]


def _vesin(pos: Tensor, cell: Tensor, pbc: Tensor, cutoff: float):
    try:
        from vesin import NeighborList
    except ImportError as err:
        raise ImportError(
            "method='vesin' needs the vesin package (pip install vesin); the pure-PyTorch "
            "methods 'all_pairs' and 'cell_list' need nothing"
        ) from err
    box = cell if pbc.any() else torch.zeros(3, 3, dtype=pos.dtype)
    nl = NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, s = nl.compute(
        points=pos.cpu().double().numpy(),
        box=box.cpu().double().numpy(),
        periodic=[bool(p) for p in pbc.cpu()],
        quantities="ijS",
    )
    edge = torch.stack([torch.as_tensor(i, dtype=torch.long), torch.as_tensor(j, dtype=torch.long)])
    return edge.to(pos.device), torch.as_tensor(s).to(device=pos.device, dtype=pos.dtype)
