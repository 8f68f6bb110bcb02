"""Models: :class:`GATr` on multivectors; :class:`PointGATr` and the baseline :class:`Transformer`
on raw 3D inputs (points, vectors, scalars)."""

from noether.gatr.nets.config import (
    GATrConfig,
    MLPConfig,
    PointGATrConfig,
    SelfAttentionConfig,
    TransformerConfig,
)
from noether.gatr.nets.gatr import GATr
from noether.gatr.nets.point_gatr import PointGATr
from noether.gatr.nets.points import PointOutputs
from noether.gatr.nets.transformer import Transformer

__all__ = [
    "GATr",
    "GATrConfig",
    "MLPConfig",
    "PointGATr",
    "PointGATrConfig",
    "PointOutputs",
    "SelfAttentionConfig",
    "Transformer",
    "TransformerConfig",
]
