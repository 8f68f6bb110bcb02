"""Geometric self- and cross-attention: equivariant projections around one fused SDPA call."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from noether.gatr.layers.linear import EquiLinear
from noether.gatr.primitives.attention import AttentionShape, geometric_attention
from noether.gatr.primitives.layout import layout
from noether.gatr.variants import Variant

__all__ = ["GeometricAttention"]


class GeometricAttention(nn.Module):
    """Multi-head attention over multivector and scalar channels, equivariant and permutation-
    equivariant; self-attention, or cross-attention when ``context_mv`` is given.

    Queries, keys and values are :class:`EquiLinear` maps of the inputs (one map for all three
    in self-attention) with ``head_mv`` multivector and ``head_s`` scalar channels per head;
    scores are the invariant features of
    :func:`~noether.gatr.primitives.attention.geometric_attention`; an output
    :class:`EquiLinear` maps the heads back to ``mv_channels``, ``s_channels``.

    Args:
        variant: algebra and switches (distance features in improved PGA).
        multi_query: one key/value head shared by all query heads.
        context_mv, context_s: channels of the context tokens (cross-attention).
        eps: softening of the point normaliser of the distance features.

    Forward, in the internal layout: ``x: (dim, B * Tq, mv_channels)``, ``s: (B * Tq,
    s_channels)``, ``batch = B``, ``mask`` as returned by
    :func:`~noether.gatr.primitives.masks.attention_mask`, and for cross-attention
    ``context = (x_c (dim, B * Tk, context_mv), s_c (B * Tk, context_s))``.
    """

    def __init__(
        self,
        variant: Variant,
        mv_channels: int,
        s_channels: int,
        num_heads: int,
        head_mv: int,
        head_s: int,
        *,
        multi_query: bool = False,
        context_mv: int | None = None,
        context_s: int = 0,
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("num_heads", num_heads, 1),
            ("head_mv", head_mv, 1),
            ("head_s", head_s, 0),
        ):
            if not isinstance(value, int) or value < low:
                raise ValueError(
                    f"GeometricAttention: {name} must be an int >= {low}, got {value!r}"
                )
        if head_s and not s_channels:
            raise ValueError(
                "GeometricAttention: head_s > 0 needs scalar channels (s_channels > 0)"
            )
        algebra = variant.algebra
        self.variant, self.num_heads, self.head_mv, self.head_s = (
            variant,
            num_heads,
            head_mv,
            head_s,
        )
        self.kv_heads = 1 if multi_query else num_heads
        self.eps = eps
        hq_mv, hq_s = num_heads * head_mv, num_heads * head_s
        hk_mv, hk_s = self.kv_heads * head_mv, self.kv_heads * head_s
        self.cross = context_mv is not None
        if self.cross:
            self.q = EquiLinear(algebra, mv_channels, hq_mv, s_channels, hq_s)
            self.kv = EquiLinear(algebra, context_mv, 2 * hk_mv, context_s, 2 * hk_s)
        else:
            self.qkv = EquiLinear(
                algebra, mv_channels, hq_mv + 2 * hk_mv, s_channels, hq_s + 2 * hk_s
            )
        self.out = EquiLinear(algebra, hq_mv, mv_channels, hq_s, s_channels)
        self.log_distance_weights = nn.Parameter(torch.zeros(hq_mv)) if variant.distance else None

    def _shape(self, batch: int, tq: int, tk: int) -> AttentionShape:
        hq_mv, hq_s = self.num_heads * self.head_mv, self.num_heads * self.head_s
        hk_mv, hk_s = self.kv_heads * self.head_mv, self.kv_heads * self.head_s
        if self.cross:  # queries alone; keys then values in the context projection
            offsets = (0, 0, hk_mv, 0, 0, hk_s)
        else:  # queries, keys, values in one projection
            offsets = (0, hq_mv, hq_mv + hk_mv, 0, hq_s, hq_s + hk_s)
        lay = layout(self.variant.algebra)
        return AttentionShape(
            batch,
            self.num_heads,
            self.kv_heads,
            self.head_mv,
            self.head_s,
            tq,
            tk,
            *offsets,
            ip=lay.n_nondegenerate - (1 if self.variant.distance else 0),
            distance=self.variant.distance,
            eps=self.eps,
        )

    def forward(
        self,
        x: Tensor,
        s: Tensor | None,
        *,
        batch: int,
        mask: Tensor | None = None,
        context: tuple[Tensor, Tensor | None] | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        weights = self.log_distance_weights.exp() if self.log_distance_weights is not None else None
        tq = x.shape[1] // batch
        if self.cross:
            if context is None:
                raise ValueError("cross-attention needs a context (x_c, s_c)")
            q_mv, q_s = self.q(x, s)
            kv_mv, kv_s = self.kv(*context)
            shape = self._shape(batch, tq, kv_mv.shape[1] // batch)
        else:
            q_mv, q_s = self.qkv(x, s)
            kv_mv = kv_s = None
            shape = self._shape(batch, tq, tq)
        out_mv, out_s = geometric_attention(
            self.variant.algebra,
            q_mv,
            q_s if self.head_s else None,
            shape,
            kv_mv=kv_mv,
            kv_s=kv_s if self.head_s else None,
            mask=mask,
            distance_weights=weights,
        )
        return self.out(out_mv, out_s)
