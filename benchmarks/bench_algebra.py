"""Geometric product and equivariant linear map: noether's sparse kernels vs the dense formulation.

The dense formulation is how the reference GATr computes them: an einsum with the ``dim**3``
Cayley tensor for the product, and for the linear map the ``(out, dim, in, dim)`` matrix built
from the basis, contracted with the input. The peers kingdon (generated straight-line numpy code)
and clifford (numba; timed through an ``@njit`` loop over its product, compile time excluded) are
measured in the same process. The FLOP floor is the number of non-zero table entries times the
batch (multiply-adds). Each cell is timed ``--repeats`` times in each of ``--rounds`` passes over
all cells, and the best is kept, so a burst of load on a shared machine spoils one pass, not the
table. ``--clock cpu`` times the process's CPU (with one thread, what a quiet machine's wall clock
shows); wall-clock numbers on a shared machine move by tens of percent.

    python benchmarks/bench_algebra.py                  # PGA, EGA, CGA at 1e3, 1e4, 1e5
    python benchmarks/bench_algebra.py --sizes 100000 --algebras PGA --threads 2
    python benchmarks/bench_algebra.py --schedules      # the kernels' two schedules: the dispatch rule
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

# Peers' BLAS pools would otherwise spin on the cores we time (set before numpy and torch load).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from noether.algebra import CGA, EGA, PGA, Algebra, equivariant_linear  # noqa: E402

ALGEBRAS = {"EGA": EGA, "PGA": PGA, "CGA": CGA}


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best seconds of ``repeats`` calls after one warm-up call, on the chosen clock."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def dense_table(alg: Algebra, dtype: torch.dtype) -> torch.Tensor:
    table = torch.zeros(alg.dim, alg.dim, alg.dim, dtype=dtype)
    for i, j, k, c in alg.tables.geometric.entries:
        table[k, i, j] = c
    return table


def dense_product(table: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """GATr's formulation: ``einsum("i j k, ... j, ... k -> ... i", gp, x, y)``."""
    return torch.einsum("ijk,...j,...k->...i", table, x, y)


def dense_linear(basis: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """GATr's formulation: ``einsum("y x a, a i j, ... x j -> ... y i", weight, basis, x)``."""
    return torch.einsum("yxa,aij,...xj->...yi", weight, basis, x)


def kingdon_product(alg: Algebra, x: np.ndarray, y: np.ndarray) -> Callable[[], object] | None:
    try:
        import kingdon
    except ImportError:
        return None
    k = kingdon.Algebra(alg.p, alg.q, alg.r)
    a = k.multivector(values=x.T.copy(), keys=alg.tables.masks)
    b = k.multivector(values=y.T.copy(), keys=alg.tables.masks)
    return lambda: a * b


def clifford_product(alg: Algebra, x: np.ndarray, y: np.ndarray) -> Callable[[], object] | None:
    try:
        import clifford
        import numba
    except ImportError:
        return None
    layout, _ = clifford.Cl(alg.p, alg.q, alg.r, firstIdx=0 if alg.r == 1 else 1)
    gmt = layout.gmt_func

    @numba.njit(cache=False)
    def batched(a, b):
        out = np.empty_like(a)
        for n in range(a.shape[0]):
            out[n] = gmt(a[n], b[n])
        return out

    return lambda: batched(x, y)


Cell = tuple[dict[str, Callable[[], object]], dict[str, float]]


def product_cell(alg: Algebra, n: int, dtype: torch.dtype, peers: bool) -> Cell:
    """The timed calls of one geometric-product cell, and its operation counts."""
    x = torch.randn(n, alg.dim, dtype=dtype)
    y = torch.randn(n, alg.dim, dtype=dtype)
    table = dense_table(alg, dtype)
    torch.testing.assert_close(alg.geometric_product(x, y), dense_product(table, x, y))
    xg, yg = x.clone().requires_grad_(), y.clone().requires_grad_()
    calls = {
        "ours": lambda: alg.geometric_product(x, y),
        "dense": lambda: dense_product(table, x, y),
        "ours_train": lambda: alg.geometric_product(xg, yg).sum().backward(),
        "dense_train": lambda: dense_product(table, xg, yg).sum().backward(),
    }
    if peers:
        for name, make in (("kingdon", kingdon_product), ("clifford", clifford_product)):
            fn = make(alg, x.numpy(), y.numpy())
            if fn is not None:
                calls[name] = fn
    counts = {"floor": len(alg.tables.geometric.entries) * n, "dense_macs": alg.dim**3 * n}
    return calls, counts


def linear_cell(alg: Algebra, n: int, channels: int, dtype: torch.dtype) -> Cell:
    """The timed calls of one equivariant-linear cell (``n // channels`` tokens)."""
    tokens = max(n // channels, 1)
    x = torch.randn(tokens, channels, alg.dim, dtype=dtype)
    w = torch.randn(channels, channels, alg.linear_basis.n_basis, dtype=dtype)
    basis = alg.equivariant_linear_basis(dtype=dtype)
    torch.testing.assert_close(equivariant_linear(alg, x, w), dense_linear(basis, x, w))
    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    calls = {
        "ours": lambda: equivariant_linear(alg, x, w),
        "dense": lambda: dense_linear(basis, x, w),
        "ours_train": lambda: equivariant_linear(alg, xg, wg).sum().backward(),
        "dense_train": lambda: dense_linear(basis, xg, wg).sum().backward(),
    }
    counts = {
        "floor": len(alg.linear_basis.pairs) * channels * channels * tokens,
        "dense_macs": alg.dim**2 * channels * channels * tokens,
    }
    return calls, counts


def schedules(algebras: list[str], repeats: int, rounds: int) -> None:
    """Time both schedules of :func:`noether.algebra.kernels.bilinear_kernel` on the geometric
    product against the numbers per component: where they cross sets ``GATHER_MAX``."""
    from noether.algebra import kernels

    print(f"\nschedules of the geometric product (GATHER_MAX = {kernels.GATHER_MAX:.3g})")
    print(f"{'algebra':7} {'n':>6} {'gather':>9} {'rows':>9} {'rows/gather':>11} {'picks':>6}")
    for name in algebras:
        alg = ALGEBRAS[name]
        table = alg.tables.geometric
        for n in (256, 512, 1024, 2048, 4096, 8192, 16384):
            x, y, out = (torch.randn(alg.dim, n) for _ in range(3))
            times = {}
            for schedule in ("_gather", "_rows"):
                fn = getattr(kernels, schedule)
                times[schedule] = min(
                    best_time(lambda fn=fn, a=(x, y, table, out): fn(*a), repeats)
                    for _ in range(rounds)
                )
            small = table.dims[2] * table.width * n <= kernels.GATHER_MAX
            picks = "gather" if small else "rows"
            print(
                f"{name:7} {n:6d} {_ms(times['_gather'])} {_ms(times['_rows'])} "
                f"{times['_rows'] / times['_gather']:11.2f} {picks:>6}"
            )


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.3f}" if seconds == seconds else "      n/a"


def plot(rows: list[tuple[str, dict]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label for label, _ in rows]
    speedup = [row["dense"] / row["ours"] for _, row in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(rows)), 4))
    ax.bar(range(len(rows)), speedup, color="tab:blue")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(range(len(rows)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("dense time / noether time (forward)")
    ax.set_yscale("log")
    fig.tight_layout()
    handle, tmp = tempfile.mkstemp(suffix=".png", dir=os.path.dirname(os.path.abspath(path)))
    os.close(handle)
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algebras", nargs="+", default=["PGA", "EGA", "CGA"], choices=ALGEBRAS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000, 10_000, 100_000])
    parser.add_argument(
        "--channels", nargs="+", type=int, default=[16, 64], help="linear map: in = out channels"
    )
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (at most 2 here)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per cell and round")
    parser.add_argument("--rounds", type=int, default=3, help="passes over all cells")
    parser.add_argument("--no-peers", action="store_true", help="skip kingdon and clifford")
    parser.add_argument("--plot", default=None, help="write a PNG of the speed-ups here")
    parser.add_argument(
        "--schedules", action="store_true", help="time the kernels' two schedules instead"
    )
    args = parser.parse_args()
    global clock
    clock = CLOCK[args.clock]
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {args.dtype}; "
        f"ms on the {args.clock} clock, best of {args.rounds} rounds x {args.repeats} calls"
    )
    if args.schedules:
        schedules(args.algebras, args.repeats, args.rounds)
        return
    cells: dict[tuple, Cell] = {}
    for name in args.algebras:
        for n in args.sizes:
            cells["GP", name, n, 0] = product_cell(ALGEBRAS[name], n, dtype, not args.no_peers)
        for channels in args.channels:
            for n in args.sizes:
                cells["linear", name, n, channels] = linear_cell(ALGEBRAS[name], n, channels, dtype)
    best: dict[tuple, dict[str, float]] = {key: {} for key in cells}
    for round_ in range(args.rounds):
        print(f"round {round_ + 1} of {args.rounds}", flush=True)
        for key, (calls, _) in cells.items():
            for name, fn in calls.items():
                t = best_time(fn, args.repeats)
                best[key][name] = min(best[key].get(name, float("inf")), t)
    rows = [(" ".join(str(k) for k in key if k), {**best[key], **cells[key][1]}) for key in cells]

    nan = float("nan")
    print("\ngeometric product of n multivectors (tr = forward + backward)")
    print(
        f"{'algebra':7} {'n':>7} {'ours':>9} {'dense':>9} {'ratio':>6} {'ours tr':>9} "
        f"{'dense tr':>9} {'ratio':>6} {'kingdon':>9} {'clifford':>9} {'nnz MAC':>9} {'GMAC/s':>7}"
    )
    for (section, name, n, _), (_, r) in zip(cells, rows):
        if section == "GP":
            print(
                f"{name:7} {n:7d} {_ms(r['ours'])} {_ms(r['dense'])} {r['dense'] / r['ours']:6.1f} "
                f"{_ms(r['ours_train'])} {_ms(r['dense_train'])} "
                f"{r['dense_train'] / r['ours_train']:6.1f} {_ms(r.get('kingdon', nan))} "
                f"{_ms(r.get('clifford', nan))} {r['floor']:9.2e} {r['floor'] / r['ours'] / 1e9:7.2f}"
            )
    print("\nequivariant linear map of n multivectors = tokens x ch channels, ch -> ch")
    print(
        f"{'algebra':7} {'n':>7} {'ch':>3} {'ours':>9} {'dense':>9} {'ratio':>6} {'ours tr':>9} "
        f"{'dense tr':>9} {'ratio':>6} {'nnz MAC':>9} {'dense MAC':>9}"
    )
    for (section, name, n, channels), (_, r) in zip(cells, rows):
        if section == "linear":
            print(
                f"{name:7} {n:7d} {channels:3d} {_ms(r['ours'])} {_ms(r['dense'])} "
                f"{r['dense'] / r['ours']:6.1f} {_ms(r['ours_train'])} "
                f"{_ms(r['dense_train'])} {r['dense_train'] / r['ours_train']:6.1f} "
                f"{r['floor']:9.2e} {r['dense_macs']:9.2e}"
            )
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
