"""Neighbour lists: noether's pure-PyTorch cell list and all-pairs against vesin and ASE.

Prints milliseconds per call (best of several, one thread) for a molecule, a periodic box of a few
hundred atoms and one of several thousand, and the ratio ours / vesin.
Run: python benchmarks/bench_neighbors.py
"""

from __future__ import annotations

import time

import numpy as np
import torch

from noether.atoms.neighbors import neighbor_list


def best_of(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    cases = [
        ("aspirin-sized molecule, 21 atoms, 5 Å", 21, None, 5.0),
        ("periodic box, 500 atoms, 5 Å", 500, 17.0, 5.0),
        ("periodic box, 5000 atoms, 5 Å", 5000, 36.8, 5.0),
    ]
    print(f"{'system':42s} {'ours':>14s} {'vesin':>9s} {'ase':>9s} {'ours/vesin':>11s}")
    for name, n, box, cutoff in cases:
        periodic = box is not None
        cell = np.eye(3) * (box or 0.0)
        pos = rng.uniform(0, box or 3.0 * n ** (1 / 3), (n, 3))
        ours, peer, ase, method = measure(pos, cell, periodic, cutoff)
        print(
            f"{name:42s} {ours:9.2f} ms {method[:4]} {peer:7.2f}ms {ase:7.2f}ms "
            f"{ours / peer:10.1f}x"
        )


def measure(pos: np.ndarray, cell: np.ndarray, periodic: bool, cutoff: float):
    from ase.neighborlist import primitive_neighbor_list

    pbc = np.array([periodic] * 3)
    t_pos, t_cell, t_pbc = torch.tensor(pos), torch.tensor(cell), torch.tensor(pbc)
    method = "cell_list" if periodic else "all_pairs"
    ours = best_of(lambda: neighbor_list(t_pos, cutoff, cell=t_cell, pbc=t_pbc, method=method))
    try:
        from vesin import NeighborList

        nl = NeighborList(cutoff=cutoff, full_list=True)
        peer = best_of(lambda: nl.compute(pos, cell, periodic, quantities="ijS"))
    except ImportError:
        peer = float("nan")
    ase = best_of(lambda: primitive_neighbor_list("ijS", pbc, cell, pos, cutoff), repeat=2)
    return ours, peer, ase, method


if __name__ == "__main__":
    main()
