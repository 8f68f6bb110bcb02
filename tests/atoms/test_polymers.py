import numpy as np
import pytest

pytest.importorskip("rdkit")

from noether.atoms.polymers import (
    POLYMERS,
    Polymer,
    build_oligomer,
    oligomer_atom_count,
    oligomer_smiles,
    unit_atom_count,
)


def _formula(smiles: str) -> str:
    from rdkit import Chem
    from rdkit.Chem.rdMolDescriptors import CalcMolFormula

    return CalcMolFormula(Chem.MolFromSmiles(smiles))


def test_at_least_twelve_families_with_valid_distinct_repeat_units():
    from rdkit import Chem

    assert len(POLYMERS) >= 12
    for name in ("pe", "pp", "ps", "pvc", "ptfe", "peo", "pmma", "pva", "pan", "nylon6", "pet"):
        assert name in POLYMERS
    assert "pla" in POLYMERS
    canon = set()
    for p in POLYMERS.values():
        mol = Chem.MolFromSmiles(p.unit)
        assert mol is not None, p.name
        assert sum(a.GetAtomicNum() == 0 for a in mol.GetAtoms()) == 2, p.name
        canon.add(Chem.MolToSmiles(mol))
    assert len(canon) == len(POLYMERS)


@pytest.mark.parametrize(
    ("family", "units", "cap", "formula"),
    [
        ("pe", 3, "H", "C6H14"),  # hexane
        ("pe", 1, "CH3", "C4H10"),  # butane
        ("ptfe", 2, "H", "C4H2F8"),
        ("ps", 2, "H", "C16H18"),
        ("pvc", 2, "H", "C4H8Cl2"),
        ("peo", 2, "H", "C4H10O2"),  # H-CH2CH2O-CH2CH2O-H
        ("pet", 1, "H", "C10H10O4"),
        ("nylon6", 1, "H", "C6H13NO"),  # H-NH(CH2)5C(=O)-H
        ("pla", 3, "CH3", "C11H18O6"),
        ("pdms", 2, "H", "C4H14O2Si2"),
    ],
)
def test_oligomers_have_the_formula_of_units_plus_caps(family, units, cap, formula):
    smiles = oligomer_smiles(family, units, cap)
    assert _formula(smiles) == formula
    from rdkit import Chem

    n_atoms = Chem.AddHs(Chem.MolFromSmiles(smiles)).GetNumAtoms()
    assert n_atoms == oligomer_atom_count(family, units, cap)


@pytest.mark.parametrize("family", list(POLYMERS))
def test_each_unit_adds_the_same_atoms_and_chains_are_linear(family):
    from rdkit import Chem

    counts = [
        Chem.AddHs(Chem.MolFromSmiles(oligomer_smiles(family, n))).GetNumAtoms() for n in (1, 2, 3)
    ]
    assert counts[1] - counts[0] == counts[2] - counts[1] == unit_atom_count(family)
    assert counts[0] == unit_atom_count(family) + 2  # two H caps
    mol = Chem.MolFromSmiles(oligomer_smiles(family, 3))
    assert len(Chem.GetMolFrags(mol)) == 1  # one connected chain


def test_head_to_tail_joining():
    # PVC head-to-tail: every Cl carbon is followed by a CH2, never two CHCl side by side.
    smiles = oligomer_smiles("pvc", 3)
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    pattern = Chem.MolFromSmarts("C(Cl)C(Cl)")
    assert not mol.HasSubstructMatch(pattern)
    assert mol.HasSubstructMatch(Chem.MolFromSmarts("C(Cl)CC(Cl)CC(Cl)"))


def test_errors():
    with pytest.raises(ValueError, match="unknown polymer 'nope'"):
        oligomer_smiles("nope", 2)
    with pytest.raises(ValueError, match="n_units must be >= 1"):
        oligomer_smiles("pe", 0)
    with pytest.raises(ValueError, match="unknown cap"):
        oligomer_smiles("pe", 2, cap="OH")
    with pytest.raises(ValueError, match="has 1 attachment points"):
        oligomer_smiles(Polymer("bad", "bad", "[*]CC"), 2)
    with pytest.raises(ValueError, match="not a valid SMILES"):
        oligomer_smiles(Polymer("bad", "bad", "[*]C(C[*]"), 2)


def test_build_oligomer_is_3d_sensible_and_seeded():
    name, atoms = build_oligomer("pmma", 2, seed=1)
    assert name == "pmma_n2" and len(atoms) == oligomer_atom_count("pmma", 2)
    d = atoms.get_all_distances()
    np.fill_diagonal(d, 10)
    assert d.min() > 0.9
    assert np.ptp(atoms.positions, axis=0).max() > 4.0  # not collapsed
    again = build_oligomer("pmma", 2, seed=1)[1]
    np.testing.assert_array_equal(atoms.positions, again.positions)
