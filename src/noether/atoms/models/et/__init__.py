"""The TorchMD-NET Equivariant Transformer (ET) potential; see :class:`ET`."""

from noether.atoms.models.et.model import ET

__all__ = ["ET"]
