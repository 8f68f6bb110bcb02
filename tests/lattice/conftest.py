"""Lattice tests run many tiny tensor operations: one thread is faster than two (no OpenMP
hand-offs), and much faster when other processes share the cores."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
