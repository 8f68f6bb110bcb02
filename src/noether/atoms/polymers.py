"""Polymer families as repeat units, and capped oligomers of any length built from them.

A repeat unit is a SMILES with two attachment points ``[*]``: the first (in the string) is the
head, the second the tail. An oligomer of ``n`` units joins the tail of unit ``k`` to the head of
unit ``k + 1`` and caps the two free ends with hydrogen (``cap="H"``) or methyl (``cap="CH3"``).
Everything here is pure (RDKit only); :func:`build_oligomer` embeds the result in 3D through
:func:`noether.atoms.molecules.build_molecule` (ETKDG + MMFF, deterministic in the seed).
Stereocentres are left unspecified, so the embedding picks a (seeded) atactic chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from noether.atoms.molecules import build_molecule

__all__ = [
    "CAPS",
    "DEFAULT_FAMILIES",
    "POLYMERS",
    "Polymer",
    "build_oligomer",
    "oligomer_atom_count",
    "oligomer_smiles",
    "unit_atom_count",
]


@dataclass(frozen=True)
class Polymer:
    """One polymer family: a short ``name`` (file-safe), a readable ``label`` and the repeat
    unit's SMILES with exactly two ``[*]`` attachment points (head first, then tail)."""

    name: str
    label: str
    unit: str


#: The families of ``noether data polymers``, by repeat unit.
POLYMERS: dict[str, Polymer] = {
    p.name: p
    for p in (
        Polymer("pe", "polyethylene", "[*]CC[*]"),
        Polymer("pp", "polypropylene", "[*]CC([*])C"),
        Polymer("ps", "polystyrene", "[*]CC([*])c1ccccc1"),
        Polymer("pvc", "poly(vinyl chloride)", "[*]CC([*])Cl"),
        Polymer("ptfe", "polytetrafluoroethylene", "[*]C(F)(F)C([*])(F)F"),
        Polymer("peo", "poly(ethylene oxide)", "[*]CCO[*]"),
        Polymer("pmma", "poly(methyl methacrylate)", "[*]CC([*])(C)C(=O)OC"),
        Polymer("pva", "poly(vinyl alcohol)", "[*]CC([*])O"),
        Polymer("pan", "polyacrylonitrile", "[*]CC([*])C#N"),
        Polymer("nylon6", "nylon-6", "[*]NCCCCCC([*])=O"),
        Polymer("pet", "poly(ethylene terephthalate)", "[*]OCCOC(=O)c1ccc(cc1)C([*])=O"),
        Polymer("pla", "polylactide", "[*]OC(C)C([*])=O"),
        Polymer("pvdf", "poly(vinylidene fluoride)", "[*]CC([*])(F)F"),
        Polymer("pom", "polyoxymethylene", "[*]CO[*]"),
        Polymer("paa", "poly(acrylic acid)", "[*]CC([*])C(=O)O"),
        Polymer("pdms", "polydimethylsiloxane", "[*]O[Si]([*])(C)C"),
    )
}

#: The twelve families of the default data set (the others are there to be asked for).
DEFAULT_FAMILIES: tuple[str, ...] = (
    "pe",
    "pp",
    "ps",
    "pvc",
    "ptfe",
    "peo",
    "pmma",
    "pva",
    "pan",
    "nylon6",
    "pet",
    "pla",
)

#: End groups: the SMILES of the atom(s) bonded to a free attachment point.
CAPS: dict[str, str] = {"H": "[H]", "CH3": "C"}


def _rdkit():
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return Chem


def _unit_mol(unit: str):
    Chem = _rdkit()
    mol = Chem.MolFromSmiles(unit)
    if mol is None:
        raise ValueError(f"repeat unit {unit!r} is not a valid SMILES")
    dummies = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() == 0]
    if len(dummies) != 2:
        raise ValueError(
            f"repeat unit {unit!r} has {len(dummies)} attachment points [*]; it needs exactly 2"
        )
    for a in dummies:
        if mol.GetAtomWithIdx(a).GetDegree() != 1:
            raise ValueError(f"repeat unit {unit!r}: an attachment point must have one bond")
    return mol, dummies


def _resolve(polymer: str | Polymer) -> Polymer:
    if isinstance(polymer, Polymer):
        return polymer
    if polymer not in POLYMERS:
        raise ValueError(f"unknown polymer {polymer!r}; accepted: {', '.join(POLYMERS)}")
    return POLYMERS[polymer]


def oligomer_smiles(polymer: str | Polymer, n_units: int, cap: str = "H") -> str:
    """Canonical SMILES of the capped oligomer of ``n_units`` repeat units.

    Units are joined head to tail (``[*]A[*] + [*]A[*] -> [*]AA[*]``) by RDKit's ``molzip``;
    the two free ends get ``cap`` (a key of :data:`CAPS`). Raises on an unknown family or cap,
    ``n_units < 1`` or a repeat unit without exactly two attachment points.
    """
    Chem = _rdkit()
    family = _resolve(polymer)
    if n_units < 1:
        raise ValueError(f"n_units must be >= 1, got {n_units}")
    if cap not in CAPS:
        raise ValueError(f"unknown cap {cap!r}; accepted: {', '.join(CAPS)}")
    _, dummies = _unit_mol(family.unit)
    # Label attachment points by atom-map numbers: unit k has head k+1 and tail k+2; the caps
    # carry 1 and n+1, so molzip bonds tail k to head k+1 and the ends to the caps.
    pieces = []
    for k in range(n_units):
        mol, _ = _unit_mol(family.unit)
        mol.GetAtomWithIdx(dummies[0]).SetAtomMapNum(k + 1)
        mol.GetAtomWithIdx(dummies[1]).SetAtomMapNum(k + 2)
        pieces.append(mol)
    for label in (1, n_units + 1):
        end = Chem.MolFromSmiles(f"[*:{label}]{CAPS[cap]}", sanitize=False)
        pieces.append(end)
    combined = pieces[0]
    for piece in pieces[1:]:
        combined = Chem.CombineMols(combined, piece)
    joined = Chem.molzip(combined)
    joined = Chem.RemoveHs(joined)
    Chem.SanitizeMol(joined)
    return Chem.MolToSmiles(joined)


def unit_atom_count(polymer: str | Polymer) -> int:
    """Atoms (with hydrogens) that one repeat unit adds to a chain, attachment points excluded."""
    Chem = _rdkit()
    mol, _ = _unit_mol(_resolve(polymer).unit)
    return sum(1 for a in Chem.AddHs(mol).GetAtoms() if a.GetAtomicNum() != 0)


def oligomer_atom_count(polymer: str | Polymer, n_units: int, cap: str = "H") -> int:
    """Atoms of the capped oligomer: ``n_units`` units plus the two end groups."""
    Chem = _rdkit()
    cap_mol = Chem.AddHs(Chem.MolFromSmiles(f"[*]{CAPS[cap]}"))
    cap_atoms = sum(1 for a in cap_mol.GetAtoms() if a.GetAtomicNum() != 0)
    return n_units * unit_atom_count(polymer) + 2 * cap_atoms


def build_oligomer(polymer: str | Polymer, n_units: int, *, cap: str = "H", seed: int = 0):
    """``(name, ase.Atoms)``: the capped oligomer in 3D (RDKit ETKDG + MMFF, seeded), named
    ``<family>_n<units>``; positions in Å."""
    family = _resolve(polymer)
    name = f"{family.name}_n{n_units}"
    _, atoms = build_molecule(f"{name}:{oligomer_smiles(family, n_units, cap)}", seed=seed)
    return name, atoms
