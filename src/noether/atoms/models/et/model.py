"""`ET`: the TorchMD-NET Equivariant Transformer as a noether :class:`Potential`.

Thölke & De Fabritiis, *Equivariant Transformers for Neural Network based Molecular Potentials*,
ICLR 2022 (arXiv 2202.02541). Element embedding plus neighbour embedding, ExpNormal radial basis
with a cosine cutoff, ``layers`` equivariant attention layers on scalar and vector features, a final
LayerNorm, and a gated-equivariant (or scalar) readout to one number per atom. The base class turns
that into energies (scale, shift, reference energies, priors), forces and stress.

Every message is multiplied by the cutoff, so energy and forces are continuous as pairs cross it.
Pure PyTorch: pairs are handled once per unordered pair, messages run on a flat edge list with
``index_select`` / ``index_add_`` or, for batches of small molecules once compiled, on dense
molecule blocks (:mod:`~noether.atoms.models.et.blocks`); which of the three implementations of a
layer a call runs is the model's inference strategy (:mod:`~noether.atoms.models.et.inference`).
The options are one value, :class:`~noether.atoms.models.et.config.ETConfig`.
"""

from __future__ import annotations

import warnings
from contextvars import ContextVar
from typing import Any

import torch
from torch import Tensor, nn

from noether.atoms.models.et.activations import activation as get_activation
from noether.atoms.models.et.attention import EquivariantAttention
from noether.atoms.models.et.blocks import molecule_blocks
from noether.atoms.models.et.config import HEADS, ETConfig
from noether.atoms.models.et.embedding import NeighborEmbedding
from noether.atoms.models.et.fused import EAGER, LayerKernels, fused_layer
from noether.atoms.models.et.heads import GatedEquivariantHead, ScalarHead
from noether.atoms.models.et.inference import (
    DIFFERENTIABLE,
    CompiledPart,
    ETInference,
    Layers,
    Plan,
    SystemShape,
    choose_plan,
)
from noether.atoms.models.et.pairs import message_pairs, unordered_pairs
from noether.atoms.models.et.radial import ExpNormalBasis, cosine_cutoff
from noether.atoms.potential import Graph, Potential, compile_failed, frame_sum
from noether.atoms.priors import ZBL
from noether.core.config import config_dict, make_config
from noether.core.registry import register_model

__all__ = ["ET", "HEADS"]

#: Whether the running :meth:`ET.forward` call needs first derivatives at most (eval mode, no
#: ``create_graph``). A property of the call, not of the model: a context variable, like torch's
#: grad mode, so the module is never written during a call (and two threads may share it).
_FIRST_ORDER: ContextVar[bool] = ContextVar("et_first_order", default=False)


def _replaced(name: str, use: str) -> property:
    def refuse(self, value) -> None:
        raise AttributeError(f"ET.{name} was replaced by the inference strategy: use {use}")

    return property(None, refuse)


@register_model("et")
class ET(Potential):
    """The Equivariant Transformer potential.

    ``ET(config)``, ``ET(**options)`` or both (options replace single fields): the options are
    :class:`~noether.atoms.models.et.config.ETConfig`'s fields (width, depth, heads, basis, cutoff
    in Å, activations, readout, ZBL, dtype, and the :class:`Potential` options ``neighbor_method``,
    ``atomref``, ``energy_scale``, ``energy_shift``). ``model.config`` is that value, and
    ``model.hparams`` its plain form (what checkpoints store).

    Inference (eval mode, no ``create_graph``) runs the strategy ``model.inference``
    (:class:`~noether.atoms.models.et.inference.ETInference`), set once with
    :meth:`set_inference` or :meth:`compile_inference`; each call's layout follows from it and
    the call's shape (:func:`~noether.atoms.models.et.inference.choose_plan`). Training and
    calls with ``create_graph=True`` run the differentiable layers.

    Buffers: ``frame_offset`` (raw units per frame, 0 unless converted from TorchMD-NET, whose
    energy adds its ``mean`` once per molecule) is added to each atom as ``offset / n_atoms``.
    """

    def __init__(self, config: ETConfig | None = None, /, **options: Any):
        config = make_config(ETConfig, config, options)
        super().__init__(
            cutoff=config.cutoff,
            neighbor_method=config.neighbor_method,
            atomref=config.atomref,
            elements=config.elements,
            energy_scale=config.energy_scale,
            energy_shift=config.energy_shift,
        )
        self.config = config
        hidden, num_rbf, max_z = config.hidden, config.num_rbf, config.max_z
        if config.zbl_cutoff is not None:
            self.priors.append(ZBL(config.zbl_cutoff))
        act = get_activation(config.activation)
        attn_act = get_activation(config.attn_activation)
        self.max_atomic_number = min(self.max_atomic_number, max_z - 1)
        self.embedding = nn.Embedding(max_z, hidden)
        self.rbf = ExpNormalBasis(num_rbf, config.cutoff, trainable=config.trainable_rbf)
        self.neighbor_embedding = (
            NeighborEmbedding(hidden, num_rbf, max_z) if config.neighbor_embedding else None
        )
        self.layers = nn.ModuleList(
            EquivariantAttention(
                hidden, config.heads, num_rbf, act, attn_act, config.distance_influence
            )
            for _ in range(config.layers)
        )
        self.out_norm = nn.LayerNorm(hidden)
        self.head = (GatedEquivariantHead if config.head == "gated" else ScalarHead)(hidden, act)
        self.register_buffer("frame_offset", torch.zeros(()))
        self._inference = ETInference()
        self._block_kernels: LayerKernels | None = None  # compiled halves of the block layers
        self.to(config.dtype)

    def element_parameters(self) -> list[str]:
        """The element embedding and the neighbour embedding's table, ``(max_z, hidden)``."""
        names = ["embedding.weight"]
        if self.neighbor_embedding is not None:
            names.append("neighbor_embedding.embedding.weight")
        return names

    @property
    def hparams(self) -> dict:
        """The config as plain values under the constructor's option names (for checkpoints)."""
        out = config_dict(self.config)
        out["dtype"] = str(out["dtype"])
        return out

    @property
    def message_hops(self) -> int:
        """One hop per attention layer, and one for the neighbour embedding."""
        return self.config.layers + int(self.config.neighbor_embedding)

    # ---------------------------------------------------------------------- the strategy
    @property
    def inference(self) -> ETInference:
        """The inference strategy (read-only: set it with :meth:`set_inference` or
        :meth:`compile_inference`)."""
        return self._inference

    @inference.setter
    def inference(self, value: ETInference) -> None:
        raise AttributeError(
            "ET.inference is set once at an entry point: model.set_inference(layers, "
            "compile=...) or model.compile_inference()"
        )

    # the switches this strategy replaced: setting one says what to call instead
    fused = _replaced("fused", "model.set_inference(layers='fused') or layers='eager'")
    blocks = _replaced("blocks", "model.set_inference(layers='blocks')")

    def set_inference(
        self, layers: Layers | None = None, *, compile: bool = False, **options: Any
    ) -> ET:
        """Choose, once, how inference calls run; returns ``self``.

        Args:
            layers: ``"eager"`` (plain autograd layers), ``"fused"`` (hand-written first-order
                layers over the edge list), ``"blocks"`` (the same over dense molecule blocks;
                periodic frames keep the edge list), or None: chosen per call from its shape
                (:func:`~noether.atoms.models.et.inference.choose_plan`).
            compile: run through ``torch.compile`` (``options`` go to it): eager layers as one
                compiled graph with dynamic shapes (:meth:`Potential.compile_inference`), block
                layers with their two halves compiled. Compiling happens at the first call of
                each kind; if it fails the model warns once, records the part in
                ``inference.failed`` and runs it eager from then on.
        """
        inference = ETInference(layers, compile)
        if layers in ("fused", "blocks") and not self.config.fusable:
            raise ValueError(
                f"ET: layers={layers!r} needs SiLU activations and both distance filters; this "
                f"model has activation={self.config.activation!r}, attn_activation="
                f"{self.config.attn_activation!r}, distance_influence="
                f"{self.config.distance_influence!r}; use layers='eager' or None"
            )
        if compile:
            super().compile_inference(**options)
            options.pop("dynamic", None)
            self._block_kernels = LayerKernels.compiled(**options)
        else:
            self._compiled_energy = None
            self._block_kernels = None
        self._inference = inference
        return self

    def compile_inference(self, **options: Any) -> ET:
        """:meth:`Potential.compile_inference` for ET: ``set_inference(layers, compile=True)``
        keeping the chosen layers. With ``layers=None``, batches of small molecules run the
        fused layers over molecule blocks with their two halves compiled (``torch.compile``
        without scatter sums, which inductor's CPU code runs with atomic adds; the rest of such
        a call is eager), other calls the whole model as one compiled graph."""
        return self.set_inference(self.inference.layers, compile=True, **options)

    def plan(self, batch: Tensor, n_graphs: int, n_pairs: int, pbc: Tensor) -> Plan:
        """The :class:`~noether.atoms.models.et.inference.Plan` of a call inside :meth:`forward`
        with this system (``n_pairs`` unordered pairs); reads, never writes, the model."""
        if torch.compiler.is_compiling() or torch.compiler.is_exporting():
            return DIFFERENTIABLE  # a traced graph is compiled or exported as a whole
        if self.training or not _FIRST_ORDER.get():
            return DIFFERENTIABLE
        system = SystemShape.of(batch, n_graphs, n_pairs, pbc)
        return choose_plan(self.inference, system, first_order=True, fusable=self.config.fusable)

    # -------------------------------------------------------------------------- calls
    def forward(self, *args, create_graph: bool | None = None, **kwargs) -> dict[str, Tensor]:
        """:meth:`Potential.forward`. A call that may need second derivatives (training mode or
        ``create_graph=True``) runs the differentiable layers, any other the strategy's plan."""
        differentiable = self.training if create_graph is None else bool(create_graph)
        token = _FIRST_ORDER.set(not differentiable)
        try:
            return super().forward(*args, create_graph=create_graph, **kwargs)
        finally:
            _FIRST_ORDER.reset(token)

    def _compiled_energy_from_pairs(self, *args) -> tuple[Tensor, Tensor]:
        """The first-order calls of a compiled model: by the plan, the whole compiled graph, or
        an eager call whose block layers are compiled; a compiled part that fails to compile is
        recorded in ``inference.failed`` (with one warning) and the call is planned again."""
        _, _, batch, n_graphs, _, pbc, edge_index = args[:7]
        plan = self.plan(batch, n_graphs, edge_index.shape[1] // 2, pbc)
        part: CompiledPart | None = None
        if plan.compiled:
            part = "graph" if plan.layers == "eager" else "blocks"
        try:
            if part == "graph":
                return self._compiled_energy(self, *args)
            return self.energy_from_pairs(*args)
        except Exception as error:
            if part is None or not compile_failed(error):
                raise
            what = "model" if part == "graph" else "block layers"
            warnings.warn(
                f"ET: torch.compile of the {what} failed ({type(error).__name__}); running them "
                f"eager from now on (model.inference.failed records it)",
                RuntimeWarning,
                stacklevel=3,
            )
            self._inference = self._inference.without(part)
            return self._compiled_energy_from_pairs(*args)

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
        plan = self.plan(graph.batch, graph.n_graphs, p, graph.pbc)
        v = None
        if plan.layers == "blocks":
            blocks = molecule_blocks(pairs, phi, rbf[:p], rbf[p:], graph.batch, graph.n_graphs)
            kernels = self._block_kernels if plan.compiled and self._block_kernels else EAGER
            if blocks.slots is not None:  # (N, H) -> (B n, H), padded
                x = x.new_zeros(blocks.n_blocks * blocks.size, x.shape[1]).index_copy(
                    0, blocks.slots, x
                )
            for layer in self.layers:
                x, v = fused_layer(layer, x, v, blocks, blocks.rbf, kernels)
            if blocks.slots is not None:
                x, v = x.index_select(0, blocks.slots), v.index_select(0, blocks.slots)
        else:
            message = message_pairs(pairs, phi, numbers.shape[0])
            for layer in self.layers:
                if plan.layers == "fused":
                    x, v = fused_layer(layer, x, v, message, rbf)
                else:
                    x, v = layer(x, v, message, rbf)
        raw = self.head(self.out_norm(x), v)
        count = frame_sum(torch.ones_like(raw), graph.batch, graph.n_graphs)
        return raw + (self.frame_offset / count)[graph.batch]
