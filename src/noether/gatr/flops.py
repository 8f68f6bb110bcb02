"""Floating-point operations of a forward pass: intrinsic (what the sparse kernels do) and
nominal (GATr's dense convention), for compute budgets and the benchmarks' FLOP floor.

Counted: the multiply-adds of the linear maps, products, and attention (2 FLOPs each);
elementwise work (norms, gates, softmax) is left out, as in GATr's ``nominal_flops_per_token``.
A training step costs about three forward passes (forward, and a backward of twice the work).

- intrinsic: an equivariant linear map costs its basis' non-zero entries per channel pair
  (PGA 24), a product its table's non-zero entries (PGA: geometric product 192, join 81);
- nominal: dense ``dim x dim`` blocks per channel pair and ``dim**3`` per product, the
  convention of GATr's FLOP counter and of the scaling-law paper (arXiv 2410.23179).
"""

from __future__ import annotations

from torch import nn

from noether.gatr.layers.attention import GeometricAttention
from noether.gatr.layers.bilinear import GeometricBilinear
from noether.gatr.layers.linear import EquiLinear
from noether.gatr.nets.transformer import TransformerBlock
from noether.gatr.primitives.layout import layout
from noether.gatr.primitives.linear import linear_plan

__all__ = ["forward_flops"]


def _linear(m: EquiLinear, nominal: bool) -> int:
    dim = m.algebra.dim
    per_pair = dim * dim if nominal else linear_plan(m.algebra).nnz
    macs = per_pair * m.in_mv * m.out_mv + m.in_s * m.out_mv + m.in_mv * m.out_s + m.in_s * m.out_s
    return 2 * macs


def _bilinear(m: GeometricBilinear, nominal: bool) -> int:
    lay = layout(m.variant.algebra)
    if nominal:
        return 2 * lay.dim**3 * (m.n_gp + m.n_join)
    return 2 * (len(lay.geometric.entries) * m.n_gp + len(lay.join.entries) * m.n_join)


def _attention(m: GeometricAttention, tq: int, tk: int) -> int:
    dim = m.variant.algebra.dim
    ip = layout(m.variant.algebra).n_nondegenerate - (1 if m.variant.distance else 0)
    width_qk = m.head_mv * (ip + (5 if m.variant.distance else 0)) + m.head_s
    width_v = m.head_mv * dim + m.head_s
    return 2 * m.num_heads * tq * tk * (width_qk + width_v)


def forward_flops(model: nn.Module, tokens: int, batch: int = 1) -> dict[str, int]:
    """FLOPs of one forward pass of ``model`` (a GATr, PointGATr, block, or Transformer) on
    ``batch`` samples of ``tokens`` tokens: ``{"intrinsic": ..., "nominal": ...}``."""
    out = {"intrinsic": 0, "nominal": 0}
    n = batch * tokens
    for module in model.modules():
        for kind in out:
            nominal = kind == "nominal"
            if isinstance(module, EquiLinear):
                out[kind] += n * _linear(module, nominal)
            elif isinstance(module, GeometricBilinear):
                out[kind] += n * _bilinear(module, nominal)
            elif isinstance(module, GeometricAttention):
                out[kind] += batch * _attention(module, tokens, tokens)
            elif isinstance(module, nn.Linear):
                out[kind] += 2 * n * module.in_features * module.out_features
            elif isinstance(module, TransformerBlock):
                width = 2 * module.head  # q.k and attention-weighted v, per head
                out[kind] += batch * 2 * module.num_heads * tokens * tokens * width
    return out
