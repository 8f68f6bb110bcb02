"""`EquiformerBackbone`: atoms and pair vectors in, per-atom invariant features out."""

from __future__ import annotations

from typing import Any

from e3nn import o3
from torch import Tensor, nn

from noether.atoms.models.equiformer.block import (
    EdgeDegreeEmbedding,
    NodeEmbedding,
    TransformerBlock,
)
from noether.atoms.models.equiformer.config import EquiformerConfig
from noether.atoms.models.equiformer.irreps import IrrepsLayout, sorted_irreps
from noether.atoms.models.equiformer.norm import EquivariantLayerNorm
from noether.atoms.models.equiformer.radial import cosine_cutoff, radial_basis
from noether.core.config import make_config

__all__ = ["EquiformerBackbone", "default_sh_irreps"]


def default_sh_irreps(lmax: int, parity: bool) -> o3.Irreps:
    """Edge harmonics up to ``lmax``: ``0e+1e+2e..`` (SE(3), the paper's default) or
    ``0e+1o+2e..`` (E(3): the true parity of the harmonics)."""
    return o3.Irreps([(1, (l, (-1) ** l if parity else 1)) for l in range(lmax + 1)])


class EquiformerBackbone(nn.Module):
    """Embeddings, ``num_layers`` transformer blocks and the final layer norm.

    ``forward(numbers (N,), edge_index (2, E), vectors (E, 3) Å) -> (N, irreps_feature.dim)``.
    ``edge_index[0]`` is the centre (receiver) and ``vectors = r_neighbour - r_centre``.
    Options: :class:`~noether.atoms.models.equiformer.config.EquiformerConfig` (or its fields as
    keywords; a config that extends it, such as the potential's, is read for these fields).
    """

    def __init__(self, config: EquiformerConfig | None = None, /, **options: Any):
        super().__init__()
        self.config = c = make_config(EquiformerConfig, config, options)
        irreps_node, irreps_mlp_mid = c.irreps_node, c.irreps_mlp_mid
        irreps_sh, parity, num_layers, cutoff = c.irreps_sh, c.parity, c.num_layers, c.cutoff
        num_basis, radial_hidden = c.num_basis, c.radial_hidden
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        node = sorted_irreps(irreps_node)
        sh = default_sh_irreps(node.lmax, parity) if irreps_sh is None else o3.Irreps(irreps_sh)
        self.irreps_node, self.irreps_sh = node, sh
        self.irreps_feature = sorted_irreps(c.irreps_feature)
        self.layout = IrrepsLayout(node)
        self.cutoff = float(cutoff)
        self.smooth_cutoff = c.smooth_cutoff
        self.basis = _basis(c.radial_basis, num_basis, cutoff)
        self.node_embedding = NodeEmbedding(node, c.num_elements)
        self.edge_embedding = EdgeDegreeEmbedding(node, sh, num_basis, radial_hidden, c.avg_degree)
        ga = c.graph_attention
        outputs = [node] * (num_layers - 1) + [self.irreps_feature]
        self.blocks = nn.ModuleList(
            TransformerBlock(
                node,
                sh,
                ga.irreps_head,
                ga.num_heads,
                irreps_mlp_mid,
                out,
                num_basis,
                tuple(radial_hidden),
                attention=ga.attention,
                nonlinear_messages=ga.nonlinear_messages,
                alpha_drop=ga.alpha_drop,
            )
            for out in outputs
        )
        self.norm = EquivariantLayerNorm(self.irreps_feature)

    def forward(self, numbers: Tensor, edge_index: Tensor, vectors: Tensor) -> Tensor:
        lengths = vectors.norm(dim=-1)
        sh = o3.spherical_harmonics(
            self.irreps_sh, vectors, normalize=True, normalization="component"
        )
        basis = self.basis(lengths)
        envelope = cosine_cutoff(lengths, self.cutoff) if self.smooth_cutoff else None
        x = self.node_embedding(numbers)
        x = x + self.edge_embedding(numbers.shape[0], edge_index, sh, basis, envelope)
        for block in self.blocks:
            x = block(x, edge_index, sh, basis, envelope)
        return self.norm(x)


def _basis(name: str, n: int, cutoff: float) -> nn.Module:
    return radial_basis(name, n, cutoff)
