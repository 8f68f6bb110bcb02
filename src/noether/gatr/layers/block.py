"""The GATr block: pre-norm residual attention, optional cross-attention, and geometric MLP."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint as _checkpoint

from noether.gatr.layers.attention import GeometricAttention
from noether.gatr.layers.mlp import GeoMLP
from noether.gatr.layers.norm import EquiLayerNorm
from noether.gatr.primitives.dropout import grade_dropout
from noether.gatr.variants import Variant

__all__ = ["CHECKPOINT_PARTS", "GATrBlock"]

CHECKPOINT_PARTS = ("attention", "mlp")


class GATrBlock(nn.Module):
    """``x + Attn(Norm(x))``, then ``x + CrossAttn(Norm(x), context)`` when ``context_mv`` is
    set, then ``x + MLP(Norm(x))``, on multivectors and scalars together.

    Args:
        variant: algebra and switches.
        mv_channels, s_channels: residual stream widths.
        num_heads, head_mv, head_s, multi_query: attention shape (see :class:`GeometricAttention`).
        mlp_factor: hidden width of the MLP as a multiple of the stream (2 in GATr).
        dropout: probability of grade dropout on the multivector and of dropout on the scalar
            outputs of each sub-layer, in training.
        checkpoint: sub-layers (``"attention"``, ``"mlp"``) whose activations are recomputed in
            the backward pass instead of stored.
        context_mv, context_s: channels of the context tokens for cross-attention.

    Forward in the internal layout: ``x: (dim, B * T, mv_channels)``, ``s: (B * T, s_channels)``,
    ``batch = B``, an SDPA ``mask`` (``cross_mask`` for the cross-attention),
    ``pseudoscalar: (B * T, 1)`` for variants with a join.
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
        mlp_factor: int = 2,
        dropout: float = 0.0,
        checkpoint: tuple[str, ...] = (),
        context_mv: int | None = None,
        context_s: int = 0,
        norm_eps: float = 0.01,
        distance_eps: float = 1e-3,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"GATrBlock: dropout must be in [0, 1), got {dropout}")
        unknown = set(checkpoint) - set(CHECKPOINT_PARTS)
        if unknown:
            raise ValueError(
                f"GATrBlock: unknown checkpoint part(s) {sorted(unknown)}; accepted: {CHECKPOINT_PARTS}"
            )
        self.variant, self.dropout, self.checkpoint = variant, dropout, tuple(checkpoint)
        self.norm = EquiLayerNorm(variant.algebra, norm_eps)
        heads = (num_heads, head_mv, head_s)
        self.attention = GeometricAttention(
            variant, mv_channels, s_channels, *heads, multi_query=multi_query, eps=distance_eps
        )
        self.cross_attention = (
            GeometricAttention(
                variant,
                mv_channels,
                s_channels,
                *heads,
                multi_query=multi_query,
                context_mv=context_mv,
                context_s=context_s,
                eps=distance_eps,
            )
            if context_mv is not None
            else None
        )
        self.mlp = GeoMLP(
            variant, mv_channels, s_channels, mlp_factor * mv_channels, mlp_factor * s_channels
        )

    def _residual(self, x, s, fn: Callable, part: str, *args):
        def sub(x, s, *args):
            h, hs = self.norm(x, s)
            return fn(h, hs, *args)

        if part in self.checkpoint and self.training:
            dx, ds = _checkpoint(sub, x, s, *args, use_reentrant=False)
        else:
            dx, ds = sub(x, s, *args)
        if self.dropout:
            dx = grade_dropout(self.variant.algebra, dx, self.dropout, self.training)
            ds = F.dropout(ds, self.dropout, self.training) if ds is not None else None
        return x + dx, (s + ds if s is not None else None)

    def forward(
        self,
        x: Tensor,
        s: Tensor | None,
        *,
        batch: int,
        mask: Tensor | None = None,
        pseudoscalar: Tensor | None = None,
        context: tuple[Tensor, Tensor | None] | None = None,
        cross_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        x, s = self._residual(
            x, s, lambda h, hs: self.attention(h, hs, batch=batch, mask=mask), "attention"
        )
        if self.cross_attention is not None:
            x, s = self._residual(
                x,
                s,
                lambda h, hs: self.cross_attention(
                    h, hs, batch=batch, mask=cross_mask, context=context
                ),
                "attention",
            )
        return self._residual(x, s, self.mlp, "mlp", pseudoscalar)
