"""Equiformer tests use test-sized models: one thread is faster than two for them, and immune to
the scheduling stalls of a loaded machine."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
