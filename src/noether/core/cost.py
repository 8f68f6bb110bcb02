"""What a model costs, measured: parameters, executed floating-point operations, time per call.

The measurement, not a formula (that is :mod:`noether.gatr.flops`): FLOPs are counted on the
operations a model actually executes (a ``TorchDispatchMode`` sees every aten call of forward
and backward), so sparse algebra kernels are counted at their real cost, not as the dense
``dim x dim`` blocks of a reference implementation. In-place and ``out=`` forms count as their
functional forms (``addcmul_``, ``baddbmm_``, ``mul(out=)``):

- matrix products and attention: exact, by torch's own formulas (``torch.utils.flop_counter``),
  plus the CPU flash-attention kernels, which that registry lacks: ``4 B H L S D`` forward and
  twice that backward;
- pointwise arithmetic: one FLOP per output element, two for fused multiply-adds (``addcmul``),
  activation and normalisation backward passes two;
- reductions (``sum``, ``mean``, norms): one FLOP per input element.

Copies, gathers, concatenation and comparisons count nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

__all__ = ["PRODUCTS", "count_flops", "count_parameters", "time_per_call"]

aten = torch.ops.aten

_ONE = {
    aten.add, aten.sub, aten.rsub, aten.mul, aten.div, aten.reciprocal, aten.sqrt, aten.rsqrt,
    aten.exp, aten.log, aten.tanh, aten.sigmoid, aten.pow, aten.gelu, aten.silu, aten.relu,
    aten.erf, aten.sin, aten.cos, aten.abs, aten.sgn, aten.neg, aten.clamp_min, aten.clamp,
    aten.square, aten._softmax, aten.log_sigmoid_forward,
}  # fmt: skip
_TWO = {
    aten.addcmul, aten.addcdiv, aten.lerp, aten.gelu_backward, aten.silu_backward,
    aten.sigmoid_backward, aten.tanh_backward, aten.threshold_backward,
    aten._softmax_backward_data, aten.mse_loss, aten.mse_loss_backward,
}  # fmt: skip
_REDUCE = {aten.sum, aten.mean, aten.linalg_vector_norm, aten.norm, aten.prod}
_LAYER_NORM = {aten.native_layer_norm: 5, aten.native_layer_norm_backward: 8}
_CPU_ATTENTION = {
    "_scaled_dot_product_flash_attention_for_cpu": 1,
    "_scaled_dot_product_flash_attention_for_cpu_backward": 2,
}
PRODUCTS = frozenset(
    {"mm", "addmm", "bmm", "baddbmm", "matmul", "convolution", "convolution_backward"}
    | {name for name in _CPU_ATTENTION}
    | {"_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention"}
)
"""The aten operations that are matrix products (``by_op`` keys): the part of a measurement
that :mod:`noether.gatr.flops` predicts."""


def _numel(value) -> int:
    if isinstance(value, Tensor):
        return value.numel()
    if isinstance(value, list | tuple):
        return sum(_numel(v) for v in value)
    return 0


def _attention_flops(args: tuple, factor: int) -> int:
    """``4 B H L S D`` for q ``(B, H, L, D)`` and k ``(B, H, S, D)`` (backward: ``factor`` 2)."""
    offset = 1 if factor == 2 else 0  # the backward takes the output gradient first
    q, k = args[offset], args[offset + 1]
    *batch, length, dim = q.shape
    return 4 * factor * math.prod(batch) * length * k.shape[-2] * dim


class _FlopCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.flops = 0
        self.by_op: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        name = packet.__name__
        if name.endswith("_") and not name.startswith("_") and hasattr(aten, name[:-1]):
            name = name[:-1]  # in place: as the functional form
            packet = getattr(aten, name)
        if packet in flop_registry:
            flops = flop_registry[packet](*args, **kwargs, out_val=out)
        elif name in _CPU_ATTENTION:
            flops = _attention_flops(args, _CPU_ATTENTION[name])
        elif packet in _ONE:
            flops = _numel(out)
        elif packet in _TWO:
            flops = 2 * _numel(out)
        elif packet in _REDUCE:
            flops = _numel(args[0])
        elif packet in _LAYER_NORM:
            flops = _LAYER_NORM[packet] * _numel(
                args[0] if packet is aten.native_layer_norm else args[1]
            )
        else:
            flops = 0
        if flops:
            self.flops += int(flops)
            self.by_op[name] = self.by_op.get(name, 0) + int(flops)
        return out


def count_flops(fn: Callable[[], object]) -> tuple[int, dict[str, int]]:
    """FLOPs executed by ``fn()`` (forward and, if ``fn`` calls it, backward) and their split by
    aten operation (functional names: ``addcmul_`` counts as ``addcmul``); see the module
    docstring for what is counted. ``sum(by_op[k] for k in by_op if k in PRODUCTS)`` is the
    matrix-product part."""
    counter = _FlopCounter()
    with counter:
        fn()
    return counter.flops, dict(sorted(counter.by_op.items(), key=lambda kv: -kv[1]))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def time_per_call(fn: Callable[[], object], *, calls: int = 10, repeats: int = 5) -> float:
    """Seconds per call of ``fn``: the best mean over ``repeats`` rounds of ``calls`` calls, after
    one warm-up round (the best round is the least disturbed by other work on the machine)."""
    fn()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best
