"""Equiformer's options as values: one :class:`EquiformerConfig` (the architecture, which the
backbone reads) that the potential's and the property model's configs extend.

The field names are the keyword arguments and YAML keys the models took before (flat), so
stored checkpoints and configs/*.yaml load unchanged. Irreps are e3nn strings (``"32x0e+16x1e"``:
multiplicity x degree l, parity ``e``/``o``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from noether.atoms.potential import PotentialConfig

__all__ = [
    "EquiformerConfig",
    "EquiformerPotentialConfig",
    "EquiformerPropertiesConfig",
    "GraphAttentionConfig",
]


def _dtype_name(config) -> None:
    """``torch.float64`` (or ``"torch.float64"``, as old checkpoints store it) as ``"float64"``:
    one config, however it was given."""
    object.__setattr__(config, "dtype", str(config.dtype).removeprefix("torch."))


@dataclass(frozen=True)
class GraphAttentionConfig:
    """The graph attention of every block (:class:`~noether.atoms.models.equiformer.GraphAttention`);
    built by :attr:`EquiformerConfig.graph_attention` from its flat fields."""

    irreps_head: str = "32x0e+16x1e+8x2e"
    """Irreps of one head."""
    num_heads: int = 4
    """Heads."""
    attention: str = "mlp"
    """``"mlp"`` (the paper's) or ``"dot"``."""
    nonlinear_messages: bool = True
    """The paper's non-linear value path."""
    alpha_drop: float = 0.0
    """Dropout on the attention weights, in training."""


@dataclass(frozen=True)
class EquiformerConfig:
    """The architecture (:class:`~noether.atoms.models.equiformer.EquiformerBackbone`): the
    paper's MD17 recipe with L_max = 2 by default."""

    irreps_node: str = "128x0e+64x1e+32x2e"
    """Node feature irreps: features ``(N, irreps_node.dim)``."""
    irreps_head: str = "32x0e+16x1e+8x2e"
    """Irreps of one attention head."""
    num_heads: int = 4
    """Attention heads."""
    irreps_mlp_mid: str = "384x0e+192x1e+96x2e"
    """Hidden irreps of the feed-forward network (before the gate's extra scalars)."""
    irreps_feature: str = "512x0e"
    """Output irreps of the last block (scalars only): ``(N, irreps_feature.dim)``."""
    irreps_sh: str | None = None
    """Edge spherical harmonics; None: ``0e+1e+..`` up to the node L_max (``0e+1o+2e..`` when
    ``parity``)."""
    parity: bool = False
    """E(3) instead of SE(3) (needs odd irreps in ``irreps_node`` to be useful)."""
    num_layers: int = 6
    """Transformer blocks."""
    cutoff: float = 5.0
    """Neighbour cutoff in Å."""
    radial_basis: str = "expnorm"
    """``"expnorm"``, ``"gaussian"`` or ``"bessel"``."""
    num_basis: int = 32
    """Size of the radial basis."""
    radial_hidden: tuple[int, ...] | list[int] = (64, 64)
    """Hidden widths of the radial MLPs."""
    attention: str = "mlp"
    """``"mlp"`` (the paper's) or ``"dot"``."""
    nonlinear_messages: bool = True
    """The paper's non-linear value path."""
    alpha_drop: float = 0.0
    """Dropout on the attention weights, in training."""
    num_elements: int = 64
    """Size of the atom-type table (atomic numbers 0..num_elements-1)."""
    avg_degree: float = 15.57930850982666
    """Neighbours per atom used to scale the edge-degree embedding."""
    smooth_cutoff: bool = True
    """Envelope on attention and messages (continuous forces at the cutoff)."""

    def __post_init__(self) -> None:
        # a list from YAML or a checkpoint and a tuple from Python are the same config
        object.__setattr__(self, "radial_hidden", tuple(self.radial_hidden))

    @property
    def graph_attention(self) -> GraphAttentionConfig:
        return GraphAttentionConfig(
            self.irreps_head, self.num_heads, self.attention, self.nonlinear_messages,
            self.alpha_drop,
        )  # fmt: skip


@dataclass(frozen=True)
class EquiformerPotentialConfig(EquiformerConfig, PotentialConfig):
    """:class:`~noether.atoms.models.equiformer.Equiformer`: the architecture and the options of
    every :class:`~noether.atoms.Potential` (:class:`~noether.atoms.potential.PotentialConfig`)."""

    def __post_init__(self) -> None:
        EquiformerConfig.__post_init__(self)
        PotentialConfig.__post_init__(self)


@dataclass(frozen=True)
class EquiformerPropertiesConfig(EquiformerConfig):
    """:class:`~noether.atoms.models.equiformer.EquiformerProperties`: the architecture and the
    graph-level read-out of ``n_targets`` properties."""

    n_targets: int = 1
    """Properties predicted per graph: ``(G, n_targets)`` in the targets' own units."""
    reduce: str = "mean"
    """Pooling of the per-atom outputs: ``"sum"`` or ``"mean"``."""
    target_mean: list[float] | None = None
    """Targets are ``target_mean + target_std * raw`` (None: 0); one value per target."""
    target_std: list[float] | None = None
    """See ``target_mean`` (None: 1)."""
    neighbor_method: str = "auto"
    """See :func:`noether.atoms.neighbors.neighbor_list`."""
    dtype: str | torch.dtype = "float32"
    """The model's floating dtype, ``"float32"`` or ``"float64"``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _dtype_name(self)
