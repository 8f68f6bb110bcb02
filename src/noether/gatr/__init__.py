"""Geometric Algebra Transformers over any geometric algebra, and a matched baseline Transformer.

Layers: ``primitives`` (pure functions on component-major multivectors), ``layers`` (thin
modules), ``nets`` (models). Start with :class:`GATr` (``algebra="ega" | "pga" | "ipga" |
"cga"``) on multivectors, or :class:`PointGATr` and the baseline :class:`Transformer` on raw 3D
inputs; see docs/gatr.md. Registered with the training stack as ``gatr``, ``point-gatr`` and
``transformer``.
"""

from noether.gatr.nets import GATr, PointGATr, PointOutputs, Transformer
from noether.gatr.variants import VARIANTS, Variant, resolve_variant

__all__ = [
    "VARIANTS",
    "GATr",
    "PointGATr",
    "PointOutputs",
    "Transformer",
    "Variant",
    "resolve_variant",
]
