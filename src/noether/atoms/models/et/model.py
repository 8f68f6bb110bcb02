"""`ET`: the TorchMD-NET Equivariant Transformer as a noether :class:`Potential`.

Thölke & De Fabritiis, *Equivariant Transformers for Neural Network based Molecular Potentials*,
ICLR 2022 (arXiv 2202.02541). Element embedding plus neighbour embedding, ExpNormal radial basis
with a cosine cutoff, ``layers`` equivariant attention layers on scalar and vector features, a final
LayerNorm, and a gated-equivariant (or scalar) readout to one number per atom. The base class turns
that into energies (scale, shift, reference energies, priors), forces and stress.

Every message is multiplied by the cutoff, so energy and forces are continuous as pairs cross it.
Pure PyTorch: pairs are handled once per unordered pair, messages run on a flat edge list with
``index_select`` / ``index_add_`` or, for batches of small molecules once compiled, on dense
molecule blocks (:mod:`~noether.atoms.models.et.blocks`).
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from noether.atoms.models.et.activations import activation as get_activation
from noether.atoms.models.et.attention import EquivariantAttention
from noether.atoms.models.et.blocks import molecule_blocks, use_blocks
from noether.atoms.models.et.embedding import NeighborEmbedding
from noether.atoms.models.et.fused import EAGER, LayerKernels
from noether.atoms.models.et.heads import GatedEquivariantHead, ScalarHead
from noether.atoms.models.et.pairs import message_pairs, unordered_pairs
from noether.atoms.models.et.radial import ExpNormalBasis, cosine_cutoff
from noether.atoms.potential import Graph, Potential, compile_failed, frame_sum
from noether.atoms.priors import ZBL
from noether.core.registry import register_model

__all__ = ["ET", "HEADS"]

HEADS = ("gated", "scalar")


@register_model("et")
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
        zbl_cutoff: add the ZBL screened nuclear repulsion (:class:`~noether.atoms.priors.ZBL`)
            with this cutoff in Å (at most ``cutoff``); None: no ZBL prior.
        dtype: parameter dtype (float32 or float64).
        neighbor_method: see :func:`noether.atoms.neighbors.neighbor_list`.
        atomref, energy_scale, energy_shift: reference energies and standardisation, as
            :class:`Potential` (a training task sets them from the training split).

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
        zbl_cutoff: float | None = None,
        dtype: torch.dtype = torch.float32,
        neighbor_method: str = "auto",
        atomref: dict[str, float] | None = None,
        energy_scale: float = 1.0,
        energy_shift: float = 0.0,
    ):
        super().__init__(
            cutoff=cutoff,
            neighbor_method=neighbor_method,
            atomref=atomref,
            energy_scale=energy_scale,
            energy_shift=energy_shift,
        )
        if hidden < 2 or hidden % 2:
            raise ValueError(f"hidden must be an even number of at least 2, got {hidden}")
        if layers < 1:
            raise ValueError(f"layers must be at least 1, got {layers}")
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; accepted: {', '.join(HEADS)}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if zbl_cutoff is not None:
            if not 0 < zbl_cutoff <= cutoff:
                raise ValueError(
                    f"zbl_cutoff must be in (0, cutoff = {cutoff}] Å (the ZBL prior sees the "
                    f"model's neighbour list), got {zbl_cutoff}"
                )
            self.priors.append(ZBL(zbl_cutoff))
        act, attn_act = get_activation(activation), get_activation(attn_activation)
        self.hidden, self.max_z = hidden, max_z
        self.max_atomic_number = min(self.max_atomic_number, max_z - 1)
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
        #: None: hand-written first-order layers (:mod:`~noether.atoms.models.et.fused`) for
        #: inference, plain autograd while training or with ``create_graph``; True/False forces.
        self.fused: bool | None = None
        #: None: the fused layers run over dense molecule blocks once compiled
        #: (:meth:`compile_inference`) for small molecules; True: whenever possible; False: never.
        self.blocks: bool | None = None
        self._block_kernels: LayerKernels | None = None
        self.to(dtype)

    def forward(self, *args, create_graph: bool | None = None, **kwargs) -> dict[str, Tensor]:
        """:meth:`Potential.forward`; remembers ``create_graph`` to choose the layer kernels."""
        self._create_graph = self.training if create_graph is None else bool(create_graph)
        try:
            return super().forward(*args, create_graph=create_graph, **kwargs)
        finally:
            self._create_graph = None

    def _use_fused(self) -> bool:
        """Hand-written first-order layers for inference; plain autograd when second derivatives
        may follow (training, ``create_graph``, or a call outside :meth:`forward`) or in tracing."""
        second_order = self.training or getattr(self, "_create_graph", None) is not False
        tracing = torch.compiler.is_compiling() or torch.compiler.is_exporting()
        if self.fused is None:
            return not (second_order or tracing)
        if self.fused and second_order and torch.is_grad_enabled():
            raise RuntimeError(
                "ET.fused=True computes first derivatives only, but this call may need second "
                "derivatives (training mode or create_graph=True); set model.fused = None or False"
            )
        return self.fused

    def _use_blocks(self, n_pairs: int, batch: Tensor, n_graphs: int, pbc: Tensor) -> bool:
        """Fused layers over dense molecule blocks (:mod:`~noether.atoms.models.et.blocks`) rather
        than the edge list: no periodic images, every layer fusable, and (unless ``blocks`` is
        True) compiled kernels and small molecules (:func:`~noether.atoms.models.et.blocks.use_blocks`)."""
        if self.blocks is False or bool(pbc.any()):
            return False
        if not all(layer.can_fuse() for layer in self.layers):
            return False
        if self.blocks is True:
            return True
        return self._block_kernels is not None and use_blocks(n_pairs, batch, n_graphs)

    def compile_inference(self, **options) -> ET:
        """:meth:`Potential.compile_inference`, and for batches of small molecules the fused layers
        over molecule blocks with their two halves compiled (``torch.compile`` without scatter
        sums, which inductor's CPU code runs with atomic adds); the rest of such a call is eager."""
        super().compile_inference(**options)
        options.pop("dynamic", None)
        self._block_kernels = LayerKernels.compiled(**options)
        return self

    def _compiled_energy_from_pairs(self, *args) -> tuple[Tensor, Tensor]:
        """Molecule blocks with compiled layers, or the whole compiled graph; if compiling the
        layers fails, warn once and use the edge list from now on."""
        _, _, batch, n_graphs, _, pbc, edge_index = args[:7]
        blocks = self._use_blocks(edge_index.shape[1] // 2, batch, n_graphs, pbc)
        if not (blocks and self._use_fused()):
            return super()._compiled_energy_from_pairs(*args)
        try:
            return self.energy_from_pairs(*args)
        except Exception as error:
            if not compile_failed(error):
                raise
            warnings.warn(
                f"ET: torch.compile of the block layers failed ({type(error).__name__}); "
                "running the edge list from now on",
                RuntimeWarning,
                stacklevel=3,
            )
            self._block_kernels = None
            return super()._compiled_energy_from_pairs(*args)

    def atomic_energies(self, graph: Graph) -> Tensor:
        numbers = graph.numbers
        pairs = unordered_pairs(graph)
        p = pairs.n_pairs
        # the radial basis of every pair, then of the self pairs (r = 0)
        rbf = self.rbf(torch.cat([pairs.length, pairs.length.new_zeros(numbers.shape[0])]))
        phi = cosine_cutoff(pairs.length, self.cutoff)
        x = self.embedding(numbers)
        if self.neighbor_embedding is not None:
            x = self.neighbor_embedding(numbers, x, pairs, rbf[:p], phi)
        fused = self._use_fused()
        v = None
        if fused and self._use_blocks(p, graph.batch, graph.n_graphs, graph.pbc):
            blocks = molecule_blocks(pairs, phi, rbf[:p], rbf[p:], graph.batch, graph.n_graphs)
            kernels = self._block_kernels or EAGER
            if blocks.slots is not None:
                x = x.new_zeros(blocks.n_blocks * blocks.size, x.shape[1]).index_copy(
                    0, blocks.slots, x
                )
            for layer in self.layers:
                x, v = layer(x, v, blocks, blocks.rbf, True, kernels)
            if blocks.slots is not None:
                x, v = x.index_select(0, blocks.slots), v.index_select(0, blocks.slots)
        else:
            message = message_pairs(pairs, phi, numbers.shape[0])
            for layer in self.layers:
                x, v = layer(x, v, message, rbf, fused)
        raw = self.head(self.out_norm(x), v)
        count = frame_sum(torch.ones_like(raw), graph.batch, graph.n_graphs)
        return raw + (self.frame_offset / count)[graph.batch]
