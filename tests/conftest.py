"""Shared test setup: fixed seeds, one torch thread where models are tiny, a float64 fixture, the
`slow` marker (excluded by default), and the simulators' tiny datasets and models (defined once in
tests/sims/sims_testkit.py; session-scoped, so each dataset is built once per run)."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS / "sims"))
sys.path.insert(0, str(TESTS / "atoms"))  # atoms_testkit: molecules for commands and studies

from sims_testkit import (  # noqa: E402, F401
    nbody_dir,
    placed_nbody_dir,
    rigid_data,
    tiny_geometric,
    tiny_raw,
)

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(min(2, torch.get_num_threads()))

ONE_THREAD = ("atoms", "commands", "lattice", "sims", "studies", "train")
"""Folders whose tests run test-sized models: one thread is several times faster than two for
them (no OpenMP hand-offs), and immune to the stalls of a machine whose cores are shared."""


@pytest.fixture(autouse=True)
def _fixed_seeds() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread(request):
    folder = Path(request.node.path).relative_to(TESTS).parts[0]
    if folder not in ONE_THREAD:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def float64():
    """Run the test with float64 as torch's default dtype, for exactness checks."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch.float64
    torch.set_default_dtype(previous)


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """The environment of a `noether` subprocess: this tree's src first, one thread, no display,
    no run folder inherited from the test process."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    env.pop("NOETHER_RUN_DIR", None)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env
