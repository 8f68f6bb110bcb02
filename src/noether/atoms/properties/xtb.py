"""QM9-style reference data from GFN2-xTB: small organic molecules from SMILES (RDKit 3D
conformers, MMFF-relaxed), labelled by a tblite single point with

- ``energy``: total energy, eV;
- ``homo``, ``lumo``, ``gap``: frontier orbital energies and their difference, eV;
- ``mu``: dipole moment magnitude, Debye.

:data:`SMALL_MOLECULES` is a built-in list of QM9-like molecules (at most 9 heavy atoms of C, N,
O, F); several conformers of each give geometric variety. Deterministic in the seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from noether.atoms.properties.dataset import PropertyDataset
from noether.atoms.properties.qm9 import HARTREE

__all__ = ["SMALL_MOLECULES", "xtb_properties"]

BOHR = 0.529177210903  # Å
E_BOHR_IN_DEBYE = 2.541746473

#: QM9-like molecules (C, N, O, F; up to 9 heavy atoms), by SMILES.
SMALL_MOLECULES: tuple[str, ...] = (
    "C", "N", "O", "CC", "CO", "CN", "CF", "C#C", "C=C", "C=O", "C#N", "CCC", "CCO", "CCN",
    "CC=O", "COC", "CNC", "CC#N", "CC#C", "OCO", "NC=O", "OC=O", "FC(F)F", "CC(C)C", "CCCC",
    "CCCO", "CCCN", "CC(C)O", "CC(=O)C", "CC(=O)O", "CC(=O)N", "COC=O", "CCOC", "OCCO", "NCCO",
    "NCCN", "CC(F)F", "C1CC1", "C1CO1", "C1CN1", "C1CCC1", "C1COC1", "CCCCC", "CCCCO",
    "CC(C)(C)C", "CC(C)CO", "CCC(=O)C", "CCOC=O", "CC(=O)OC", "OC(=O)CO", "NC(=O)CO",
    "CC(N)C(=O)O", "C1CCCC1", "C1CCOC1", "C1CCNC1", "O=C1CCC1", "c1ccoc1", "c1cc[nH]c1",
    "c1cnc[nH]1", "c1cn[nH]c1", "c1ncoc1", "CCCCCC", "CCCCCO", "CCOCC", "C1CCCCC1", "C1CCOCC1",
    "C1CCNCC1", "C1COCCO1", "O=C1CCCC1", "c1ccccc1", "c1ccncc1", "c1cncnc1", "c1cnccn1",
    "Cc1ccco1", "Cc1ccc[nH]1", "Oc1ccco1", "CC1=CC=CC1", "CCCCCCC", "CC(C)CC(C)C", "CCCC(=O)O",
    "CCC(=O)OC", "CC(=O)CC(C)=O", "OCC(O)CO", "CC(O)C(=O)O", "NC(=O)NC=O", "O=C(O)C(=O)O",
    "Cc1ccccc1", "Oc1ccccc1", "Nc1ccccc1", "Fc1ccccc1", "Cc1ccncc1", "Oc1ccncc1", "N#Cc1ccco1",
    "O=Cc1ccco1", "CC(=O)c1ccco1", "c1ccc2[nH]ccc2c1", "O=c1cc[nH]c(=O)[nH]1",
    "Cc1c[nH]c(=O)[nH]c1=O", "CCCCCCCC", "CCCCCCCO", "CC(C)(C)CO", "CCOC(=O)C", "CCOC(=O)CC",
    "OCC1CCCO1", "CC1CCCCC1", "OC1CCCCC1", "NC1CCCCC1", "CC(=O)NC", "CN(C)C=O", "CC(=O)N(C)C",
    "COc1ccccc1", "Cc1ccccc1O", "O=Cc1ccccc1", "OC(=O)c1ccco1", "N#CCC#N", "C#CC#C", "C=CC=C",
    "C=CC=O", "C=CC#N", "OCC#C", "FCC(F)(F)F", "OC(F)(F)F", "CC(F)(F)F", "FC(F)C(F)F",
    "Fc1ccc(F)cc1", "Cc1cc(C)cc(C)c1", "CCc1ccccc1", "CC(C)c1ccco1", "O=C1NC(=O)CC1",
    "O=C1CCC(=O)O1", "C1CC2CCC1C2", "C1CC2CC2C1", "OC1CC1", "NC1CC1", "N#CC1CC1", "O=CC1CC1",
    "CC1(C)CC1", "C1=CCC=C1", "C1=CCCC1",
)  # fmt: skip


def _embed(smiles: str, seed: int):
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"RDKit cannot parse the SMILES {smiles!r}")
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed)
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise ValueError(f"RDKit could not embed {smiles!r} in 3D")
    AllChem.MMFFOptimizeMolecule(mol, maxIters=500)
    numbers = np.array([a.GetAtomicNum() for a in mol.GetAtoms()])
    return numbers, np.array(mol.GetConformer().GetPositions())


def single_point(numbers: np.ndarray, positions: np.ndarray, method: str = "GFN2-xTB") -> dict:
    """GFN2-xTB energy (eV), HOMO, LUMO and gap (eV) and |dipole| (D) of one neutral molecule."""
    try:
        from tblite.interface import Calculator
    except ImportError as err:
        raise ImportError(
            "xTB reference data needs tblite: pip install 'noether[chem]' (tblite and rdkit)"
        ) from err
    calc = Calculator(method, numbers, positions / BOHR)
    calc.set("verbosity", 0)
    result = calc.singlepoint()
    eps = np.asarray(result.get("orbital-energies")) * HARTREE
    occ = np.asarray(result.get("orbital-occupations"))
    homo = float(eps[occ > 1e-6].max())
    lumo = float(eps[occ < 1e-6].min()) if (occ < 1e-6).any() else float("nan")
    dipole = np.asarray(result.get("dipole")) * E_BOHR_IN_DEBYE
    return {
        "energy": float(result.get("energy")) * HARTREE,
        "homo": homo,
        "lumo": lumo,
        "gap": lumo - homo,
        "mu": float(np.linalg.norm(dipole)),
    }


def xtb_properties(
    smiles: Sequence[str] = SMALL_MOLECULES,
    conformers: int = 4,
    *,
    jitter: float = 0.05,
    seed: int = 0,
    method: str = "GFN2-xTB",
    progress: Callable[[int], None] | None = None,
) -> PropertyDataset:
    """``len(smiles) * conformers`` labelled molecules (see the module docstring).

    Conformer 0 of each molecule is the MMFF minimum; the others start from other embeddings
    and get Gaussian displacements of ``jitter`` Å per coordinate (thermal-like variety).
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rng = np.random.default_rng(seed)
    numbers, positions, sizes, names = [], [], [], []
    targets: dict[str, list[float]] = {k: [] for k in ("energy", "homo", "lumo", "gap", "mu")}
    for i, s in enumerate(smiles):
        for c in range(conformers):
            z, pos = _embed(s, seed + 1000 * i + c)
            if c > 0 and jitter > 0:
                pos = pos + rng.normal(scale=jitter, size=pos.shape)
            labels = single_point(z, pos, method)
            numbers.append(z)
            positions.append(pos)
            sizes.append(len(z))
            names.append(s)
            for k in targets:
                targets[k].append(labels[k])
            if progress is not None:
                progress(1)
    return PropertyDataset(
        np.concatenate(numbers),
        np.concatenate(positions),
        np.concatenate([[0], np.cumsum(sizes)]),
        {k: np.array(v) for k, v in targets.items()},
        {"energy": "eV", "homo": "eV", "lumo": "eV", "gap": "eV", "mu": "D"},
        names,
    )
