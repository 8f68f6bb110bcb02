"""Floating-point operations of GATr and Transformer models, counted from the algebra's tables.

The one FLOP formula of noether (the measurement is :func:`noether.core.cost.count_flops`). The
convention is that of :class:`torch.utils.flop_counter.FlopCounterMode` and of the scaling-law
literature: matrix products at ``2 m n k`` (a multiply-add is 2 FLOPs); elementwise work (norms,
gates, softmax, distance features) is not counted. Two kinds:

- ``intrinsic``: what :mod:`noether.algebra.kernels` does, the non-zero entries only: an
  equivariant linear map costs its basis' non-zero entries per channel pair (PGA 24 of 256), a
  bilinear product its table's non-zero entries (PGA: geometric product 192, join 81);
- ``nominal``: the dense convention of the reference GATr's FLOP counter and of "Does
  equivariance matter at scale?" (arXiv 2410.23179): a ``dim x dim`` block per channel pair and
  ``dim**3`` per product.

A training step is counted as autograd runs it: a linear map costs ``2 n i o`` forward and
``4 n i o`` backward (the gradients of its weight and of its input), except the first layer,
whose input needs no gradient (``2 n i o``); a bilinear product costs twice its forward backward
(one pass per factor); attention is its two batched products ``Q K^T`` and ``A V`` forward and
four backward, on the padded per-head width of :func:`~noether.gatr.primitives.attention.
head_width`. Work done once per call whatever the number of tokens (mixing a linear layer's
``n_basis`` weights into its non-zero entries) is not counted: per sample it vanishes as the
batch grows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from noether.algebra import Algebra
from noether.algebra.tables import Table
from noether.gatr.layers.attention import GeometricAttention
from noether.gatr.layers.bilinear import GeometricBilinear
from noether.gatr.layers.linear import EquiLinear
from noether.gatr.nets.transformer import TransformerBlock
from noether.gatr.primitives.attention import head_width
from noether.gatr.primitives.layout import layout

__all__ = [
    "KINDS",
    "Flops",
    "count_attention",
    "count_linear",
    "forward_flops",
    "linear_flops",
    "product_flops",
    "training_flops",
]

KINDS = ("intrinsic", "nominal")


@dataclass
class Flops:
    """FLOPs of one forward and one backward pass, by part (``"linear"``, ``"bilinear"``,
    ``"attention"``)."""

    forward: dict[str, float] = field(default_factory=dict)
    backward: dict[str, float] = field(default_factory=dict)

    def add(self, part: str, forward: float, backward: float) -> None:
        self.forward[part] = self.forward.get(part, 0.0) + forward
        self.backward[part] = self.backward.get(part, 0.0) + backward

    @property
    def total_forward(self) -> float:
        return float(sum(self.forward.values()))

    @property
    def total_backward(self) -> float:
        return float(sum(self.backward.values()))

    @property
    def total(self) -> float:
        """Forward plus backward: the FLOPs of one training step."""
        return self.total_forward + self.total_backward


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


# ----------------------------------------------------------------------------------- per op
def product_flops(table: Table, kind: str = "intrinsic") -> int:
    """Forward FLOPs of one bilinear product: ``2 nnz`` (intrinsic) or ``2 dx dy dout``
    (nominal, the dense Cayley tensor). PGA's geometric product: 384 or 8192."""
    _check(kind)
    dx, dy, dout = table.dims
    return 2 * (table.nnz if kind == "intrinsic" else dx * dy * dout)


def linear_flops(algebra: Algebra, kind: str = "intrinsic") -> int:
    """Forward FLOPs of an equivariant linear map per token and multivector channel pair:
    ``2 nnz`` of the basis (intrinsic; PGA 48) or ``2 dim**2`` (nominal; PGA 512)."""
    _check(kind)
    return 2 * (algebra.linear_basis.plan().nnz if kind == "intrinsic" else algebra.dim**2)


# ------------------------------------------------------------------------------- per layer
def count_linear(
    flops: Flops, rows: int, fan_in: int, fan_out: int, *, input_grad: bool, part: str = "linear"
) -> None:
    """A matrix product ``(rows, fan_in) @ (fan_in, fan_out)`` with a trained weight."""
    f = 2.0 * rows * fan_in * fan_out
    flops.add(part, f, f * (2 if input_grad else 1))


def count_attention(
    flops: Flops, batch_heads: int, tq: int, tk: int, width_qk: int, width_v: int
) -> None:
    """Softmax attention: ``Q K^T`` and ``A V`` forward, their four gradients backward."""
    scores = 2.0 * batch_heads * tq * tk * width_qk
    mix = 2.0 * batch_heads * tq * tk * width_v
    flops.add("attention", scores + mix, 2 * (scores + mix))


def _equi_linear(flops: Flops, layer: EquiLinear, n: int, kind: str, input_grad: bool) -> None:
    per_pair = linear_flops(layer.algebra, kind) // 2
    count_linear(flops, n * per_pair, layer.in_mv, layer.out_mv, input_grad=input_grad)
    for weight in (layer.s_to_mv, layer.mv_to_s, layer.s_to_s):  # (out, in) scalar maps
        if weight is not None:
            count_linear(flops, n, weight.shape[1], weight.shape[0], input_grad=input_grad)


def _bilinear(flops: Flops, layer: GeometricBilinear, n: int, kind: str) -> None:
    lay = layout(layer.variant.algebra)
    f = n * (
        layer.n_gp * product_flops(lay.geometric, kind)
        + layer.n_join * product_flops(lay.join, kind)
    )
    flops.add("bilinear", f, 2 * f)  # backward: one pass per factor


def _attention(flops: Flops, layer: GeometricAttention, batch: int, tokens: int) -> None:
    if layer.cross:
        raise ValueError("training_flops counts self-attention GATr models only")
    alg = layer.variant.algebra
    hm, hs = layer.head_mv, layer.head_s
    distance = layer.log_distance_weights is not None
    m = layout(alg).n_nondegenerate - (1 if distance else 0)
    width_qk = hm * m + (hm * (alg.p + 2) if distance else 0) + hs
    width = head_width(width_qk, hm * alg.dim + hs)
    count_attention(flops, batch * layer.num_heads, tokens, tokens, width, width)


# ------------------------------------------------------------------------------- per model
def training_flops(model: nn.Module, batch: int, tokens: int, kind: str = "intrinsic") -> Flops:
    """FLOPs of one training step (forward and backward) of ``model`` on ``batch`` samples of
    ``tokens`` tokens (padding tokens included: they are computed).

    ``model``: a :class:`~noether.gatr.GATr` (self-attention only), a
    :class:`~noether.gatr.nets.transformer.Transformer`, or any module built of their layers;
    its first layer (``linear_in`` or ``embed``) needs no input gradient.
    """
    _check(kind)
    n = batch * tokens
    first = getattr(model, "linear_in", None) or getattr(model, "embed", None)
    flops = Flops()
    for module in model.modules():
        input_grad = module is not first
        if isinstance(module, EquiLinear):
            _equi_linear(flops, module, n, kind, input_grad)
        elif isinstance(module, GeometricBilinear):
            _bilinear(flops, module, n, kind)
        elif isinstance(module, GeometricAttention):
            _attention(flops, module, batch, tokens)
        elif isinstance(module, TransformerBlock):
            count_attention(
                flops, batch * module.num_heads, tokens, tokens, module.head, module.head
            )
        elif isinstance(module, nn.Linear):
            count_linear(flops, n, module.in_features, module.out_features, input_grad=input_grad)
    return flops


def forward_flops(model: nn.Module, tokens: int, batch: int = 1) -> dict[str, float]:
    """FLOPs of one forward pass: ``{"intrinsic": ..., "nominal": ...}`` (see
    :func:`training_flops`; a training step costs about three forward passes)."""
    return {kind: training_flops(model, batch, tokens, kind).total_forward for kind in KINDS}
