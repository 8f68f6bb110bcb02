"""A trained potential fine-tuned on data with a new element: embeddings and reference energies."""

import pytest
import torch
import yaml
from atoms_testkit import morse_frames

from noether.atoms.finetune import initialise_new_elements, potential_options, trained_elements
from noether.atoms.models.equiformer import Equiformer
from noether.atoms.models.et import ET
from noether.atoms.task import AtomisticTask
from noether.core.checkpoints import load_trained_model
from noether.train.run import train

SOURCE = [6, 6, 8, 1, 1, 1]  # C2OH3: the source run's elements are H, C, O
NEW = [6, 7, 8, 1, 1, 1]  # nitrogen is new
TINY_ET = {"name": "et", "hidden": 8, "layers": 2, "heads": 2, "num_rbf": 4, "max_z": 10}


def et_config(data, run_dir, **sections):
    config = {
        "seed": 0,
        "model": dict(TINY_ET),
        "task": {"name": "atoms", "path": str(data)},
        "data": {"batch_size": 4},
        "trainer": {"max_epochs": 2, "precision": "64", "progress_bar": False},
        "run": {"dir": str(run_dir)},
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    return config


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("source")
    morse_frames(root / "src.h5", SOURCE, 24, seed=0)
    morse_frames(root / "new.h5", NEW, 24, seed=1)
    return train(et_config(root / "src.h5", root / "run")), root / "new.h5"


@pytest.mark.parametrize(
    ("model", "tables"),
    [
        (lambda: ET(hidden=8, layers=1, heads=2, num_rbf=4, max_z=10), 2),
        (lambda: ET(hidden=8, layers=1, heads=2, num_rbf=4, max_z=10, neighbor_embedding=False), 1),
        (lambda: Equiformer.from_preset("tiny", num_elements=10), 1),
    ],
)
def test_element_tables_are_parameters_indexed_by_atomic_number(model, tables):
    model = model()
    names = model.element_parameters()
    parameters = dict(model.named_parameters())
    assert len(names) == tables
    for name in names:
        assert parameters[name].shape[0] == model.max_atomic_number + 1 == 10, name


def test_trained_elements_are_the_keys_of_the_source_atomref():
    assert trained_elements({"atomref": {"O": -1.0, "H": -0.5, "C": -2.0}}) == [1, 6, 8]
    assert trained_elements({"atomref": None}) is None
    assert trained_elements({}) is None


@pytest.mark.parametrize("mode", ["mean", "init"])
def test_rows_of_new_elements_are_set_and_the_trained_rows_kept(mode):
    torch.manual_seed(1)
    model = ET(**{k: v for k, v in TINY_ET.items() if k != "name"})
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(2)
    loaded = ET(**{k: v for k, v in TINY_ET.items() if k != "name"})  # "the source's weights"
    model.load_state_dict(loaded.state_dict())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    notes = initialise_new_elements(model, fresh, [1, 6, 8], [1, 6, 7, 8], mode)
    assert len(notes) == 1 and "new elements N" in notes[0]
    after = model.state_dict()
    for name in ("embedding.weight", "neighbor_embedding.embedding.weight"):
        expected = before[name][[1, 6, 8]].mean(0) if mode == "mean" else fresh[name][7]
        assert torch.equal(after[name][7], expected), name
        untouched = [z for z in range(10) if z != 7]
        assert torch.equal(after[name][untouched], before[name][untouched]), name
    for name in after:
        if "embedding.weight" not in name:
            assert torch.equal(after[name], before[name]), name


def test_without_a_record_of_trained_elements_nothing_changes():
    model = ET(**{k: v for k, v in TINY_ET.items() if k != "name"})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    notes = initialise_new_elements(model, before, None, [1, 7], "mean")
    assert "records no trained elements" in notes[0]
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="new_elements: got 'zero'; accepted: mean, init"):
        initialise_new_elements(model, before, [1], [1, 7], "zero")


def test_reference_energies_are_refit_and_the_standardisation_kept(source):
    run, new = source
    model = load_trained_model(run).train()
    scale, shift = float(model.scale_shift.scale), float(model.scale_shift.shift)
    config = yaml.safe_load((run / "config.yaml").read_text())
    task = AtomisticTask(str(new))
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    options, notes = task.adapt_initialised(model, fresh, config)
    assert any("reference energies refit" in note for note in notes)
    assert options["energy_scale"] == scale and options["energy_shift"] == shift
    assert set(options["atomref"]) == {"H", "C", "N", "O"}
    assert options["elements"] == ["H", "C", "N", "O"]  # the source's H, C, O and the new N
    # one composition: the refit leaves no mean energy error on the training frames
    train_set = task.datasets().train
    batch = task.collate([train_set[k] for k in range(len(train_set))])
    error = task.forward(model.eval(), batch)["energy"] - batch.energy
    assert abs(error.mean().item()) < 1e-9 < error.abs().max().item()
    assert potential_options(model) == options


def test_a_finetuned_run_records_its_constants_and_resumes_with_its_config_file(source, tmp_path):
    run, new = source
    config = et_config(
        new, tmp_path / "ft", finetune={"init_from": str(run), "freeze": ["embedding"]}
    )
    (tmp_path / "ft.yaml").write_text(yaml.safe_dump(config))
    ft = train(str(tmp_path / "ft.yaml"))
    saved = yaml.safe_load((ft / "config.yaml").read_text())
    model = load_trained_model(ft, prefer="last.ckpt")
    assert saved["model"]["atomref"] == potential_options(model)["atomref"]
    source_model = load_trained_model(run)
    embedding = model.embedding.weight.detach()
    # frozen: the trained rows as the source's, nitrogen's their mean
    assert torch.equal(embedding[[1, 6, 8]], source_model.embedding.weight[[1, 6, 8]])
    assert torch.allclose(embedding[7], source_model.embedding.weight[[1, 6, 8]].mean(0))
    # the constants the initialisation set are not the data's own fit, and a resume with the
    # config file (a requeued job's command) keeps them
    train(str(tmp_path / "ft.yaml"), ["--trainer.max_epochs=3"], resume=ft)
    assert yaml.safe_load((ft / "config.yaml").read_text())["model"] == saved["model"]
