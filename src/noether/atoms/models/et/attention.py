"""ET's equivariant multi-head attention layer with its update (Thölke & De Fabritiis 2022, §3).

State per atom: scalars ``x (N, H)`` and vectors ``v (N, 3, H)``; ``h`` heads of width ``d = H/h``.
With ``x̃ = LayerNorm(x)``, ``q, k, (s⁰, s¹, s²) = W x̃``, ``(U₁, U₂, U₃) = W_vec v`` and the distance
filters ``D^K, D^V = act(W e(r) + b)`` of a pair,

    A_ij  = act_attn(Σ_{c ∈ head} q_ic k_jc D^K_ijc) φ(r_ij)
    y_i   = Σ_j A_ij s⁰_j D^V⁰_ij
    w_i   = Σ_j φ(r_ij) [v_j s¹_j D^V¹_ij + s²_j D^V²_ij r̂_ij]
    Δx_i  = o²_i ⟨U₁v_i, U₂v_i⟩ + o³_i,   Δv_i = o¹_i U₃v_i + w_i,   (o¹, o², o³) = W_O y_i

summed over the neighbours ``j`` and the atom itself (``r_ii = 0``, ``r̂_ii = 0``; a self pair of
:mod:`noether.atoms.models.et.pairs`). Every message carries ``φ``, so each vanishes smoothly at
the cutoff (TorchMD-NET's ``vector_cutoff=True``; the original model left ``w`` uncut and had an
energy step there). The product ``v_j s¹_j`` is formed per atom before the gather, and the sums
run in :mod:`noether.atoms.models.et.messages`. This is the differentiable layer (any order of
derivative); :func:`~noether.atoms.models.et.fused.fused_layer` computes the same layer by hand
for first-order inference.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from noether.atoms.models.et.config import DISTANCE_INFLUENCE
from noether.atoms.models.et.messages import edge_sums_plain
from noether.atoms.models.et.pairs import MessagePairs

__all__ = ["EquivariantAttention"]


class EquivariantAttention(nn.Module):
    """One ET layer: ``forward(x, v, pairs, rbf) -> (x + Δx, v + Δv)``.

    Args (forward):
        x: ``(N, H)`` scalars. v: ``(N, 3, H)`` vectors, or None for zeros (the first layer).
        pairs: the pairs to sum over (self pairs included). rbf: ``(P, K)`` their radial basis.
    """

    def __init__(
        self,
        hidden: int,
        heads: int,
        num_rbf: int,
        act: Callable[[Tensor], Tensor],
        attn_act: Callable[[Tensor], Tensor],
        distance_influence: str = "both",
    ):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
        if distance_influence not in DISTANCE_INFLUENCE:
            raise ValueError(
                f"unknown distance_influence {distance_influence!r}; accepted: "
                f"{', '.join(DISTANCE_INFLUENCE)}"
            )
        self.hidden, self.heads = hidden, heads
        self.act, self.attn_act = act, attn_act
        self.norm = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 5 * hidden)  # [q | k | s⁰ | s¹ | s²]
        self.out = nn.Linear(hidden, 3 * hidden)  # [o¹ | o² | o³]
        self.vec_proj = nn.Linear(hidden, 3 * hidden, bias=False)  # [U₁ | U₂ | U₃]
        self.keys = distance_influence in ("both", "keys")
        self.values = distance_influence in ("both", "values")
        n_filters = hidden * (self.keys + 3 * self.values)  # [D^K | D^V⁰ D^V¹ D^V²]
        self.filter = nn.Linear(num_rbf, n_filters) if n_filters else None
        # Xavier-uniform weights per upstream projection (q, k, v; o; vec; D^K; D^V), zero biases
        with torch.no_grad():
            thirds = (slice(0, hidden), slice(hidden, 2 * hidden), slice(2 * hidden, None))
            blocks = [(self.qkv.weight, thirds), (self.out.weight, (slice(None),))]
            blocks.append((self.vec_proj.weight, (slice(None),)))
            if self.filter is not None:
                both = self.keys and self.values
                rows = (slice(0, hidden), slice(hidden, None)) if both else (slice(None),)
                blocks.append((self.filter.weight, rows))
            for weight, rows in blocks:
                for block in rows:
                    nn.init.xavier_uniform_(weight[block])
            for lin in (self.qkv, self.out, self.filter):
                if lin is not None:
                    nn.init.zeros_(lin.bias)

    def forward(
        self, x: Tensor, v: Tensor | None, pairs: MessagePairs, rbf: Tensor
    ) -> tuple[Tensor, Tensor]:
        hidden = self.hidden
        q, k, s0, s1, s2 = self.qkv(self.norm(x)).split(hidden, dim=-1)
        sv = None if v is None else v * s1.unsqueeze(1)  # (N, 3, H)
        dk = dv = None
        if self.filter is not None:
            out = self.act(self.filter(rbf))
            dk = out[:, :hidden] if self.keys else None
            dv = out[:, -3 * hidden :] if self.values else None
        y, w = edge_sums_plain(q, k, s0, s2, sv, (dk, dv), pairs, self.heads, self.attn_act)
        o1, o2, o3 = self.out(y).split(hidden, dim=-1)
        if v is None:
            return x + o3, w
        u1, u2, u3 = self.vec_proj(v).split(hidden, dim=-1)
        dx = torch.addcmul(o3, (u1 * u2).sum(1), o2)
        dvec = torch.addcmul(w, u3, o1.unsqueeze(1))
        return x + dx, v + dvec
