"""The non-equivariant baseline: a pre-norm Transformer with GATr's block layout and dispatch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint as _checkpoint

from noether.core.config import config_repr, make_config
from noether.core.registry import register_model
from noether.gatr.nets.config import TransformerConfig
from noether.gatr.nets.points import (
    PointOutputs,
    apply_isometry,
    check_point_inputs,
    invert_isometry_outputs,
    mask_outputs,
    random_isometry,
)
from noether.gatr.primitives.attention import scaled_dot_product
from noether.gatr.primitives.masks import attention_mask, zero_padding

__all__ = ["Transformer", "TransformerBlock"]


class TransformerBlock(nn.Module):
    """``x + Attn(LN(x))``, then ``x + MLP(LN(x))``: the layout of a GATr block on plain features.

    Layer norms without parameters (as GATr's), attention through the same
    :func:`~noether.gatr.primitives.attention.scaled_dot_product`, MLP ``c -> mlp_factor * c ->
    c`` with GELU. ``x: (B, T, c)``; ``mask`` as returned by
    :func:`~noether.gatr.primitives.masks.attention_mask`.
    """

    def __init__(
        self,
        channels: int,
        num_heads: int,
        *,
        multi_query: bool = False,
        mlp_factor: int = 2,
        dropout: float = 0.0,
        checkpoint: bool = False,
    ) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(
                f"TransformerBlock: channels ({channels}) must be a multiple of num_heads ({num_heads})"
            )
        self.num_heads = num_heads
        self.kv_heads = 1 if multi_query else num_heads
        self.head = channels // num_heads
        self.dropout, self.checkpoint = dropout, checkpoint
        self.qkv = nn.Linear(channels, (num_heads + 2 * self.kv_heads) * self.head)
        self.out = nn.Linear(num_heads * self.head, channels)
        self.mlp = nn.Sequential(
            nn.Linear(channels, mlp_factor * channels),
            nn.GELU(approximate="tanh"),
            nn.Linear(mlp_factor * channels, channels),
        )

    def _attention(self, x: Tensor, mask: Tensor | None) -> Tensor:
        b, t, c = x.shape
        h = F.layer_norm(x, (c,))
        qkv = self.qkv(h).view(b, t, self.num_heads + 2 * self.kv_heads, self.head).transpose(1, 2)
        q, k, v = qkv.split([self.num_heads, self.kv_heads, self.kv_heads], 1)
        out = scaled_dot_product(q, k, v, mask)
        return self.out(out.transpose(1, 2).reshape(b, t, c))

    def _mlp(self, x: Tensor) -> Tensor:
        return self.mlp(F.layer_norm(x, x.shape[-1:]))

    def _block(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = x + F.dropout(self._attention(x, mask), self.dropout, self.training)
        return x + F.dropout(self._mlp(x), self.dropout, self.training)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if self.checkpoint and self.training:
            return _checkpoint(self._block, x, mask, use_reentrant=False)
        return self._block(x, mask)


@register_model("transformer")
class Transformer(nn.Module):
    """A plain Transformer on raw 3D inputs, the baseline GATr is measured against.

    The input features of a token are its points, vectors and scalars flattened
    (``3 P + 3 V + S`` numbers); a linear map embeds them into ``hidden_channels``,
    ``num_blocks`` :class:`TransformerBlock` follow, and a linear map reads out ``3 P' + 3 V' +
    S'`` numbers. Not equivariant: with ``augment=True`` each training forward draws a random
    rotation or reflection ``R`` and translation ``t`` per sample, runs on ``(R p + t, R v, s)``
    and maps the outputs back (``R^T (p' - t)``, ``R^T v'``), which for an isometry-invariant
    loss (mean squared errors of positions and vectors) equals training on randomly transformed
    data and targets. Evaluation never augments.

    Options (:class:`~noether.gatr.nets.config.TransformerConfig`, or its fields as keywords):
        in_points, in_vectors, in_scalars: per-token input counts ``P, V, S``.
        out_points, out_vectors, out_scalars: per-token output counts.
        hidden_channels: width ``c`` (a multiple of ``num_heads``); see :meth:`matching` for the
            width that matches a GATr's parameter count.
        num_blocks, num_heads, multi_query, mlp_factor, dropout: the blocks.
        checkpoint: recompute each block's activations in the backward pass.
        augment: random E(3) augmentation in training.
        augment_translation: standard deviation of the random translations (input length unit).
        check_finite: reject NaN or infinite inputs.

    Forward: ``points (..., T, P, 3)``, ``vectors (..., T, V, 3)``, ``scalars (..., T, S)``,
    ``mask`` broadcastable to ``(..., num_heads, T, T)``, ``token_mask (..., T)`` boolean for
    padded batches. Returns :class:`~noether.gatr.nets.points.PointOutputs`; outputs at padded
    tokens are zero.
    """

    def __init__(self, config: TransformerConfig | None = None, /, **options: Any) -> None:
        super().__init__()
        self.config = c = make_config(TransformerConfig, config, options)
        in_points, in_vectors, in_scalars = c.in_points, c.in_vectors, c.in_scalars
        out_points, out_vectors, out_scalars = c.out_points, c.out_vectors, c.out_scalars
        hidden_channels, num_blocks, num_heads = c.hidden_channels, c.num_blocks, c.num_heads
        augment, augment_translation, check_finite = (
            c.augment,
            c.augment_translation,
            c.check_finite,
        )
        counts = (in_points, in_vectors, in_scalars, out_points, out_vectors, out_scalars)
        if any(not isinstance(c, int) or c < 0 for c in counts):
            raise ValueError(
                f"Transformer: input and output counts must be ints >= 0, got {counts}"
            )
        if not sum(counts[:3]) or not sum(counts[3:]):
            raise ValueError(
                f"Transformer: needs at least one input and one output, got inputs {counts[:3]} "
                f"and outputs {counts[3:]}"
            )
        for name, value in (
            ("hidden_channels", hidden_channels),
            ("num_blocks", num_blocks),
            ("num_heads", num_heads),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Transformer: {name} must be an int >= 1, got {value!r}")
        if not augment_translation >= 0:
            raise ValueError(
                f"Transformer: augment_translation must be >= 0, got {augment_translation}"
            )
        self.inputs = counts[:3]
        self.outputs = counts[3:]
        self.num_heads, self.augment = num_heads, augment
        self.augment_translation, self.check_finite = augment_translation, check_finite
        self.embed = nn.Linear(3 * in_points + 3 * in_vectors + in_scalars, hidden_channels)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                hidden_channels,
                num_heads,
                multi_query=c.multi_query,
                mlp_factor=c.mlp.mlp_factor,
                dropout=c.mlp.dropout,
                checkpoint=c.checkpoint,
            )
            for _ in range(num_blocks)
        )
        self.readout = nn.Linear(hidden_channels, 3 * out_points + 3 * out_vectors + out_scalars)

    def extra_repr(self) -> str:
        return config_repr(self.config)

    @classmethod
    def matching(cls, parameters: int, **kwargs) -> Transformer:
        """The Transformer whose parameter count is closest to ``parameters``, with the other
        arguments as given; ``hidden_channels`` runs over multiples of ``num_heads``."""
        return cls.matching_cost(
            parameters, lambda m: sum(p.numel() for p in m.parameters()), **kwargs
        )

    @classmethod
    def matching_cost(
        cls, target: float, cost: Callable[[Transformer], float], **kwargs
    ) -> Transformer:
        """The Transformer whose ``cost(model)`` (increasing with the width: parameters, FLOPs
        per token, ...) is closest to ``target``, with the other arguments as given;
        ``hidden_channels`` runs over multiples of ``num_heads``."""
        heads = kwargs.get("num_heads", 8)

        def count(channels: int) -> float:
            return cost(cls(**{**kwargs, "hidden_channels": channels}))

        low, high = 1, 1
        while count(high * heads) < target:
            low, high = high, high * 2
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if count(mid * heads) < target else (low, mid)
        best = min((low, high), key=lambda m: abs(count(m * heads) - target))
        return cls(**{**kwargs, "hidden_channels": best * heads})

    def forward(
        self,
        points: Tensor | None = None,
        vectors: Tensor | None = None,
        scalars: Tensor | None = None,
        mask: Tensor | None = None,
        *,
        token_mask: Tensor | None = None,
    ) -> PointOutputs:
        batch_shape, tokens, dtype = check_point_inputs(
            "Transformer", points, vectors, scalars, self.inputs, self.check_finite, token_mask
        )
        # padded tokens may hold anything (NaN, inf): zeros from here on
        points, vectors, scalars = (zero_padding(t, token_mask) for t in (points, vectors, scalars))
        transform = None
        if self.augment and self.training:
            device = self.embed.weight.device
            transform = random_isometry(
                batch_shape, self.augment_translation, dtype=dtype, device=device
            )
            points, vectors = apply_isometry(*transform, points, vectors)
        features = [t.flatten(-2) for t in (points, vectors) if t is not None]
        if scalars is not None:
            features.append(scalars)
        x = torch.cat(features, -1) if len(features) > 1 else features[0]
        x = self.embed(x.reshape(-1, tokens, x.shape[-1]))
        sdpa_mask = attention_mask(
            mask,
            token_mask,
            batch_shape,
            self.num_heads,
            tokens,
            tokens,
            x.dtype,
            query_mask=token_mask,
        )
        for block in self.blocks:
            x = block(x, sdpa_mask)
        y = self.readout(x).reshape(*batch_shape, tokens, -1)
        p, v, s = self.outputs
        yp, yv, ys = y.split([3 * p, 3 * v, s], -1)
        outputs = PointOutputs(
            yp.unflatten(-1, (p, 3)) if p else None,
            yv.unflatten(-1, (v, 3)) if v else None,
            ys if s else None,
        )
        if transform is not None:
            outputs = invert_isometry_outputs(*transform, outputs)
        if token_mask is not None:
            outputs = mask_outputs(outputs, token_mask)
        return outputs
