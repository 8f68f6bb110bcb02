"""Thin modules over :mod:`noether.gatr.primitives`, in the internal layout ``(dim, n, channels)``."""

from noether.gatr.layers.attention import GeometricAttention
from noether.gatr.layers.bilinear import GeometricBilinear
from noether.gatr.layers.block import GATrBlock
from noether.gatr.layers.linear import EquiLinear
from noether.gatr.layers.mlp import GeoMLP
from noether.gatr.layers.norm import EquiLayerNorm

__all__ = [
    "EquiLayerNorm",
    "EquiLinear",
    "GATrBlock",
    "GeoMLP",
    "GeometricAttention",
    "GeometricBilinear",
]
