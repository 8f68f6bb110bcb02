"""GATr forward+backward on CPU: noether's GATr against lgatr and ezgatr, and against noether's
Transformer baseline at equal parameter count.

Configurations (fp32, matched multivector channels, scalar channels and heads):

- headline: batch 8 x 256 tokens, 4 blocks, 16 multivector channels, 8 heads (the issue's);
- sweep: batch 1, 16 to 4096 tokens, one block and the whole 4-block model.

Models: ours ``GATr("ipga", hidden_mv=16, hidden_s=32, heads=8)`` (distance-aware attention and
join, like the reference GATr); ``lgatr.LGATr`` with the same channels, ``num_heads=8``,
``attn_ratio=1`` (per head 2 multivector and 4 scalar channels, as ours) and ``mlp_ratio=2`` (our
MLP width); ``ezgatr`` ``MVOnlyGATrModel`` with 16 hidden channels, 32 bilinear channels (as
ours), 8 heads, non-causal, inner-product and distance-aware attention (it has no scalar
channels); ours ``Transformer`` whose parameter count is closest to our GATr's. "One block" is
the model with ``num_blocks=1`` (so it includes the input and output linear layers).

Every measurement runs in a fresh subprocess (one model, one configuration): one warm-up step,
then ``--steps`` timed steps of forward + backward (loss = mean of squared outputs, parameter
gradients), timed by the CPU time of the process (``--clock cpu``, the default: on one thread it
is what the step costs, even when other jobs share the cores) or by the wall clock. Peak memory is the peak RSS above the RSS before the first step. The machine is
shared: the rounds alternate the models, and each cell is the best over all rounds and steps.
The FLOP floor is the intrinsic FLOPs of a training step (3 forward passes; see
:mod:`noether.gatr.flops`) at the measured fp32 GEMM throughput of the same threads.

    python benchmarks/bench_gatr.py [--threads 1] [--clock cpu] [--rounds 2] [--steps 3] [--quick]
        [--no-sweep] [--tokens 16 64 256 1024 4096] [--models ours lgatr ezgatr transformer]
        [--merge runs/earlier.json] [--json runs/bench_gatr.json] [--plot runs/bench_gatr.png]
    python benchmarks/bench_gatr.py --variants    # ours over ega, pga, ipga, cga (headline)
    python benchmarks/bench_gatr.py --compiled    # ours eager against torch.compile (headline)

Measured tables: docs/gatr.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

CHANNELS, SCALARS, HEADS, BLOCKS = 16, 32, 8, 4
MODELS = ("ours", "lgatr", "ezgatr", "transformer")
EXTRA = ("ours-ega", "ours-pga", "ours-cga", "ours-compiled")
"""Further models (``--variants``, ``--compiled``): our GATr over the other algebras, and ours under
``torch.compile`` (its compilation is part of the warm-up step, not of the timed steps)."""
LONG_STEP_S = 30.0
"""A configuration whose warm-up step takes longer than this (seconds) is timed by one step."""


# ------------------------------------------------------------------------------------ worker
def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _build(name: str, blocks: int):
    """``(model, inputs, loss_fn)`` for one model."""
    import torch

    from noether.gatr import GATr
    from noether.gatr.nets.transformer import Transformer

    if name == "ours":
        model = GATr(
            algebra="ipga",
            in_mv_channels=1,
            out_mv_channels=1,
            hidden_mv_channels=CHANNELS,
            in_s_channels=1,
            out_s_channels=1,
            hidden_s_channels=SCALARS,
            num_blocks=blocks,
            num_heads=HEADS,
        )
        return model, "mv+s"
    if name.startswith("ours-") and name != "ours-compiled":
        model = GATr(name.removeprefix("ours-"), 1, 1, CHANNELS, 1, 1, SCALARS, blocks, HEADS)
        return model, "mv+s"
    if name == "ours-compiled":
        model = GATr(
            algebra="ipga",
            in_mv_channels=1,
            out_mv_channels=1,
            hidden_mv_channels=CHANNELS,
            in_s_channels=1,
            out_s_channels=1,
            hidden_s_channels=SCALARS,
            num_blocks=blocks,
            num_heads=HEADS,
        )
        return torch.compile(model), "mv+s"
    if name == "lgatr":
        from lgatr import LGATr

        model = LGATr(
            blocks,
            1,
            1,
            CHANNELS,
            1,
            1,
            SCALARS,
            attention=dict(num_heads=HEADS, attn_ratio=1),
            mlp=dict(mlp_ratio=2),
        )
        return model, "mv+s"
    if name == "ezgatr":
        from ezgatr.nets.mv_only_gatr import MVOnlyGATrConfig, MVOnlyGATrModel

        config = MVOnlyGATrConfig(
            num_layers=blocks,
            size_channels_hidden=CHANNELS,
            size_channels_intermediate=2 * CHANNELS,
            attn_num_heads=HEADS,
            attn_is_causal=False,
        )
        return MVOnlyGATrModel(config), "mv"
    if name == "transformer":
        reference = GATr(
            algebra="ipga",
            in_mv_channels=1,
            out_mv_channels=1,
            hidden_mv_channels=CHANNELS,
            in_s_channels=1,
            out_s_channels=1,
            hidden_s_channels=SCALARS,
            num_blocks=blocks,
            num_heads=HEADS,
        )
        target = sum(p.numel() for p in reference.parameters())
        torch.manual_seed(0)
        model = Transformer.matching(
            target, in_points=1, out_points=1, num_blocks=blocks, num_heads=HEADS
        )
        return model, "points"
    raise ValueError(f"unknown model {name!r}; accepted: {MODELS}")


def worker(
    name: str, blocks: int, batch: int, tokens: int, steps: int, threads: int, clock: str = "cpu"
) -> dict:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, kind = _build(name, blocks)
    dim = getattr(getattr(model, "_orig_mod", model), "algebra", None)
    mv = torch.randn(batch, tokens, 1, dim.dim if dim is not None else 16)
    s = torch.randn(batch, tokens, 1)
    points = torch.randn(batch, tokens, 1, 3)

    def step():
        model.zero_grad(set_to_none=True)
        if kind == "mv+s":
            out, out_s = model(mv, s)
            loss = out.square().mean() + out_s.square().mean()
        elif kind == "mv":
            loss = model(mv).square().mean()
        else:
            loss = model(points).points.square().mean()
        loss.backward()

    timer = time.process_time if clock == "cpu" else time.perf_counter
    before = _rss_kib()
    start = timer()
    step()
    warmup = timer() - start
    if warmup > LONG_STEP_S:  # a long step is timed once: minutes per cell otherwise
        steps = 1
    times = []
    for _ in range(steps):
        start = timer()
        step()
        times.append(timer() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    result = {"ms": [1e3 * t for t in times], "warmup_ms": 1e3 * warmup, "peak_mb": peak / 1024}
    result["params"] = sum(p.numel() for p in model.parameters())
    if name in ("ours", "transformer") or name.startswith("ours-"):
        from noether.gatr.flops import forward_flops

        plain = getattr(model, "_orig_mod", model)
        result["flops"] = 3 * forward_flops(plain, tokens, batch)["intrinsic"]
        result["nominal_flops"] = 3 * forward_flops(plain, tokens, batch)["nominal"]
    return result


def gemm_worker(threads: int, clock: str = "cpu") -> dict:
    """Best fp32 GEMM throughput (GFLOP/s) of 1024^3 and 2048^3 products."""
    import torch

    timer = time.process_time if clock == "cpu" else time.perf_counter
    torch.set_num_threads(threads)
    best = 0.0
    for n in (1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        for _ in range(5):
            start = timer()
            a @ b
            best = max(best, 2 * n**3 / (timer() - start) / 1e9)
    return {"gflops": best}


# -------------------------------------------------------------------------------- driver
def _run(args: list[str]) -> dict | None:
    command = [sys.executable, __file__, "--worker", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"  failed: {' '.join(args)}\n{done.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("torch", "lgatr", "ezgatr"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out


def measure(configs, models, rounds: int, steps: int, threads: int, clock: str) -> dict:
    """``{(config, model): best result}`` over ``rounds`` alternating rounds."""
    results: dict = {}
    for r in range(rounds):
        for config in configs:
            blocks, batch, tokens = config
            for name in models:
                if results.get((config, name), {}).get("skip"):
                    continue
                print(
                    f"round {r + 1}/{rounds}: {name:12s} blocks={blocks} batch={batch} "
                    f"tokens={tokens}",
                    flush=True,
                )
                out = _run(
                    [name, str(blocks), str(batch), str(tokens), str(steps), str(threads), clock]
                )
                key = (config, name)
                if out is None:
                    results[key] = {"skip": True}
                    continue
                best = results.get(key)
                out["best_ms"] = min(out["ms"])
                if best is None:
                    results[key] = out
                else:
                    best["best_ms"] = min(best["best_ms"], out["best_ms"])
                    best["ms"] += out["ms"]
                    best["peak_mb"] = min(best["peak_mb"], out["peak_mb"])
    return results


def _merge(results: dict, paths: list[Path], measured: list[str]) -> set[str]:
    """Add the results of earlier runs (``--json`` files) for models not measured now; return
    the models added."""
    added = set()
    for path in paths:
        for row in json.loads(path.read_text())["results"]:
            row = dict(row)
            config = (row.pop("blocks"), row.pop("batch"), row.pop("tokens"))
            model = row.pop("model")
            if model not in measured and (config, model) not in results:
                results[(config, model)] = row
                added.add(model)
    return added


def _extra(args, config) -> int:
    """``--variants`` / ``--compiled``: the headline configuration for our models only."""
    models = ["ours-ega", "ours-pga", "ours", "ours-cga"] if args.variants else []
    models += ["ours", "ours-compiled"] if args.compiled and not args.variants else []
    models += ["ours-compiled"] if args.compiled and args.variants else []
    print(
        f"versions: {_versions()}; threads: {args.threads}; clock: {args.clock}; load average "
        f"{os.getloadavg()[0]:.1f}",
        flush=True,
    )
    gflops = max(_run(["gemm", str(args.threads), args.clock])["gflops"] for _ in range(2))
    results = measure([config], models, args.rounds, args.steps, args.threads, args.clock)
    names = {"ours": "ipga", "ours-compiled": "ipga, torch.compile"}
    print(
        f"\nbatch {config[1]} x {config[2]} tokens, {config[0]} blocks, fp32; GEMM {gflops:.0f} GFLOP/s"
    )
    print(
        "| model | parameters | ms | warm-up ms | peak MB | training GFLOP (intrinsic / nominal) | FLOP floor ms |"
    )
    print("|---|---|---|---|---|---|---|")
    for m in models:
        r = results.get((config, m), {})
        if not r or r.get("skip"):
            print(f"| {names.get(m, m.removeprefix('ours-'))} | n/a |")
            continue
        print(
            f"| {names.get(m, m.removeprefix('ours-'))} | {r['params']:,} | {r['best_ms']:.0f} | "
            f"{r['warmup_ms']:.0f} | {r['peak_mb']:.0f} | {r['flops'] / 1e9:.1f} / "
            f"{r['nominal_flops'] / 1e9:.1f} | {r['flops'] / gflops / 1e6:.0f} |"
        )
    return 0


def table(results, configs, models, gflops: float) -> str:
    lines = [
        "| blocks | batch x tokens | "
        + " | ".join(f"{m} ms" for m in models)
        + " | lgatr/ours | ezgatr/ours | ours/transformer | ours peak MB | transformer peak MB"
        " | ours FLOP floor ms |",
        "|" + "---|" * (len(models) + 8),
    ]
    for config in configs:
        blocks, batch, tokens = config
        row = {m: results.get((config, m), {}) for m in (*models, "ours", "transformer")}
        ms = {m: row[m].get("best_ms") for m in row}

        def ratio(a, b, ms=ms):
            return f"{ms[a] / ms[b]:.1f}x" if ms.get(a) and ms.get(b) else "n/a"

        cells = [f"{ms[m]:.1f}" if ms[m] else "n/a" for m in models]
        floor = row["ours"].get("flops")
        lines.append(
            f"| {blocks} | {batch} x {tokens} | "
            + " | ".join(cells)
            + f" | {ratio('lgatr', 'ours')} | {ratio('ezgatr', 'ours')} | "
            f"{ratio('ours', 'transformer')} | {row['ours'].get('peak_mb', float('nan')):.0f} | "
            f"{row['transformer'].get('peak_mb', float('nan')):.0f} | "
            f"{(floor / gflops / 1e6) if floor else float('nan'):.1f} |"
        )
    return "\n".join(lines)


def plot(results, sweep, models, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=False)
    for ax, blocks in zip(axes, (1, BLOCKS)):
        for name in models:
            xs, ys = [], []
            for config in sweep:
                if config[0] != blocks:
                    continue
                value = results.get((config, name), {}).get("best_ms")
                if value:
                    xs.append(config[2])
                    ys.append(value)
            if xs:
                ax.loglog(xs, ys, "o-", label=name)
        ax.set_xlabel("tokens (batch 1)")
        ax.set_ylabel("forward + backward (ms)")
        ax.set_title(f"{blocks} block{'s' if blocks > 1 else ''}, 16 mv channels, 8 heads, fp32")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: CPU time of the process (robust on a shared machine with --threads 1); wall",
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--tokens", type=int, nargs="+", default=[16, 64, 256, 1024, 4096])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS + EXTRA)
    parser.add_argument(
        "--variants",
        action="store_true",
        help="the headline configuration only, for our GATr over every algebra (ega, pga, ipga, cga)",
    )
    parser.add_argument(
        "--compiled",
        action="store_true",
        help="the headline configuration only: ours eager against ours under torch.compile",
    )
    parser.add_argument("--quick", action="store_true", help="tokens 16..1024, one round")
    parser.add_argument("--no-sweep", action="store_true", help="the headline configuration only")
    parser.add_argument("--json", type=Path, default=Path("runs/bench_gatr.json"))
    parser.add_argument("--plot", type=Path, default=Path("runs/bench_gatr.png"))
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="*",
        default=[],
        help="JSON files of earlier runs: their results for models not measured now join the tables",
    )
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.worker[0] == "gemm":
            print(json.dumps(gemm_worker(int(args.worker[1]), args.worker[2])))
        else:
            name, blocks, batch, tokens, steps, threads, clock = args.worker
            sizes = map(int, (blocks, batch, tokens, steps, threads))
            print(json.dumps(worker(name, *sizes, clock)))
        return 0
    if args.quick:
        args.tokens, args.rounds = [t for t in args.tokens if t <= 1024], 1

    headline = [(BLOCKS, 8, 256)]
    sweep = [] if args.no_sweep else [(b, 1, t) for b in (1, BLOCKS) for t in args.tokens]
    if args.variants or args.compiled:
        return _extra(args, headline[0])
    print(
        f"versions: {_versions()}; threads: {args.threads}; clock: {args.clock}; load average "
        f"{os.getloadavg()[0]:.1f}",
        flush=True,
    )
    gflops = max(_run(["gemm", str(args.threads), args.clock])["gflops"] for _ in range(2))
    print(f"fp32 GEMM throughput: {gflops:.1f} GFLOP/s", flush=True)
    results = measure(
        headline + sweep, args.models, args.rounds, args.steps, args.threads, args.clock
    )

    merged = _merge(results, args.merge, args.models)
    models = [m for m in MODELS if m in args.models or m in merged]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "versions": _versions(),
        "threads": args.threads,
        "clock": args.clock,
        "load_average": os.getloadavg(),
        "gemm_gflops": gflops,
        "merged_from": [str(p) for p in args.merge],
        "results": [
            {"blocks": c[0], "batch": c[1], "tokens": c[2], "model": m, **v}
            for (c, m), v in results.items()
        ],
    }
    tmp = args.json.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, args.json)
    print(f"json: {args.json}")
    print("\nheadline (issue 10: batch 8 x 256 tokens, 4 blocks, 16 mv channels, 8 heads)")
    print(table(results, headline, models, gflops))
    if sweep:
        print("\nsweep (batch 1)")
        print(table(results, sweep, models, gflops))
        plot(results, sweep, models, args.plot)
        print(f"plot: {args.plot}")
    params = {m: results.get((headline[0], m), {}).get("params") for m in models}
    print(f"parameters at 4 blocks: {params}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
