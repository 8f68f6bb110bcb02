"""Models: :class:`GATr` on multivectors, and the raw-3D models registered for training."""

from noether.gatr.nets.gatr import GATr

__all__ = ["GATr"]
