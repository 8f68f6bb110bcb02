"""The two model families of the scaling study, wrapped for the rigid-body task.

- ``rigid-gatr``: scene -> PGA tokens (:func:`~noether.sims.rigid.tokens.pga_tokens`) ->
  :class:`noether.gatr.GATr` -> residual points. E(3)-equivariant (see the tokens module for the
  exact statement); gravity and the ground plane are inputs.
- ``rigid-transformer``: scene -> raw numbers -> the Transformer baseline of
  :mod:`noether.gatr.nets.transformer` -> displacements. Not equivariant; with
  ``task.augment: true`` it is the "Transformer with augmentation".

Both take the task's batch dict and return the predicted next-frame points ``(B, T, P, 3)``
(at padded bodies their input points, whatever they hold: padding never changes the real
bodies' predictions or any gradient).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from noether.core import register_model
from noether.core.config import make_config
from noether.gatr import GATr
from noether.gatr.nets.transformer import Transformer
from noether.gatr.primitives.masks import zero_padding
from noether.sims.rigid.tokens import (
    MV_EXTRA,
    moved_points,
    pga_tokens,
    raw_tokens,
)

__all__ = ["RigidGATr", "RigidGATrConfig", "RigidTransformer", "RigidTransformerConfig"]

N_SCALARS = 4
"""Invariants per body: log mass and three log principal moments."""


_PER_TOKEN = ("points", "com", "velocity", "angular_velocity", "scalars")
"""The scene's per-body entries, which padded bodies may fill with anything."""


def _clean(scene: dict[str, Tensor]) -> dict[str, Tensor]:
    """The scene with its padded bodies (``mask`` False) zeroed: they may hold anything (NaN,
    infinity) without changing the real bodies' predictions or any gradient."""
    mask = scene["mask"]
    return scene | {k: zero_padding(scene[k], mask) for k in _PER_TOKEN if k in scene}


def _padded_stay(prediction: Tensor, scene: dict[str, Tensor]) -> Tensor:
    """The prediction at real bodies; at padded bodies their input points (nothing moves), as
    a ``torch.where``, so no gradient passes between the two."""
    return torch.where(scene["mask"][..., None, None], prediction, scene["points"])


def _zero(module: nn.Module) -> None:
    for parameter in module.parameters():
        nn.init.zeros_(parameter)


@dataclass(frozen=True)
class RigidGATrConfig:
    """Options of :class:`RigidGATr` (the YAML ``model:`` section of ``rigid-gatr``).

    Attributes:
        points_per_body: ``P`` (from the task).
        mv_channels, s_channels: hidden multivector and scalar channels.
        blocks, heads: depth and attention heads.
        algebra: the GATr variant (``"ipga"``: PGA with distance-aware attention, or ``"pga"``).
    """

    points_per_body: int = 10
    mv_channels: int = 8
    s_channels: int = 16
    blocks: int = 2
    heads: int = 4
    algebra: Literal["pga", "ipga"] = "ipga"


@register_model("rigid-gatr")
class RigidGATr(nn.Module):
    """GATr on rigid-body scenes: one token per body, ``P + 5`` multivector channels in.

    ``RigidGATr(RigidGATrConfig(blocks=4))`` and ``RigidGATr(blocks=4)`` build the same model
    (:mod:`noether.core.config`); the options are :class:`RigidGATrConfig`'s fields.
    """

    def __init__(self, config: RigidGATrConfig | None = None, /, **options: Any) -> None:
        super().__init__()
        self.config = config = make_config(RigidGATrConfig, config, options)
        points_per_body, algebra = config.points_per_body, config.algebra
        mv_channels, s_channels = config.mv_channels, config.s_channels
        blocks, heads = config.blocks, config.heads
        if algebra not in ("pga", "ipga"):
            raise ValueError(
                f"algebra must be 'pga' or 'ipga' (the scene is in PGA), got {algebra!r}"
            )
        self.points_per_body = points_per_body
        self.net = GATr(
            algebra=algebra,
            in_mv_channels=points_per_body + MV_EXTRA,
            out_mv_channels=points_per_body,
            hidden_mv_channels=mv_channels,
            in_s_channels=N_SCALARS,
            out_s_channels=0,
            hidden_s_channels=s_channels,
            num_blocks=blocks,
            num_heads=heads,
        )
        _zero(self.output_layer)  # an untrained model predicts "nothing moves"

    @property
    def output_layer(self) -> nn.Module:
        """The last layer (zero at initialisation)."""
        return self.net.linear_out

    def forward(self, scene: dict[str, Tensor]) -> Tensor:
        mv, s = pga_tokens(_clean(scene))
        out, _ = self.net(mv, s, token_mask=scene["mask"])
        return _padded_stay(moved_points(mv[..., : self.points_per_body, :], out), scene)


@dataclass(frozen=True)
class RigidTransformerConfig:
    """Options of :class:`RigidTransformer` (the YAML ``model:`` section of
    ``rigid-transformer``).

    Attributes:
        points_per_body: ``P`` (from the task).
        channels, blocks, heads: width, depth and attention heads.
    """

    points_per_body: int = 10
    channels: int = 64
    blocks: int = 2
    heads: int = 4


@register_model("rigid-transformer")
class RigidTransformer(nn.Module):
    """The Transformer baseline (:class:`noether.gatr.nets.transformer.Transformer`, GATr's block
    layout on plain features) on raw scene numbers: one token per body, a displacement per point.

    Per token: ``P + 2`` points (surface points, centre of mass, a point of the ground plane),
    4 vectors (velocity, angular velocity, gravity, plane normal) and the invariants. The task,
    not the model, augments (the angular velocity is a pseudovector; see
    :func:`~noether.sims.rigid.tokens.apply_euclidean`).

    The options are :class:`RigidTransformerConfig`'s fields (:mod:`noether.core.config`).
    """

    def __init__(self, config: RigidTransformerConfig | None = None, /, **options: Any) -> None:
        super().__init__()
        self.config = config = make_config(RigidTransformerConfig, config, options)
        points_per_body, channels = config.points_per_body, config.channels
        blocks, heads = config.blocks, config.heads

        self.points_per_body = points_per_body
        self.net = Transformer(
            in_points=points_per_body + 2,
            in_vectors=4,
            in_scalars=N_SCALARS,
            out_points=0,  # the baseline's default reads out a point too; only displacements here
            out_vectors=points_per_body,
            hidden_channels=channels,
            num_blocks=blocks,
            num_heads=heads,
        )
        _zero(self.output_layer)  # an untrained model predicts "nothing moves"

    @property
    def output_layer(self) -> nn.Module:
        """The last layer (zero at initialisation)."""
        return self.net.readout

    def forward(self, scene: dict[str, Tensor]) -> Tensor:
        clean = _clean(scene)
        points, vectors = raw_tokens(clean)
        out = self.net(points, vectors, clean["scalars"], token_mask=scene["mask"])
        return _padded_stay(clean["points"] + out.vectors, scene)
