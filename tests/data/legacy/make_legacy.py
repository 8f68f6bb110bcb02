"""Write the legacy artefacts that tests/test_legacy_checkpoints.py loads with the current code.

For every registered model a user can train: a tiny one-epoch training run through
``noether.train.run.train`` (its best checkpoint is kept as ``train/<case>.ckpt``) and, for every
:class:`~noether.atoms.Potential`, a ``save_potential`` file (``potentials/<case>.pt``). Next to
each, ``<case>.io.pt`` holds a fixed input of the model (captured from the task's own call of it
on a validation batch) and the model's output on it, computed with the tree that wrote the files.

Runnable against any tree (it imports only what ``noether`` exported before and after issue 22)::

    cd "$(mktemp -d)" && PYTHONPATH=/path/to/tree/src python /path/to/make_legacy.py OUT_DIR

The data and run folders live in a temporary folder that is deleted: the checkpoints must load
without their task's data.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

TINY_EQUIFORMER = dict(
    irreps_node="4x0e+2x1e",
    irreps_head="2x0e+1x1e",
    num_heads=2,
    irreps_mlp_mid="8x0e+4x1e",
    irreps_feature="8x0e",
    num_layers=1,
    num_basis=4,
    radial_hidden=[8],
    num_elements=10,
)
COMMON = {
    "data": {"batch_size": 4},
    "optim": {"name": "adamw", "lr": 0.001},
    "trainer": {"max_epochs": 1, "progress_bar": False, "precision": "32"},
    "seed": 0,
}


def _random_molecule(n: int, rng: np.random.Generator) -> np.ndarray:
    out: list[np.ndarray] = []
    radius = 0.9 * n ** (1 / 3) + 0.5
    while len(out) < n:
        p = rng.uniform(-radius, radius, 3)
        if all(np.linalg.norm(p - q) >= 0.9 for q in out):
            out.append(p)
    return np.array(out)


def atoms_data(folder: Path) -> str:
    """Eight labelled frames of a 9-atom molecule (random but valid numbers) as extended XYZ."""
    from noether.atoms.dataset import AtomsDataset
    from noether.atoms.formats import write_dataset

    rng = np.random.default_rng(0)
    z = np.array([6, 6, 8, 1, 1, 1, 1, 1, 1])
    base = _random_molecule(9, rng)
    pos = base + 0.05 * rng.normal(size=(8, 9, 3))
    data = AtomsDataset.from_arrays(z, pos, rng.normal(-300, 1, 8), rng.normal(size=(8, 9, 3)))
    path = folder / "molecule.xyz"
    write_dataset(path, data)
    return str(path)


def nbody_data(folder: Path) -> str:
    from noether.sims.nbody_dataset import NBodySizes, generate_dataset, write_dataset

    from noether.sims.nbody import NBodyConfig

    sizes = NBodySizes(train=16, val=8, test=8, more_bodies=4, more_planets=4)
    splits, meta = generate_dataset(NBodyConfig(max_level=4), sizes, seed=5, progress=False)
    return str(write_dataset(folder / "nbody", splits, meta))


def rigid_data(folder: Path) -> str:
    from noether.sims.rigid_scene import RigidConfig

    from noether.sims.rigid import generate

    config = RigidConfig(min_bodies=2, max_bodies=4, points_per_body=6, n_frames=4)
    generate(folder / "rigid", config, 12, seed=1, scenes_per_shard=12, progress=False)
    return str(folder / "rigid")


def properties_data(folder: Path) -> str:
    from noether.atoms.properties.xtb import xtb_properties

    data = xtb_properties(["O", "CO", "CC", "N", "C=O", "CF"], conformers=2, seed=0)
    return str(data.save(folder / "props.npz"))


def cases(folder: Path, only: list[str] | None = None) -> dict[str, dict]:
    """The configs of the training runs, by case name (the file names under train/); only the
    data the cases in ``only`` need is generated."""
    data = functools.cache(lambda make: make(folder))
    atoms64 = f64 = {"trainer": {**COMMON["trainer"], "precision": "64"}}

    def atoms():
        return {"name": "atoms", "path": data(atoms_data), "split": [4, 2, 2]}

    def nbody():
        return {"name": "nbody", "path": data(nbody_data), "n_train": 16, "n_val": 8}

    def rigid():
        return {"name": "rigid", "data": data(rigid_data), "train_scenes": 8, "val_scenes": 2,
                "test_scenes": 2}  # fmt: skip

    def properties():
        return {"name": "properties", "path": data(properties_data), "targets": ["gap", "mu"],
                "split": [0.5, 0.25, 0.25]}  # fmt: skip

    table = {
        "toy-mlp": ({"name": "toy-mlp", "hidden": 8, "layers": 2},
                    lambda: {"name": "toy-regression", "n_samples": 32}, {}),
        "morse": ({"name": "morse", "learnable": True}, atoms, atoms64),
        "lennard-jones": ({"name": "lennard-jones", "learnable": True}, atoms, atoms64),
        "et": ({"name": "et", "hidden": 8, "layers": 1, "heads": 2, "num_rbf": 4, "max_z": 10},
               atoms, {}),
        "et-float64": ({"name": "et", "hidden": 8, "layers": 2, "heads": 2, "num_rbf": 4,
                        "max_z": 10, "head": "scalar"}, atoms, atoms64),
        "equiformer": ({"name": "equiformer", **TINY_EQUIFORMER}, atoms, {}),
        "equiformer-properties": ({"name": "equiformer-properties", **TINY_EQUIFORMER},
                                  properties, {}),
        # nbody: as configs/nbody-*.yaml name them (a module path) and by registered name
        "gatr": ({"name": "noether.gatr:GATr", "algebra": "ipga", "hidden_mv_channels": 2,
                  "hidden_s_channels": 4, "num_blocks": 1, "num_heads": 1}, nbody, {}),
        "gatr-cga": ({"name": "gatr", "algebra": "cga", "hidden_mv_channels": 2,
                      "hidden_s_channels": 4, "num_blocks": 1, "num_heads": 2}, nbody, {}),
        # float64 runs: a kernel that only reorders sums stays within 1e-10
        "gatr-float64": ({"name": "gatr", "algebra": "ipga", "hidden_mv_channels": 2,
                          "hidden_s_channels": 4, "num_blocks": 1, "num_heads": 1}, nbody, f64),
        "rigid-gatr-float64": ({"name": "rigid-gatr", "mv_channels": 2, "s_channels": 4,
                                "blocks": 1, "heads": 1, "algebra": "pga"}, rigid, f64),
        "transformer": ({"name": "noether.gatr.nets.transformer:Transformer",
                         "hidden_channels": 8, "num_blocks": 1, "num_heads": 2}, nbody, {}),
        "point-gatr": ({"name": "point-gatr", "hidden_mv_channels": 2, "hidden_s_channels": 4,
                        "num_blocks": 1, "num_heads": 1}, nbody, {}),
        "rigid-gatr": ({"name": "rigid-gatr", "mv_channels": 2, "s_channels": 4, "blocks": 1,
                        "heads": 1, "algebra": "ipga"}, rigid, {}),
        "rigid-transformer": ({"name": "rigid-transformer", "channels": 8, "blocks": 1,
                               "heads": 2}, rigid, {}),
    }  # fmt: skip
    return {
        case: {"model": model, "task": task(), **extra}
        for case, (model, task, extra) in table.items()
        if not only or case in only
    }


def _detach(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _detach(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_detach(v) for v in value]
    return value


def _cast(value, dtype):
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, dict):
        return {k: _cast(v, dtype) for k, v in value.items()}
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return type(value)(_cast(v, dtype) for v in value)
    return value


def flat_outputs(value, prefix: str = "out") -> dict[str, torch.Tensor]:
    """Every tensor of a model's output (a tensor, a tuple, a named tuple or a dict), by path."""
    if isinstance(value, torch.Tensor):
        return {prefix: value.detach().clone()}
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, tuple | list):
        items = enumerate(value)
    else:
        return {}
    out = {}
    for key, inner in items:
        out.update(flat_outputs(inner, f"{prefix}.{key}"))
    return out


def capture_inputs(model, task, config) -> tuple[list, dict]:
    """The arguments the task passes to the model on its first validation batch (<= 3 samples)."""
    splits = task.datasets()
    dataset = getattr(splits, "val", None) or getattr(splits, "train", splits)
    batch = task.collate([dataset[i] for i in range(min(3, len(dataset)))])
    seen = []

    def hook(module, args, kwargs):
        if not seen:
            seen.append((_detach(list(args)), _detach(dict(kwargs))))

    dtype = next(model.parameters()).dtype  # as Lightning's "64-true" converts a batch
    batch = _cast(batch, dtype) if dtype == torch.float64 else batch
    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        task.forward(model, batch)
    finally:
        handle.remove()
    return seen[0]


def record(model, args, kwargs, float64: bool) -> dict:
    args, kwargs = _detach(args), _detach(kwargs)
    output = model(*args, **kwargs)
    return {"args": args, "kwargs": kwargs, "output": flat_outputs(output), "float64": float64}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--only", nargs="*", default=None, help="case names to (re)write")
    args = parser.parse_args()

    from noether.atoms.checkpoint import load_potential, save_potential
    from noether.atoms.potential import Potential
    from noether.train.config import build, load_config
    from noether.train.run import train
    from noether.train.trained import load_trained_model

    torch.set_num_threads(1)
    out = Path(args.out)
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "potentials").mkdir(parents=True, exist_ok=True)
    written = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case, raw in cases(folder, args.only).items():
            config = {**COMMON, **raw}
            run_dir = folder / "runs" / case
            train(load_config(config, {"run.dir": str(run_dir)}))
            checkpoint = run_dir / "checkpoints" / "best.ckpt"
            shutil.copyfile(checkpoint, out / "train" / f"{case}.ckpt")
            loaded = load_config(config)
            float64 = str(loaded.trainer.precision) == "64"
            model = load_trained_model(checkpoint)
            task = build(loaded.task, "task")
            inputs = capture_inputs(model, task, config)
            torch.save(record(model, *inputs, float64), out / "train" / f"{case}.io.pt")
            written[f"train/{case}.ckpt"] = config["model"]["name"]
            if isinstance(model, Potential):
                path = save_potential(out / "potentials" / f"{case}.pt", model, case=case)
                again = load_potential(path)
                torch.save(
                    record(again, *inputs, again.dtype == torch.float64),
                    out / "potentials" / f"{case}.io.pt",
                )
                written[f"potentials/{case}.pt"] = config["model"]["name"]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(sys.modules["noether"].__file__).parent,
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    manifest = out / "manifest.json"
    old = json.loads(manifest.read_text()) if manifest.exists() else {}
    old.update({"commit": commit, "torch": torch.__version__})
    old.setdefault("files", {}).update(written)
    manifest.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
