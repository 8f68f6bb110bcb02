"""The benchmark's straightforward e3nn block computes the same function as noether's block, so the
speed ratio that benchmarks/bench_equiformer.py prints compares like with like."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).parents[4] / "benchmarks" / "bench_equiformer.py"


def test_e3nn_reference_block_matches():
    spec = importlib.util.spec_from_file_location("bench_equiformer", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.check_same(bench.QUICK) < 1e-10
