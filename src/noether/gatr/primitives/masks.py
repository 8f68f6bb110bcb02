"""Attention masks: checking them, flattening batch axes, and padding masks for variable lengths.

Conventions (those of :func:`torch.nn.functional.scaled_dot_product_attention`):

- ``mask``: boolean (``True``: may attend) or floating (added to the logits), broadcastable to
  ``(*batch, heads, q_tokens, k_tokens)``; a per-sample mask without heads is
  ``(*batch, 1, q_tokens, k_tokens)``.
- ``token_mask``: boolean ``(*batch, tokens)``, ``True`` for real tokens: a batch of samples of
  different lengths padded to one length. Padded tokens are hidden as keys.

Padded tokens may hold anything (NaN, infinity, huge values): the models replace them by zeros
on entry (:func:`zero_padding`, a ``torch.where``: ``0 * nan`` is ``nan``), and
:func:`attention_mask` never leaves a row of the scores fully masked where that could reach the
real tokens (a fully masked row gives NaN in the softmax, and NaN times a zero weight stays NaN
in the backward pass).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["attention_mask", "lengths_to_mask", "zero_padding"]


def lengths_to_mask(lengths: Tensor | list[int], tokens: int | None = None) -> Tensor:
    """``(*batch,)`` lengths -> ``(*batch, tokens)`` boolean token mask (``True``: real token)."""
    lengths = torch.as_tensor(lengths)
    if lengths.is_floating_point() or (lengths < 0).any():
        raise ValueError(f"lengths must be non-negative integers, got {lengths.tolist()}")
    tokens = int(lengths.max()) if tokens is None else tokens
    if lengths.numel() and int(lengths.max()) > tokens:
        raise ValueError(f"a length {int(lengths.max())} exceeds the {tokens} tokens")
    return torch.arange(tokens, device=lengths.device) < lengths[..., None]


def check_token_mask(token_mask: Tensor, batch_shape: tuple[int, ...], tokens: int) -> None:
    """Raise ``ValueError`` unless ``token_mask`` is boolean ``(*batch_shape, tokens)``."""
    if not isinstance(token_mask, Tensor) or token_mask.dtype != torch.bool:
        kind = token_mask.dtype if isinstance(token_mask, Tensor) else type(token_mask).__name__
        raise ValueError(f"token_mask must be a boolean tensor, got {kind}")
    if tuple(token_mask.shape) != (*batch_shape, tokens):
        raise ValueError(
            f"token_mask must have shape (*batch, tokens) = {(*batch_shape, tokens)}, "
            f"got {tuple(token_mask.shape)}"
        )


def zero_padding(t: Tensor | None, token_mask: Tensor | None) -> Tensor | None:
    """``t (*batch, tokens, ...)`` with the padded tokens (``token_mask (*batch, tokens)``
    False) set to zero, whatever they held; ``t`` itself when either is ``None``."""
    if t is None or token_mask is None:
        return t
    keep = token_mask.reshape(*token_mask.shape, *([1] * (t.ndim - token_mask.ndim)))
    return torch.where(keep, t, t.new_zeros(()))


def attention_mask(
    mask: Tensor | None,
    token_mask: Tensor | None,
    batch_shape: tuple[int, ...],
    heads: int,
    q_tokens: int,
    k_tokens: int,
    dtype: torch.dtype,
    query_mask: Tensor | None = None,
) -> Tensor | None:
    """The mask to pass to SDPA with queries ``(B, heads, q_tokens, F)``, ``B = prod(batch)``.

    Checks ``mask`` against ``(*batch_shape, heads, q_tokens, k_tokens)`` and flattens its batch
    axes; ``token_mask`` ``(*batch_shape, k_tokens)`` hides padded keys. Returns ``None`` when
    both are ``None``.

    No row is left fully masked by the padding (its softmax would be NaN, which reaches the
    parameters' gradients even where the outputs are discarded): a sample without real keys
    attends to all its keys (padding, zero after :func:`zero_padding`), and with ``mask`` given,
    the rows of padded queries (``query_mask (*batch_shape, q_tokens)`` False; in
    self-attention the ``token_mask``) attend to every key. Rows of real queries with real keys
    are exactly those of ``mask`` and ``token_mask``.
    """
    target = (*batch_shape, heads, q_tokens, k_tokens)
    n = 1
    for b in batch_shape:
        n *= b
    given = mask is not None
    if mask is not None:
        if not isinstance(mask, Tensor):
            raise ValueError(f"mask must be a tensor, got {type(mask).__name__}")
        if mask.dtype != torch.bool and not mask.is_floating_point():
            raise ValueError(f"mask must be boolean or floating (additive), got {mask.dtype}")
        try:
            broadcast = torch.broadcast_shapes(mask.shape, target)
        except RuntimeError:
            broadcast = None
        if broadcast != target:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to (*batch, heads, "
                f"q_tokens, k_tokens) = {target}; a mask per sample is (*batch, 1, q_tokens, "
                f"k_tokens)"
            )
        if mask.is_floating_point():
            mask = mask.to(dtype)
        if mask.ndim > 3:
            tail = tuple(mask.shape[-3:])
            mask = mask.expand(*batch_shape, *tail).reshape(n, *tail)
    if token_mask is not None:
        check_token_mask(token_mask, batch_shape, k_tokens)
        # a sample without real keys attends to all of them: no fully masked row
        keys = (token_mask | ~token_mask.any(-1, keepdim=True)).reshape(n, 1, 1, k_tokens)
        if mask is None:
            mask = keys
        elif mask.dtype == torch.bool:
            mask = mask & keys
        else:
            mask = mask.masked_fill(~keys, float("-inf"))
    if query_mask is not None and given:
        # a padded query may be masked from every key by ``mask``: let it attend to all
        check_token_mask(query_mask, batch_shape, q_tokens)
        padded = ~query_mask.reshape(n, 1, q_tokens, 1)
        if mask.dtype == torch.bool:
            mask = mask | padded
        else:
            mask = mask.masked_fill(padded, 0.0)
    return mask
