"""Train noether's ET and torchmd-net's ET on the same data, split and settings; print one table.

Both are trained from scratch in their own processes, each on one thread: ours with
``noether train CONFIG``, torchmd-net's with its own ``torchmd-train`` on a YAML written from the
same config (width, layers, heads, radial functions, cutoff, loss weights, learning-rate schedule,
batch sizes, epochs, seed). Both read the same frames (ours the extxyz file; torchmd-net its
``Custom`` npy layout written from it, eV and Å in both) and the same split indices (one
``splits.npz``, TorchMD-NET's ``--splits`` layout). After training, this script evaluates each
code's best checkpoint (lowest validation loss) on the test frames with the same metric code:
energy MAE per frame (meV) and force MAE per component (meV/Å).

Settings that differ by construction, and how they are matched:

- Loss: ours is ``w_E · MSE(E / n_atoms) + w_F · MSE(F)``; torchmd-net's is ``y_weight · MSE(E) +
  neg_dy_weight · MSE(F)``. For one molecule of ``n`` atoms the same objective is
  ``y_weight = w_E / n²`` (the script sets that; ``y_weight = w_E`` for a config with
  ``task.energy_loss: per_frame``).
- Output normalisation: the config's ``task.scale`` for ours (the MD17 configs: ``energy_std``,
  the standard deviation of the training energies, with reference energies from the training
  split); torchmd-net: ``standardize: true``, the mean and standard deviation of the training
  energies, as its MD17 recipe. No loss smoothing (``ema_alpha_y: 1``), no early stop.
- torchmd-net's ET runs with ``vector_cutoff: true`` (every message smooth at the cutoff, as ours).

    python benchmarks/bench_et_training.py --data data/molecules/ethanol.xyz \\
        --config configs/md17-et-small.yaml --epochs 100 --out runs/bench-et-training/ethanol

Times are the wall and CPU time of each training process (imports, data loading and, for
torchmd-net, its own final test pass included). ``--parallel`` trains both at once (one thread
each); ``--skip-train`` only evaluates runs already in ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

VENV_BIN = Path(sys.executable).parent


def read_frames(path: str):
    """The dataset and its (single) composition; refuses files with more than one molecule."""
    from noether.atoms.formats import read_dataset

    ds = read_dataset(path)
    n = np.diff(ds.offsets)
    if not (n == n[0]).all():
        raise SystemExit(f"{path}: frames of different sizes; one molecule per file is expected")
    numbers = ds.numbers[: n[0]]
    for f in range(len(ds)):
        if not (ds.numbers[ds.offsets[f] : ds.offsets[f + 1]] == numbers).all():
            raise SystemExit(f"{path}: frame {f} has a different composition")
    return ds, numbers


def write_custom(ds, numbers: np.ndarray, folder: Path) -> None:
    """TorchMD-NET's ``Custom`` dataset files (one file each): coordinates (F, n, 3) Å,
    atomic numbers (n,), energies (F, 1) eV and forces (F, n, 3) eV/Å, all float32 as it reads."""
    folder.mkdir(parents=True, exist_ok=True)
    frames, n = len(ds), len(numbers)
    np.save(folder / "coords.npy", ds.positions.reshape(frames, n, 3).astype(np.float32))
    np.save(folder / "embed.npy", numbers.astype(np.int64))
    np.save(folder / "energy.npy", ds.energy.reshape(frames, 1).astype(np.float32))
    np.save(folder / "forces.npy", ds.forces.reshape(frames, n, 3).astype(np.float32))


def peer_config(cfg: dict, n_atoms: int, epochs: int, folder: Path, splits: Path) -> dict:
    """torchmd-train settings equivalent to the noether config ``cfg`` (see the module docstring)."""
    m, t, d, o, s = cfg["model"], cfg["task"], cfg["data"], cfg["optim"], cfg["schedule"]
    if m.get("head", "gated") != "gated" or s["name"] != "plateau" or o["name"] != "adamw":
        raise SystemExit("the peer mapping needs head: gated, schedule plateau and optim adamw")
    return {
        "model": "equivariant-transformer",
        "embedding_dimension": m["hidden"],
        "num_layers": m["layers"],
        "num_heads": m["heads"],
        "num_rbf": m["num_rbf"],
        "rbf_type": "expnorm",
        "trainable_rbf": m["trainable_rbf"],
        "neighbor_embedding": m["neighbor_embedding"],
        "distance_influence": m["distance_influence"],
        "activation": m["activation"],
        "attn_activation": m["attn_activation"],
        "cutoff_lower": 0.0,
        "cutoff_upper": m["cutoff"],
        "max_z": m["max_z"],
        "max_num_neighbors": 32,
        "vector_cutoff": True,
        "output_model": "Scalar",
        "reduce_op": "add",
        "prior_model": None,
        "standardize": True,
        "derivative": True,
        "y_weight": t["energy_weight"] / n_atoms**2
        if t.get("energy_loss", "per_atom") == "per_atom"
        else t["energy_weight"],
        "neg_dy_weight": t["forces_weight"],
        "ema_alpha_y": 1.0,
        "ema_alpha_neg_dy": 1.0,
        "train_loss": "mse_loss",
        "batch_size": d["batch_size"],
        "inference_batch_size": d.get("eval_batch_size") or d["batch_size"],
        "lr": o["lr"],
        "weight_decay": o.get("weight_decay", 0.0),
        "lr_warmup_steps": s.get("warmup_steps", 0),
        "lr_factor": s["factor"],
        "lr_patience": s["patience"],
        "lr_min": s["min_lr"],
        "num_epochs": epochs,
        "early_stopping_patience": epochs + 1,
        "save_interval": 1,
        "test_interval": -1,
        "precision": 32,
        "seed": cfg.get("seed", 0),
        "num_workers": 0,
        "ngpus": 1,
        "dataset": "Custom",
        "coord_files": str(folder / "coords.npy"),
        "embed_files": str(folder / "embed.npy"),
        "energy_files": str(folder / "energy.npy"),
        "force_files": str(folder / "forces.npy"),
        "splits": str(splits),
    }


def launch(command: list[str], log: Path) -> tuple[subprocess.Popen, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    handle = open(log, "w")
    return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env), (
        time.perf_counter()
    )


def finish(running: dict[str, tuple[subprocess.Popen, float]], out: Path) -> dict[str, dict]:
    """Wait for every process in ``running`` (reaped in the order they end, so each wall time
    is its own); wall time and CPU time (user + system, from ``wait4``) per name."""
    by_pid = {process.pid: (name, process, start) for name, (process, start) in running.items()}
    timings = {}
    while by_pid:
        pid, status, usage = os.wait4(-1, 0)
        if pid not in by_pid:
            continue
        name, process, start = by_pid.pop(pid)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"{name} training failed (exit {process.returncode}); see {out}")
        timings[name] = {
            "wall_s": time.perf_counter() - start,
            "cpu_s": usage.ru_utime + usage.ru_stime,
        }
    return timings


def best_peer_checkpoint(folder: Path) -> Path:
    """torchmd-train's checkpoint of the epoch with the lowest validation loss (its metrics.csv;
    the file names round the loss to 4 digits)."""
    rows = [r for r in csv.DictReader(open(folder / "metrics.csv")) if r.get("val_total_mse_loss")]
    if not rows:
        raise SystemExit(f"{folder}: no validation loss in metrics.csv")
    best = min(rows, key=lambda r: float(r["val_total_mse_loss"]))
    found = sorted(folder.glob(f"epoch={int(float(best['epoch']))}-*.ckpt"))
    if not found:
        raise SystemExit(f"{folder}: no checkpoint of the best epoch {best['epoch']}")
    return found[0]


def evaluate(predict, ds, numbers: np.ndarray, indices: np.ndarray, batch: int = 64) -> dict:
    """Energy MAE per frame (meV) and force MAE per component (meV/Å) of ``predict`` on frames
    ``indices``; ``predict(z (B·n,), pos (B·n, 3), batch (B·n,)) -> (E (B,) eV, F (B·n, 3) eV/Å)``.

    Also the mean signed energy error (meV) and the energy MAE once it is removed: for one
    molecule a constant offset is invisible to the forces and to MD, and a learned output bias
    can wander by tens of meV from epoch to epoch while the forces improve."""
    n = len(numbers)
    positions = ds.positions.reshape(len(ds), n, 3)
    forces = ds.forces.reshape(len(ds), n, 3)
    e_err, f_err = [], []
    for start in range(0, len(indices), batch):
        idx = indices[start : start + batch]
        b = len(idx)
        z = torch.as_tensor(np.tile(numbers, b), dtype=torch.long)
        pos = torch.as_tensor(positions[idx].reshape(-1, 3), dtype=torch.float32)
        frame = torch.arange(b).repeat_interleave(n)
        energy, force = predict(z, pos, frame)
        e_err.append(energy.detach().double().numpy().reshape(-1) - ds.energy[idx])
        f_err.append(np.abs(force.detach().double().numpy() - forces[idx].reshape(-1, 3)).ravel())
    e_err = np.concatenate(e_err)
    return {
        "energy_mae_meV": 1e3 * float(np.abs(e_err).mean()),
        "forces_mae_meV_per_A": 1e3 * float(np.concatenate(f_err).mean()),
        "energy_offset_meV": 1e3 * float(e_err.mean()),
        "energy_mae_centred_meV": 1e3 * float(np.abs(e_err - e_err.mean()).mean()),
    }


def ours_predictor(run: Path):
    from noether.atoms.task import load_trained_potential

    model = load_trained_potential(str(run))

    def predict(z, pos, frame):
        out = model(z, pos, frame)
        return out["energy"], out["forces"]

    n_params = sum(p.numel() for p in model.parameters())
    return predict, n_params


def peer_predictor(folder: Path):
    from torchmdnet.models.model import load_model

    model = load_model(str(best_peer_checkpoint(folder)), derivative=True).eval()

    def predict(z, pos, frame):
        energy, neg_dy = model(z, pos.requires_grad_(True), batch=frame)
        return energy, neg_dy

    n_params = sum(p.numel() for p in model.parameters())
    return predict, n_params


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="data/molecules/ethanol.xyz")
    parser.add_argument("--config", default="configs/md17-et-small.yaml")
    parser.add_argument("--epochs", type=int, default=None, help="default: the config's")
    parser.add_argument("--train", type=int, default=950)
    parser.add_argument("--val", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="seed of the split")
    parser.add_argument(
        "--train-seed",
        type=int,
        default=None,
        help="seed of both trainings (default: the config's)",
    )
    parser.add_argument("--out", default="runs/bench-et-training/ethanol")
    parser.add_argument("--parallel", action="store_true", help="train both at once")
    parser.add_argument("--skip-train", action="store_true", help="evaluate runs in --out")
    parser.add_argument("--only", choices=("noether", "torchmdnet"), default=None)
    args = parser.parse_args()

    from noether.atoms.splits import load_splits, make_splits, save_splits

    out = Path(args.out)
    ds, numbers = read_frames(args.data)
    cfg = yaml.safe_load(Path(args.config).read_text())
    if args.train_seed is not None:
        cfg["seed"] = args.train_seed
    epochs = args.epochs or cfg["trainer"]["max_epochs"]
    splits_path = out / "splits.npz"
    ours_dir, peer_dir = out / "noether", out / "torchmdnet"
    timings_path = out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    names = [args.only] if args.only else ["noether", "torchmdnet"]

    if not args.skip_train:
        out.mkdir(parents=True, exist_ok=True)
        if not splits_path.exists():
            save_splits(
                splits_path, make_splits(len(ds), args.train, args.val, None, seed=args.seed)
            )
        write_custom(ds, numbers, out / "custom")
        commands = {
            "noether": [
                str(VENV_BIN / "noether"),
                "train",
                args.config,
                f"--task.path={args.data}",
                f"--task.splits={splits_path}",
                f"--trainer.max_epochs={epochs}",
                f"--seed={cfg.get('seed', 0)}",
                f"--run.dir={ours_dir}",
                "--trainer.progress_bar=false",
            ],
            "torchmdnet": [
                str(VENV_BIN / "torchmd-train"),
                "--conf",
                str(out / "torchmdnet.yaml"),
                "--log-dir",
                str(peer_dir),
            ],
        }
        (out / "torchmdnet.yaml").write_text(
            yaml.safe_dump(peer_config(cfg, len(numbers), epochs, out / "custom", splits_path))
        )
        for name in names:
            target = ours_dir if name == "noether" else peer_dir
            if target.exists():
                shutil.rmtree(target)
        if args.parallel:
            running = {name: launch(commands[name], out / f"{name}.log") for name in names}
            timings.update(finish(running, out))
        else:
            for name in names:
                running = {name: launch(commands[name], out / f"{name}.log")}
                timings.update(finish(running, out))
        timings.update(epochs=epochs, parallel=args.parallel)
        timings_path.write_text(json.dumps(timings, indent=2))

    test = load_splits(splits_path, n_frames=len(ds))["idx_test"]
    rows = {}
    for name in ("noether", "torchmdnet"):
        run = ours_dir if name == "noether" else peer_dir
        if not run.exists():
            continue
        predict, n_params = ours_predictor(run) if name == "noether" else peer_predictor(run)
        rows[name] = {**evaluate(predict, ds, numbers, test), "parameters": n_params}
        rows[name].update(timings.get(name, {}))
    split = load_splits(splits_path)
    print(
        f"{Path(args.data).name}: {len(split['idx_train'])} train / {len(split['idx_val'])} val / "
        f"{len(test)} test frames, {timings.get('epochs', epochs)} epochs, "
        f"{'both at once' if timings.get('parallel') else 'one after the other'}, one thread each"
    )
    print(
        "| code | parameters | energy MAE (meV) | mean energy error (meV) | energy MAE, mean "
        "removed (meV) | force MAE (meV/Å) | train wall (s) | train CPU (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    label = {"noether": "noether ET", "torchmdnet": "torchmd-net 3.1.0 ET"}
    for name, r in rows.items():
        wall = f"{r['wall_s']:.0f}" if "wall_s" in r else "-"
        cpu = f"{r['cpu_s']:.0f}" if "cpu_s" in r else "-"
        print(
            f"| {label[name]} | {r['parameters']:,} | {r['energy_mae_meV']:.2f} | "
            f"{r['energy_offset_meV']:+.2f} | {r['energy_mae_centred_meV']:.2f} | "
            f"{r['forces_mae_meV_per_A']:.2f} | {wall} | {cpu} |"
        )
    meta = {"data": args.data, "train_seed": cfg.get("seed", 0), "epochs": epochs}
    (out / "results.json").write_text(json.dumps({**rows, "meta": meta}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
