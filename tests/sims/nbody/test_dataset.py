import json

import numpy as np
import pytest

from noether.cli import main
from noether.sims.nbody.dataset import (
    ARRAYS,
    SPLITS,
    NBodySizes,
    generate_dataset,
    load_meta,
    load_split,
    write_dataset,
)
from noether.sims.nbody.simulator import NBodyConfig

FAST = NBodyConfig(max_level=4)
SIZES = NBodySizes(train=24, val=6, test=8, more_bodies=6, more_planets=5)


@pytest.fixture(scope="module")
def dataset():
    return generate_dataset(FAST, SIZES, seed=3, progress=False)


def test_splits_have_the_documented_arrays_and_sizes(dataset):
    splits, meta = dataset
    assert set(splits) == set(SPLITS)
    for name, arrays in splits.items():
        assert set(ARRAYS) <= set(arrays)
        n, b = arrays["masses"].shape
        assert n == meta["sizes"][name]
        assert b == (6 if name == "test_more_bodies" else 4)
        assert arrays["x_final"].shape == (n, b, 3) and arrays["n_steps"].shape == (n,)
    assert meta["sizes"]["train"] == 24 and meta["sizes"]["test_rotated"] == 8
    assert splits["test_rotated"]["rotation"].shape == (8, 3, 3)
    assert splits["test_translated"]["translation"].shape == (8, 3)


def test_transformed_sets_are_the_test_systems_moved_and_resimulated(dataset):
    splits, meta = dataset
    test, rot, shift = splits["test"], splits["test_rotated"], splits["test_translated"]
    r, t = rot["rotation"], shift["translation"]
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 20.0)
    np.testing.assert_allclose(
        rot["x_initial"], np.einsum("sij,sbj->sbi", r, test["x_initial"]), atol=1e-14
    )
    np.testing.assert_allclose(shift["x_initial"], test["x_initial"] + t[:, None], atol=1e-13)
    # The simulator is equivariant: transformed start -> transformed target.
    assert np.abs(rot["x_final"] - np.einsum("sij,sbj->sbi", r, test["x_final"])).max() < 1e-10
    assert np.abs(shift["x_final"] - (test["x_final"] + t[:, None])).max() < 1e-10
    assert meta["equivariance_error"]["rotation"] < 1e-10
    assert meta["equivariance_error"]["translation"] < 1e-10


def test_energy_and_momentum_are_conserved_in_every_split(dataset):
    splits, meta = dataset
    for name, arrays in splits.items():
        assert arrays["energy_error"].max() <= FAST.energy_tolerance
        assert meta["max_momentum_error"][name] < 1e-13


def test_deterministic_by_seed(dataset):
    splits, _ = dataset
    again, _ = generate_dataset(FAST, SIZES, seed=3, progress=False)
    other, _ = generate_dataset(FAST, SIZES, seed=4, progress=False)
    for name in SPLITS:
        for key in ARRAYS:
            assert np.array_equal(splits[name][key], again[name][key])
    assert not np.allclose(splits["train"]["masses"], other["train"]["masses"])


def test_write_load_round_trip_is_atomic(dataset, tmp_path):
    splits, meta = dataset
    out = write_dataset(tmp_path / "nbody", splits, meta)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{s}.npz" for s in SPLITS] + ["meta.json"]
    )
    for name in SPLITS:
        loaded = load_split(out, name)
        for key, value in splits[name].items():
            assert np.array_equal(loaded[key], value)
    assert load_meta(out)["sizes"] == meta["sizes"]
    assert NBodyConfig.from_dict(load_meta(out)["config"]) == FAST
    with pytest.raises(FileExistsError, match="is not empty"):
        write_dataset(out, splits, meta)
    write_dataset(out, splits, meta, overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    with pytest.raises(ValueError, match="unknown split 'training'"):
        load_split(out, "training")
    (out / "val.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable npz"):
        load_split(out, "val")


def test_command_writes_dataset_and_plot(tmp_path, capsys):
    out = tmp_path / "nb"
    args = [
        "data",
        "nbody",
        "--out",
        str(out),
        "--train",
        "6",
        "--val",
        "2",
        "--test",
        "2",
        "--more-bodies",
        "2",
    ]
    args += ["--max-level", "3"]
    assert main([*args, "--no-progress"]) == 0
    assert (out / "overview.png").stat().st_size > 10_000
    assert json.loads((out / "meta.json").read_text())["sizes"]["train"] == 6
    assert "equivariance error" in capsys.readouterr().out
    assert main([*args, "--no-progress"]) == 2  # exists
    assert "--overwrite" in capsys.readouterr().err
    assert (
        main(["data", "nbody", "--out", str(tmp_path / "x"), "--planets", "0", "--no-progress"])
        == 2
    )
    assert "n_planets must be >= 1" in capsys.readouterr().err


def test_an_interrupted_write_leaves_nothing_behind(dataset, tmp_path, monkeypatch):
    splits, meta = dataset
    written = []

    def savez_then_fail(path, **arrays):
        if len(written) == 2:
            raise KeyboardInterrupt  # killed while writing the third split
        written.append(path)
        np.savez(path, **arrays)

    monkeypatch.setattr("noether.sims.nbody.dataset.np.savez", savez_then_fail)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(tmp_path / "nbody", splits, meta)
    assert len(written) == 2
    assert list(tmp_path.iterdir()) == []  # neither the dataset nor its temporary folder


def test_the_larger_test_set_must_have_more_bodies():
    sizes = NBodySizes(train=2, val=1, test=1, more_bodies=1, more_planets=3)
    with pytest.raises(ValueError, match="more_planets must exceed n_planets"):
        generate_dataset(FAST, sizes, seed=0, progress=False)


def test_command_refuses_an_existing_folder_before_generating(tmp_path, capsys, monkeypatch):
    out = tmp_path / "nb"
    out.mkdir()
    (out / "train.npz").write_bytes(b"")

    def never(*args, **kwargs):
        raise AssertionError("generated before checking the output folder")

    monkeypatch.setattr("noether.commands.data_nbody.generate_dataset", never)
    assert main(["data", "nbody", "--out", str(out), "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    monkeypatch.undo()  # refused at the start of generate_dataset
    assert main(["data", "nbody", "--out", str(tmp_path / "x"), "--more-planets", "3"]) == 2
    assert "more_planets must exceed" in capsys.readouterr().err


def test_progress_off_a_terminal_is_plain_lines(capsys):
    """stderr is not a terminal here: plain ``n-body systems n/total`` lines, no redrawn bar."""
    sizes = NBodySizes(train=8, val=2, test=2, more_bodies=2, more_planets=5)
    generate_dataset(NBodyConfig(max_level=4), sizes, seed=1, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines() and all(line.startswith("n-body systems ") for line in err.splitlines())
