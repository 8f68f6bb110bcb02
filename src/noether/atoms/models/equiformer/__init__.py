"""Equiformer (Liao & Smidt, ICLR 2023): equivariant graph attention on e3nn irreps.

- :class:`Equiformer`: an interatomic potential (:class:`noether.atoms.Potential`);
- :class:`EquiformerProperties`: graph-level scalar properties;
- the parts: :class:`EquivariantLinear`, :class:`EquivariantLayerNorm`, :class:`Gate`,
  :class:`SeparableTensorProduct` (depth-wise tensor product + linear), :class:`GraphAttention`,
  :class:`TransformerBlock`; features use the ``ir_mul`` layout of :class:`IrrepsLayout`.
"""

from noether.atoms.models.equiformer.attention import GraphAttention, segment_softmax
from noether.atoms.models.equiformer.backbone import EquiformerBackbone
from noether.atoms.models.equiformer.block import TransformerBlock
from noether.atoms.models.equiformer.config import (
    EquiformerConfig,
    EquiformerPotentialConfig,
    EquiformerPropertiesConfig,
    GraphAttentionConfig,
)
from noether.atoms.models.equiformer.gate import Gate
from noether.atoms.models.equiformer.irreps import IrrepsLayout
from noether.atoms.models.equiformer.linear import EquivariantLinear
from noether.atoms.models.equiformer.model import PRESETS, Equiformer, EquiformerProperties, preset
from noether.atoms.models.equiformer.norm import EquivariantLayerNorm
from noether.atoms.models.equiformer.tensor_product import SeparableTensorProduct

__all__ = [
    "PRESETS",
    "Equiformer",
    "EquiformerBackbone",
    "EquiformerConfig",
    "EquiformerPotentialConfig",
    "EquiformerProperties",
    "EquiformerPropertiesConfig",
    "EquivariantLayerNorm",
    "EquivariantLinear",
    "Gate",
    "GraphAttention",
    "GraphAttentionConfig",
    "IrrepsLayout",
    "SeparableTensorProduct",
    "TransformerBlock",
    "preset",
    "segment_softmax",
]
