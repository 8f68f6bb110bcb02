"""Geometric Algebra Transformers over any geometric algebra, and a matched baseline Transformer.

Layers: ``primitives`` (pure functions on component-major multivectors), ``layers`` (thin
modules), ``nets`` (models). Start with :class:`GATr` (``algebra="ega" | "pga" | "ipga" |
"cga"``); see docs/gatr.md.
"""

from noether.gatr.nets.gatr import GATr
from noether.gatr.variants import VARIANTS, Variant, resolve_variant

__all__ = ["VARIANTS", "GATr", "Variant", "resolve_variant"]
