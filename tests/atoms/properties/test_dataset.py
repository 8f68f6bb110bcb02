"""Property: :meth:`PropertyDataset.load` of a damaged file gives the saved dataset or a
ValueError/OSError naming the file (the readers' property test of atoms/formats, for this one)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from corruption_testkit import corrupt_bytes, damaged_array
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noether.atoms.properties import PropertyDataset
from noether.core.errors import DataError

FAST = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def molecules() -> PropertyDataset:
    return PropertyDataset(
        [8, 1, 1, 6, 1, 1, 1, 1],
        np.arange(24.0).reshape(8, 3) * 0.7,
        [0, 3, 8],
        {"gap": [1.0, 2.0], "mu": [0.5, 0.0]},
        {"gap": "eV", "mu": "D"},
        ["O", "C"],
    )


def same(a: PropertyDataset, b: PropertyDataset) -> bool:
    return (
        all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("numbers", "positions"))
        and np.array_equal(a.offsets, b.offsets)
        and a.targets.keys() == b.targets.keys()
        and all(np.array_equal(a.targets[k], b.targets[k]) for k in a.targets)
        and (a.units, a.names) == (b.units, b.names)
    )


def check(data: st.DataObject, tmp_path) -> None:
    valid = tmp_path / "valid.npz"
    if not valid.exists():
        molecules().save(valid)
    path = tmp_path / "p.npz"
    shutil.copyfile(valid, path)
    if data.draw(st.booleans(), label="bytes"):
        path.write_bytes(corrupt_bytes(data, valid.read_bytes()))
    else:
        arrays = dict(np.load(valid))
        key = data.draw(st.sampled_from(sorted(arrays)), label="key")
        value = arrays.pop(key)
        if data.draw(st.booleans(), label="damage"):
            arrays[key] = damaged_array(data, value)
        np.savez(path, **arrays)
    try:
        back = PropertyDataset.load(path)
    except (ValueError, OSError) as error:
        assert "p.npz" in str(error), f"{type(error).__name__} without the file: {error}"
        return
    assert same(back, PropertyDataset.load(valid)), "a damaged file read as another dataset"


@FAST
@given(data=st.data())
def test_a_damaged_file_loads_right_or_raises_naming_it(data, tmp_path):
    check(data, tmp_path)


@pytest.mark.slow
@settings(FAST, max_examples=3000)
@given(data=st.data())
def test_a_damaged_file_loads_right_or_raises_naming_it_many_examples(data, tmp_path):
    check(data, tmp_path)


def test_nan_targets_and_float_numbers_are_refused_naming_the_file(tmp_path):
    molecules().save(tmp_path / "p.npz")
    arrays = dict(np.load(tmp_path / "p.npz"))
    np.savez(tmp_path / "nan.npz", **{**arrays, "target_gap": np.array([1.0, np.nan])})
    with pytest.raises(DataError, match=r"nan.npz: .*target 'gap' holds non-finite"):
        PropertyDataset.load(tmp_path / "nan.npz")
    np.savez(tmp_path / "z.npz", **{**arrays, "numbers": arrays["numbers"] + 0.5})
    with pytest.raises(DataError, match=r"z.npz: .*integer atomic numbers"):
        PropertyDataset.load(tmp_path / "z.npz")


def test_round_trip_and_subset(tmp_path):
    data = PropertyDataset(
        [8, 1, 1, 6, 1, 1, 1, 1],
        np.arange(24.0).reshape(8, 3),
        [0, 3, 8],
        {"gap": [1.0, 2.0], "mu": [0.5, 0.0]},
        {"gap": "eV", "mu": "D"},
        ["O", "C"],
    )
    path = data.save(tmp_path / "p.npz")
    back = PropertyDataset.load(path)
    assert np.array_equal(back.positions, data.positions) and back.names == ["O", "C"]
    assert back.units == {"gap": "eV", "mu": "D"}
    sub = back.subset([1])
    assert sub.numbers.tolist() == [6, 1, 1, 1, 1] and sub.targets["gap"].tolist() == [2.0]
    assert sub[0]["targets"] == {"gap": 2.0, "mu": 0.0}


def test_bad_dataset_inputs(tmp_path):
    with pytest.raises(ValueError, match="offsets"):
        PropertyDataset([1, 1], np.zeros((2, 3)), [0, 3], {})
    with pytest.raises(ValueError, match="shape"):
        PropertyDataset([1, 1], np.zeros((2, 3)), [0, 2], {"gap": [1.0, 2.0]})
    with pytest.raises(ValueError, match="finite"):
        PropertyDataset([1], np.full((1, 3), np.nan), [0, 1], {})
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a noether property dataset"):
        PropertyDataset.load(tmp_path / "x.npz")
