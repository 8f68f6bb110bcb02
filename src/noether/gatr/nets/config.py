"""The options of the GATr-family models as values: :class:`GATrConfig`, :class:`PointGATrConfig`,
:class:`TransformerConfig`, and the groups a block is built from, :class:`SelfAttentionConfig` and
:class:`MLPConfig`.

The top configs are flat (their fields are the YAML keys of a ``model:`` section and the keyword
arguments of the model, unchanged from before the configs existed, so stored checkpoints load);
``config.attention`` and ``config.mlp`` build the per-block groups from them.
"""

from __future__ import annotations

from dataclasses import dataclass

from noether.algebra import Algebra
from noether.gatr.variants import Variant

__all__ = [
    "GATrConfig",
    "MLPConfig",
    "PointGATrConfig",
    "SelfAttentionConfig",
    "TransformerConfig",
]


@dataclass(frozen=True)
class SelfAttentionConfig:
    """The attention of one block (resolved: no ``None`` left)."""

    num_heads: int = 8
    """Query heads."""
    head_mv_channels: int = 2
    """Multivector channels per head (GATr; 0 in a plain Transformer)."""
    head_s_channels: int = 4
    """Scalar channels per head (GATr), or channels per head (Transformer)."""
    multi_query: bool = False
    """Share one key/value head between the query heads."""
    distance_eps: float = 1e-3
    """Softening of the point normaliser in the distance features (GATr over iPGA)."""


@dataclass(frozen=True)
class MLPConfig:
    """The feed-forward part of one block."""

    mlp_factor: int = 2
    """Hidden width over the stream width."""
    dropout: float = 0.0
    """Dropout probability (grade dropout on multivectors) on each sub-layer's output."""


@dataclass(frozen=True)
class GATrConfig:
    """Options of :class:`~noether.gatr.nets.gatr.GATr`. Channels count multivectors of
    ``alg.dim`` components (``mv``) or real numbers (``s``) per token."""

    algebra: str | Algebra | Variant = "ipga"
    """A variant name (``"ega"``, ``"pga"``, ``"ipga"``, ``"cga"``), an Algebra or a Variant."""
    in_mv_channels: int = 1
    """Input multivector channels: ``mv (..., tokens, in_mv_channels, alg.dim)``."""
    out_mv_channels: int = 1
    """Output multivector channels."""
    hidden_mv_channels: int = 16
    """Multivector channels of the residual stream."""
    in_s_channels: int = 0
    """Input auxiliary scalar channels ``s (..., tokens, in_s_channels)``; 0: no scalars."""
    out_s_channels: int = 0
    """Output auxiliary scalar channels; 0: none."""
    hidden_s_channels: int = 32
    """Scalar channels of the residual stream; 0: none."""
    num_blocks: int = 4
    """Transformer blocks."""
    num_heads: int = 8
    """Attention heads."""
    head_mv_channels: int | None = None
    """Multivector channels per head; None: ``max(hidden_mv_channels // num_heads, 1)``."""
    head_s_channels: int | None = None
    """Scalar channels per head; None: ``max(hidden_s_channels // num_heads, 4)`` (0 without
    hidden scalars)."""
    multi_query: bool = False
    """Share one key/value head between the query heads."""
    mlp_factor: int = 2
    """Hidden width of the MLPs over the stream width."""
    dropout: float = 0.0
    """Grade dropout / dropout probability on each sub-layer's output, in training."""
    checkpoint: bool | str | list[str] = False
    """Recompute activations in the backward pass: True or ``"block"`` per block, or a subset of
    ``("attention", "mlp")`` per sub-layer."""
    context_mv_channels: int | None = None
    """Multivector channels of a context for cross-attention; None: no cross-attention."""
    context_s_channels: int = 0
    """Auxiliary scalar channels of the context."""
    check_finite: bool = False
    """Reject inputs that contain NaN or infinity (costs one reduction)."""
    norm_eps: float = 0.01
    """Floor of the squared norm in the equivariant layer norm."""
    distance_eps: float = 1e-3
    """Softening of the point normaliser in the distance features (iPGA)."""

    @property
    def attention(self) -> SelfAttentionConfig:
        """The attention of every block, head widths resolved."""
        head_mv = self.head_mv_channels
        if head_mv is None:
            head_mv = max(self.hidden_mv_channels // self.num_heads, 1)
        head_s = self.head_s_channels
        if head_s is None:
            hidden_s = self.hidden_s_channels
            head_s = max(hidden_s // self.num_heads, 4) if hidden_s else 0
        return SelfAttentionConfig(
            self.num_heads, head_mv, head_s, self.multi_query, self.distance_eps
        )

    @property
    def mlp(self) -> MLPConfig:
        return MLPConfig(self.mlp_factor, self.dropout)


@dataclass(frozen=True)
class PointGATrConfig:
    """Options of :class:`~noether.gatr.nets.point_gatr.PointGATr`: per-token counts of points
    (3D positions), vectors (3D directions) and scalars in and out, and the GATr inside."""

    algebra: str | Variant = "ipga"
    """``"ega"``, ``"pga"``, ``"ipga"`` or ``"cga"`` (or a Variant over one of them)."""
    in_points: int = 1
    """Input points per token: ``points (..., T, in_points, 3)``."""
    in_vectors: int = 0
    """Input vectors per token: ``vectors (..., T, in_vectors, 3)``."""
    in_scalars: int = 0
    """Input scalars per token: ``scalars (..., T, in_scalars)``."""
    out_points: int = 1
    """Output points per token."""
    out_vectors: int = 0
    """Output vectors per token."""
    out_scalars: int = 0
    """Output scalars per token."""
    hidden_mv_channels: int = 16
    """Multivector channels of the GATr's residual stream."""
    hidden_s_channels: int = 32
    """Scalar channels of the GATr's residual stream."""
    num_blocks: int = 4
    """GATr blocks."""
    num_heads: int = 8
    """Attention heads."""
    head_mv_channels: int | None = None
    """Multivector channels per head (None: see :class:`GATrConfig`)."""
    head_s_channels: int | None = None
    """Scalar channels per head (None: see :class:`GATrConfig`)."""
    multi_query: bool = False
    """Share one key/value head between the query heads."""
    mlp_factor: int = 2
    """Hidden width of the MLPs over the stream width."""
    dropout: float = 0.0
    """Dropout probability on each sub-layer's output, in training."""
    checkpoint: bool | str | list[str] = False
    """Activation checkpointing, as :attr:`GATrConfig.checkpoint`."""
    check_finite: bool = False
    """Reject NaN or infinite inputs."""
    orientation: str = "fixed"
    """``"fixed"`` (one pass) or ``"average"`` (both point orientations: exactly E(3)-equivariant
    in PGA, twice the work)."""

    def gatr(self, algebra: str | Algebra | Variant | None = None) -> GATrConfig:
        """The config of the GATr inside (``algebra``: the resolved variant)."""
        return GATrConfig(
            algebra=self.algebra if algebra is None else algebra,
            in_mv_channels=max(self.in_points + self.in_vectors, 1),
            out_mv_channels=max(self.out_points + self.out_vectors, 1),
            hidden_mv_channels=self.hidden_mv_channels,
            in_s_channels=self.in_scalars,
            out_s_channels=self.out_scalars,
            hidden_s_channels=self.hidden_s_channels,
            num_blocks=self.num_blocks,
            num_heads=self.num_heads,
            head_mv_channels=self.head_mv_channels,
            head_s_channels=self.head_s_channels,
            multi_query=self.multi_query,
            mlp_factor=self.mlp_factor,
            dropout=self.dropout,
            checkpoint=self.checkpoint,
        )


@dataclass(frozen=True)
class TransformerConfig:
    """Options of the baseline :class:`~noether.gatr.nets.transformer.Transformer` on raw 3D
    inputs (per-token counts as :class:`PointGATrConfig`)."""

    in_points: int = 1
    """Input points per token ``P``: ``points (..., T, P, 3)``."""
    in_vectors: int = 0
    """Input vectors per token ``V``: ``vectors (..., T, V, 3)``."""
    in_scalars: int = 0
    """Input scalars per token ``S``: ``scalars (..., T, S)``."""
    out_points: int = 1
    """Output points per token."""
    out_vectors: int = 0
    """Output vectors per token."""
    out_scalars: int = 0
    """Output scalars per token."""
    hidden_channels: int = 128
    """Width ``c`` of the residual stream (a multiple of ``num_heads``)."""
    num_blocks: int = 4
    """Transformer blocks."""
    num_heads: int = 8
    """Attention heads."""
    multi_query: bool = False
    """Share one key/value head between the query heads."""
    mlp_factor: int = 2
    """Hidden width of the MLPs over ``hidden_channels``."""
    dropout: float = 0.0
    """Dropout probability on each sub-layer's output, in training."""
    checkpoint: bool = False
    """Recompute each block's activations in the backward pass."""
    augment: bool = False
    """Random E(3) augmentation in training (inputs moved, outputs moved back)."""
    augment_translation: float = 1.0
    """Standard deviation of the random translations, in the inputs' length unit."""
    check_finite: bool = False
    """Reject NaN or infinite inputs."""

    @property
    def attention(self) -> SelfAttentionConfig:
        return SelfAttentionConfig(
            self.num_heads, 0, self.hidden_channels // self.num_heads, self.multi_query
        )

    @property
    def mlp(self) -> MLPConfig:
        return MLPConfig(self.mlp_factor, self.dropout)
