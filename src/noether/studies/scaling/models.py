"""The two model families of the scaling study, wrapped for the rigid-body task.

- ``rigid-gatr``: scene -> PGA tokens (:func:`~noether.studies.scaling.tokens.pga_tokens`) ->
  :class:`noether.gatr.GATr` -> residual points. E(3)-equivariant (see the tokens module for the
  exact statement); gravity and the ground plane are inputs.
- ``rigid-transformer``: scene -> raw features -> a pre-norm Transformer -> displacements.
  Not equivariant; with ``task.augment: true`` it is the "Transformer with augmentation".

Both take the task's batch dict and return the predicted next-frame points ``(B, T, P, 3)``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from noether.studies.scaling.tokens import (
    MV_EXTRA,
    moved_points,
    pga_tokens,
    raw_features,
    raw_width,
)
from noether.train import register_model

__all__ = ["RigidGATr", "RigidTransformer", "Transformer"]

N_SCALARS = 4
"""Invariants per body: log mass and three log principal moments."""


def _zero(module: nn.Module) -> None:
    for parameter in module.parameters():
        nn.init.zeros_(parameter)


@register_model("rigid-gatr")
class RigidGATr(nn.Module):
    """GATr on rigid-body scenes: one token per body, ``P + 5`` multivector channels in.

    Args:
        points_per_body: ``P`` (from the task).
        mv_channels, s_channels: hidden multivector and scalar channels.
        blocks, heads: depth and attention heads.
        algebra: the GATr variant (``"ipga"``: PGA with distance-aware attention, or ``"pga"``).
    """

    def __init__(
        self,
        points_per_body: int = 10,
        mv_channels: int = 8,
        s_channels: int = 16,
        blocks: int = 2,
        heads: int = 4,
        algebra: str = "ipga",
    ) -> None:
        super().__init__()
        from noether.gatr import GATr

        if algebra not in ("pga", "ipga"):
            raise ValueError(
                f"algebra must be 'pga' or 'ipga' (the scene is in PGA), got {algebra!r}"
            )
        self.points_per_body = points_per_body
        self.net = GATr(
            algebra,
            in_mv_channels=points_per_body + MV_EXTRA,
            out_mv_channels=points_per_body,
            hidden_mv_channels=mv_channels,
            in_s_channels=N_SCALARS,
            out_s_channels=0,
            hidden_s_channels=s_channels,
            num_blocks=blocks,
            num_heads=heads,
        )
        _zero(self.net.linear_out)  # an untrained model predicts "nothing moves"

    def forward(self, scene: dict[str, Tensor]) -> Tensor:
        mv, s = pga_tokens(scene)
        out, _ = self.net(mv, s, token_mask=scene["mask"])
        return moved_points(mv[..., : self.points_per_body, :], out)


class Transformer(nn.Module):
    """A pre-norm Transformer on tokens: ``x (B, T, in) -> (B, T, out)``.

    ``Linear(in, c)``, then ``blocks`` of ``x + Attn(LN(x))`` and ``x + MLP(LN(x))`` (MLP
    ``c -> mlp_factor c -> c`` with GELU; LayerNorm without affine weights), then
    ``Linear(c, out)``. Attention is one fused SDPA call; ``token_mask (B, T)`` hides padding.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int = 64,
        num_blocks: int = 2,
        num_heads: int = 4,
        mlp_factor: int = 2,
    ) -> None:
        super().__init__()
        if hidden_channels % num_heads:
            raise ValueError(
                f"hidden_channels ({hidden_channels}) must be a multiple of num_heads ({num_heads})"
            )
        self.heads = num_heads
        self.linear_in = nn.Linear(in_channels, hidden_channels)
        self.blocks = nn.ModuleList(
            _Block(hidden_channels, num_heads, mlp_factor) for _ in range(num_blocks)
        )
        self.linear_out = nn.Linear(hidden_channels, out_channels)

    def forward(self, x: Tensor, token_mask: Tensor | None = None) -> Tensor:
        mask = None if token_mask is None else token_mask[:, None, None, :]
        h = self.linear_in(x)
        for block in self.blocks:
            h = block(h, mask)
        return self.linear_out(h)


class _Block(nn.Module):
    def __init__(self, c: int, heads: int, mlp_factor: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)
        self.up = nn.Linear(c, mlp_factor * c)
        self.down = nn.Linear(mlp_factor * c, c)

    def forward(self, h: Tensor, mask: Tensor | None) -> Tensor:
        b, t, c = h.shape
        q, k, v = (
            self.qkv(F.layer_norm(h, (c,))).view(b, t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        )
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        h = h + self.proj(a.transpose(1, 2).reshape(b, t, c))
        return h + self.down(F.gelu(self.up(F.layer_norm(h, (c,)))))


@register_model("rigid-transformer")
class RigidTransformer(nn.Module):
    """A Transformer on raw scene numbers: one token per body, displacements out.

    Args:
        points_per_body: ``P`` (from the task).
        channels, blocks, heads: width, depth and attention heads.
    """

    def __init__(
        self, points_per_body: int = 10, channels: int = 64, blocks: int = 2, heads: int = 4
    ) -> None:
        super().__init__()
        self.points_per_body = points_per_body
        self.net = Transformer(
            raw_width(points_per_body, N_SCALARS), 3 * points_per_body, channels, blocks, heads
        )
        _zero(self.net.linear_out)  # an untrained model predicts "nothing moves"

    def forward(self, scene: dict[str, Tensor]) -> Tensor:
        points = scene["points"]
        out = self.net(raw_features(scene), scene["mask"])
        return points + out.view(points.shape)
