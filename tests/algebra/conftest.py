"""Fixtures of the algebra tests: the algebras under test and a bridge to kingdon (the reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noether.algebra import CGA, EGA, PGA, Algebra, kernels

ALGEBRAS = [EGA, PGA, CGA, Algebra(2, 0, 1), Algebra(1, 3, 0)]


@pytest.fixture(params=ALGEBRAS, ids=str)
def alg(request) -> Algebra:
    return request.param


@pytest.fixture(params=["gather", "rows"])
def schedule(request, monkeypatch) -> str:
    """Run the test with each kernel schedule (few products / many products)."""
    monkeypatch.setattr(kernels, "GATHER_MAX", 10**18 if request.param == "gather" else -1)
    return request.param


class Kingdon:
    """Converts between our tensors ``(batch, dim)`` and kingdon multivectors of the same algebra."""

    def __init__(self, alg: Algebra):
        import kingdon

        self.alg = alg
        self.k = kingdon.Algebra(alg.p, alg.q, alg.r)
        assert list(self.k.signature) == list(alg.metric)

    def to(self, x: torch.Tensor):
        # kingdon's binary keys are our blade bitmasks (bit i <-> basis vector i)
        return self.k.multivector(values=x.T.numpy().copy(), keys=self.alg.tables.masks)

    def back(self, m, batch: int) -> torch.Tensor:
        values = dict(zip(m.keys(), m.values()))
        out = np.zeros((self.alg.dim, batch))
        for index, mask in enumerate(self.alg.tables.masks):
            if mask in values:
                out[index] = values[mask]
        return torch.from_numpy(out.T.copy())


@pytest.fixture
def kd(alg) -> Kingdon:
    return Kingdon(alg)
