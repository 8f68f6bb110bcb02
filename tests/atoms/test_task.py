"""The atomistic task on the training stack: a learnable Morse potential recovers its parameters."""

import numpy as np
import pytest
import torch
import yaml
from atoms_testkit import random_molecule

from noether.atoms.calculator import NoetherCalculator
from noether.atoms.dataset import AtomsDataset
from noether.atoms.formats import write_dataset
from noether.atoms.reference import Morse
from noether.atoms.task import AtomisticTask


def morse_data(path, n_frames=48, seed=0):
    """Clusters of 6 atoms labelled by a Morse potential (epsilon 0.5, r0 1.6, rho0 3.5)."""
    truth = Morse(epsilon=0.5, r0=1.6, rho0=3.5, dtype=torch.float64).eval()
    rng = np.random.default_rng(seed)
    z = np.array([6, 6, 1, 1, 8, 1])
    pos = np.stack([random_molecule(6, rng, 1.2) * 1.3 for _ in range(n_frames)])
    energy, forces = [], []
    for p in pos:
        out = truth(torch.tensor(z), torch.tensor(p))
        energy.append(out["energy"].item() - 10.0)  # a constant offset for the reference energies
        forces.append(out["forces"].numpy())
    energy_mask = np.ones(n_frames, bool)
    energy_mask[::5] = False  # some frames come without energies
    ds = AtomsDataset.from_arrays(z, pos, np.array(energy), np.array(forces))
    ds.energy_mask = energy_mask
    write_dataset(path, ds)
    return ds


def morse_training(data, run_dir, **task):
    """A training config: a learnable Morse potential (from epsilon 0.3, r0 1.5, rho0 3.0) on
    ``data``, energies and forces, float64; ``task`` options override."""
    return {
        "seed": 0,
        "model": {"name": "morse", "epsilon": 0.3, "r0": 1.5, "rho0": 3.0, "learnable": True},
        "task": {
            "name": "atoms",
            "path": str(data),
            "standardize": False,
            "fit_atomref": True,
            "energy_weight": 1.0,
            "forces_weight": 10.0,
            **task,
        },
        "data": {"batch_size": 8},
        "optim": {"lr": 0.05},
        "trainer": {"max_epochs": 12, "precision": "64", "progress_bar": False},
        "run": {"dir": str(run_dir)},
    }


def test_task_loss_masks_and_units(tmp_path):
    morse_data(tmp_path / "d.xyz")
    task = AtomisticTask(str(tmp_path / "d.xyz"), energy_weight=1.0, forces_weight=10.0)
    splits = task.datasets()
    assert len(splits.train) + len(splits.val) + len(splits.test) == 48
    defaults = task.model_defaults()
    assert set(defaults["atomref"]) == {"C", "H", "O"} and defaults["energy_scale"] > 0
    assert defaults["elements"] == ["H", "C", "O"]  # the trained elements, refused otherwise
    batch = task.collate([splits.train[k] for k in range(4)])
    model = Morse(epsilon=0.5, r0=1.6, rho0=3.5, dtype=torch.float64).eval()
    pred = task.forward(model, batch)
    compared = task.compare(pred, batch)
    e_pred, e_ref = compared["energy"]
    assert e_pred.shape == e_ref.shape == (int(batch.energy_mask.sum()),)
    np.testing.assert_allclose((e_pred - e_ref).numpy(), 10_000.0, rtol=1e-9)  # offset in meV
    f_pred, f_ref = compared["forces"]
    assert torch.allclose(f_pred, f_ref, atol=1e-9)  # the true potential: forces exact
    loss = task.loss(pred, batch)
    n = batch.n_atoms[batch.energy_mask].double()
    assert loss.item() == pytest.approx((10.0 / n).square().mean().item(), rel=1e-9)
    per_frame = AtomisticTask(str(tmp_path / "d.xyz"), energy_weight=0.5, energy_loss="per_frame")
    assert per_frame.loss(pred, batch).item() == pytest.approx(0.5 * 10.0**2, rel=1e-9)
    with pytest.raises(ValueError, match="not both 0"):
        AtomisticTask(str(tmp_path / "d.xyz"), energy_weight=0.0, forces_weight=0.0)
    with pytest.raises(ValueError, match="per_atom, per_frame"):
        AtomisticTask(str(tmp_path / "d.xyz"), energy_loss="total")


def test_force_only_loss_ignores_missing_and_offset_energies(tmp_path):
    morse_data(tmp_path / "d.xyz")
    force_only = AtomisticTask(str(tmp_path / "d.xyz"), energy_weight=0.0, forces_weight=10.0)
    joint = AtomisticTask(str(tmp_path / "d.xyz"), energy_weight=1.0, forces_weight=10.0)
    samples = [force_only.datasets().train[k] for k in range(6)]
    batch = force_only.collate(samples)
    model = Morse(
        epsilon=0.45, r0=1.5, rho0=3.5, dtype=torch.float64
    ).eval()  # not the truth: forces are off
    pred = force_only.forward(model, batch)
    shifted = force_only.collate(samples)
    shifted.energy = shifted.energy + torch.arange(6, dtype=shifted.energy.dtype) * 3.0
    shifted.energy_mask = torch.tensor([True, False, True, False, True, False])
    assert force_only.loss(pred, shifted).item() == force_only.loss(pred, batch).item() > 0
    assert joint.loss(pred, shifted).item() != joint.loss(pred, batch).item()


def test_training_recovers_morse_parameters_and_the_calculator_loads_the_run(tmp_path):
    from noether.train.evaluate import evaluate
    from noether.train.run import train

    morse_data(tmp_path / "d.xyz")
    config = morse_training(tmp_path / "d.xyz", tmp_path / "run")
    (tmp_path / "morse.yaml").write_text(yaml.safe_dump(config))
    run = train(str(tmp_path / "morse.yaml"))
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert set(resolved["model"]["atomref"]) == {"C", "H", "O"}
    results = evaluate(run, plots=True)
    assert results["forces_mae"] < 20.0  # meV/Å, from about 400 before training
    assert (run / "evaluation" / "test_parity_forces.png").exists()
    calc = NoetherCalculator(run)
    assert calc.model.epsilon.item() == pytest.approx(0.5, rel=0.05)
    assert calc.model.r0.item() == pytest.approx(1.6, rel=0.02)


def test_output_scale_choices_are_measured_on_the_training_split(tmp_path):
    from noether.atoms.standardize import energy_statistics

    ds = morse_data(tmp_path / "d.xyz")
    labelled = ds.energy_mask
    rms_force, shift = energy_statistics(ds)
    assert rms_force == pytest.approx(np.sqrt(np.mean(ds.forces**2)), rel=1e-12)
    assert shift == pytest.approx(np.mean(ds.energy[labelled] / 6), rel=1e-12)
    energy_std, shift_std = energy_statistics(ds, scale="energy_std")
    assert energy_std == pytest.approx(np.std(ds.energy[labelled]), rel=1e-12)
    assert shift_std == shift and energy_std != pytest.approx(rms_force, rel=0.01)
    atomref = np.zeros(9)
    atomref[[1, 6, 8]] = [-1.0, -2.0, -3.0]  # a constant per frame: no change to the spread
    assert energy_statistics(ds, atomref, scale="energy_std")[0] == pytest.approx(energy_std)

    task = AtomisticTask(str(tmp_path / "d.xyz"), fit_atomref=False, scale="energy_std")
    train = task.datasets().train
    expected = np.std(train.energy[train.label_mask("energy")])
    assert task.model_defaults()["energy_scale"] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="unknown scale 'std'; accepted: rms_force, energy_std"):
        AtomisticTask(str(tmp_path / "d.xyz"), scale="std")
    with pytest.raises(ValueError, match="unknown scale"):
        energy_statistics(ds, scale="std")


def test_refit_offsets_fits_the_reference_energies_to_the_training_residuals(tmp_path):
    truth = Morse(epsilon=0.5, r0=1.6, rho0=3.5, dtype=torch.float64).eval()
    rng = np.random.default_rng(1)
    offsets = {1: -0.5, 6: -2.0, 8: -3.5}  # eV per atom, unknown to the model
    frames = []
    compositions = ([6, 6, 1, 1, 8, 1], [6, 1, 1, 1, 1], [8, 1, 1, 8])
    for k in range(30):  # three compositions: each element's offset is determined
        z = np.array(compositions[k % 3])
        pos = random_molecule(len(z), rng, 1.2) * 1.3
        out = truth(torch.tensor(z), torch.tensor(pos))
        energy = out["energy"].item() + sum(offsets[int(a)] for a in z)
        frames.append(
            AtomsDataset.from_arrays(z, pos[None], np.array([energy]), out["forces"].numpy()[None])
        )
    write_dataset(tmp_path / "d.h5", AtomsDataset.concatenate(frames))  # binary: no rounding
    task = AtomisticTask(str(tmp_path / "d.h5"), refit_offsets=True, split=[20, 5, 5])
    assert task.edits_model_before_validation
    model = Morse(epsilon=0.5, r0=1.6, rho0=3.5, dtype=torch.float64).eval()
    val = task.datasets().val
    batch = task.collate([val[k] for k in range(len(val))])
    before = task.forward(model, batch)
    assert (before["energy"] - batch.energy).abs().min() > 1.0  # eV: the offsets are missing
    task.before_validation(model)
    after = task.forward(model, batch)
    torch.testing.assert_close(after["energy"], batch.energy, rtol=0, atol=1e-9)
    torch.testing.assert_close(after["forces"], before["forces"], rtol=0, atol=0)
    for z, value in offsets.items():
        assert model.atomref.energies[z].item() == pytest.approx(value, abs=1e-9)

    off = AtomisticTask(str(tmp_path / "d.h5"), split=[20, 5, 5])
    assert not off.edits_model_before_validation
    off.before_validation(model)  # the default: nothing

    class NoReference(torch.nn.Module):
        pass

    with pytest.raises(ValueError, match="refit_offsets needs a model with reference energies"):
        task.before_validation(NoReference())


def test_training_with_refit_offsets_checkpoints_the_refitted_constants(tmp_path):
    from noether.train.config import ConfigError
    from noether.train.run import train

    morse_data(tmp_path / "d.h5")
    # the -10 eV offset is left to the re-fit
    config = morse_training(
        tmp_path / "d.h5", tmp_path / "ema", fit_atomref=False, refit_offsets=True
    )
    config["optim"].update(lr=0.01, ema_decay=0.9)
    config["trainer"]["max_epochs"] = 2
    with pytest.raises(ConfigError, match="re-fits part of the model before each validation"):
        train(config)
    config["optim"]["ema_decay"] = None
    config["run"]["dir"] = str(tmp_path / "run")
    run = train(config)
    model = NoetherCalculator(run).model
    assert model.atomref.energies.abs().sum() > 1.0  # fitted from zero
    # the checkpoint's constants were fitted to its own weights: no mean error on the training set
    task = AtomisticTask(str(tmp_path / "d.h5"))  # the same split as the run
    train_set = task.datasets().train
    batch = task.collate([train_set[k] for k in range(len(train_set))])
    error = (task.forward(model, batch)["energy"] - batch.energy)[batch.energy_mask]
    assert abs(error.mean().item()) < 1e-9 and error.abs().max().item() > 1e-6


def test_refit_offsets_at_the_end_edits_only_the_best_checkpoint(tmp_path):
    import csv

    from noether.train.checkpoints import BEST, LAST, load_checkpoint
    from noether.train.evaluate import evaluate
    from noether.train.run import train
    from noether.train.trained import finish_best_checkpoint, load_trained_model

    morse_data(tmp_path / "d.h5")
    # the -10 eV offset is left to the re-fit; weight averaging is allowed with "end"
    config = morse_training(
        tmp_path / "d.h5", tmp_path / "run", fit_atomref=False, refit_offsets="end"
    )
    config["optim"].update(lr=0.01, ema_decay=0.9)
    config["trainer"]["max_epochs"] = 2
    run = train(config)
    with open(run / "metrics.csv") as file:
        validated = [
            float(r["val/energy_mae"]) for r in csv.DictReader(file) if r["val/energy_mae"]
        ]
    assert min(validated) > 5000.0  # meV: training and validation ran without the offsets
    assert load_trained_model(run, prefer=LAST).atomref.energies.abs().sum() == 0.0
    best = load_trained_model(run, prefer=BEST)
    assert load_checkpoint(run / "checkpoints" / BEST)["noether"]["after_training"]
    task = AtomisticTask(str(tmp_path / "d.h5"))  # the same split as the run
    train_set = task.datasets().train
    batch = task.collate([train_set[k] for k in range(len(train_set))])
    error = (task.forward(best, batch)["energy"] - batch.energy)[batch.energy_mask]
    assert abs(error.mean().item()) < 1e-9 and error.abs().max().item() > 1e-6
    assert evaluate(run, plots=False, verbose=False)["energy_mae"] < 100.0  # meV

    # a second pass changes nothing but re-fits (to zero) the same constants
    refit = AtomisticTask(str(tmp_path / "d.h5"), refit_offsets="end")
    assert finish_best_checkpoint(run / "checkpoints", refit)
    again = load_trained_model(run, prefer=BEST).state_dict()
    for key, value in best.state_dict().items():
        torch.testing.assert_close(again[key], value, rtol=0, atol=1e-12)
    assert not finish_best_checkpoint(run / "checkpoints", AtomisticTask(str(tmp_path / "d.h5")))
    with pytest.raises(ValueError, match="refit_offsets: got 'always'; accepted: never"):
        AtomisticTask(str(tmp_path / "d.h5"), refit_offsets="always")


def test_split_fractions_with_a_splits_file_are_refused():
    with pytest.raises(ValueError, match=r"split: got \[0.5, 0.25, 0.25\], which has no effect"):
        AtomisticTask(path="data.xyz", splits="splits.npz", split=[0.5, 0.25, 0.25])


def _bad_npz(path, kind):
    """An sGDML file of 10 frames of 3 atoms with one user mistake."""
    rng = np.random.default_rng(0)
    z, r = np.array([8, 1, 1]), rng.normal(size=(10, 3, 3)) * 2.0
    e, f = rng.normal(size=(10, 1)), rng.normal(size=(10, 3, 3))
    if kind == "nan":
        r[4, 2, 1] = np.nan
    elif kind == "z0":
        z = np.array([8, 0, 1])
    elif kind == "float_z":
        z = z + 0.5
    elif kind == "shape":
        r = r[..., :2]
    np.savez(path, z=z, R=r, E=e, F=f)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("nan", r"frame 4, atom 2: positions contains nan; only finite numbers are accepted"),
        ("z0", r"frame 0, atom 1: atomic number 0 is not an element; accepted: 1 \(H\) to 118"),
        ("float_z", r"atomic numbers have dtype float64; accepted: integers"),
        ("shape", r"'R' has shape \(10, 3, 2\); expected \(frames, atoms, 3\)"),
    ],
)
def test_data_errors_are_one_line_config_errors_naming_the_file(tmp_path, capsys, kind, message):
    """The data are read while the config is checked (model_defaults): a bad file is the
    stack's one-line error (exit 2), not a traceback, and names the file and the field."""
    from argparse import Namespace

    from noether.commands.train import main
    from noether.train.config import ConfigError, load_config

    _bad_npz(tmp_path / "bad.npz", kind)
    config = morse_training(tmp_path / "bad.npz", tmp_path / "run")
    with pytest.raises(ConfigError, match=r"bad.npz: " + message):
        load_config(config)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(Namespace(config=str(tmp_path / "c.yaml"), overrides=[], resume=None)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "bad.npz" in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("split, which", [([0.9, 0.02, 0.08], 1), ([0.02, 0.9, 0.08], 0)])
def test_an_empty_split_says_so(tmp_path, split, which):
    """It used to be "the dataset has no frames" from the empty subset."""
    from noether.core.errors import DataError

    morse_data(tmp_path / "d.xyz", n_frames=20)
    task = AtomisticTask(str(tmp_path / "d.xyz"), split=split)
    name = ("training", "validation")[which]
    with pytest.raises(
        DataError, match=rf"d.xyz: the {name} split of 20 frames with fraction 0.02 is empty"
    ):
        task.datasets()


def test_an_empty_test_split_is_no_test_set(tmp_path):
    morse_data(tmp_path / "d.xyz", n_frames=20)
    splits = AtomisticTask(str(tmp_path / "d.xyz"), split=[0.9, 0.1, 0.0]).datasets()
    assert (len(splits.train), len(splits.val), splits.test) == (18, 2, None)


def test_split_sizes_larger_than_the_file_name_it(tmp_path):
    from noether.core.errors import DataError

    morse_data(tmp_path / "d.xyz", n_frames=20)
    task = AtomisticTask(str(tmp_path / "d.xyz"), split=[30, 5, 5])
    with pytest.raises(DataError, match=r"d.xyz: task.split \[30, 5, 5\]: .*need 40 frames"):
        task.datasets()


def test_trainer_units_puts_the_console_lines_in_kcal_per_mol_and_a_resume_may_change_it(
    tmp_path, capsys
):
    from ase import units

    from noether.train.csv_log import read_metrics
    from noether.train.run import train

    morse_data(tmp_path / "d.xyz", n_frames=24)
    config = morse_training(tmp_path / "d.xyz", tmp_path / "run")
    config["trainer"].update(max_epochs=2, units="kcal/mol")
    (tmp_path / "morse.yaml").write_text(yaml.safe_dump(config))
    run = train(str(tmp_path / "morse.yaml"))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch 2/2")]
    parts = lines[0].split("  ")
    val = [r for r in read_metrics(run / "metrics.csv") if "val/forces_mae" in r][-1]
    kcal = 1e-3 * units.mol / units.kcal  # per meV
    shown = {p.split()[0]: p.split()[1:] for p in parts if p.startswith("val/")}
    assert shown["val/forces_mae"][1] == "kcal/mol/Å" and shown["val/energy_rmse"][1] == "kcal/mol"
    assert float(shown["val/forces_mae"][0]) == pytest.approx(
        val["val/forces_mae"] * kcal, rel=1e-3
    )
    assert float(shown["val/loss"][0]) == pytest.approx(val["val/loss"], rel=1e-3)  # no unit
    # metrics.csv stays in meV, and a resume may change the console's unit
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["units"] == "kcal/mol"
    train(None, ["--trainer.units=eV", "--trainer.max_epochs=3"], resume=run)
    last = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch 3/3")]
    assert " eV/Å" in last[0] and "kcal" not in last[0]


def test_trainer_units_not_accepted_are_refused_before_the_run_folder_is_written(tmp_path):
    from noether.train.config import ConfigError
    from noether.train.run import train

    morse_data(tmp_path / "d.xyz", n_frames=24)
    config = morse_training(tmp_path / "d.xyz", tmp_path / "run")
    config["trainer"]["units"] = "kcal"
    (tmp_path / "morse.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=r"trainer.units: 'kcal': accepted: meV, eV, kcal/mol"):
        train(str(tmp_path / "morse.yaml"))
    assert not (tmp_path / "run").exists()
