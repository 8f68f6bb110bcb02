from dataclasses import replace

import numpy as np
import pytest

from noether.atoms.dataset import AtomsDataset


def test_from_arrays_and_access(ethanol_like):
    ds = ethanol_like
    assert len(ds) == 5 and ds.n_atoms.tolist() == [9] * 5
    sample = ds[3]
    assert sample.positions.shape == (9, 3) and sample.energy.shape == ()
    np.testing.assert_array_equal(sample.positions.numpy(), ds.positions[27:36])
    assert bool(sample.energy_mask) and sample.cell.abs().sum() == 0


def test_subset_and_concatenate(mixed, ethanol_like):
    sub = mixed.subset([3, 0])
    assert sub.n_atoms.tolist() == [4, 3]
    np.testing.assert_array_equal(sub.positions[:4], mixed.positions[10:14])
    assert sub.label_mask("forces").tolist() == [False, True]
    with pytest.raises(ValueError, match="charges are present in some"):
        AtomsDataset.concatenate([ethanol_like, mixed])
    both = AtomsDataset.concatenate([ethanol_like, replace(mixed, charges=None)])
    assert len(both) == 9
    assert both.label_mask("stress").tolist() == [False] * 7 + [True, False]
    np.testing.assert_array_equal(both.positions[45:], mixed.positions)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("numbers", 0, r"frame 1, atom 2: atomic number 0 is not an element; accepted: 1 \(H\)"),
        ("numbers", 119, r"frame 1, atom 2: atomic number 119"),
        ("positions", np.nan, r"frame 1, atom 2: positions contains nan; only finite"),
        ("positions", np.inf, r"frame 1, atom 2: positions contains inf"),
        ("forces", np.nan, r"frame 1, atom 2: forces contains nan"),
    ],
)
def test_bad_values_name_field_frame_and_atom(ethanol_like, field, value, message):
    arrays = {
        "numbers": ethanol_like.numbers.copy(),
        "positions": ethanol_like.positions.copy(),
        "forces": ethanol_like.forces.copy(),
    }
    arrays[field][9 + 2] = value
    with pytest.raises(ValueError, match=message):
        AtomsDataset(offsets=ethanol_like.offsets, energy=ethanol_like.energy, **arrays)


def test_masked_labels_may_be_nan(ethanol_like):
    energy = ethanol_like.energy.copy()
    energy[2] = np.nan
    with pytest.raises(ValueError, match="frame 2: energy contains nan"):
        AtomsDataset(ethanol_like.numbers, ethanol_like.positions, ethanol_like.offsets, energy)
    mask = np.ones(5, bool)
    mask[2] = False
    AtomsDataset(
        ethanol_like.numbers, ethanol_like.positions, ethanol_like.offsets, energy, energy_mask=mask
    )


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match=r"forces have shape \(3, 3, 2\) but positions have"):
        AtomsDataset.from_arrays([1, 1, 8], np.zeros((2, 3, 3)), forces=np.zeros((2, 3, 3)).T)
    with pytest.raises(ValueError, match=r"energy has shape \(3,\); expected \(2,\)"):
        AtomsDataset.from_arrays([1, 1, 8], np.zeros((2, 3, 3)), energy=np.zeros(3))
    with pytest.raises(ValueError, match=r"atomic numbers have shape \(4,\)"):
        AtomsDataset.from_arrays([1, 1, 8, 8], np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="frame 1 has 0 atoms"):
        AtomsDataset([1, 1], np.zeros((2, 3)), [0, 2, 2])
    with pytest.raises(ValueError, match=r"frame 0 is periodic .* volume 0"):
        AtomsDataset([1], np.zeros((1, 3)), [0, 1], cell=np.zeros((1, 3, 3)), pbc=[[1, 1, 1]])
