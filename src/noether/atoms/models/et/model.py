"""`ET`: the TorchMD-NET Equivariant Transformer as a noether :class:`Potential`.

Thölke & De Fabritiis, *Equivariant Transformers for Neural Network based Molecular Potentials*,
ICLR 2022 (arXiv 2202.02541). Element embedding plus neighbour embedding, ExpNormal radial basis
with a cosine cutoff, ``layers`` equivariant attention layers on scalar and vector features, a final
LayerNorm, and a gated-equivariant (or scalar) readout to one number per atom. The base class turns
that into energies (scale, shift, reference energies, priors), forces and stress.

Every message is multiplied by the cutoff, so energy and forces are continuous as pairs cross it.
Pure PyTorch: pairs are handled once per unordered pair, messages run on a flat edge list with
``index_select`` / ``index_add_``, and all layers' distance filters come from one matrix product.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from noether.atoms.models.et.activations import activation as get_activation
from noether.atoms.models.et.attention import EquivariantAttention
from noether.atoms.models.et.embedding import NeighborEmbedding
from noether.atoms.models.et.heads import GatedEquivariantHead, ScalarHead
from noether.atoms.models.et.pairs import unordered_pairs
from noether.atoms.models.et.radial import ExpNormalBasis, cosine_cutoff
from noether.atoms.potential import Graph, Potential

__all__ = ["ET", "HEADS"]

HEADS = ("gated", "scalar")


class ET(Potential):
    """The Equivariant Transformer potential.

    Args:
        hidden: feature width ``H`` (scalars ``(N, H)``, vectors ``(N, 3, H)``).
        layers: number of attention layers.
        heads: attention heads (``H`` must be divisible by it).
        num_rbf: ExpNormal basis functions.
        cutoff: interaction cutoff in Å.
        max_z: size of the element embedding tables (atomic numbers below it are accepted).
        trainable_rbf: learn the basis centres and widths.
        neighbor_embedding: start from the neighbour embedding (paper eq. 3).
        distance_influence: where distance filters enter attention: both, keys, values or none.
        activation: activation of filters and readout (silu, ssp, tanh, sigmoid).
        attn_activation: activation of attention scores (silu by default; no softmax).
        head: ``"gated"`` (gated equivariant blocks, TorchMD-NET's choice for ET) or ``"scalar"``.
        dtype: parameter dtype (float32 or float64).
        neighbor_method: see :func:`noether.atoms.neighbors.neighbor_list`.

    Buffers: ``frame_offset`` (raw units per frame, 0 unless converted from TorchMD-NET, whose
    energy adds its ``mean`` once per molecule) is added to each atom as ``offset / n_atoms``.
    """

    def __init__(
        self,
        hidden: int = 128,
        layers: int = 6,
        heads: int = 8,
        num_rbf: int = 32,
        cutoff: float = 5.0,
        *,
        max_z: int = 100,
        trainable_rbf: bool = False,
        neighbor_embedding: bool = True,
        distance_influence: str = "both",
        activation: str = "silu",
        attn_activation: str = "silu",
        head: str = "gated",
        dtype: torch.dtype = torch.float32,
        neighbor_method: str = "auto",
    ):
        super().__init__(cutoff=cutoff, neighbor_method=neighbor_method)
        if hidden < 2 or hidden % 2:
            raise ValueError(f"hidden must be an even number of at least 2, got {hidden}")
        if layers < 1:
            raise ValueError(f"layers must be at least 1, got {layers}")
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; accepted: {', '.join(HEADS)}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        act, attn_act = get_activation(activation), get_activation(attn_activation)
        self.hidden, self.max_z = hidden, max_z
        self.act = act
        self.embedding = nn.Embedding(max_z, hidden)
        self.rbf = ExpNormalBasis(num_rbf, cutoff, trainable=trainable_rbf)
        self.neighbor_embedding = (
            NeighborEmbedding(hidden, num_rbf, max_z) if neighbor_embedding else None
        )
        self.layers = nn.ModuleList(
            EquivariantAttention(hidden, heads, num_rbf, act, attn_act, distance_influence)
            for _ in range(layers)
        )
        self.out_norm = nn.LayerNorm(hidden)
        self.head = (GatedEquivariantHead if head == "gated" else ScalarHead)(hidden, act)
        self.register_buffer("frame_offset", torch.zeros(()))
        self.to(dtype)

    def atomic_energies(self, graph: Graph) -> Tensor:
        numbers = graph.numbers
        if numbers.numel() and int(numbers.max()) >= self.max_z:
            k = int(torch.argmax(numbers))
            raise ValueError(
                f"atom {k}: atomic number {int(numbers[k])} is beyond this model's embedding "
                f"(max_z={self.max_z}); accepted: 1 to {self.max_z - 1}"
            )
        pairs = unordered_pairs(graph)
        p = pairs.n_pairs
        rbf = self.rbf(torch.cat([pairs.length, pairs.length.new_zeros(1)]))  # (P + 1, K)
        phi = cosine_cutoff(pairs.length, self.cutoff)
        x = self.embedding(numbers)
        if self.neighbor_embedding is not None:
            x = self.neighbor_embedding(numbers, x, pairs, rbf[:p], phi)
        filters = self._filters(rbf)
        v = None
        for layer, (dk, dv) in zip(self.layers, filters):
            x, v = layer(x, v, pairs, phi, dk, dv)
        raw = self.head(self.out_norm(x), v)
        count = raw.new_zeros(graph.n_graphs).index_add_(0, graph.batch, torch.ones_like(raw))
        return raw + (self.frame_offset / count)[graph.batch]

    def _filters(self, rbf: Tensor) -> list[tuple[Tensor | None, Tensor | None]]:
        """Every layer's ``(dk (P+1, H), dv (P+1, 3H))`` from one matrix product over the pairs."""
        linears = [lin for layer in self.layers for lin in layer.filter_layers()]
        if not linears:
            return [(None, None)] * len(self.layers)
        weight = torch.cat([lin.weight for lin in linears])
        bias = torch.cat([lin.bias for lin in linears])
        out = self.act(F.linear(rbf, weight, bias))
        filters, start = [], 0
        for layer in self.layers:
            pair = []
            for lin in (layer.dk, layer.dv):
                if lin is None:
                    pair.append(None)
                    continue
                width = lin.out_features
                pair.append(out[:, start : start + width])
                start += width
            filters.append(tuple(pair))
        return filters
