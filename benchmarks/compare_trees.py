"""One algebra product timed in two (or more) source trees, side by side, on CPU time.

Each tree runs in its own long-lived worker process (imported once, one thread); a coordinator
asks them in turn, rotating and reversing the order every round, so a change of load falls on
every tree alike. Reported per cell: the median of the per-round medians, the best single call,
the ratio to the first tree and the load average. Used for "speed must not regress" checks of a
change against the tree before it::

    git worktree add /tmp/old <commit>
    python benchmarks/compare_trees.py old=/tmp/old/src new=src --algebra cga --sizes 1000,10000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKER = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
import noether.algebra as A
alg = getattr(A, sys.argv[1].upper())
sizes = [int(v) for v in sys.argv[2].split(",")]
g = torch.Generator().manual_seed(0)
data = {}
for n in sizes:
    x, y, go = (torch.randn(n, alg.dim, generator=g) for _ in range(3))
    data[n] = (x, y, x.clone().requires_grad_(), y.clone().requires_grad_(), go)
def fwd(n):
    x, y, *_ = data[n]
    with torch.no_grad():
        alg.geometric_product(x, y)
def train(n):
    _, _, xr, yr, go = data[n]
    xr.grad = yr.grad = None
    alg.geometric_product(xr, yr).backward(go)
def timed(fn, n):
    fn(n); fn(n)
    reps = max(3, min(100, 100_000 // n))
    out = []
    for _ in range(reps):
        t0 = time.process_time_ns(); fn(n); out.append((time.process_time_ns() - t0) / 1e6)
    return out
print("ready", flush=True)
for _ in sys.stdin:
    print(json.dumps({f"{n}/{k}": timed(f, n) for n in sizes for k, f in (("fwd", fwd), ("train", train))}), flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", help="NAME=SRC_FOLDER, the first is the reference")
    parser.add_argument("--algebra", default="cga", help="ega, pga or cga (default: cga)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="products per call")
    parser.add_argument("--rounds", type=int, default=12, help="alternating rounds (default: 12)")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.trees)
    workers = {
        name: subprocess.Popen(
            [sys.executable, "-c", WORKER, args.algebra, args.sizes],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.path.abspath(src), "OMP_NUM_THREADS": "1"},
        )
        for name, src in trees.items()
    }
    for worker in workers.values():
        assert worker.stdout.readline().strip() == "ready"
    names, medians, best, loads = list(trees), {}, {}, []
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order[::-1] if r % 2 else order:
            loads.append(float(open("/proc/loadavg").read().split()[0]))
            workers[name].stdin.write("go\n")
            workers[name].stdin.flush()
            for cell, times in json.loads(workers[name].stdout.readline()).items():
                medians.setdefault(cell, {}).setdefault(name, []).append(statistics.median(times))
                best[cell, name] = min(best.get((cell, name), float("inf")), min(times))
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
    for worker in workers.values():
        worker.stdin.close()
        worker.wait()
    ref = names[0]
    print(
        f"{args.algebra.upper()} geometric product, ms of CPU time, {args.rounds} rounds, "
        f"load average {min(loads):.1f} to {max(loads):.1f}"
    )
    print(
        f"{'cell':14s}"
        + "".join(f"{n + ' median':>14s}{n + ' best':>12s}" for n in names)
        + "".join(f"{n + '/' + ref:>12s}" for n in names[1:])
    )
    for cell, by_tree in medians.items():
        line = f"{cell:14s}" + "".join(
            f"{statistics.median(by_tree[n]):14.3f}{best[cell, n]:12.3f}" for n in names
        )
        line += "".join(
            f"{statistics.median(by_tree[n]) / statistics.median(by_tree[ref]):12.2f}"
            for n in names[1:]
        )
        print(line)


if __name__ == "__main__":
    main()
