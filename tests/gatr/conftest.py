"""Shared setup of the GATr tests: the variants, tolerances and a permutation check with masks."""

from __future__ import annotations

import pytest
import torch

VARIANTS = ("ega", "pga", "ipga", "cga")
TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4}
TRANSLATION = 0.5
"""Standard deviation of the test translations per axis (data of unit scale)."""


@pytest.fixture(params=VARIANTS)
def variant(request) -> str:
    return request.param


@pytest.fixture(params=[torch.float64, torch.float32], ids=["float64", "float32"])
def dtype(request) -> torch.dtype:
    return request.param


@pytest.fixture
def tolerance(dtype) -> float:
    """Largest equivariance error accepted: 1e-9 in float64, 1e-4 in float32."""
    return TOLERANCE[dtype]


@pytest.fixture
def permuted_error():
    """The permutation check below, as a fixture."""
    return _permuted_error


def _permuted_error(fn, mv, s, mask, token_mask, generator: torch.Generator) -> float:
    """``|fn(P x) - P fn(x)|`` for a random permutation ``P`` of the tokens (axis -3 of ``mv``),
    permuting the rows and columns of ``mask`` and the entries of ``token_mask`` too."""
    tokens = mv.shape[-3]
    perm = torch.randperm(tokens, generator=generator)
    take = lambda t, axis: None if t is None else t.index_select(axis, perm)  # noqa: E731
    p_mask = None if mask is None else take(take(mask, -1), -2)
    out = fn(take(mv, -3), take(s, -2), p_mask, take(token_mask, -1))
    ref = fn(mv, s, mask, token_mask)
    errors = [
        (take(r, axis) - o).abs().max().item()
        for r, o, axis in zip(ref, out, (-3, -2))
        if r is not None
    ]
    return max(errors)
