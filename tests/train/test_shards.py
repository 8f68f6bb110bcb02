import pickle

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from noether.train.shards import ShardedHDF5Dataset, write_shards


def _columns(n=25, seed=0):
    rng = np.random.default_rng(seed)
    fixed = rng.normal(size=(n, 4, 3)).astype(np.float32)
    ragged = [rng.normal(size=(int(k), 3)) for k in rng.integers(1, 6, size=n)]
    label = np.arange(n, dtype=np.int64)
    return {"pos": fixed, "atoms": ragged, "label": label}


def test_round_trip_fixed_and_ragged(tmp_path):
    columns = _columns()
    paths = write_shards(tmp_path, columns, samples_per_shard=7)
    assert [p.name for p in paths] == [f"shard-0000{k}.h5" for k in range(4)]
    assert not list(tmp_path.glob(".*tmp"))
    dataset = ShardedHDF5Dataset(tmp_path)
    assert len(dataset) == 25
    for i in (0, 6, 7, 13, 24, -1):
        sample = dataset[i]
        j = i % 25
        np.testing.assert_array_equal(sample["pos"].numpy(), columns["pos"][j])
        np.testing.assert_array_equal(sample["atoms"].numpy(), columns["atoms"][j])
        assert sample["label"].item() == j
    with pytest.raises(IndexError, match="sample 25 out of range for 25 samples"):
        dataset[25]
    only = ShardedHDF5Dataset(paths[:2], columns=["label"])
    assert len(only) == 14 and list(only[13]) == ["label"]


def test_lazy_files_and_workers_open_their_own(tmp_path):
    columns = _columns(40)
    write_shards(tmp_path, columns, samples_per_shard=10)
    dataset = ShardedHDF5Dataset(tmp_path, columns=["pos", "label"])
    assert dataset.open_shards() == 0  # the constructor reads lengths and closes the files
    dataset[0]  # the parent opens one shard...
    assert dataset.open_shards() == 1
    state = pickle.dumps(dataset)  # ...which is never handed to a worker
    assert len(state) < 4000 and pickle.loads(state).open_shards() == 0
    loader = DataLoader(dataset, batch_size=8, num_workers=2, shuffle=False)
    labels = torch.cat([batch["label"] for batch in loader])
    assert labels.tolist() == list(range(40))
    pos = torch.cat([batch["pos"] for batch in loader])
    np.testing.assert_array_equal(pos.numpy(), columns["pos"])
    dataset.close()


def test_bad_shards_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no HDF5 shards"):
        ShardedHDF5Dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ShardedHDF5Dataset([tmp_path / "x.h5"])
    (tmp_path / "bad.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match=r"bad.h5: not a readable noether HDF5 shard"):
        ShardedHDF5Dataset(tmp_path)
    other = tmp_path / "other"
    write_shards(other, {"a": np.zeros((3, 2))}, 2)
    with h5py.File(other / "shard-00001.h5", "a") as file:
        file.create_dataset("b", data=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="differ from the first shard"):
        ShardedHDF5Dataset(other)
    with pytest.raises(ValueError, match=r"columns \['c'\] are not in the shards"):
        ShardedHDF5Dataset(other / "shard-00000.h5", columns=["c"])
    with pytest.raises(ValueError, match="same number of samples"):
        write_shards(tmp_path / "w", {"a": np.zeros(3), "b": np.zeros(4)}, 2)
