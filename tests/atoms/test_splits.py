import numpy as np
import pytest

from noether.atoms.splits import load_splits, make_splits, save_splits
from noether.core.errors import DataError


def test_splits_are_disjoint_deterministic_and_round_trip(tmp_path):
    splits = make_splits(100, 80, 0.1, None, seed=3)
    assert [len(v) for v in splits.values()] == [80, 10, 10]
    assert np.unique(np.concatenate(list(splits.values()))).size == 100
    again = make_splits(100, 80, 0.1, None, seed=3)
    assert all(np.array_equal(splits[k], again[k]) for k in splits)
    save_splits(tmp_path / "s.npz", splits)
    back = load_splits(tmp_path / "s.npz", n_frames=100)
    assert all(np.array_equal(splits[k], back[k]) for k in splits)
    assert set(np.load(tmp_path / "s.npz").files) == {"idx_train", "idx_val", "idx_test"}


def test_bad_splits(tmp_path):
    with pytest.raises(ValueError, match="need 120 frames but the dataset has 100"):
        make_splits(100, 100, 20, None)
    np.savez(tmp_path / "bad.npz", idx_train=[0, 1], idx_val=[1], idx_test=[5])
    with pytest.raises(ValueError, match="overlap"):
        load_splits(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="idx_test holds index 5 but the dataset has 4 frames"):
        load_splits(tmp_path / "bad.npz", n_frames=4)
    np.savez(tmp_path / "missing.npz", idx_train=[0])
    with pytest.raises(
        DataError, match=r"missing.npz: splits file misses \['idx_val', 'idx_test'\]"
    ):
        load_splits(tmp_path / "missing.npz")


def test_a_damaged_splits_file_names_itself(tmp_path):
    """Float indices were truncated silently; a cut file raised zipfile's BadZipFile."""
    np.savez(tmp_path / "f.npz", idx_train=[0.0, 1.7], idx_val=[2.0], idx_test=[3.0])
    with pytest.raises(DataError, match=r"f.npz: idx_train is float64 .* integer frame indices"):
        load_splits(tmp_path / "f.npz")
    save_splits(tmp_path / "cut.npz", make_splits(10, 8, 1, 1))
    data = (tmp_path / "cut.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) - 30])
    with pytest.raises(DataError, match=r"cut.npz: not a readable npz splits file"):
        load_splits(tmp_path / "cut.npz")
