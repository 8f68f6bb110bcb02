"""Training FLOPs of :class:`noether.gatr.GATr`, dense (nominal) and structured.

Counted layer by layer from the network's modules (the architecture, not a run):

- :class:`~noether.gatr.layers.linear.EquiLinear` on ``n`` tokens, ``i -> o`` multivector
  channels: ``dense`` counts one ``dim x dim`` block per channel pair, ``2 n i o dim^2`` forward
  (the reference GATr's ``nominal_flops_per_token``); ``structured`` counts what
  :func:`noether.gatr.primitives.linear.equivariant_linear` runs: ``2 n i o nnz`` (PGA: nnz = 24,
  the diagonal and the ``e0`` maps). The scalar channels are ordinary linear maps in both.
- geometric products and joins of :class:`~noether.gatr.layers.bilinear.GeometricBilinear`:
  ``dense``, the contraction with the ``dim^3`` Cayley tensor along the path of an ``einsum``
  (``x`` with the tensor, then with ``y``: ``2 (dim^3 + dim^2)`` per product forward, ``2 dim^3 +
  4 dim^2`` backward; "4096 + 256 multiply-adds" in PGA); ``structured``, ``2 nnz`` per product
  (the table's non-zero entries: PGA 192 for the product, 81 for the join) and twice that
  backward (one pass per factor).
- attention: one SDPA over the packed per-head features (invariant inner-product components,
  distance features in iPGA, scalars) padded to a common width; the same in both counts.

Elementwise work (norms, gates, distance features) is not counted, as in ``FlopCounterMode``.
Nor is the work done once per call whatever the number of tokens (mixing the ``n_basis`` weights of
a linear layer into its non-zero entries, ``2 (nnz) n_basis i o``): per training sample it
vanishes as the batch grows, so the tests compare the counts per sample, as the difference of two
batch sizes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from noether.studies.scaling.flops import Flops, count_attention, count_linear

__all__ = ["MODES", "dense_reference", "gatr_flops"]

MODES = ("dense", "structured")


def _equi_linear(flops: Flops, layer, n: int, mode: str, *, input_grad: bool) -> None:
    from noether.gatr.primitives.linear import linear_plan

    alg = layer.algebra
    i, o = layer.in_mv, layer.out_mv
    if mode == "dense":
        count_linear(flops, n, i * alg.dim, o * alg.dim, input_grad=input_grad)
    else:
        plan = linear_plan(alg)
        count_linear(flops, n * (alg.dim + len(plan.off_pairs)), i, o, input_grad=input_grad)
    # scalar channels: s -> mv scalar blade, mv scalar blade -> s, s -> s
    if layer.s_to_mv is not None:
        count_linear(flops, n, layer.in_s, o, input_grad=input_grad)
    if layer.mv_to_s is not None:
        count_linear(flops, n, i, layer.out_s, input_grad=input_grad)
    if layer.s_to_s is not None:
        count_linear(flops, n, layer.in_s, layer.out_s, input_grad=input_grad)


def _bilinear(flops: Flops, layer, n: int, mode: str) -> None:
    from noether.gatr.primitives.layout import layout

    lay = layout(layer.variant.algebra)
    products = n * (layer.n_gp + layer.n_join)
    if mode == "dense":  # x with the Cayley tensor (d^3), then with y (d^2); see dense_reference
        d = lay.dim
        flops.add("bilinear", 2.0 * products * (d**3 + d**2), 2.0 * products * (d**3 + 2 * d**2))
        return
    nnz = n * (layer.n_gp * len(lay.geometric.entries) + layer.n_join * len(lay.join.entries))
    flops.add("bilinear", 2.0 * nnz, 4.0 * nnz)  # backward: one pass per factor


def _attention(flops: Flops, layer, batch: int, tokens: int) -> None:
    from noether.gatr.primitives.attention import head_width
    from noether.gatr.primitives.layout import layout

    alg = layer.variant.algebra
    lay = layout(alg)
    hm, hs = layer.head_mv, layer.head_s
    distance = layer.log_distance_weights is not None
    m = lay.n_nondegenerate - (1 if distance else 0)
    width_qk = hm * m + (hm * (alg.p + 2) if distance else 0) + hs
    width = head_width(width_qk, hm * alg.dim + hs)
    count_attention(flops, batch * layer.num_heads, tokens, tokens, width, width)


def gatr_flops(model: nn.Module, batch: int, tokens: int, *, mode: str = "structured") -> Flops:
    """FLOPs of one forward and backward pass of a :class:`noether.gatr.GATr` (self-attention
    only) on ``batch`` samples of ``tokens`` tokens. ``mode``: ``"dense"`` or ``"structured"``."""
    from noether.gatr.layers.attention import GeometricAttention
    from noether.gatr.layers.bilinear import GeometricBilinear
    from noether.gatr.layers.linear import EquiLinear

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    n = batch * tokens
    flops = Flops()
    for module in model.modules():
        if isinstance(module, EquiLinear):
            _equi_linear(flops, module, n, mode, input_grad=module is not model.linear_in)
        elif isinstance(module, GeometricBilinear):
            _bilinear(flops, module, n, mode)
        elif isinstance(module, GeometricAttention):
            if module.cross:
                raise ValueError("gatr_flops counts self-attention GATr models only")
            _attention(flops, module, batch, tokens)
    return flops


# ------------------------------------------------------------- the dense reference, for checks
def _dense_linear(algebra, x: Tensor, weight: Tensor) -> Tensor:
    """:func:`~noether.gatr.primitives.linear.equivariant_linear` as one dense GEMM over
    ``dim x dim`` blocks (the reference GATr's evaluation); the block matrix is assembled with
    elementwise operations, so only the per-token product is a matrix product."""
    from noether.gatr.primitives.layout import layout

    lay = layout(algebra)
    order = lay.indices("order", x.device)
    basis = algebra.equivariant_linear_basis(device=x.device, dtype=x.dtype)
    basis = basis.index_select(1, order).index_select(2, order)  # internal component order
    blocks = (weight[:, :, :, None, None] * basis).sum(2)  # (out, in, dim_k, dim_j)
    dim, n, c_in = x.shape
    matrix = blocks.permute(3, 1, 2, 0).reshape(dim * c_in, dim * weight.shape[0])
    y = x.permute(1, 0, 2).reshape(n, dim * c_in) @ matrix
    return y.view(n, dim, weight.shape[0]).permute(1, 0, 2).contiguous()


def _dense_bilinear(table, x: Tensor, y: Tensor) -> Tensor:
    """``out[k] = sum c x[i] y[j]`` with the dense Cayley tensor: ``x`` first, then ``y``."""
    d = table.dims[2]
    cayley = torch.zeros(d, d * d, dtype=x.dtype, device=x.device)
    for i, j, k, c in table.entries:
        cayley[i, j * d + k] = c
    dim, n, c_ = x.shape
    xs = x.permute(1, 2, 0).reshape(n * c_, dim)
    ys = y.permute(1, 2, 0).reshape(n * c_, 1, dim)
    u = (xs @ cayley).view(n * c_, d, d)  # (rows, j, k)
    out = torch.bmm(ys, u).view(n, c_, d)
    return out.permute(2, 0, 1).contiguous()


@contextmanager
def dense_reference() -> Iterator[None]:
    """Within this context GATr computes its equivariant linear maps and bilinear products the
    dense way (same results up to rounding), so that ``FlopCounterMode`` sees the ``dense`` count
    of :func:`gatr_flops`. For tests and benchmarks; it patches the names used by the layers."""
    from noether.gatr.primitives.layout import layout

    def geometric_bilinear(algebra, z, pseudoscalar, n_gp, n_join=0):
        lay = layout(algebra)
        xl, xr, jl, jr = z.split([n_gp, n_gp, n_join, n_join], -1)
        y = _dense_bilinear(lay.geometric, xl, xr)
        if n_join:
            y = torch.cat([y, _dense_bilinear(lay.join, jl * pseudoscalar, jr)], -1)
        return y

    def equi_linear(
        algebra, x, s, weight, bias=None, s_to_mv=None, mv_to_s=None, s_to_s=None, bias_s=None
    ):
        y = _dense_linear(algebra, x, weight)
        scalar = F.linear(s, s_to_mv, bias) if s_to_mv is not None else bias
        if scalar is not None:
            y = torch.cat([(y[0] + scalar)[None], y[1:]])
        s_out = None
        if mv_to_s is not None:
            s_out = F.linear(x[0], mv_to_s, bias_s)
            if s_to_s is not None:
                s_out = s_out + F.linear(s, s_to_s)
        return y, s_out

    with (
        mock.patch("noether.gatr.layers.linear.equi_linear", equi_linear),
        mock.patch("noether.gatr.layers.bilinear.geometric_bilinear", geometric_bilinear),
    ):
        yield
