"""The Geometric Algebra Transformer over any geometric algebra."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint as _checkpoint

from noether.algebra import Algebra
from noether.core.config import config_repr, make_config
from noether.core.registry import register_model
from noether.gatr.layers.block import CHECKPOINT_PARTS, GATrBlock
from noether.gatr.layers.linear import EquiLinear
from noether.gatr.layers.norm import EquiLayerNorm
from noether.gatr.nets.config import GATrConfig
from noether.gatr.primitives.layout import from_internal, to_internal
from noether.gatr.primitives.masks import attention_mask, check_token_mask, zero_padding
from noether.gatr.variants import resolve_variant

__all__ = ["GATr"]


def _checkpoint_parts(checkpoint: bool | str | Sequence[str]) -> tuple[bool, tuple[str, ...]]:
    """``(whole blocks?, sub-layers)`` from ``checkpoint``."""
    if checkpoint is False or checkpoint is None:
        return False, ()
    if checkpoint is True or checkpoint == "block":
        return True, ()
    parts = (checkpoint,) if isinstance(checkpoint, str) else tuple(checkpoint)
    accepted = ("block", *CHECKPOINT_PARTS)
    if any(p not in accepted for p in parts):
        raise ValueError(
            f"checkpoint must be True, False or a subset of {accepted}, got {checkpoint!r}"
        )
    return "block" in parts, tuple(p for p in parts if p != "block")


@register_model("gatr")
class GATr(nn.Module):
    """Geometric Algebra Transformer (Brehmer et al. 2023; de Haan et al. 2023) over any algebra.

    ``EquiLinear`` in, ``num_blocks`` :class:`~noether.gatr.layers.GATrBlock` (pre-norm
    attention and geometric MLP, multivectors and auxiliary scalars together), ``EquiLinear``
    out. Equivariant under the algebra's Pin group (E(3) for ``"pga"``/``"ipga"``, O(3) for
    ``"ega"``, Pin(4,1) for ``"cga"``) and under permutations of the tokens.

    Options (:class:`~noether.gatr.nets.config.GATrConfig`, or its fields as keywords):
        algebra: a variant name (``"ega"``, ``"pga"``, ``"ipga"``, ``"cga"``), an
            :class:`~noether.algebra.Algebra` or a :class:`~noether.gatr.variants.Variant`.
        in_mv_channels, out_mv_channels, hidden_mv_channels: multivector channels.
        in_s_channels, out_s_channels, hidden_s_channels: auxiliary scalar channels (0: none).
        num_blocks: number of blocks.
        num_heads: attention heads.
        head_mv_channels: multivector channels per head (default ``hidden_mv // num_heads``,
            at least 1).
        head_s_channels: scalar channels per head (default ``max(hidden_s // num_heads, 4)``,
            0 without hidden scalars).
        multi_query: share one key/value head between the query heads.
        mlp_factor: hidden width of the MLPs over the stream width.
        dropout: grade dropout / dropout probability on each sub-layer's output, in training.
        checkpoint: recompute activations in the backward pass: ``True`` or ``"block"`` per
            block, or a subset of ``("attention", "mlp")`` per sub-layer.
        context_mv_channels: multivector channels of a context for cross-attention (``None``: no
            cross-attention). Each block then attends, after its self-attention, from its tokens
            to the context tokens (queries from the tokens, keys and values from the context).
        context_s_channels: auxiliary scalar channels of the context.
        check_finite: reject inputs that contain NaN or infinity at real tokens (costs one
            reduction).
        norm_eps: floor of the squared norm in the equivariant layer norm.
        distance_eps: softening of the point normaliser in the distance features (iPGA).

    Forward: ``mv: (..., tokens, in_mv_channels, alg.dim)``, ``s: (..., tokens, in_s_channels)``
    (required when ``in_s_channels > 0``), ``mask`` (boolean, True: may attend; or additive)
    broadcastable to ``(..., num_heads, tokens, tokens)``, ``token_mask: (..., tokens)`` boolean
    for padded batches of different lengths (True: a real token; padded tokens may hold
    anything, NaN and infinity included, and change neither the real tokens' outputs nor any
    gradient), ``reference``: a multivector ``(..., alg.dim)`` for the equivariant join
    (default: the mean of the input multivectors over the real tokens and channels of each
    sample). With cross-attention: ``context_mv: (...,
    context_tokens, context_mv_channels, alg.dim)``, ``context_s: (..., context_tokens,
    context_s_channels)``, ``context_mask`` broadcastable to ``(..., num_heads, tokens,
    context_tokens)`` and ``context_token_mask: (..., context_tokens)``. Returns ``(mv (...,
    tokens, out_mv, dim), s (..., tokens, out_s) or None)``; outputs at padded tokens are zero.
    """

    def __init__(self, config: GATrConfig | None = None, /, **options: Any) -> None:
        super().__init__()
        self.config = c = make_config(GATrConfig, config, options)
        self.variant = resolve_variant(c.algebra)
        alg = self.variant.algebra
        in_mv_channels, out_mv_channels = c.in_mv_channels, c.out_mv_channels
        in_s_channels, out_s_channels = c.in_s_channels, c.out_s_channels
        hidden_mv_channels, hidden_s_channels = c.hidden_mv_channels, c.hidden_s_channels
        num_blocks, num_heads, mlp_factor = c.num_blocks, c.num_heads, c.mlp_factor
        context_mv_channels, context_s_channels = c.context_mv_channels, c.context_s_channels
        for name, value, low in (
            ("in_mv_channels", in_mv_channels, 1),
            ("out_mv_channels", out_mv_channels, 1),
            ("hidden_mv_channels", hidden_mv_channels, 1),
            ("in_s_channels", in_s_channels, 0),
            ("out_s_channels", out_s_channels, 0),
            ("hidden_s_channels", hidden_s_channels, 0),
            ("num_blocks", num_blocks, 1),
            ("num_heads", num_heads, 1),
            ("mlp_factor", mlp_factor, 1),
            ("context_s_channels", context_s_channels, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"GATr: {name} must be an int >= {low}, got {value!r}")
        if context_mv_channels is not None and (
            not isinstance(context_mv_channels, int) or context_mv_channels < 1
        ):
            raise ValueError(
                f"GATr: context_mv_channels must be None or an int >= 1, got {context_mv_channels!r}"
            )
        if context_s_channels and context_mv_channels is None:
            raise ValueError("GATr: context_s_channels needs context_mv_channels (cross-attention)")
        self.context_mv, self.context_s = context_mv_channels, context_s_channels
        attention, mlp = c.attention, c.mlp
        self.in_mv, self.out_mv, self.in_s, self.out_s = (
            in_mv_channels,
            out_mv_channels,
            in_s_channels,
            out_s_channels,
        )
        self.hidden_mv, self.hidden_s = hidden_mv_channels, hidden_s_channels
        self.num_heads, self.check_finite = num_heads, c.check_finite
        self.checkpoint_blocks, parts = _checkpoint_parts(c.checkpoint)
        self.linear_in = EquiLinear(
            alg, in_mv_channels, hidden_mv_channels, in_s_channels, hidden_s_channels
        )
        self.blocks = nn.ModuleList(
            GATrBlock(
                self.variant,
                hidden_mv_channels,
                hidden_s_channels,
                attention.num_heads,
                attention.head_mv_channels,
                attention.head_s_channels,
                multi_query=attention.multi_query,
                mlp_factor=mlp.mlp_factor,
                dropout=mlp.dropout,
                checkpoint=parts,
                context_mv=context_mv_channels,
                context_s=context_s_channels,
                norm_eps=c.norm_eps,
                distance_eps=attention.distance_eps,
            )
            for _ in range(num_blocks)
        )
        # the context enters every block's keys and values: normalised once, as the blocks
        # normalise their own stream before attending
        self.context_norm = (
            EquiLayerNorm(alg, c.norm_eps) if context_mv_channels is not None else None
        )
        self.linear_out = EquiLinear(
            alg, hidden_mv_channels, out_mv_channels, hidden_s_channels, out_s_channels
        )

    @property
    def algebra(self) -> Algebra:
        return self.variant.algebra

    def _check(self, mv: Tensor, s: Tensor | None) -> tuple[tuple[int, ...], int]:
        dim = self.algebra.dim
        if not isinstance(mv, Tensor) or not mv.is_floating_point():
            kind = mv.dtype if isinstance(mv, Tensor) else type(mv).__name__
            raise ValueError(f"GATr: mv must be a floating tensor, got {kind}")
        if mv.ndim < 3 or mv.shape[-1] != dim or mv.shape[-2] != self.in_mv:
            raise ValueError(
                f"GATr ({self.variant.name}, {self.algebra}): mv must have shape (..., tokens, "
                f"{self.in_mv}, {dim}) = (..., tokens, in_mv_channels, alg.dim), got "
                f"{tuple(mv.shape)}"
            )
        batch_shape, tokens = tuple(mv.shape[:-3]), mv.shape[-3]
        if tokens == 0:
            raise ValueError(f"GATr: mv has no tokens, shape {tuple(mv.shape)}")
        param = self.linear_in.weight
        if mv.dtype != param.dtype or mv.device != param.device:
            raise ValueError(
                f"GATr: mv is {mv.dtype} on {mv.device} but the parameters are {param.dtype} on "
                f"{param.device}; convert one of them (model.to(...))"
            )
        if self.in_s:
            if s is None:
                raise ValueError(f"GATr: s of shape (..., tokens, {self.in_s}) is required")
            if tuple(s.shape) != (*batch_shape, tokens, self.in_s) or s.dtype != mv.dtype:
                raise ValueError(
                    f"GATr: s must be {mv.dtype} of shape (..., tokens, in_s_channels) = "
                    f"{(*batch_shape, tokens, self.in_s)}, got {s.dtype} {tuple(s.shape)}"
                )
        elif s is not None:
            raise ValueError(f"GATr: got scalars of shape {tuple(s.shape)} but in_s_channels is 0")
        return batch_shape, tokens

    def _check_finite(self, **tensors: Tensor | None) -> None:
        """With ``check_finite``: reject NaN or infinity (padding already zeroed)."""
        if not self.check_finite:
            return
        for name, t in tensors.items():
            if t is not None and not torch.isfinite(t).all():
                bad = (~torch.isfinite(t)).nonzero()[0].tolist()
                raise ValueError(f"GATr: {name} contains NaN or infinity (first at index {bad})")

    def _check_context(
        self,
        mv: Tensor,
        context_mv: Tensor | None,
        context_s: Tensor | None,
        batch_shape: tuple[int, ...],
    ) -> int:
        """Check the context against the configuration; return the number of context tokens."""
        if self.context_mv is None:
            if context_mv is not None or context_s is not None:
                raise ValueError(
                    "GATr: got a context but the model has no cross-attention "
                    "(context_mv_channels=None)"
                )
            return 0
        dim = self.algebra.dim
        want = f"(*batch, context_tokens, {self.context_mv}, {dim}) with batch {batch_shape}"
        if context_mv is None:
            raise ValueError(f"GATr: context_mv of shape {want} is required (cross-attention)")
        if (
            not isinstance(context_mv, Tensor)
            or context_mv.ndim != len(batch_shape) + 3
            or tuple(context_mv.shape[: len(batch_shape)]) != batch_shape
            or tuple(context_mv.shape[-2:]) != (self.context_mv, dim)
            or context_mv.dtype != mv.dtype
        ):
            got = (
                f"{context_mv.dtype} {tuple(context_mv.shape)}"
                if isinstance(context_mv, Tensor)
                else type(context_mv).__name__
            )
            raise ValueError(f"GATr: context_mv must be {mv.dtype} of shape {want}, got {got}")
        tokens = context_mv.shape[-3]
        if tokens == 0:
            raise ValueError(f"GATr: context_mv has no tokens, shape {tuple(context_mv.shape)}")
        if self.context_s:
            want_s = (*batch_shape, tokens, self.context_s)
            if context_s is None:
                raise ValueError(f"GATr: context_s of shape {want_s} is required")
            if tuple(context_s.shape) != want_s or context_s.dtype != mv.dtype:
                raise ValueError(
                    f"GATr: context_s must be {mv.dtype} of shape (*batch, context_tokens, "
                    f"context_s_channels) = {want_s}, got {context_s.dtype} "
                    f"{tuple(context_s.shape)}"
                )
        elif context_s is not None:
            raise ValueError(
                f"GATr: got context scalars of shape {tuple(context_s.shape)} but "
                f"context_s_channels is 0"
            )
        return tokens

    def _pseudoscalar(
        self,
        mv: Tensor,
        token_mask: Tensor | None,
        reference: Tensor | None,
        batch_shape: tuple[int, ...],
        tokens: int,
    ) -> Tensor | None:
        """The reference's non-degenerate pseudoscalar per token, ``(n, 1)``."""
        if not self.variant.join:
            return None
        index = self.algebra.nondegenerate_pseudoscalar_index
        if reference is not None:
            self.algebra.check(reference, "reference")
            value = reference[..., index].expand(batch_shape)
        else:
            per_token = mv[..., index].mean(-1)  # (..., tokens)
            if token_mask is None:
                value = per_token.mean(-1)
            else:
                weight = token_mask.to(mv.dtype)
                value = (per_token * weight).sum(-1) / weight.sum(-1).clamp_min(1.0)
        return value.reshape(-1, 1).expand(-1, tokens).reshape(-1, 1)

    def forward(
        self,
        mv: Tensor,
        s: Tensor | None = None,
        mask: Tensor | None = None,
        *,
        token_mask: Tensor | None = None,
        reference: Tensor | None = None,
        context_mv: Tensor | None = None,
        context_s: Tensor | None = None,
        context_mask: Tensor | None = None,
        context_token_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        batch_shape, tokens = self._check(mv, s)
        if token_mask is not None:
            check_token_mask(token_mask, batch_shape, tokens)
            # padded tokens may hold anything (NaN, inf): zeros from here on
            mv, s = zero_padding(mv, token_mask), zero_padding(s, token_mask)
        self._check_finite(mv=mv, s=s)
        context_tokens = self._check_context(mv, context_mv, context_s, batch_shape)
        context = cross_mask = None
        if context_tokens:
            if context_token_mask is not None:
                check_token_mask(context_token_mask, batch_shape, context_tokens)
                context_mv = zero_padding(context_mv, context_token_mask)
                context_s = zero_padding(context_s, context_token_mask)
            self._check_finite(context_mv=context_mv, context_s=context_s)
            context = self.context_norm(
                to_internal(self.algebra, context_mv),
                context_s.reshape(-1, self.context_s) if context_s is not None else None,
            )
            cross_mask = attention_mask(
                context_mask,
                context_token_mask,
                batch_shape,
                self.num_heads,
                tokens,
                context_tokens,
                mv.dtype,
                query_mask=token_mask,
            )
        elif context_mask is not None or context_token_mask is not None:
            raise ValueError("GATr: context masks given but the model has no cross-attention")
        n_samples = 1
        for b in batch_shape:
            n_samples *= b
        sdpa_mask = attention_mask(
            mask,
            token_mask,
            batch_shape,
            self.num_heads,
            tokens,
            tokens,
            mv.dtype,
            query_mask=token_mask,
        )
        pseudoscalar = self._pseudoscalar(mv, token_mask, reference, batch_shape, tokens)
        x = to_internal(self.algebra, mv)
        h = s.reshape(-1, self.in_s) if s is not None else None
        x, h = self.linear_in(x, h)
        for block in self.blocks:
            kwargs = {"batch": n_samples, "mask": sdpa_mask, "pseudoscalar": pseudoscalar}
            if context is not None:
                kwargs |= {"context": context, "cross_mask": cross_mask}
            if self.checkpoint_blocks and self.training:
                x, h = _checkpoint(
                    lambda x, h, block=block, kwargs=kwargs: block(x, h, **kwargs),
                    x,
                    h,
                    use_reentrant=False,
                )
            else:
                x, h = block(x, h, **kwargs)
        x, h = self.linear_out(x, h)
        out_mv = from_internal(self.algebra, x, (*batch_shape, tokens))
        out_s = h.reshape(*batch_shape, tokens, self.out_s) if h is not None else None
        if token_mask is not None:
            out_mv, out_s = zero_padding(out_mv, token_mask), zero_padding(out_s, token_mask)
        return out_mv, out_s

    def extra_repr(self) -> str:
        options = config_repr(dataclasses.replace(self.config, algebra="ipga"))
        head = f"variant={self.variant.name}, algebra={self.algebra}"
        return f"{head}, {options}" if options else head
