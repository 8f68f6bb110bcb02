"""The activations ET may use, by the names TorchMD-NET configs give them."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["ACTIVATIONS", "activation"]


def shifted_softplus(x: Tensor) -> Tensor:
    """``softplus(x) - log 2`` (SchNet's activation; zero at zero)."""
    return F.softplus(x) - math.log(2.0)


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "silu": F.silu,
    "ssp": shifted_softplus,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def activation(name: str) -> Callable[[Tensor], Tensor]:
    """The activation called ``name``; raises naming the accepted ones."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; accepted: {', '.join(ACTIVATIONS)}"
        ) from None
