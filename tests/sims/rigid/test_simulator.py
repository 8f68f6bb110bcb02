import json
import pickle

import h5py
import numpy as np
import pytest
import torch

from noether.cli import main
from noether.sims.rigid.scenes import RigidConfig
from noether.sims.rigid.shards import CONTEXT_ARRAYS, SCENE_ARRAYS, RigidShards
from noether.sims.rigid.simulator import generate, simulate_block

SHORT = RigidConfig(min_bodies=3, max_bodies=5, n_frames=3, steps_per_frame=10)


def _arrays(path):
    out = {}
    for shard in sorted(path.glob("shard-*.h5")):
        with h5py.File(shard, "r") as f:
            for name in SCENE_ARRAYS:
                out.setdefault(name, []).append(f[name][()])
    return {k: np.concatenate(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    generate(out, SHORT, 20, seed=7, scenes_per_shard=8, workers=1, progress=False)
    return out


def test_shards_hold_the_documented_arrays(serial):
    meta = json.loads((serial / "meta.json").read_text())
    assert meta["shards"] == ["shard-00000.h5", "shard-00001.h5", "shard-00002.h5"]
    a = _arrays(serial)
    s, f, b, p = 20, 3, 5, 10
    expected = {
        "scene_index": (s,),
        "n_bodies": (s,),
        "body_mask": (s, b),
        "mass": (s, b),
        "inertia": (s, b, 3, 3),
        "points_local": (s, b, p, 3),
        "position": (s, f, b, 3),
        "quaternion": (s, f, b, 4),
        "velocity": (s, f, b, 3),
        "angular_velocity": (s, f, b, 3),
        "points": (s, f, b, p, 3),
    }
    assert {k: v.shape for k, v in a.items()} == expected
    assert a["points"].dtype == np.float32 and a["body_mask"].dtype == bool
    np.testing.assert_array_equal(a["scene_index"], np.arange(20))
    np.testing.assert_array_equal(a["body_mask"].sum(axis=1), a["n_bodies"])
    assert set(a["n_bodies"]) <= {3, 4, 5}
    pad = ~a["body_mask"]
    assert np.all(a["mass"][pad] == 0) and np.all(a["mass"][~pad] > 0)
    assert np.all(
        a["quaternion"][:, :, :][np.broadcast_to(pad[:, None], (s, f, b))] == [1, 0, 0, 0]
    )
    with h5py.File(serial / "shard-00000.h5", "r") as h:
        np.testing.assert_array_equal(h["gravity"][()], [0.0, 0.0, -9.81])
        np.testing.assert_array_equal(h["plane_normal"][()], [0.0, 0.0, 1.0])


def test_shard_round_trip_through_the_lazy_reader(serial):
    block = simulate_block((SHORT, 7, 8, 12))  # scenes 8..11: shard 1
    ds = RigidShards(serial)
    assert len(ds) == 20
    for k, i in enumerate(range(8, 12)):
        item = ds[i]
        assert set(item) == set(SCENE_ARRAYS) | set(CONTEXT_ARRAYS)
        for name in SCENE_ARRAYS:
            np.testing.assert_array_equal(item[name], block[name][k].astype(item[name].dtype))
    assert ds[-1]["scene_index"] == 19
    with pytest.raises(IndexError, match="out of range"):
        ds[20]
    two = RigidShards(serial, frames=[0, 2])
    assert two[5]["points"].shape == (2, 5, 10, 3)
    np.testing.assert_array_equal(two[5]["position"][1], ds[5]["position"][2])


def test_reader_opens_its_own_files_in_each_worker(serial):
    ds = RigidShards(serial)
    first = ds[0]  # opens a handle in this process before the workers fork
    copy = pickle.loads(pickle.dumps(ds))
    assert ds.store.open_shards() == 1 and copy.store.open_shards() == 0
    np.testing.assert_array_equal(copy[0]["points"], first["points"])
    loader = torch.utils.data.DataLoader(ds, batch_size=5, num_workers=2)
    batches = list(loader)
    assert batches[0]["points"].shape == (5, 3, 5, 10, 3)
    np.testing.assert_array_equal(batches[0]["points"][0].numpy(), first["points"])
    positions = torch.cat([b["position"] for b in batches]).numpy()
    np.testing.assert_array_equal(positions, _arrays(serial)["position"])


def test_deterministic_and_serial_equals_parallel(serial, tmp_path):
    generate(
        tmp_path / "parallel", SHORT, 20, seed=7, scenes_per_shard=8, workers=2, progress=False
    )
    generate(tmp_path / "other", SHORT, 20, seed=8, scenes_per_shard=20, workers=1, progress=False)
    a, b, c = _arrays(serial), _arrays(tmp_path / "parallel"), _arrays(tmp_path / "other")
    for name in SCENE_ARRAYS:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["mass"], c["mass"])


def test_interrupted_runs_resume_and_foreign_shards_are_refused(serial, tmp_path):
    out = tmp_path / "resume"
    generate(out, SHORT, 20, seed=7, scenes_per_shard=8, workers=1, progress=False)
    (out / "shard-00001.h5").unlink()
    meta = generate(out, SHORT, 20, seed=7, scenes_per_shard=8, workers=1, progress=False)
    assert meta["generated_now"] == 8  # only the missing shard
    for name in SCENE_ARRAYS:
        np.testing.assert_array_equal(_arrays(out)[name], _arrays(serial)[name])
    with pytest.raises(FileExistsError, match="different dataset"):
        generate(out, SHORT, 20, seed=9, scenes_per_shard=8, workers=1, progress=False)
    assert not list(out.glob(".*tmp*"))


def test_corrupt_or_missing_shards_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no shard"):
        RigidShards(tmp_path)
    (tmp_path / "shard-00000.h5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable noether HDF5 shard"):
        RigidShards(tmp_path)


def test_command_writes_shards_and_plot(tmp_path, capsys):
    out = tmp_path / "rigid"
    args = ["data", "rigid", "--out", str(out), "--scenes", "6", "--frames", "3"]
    args += ["--steps-per-frame", "10", "--workers", "1", "--no-progress"]
    assert main(args) == 0
    assert (out / "overview.png").stat().st_size > 10_000
    assert "scenes/s" in capsys.readouterr().out
    assert main([*args[:-1], "--min-bodies", "6", "--max-bodies", "4"]) == 2
    assert "min_bodies <= max_bodies" in capsys.readouterr().err


def test_reader_refuses_bad_frames_and_mixed_datasets(serial, tmp_path):
    with pytest.raises(ValueError, match="frames must be increasing"):
        RigidShards(serial, frames=[2, 0])
    with pytest.raises(ValueError, match="frames must be increasing"):
        RigidShards(serial, frames=[3])
    generate(tmp_path, SHORT, 4, seed=1, scenes_per_shard=4, workers=1, progress=False)
    (tmp_path / "shard-00001.h5").write_bytes((serial / "shard-00001.h5").read_bytes())
    with pytest.raises(ValueError, match="another config or seed"):
        RigidShards(tmp_path)
    assert RigidConfig.from_dict(RigidShards(serial).config) == SHORT


def test_progress_off_a_terminal_is_plain_lines(tmp_path, capsys):
    """stderr is not a terminal here: plain ``rigid scenes n/total`` lines, no redrawn bar."""
    config = RigidConfig(min_bodies=2, max_bodies=4, points_per_body=6, n_frames=4)
    generate(tmp_path, config, 4, seed=1, scenes_per_shard=4, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert "rigid scenes 4/4 (100%)" in err
