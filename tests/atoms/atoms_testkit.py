"""Helpers for the atomistic tests: test geometries, a learnable pair potential and a tiny real
training run of the atoms task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml
from torch import Tensor, nn

from noether.atoms.dataset import AtomsDataset
from noether.atoms.formats import write_dataset
from noether.atoms.molecules import build_molecule
from noether.atoms.potential import Graph, Potential
from noether.atoms.reference import Morse, smoothstep_cutoff
from noether.train.run import train

TINY_ET = {"name": "et", "hidden": 8, "layers": 1, "heads": 2, "num_rbf": 8, "cutoff": 3.0}


def ethanol_frames(path: Path, n_frames: int = 24, seed: int = 0) -> Path:
    """``n_frames`` of ethanol displaced by 0.05 Å, labelled by a Morse potential (eV, eV/Å),
    written as extended XYZ to ``path``."""
    truth = Morse(epsilon=0.3, r0=1.3, rho0=4.0, dtype=torch.float64).eval()
    atoms = build_molecule("ethanol")[1]
    rng = np.random.default_rng(seed)
    z = atoms.numbers
    pos = atoms.positions[None] + rng.normal(scale=0.05, size=(n_frames, len(z), 3))
    labels = [truth(torch.tensor(z), torch.tensor(p)) for p in pos]
    energy = np.array([out["energy"].item() for out in labels])
    forces = np.stack([out["forces"].numpy() for out in labels])
    write_dataset(path, AtomsDataset.from_arrays(z, pos, energy, forces))
    return path


def train_tiny_potential(root: Path, model: dict | None = None, data: str | None = None) -> Path:
    """Two float64 epochs of ``model`` (default: a tiny ET) on :func:`ethanol_frames`; the
    config names the data by ``data`` (default: its absolute path). Returns the run folder."""
    root.mkdir(parents=True, exist_ok=True)
    path = ethanol_frames(root / "ethanol.xyz")
    config = {
        "seed": 0,
        "model": {**(model or TINY_ET), "dtype": "float64"},
        "task": {"name": "atoms", "path": data or str(path)},
        "data": {"batch_size": 8},
        "trainer": {"max_epochs": 2, "precision": "64", "progress_bar": False},
        "run": {"dir": str(root / "run")},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return Path(train(str(root / "config.yaml")))


def random_molecule(n: int, rng: np.random.Generator, min_distance: float = 0.9) -> np.ndarray:
    """``(n, 3)`` positions in a ball, no two atoms closer than ``min_distance`` Å."""
    out: list[np.ndarray] = []
    radius = 0.9 * n ** (1 / 3) + 0.5
    while len(out) < n:
        p = rng.uniform(-radius, radius, 3)
        if all(np.linalg.norm(p - q) >= min_distance for q in out):
            out.append(p)
    return np.array(out)


def morse_frames(path, numbers, n_frames: int, seed: int) -> str:
    """Write ``n_frames`` frames of one composition ``numbers`` labelled by a Morse potential
    (epsilon 0.5 eV, r0 1.6 Å, rho0 3.5) with an offset of -2 eV per atom, atoms at least
    1.1 Å apart; returns the path."""
    truth = Morse(epsilon=0.5, r0=1.6, rho0=3.5, dtype=torch.float64).eval()
    rng = np.random.default_rng(seed)
    z = np.array(numbers)
    pos = np.stack([random_molecule(len(z), rng, 1.1) * 1.2 for _ in range(n_frames)])
    out = [truth(torch.tensor(z), torch.tensor(p)) for p in pos]
    energy = np.array([o["energy"].item() - 2.0 * len(z) for o in out])
    forces = np.stack([o["forces"].numpy() for o in out])
    write_dataset(path, AtomsDataset.from_arrays(z, pos, energy, forces))
    return str(path)


class PairMLP(Potential):
    """Learnable, element-aware pair potential: ``Σ_j MLP(r_ij, z_i, z_j) φ(r_ij)``."""

    def __init__(self, cutoff: float = 4.0, hidden: int = 16, *, dtype=torch.float32):
        super().__init__(cutoff)
        self.embed = nn.Embedding(10, 4)
        self.mlp = nn.Sequential(nn.Linear(9, hidden), nn.SiLU(), nn.Linear(hidden, 1))
        self.to(dtype)

    def atomic_energies(self, graph: Graph) -> Tensor:
        i, j = graph.edge_index
        r = graph.lengths
        zi, zj = self.embed(graph.numbers[i] % 10), self.embed(graph.numbers[j] % 10)
        features = torch.cat([r[:, None], zi + zj, zi * zj], dim=1)
        pair = self.mlp(features)[:, 0] * smoothstep_cutoff(r, 0.5 * self.cutoff, self.cutoff)
        out = torch.zeros(graph.numbers.shape[0], dtype=pair.dtype)
        return out.index_add(0, i, pair)
