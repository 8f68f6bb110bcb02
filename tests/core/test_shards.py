"""The one HDF5 shard layer: atomic writers, a lazy fork-safe reader, and files of the old layouts.

The old layouts are written here directly with h5py, as the code before the layer wrote them:
``train/shards.py``'s (``n_samples``, ragged ``.ptr``) and ``sims/shards.py``'s rigid scenes
(``n_scenes``, context arrays at the root, no ``static`` attribute).
"""

from __future__ import annotations

import json
import pickle
import shutil

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noether.core.shards import ShardedColumns, ShardWriter, read_attrs, shard_name, write_shards
from noether.sims.rigid.shards import CONTEXT_ARRAYS, SCENE_ARRAYS, RigidShards


def test_writer_fills_blocks_and_moves_the_shard_into_place(tmp_path):
    path = tmp_path / shard_name(0)
    columns = {"x": ((2, 3), np.float32), "k": ((), np.int64)}
    static = {"g": np.array([0.0, 0.0, -9.81])}
    with ShardWriter(path, 5, columns, static=static, attrs={"config": {"a": 1}, "seed": 3}) as w:
        assert not path.exists() and w.tmp.name.startswith(".")
        w.write({"x": np.ones((3, 2, 3)), "k": np.arange(3)})
        w.write({"x": 2 * np.ones((2, 2, 3)), "k": np.arange(3, 5)})
    assert [p.name for p in tmp_path.iterdir()] == ["shard-00000.h5"]
    attrs = read_attrs(path)
    assert attrs["n_samples"] == 5 and attrs["config"] == {"a": 1} and attrs["static"] == ["g"]
    store = ShardedColumns(tmp_path)
    assert store.columns == ["k", "x"] and len(store) == 5
    row = store.read(4)
    assert row["k"] == 4 and row["x"].dtype == np.float32 and (row["x"] == 2).all()
    np.testing.assert_array_equal(store.static(0)["g"], static["g"])


def test_an_unfinished_or_failed_shard_leaves_nothing(tmp_path):
    path = tmp_path / shard_name(0)
    writer = ShardWriter(path, 4, {"x": ((), np.float64)})
    writer.write({"x": np.zeros(2)})
    with pytest.raises(ValueError, match="wrote 2 of 4 rows"):
        writer.close()
    with pytest.raises(RuntimeError), ShardWriter(path, 2, {"x": ((), np.float64)}) as w:
        w.write({"x": np.zeros(2)})
        raise RuntimeError("killed")
    with pytest.raises(ValueError, match="holds 1 rows"):
        ShardWriter(path, 1, {"x": ((), np.float64)}).write({"x": np.zeros(2)})
    assert not any(p.name.endswith(".h5") for p in tmp_path.iterdir())


def test_ragged_columns_round_trip_and_handles_stay_in_their_process(tmp_path):
    ragged = [np.arange(k, dtype=np.float64) for k in (1, 3, 2, 5, 4)]
    write_shards(tmp_path, {"r": ragged, "n": np.arange(5)}, 2, attrs={"kind": "test"})
    store = ShardedColumns(tmp_path)
    assert store.ragged == {"n": False, "r": True} and store.attrs[0]["kind"] == "test"
    for i in range(5):
        np.testing.assert_array_equal(store.read(i)["r"], ragged[i])
    assert store.open_shards() == 3  # one per shard, opened on first use
    assert pickle.loads(pickle.dumps(store)).open_shards() == 0
    with pytest.raises(IndexError, match="out of range"):
        store.read(5)


def test_shards_of_the_old_generic_layout_read(tmp_path):
    """``train/shards.py`` before the layer: ``n_samples``, columns, ragged ``name.ptr``."""
    for k, rows in enumerate(([0, 1, 2], [3, 4])):
        with h5py.File(tmp_path / f"shard-{k:05d}.h5", "w") as f:
            f.attrs["n_samples"] = len(rows)
            f.create_dataset("y", data=np.array(rows, dtype=np.float32))
            f.create_dataset("atoms", data=np.concatenate([np.full(r + 1, r) for r in rows]))
            f.create_dataset("atoms.ptr", data=np.cumsum([0] + [r + 1 for r in rows]))
    store = ShardedColumns(tmp_path)
    assert len(store) == 5 and store.ragged == {"atoms": True, "y": False}
    for i in range(5):
        assert store.read(i)["y"] == i
        np.testing.assert_array_equal(store.read(i)["atoms"], np.full(i + 1, i))


def _old_rigid_shard(path, first: int, n: int, config: dict) -> dict[str, np.ndarray]:
    """A shard as ``sims/shards.py`` wrote it before the layer (``n_scenes``, no ``static``)."""
    b, f, p = config["max_bodies"], config["n_frames"], config["points_per_body"]
    shapes = {
        "scene_index": (), "n_bodies": (), "body_mask": (b,), "mass": (b,),
        "inertia": (b, 3, 3), "points_local": (b, p, 3), "position": (f, b, 3),
        "quaternion": (f, b, 4), "velocity": (f, b, 3), "angular_velocity": (f, b, 3),
        "points": (f, b, p, 3),
    }  # fmt: skip
    rng = np.random.default_rng(first)
    integer = {"scene_index": np.int64, "n_bodies": np.int32, "body_mask": np.bool_}
    arrays = {
        name: rng.normal(size=(n, *shape)).astype(integer.get(name, np.float32))
        for name, shape in shapes.items()
    }
    arrays["scene_index"] = np.arange(first, first + n)
    with h5py.File(path, "w") as file:
        for name, value in arrays.items():
            file.create_dataset(name, data=value, chunks=(1, *value.shape[1:]))
        for name in CONTEXT_ARRAYS:
            file.create_dataset(name, data=np.array([0.0, 0.0, -9.81]))
        attrs = {"format_version": 1, "kind": "rigid", "config": json.dumps(config), "seed": 0}
        attrs |= {"first_scene": first, "n_scenes": n, "dtype": "float32"}
        for key, value in attrs.items():
            file.attrs[key] = value
    return arrays


def test_rigid_shards_of_the_old_layout_read_unchanged(tmp_path):
    config = {"max_bodies": 3, "n_frames": 4, "points_per_body": 2}
    old = [
        _old_rigid_shard(tmp_path / "shard-00000.h5", 0, 3, config),
        _old_rigid_shard(tmp_path / "shard-00001.h5", 3, 2, config),
    ]
    dataset = RigidShards(tmp_path, frames=[1, 3])
    assert len(dataset) == 5
    scene = dataset[4]
    assert set(scene) == set(SCENE_ARRAYS) | set(CONTEXT_ARRAYS)
    np.testing.assert_array_equal(scene["points"], old[1]["points"][1][[1, 3]])
    np.testing.assert_array_equal(scene["mass"], old[1]["mass"][1])
    assert scene["scene_index"] == 4 and scene["mass"].dtype == np.float32
    np.testing.assert_array_equal(scene["gravity"], [0.0, 0.0, -9.81])


def test_files_that_are_no_shards_name_the_file(tmp_path):
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"bad.h5: not a readable noether HDF5 shard"):
        ShardedColumns(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    with h5py.File(other / "x.h5", "w") as f:
        f.create_dataset("a", data=np.zeros(3))
    with pytest.raises(ValueError, match=r"x.h5: not a noether HDF5 shard \(no row count"):
        ShardedColumns(other)


# ------------------------------------------------------------------- damaged shards (hypothesis)
SHARD_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _shard_columns() -> dict:
    rng = np.random.default_rng(0)
    return {
        "x": rng.normal(size=(5, 3)).astype(np.float32),
        "k": np.arange(5),
        "atoms": [rng.normal(size=(n, 3)) for n in (2, 4, 1, 3, 2)],
    }


def _damage_shard(data, path) -> bool:
    """Damage the shard at ``path``; True where a read that succeeds may differ (a flipped byte
    of raw data, which carries no checksum)."""
    raw = path.read_bytes()
    what = data.draw(st.sampled_from(["truncate", "flip", "dataset", "attribute"]), label="what")
    if what == "truncate":
        path.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1), label="keep")])
        return False
    if what == "flip":  # in the raw data: libhdf5 itself can crash on a damaged header
        spans = []
        with h5py.File(path, "r") as f:
            for dset in f.values():
                offset = dset.id.get_offset()
                if offset is not None and dset.id.get_storage_size():
                    spans.append((offset, offset + dset.id.get_storage_size()))
        start, stop = data.draw(st.sampled_from(spans))
        out = bytearray(raw)
        out[data.draw(st.integers(start, stop - 1))] ^= data.draw(st.integers(1, 255))
        path.write_bytes(bytes(out))
        return True
    with h5py.File(path, "r+") as f:
        if what == "attribute":
            f.attrs["n_samples"] = data.draw(st.sampled_from([4, 6, -1, "five", 2.5]))
            return False
        key = data.draw(st.sampled_from(sorted(f)), label="dataset")
        value = f[key][()]
        del f[key]
        how = data.draw(st.sampled_from(["delete", "rows", "values"]), label="how")
        if how == "rows":
            f[key] = data.draw(st.sampled_from([value[:-1], value[None], value[:, None][:-1]]))
        elif how == "values" and key.endswith(".ptr"):
            value[data.draw(st.integers(1, len(value) - 1))] = data.draw(
                st.sampled_from([-1, 10**6, value[-1] + 1])
            )
            f[key] = value
    return False


def _check_damaged_shard(data, tmp_path) -> None:
    folder = tmp_path / "shards"
    shutil.rmtree(folder, ignore_errors=True)
    columns = _shard_columns()
    (path,) = write_shards(folder, columns, 8)
    loose = _damage_shard(data, path)
    try:
        store = ShardedColumns(folder, ["x", "k", "atoms"])
        rows = [store.read(i) for i in range(len(store))]
    except (ValueError, OSError) as error:
        assert path.name in str(error), f"{type(error).__name__} without the file: {error}"
        return
    if loose:
        return
    assert len(rows) == 5
    for i, row in enumerate(rows):
        assert np.array_equal(row["x"], columns["x"][i]) and row["k"] == i
        assert np.array_equal(row["atoms"], columns["atoms"][i])


@SHARD_SETTINGS
@given(data=st.data())
def test_a_damaged_shard_reads_right_or_raises_naming_it(data, tmp_path):
    _check_damaged_shard(data, tmp_path)


@pytest.mark.slow
@settings(SHARD_SETTINGS, max_examples=2000)
@given(data=st.data())
def test_a_damaged_shard_reads_right_or_raises_naming_it_many_examples(data, tmp_path):
    _check_damaged_shard(data, tmp_path)
