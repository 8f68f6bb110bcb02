"""The TorchMD-NET Equivariant Transformer (ET) potential; see :class:`ET`."""

from noether.atoms.models.et.config import ETConfig
from noether.atoms.models.et.inference import ETInference
from noether.atoms.models.et.model import ET

__all__ = ["ET", "ETConfig", "ETInference"]
