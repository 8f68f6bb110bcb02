"""Equivariant graph attention: the message-passing layer of Equiformer.

An edge runs from a neighbour ``s`` to a centre ``t`` (``edge_index = [t, s]``, the
:class:`noether.atoms.Graph` convention); softmax runs over the edges into each ``t``.

1. ``x_ts = Lin_src(x_s) + Lin_dst(x_t)`` (node-level linears, gathered per edge).
2. MLP attention (the paper's default):
   - non-linear messages (default): ``f = DTP_1(x_ts, Y; w = RadialMLP(basis))``; the ``0e``
     part of ``f`` gives the attention logits, and the value is
     ``DTP_2(Gate(Lin_1 f), Y)`` with shared weights, then ``Lin_v``;
   - linear messages: one ``DTP + Linear`` gives logits and values;
   - logits: ``a_h · SmoothLeakyReLU_0.2(f_0e[h])`` per head (GATv2-style).
3. Dot-product attention (ablation): ``q_t = Lin_q(x_t)``, ``(k, v) = DTP + Linear (x_ts)``,
   logit ``Σ q·k`` with each irrep block scaled by ``1/sqrt(#irreps per head · (2l+1))``.
4. ``m_t = Σ_s α_ts v_ts``, heads concatenated, ``Lin_proj``.

With ``smooth_cutoff`` the softmax weights and the messages carry the cosine envelope ``C(r)``
(``α ∝ C exp(logit)``, ``m = Σ α C v``), so the output is continuous (with its first derivative)
when a neighbour crosses the cutoff; the paper's hard cutoff is ``smooth_cutoff=False``.
"""

from __future__ import annotations

import math

import torch
from e3nn import o3
from torch import Tensor, nn

from noether.atoms.models.equiformer.gate import Gate
from noether.atoms.models.equiformer.irreps import IrrepsLayout, sorted_irreps
from noether.atoms.models.equiformer.linear import EquivariantLinear
from noether.atoms.models.equiformer.radial import RadialMLP
from noether.atoms.models.equiformer.tensor_product import SeparableTensorProduct

__all__ = ["ATTENTIONS", "GraphAttention", "segment_softmax", "smooth_leaky_relu"]

ATTENTIONS = ("mlp", "dot")


def smooth_leaky_relu(x: Tensor, negative_slope: float = 0.2) -> Tensor:
    """``(1+a)/2 x + (1-a)/2 x (2σ(x) - 1)``: a smooth LeakyReLU."""
    a = negative_slope
    return 0.5 * (1 + a) * x + 0.5 * (1 - a) * x * (2 * torch.sigmoid(x) - 1)


def segment_softmax(
    logits: Tensor, index: Tensor, n_segments: int, weight: Tensor | None = None
) -> Tensor:
    """Softmax of ``logits (E, H)`` over the rows that share ``index (E,)``.

    ``weight (E,)`` (optional, >= 0) multiplies each ``exp``: ``w_e exp(l_e) / Σ w exp(l)``.
    The per-segment maximum is subtracted without gradient (softmax does not depend on it), so
    double backward is exact.
    """
    heads = logits.shape[1:]
    top = torch.full((n_segments, *heads), -torch.inf, dtype=logits.dtype, device=logits.device)
    expanded = index.view(-1, *([1] * len(heads))).expand_as(logits)
    top = top.scatter_reduce(0, expanded, logits.detach(), "amax", include_self=True)
    p = torch.exp(logits - top[index])
    if weight is not None:
        p = p * weight.view(-1, *([1] * len(heads)))
    total = torch.zeros_like(top).index_add(0, index, p)
    return p / total[index].clamp(min=torch.finfo(p.dtype).tiny)


def _heads_irreps(irreps_head: o3.Irreps, heads: int) -> o3.Irreps:
    return sorted_irreps(o3.Irreps([(mul * heads, ir) for mul, ir in irreps_head]))


def _head_of_channel(layout: IrrepsLayout, heads: int) -> Tensor:
    """``(dim,)`` head index of every entry of an ``irreps_head × heads`` feature."""
    index = []
    for b in layout.blocks:
        per_head = b.mul // heads
        index.append(torch.arange(heads).repeat_interleave(per_head).repeat(b.ir.dim))
    return torch.cat(index)


class GraphAttention(nn.Module):
    """``forward(x (N, irreps_node.dim), edge_index (2, E), sh (E, sh_dim), basis (E, K),
    envelope (E,) | None) -> (N, irreps_node.dim)`` (ir_mul layout).

    Args:
        irreps_node: node feature irreps (input and output).
        irreps_sh: edge harmonics irreps.
        irreps_head, num_heads: irreps of one head and the number of heads.
        num_basis, radial_hidden: radial MLP input width and hidden widths.
        attention: "mlp" (paper) or "dot".
        nonlinear_messages: the paper's non-linear value path (MLP attention only).
        alpha_drop: dropout on attention weights.
    """

    def __init__(
        self,
        irreps_node: str | o3.Irreps,
        irreps_sh: str | o3.Irreps,
        irreps_head: str | o3.Irreps,
        num_heads: int,
        num_basis: int,
        radial_hidden: tuple[int, ...] = (64, 64),
        *,
        attention: str = "mlp",
        nonlinear_messages: bool = True,
        alpha_drop: float = 0.0,
    ):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {attention!r}; accepted: {', '.join(ATTENTIONS)}")
        if attention == "dot" and nonlinear_messages:
            raise ValueError(
                "dot-product attention uses linear messages (nonlinear_messages=False)"
            )
        self.layout = IrrepsLayout(irreps_node)
        irreps_node = self.layout.irreps
        self.irreps_sh = o3.Irreps(irreps_sh)
        self.irreps_head = sorted_irreps(irreps_head)
        self.num_heads = num_heads
        self.attention = attention
        self.nonlinear_messages = nonlinear_messages
        heads = _heads_irreps(self.irreps_head, num_heads)
        self.heads_layout = IrrepsLayout(heads)
        self.register_buffer(
            "head_of_channel", _head_of_channel(self.heads_layout, num_heads), persistent=False
        )
        mul_alpha = heads.count(o3.Irrep("0e"))
        self.mul_alpha = mul_alpha

        self.merge_src = EquivariantLinear(irreps_node, irreps_node, bias=True)
        self.merge_dst = EquivariantLinear(irreps_node, irreps_node, bias=False)
        hidden = tuple(radial_hidden)
        if attention == "mlp" and nonlinear_messages:
            self.gate = Gate(irreps_node)
            first_out = o3.Irreps(f"{mul_alpha}x0e") + self.gate.irreps_in
            self.dtp_1 = SeparableTensorProduct(irreps_node, self.irreps_sh, first_out, irreps_node)
            self.dtp_2 = SeparableTensorProduct(
                irreps_node, self.irreps_sh, heads, heads, edge_weights=False
            )
            self.radial = RadialMLP(num_basis, hidden, self.dtp_1.weight_numel)
        elif attention == "mlp":
            out = o3.Irreps(f"{mul_alpha}x0e") + heads
            self.dtp_1 = SeparableTensorProduct(irreps_node, self.irreps_sh, out, irreps_node)
            self.radial = RadialMLP(num_basis, hidden, self.dtp_1.weight_numel)
        else:
            self.query = EquivariantLinear(irreps_node, heads, bias=True)
            kv = sorted_irreps(o3.Irreps([(2 * m, ir) for m, ir in heads]))
            self.dtp_1 = SeparableTensorProduct(irreps_node, self.irreps_sh, kv, irreps_node)
            self.radial = RadialMLP(num_basis, hidden, self.dtp_1.weight_numel)
            n_irreps_head = self.irreps_head.num_irreps
            scale = torch.cat(
                [
                    torch.full((b.dim,), 1.0 / math.sqrt(n_irreps_head * b.ir.dim))
                    for b in self.heads_layout.blocks
                ]
            )
            self.register_buffer("qk_scale", scale, persistent=False)
        if attention == "mlp":
            self.alpha_dot = nn.Parameter(torch.empty(num_heads, mul_alpha // num_heads))
            bound = math.sqrt(6.0 / (num_heads + mul_alpha // num_heads))  # Glorot, as in GATv2
            nn.init.uniform_(self.alpha_dot, -bound, bound)
        self.alpha_dropout = nn.Dropout(alpha_drop) if alpha_drop > 0 else None
        self.proj = EquivariantLinear(heads, irreps_node, bias=True)

    def extra_repr(self) -> str:
        return (
            f"{self.attention} attention, {self.num_heads} heads x {self.irreps_head}, "
            f"{'non-linear' if self.nonlinear_messages else 'linear'} messages"
        )

    def _kv_split(self, kv: Tensor) -> tuple[Tensor, Tensor]:
        """Per block ``[k heads | v heads]`` -> (k, v), each in the heads layout."""
        ks, vs = [], []
        parts = kv.split([2 * b.dim for b in self.heads_layout.blocks], dim=1)
        for b, block in zip(self.heads_layout.blocks, parts):
            k, v = block.view(-1, b.ir.dim, 2 * b.mul).split(b.mul, dim=-1)
            ks.append(k)
            vs.append(v)
        return self.heads_layout.join(ks), self.heads_layout.join(vs)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        sh: Tensor,
        basis: Tensor,
        envelope: Tensor | None = None,
    ) -> Tensor:
        t, s = edge_index[0], edge_index[1]
        n_nodes = x.shape[0]
        x_ts = self.merge_src(x).index_select(0, s) + self.merge_dst(x).index_select(0, t)
        weight = self.radial(basis)
        if self.attention == "mlp":
            alpha, f = self.dtp_1(x_ts, sh, weight).split(
                [self.mul_alpha, self.dtp_1.layout_out.dim - self.mul_alpha], dim=1
            )
            value = self.dtp_2(self.gate(f), sh) if self.nonlinear_messages else f
            alpha = smooth_leaky_relu(
                alpha.view(-1, self.num_heads, self.mul_alpha // self.num_heads)
            )
            logits = (alpha * self.alpha_dot).sum(-1)
        else:
            k, value = self._kv_split(self.dtp_1(x_ts, sh, weight))
            q = (self.query(x) * self.qk_scale).index_select(0, t)
            logits = torch.zeros(
                k.shape[0], self.num_heads, dtype=k.dtype, device=k.device
            ).index_add(1, self.head_of_channel, q * k)
        attn = segment_softmax(logits, t, n_nodes, envelope)
        if self.alpha_dropout is not None:
            attn = self.alpha_dropout(attn)
        if envelope is not None:
            attn = attn * envelope.unsqueeze(-1)
        message = value * attn.index_select(1, self.head_of_channel)
        out = torch.zeros(n_nodes, value.shape[1], dtype=value.dtype, device=value.device)
        out = out.index_add(0, t, message)
        return self.proj(out)
