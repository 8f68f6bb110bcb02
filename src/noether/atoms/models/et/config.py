"""`ETConfig`: the options of an :class:`~noether.atoms.models.et.ET` as one frozen value.

The field names are the keyword arguments ``ET`` took before it took a config, so YAML sections
(``model: {name: et, hidden: 64, ...}``), training checkpoints (a flat mapping of options) and
:func:`~noether.atoms.checkpoint.save_potential` files (``hparams``) build the same model as
``ET(ETConfig(hidden=64))`` or ``ET(hidden=64)`` (:mod:`noether.core.config`).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

import torch

from noether.atoms.potential import as_dtype

__all__ = [
    "ACTIVATION_NAMES",
    "DISTANCE_INFLUENCE",
    "HEADS",
    "Activation",
    "DistanceInfluence",
    "ETConfig",
    "Head",
]

Activation = Literal["silu", "ssp", "tanh", "sigmoid"]
DistanceInfluence = Literal["both", "keys", "values", "none"]
Head = Literal["gated", "scalar"]

ACTIVATION_NAMES: tuple[str, ...] = typing.get_args(Activation)
DISTANCE_INFLUENCE: tuple[str, ...] = typing.get_args(DistanceInfluence)
HEADS: tuple[str, ...] = typing.get_args(Head)


@dataclass(frozen=True)
class ETConfig:
    """The Equivariant Transformer's options (defaults: TorchMD-NET's MD17 recipe).

    Attributes:
        hidden: feature width ``H`` (scalars ``(N, H)``, vectors ``(N, 3, H)``); even, >= 2.
        layers: number of attention layers (>= 1).
        heads: attention heads (``hidden`` must be divisible by it).
        num_rbf: number of ExpNormal basis functions ``K``.
        cutoff: interaction cutoff in Å.
        max_z: size of the element embedding tables (atomic numbers below it are accepted).
        trainable_rbf: learn the basis centres and widths.
        neighbor_embedding: start from the neighbour embedding (paper eq. 3).
        distance_influence: where distance filters enter attention: both, keys, values or none.
        activation: activation of filters and readout.
        attn_activation: activation of attention scores (silu by default; no softmax).
        head: ``"gated"`` (gated equivariant blocks, TorchMD-NET's choice for ET) or ``"scalar"``.
        zbl_cutoff: add the ZBL screened nuclear repulsion (:class:`~noether.atoms.priors.ZBL`)
            with this cutoff in Å (in ``(0, cutoff]``); None: no ZBL prior.
        dtype: parameter dtype, float32 or float64 (``"float64"`` is accepted and converted).
        neighbor_method: see :func:`noether.atoms.neighbors.neighbor_list`.
        atomref: per-element reference energies in eV (``{"H": -13.6}``), as
            :class:`~noether.atoms.potential.Potential`; None: zeros.
        energy_scale, energy_shift: the standardisation ``scale * raw + shift`` in eV per atom (a
            training task sets them and ``atomref`` from the training split).
        elements: the elements the model was trained on (set by the atoms task); others are
            refused, as :class:`~noether.atoms.potential.Potential`. None: any up to ``max_z - 1``.

    The fast inference paths are not options of the model (they compute the same function):
    see :meth:`ET.set_inference <noether.atoms.models.et.ET.set_inference>`.
    """

    hidden: int = 128
    layers: int = 6
    heads: int = 8
    num_rbf: int = 32
    cutoff: float = 5.0
    max_z: int = 100
    trainable_rbf: bool = False
    neighbor_embedding: bool = True
    distance_influence: DistanceInfluence = "both"
    activation: Activation = "silu"
    attn_activation: Activation = "silu"
    head: Head = "gated"
    zbl_cutoff: float | None = None
    dtype: torch.dtype = torch.float32
    neighbor_method: str = "auto"
    atomref: dict[str, float] | None = None
    energy_scale: float = 1.0
    energy_shift: float = 0.0
    elements: list[str] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.dtype, str):
            object.__setattr__(self, "dtype", as_dtype(self.dtype))
        if self.hidden < 2 or self.hidden % 2:
            raise ValueError(f"hidden must be an even number of at least 2, got {self.hidden}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if self.layers < 1:
            raise ValueError(f"layers must be at least 1, got {self.layers}")
        if self.num_rbf < 1:
            raise ValueError(f"num_rbf must be at least 1, got {self.num_rbf}")
        if not self.cutoff > 0:
            raise ValueError(f"cutoff must be positive (Å), got {self.cutoff}")
        for name, value, accepted in (
            ("distance_influence", self.distance_influence, DISTANCE_INFLUENCE),
            ("activation", self.activation, ACTIVATION_NAMES),
            ("attn_activation", self.attn_activation, ACTIVATION_NAMES),
            ("head", self.head, HEADS),
        ):
            if value not in accepted:
                raise ValueError(f"unknown {name} {value!r}; accepted: {', '.join(accepted)}")
        if self.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {self.dtype}")
        if self.zbl_cutoff is not None and not 0 < self.zbl_cutoff <= self.cutoff:
            raise ValueError(
                f"zbl_cutoff must be in (0, cutoff = {self.cutoff}] Å (the ZBL prior sees the "
                f"model's neighbour list), got {self.zbl_cutoff}"
            )

    @property
    def fusable(self) -> bool:
        """Whether the hand-written layers (:mod:`~noether.atoms.models.et.fused`) compute this
        model: SiLU filters and attention, both distance filters (ET's defaults)."""
        return (
            self.activation == "silu"
            and self.attn_activation == "silu"
            and self.distance_influence == "both"
        )
