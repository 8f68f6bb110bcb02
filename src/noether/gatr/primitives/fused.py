"""A pattern for fused autograd functions: fast first-order backward, exact higher orders.

A fused function computes its forward and its first-order backward with hand-written kernels
that avoid the temporaries autograd would create (zero-filled gradients of slices, copies of
concatenations). When the backward itself must be differentiable (``create_graph=True``, as
when a loss depends on forces ``-dE/dx``), it instead differentiates a plain PyTorch
``reference`` implementation of the same function, so every derivative order stays exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


def save_inputs(ctx: Any, args: tuple) -> None:
    """Remember all arguments of ``forward``: tensors through ``save_for_backward``."""
    ctx.tensor_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    ctx.constants = [None if isinstance(a, Tensor) else a for a in args]
    ctx.save_for_backward(*(args[i] for i in ctx.tensor_slots))


def saved_inputs(ctx: Any) -> list:
    """The arguments given to :func:`save_inputs`, in order."""
    args = list(ctx.constants)
    for i, t in zip(ctx.tensor_slots, ctx.saved_tensors):
        args[i] = t
    return args


def differentiable_backward(
    ctx: Any, reference: Callable[..., Any], grads: tuple[Tensor | None, ...]
) -> tuple[Tensor | None, ...]:
    """Gradients of ``reference(*inputs)`` with a graph, for double backward.

    Returns one entry per forward argument (``None`` for constants and inputs without grad).
    """
    args = saved_inputs(ctx)
    wanted = [
        i
        for i in ctx.tensor_slots
        if ctx.needs_input_grad[i] and args[i] is not None and args[i].requires_grad
    ]
    with torch.enable_grad():
        outputs = reference(*args)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    pairs = [
        (o, g)
        for o, g in zip(outputs, grads)
        if o is not None and g is not None and o.requires_grad
    ]
    result: list[Tensor | None] = [None] * len(args)
    if wanted and pairs:
        found = torch.autograd.grad(
            [o for o, _ in pairs],
            [args[i] for i in wanted],
            [g for _, g in pairs],
            create_graph=True,
            allow_unused=True,
        )
        for i, g in zip(wanted, found):
            result[i] = g
    return tuple(result)
