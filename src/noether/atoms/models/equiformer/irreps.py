"""Flat irreps features in the ``ir_mul`` layout, and the irreps bookkeeping Equiformer needs.

A feature of irreps ``128x0e+64x1e+32x2e`` is one flat tensor ``(..., 480)``. noether stores each
irrep block as ``(2l+1, mul)`` row-major ("ir_mul"), so a block viewed as ``(..., 2l+1, mul)`` is
ready for a channel-mixing matmul with no transpose. e3nn stores blocks as ``(mul, 2l+1)``
("mul_ir"); :meth:`IrrepsLayout.to_e3nn` and :meth:`IrrepsLayout.from_e3nn` convert (tests and
e3nn's ``assert_equivariant`` use them).

Irreps are always simplified and sorted by ``(l, even before odd)``, as in the paper's code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from e3nn import o3
from torch import Tensor

__all__ = ["Block", "IrrepsLayout", "gate_irreps", "sorted_irreps"]


def sorted_irreps(irreps: str | o3.Irreps) -> o3.Irreps:
    """``irreps`` sorted by ``(l, even first)`` and merged so that each irrep appears once."""
    irreps = o3.Irreps(irreps)
    counts: dict[o3.Irrep, int] = {}
    for mul, ir in irreps:
        if mul > 0:
            counts[ir] = counts.get(ir, 0) + mul
    order = sorted(counts, key=lambda ir: (ir.l, -ir.p))
    return o3.Irreps([(counts[ir], ir) for ir in order])


@dataclass(frozen=True)
class Block:
    """One irrep block: ``mul`` copies of ``ir`` at ``[start, start + mul * ir.dim)``."""

    mul: int
    ir: o3.Irrep
    start: int

    @property
    def dim(self) -> int:
        return self.mul * self.ir.dim

    @property
    def stop(self) -> int:
        return self.start + self.dim


class IrrepsLayout:
    """Offsets of the irrep blocks of a flat ``ir_mul`` feature.

    Args:
        irreps: e3nn irreps (any order; they are sorted and simplified).
    """

    def __init__(self, irreps: str | o3.Irreps):
        self.irreps = sorted_irreps(irreps)
        blocks, start = [], 0
        for mul, ir in self.irreps:
            blocks.append(Block(mul, ir, start))
            start += mul * ir.dim
        self.blocks: list[Block] = blocks
        self.dim = start
        self._index = {b.ir: k for k, b in enumerate(blocks)}
        # e3nn position of each of our entries: mul_ir[..., perm] == ir_mul.
        perm = []
        for b in blocks:
            d = b.ir.dim
            perm.append(b.start + torch.arange(b.mul * d).view(b.mul, d).T.reshape(-1))
        self._to_e3nn = torch.cat(perm) if perm else torch.zeros(0, dtype=torch.long)
        self._from_e3nn = torch.argsort(self._to_e3nn)

    def __repr__(self) -> str:
        return f"IrrepsLayout({self.irreps})"

    def __contains__(self, ir: o3.Irrep) -> bool:
        return ir in self._index

    def block(self, ir: o3.Irrep | str) -> Block:
        return self.blocks[self._index[o3.Irrep(ir)]]

    def split(self, x: Tensor) -> list[Tensor]:
        """Views ``(..., 2l+1, mul)`` of each block of ``x (..., dim)``."""
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"expected features of width {self.dim} ({self.irreps}), got {x.shape}"
            )
        return [x[..., b.start : b.stop].unflatten(-1, (b.ir.dim, b.mul)) for b in self.blocks]

    def join(self, blocks: list[Tensor]) -> Tensor:
        """Inverse of :meth:`split`: ``[(..., 2l+1, mul)] -> (..., dim)``."""
        return torch.cat([x.flatten(-2) for x in blocks], dim=-1)

    def to_e3nn(self, x: Tensor) -> Tensor:
        """``ir_mul -> mul_ir`` (e3nn's layout) along the last axis."""
        return x.index_select(-1, self._from_e3nn.to(x.device))

    def from_e3nn(self, x: Tensor) -> Tensor:
        """``mul_ir`` (e3nn's layout) ``-> ir_mul`` along the last axis."""
        return x.index_select(-1, self._to_e3nn.to(x.device))

    def scalar_dim(self) -> int:
        """Number of ``0e`` channels."""
        return self.block("0e").mul if o3.Irrep("0e") in self else 0


def gate_irreps(irreps: str | o3.Irreps) -> tuple[o3.Irreps, o3.Irreps, o3.Irreps]:
    """``(scalars, gates, gated)`` of a gate whose output is ``irreps``.

    Every ``0e`` is a scalar (SiLU); every other irrep copy (odd scalars included) is gated by
    one extra ``0e`` (sigmoid). The gate's input is ``scalars + gates + gated``.
    """
    irreps = sorted_irreps(irreps)
    scalars = o3.Irreps([(m, ir) for m, ir in irreps if ir == o3.Irrep("0e")])
    gated = o3.Irreps([(m, ir) for m, ir in irreps if ir != o3.Irrep("0e")])
    gates = o3.Irreps(f"{gated.num_irreps}x0e") if gated.num_irreps else o3.Irreps("")
    return scalars, gates, gated
