"""Training FLOPs of the study's models, analytically, and the measurement they are checked against.

The compute axis of the scaling laws is the number of floating-point operations of the forward
and backward passes, counted as matrix products (``2 m n k`` for an ``(m, k) @ (k, n)`` product),
the convention of :class:`torch.utils.flop_counter.FlopCounterMode` and of the scaling-law
literature. Elementwise work (norms, activations, softmax) is not counted. The counts follow what
autograd runs: a backward pass computes the gradient of every weight and of every input that
needs one, so a linear layer costs ``2 n i o`` forward and ``4 n i o`` backward, except the first
layer (its input needs no gradient: ``2 n i o``). Attention is counted as its two batched
products ``Q K^T`` and ``A V`` forward and four backward (the plain "math" schedule; fused kernels
that recompute the scores do one more product backward).

For GATr two counts are given (see :func:`gatr_flops`):

- ``dense``: the nominal count of the reference GATr, in which every equivariant linear map of a
  channel pair is a dense ``16 x 16`` block and every bilinear product a dense ``16^3`` contraction.
  This is the convention of the compute budgets in "Does equivariance matter at scale?".
- ``structured``: what noether's kernels do, the non-zero entries only: 24 of the 256 entries of
  a linear block in PGA, 192 terms for the geometric product and 81 (PGA) for the join.

:func:`measure_flops` runs a model under ``FlopCounterMode`` (math attention, so that attention
is visible to the counter) and the tests compare it with these formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

__all__ = [
    "Flops",
    "count_linear",
    "measure_flops",
    "training_flops",
    "transformer_flops",
]


@dataclass
class Flops:
    """FLOPs of one forward and one backward pass, by part (``"linear"``, ``"attention"``...)."""

    forward: dict[str, float] = field(default_factory=dict)
    backward: dict[str, float] = field(default_factory=dict)

    def add(self, part: str, forward: float, backward: float) -> None:
        self.forward[part] = self.forward.get(part, 0.0) + forward
        self.backward[part] = self.backward.get(part, 0.0) + backward

    @property
    def total_forward(self) -> float:
        return float(sum(self.forward.values()))

    @property
    def total_backward(self) -> float:
        return float(sum(self.backward.values()))

    @property
    def total(self) -> float:
        """Forward plus backward: the FLOPs of one training step."""
        return self.total_forward + self.total_backward

    def scaled(self, factor: float) -> Flops:
        return Flops(
            {k: v * factor for k, v in self.forward.items()},
            {k: v * factor for k, v in self.backward.items()},
        )


def count_linear(
    flops: Flops, rows: int, fan_in: int, fan_out: int, *, input_grad: bool, part: str = "linear"
) -> None:
    """A matrix product ``(rows, fan_in) @ (fan_in, fan_out)`` with a trained weight."""
    f = 2.0 * rows * fan_in * fan_out
    flops.add(part, f, f * (2 if input_grad else 1))


def count_attention(
    flops: Flops, batch_heads: int, tq: int, tk: int, width_qk: int, width_v: int
) -> None:
    """Softmax attention: ``Q K^T`` and ``A V`` forward, their four gradients backward."""
    scores = 2.0 * batch_heads * tq * tk * width_qk
    mix = 2.0 * batch_heads * tq * tk * width_v
    flops.add("attention", scores + mix, 2 * (scores + mix))


def transformer_flops(model: nn.Module, batch: int, tokens: int) -> Flops:
    """FLOPs of the Transformer baseline (:class:`noether.gatr.nets.transformer.Transformer`,
    without augmentation) on ``batch`` samples of ``tokens`` tokens (padding tokens included:
    they are computed)."""
    n = batch * tokens
    flops = Flops()
    count_linear(flops, n, model.embed.in_features, model.embed.out_features, input_grad=False)
    for block in model.blocks:
        c = block.out.out_features
        count_linear(flops, n, c, block.qkv.out_features, input_grad=True)
        count_attention(flops, batch * block.num_heads, tokens, tokens, block.head, block.head)
        count_linear(flops, n, block.out.in_features, c, input_grad=True)
        for layer in block.mlp:
            if isinstance(layer, nn.Linear):
                count_linear(flops, n, layer.in_features, layer.out_features, input_grad=True)
    readout = model.readout
    count_linear(flops, n, readout.in_features, readout.out_features, input_grad=True)
    return flops


def training_flops(model: nn.Module, batch: int, tokens: int, *, mode: str = "structured") -> Flops:
    """FLOPs of one training step of a study model (``rigid-gatr`` or ``rigid-transformer``).

    ``mode`` (GATr only): ``"dense"`` (the reference's nominal count) or ``"structured"``.
    """
    from noether.sims.rigid.models import RigidGATr, RigidTransformer

    if isinstance(model, RigidTransformer):
        return transformer_flops(model.net, batch, tokens)
    if isinstance(model, RigidGATr):
        from noether.studies.scaling.gatr_flops import gatr_flops

        return gatr_flops(model.net, batch, tokens, mode=mode)
    raise TypeError(
        f"no FLOP formula for {type(model).__name__}; accepted: RigidGATr, RigidTransformer"
    )


def measure_flops(step: Callable[[], Tensor]) -> tuple[int, int]:
    """``(forward, backward)`` FLOPs that ``FlopCounterMode`` sees when ``step()`` computes a loss
    and the loss is back-propagated.

    Attention runs on the math backend (visible to the counter; the fused CPU kernel is not
    registered with it). In-place products are counted with torch's formulas for their
    functional forms. Batched dot products (``bmm`` with ``1 x 1`` output matrices, which is how
    ``einsum`` runs reductions such as the squared norms of a layer norm) are not counted: they
    are elementwise work, which the convention leaves out."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    mapping = _in_place_formulas()
    with sdpa_kernel(SDPBackend.MATH):
        with FlopCounterMode(display=False, custom_mapping=mapping) as forward:
            loss = step()
        with FlopCounterMode(display=False, custom_mapping=mapping) as backward:
            loss.backward()
    return forward.get_total_flops(), backward.get_total_flops()


def _in_place_formulas() -> dict:
    """Torch's own formulas for the in-place products its counter does not register
    (``y.baddbmm_(a, b)``, ``y.addmm_(a, b)``: GATr's sparse linear map accumulates in place),
    and ``bmm`` without batched dot products."""
    from torch.utils.flop_counter import flop_registry

    aten = torch.ops.aten
    out = {}
    for in_place, functional in ((aten.baddbmm_, aten.baddbmm), (aten.addmm_, aten.addmm)):
        formula = flop_registry[functional]

        def raw(*args, _formula=formula, **kwargs):
            return _formula(*args, **kwargs)

        raw._get_raw = True  # already shape-wrapped by torch
        out[in_place] = raw

    def bmm(a_shape, b_shape, *args, **kwargs) -> int:
        batch, m, k = a_shape
        n = b_shape[-1]
        return 0 if m == 1 and n == 1 else 2 * batch * m * n * k

    out[aten.bmm] = bmm
    return out
