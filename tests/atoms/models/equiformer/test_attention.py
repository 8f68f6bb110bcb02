"""The attention's segment softmax."""

from __future__ import annotations

import torch

from noether.atoms.models.equiformer import (
    segment_softmax,
)


def test_segment_softmax(float64):
    logits = torch.randn(7, 2)
    index = torch.tensor([0, 0, 1, 1, 1, 3, 3])
    weight = torch.rand(7)
    p = segment_softmax(logits, index, 4, weight)
    for seg in (0, 1, 3):
        rows = index == seg
        want = weight[rows, None] * logits[rows].exp()
        assert torch.allclose(p[rows], want / want.sum(0))
    # huge logits do not overflow (the maximum is subtracted)
    assert torch.isfinite(segment_softmax(logits * 1e4, index, 4)).all()
