"""Shared test setup: fixed seeds, one torch thread where models are tiny, a float64 fixture, and
the `slow` marker (excluded by default)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(min(2, torch.get_num_threads()))

TESTS = Path(__file__).parent
ONE_THREAD = ("atoms", "lattice", "sims", "studies", "train")
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
