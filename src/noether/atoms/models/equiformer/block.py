"""The Equiformer transformer block, its feed-forward network, and the two input embeddings."""

from __future__ import annotations

import math

import torch
from e3nn import o3
from torch import Tensor, nn

from noether.atoms.models.equiformer.attention import GraphAttention
from noether.atoms.models.equiformer.gate import Gate
from noether.atoms.models.equiformer.irreps import IrrepsLayout
from noether.atoms.models.equiformer.linear import EquivariantLinear
from noether.atoms.models.equiformer.norm import EquivariantLayerNorm
from noether.atoms.models.equiformer.radial import RadialMLP
from noether.atoms.models.equiformer.tensor_product import SeparableTensorProduct

__all__ = ["EdgeDegreeEmbedding", "FeedForward", "NodeEmbedding", "TransformerBlock"]


class FeedForward(nn.Module):
    """``Linear → Gate → Linear`` per node: ``irreps_in -> irreps_mid -> irreps_out``."""

    def __init__(self, irreps_in, irreps_mid, irreps_out):
        super().__init__()
        self.gate = Gate(irreps_mid)
        self.linear_1 = EquivariantLinear(irreps_in, self.gate.irreps_in)
        self.linear_2 = EquivariantLinear(self.gate.irreps_out, irreps_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear_2(self.gate(self.linear_1(x)))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + GA(LN₁ x)``, then ``shortcut(x) + FFN(LN₂ x)``.

    The shortcut is the identity unless ``irreps_out`` differs from the node irreps (the last
    block, which maps to the scalar feature irreps), where it is a linear layer.
    """

    def __init__(
        self,
        irreps_node,
        irreps_sh,
        irreps_head,
        num_heads: int,
        irreps_mlp_mid,
        irreps_out,
        num_basis: int,
        radial_hidden=(64, 64),
        **attention_options,
    ):
        super().__init__()
        self.norm_1 = EquivariantLayerNorm(irreps_node)
        self.attention = GraphAttention(
            irreps_node, irreps_sh, irreps_head, num_heads, num_basis, radial_hidden,
            **attention_options,
        )  # fmt: skip
        self.norm_2 = EquivariantLayerNorm(irreps_node)
        self.ffn = FeedForward(irreps_node, irreps_mlp_mid, irreps_out)
        same = IrrepsLayout(irreps_node).irreps == IrrepsLayout(irreps_out).irreps
        self.shortcut = None if same else EquivariantLinear(irreps_node, irreps_out)

    def forward(
        self, x: Tensor, edge_index: Tensor, sh: Tensor, basis: Tensor, envelope: Tensor | None
    ) -> Tensor:
        x = x + self.attention(self.norm_1(x), edge_index, sh, basis, envelope)
        skip = x if self.shortcut is None else self.shortcut(x)
        return skip + self.ffn(self.norm_2(x))


class NodeEmbedding(nn.Module):
    """Atom type -> the ``0e`` channels of the node irreps (other blocks zero).

    The paper's one-hot ``LinearRS`` with weights multiplied by ``sqrt(n_types)``: a lookup table
    of ``N(0, 1)`` rows plus a bias.
    """

    def __init__(self, irreps_node, num_elements: int):
        super().__init__()
        self.layout = IrrepsLayout(irreps_node)
        n0 = self.layout.scalar_dim()
        self.num_elements = num_elements
        self.table = nn.Parameter(torch.randn(num_elements, n0))
        self.bias = nn.Parameter(torch.zeros(n0))

    def forward(self, numbers: Tensor) -> Tensor:
        if (
            not torch.compiler.is_compiling()
            and numbers.numel()
            and int(numbers.max()) >= self.num_elements
        ):
            bad = int(numbers.max())
            raise ValueError(
                f"atomic number {bad} is beyond this model's table; accepted: 0 to "
                f"{self.num_elements - 1} (set num_elements higher)"
            )
        scalars = self.table.index_select(0, numbers) + self.bias
        rest = scalars.new_zeros(numbers.shape[0], self.layout.dim - scalars.shape[1])
        return torch.cat([scalars, rest], dim=1)


class EdgeDegreeEmbedding(nn.Module):
    """``Σ_s Lin(DTP(c, Y_ts; w = RadialMLP(basis_ts))) / sqrt(avg_degree)``: first l>0 features.

    ``c`` is the same learned scalar vector for every atom (the paper applies a linear layer to a
    constant 1), so only the ``0e`` input paths of the depth-wise product are computed.
    """

    def __init__(self, irreps_node, irreps_sh, num_basis: int, radial_hidden, avg_degree: float):
        super().__init__()
        layout = IrrepsLayout(irreps_node)
        n0 = layout.scalar_dim()
        self.constant = nn.Parameter(torch.randn(n0))
        self.constant_bias = nn.Parameter(torch.zeros(n0))
        self.dtp = SeparableTensorProduct(
            o3.Irreps(f"{n0}x0e"), irreps_sh, layout.irreps, layout.irreps
        )
        self.radial = RadialMLP(num_basis, tuple(radial_hidden), self.dtp.weight_numel)
        self.scale = 1.0 / math.sqrt(avg_degree)

    def forward(
        self, n_nodes: int, edge_index: Tensor, sh: Tensor, basis: Tensor, envelope: Tensor | None
    ) -> Tensor:
        c = (self.constant + self.constant_bias).expand(sh.shape[0], -1)
        edge = self.dtp(c, sh, self.radial(basis))
        if envelope is not None:
            edge = edge * envelope.unsqueeze(-1)
        out = torch.zeros(n_nodes, edge.shape[1], dtype=edge.dtype, device=edge.device)
        return out.index_add(0, edge_index[0], edge) * self.scale
