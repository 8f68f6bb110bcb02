"""ET's equivariant multi-head attention layer with its update (Thölke & De Fabritiis 2022, §3).

State per atom: scalars ``x (N, H)`` and vectors ``v (N, 3, H)``; ``h`` heads of width ``d = H/h``.
With ``x̃ = LayerNorm(x)``, ``q, k, (s⁰, s¹, s²) = W x̃``, ``(U₁, U₂, U₃) = W_vec v`` and the distance
filters ``D^K, D^V = act(W e(r) + b)`` of a pair,

    A_ij  = act_attn(Σ_{c ∈ head} q_ic k_jc D^K_ijc) φ(r_ij)
    y_i   = Σ_j A_ij s⁰_j D^V⁰_ij
    w_i   = Σ_j φ(r_ij) [v_j s¹_j D^V¹_ij + s²_j D^V²_ij r̂_ij]
    Δx_i  = o²_i ⟨U₁v_i, U₂v_i⟩ + o³_i,   Δv_i = o¹_i U₃v_i + w_i,   (o¹, o², o³) = W_O y_i

summed over the neighbours ``j`` and the atom itself (``r_ii = 0``, ``r̂_ii = 0``). Every message
carries ``φ``, so each vanishes smoothly at the cutoff (TorchMD-NET's ``vector_cutoff=True``; the
original model left ``w`` uncut and had an energy step there).

The sum over ``j = i`` is computed per atom rather than as ``N`` extra edges, filters come per
unordered pair (:mod:`noether.atoms.models.et.pairs`), ``φ`` is folded into the small tensors
(``A``, ``r̂``, ``D^V¹``) rather than the wide ones, and the ``v_j s¹_j`` product is formed per
atom before the gather.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from noether.atoms.models.et.pairs import Pairs

__all__ = ["DISTANCE_INFLUENCE", "EquivariantAttention"]

DISTANCE_INFLUENCE = ("both", "keys", "values", "none")


class EquivariantAttention(nn.Module):
    """One ET layer: ``forward(x, v, pairs, phi, dk, dv) -> (x + Δx, v + Δv)``.

    Args (forward):
        x: ``(N, H)`` scalars. v: ``(N, 3, H)`` vectors, or None for zeros (the first layer).
        pairs: the unordered pairs and directed edges. phi: ``(P,)`` cosine cutoff per pair.
        dk: ``(P + 1, H)`` key filters per pair, the last row for ``r = 0`` (None if unused).
        dv: ``(P + 1, 3H)`` value filters, laid out as ``[s⁰ | s¹ | s²]`` (None if unused).
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
        self.dk = nn.Linear(num_rbf, hidden) if distance_influence in ("both", "keys") else None
        self.dv = (
            nn.Linear(num_rbf, 3 * hidden) if distance_influence in ("both", "values") else None
        )
        # Xavier-uniform weights per upstream projection (q, k, v; o; vec; filters), zero biases
        with torch.no_grad():
            blocks = [
                (
                    self.qkv.weight,
                    (slice(0, hidden), slice(hidden, 2 * hidden), slice(2 * hidden, None)),
                ),
                (self.out.weight, (slice(None),)),
                (self.vec_proj.weight, (slice(None),)),
            ] + [(lin.weight, (slice(None),)) for lin in self.filter_layers()]
            for weight, rows in blocks:
                for block in rows:
                    nn.init.xavier_uniform_(weight[block])
            for lin in (self.qkv, self.out, *self.filter_layers()):
                nn.init.zeros_(lin.bias)

    def filter_layers(self) -> list[nn.Linear]:
        """The distance-filter layers, in the order their outputs are concatenated."""
        return [lin for lin in (self.dk, self.dv) if lin is not None]

    def forward(
        self,
        x: Tensor,
        v: Tensor | None,
        pairs: Pairs,
        phi: Tensor,
        dk: Tensor | None,
        dv: Tensor | None,
    ) -> tuple[Tensor, Tensor]:
        n_atoms = x.shape[0]
        hidden, heads = self.hidden, self.heads
        width = hidden // heads
        p = pairs.n_pairs
        q, k, s0, s1, s2 = self.qkv(self.norm(x)).split(hidden, dim=-1)

        # per-pair factors, with the cutoff folded in; the last filter row is the self pair r = 0
        phi_e = phi.unsqueeze(-1)  # (P, 1)
        if dv is not None:
            dv0, dv1, dv2 = dv[:p].split(hidden, dim=-1)
            self0, self1, _ = dv[p].split(hidden, dim=-1)
            dv1 = dv1 * phi_e
        r_hat = pairs.direction.view(2, p, 3) * phi_e.unsqueeze(0)  # (2, P, 3)

        # what each atom sends: k, s⁰, s², and v ⊙ s¹ when there are vectors
        if v is None:
            sent = torch.cat([k, s0, s2], dim=-1)
        else:
            sv = v * s1.unsqueeze(1)  # (N, 3, H)
            sent = torch.cat([k, s0, s2, sv.reshape(n_atoms, 3 * hidden)], dim=-1)
        sent = sent.index_select(0, pairs.neighbour).view(2, p, -1)
        k_j, s0_j, s2_j = (
            sent[..., :hidden],
            sent[..., hidden : 2 * hidden],
            sent[..., 2 * hidden : 3 * hidden],
        )

        # attention weights (2, P, heads)
        qk = q.index_select(0, pairs.centre).view(2, p, hidden) * k_j
        if dk is not None:
            qk = qk * dk[:p].unsqueeze(0)
        attn = self.attn_act(qk.view(2, p, heads, width).sum(-1)) * phi_e.unsqueeze(0)

        # scalar messages y (2, P, H) and vector messages w (2, P, 3, H)
        values0 = s0_j if dv is None else s0_j * dv0.unsqueeze(0)
        y_msg = (values0.reshape(2, p, heads, width) * attn.unsqueeze(-1)).view(2 * p, hidden)
        values2 = s2_j if dv is None else s2_j * dv2.unsqueeze(0)
        w_msg = values2.unsqueeze(2) * r_hat.unsqueeze(-1)  # (2, P, 3, H)
        if v is not None:
            sv_j = sent[..., 3 * hidden :].view(2, p, 3, hidden)
            scale1 = (dv1 if dv is not None else phi_e).unsqueeze(0).unsqueeze(2)
            w_msg = torch.addcmul(w_msg, sv_j, scale1)
        w_msg = w_msg.view(2 * p, 3, hidden)

        # the atom's own term (r = 0: φ = 1, r̂ = 0), then the neighbours
        qk_self = q * k if dk is None else q * k * dk[p]
        attn_self = self.attn_act(qk_self.view(n_atoms, heads, width).sum(-1))
        values_self = s0 if dv is None else s0 * self0
        y = (values_self.reshape(n_atoms, heads, width) * attn_self.unsqueeze(-1)).view(
            n_atoms, hidden
        )
        y = y.index_add_(0, pairs.centre, y_msg)
        o1, o2, o3 = self.out(y).split(hidden, dim=-1)
        if v is None:
            w = x.new_zeros(n_atoms, 3, hidden).index_add_(0, pairs.centre, w_msg)
            return x + o3, w
        w = (sv if dv is None else sv * self1.unsqueeze(0)).index_add_(0, pairs.centre, w_msg)
        u1, u2, u3 = self.vec_proj(v).split(hidden, dim=-1)
        dx = torch.addcmul(o3, (u1 * u2).sum(1), o2)
        dv_ = torch.addcmul(w, u3, o1.unsqueeze(1))
        return x + dx, v + dv_
