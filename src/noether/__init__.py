"""noether: equivariant transformers for 3D geometry and physics."""

__version__ = "0.1.0"

__all__ = ["__version__"]
