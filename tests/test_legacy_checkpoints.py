"""Checkpoints written before issue 22 still load and compute what they computed.

tests/data/legacy/ holds, for every model a user can train, a training checkpoint of a one-epoch
run and, for every Potential, a ``save_potential`` file, written by the tree named in its
manifest.json with tests/data/legacy/make_legacy.py, plus a fixed input and the model's output on
it then. Each file is loaded with today's code and must reproduce that output (1e-10 where the
model runs in float64, 1e-6 in float32). The task's data is gone: loading must not need it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import yaml

from noether.atoms.checkpoint import load_potential
from noether.atoms.export import export_potential, load_exported
from noether.atoms.potential import Potential
from noether.core.validation import config_yaml, read_config
from noether.train.checkpoints import load_checkpoint
from noether.train.trained import load_trained_model

LEGACY = Path(__file__).resolve().parent / "data" / "legacy"
MANIFEST = json.loads((LEGACY / "manifest.json").read_text())
TRAINED = sorted(p.stem for p in (LEGACY / "train").glob("*.ckpt"))
POTENTIALS = sorted(p.stem for p in (LEGACY / "potentials").glob("*.pt") if ".io" not in p.name)

# Every model registered before issue 22 (noether.train.registry.available("model") at the
# manifest's commit): each must have a legacy training checkpoint.
REGISTERED = {
    "equiformer",
    "equiformer-properties",
    "et",
    "gatr",
    "lennard-jones",
    "morse",
    "point-gatr",
    "rigid-gatr",
    "rigid-transformer",
    "toy-mlp",
    "transformer",
}
POTENTIAL_MODELS = {"equiformer", "et", "lennard-jones", "morse"}


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _flat(value, prefix: str = "out") -> dict[str, torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return {prefix: value.detach()}
    items = value.items() if isinstance(value, dict) else enumerate(value)
    out = {}
    for key, inner in items:
        if isinstance(inner, torch.Tensor | dict | tuple | list):
            out.update(_flat(inner, f"{prefix}.{key}"))
    return out


def _check(model: torch.nn.Module, record_path: Path) -> None:
    record = torch.load(record_path, weights_only=True)
    output = _flat(model(*record["args"], **record["kwargs"]))
    expected = record["output"]
    assert sorted(output) == sorted(expected)
    tol = 1e-10 if record["float64"] else 1e-6
    for key, value in expected.items():
        assert output[key].dtype == value.dtype, key
        torch.testing.assert_close(output[key], value, rtol=tol, atol=tol, msg=key)


def _model_name(case: str) -> str:
    name = MANIFEST["files"][f"train/{case}.ckpt"]
    return {
        "noether.gatr:GATr": "gatr",
        "noether.gatr.nets.transformer:Transformer": "transformer",
    }.get(name, name)


def test_every_registered_model_has_legacy_files():
    assert {_model_name(case) for case in TRAINED} >= REGISTERED
    potentials = {MANIFEST["files"][f"potentials/{case}.pt"] for case in POTENTIALS}
    assert potentials >= POTENTIAL_MODELS
    assert (LEGACY / "README.md").is_file()


@pytest.mark.parametrize("case", TRAINED)
def test_training_checkpoint_loads_and_reproduces(case):
    path = LEGACY / "train" / f"{case}.ckpt"
    model = load_trained_model(path)
    assert not model.training
    _check(model, LEGACY / "train" / f"{case}.io.pt")
    config = getattr(model, "config", None)
    if dataclasses.is_dataclass(config):  # the old model section reads as the new config
        section = dict(load_checkpoint(path)["noether"]["config"]["model"])
        section.pop("name")
        assert read_config(type(config), section) == config
        # every old key, with its value (an open-ended old constructor stored only those given)
        new = yaml.safe_load(config_yaml(config))
        assert {k: new[k] for k in section} == section


@pytest.mark.parametrize("case", POTENTIALS)
def test_saved_potential_loads_and_reproduces(case):
    model = load_potential(LEGACY / "potentials" / f"{case}.pt")
    assert isinstance(model, Potential) and not model.training
    _check(model, LEGACY / "potentials" / f"{case}.io.pt")


@pytest.mark.parametrize("case", ["morse", "lennard-jones"])
def test_a_legacy_potential_exports(case, tmp_path):
    """``noether export`` of an old file: the exported program gives the recorded outputs."""
    model = load_potential(LEGACY / "potentials" / f"{case}.pt")
    export_potential(model, tmp_path / f"{case}.pt2")
    exported = load_exported(tmp_path / f"{case}.pt2")
    record = torch.load(LEGACY / "potentials" / f"{case}.io.pt", weights_only=True)
    numbers, positions, batch = record["args"][:3]
    out = exported(numbers, positions, batch)
    tol = 1e-10 if record["float64"] else 1e-6
    for key in ("energy", "forces"):
        torch.testing.assert_close(out[key], record["output"][f"out.{key}"], rtol=tol, atol=tol)
