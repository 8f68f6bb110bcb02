"""Pure functions on component-major multivectors ``(dim, n, channels)``: the mathematics of GATr.

See :mod:`noether.gatr.primitives.layout` for the layout and the conversions from and to the
public ``(..., tokens, channels, dim)``.
"""

from noether.gatr.primitives.attention import geometric_attention, head_width, scaled_dot_product
from noether.gatr.primitives.bilinear import (
    equivariant_join,
    geometric_product,
    join,
    sparse_bilinear,
)
from noether.gatr.primitives.dropout import grade_dropout
from noether.gatr.primitives.invariants import distance_features, inner_product, squared_norm
from noether.gatr.primitives.layout import Layout, from_internal, layout, to_internal
from noether.gatr.primitives.linear import equivariant_linear, linear_plan
from noether.gatr.primitives.masks import attention_mask, lengths_to_mask
from noether.gatr.primitives.nonlinearity import gated_gelu
from noether.gatr.primitives.normalization import equivariant_layer_norm, scalar_layer_norm

__all__ = [
    "Layout",
    "attention_mask",
    "distance_features",
    "equivariant_join",
    "equivariant_layer_norm",
    "equivariant_linear",
    "from_internal",
    "gated_gelu",
    "geometric_attention",
    "geometric_product",
    "grade_dropout",
    "head_width",
    "inner_product",
    "join",
    "layout",
    "lengths_to_mask",
    "linear_plan",
    "scalar_layer_norm",
    "scaled_dot_product",
    "sparse_bilinear",
    "squared_norm",
    "to_internal",
]
