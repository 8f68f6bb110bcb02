"""ET energy+forces on CPU: noether's ET against TorchMD-NET's, side by side in one process.

Both models carry the same weights (TorchMD-NET's randomly initialised ET with the MD17 recipe,
``vector_cutoff: true``, converted with :func:`noether.atoms.models.et.torchmdnet.from_torchmdnet_state`),
so they compute the same function; the script checks that before timing. Systems: one ethanol, a
batch of 64 ethanols, and a 1,000-atom water cluster (liquid density). Each call is timed after
warm-up, alternating ours and theirs, best of ``--repeats``; peak memory of one call at 1,000 atoms
is measured in a fresh subprocess per model (peak RSS above the process's RSS before the call).

    python benchmarks/bench_et.py [--repeats 20] [--threads 2] [--dtype float32]

Timings on a shared machine are noisy: the table gives the best and the median of the repeats.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import torch

MD17 = dict(
    model="equivariant-transformer",
    embedding_dimension=128,
    num_layers=6,
    num_rbf=32,
    rbf_type="expnorm",
    trainable_rbf=False,
    activation="silu",
    attn_activation="silu",
    neighbor_embedding=True,
    num_heads=8,
    distance_influence="both",
    cutoff_lower=0.0,
    cutoff_upper=5.0,
    max_z=100,
    max_num_neighbors=128,
    vector_cutoff=True,
    derivative=True,
    atom_filter=-1,
    prior_model=None,
    output_model="Scalar",
    reduce_op="add",
    precision=32,
)


def ethanol() -> tuple[np.ndarray, np.ndarray]:
    from ase.build import molecule

    atoms = molecule("CH3CH2OH")
    return atoms.numbers, atoms.positions


def water_cluster(n_molecules: int = 334, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Water molecules on a cubic grid at liquid density (3.1 Å), the ``n`` nearest the centre,
    each randomly oriented (O-H 0.9572 Å, H-O-H 104.52°)."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    side = int(np.ceil((n_molecules * 6 / np.pi) ** (1 / 3))) + 2
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    grid = (grid - (side - 1) / 2) * 3.1
    centres = grid[np.argsort(np.linalg.norm(grid, axis=1), kind="stable")[:n_molecules]]
    half = np.deg2rad(104.52) / 2
    local = 0.9572 * np.array(
        [[0, 0, 0], [np.sin(half), np.cos(half), 0], [-np.sin(half), np.cos(half), 0]]
    )
    rot = Rotation.random(n_molecules, random_state=seed).as_matrix()
    positions = centres[:, None, :] + np.einsum("mij,aj->mai", rot, local)
    positions += rng.normal(scale=0.05, size=positions.shape)
    numbers = np.tile([8, 1, 1], n_molecules)
    return numbers, positions.reshape(-1, 3)


def systems() -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    z, pos = ethanol()
    rng = np.random.default_rng(1)
    out = {"1 ethanol (9 atoms)": (z, pos, np.zeros(len(z), dtype=np.int64))}
    frames = [pos + rng.normal(scale=0.05, size=pos.shape) for _ in range(64)]
    out["64 ethanols (576 atoms)"] = (
        np.tile(z, 64),
        np.concatenate(frames),
        np.repeat(np.arange(64), len(z)),
    )
    wz, wpos = water_cluster()
    out[f"water cluster ({len(wz)} atoms)"] = (wz, wpos, np.zeros(len(wz), dtype=np.int64))
    return {
        k: (
            torch.as_tensor(z, dtype=torch.long),
            torch.as_tensor(p),
            torch.as_tensor(b, dtype=torch.long),
        )
        for k, (z, p, b) in out.items()
    }


def build(dtype: torch.dtype):
    from torchmdnet.models.model import create_model

    from noether.atoms.models.et.torchmdnet import from_torchmdnet_state

    torch.manual_seed(0)
    args = dict(MD17, precision=64 if dtype == torch.float64 else 32)
    peer = create_model(dict(args), mean=torch.tensor(0.0), std=torch.tensor(1.0)).eval()
    ours = from_torchmdnet_state(args, peer.state_dict(), dtype=dtype).eval()
    return ours, peer


def call_ours(model, z, pos, batch):
    out = model(z, pos, batch)
    return out["energy"], out["forces"]


def call_peer(model, z, pos, batch):
    y, f = model(z, pos.clone(), batch)
    return y.reshape(-1), f


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(field)


def peak_memory(which: str, name: str, dtype: str, threads: int) -> float:
    """Peak extra RSS (MiB) of one energy+forces call, in a fresh subprocess."""
    code = f"""
import torch, json, sys
sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parent)!r})
torch.set_num_threads({threads})
import bench_et as b
ours, peer = b.build(torch.{dtype})
z, pos, batch = b.systems()[{name!r}]
pos = pos.to(torch.{dtype})
small = b.systems()["1 ethanol (9 atoms)"]
fn, model = (b.call_ours, ours) if {which!r} == "ours" else (b.call_peer, peer)
fn(model, small[0], small[1].to(torch.{dtype}), small[2])  # warm-up (kernels, caches)
open("/proc/self/clear_refs", "w").write("5")
before = b._rss_kib("VmRSS")
e, f = fn(model, z, pos, batch)
print(json.dumps((b._rss_kib("VmHWM") - before) / 1024))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory subprocesses"
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time, or the process's CPU time (steadier on a shared machine; use --threads 1)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time ours through torch.compile (ET.compile_inference: compiled block layers "
        "for batches of small molecules, the whole compiled graph otherwise); the compile "
        "time of each system is printed, not timed",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    dtype = getattr(torch, args.dtype)
    try:
        ours, peer = build(dtype)
    except ImportError as err:
        print(
            f"torchmd-net is not importable ({err}); install it with: pip install torchmd-net torch==2.13.0"
        )
        return 1
    compiled = None
    if args.compile:
        import copy

        compiled = copy.deepcopy(ours).compile_inference()
    print(
        f"ET, MD17 recipe (6 layers, 128 channels, 8 heads, 32 RBF, 5 Å), {args.dtype}, "
        f"{args.threads} threads, {args.clock} time of energy+forces per call, best/median of "
        f"{args.repeats}"
    )
    rows = []
    for name, (z, pos, batch) in systems().items():
        pos = pos.to(dtype)
        e_ours, f_ours = call_ours(ours, z, pos, batch)
        e_peer, f_peer = call_peer(peer, z, pos, batch)
        scale = float(f_peer.abs().max())
        agree = float((f_ours - f_peer).detach().abs().max()) / scale
        repeats = args.repeats if len(z) < 1000 else max(3, args.repeats // 4)
        timed = [("ours", call_ours, ours), ("peer", call_peer, peer)]
        if compiled is not None:
            start = time.perf_counter()
            _, f_compiled = call_ours(compiled, z, pos, batch)
            compile_s = time.perf_counter() - start
            agree_compiled = float((f_compiled - f_ours).abs().max()) / scale
            if compiled.inference.failed:
                print(
                    f"torch.compile failed for {', '.join(compiled.inference.failed)} (see the "
                    "warning above); compiled timings skipped"
                )
                compiled = None
            else:
                timed.append(("compiled", call_ours, compiled))
        times = {key: [] for key, _, _ in timed}
        for _ in range(2):  # warm-up
            for _, fn, model in timed:
                fn(model, z, pos, batch)
        for _ in range(repeats):
            for key, fn, model in timed:
                start = clock()
                fn(model, z, pos, batch)
                times[key].append(clock() - start)
        row = {
            "system": name,
            "atoms": len(z),
            "ours_ms": 1e3 * min(times["ours"]),
            "peer_ms": 1e3 * min(times["peer"]),
            "ours_median_ms": 1e3 * float(np.median(times["ours"])),
            "peer_median_ms": 1e3 * float(np.median(times["peer"])),
            "max_force_diff_rel": agree,
            "energy_diff": float((e_ours - e_peer).detach().abs().max()),
        }
        if compiled is not None:
            row.update(
                compiled_ms=1e3 * min(times["compiled"]),
                compiled_median_ms=1e3 * float(np.median(times["compiled"])),
                compile_s=compile_s,
                compiled_force_diff_rel=agree_compiled,
            )
        if len(z) >= 1000 and not args.no_memory:
            row["ours_peak_mib"] = peak_memory("ours", name, args.dtype, args.threads)
            row["peer_peak_mib"] = peak_memory("peer", name, args.dtype, args.threads)
        rows.append(row)
        mem = ""
        if "ours_peak_mib" in row:
            mem = (
                f"  peak {row['ours_peak_mib']:.0f} vs {row['peer_peak_mib']:.0f} MiB "
                f"(x{row['peer_peak_mib'] / row['ours_peak_mib']:.2f} less)"
            )
        print(
            f"{name:28s} ours {row['ours_ms']:8.2f} ms (median {row['ours_median_ms']:8.2f})  "
            f"torchmd-net {row['peer_ms']:8.2f} ms (median {row['peer_median_ms']:8.2f})  "
            f"x{row['peer_ms'] / row['ours_ms']:.2f} faster  "
            f"[forces agree to {agree:.1e} rel]{mem}",
            flush=True,
        )
        if compiled is not None:
            print(
                f"{'':28s} ours compiled {row['compiled_ms']:8.2f} ms (median "
                f"{row['compiled_median_ms']:8.2f})  x{row['peer_ms'] / row['compiled_ms']:.2f} "
                f"faster than torchmd-net  [compile {compile_s:.0f} s; forces agree with eager "
                f"to {agree_compiled:.1e} rel]",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
