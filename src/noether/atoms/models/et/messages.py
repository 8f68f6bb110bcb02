"""The neighbour sums of one ET layer, two ways: plain autograd, and by hand in chunks.

For the directed edges ``i ← j`` of every unordered pair (both directions), with per-pair filters
``(D^K, D^V⁰, D^V¹, D^V²) = act(W e(r) + b)`` and the cutoff ``φ``:

    y_i = Σ_j act_attn(Σ_{c∈head} q_ic k_jc D^K_c) φ · s⁰_jc D^V⁰_c
    w_i = Σ_j (sv_j D^V¹ φ + s²_j D^V² ⊗ r̂_ij φ)

:func:`edge_sums_plain` writes this with ordinary differentiable tensor operations: any order of
derivative works (force training needs the second), but autograd keeps every ``(edges, H)``
intermediate. :func:`edge_sums_forward` and :func:`edge_sums_backward` compute the same sums and
their first derivatives by hand over chunks of pairs, recomputing each chunk's filters and products
in the backward instead of storing them: only the per-atom inputs and the filter pre-activations are
kept, so energy+forces need a fraction of the memory and the temporaries stay cache-sized. They
serve :mod:`noether.atoms.models.et.fused` (inference, SiLU activations: ET's defaults).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from noether.atoms.models.et.pairs import MessagePairs

__all__ = ["CHUNK_PAIRS", "edge_sums_backward", "edge_sums_forward", "edge_sums_plain"]

#: Pairs per chunk of the fused kernel: its ``(2, chunk, 3, H)`` temporaries stay in L2/L3 cache.
CHUNK_PAIRS = 1024


def edge_sums_plain(
    q: Tensor,
    k: Tensor,
    s0: Tensor,
    s2: Tensor,
    sv: Tensor | None,
    filters: tuple[Tensor | None, Tensor | None],
    pairs: MessagePairs,
    heads: int,
    attn_act: Callable[[Tensor], Tensor],
) -> tuple[Tensor, Tensor]:
    """``(y (N, H), w (N, 3, H))`` by plain autograd.

    Args:
        q, k, s0, s2: ``(N, H)``; sv: ``(N, 3, H)`` or None (no vector features yet).
        filters: ``dk (P, H)`` and ``dv (P, 3H)`` (either None when the layer does not use it).
        pairs: the ``P`` pairs (self pairs included), their cutoff weights and unit vectors.
    """
    n_atoms, hidden = q.shape
    p = pairs.a.shape[0]
    width = hidden // heads
    dk, dv = filters
    centre, neighbour, unit = pairs.centre, pairs.neighbour, pairs.unit
    ph = pairs.weight.unsqueeze(-1)  # (P, 1)
    qk = q.index_select(0, centre).view(2, p, hidden) * k.index_select(0, neighbour).view(
        2, p, hidden
    )
    if dk is not None:
        qk = qk * dk
    attn = attn_act(qk.view(2, p, heads, width).sum(-1)) * ph  # (2, P, heads)
    s0_j = s0.index_select(0, neighbour).view(2, p, hidden)
    s2_j = s2.index_select(0, neighbour).view(2, p, hidden)
    if dv is not None:
        dv0, dv1, dv2 = dv.split(hidden, dim=-1)
        s0_j, s2_j = s0_j * dv0, s2_j * dv2
        scale1 = dv1 * ph
    else:
        scale1 = ph
    y_msg = (s0_j.view(2, p, heads, width) * attn.unsqueeze(-1)).view(2 * p, hidden)
    r_hat = torch.stack([unit, -unit]) * ph  # (2, P, 3)
    w_msg = s2_j.unsqueeze(2) * r_hat.unsqueeze(-1)  # (2, P, 3, H)
    if sv is not None:
        sv_j = sv.index_select(0, neighbour).view(2, p, 3, hidden)
        w_msg = torch.addcmul(w_msg, sv_j, scale1.unsqueeze(1))
    y = q.new_zeros(n_atoms, hidden).index_add_(0, centre, y_msg)
    w = q.new_zeros(n_atoms, 3, hidden).index_add_(0, centre, w_msg.view(2 * p, 3, hidden))
    return y, w


def _chunks(pairs: MessagePairs):
    """``(p0, p1, centre, neighbour)`` of each chunk of pairs (the directed edges ``[a; b]``)."""
    a, b = pairs.a, pairs.b
    p = a.shape[0]
    if p <= CHUNK_PAIRS:
        yield 0, p, pairs.centre, pairs.neighbour
        return
    for p0 in range(0, p, CHUNK_PAIRS):
        p1 = min(p0 + CHUNK_PAIRS, p)
        yield p0, p1, torch.cat([a[p0:p1], b[p0:p1]]), torch.cat([b[p0:p1], a[p0:p1]])


def edge_sums_forward(
    q: Tensor,
    k: Tensor,
    s0: Tensor,
    s2: Tensor,
    sv: Tensor | None,
    rbf: Tensor,
    weight: Tensor,
    bias: Tensor,
    pairs: MessagePairs,
    heads: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(y (N, H), w (N, 3, H), pre (P, 4H))`` without autograd; SiLU filters and attention.

    ``rbf (P, K)`` is the radial basis of each pair, ``weight (4H, K)`` and ``bias (4H,)`` the
    stacked filter layers ``[D^K; D^V⁰; D^V¹; D^V²]``; ``pre`` are the filter pre-activations,
    which :func:`edge_sums_backward` needs. Other shapes as :func:`edge_sums_plain`.
    """
    n_atoms, hidden = q.shape
    width = hidden // heads
    phi, unit = pairs.weight, pairs.unit
    y = q.new_zeros(n_atoms, hidden)
    w = q.new_zeros(n_atoms, 3, hidden)
    pre = torch.addmm(bias, rbf, weight.t())  # (P, 4H)
    for p0, p1, centre, neighbour in _chunks(pairs):
        c = p1 - p0
        dk, dv0, dv1, dv2 = F.silu(pre[p0:p1]).split(hidden, dim=1)
        ph = phi[p0:p1].unsqueeze(-1)
        qk = q.index_select(0, centre).view(2, c, hidden)
        qk.mul_(k.index_select(0, neighbour).view(2, c, hidden)).mul_(dk)
        attn = F.silu(qk.view(2, c, heads, width).sum(-1)).mul_(ph)
        msg = s0.index_select(0, neighbour).view(2, c, heads, width)
        msg.mul_(dv0.view(1, c, heads, width)).mul_(attn.unsqueeze(-1))
        y.index_add_(0, centre, msg.view(2 * c, hidden))
        r_hat = unit[p0:p1] * ph
        r_hat = torch.stack([r_hat, -r_hat])  # (2, c, 3)
        t2 = s2.index_select(0, neighbour).view(2, c, hidden).mul_(dv2)
        vmsg = t2.unsqueeze(2) * r_hat.unsqueeze(-1)  # (2, c, 3, H)
        if sv is not None:
            sv_j = sv.index_select(0, neighbour).view(2, c, 3, hidden)
            vmsg.addcmul_(sv_j, (dv1 * ph).unsqueeze(1))
        w.index_add_(0, centre, vmsg.view(2 * c, 3, hidden))
    return y, w, pre


def edge_sums_backward(
    gy: Tensor,
    gw: Tensor,
    q: Tensor,
    k: Tensor,
    s0: Tensor,
    s2: Tensor,
    sv: Tensor | None,
    pre: Tensor,
    pairs: MessagePairs,
    heads: int,
) -> tuple[Tensor, ...]:
    """Gradients of :func:`edge_sums_forward` given ``gy (N, H)`` and ``gw (N, 3, H)``.

    Returns ``(g_q, g_k, g_s0, g_s2, g_sv or None, g_pre (P, 4H), g_phi (P,), g_unit (P, 3))``;
    the filter layers' own gradients follow from ``g_pre`` (``g_rbf = g_pre @ weight`` etc.).
    """
    hidden = q.shape[1]
    width = hidden // heads
    phi, unit = pairs.weight, pairs.unit
    g_q, g_k, g_s0, g_s2 = (torch.zeros_like(q) for _ in range(4))
    g_sv = torch.zeros_like(sv) if sv is not None else None
    g_pre = torch.empty_like(pre)
    g_phi = torch.empty_like(phi)
    g_unit = torch.empty_like(unit)
    gy = gy.contiguous()
    gw = gw.contiguous()
    for p0, p1, centre, neighbour in _chunks(pairs):
        c = p1 - p0
        pre_c = pre[p0:p1]
        dk, dv0, dv1, dv2 = F.silu(pre_c).split(hidden, dim=1)
        ph = phi[p0:p1].unsqueeze(-1)
        u = unit[p0:p1]
        q_i = q.index_select(0, centre).view(2, c, hidden)
        k_j = k.index_select(0, neighbour).view(2, c, hidden)
        qk = q_i * k_j
        logits = (qk * dk).view(2, c, heads, width).sum(-1)  # (2, c, heads)
        sig = F.silu(logits)
        attn = sig * ph
        gy_i = gy.index_select(0, centre).view(2, c, hidden)
        gw_i = gw.index_select(0, centre).view(2, c, 3, hidden)

        # scalar messages: m = attn · s0_j · dv0
        s0_j = s0.index_select(0, neighbour).view(2, c, hidden)
        g_attn = (gy_i * s0_j).mul_(dv0).view(2, c, heads, width).sum(-1)
        gy_a = (gy_i.view(2, c, heads, width) * attn.unsqueeze(-1)).view(2, c, hidden)
        g_s0.index_add_(0, neighbour, (gy_a * dv0).view(2 * c, hidden))
        g_dv0 = torch.addcmul(gy_a[0] * s0_j[0], gy_a[1], s0_j[1])
        g_phi_c = (g_attn * sig).sum((0, 2))
        g_logits = torch.ops.aten.silu_backward(g_attn * ph, logits)
        g_logits = g_logits.unsqueeze(-1).expand(2, c, heads, width).reshape(2, c, hidden)
        g_q.index_add_(0, centre, (g_logits * k_j).mul_(dk).view(2 * c, hidden))
        g_k.index_add_(0, neighbour, (g_logits * q_i).mul_(dk).view(2 * c, hidden))
        g_dk = torch.addcmul(g_logits[0] * qk[0], g_logits[1], qk[1])

        # vector messages: (s2_j · dv2) ⊗ r̂φ  and  sv_j · dv1 φ
        s2_j = s2.index_select(0, neighbour).view(2, c, hidden)
        r_hat = torch.stack([u, -u]) * ph  # (2, c, 3)
        g_t2 = (gw_i * r_hat.unsqueeze(-1)).sum(2)  # (2, c, H)
        g_s2.index_add_(0, neighbour, (g_t2 * dv2).view(2 * c, hidden))
        g_dv2 = torch.addcmul(g_t2[0] * s2_j[0], g_t2[1], s2_j[1])
        g_r = (gw_i * (s2_j * dv2).unsqueeze(2)).sum(-1)  # (2, c, 3)
        g_rphi = g_r[0] - g_r[1]  # (c, 3)
        g_unit[p0:p1] = g_rphi * ph
        g_phi_c += (g_rphi * u).sum(-1)
        if sv is not None:
            sv_j = sv.index_select(0, neighbour).view(2, c, 3, hidden)
            g_sv.index_add_(0, neighbour, (gw_i * (dv1 * ph).unsqueeze(1)).view(2 * c, 3, hidden))
            g_dv1phi = (gw_i * sv_j).sum(2)  # (2, c, H)
            g_dv1phi = g_dv1phi[0] + g_dv1phi[1]
            g_dv1 = g_dv1phi * ph
            g_phi_c += (g_dv1phi * dv1).sum(-1)
        else:
            g_dv1 = torch.zeros_like(dv1)
        g_phi[p0:p1] = g_phi_c
        g_f = torch.cat([g_dk, g_dv0, g_dv1, g_dv2], 1)
        g_pre[p0:p1] = torch.ops.aten.silu_backward(g_f, pre_c)
    return g_q, g_k, g_s0, g_s2, g_sv, g_pre, g_phi, g_unit
