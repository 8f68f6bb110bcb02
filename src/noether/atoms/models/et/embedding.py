"""ET's neighbour embedding (Thölke & De Fabritiis 2022, eq. 3).

``x_i = W_C [E(z_i) ‖ Σ_{j≠i} (W_N e(r_ij) + b_N) φ(r_ij) E'(z_j)] + b_C``: each atom starts from
its own element embedding and a cutoff-weighted, distance-filtered sum of its neighbours'.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from noether.atoms.models.et.pairs import Pairs

__all__ = ["NeighborEmbedding"]


class NeighborEmbedding(nn.Module):
    """``forward(numbers (N,), x (N, H), pairs, rbf (P, K), phi (P,)) -> (N, H)``."""

    def __init__(self, hidden: int, num_rbf: int, max_z: int):
        super().__init__()
        self.embedding = nn.Embedding(max_z, hidden)
        self.distance = nn.Linear(num_rbf, hidden)
        self.combine = nn.Linear(2 * hidden, hidden)
        nn.init.xavier_uniform_(self.distance.weight)
        nn.init.zeros_(self.distance.bias)
        nn.init.xavier_uniform_(self.combine.weight)
        nn.init.zeros_(self.combine.bias)

    def forward(self, numbers: Tensor, x: Tensor, pairs: Pairs, rbf: Tensor, phi: Tensor) -> Tensor:
        n_atoms, hidden = x.shape
        p = pairs.n_pairs
        weight = self.distance(rbf) * phi.unsqueeze(-1)  # (P, H), shared by both directions
        emb = self.embedding(numbers)
        sent = emb.index_select(0, torch.cat([pairs.b, pairs.a])).view(2, p, hidden)
        messages = (sent * weight).view(2 * p, hidden)
        gathered = x.new_zeros(n_atoms, hidden).index_add_(
            0, torch.cat([pairs.a, pairs.b]), messages
        )
        return self.combine(torch.cat([x, gathered], dim=-1))
