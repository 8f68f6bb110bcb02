"""Molecules from names or SMILES: 3D structures with RDKit (ETKDG + MMFF) or ASE's g2 set.

A spec is a name of the rMD17 set (``aspirin``), a name in ASE's g2 collection (``CH3CH2OH``), a
SMILES string (``CCO``), or ``name:SMILES`` to name a SMILES. Hydrogens are added.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["RMD17_MOLECULES", "build_molecule", "parse_spec"]

#: The eight molecules of the rMD17-style default set, by SMILES (malonaldehyde as its enol).
RMD17_MOLECULES: dict[str, str] = {
    "ethanol": "CCO",
    "malonaldehyde": "O=C/C=C\\O",
    "uracil": "O=C1C=CNC(=O)N1",
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "naphthalene": "c1ccc2ccccc2c1",
    "salicylic_acid": "O=C(O)c1ccccc1O",
    "toluene": "Cc1ccccc1",
    "benzene": "c1ccccc1",
}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def parse_spec(spec: str) -> tuple[str, str, str]:
    """``(name, kind, value)`` with kind ``"smiles"`` or ``"ase"``; raises on an unknown spec."""
    spec = spec.strip()
    if not spec:
        raise ValueError("empty molecule spec; give a name, a SMILES or name:SMILES")
    if ":" in spec:
        name, smiles = spec.split(":", 1)
        if not _NAME.match(name):
            raise ValueError(f"molecule name {name!r} in {spec!r} must be letters, digits, _ or -")
        return name, "smiles", smiles
    if spec in RMD17_MOLECULES:
        return spec, "smiles", RMD17_MOLECULES[spec]
    from ase.collections import g2

    if spec in g2.names:
        return spec, "ase", spec
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    if Chem.MolFromSmiles(spec) is not None:
        safe = re.sub(r"[^A-Za-z0-9_\-]", "_", spec)
        return safe, "smiles", spec
    raise ValueError(
        f"unknown molecule {spec!r}: not an rMD17 name ({', '.join(RMD17_MOLECULES)}), not in ASE's "
        f"g2 collection, and not a valid SMILES; name a SMILES as name:SMILES"
    )


def build_molecule(spec: str, *, seed: int = 0):
    """``(name, ase.Atoms)``: a 3D structure for ``spec`` (deterministic in ``seed``)."""
    from ase import Atoms

    name, kind, value = parse_spec(spec)
    if kind == "ase":
        from ase.build import molecule

        return name, molecule(value)
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.MolFromSmiles(value)
    if mol is None:
        raise ValueError(f"molecule {name!r}: RDKit cannot parse the SMILES {value!r}")
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed)
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise ValueError(f"molecule {name!r}: RDKit could not embed {value!r} in 3D")
    AllChem.MMFFOptimizeMolecule(mol, maxIters=500)
    positions = np.array(mol.GetConformer().GetPositions())
    numbers = [a.GetAtomicNum() for a in mol.GetAtoms()]
    return name, Atoms(numbers=numbers, positions=positions)
