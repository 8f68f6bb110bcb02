"""`Equiformer`: the potential (energy, forces, stress through :class:`Potential`) and
`EquiformerProperties`: graph-level scalar properties (QM9-style targets).

The defaults are the paper's MD17 recipe with L_max = 2: node irreps ``128x0e+64x1e+32x2e``,
6 blocks, 4 heads of ``32x0e+16x1e+8x2e``, FFN ``384x0e+192x1e+96x2e``, final ``512x0e``,
ExpNormal basis (K=32) with a 5 Å cosine cutoff, radial MLP [64, 64], MLP attention with
non-linear messages, SE(3) features (``parity=False``). :data:`PRESETS` holds this and smaller
configurations.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from noether.atoms.models.equiformer.backbone import EquiformerBackbone
from noether.atoms.models.equiformer.config import (
    EquiformerConfig,
    EquiformerPotentialConfig,
    EquiformerPropertiesConfig,
)
from noether.atoms.models.equiformer.gate import NormalizedActivation
from noether.atoms.models.equiformer.linear import EquivariantLinear
from noether.atoms.neighbors import edge_vectors, neighbor_list
from noether.atoms.potential import Graph, Potential, as_dtype
from noether.core.config import config_repr, make_config
from noether.core.registry import register_model

__all__ = [
    "PRESETS",
    "Equiformer",
    "EquiformerConfig",
    "EquiformerPotentialConfig",
    "EquiformerProperties",
    "EquiformerPropertiesConfig",
    "preset",
]

_E3 = dict(
    irreps_node="128x0e+32x0o+32x1e+32x1o+16x2e+16x2o",
    irreps_head="32x0e+8x0o+8x1e+8x1o+4x2e+4x2o",
    irreps_mlp_mid="384x0e+96x0o+96x1e+96x1o+48x2e+48x2o",
    parity=True,
)

#: Named configurations (keyword arguments of :class:`Equiformer`).
PRESETS: dict[str, dict[str, Any]] = {
    # The paper's MD17 recipe, L_max = 2 (graph_attention_transformer_nonlinear_exp_l2_md17).
    "md17": {},
    # The paper's E(3) variant of the same size.
    "md17-e3": dict(_E3),
    # The paper's MD17 recipe, L_max = 3.
    "md17-l3": dict(
        irreps_node="128x0e+64x1e+64x2e+32x3e",
        irreps_head="32x0e+16x1e+16x2e+8x3e",
        irreps_mlp_mid="384x0e+192x1e+192x2e+96x3e",
    ),
    # The paper's QM9 recipe (Gaussian basis, K=128, attention dropout 0.2).
    "qm9": dict(radial_basis="gaussian", num_basis=128, alpha_drop=0.2),
    # CPU-sized: same structure, a quarter of the channels, 4 blocks.
    "small": dict(
        irreps_node="32x0e+16x1e+8x2e",
        irreps_head="16x0e+8x1e+4x2e",
        num_heads=2,
        irreps_mlp_mid="96x0e+48x1e+24x2e",
        irreps_feature="128x0e",
        num_layers=4,
        radial_hidden=(32, 32),
    ),
    # Test-sized.
    "tiny": dict(
        irreps_node="8x0e+4x1e+2x2e",
        irreps_head="4x0e+2x1e+2x2e",
        num_heads=2,
        irreps_mlp_mid="16x0e+8x1e+4x2e",
        irreps_feature="16x0e",
        num_layers=2,
        num_basis=8,
        radial_hidden=(16,),
    ),
}


def _model_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """float32 or float64 from a name or a torch dtype (torch's default dtype is never changed)."""
    resolved = as_dtype(dtype)
    if resolved not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return resolved


def preset(name: str, **overrides: Any) -> dict[str, Any]:
    """The keyword arguments of preset ``name`` with ``overrides`` applied."""
    if name not in PRESETS:
        raise ValueError(f"unknown Equiformer preset {name!r}; accepted: {', '.join(PRESETS)}")
    return {**PRESETS[name], **overrides}


class _ScalarHead(nn.Module):
    """``Linear(feature → feature) → SiLU → Linear(feature → n_out)`` per atom."""

    def __init__(self, irreps_feature, n_out: int):
        super().__init__()
        self.linear_1 = EquivariantLinear(irreps_feature, irreps_feature)
        self.act = NormalizedActivation("silu")
        self.linear_2 = EquivariantLinear(irreps_feature, f"{n_out}x0e")

    def forward(self, x: Tensor) -> Tensor:
        return self.linear_2(self.act(self.linear_1(x)))


@register_model("equiformer")
class Equiformer(Potential):
    """Equiformer interatomic potential: ``atomic_energies(graph) -> (N,)``; energies, forces
    (``-dE/dr``, double backward when training) and stress come from :class:`Potential`.

    Options (:class:`~noether.atoms.models.equiformer.config.EquiformerPotentialConfig`, or an
    :class:`~noether.atoms.models.equiformer.config.EquiformerConfig` and the potential's fields,
    or all of them as keywords):
        irreps_node: node feature irreps (e3nn notation; ``e``/``o`` parities).
        irreps_head, num_heads: irreps of one attention head and the number of heads.
        irreps_mlp_mid: hidden irreps of the feed-forward network (before the gate's extras).
        irreps_feature: output irreps of the last block (scalars only).
        irreps_sh: edge harmonics; default ``0e+1e+..`` up to the node L_max (``0e+1o+2e..`` when
            ``parity``).
        parity: E(3) instead of SE(3) (needs odd irreps in ``irreps_node`` to be useful).
        num_layers: transformer blocks. cutoff: Å.
        radial_basis: 'expnorm', 'gaussian' or 'bessel'; num_basis: its size.
        radial_hidden: hidden widths of the radial MLPs.
        attention: 'mlp' (paper) or 'dot'; nonlinear_messages: the paper's value path.
        alpha_drop: dropout on attention weights.
        num_elements: size of the atom-type table (atomic numbers 0..num_elements-1).
        avg_degree: neighbours per atom used to scale the edge-degree embedding.
        smooth_cutoff: envelope on attention and messages (continuous forces at the cutoff).
        neighbor_method: see :func:`noether.atoms.neighbors.neighbor_list`.
        atomref, energy_scale, energy_shift: see :class:`~noether.atoms.Potential` (set by the
            training task from the training split).
        dtype: the model's floating dtype, ``"float32"`` or ``"float64"``.
    """

    def __init__(self, config: EquiformerPotentialConfig | None = None, /, **options: Any):
        c = make_config(EquiformerPotentialConfig, config, options)
        super().__init__(
            c.cutoff, neighbor_method=c.neighbor_method, atomref=c.atomref, elements=c.elements,
            energy_scale=c.energy_scale, energy_shift=c.energy_shift,
        )  # fmt: skip
        self.config = c
        self.backbone = EquiformerBackbone(c)
        self.head = _ScalarHead(self.backbone.irreps_feature, 1)
        self.max_atomic_number = min(self.max_atomic_number, c.num_elements - 1)
        self.to(_model_dtype(c.dtype))

    def element_parameters(self) -> list[str]:
        """The node embedding's table of atom types, ``(num_elements, scalar channels)``."""
        return ["backbone.node_embedding.table"]

    def extra_repr(self) -> str:
        return config_repr(self.config)

    @property
    def message_hops(self) -> int:
        """One hop per block, and one for the edge-degree embedding (a node's embedding sums
        over its edges, which its neighbours' first block then reads)."""
        return self.config.num_layers + 1

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> Equiformer:
        """``Equiformer(**preset(name, **overrides))``."""
        return cls(**preset(name, **overrides))

    def atomic_energies(self, graph: Graph) -> Tensor:
        features = self.backbone(graph.numbers, graph.edge_index, graph.vectors)
        return self.head(features).squeeze(-1)


@register_model("equiformer-properties")
class EquiformerProperties(nn.Module):
    """Graph-level scalar properties (HOMO-LUMO gap, |dipole|, energy, ...) of molecules.

    ``forward(numbers (N,), positions (N, 3) Å, batch (N,) | None) -> (G, n_targets)`` in the
    targets' own units: per-atom outputs are pooled (``reduce``: 'sum' or 'mean') and mapped back
    through ``target_mean + target_std * y``. Options:
    :class:`~noether.atoms.models.equiformer.config.EquiformerPropertiesConfig` (the architecture
    of :class:`Equiformer` and the read-out), or its fields as keywords.
    """

    def __init__(self, config: EquiformerPropertiesConfig | None = None, /, **options: Any):
        super().__init__()
        self.config = c = make_config(EquiformerPropertiesConfig, config, options)
        n_targets, target_mean, target_std = c.n_targets, c.target_mean, c.target_std
        if c.reduce not in ("sum", "mean"):
            raise ValueError(f"reduce must be 'sum' or 'mean', got {c.reduce!r}")
        self.backbone = EquiformerBackbone(c)
        self.cutoff = self.backbone.cutoff
        self.neighbor_method = c.neighbor_method
        self.reduce = c.reduce
        self.head = _ScalarHead(self.backbone.irreps_feature, n_targets)
        self.register_buffer("mean", torch.zeros(n_targets))
        self.register_buffer("std", torch.ones(n_targets))
        if target_mean is not None or target_std is not None:
            self.set_standardization(
                torch.tensor(target_mean if target_mean is not None else [0.0] * n_targets),
                torch.tensor(target_std if target_std is not None else [1.0] * n_targets),
            )
        self.to(_model_dtype(c.dtype))

    def extra_repr(self) -> str:
        return config_repr(self.config)

    def set_standardization(self, mean: Tensor, std: Tensor) -> None:
        """Targets are predicted as ``mean + std * raw``."""
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.std.copy_(torch.as_tensor(std, dtype=self.std.dtype))

    def raw(self, numbers: Tensor, positions: Tensor, batch: Tensor | None = None) -> Tensor:
        """``(G, n_targets)`` standardised predictions (what the loss compares)."""
        if positions.ndim != 2 or positions.shape[-1] != 3:
            raise ValueError(
                f"positions must have shape (n_atoms, 3), got {tuple(positions.shape)}"
            )
        if numbers.shape != positions.shape[:1]:
            raise ValueError(
                f"numbers has shape {tuple(numbers.shape)}, expected ({positions.shape[0]},)"
            )
        dtype = self.mean.dtype
        positions = positions.to(dtype)
        if batch is None:
            batch = torch.zeros_like(numbers)
        n_graphs = int(batch.max()) + 1 if batch.numel() else 1
        edge_index, shifts = neighbor_list(
            positions, self.cutoff, batch, method=self.neighbor_method
        )
        cell = positions.new_zeros(n_graphs, 3, 3)
        vectors = edge_vectors(positions, edge_index, shifts, cell, batch)
        per_atom = self.head(self.backbone(numbers, edge_index, vectors))
        out = per_atom.new_zeros(n_graphs, per_atom.shape[1]).index_add(0, batch, per_atom)
        if self.reduce == "mean":
            counts = torch.bincount(batch, minlength=n_graphs).clamp(min=1).to(out.dtype)
            out = out / counts[:, None]
        return out

    def forward(self, numbers: Tensor, positions: Tensor, batch: Tensor | None = None) -> Tensor:
        return self.mean + self.std * self.raw(numbers, positions, batch)
