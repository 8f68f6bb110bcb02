import numpy as np
import pytest

from noether.atoms.molecules import RMD17_MOLECULES, build_molecule, parse_spec


def test_specs():
    assert parse_spec("aspirin") == ("aspirin", "smiles", RMD17_MOLECULES["aspirin"])
    assert parse_spec("CH3CH2OH") == ("CH3CH2OH", "ase", "CH3CH2OH")
    assert parse_spec("water:O") == ("water", "smiles", "O")
    assert parse_spec("c1ccncc1")[1] == "smiles"
    with pytest.raises(ValueError, match=r"unknown molecule 'notamolecule\(': not an rMD17 name"):
        parse_spec("notamolecule(")


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("ethanol", "C2H6O"),
        ("malonaldehyde", "C3H4O2"),
        ("uracil", "C4H4N2O2"),
        ("aspirin", "C9H8O4"),
        ("naphthalene", "C10H8"),
        ("salicylic_acid", "C7H6O3"),
        ("toluene", "C7H8"),
        ("benzene", "C6H6"),
    ],
)
def test_rmd17_molecules_have_their_formulas(name, formula):
    _, atoms = build_molecule(name)
    assert atoms.get_chemical_formula(mode="hill") == formula
    d = atoms.get_all_distances()
    np.fill_diagonal(d, 10)
    assert d.min() > 0.9  # a sensible 3D structure


def test_embedding_is_deterministic_in_the_seed():
    a = build_molecule("aspirin", seed=1)[1].positions
    b = build_molecule("aspirin", seed=1)[1].positions
    np.testing.assert_array_equal(a, b)
