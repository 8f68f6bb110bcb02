import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from noether.atoms.batch import AtomsBatch, collate_atoms
from noether.atoms.formats import HDF5Dataset, HDF5Writer, read_dataset, read_hdf5, write_dataset
from noether.core.errors import DataError


def test_round_trip_is_exact(tmp_path, mixed):
    write_dataset(tmp_path / "m.h5", mixed)
    back = read_dataset(tmp_path / "m.h5")
    for name in (
        "numbers",
        "positions",
        "offsets",
        "energy",
        "forces",
        "cell",
        "pbc",
        "stress",
        "charges",
        "energy_mask",
        "forces_mask",
        "stress_mask",
    ):
        np.testing.assert_array_equal(getattr(back, name), getattr(mixed, name), err_msg=name)


def test_appending_and_lazy_reading_with_workers(tmp_path, ethanol_like):
    with HDF5Writer(tmp_path / "big.h5") as writer:
        for k in range(len(ethanol_like)):
            writer.append(ethanol_like.subset([k]))
    lazy = HDF5Dataset(tmp_path / "big.h5")
    assert len(lazy) == 5
    loader = DataLoader(lazy, batch_size=5, collate_fn=collate_atoms, num_workers=1)
    batch = next(iter(loader))
    expected = AtomsBatch.from_dataset(ethanol_like, range(5))
    assert torch.equal(batch.positions, expected.positions)
    assert torch.equal(batch.energy, expected.energy)


def test_foreign_units_are_converted(tmp_path, ethanol_like):
    write_dataset(tmp_path / "a.h5", ethanol_like)
    with h5py.File(tmp_path / "a.h5", "r+") as f:
        f.attrs["energy_unit"] = "Hartree"
        f.attrs["length_unit"] = "Bohr"
    back = read_hdf5(tmp_path / "a.h5")
    np.testing.assert_allclose(back.energy, ethanol_like.energy * 27.211386024367243)
    np.testing.assert_allclose(back.positions, ethanol_like.positions * 0.5291772105638411)


def test_bad_files_and_nothing_half_written(tmp_path, ethanol_like):
    (tmp_path / "empty.h5").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.h5: the file is empty"):
        read_hdf5(tmp_path / "empty.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match=r"junk.h5: not a readable HDF5"):
        read_hdf5(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = [1]
    with pytest.raises(ValueError, match=r"attribute 'format' is None"):
        read_hdf5(tmp_path / "other.h5")
    write_dataset(tmp_path / "nokey.h5", ethanol_like)
    with h5py.File(tmp_path / "nokey.h5", "r+") as f:
        del f["positions"]
    with pytest.raises(DataError, match=r"nokey.h5: the HDF5 file has no 'positions' dataset"):
        read_hdf5(tmp_path / "nokey.h5")
    (tmp_path / "nokey.h5").unlink()
    with pytest.raises(RuntimeError, match=r"boom"), HDF5Writer(tmp_path / "partial.h5") as writer:
        writer.append(ethanol_like)
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.h5", "junk.h5", "other.h5"]


def test_frame_info_round_trips_through_appends_and_is_ignored_by_frame_readers(
    tmp_path, ethanol_like
):
    from noether.atoms.formats import read_frame_info

    path = tmp_path / "info.h5"
    with HDF5Writer(path) as writer:
        writer.append(ethanol_like.subset([0, 1]), {"family": ["pe", "pét"], "n": [2, 3]})
        writer.append(ethanol_like.subset([2, 3, 4]), {"family": ["ps"] * 3, "n": [2, 2, 4]})
    info = read_frame_info(path)
    assert info["family"].tolist() == ["pe", "pét", "ps", "ps", "ps"]
    assert info["n"].dtype == np.int64 and info["n"].tolist() == [2, 3, 2, 2, 4]
    back = read_hdf5(path)
    np.testing.assert_array_equal(back.positions, ethanol_like.positions)
    assert len(HDF5Dataset(path)) == 5 and HDF5Dataset(path)[4].positions.shape[1] == 3
    write_dataset(tmp_path / "plain.h5", ethanol_like)
    assert read_frame_info(tmp_path / "plain.h5") == {}


def test_frame_info_errors(tmp_path, ethanol_like):
    with pytest.raises(ValueError, match="one value per frame"):
        with HDF5Writer(tmp_path / "a.h5") as writer:
            writer.append(ethanol_like, {"family": ["pe"]})
    assert not (tmp_path / "a.h5").exists()
    with pytest.raises(ValueError, match="every append must give the same names"):
        with HDF5Writer(tmp_path / "b.h5") as writer:
            writer.append(ethanol_like.subset([0]), {"family": ["pe"]})
            writer.append(ethanol_like.subset([1]), {"kind": ["pe"]})
    with pytest.raises(ValueError, match="without '/'"):
        with HDF5Writer(tmp_path / "c.h5") as writer:
            writer.append(ethanol_like.subset([0]), {"a/b": ["pe"]})


def test_a_corrupt_dataset_names_the_file(tmp_path, ethanol_like):
    """A damaged chunk of positions (h5py's bare OSError) is a DataError naming file and dataset,
    both when the file is read whole and frame by frame."""
    path = tmp_path / "bad.h5"
    write_dataset(path, ethanol_like)
    with h5py.File(path, "r") as f:
        chunk = f["positions"].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    start = chunk.byte_offset + chunk.size // 2
    data[start : start + 16] = bytes(16)  # zeros in the middle of the gzip stream
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"bad.h5: dataset 'positions' .* the file is corrupt"):
        read_hdf5(path)
    lazy = HDF5Dataset(path)
    with pytest.raises(DataError, match=r"bad.h5: dataset 'positions'"):
        lazy[0]


def test_offsets_that_disagree_with_the_atoms_name_the_file(tmp_path, ethanol_like):
    path = tmp_path / "off.h5"
    write_dataset(path, ethanol_like)
    with h5py.File(path, "r+") as f:
        f["offsets"][-1] = 44  # the file has 45 atoms
    with pytest.raises(DataError, match=r"off.h5: 'offsets' .* rising strictly from 0 to 45"):
        HDF5Dataset(path)
    with pytest.raises(DataError, match=r"off.h5: numbers has shape \(45,\), expected \(44,\)"):
        read_hdf5(path)
