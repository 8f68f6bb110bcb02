import pytest
from ase import units

from noether.atoms.units import (
    REPORT_FORCE_UNITS,
    energy_factor,
    force_factor,
    length_factor,
    report_conversions,
    report_unit,
    stress_factor,
)


def test_known_factors():
    assert energy_factor("kcal/mol") == pytest.approx(0.0433641, rel=1e-6)
    assert energy_factor("Hartree") == pytest.approx(27.211386, rel=1e-7)
    assert energy_factor("ha") == energy_factor("HARTREE")  # case-insensitive
    assert energy_factor("kJ/mol") == pytest.approx(0.01036427, rel=1e-6)
    assert length_factor("Bohr") == pytest.approx(0.52917721, rel=1e-7)
    assert length_factor("nm") == 10.0
    assert force_factor("Hartree", "Bohr") == pytest.approx(51.42208, rel=1e-6)
    assert stress_factor("eV", "Bohr") == pytest.approx(1 / 0.52917721**3, rel=1e-6)
    assert stress_factor("GPa", "Ang") == pytest.approx(units.GPa)


def test_unknown_unit_names_what_is_accepted():
    with pytest.raises(ValueError, match=r"unknown energy unit 'kcal'.*kcal/mol"):
        energy_factor("kcal")
    with pytest.raises(ValueError, match=r"unknown length unit 'inch'.*Bohr"):
        length_factor("inch")


def test_report_conversions_come_from_ase_units():
    conv = report_conversions("kcal/mol", "kJ/mol/Å")
    assert conv["energy"] == ("meV", pytest.approx(1e-3 * units.mol / units.kcal), "kcal/mol")
    assert conv["energy"][1] * 1e3 == pytest.approx(23.0605, rel=1e-5)  # kcal/mol per eV
    assert conv["forces"] == ("meV/Å", pytest.approx(1e-3 * units.mol / units.kJ), "kJ/mol/Å")
    assert report_unit("KCAL/MOL/ang", REPORT_FORCE_UNITS) == "kcal/mol/Å"
    assert report_unit("kcal/mol/nm", REPORT_FORCE_UNITS) is None
    with pytest.raises(ValueError, match="accepted: meV, eV, kcal/mol, kJ/mol"):
        report_conversions("Hartree", "eV/Å")
