"""A whole ET layer as one autograd node with a hand-written backward, for fast inference.

Plain autograd records some thirty nodes per layer and keeps every intermediate; for the energy
and forces of a trained model that costs time (small molecules are bound by the number of
operations) and memory (large systems by the per-edge tensors). :class:`FusedLayer` computes the
layer of :class:`~noether.atoms.models.et.attention.EquivariantAttention` directly, keeps only
per-atom tensors and the filter pre-activations, and computes the first derivatives by hand:

- the neighbour sums run in chunks (:func:`~noether.atoms.models.et.messages.edge_sums_forward`
  and its backward), recomputing per-edge products in cache-sized pieces;
- parameter gradients are computed only when the backward pass will use them (the autograd
  engine says so): a force evaluation asks for position gradients alone and skips them.

It is first-order only (``once_differentiable``): training with a force loss differentiates the
forces again, so training runs the plain layer. Both compute the same function (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.autograd.graph import GradientEdge, get_gradient_edge

from noether.atoms.models.et.messages import edge_sums_backward, edge_sums_forward
from noether.atoms.models.et.pairs import MessagePairs

__all__ = ["FusedLayer", "fused_layer"]


def _will_run(edge: GradientEdge | None) -> bool:
    """Whether the running backward pass needs the gradient flowing into ``edge``."""
    if edge is None:
        return False
    try:
        return bool(torch._C._will_engine_execute_node(edge.node))
    except (AttributeError, RuntimeError):  # not inside a backward pass, or an older torch
        return True


@dataclass
class _Static:
    pairs: MessagePairs
    heads: int
    eps: float
    edges: list[GradientEdge | None]  # of the parameters, in argument order


class FusedLayer(torch.autograd.Function):
    """``apply(x, v, ln_w, ln_b, w_qkv, b_qkv, w_out, b_out, w_vec, w_f, b_f, rbf, phi, unit,
    static) -> (x', v')``. See :func:`fused_layer`."""

    @staticmethod
    def forward(
        ctx, x, v, ln_w, ln_b, w_qkv, b_qkv, w_out, b_out, w_vec, w_f, b_f, rbf, phi, unit, static
    ):
        n_atoms, hidden = x.shape
        pairs = MessagePairs(
            static.pairs.a, static.pairs.b, static.pairs.centre, static.pairs.neighbour, phi, unit
        )
        xn, mean, rstd = torch.native_layer_norm(x, (hidden,), ln_w, ln_b, static.eps)
        qkv = torch.addmm(b_qkv, xn, w_qkv.t())
        q, k, s0, s1, s2 = qkv.split(hidden, dim=1)
        if v is None:
            sv = vp = None
        else:
            sv = v * s1.unsqueeze(1)
            vp = torch.mm(v.reshape(3 * n_atoms, hidden), w_vec.t()).view(n_atoms, 3, 3 * hidden)
        y, w, pre = edge_sums_forward(q, k, s0, s2, sv, rbf, w_f, b_f, pairs, static.heads)
        o = torch.addmm(b_out, y, w_out.t())
        o1, o2, o3 = o.split(hidden, dim=1)
        if v is None:
            x_new, v_new, vdot = x + o3, w, None
        else:
            u1, u2, u3 = vp.split(hidden, dim=-1)
            vdot = (u1 * u2).sum(1)
            x_new = torch.addcmul(o3, vdot, o2).add_(x)
            v_new = torch.addcmul(w, u3, o1.unsqueeze(1)).add_(v)
        ctx.static = static
        ctx.has_v = v is not None
        none = x.new_zeros(0)
        ctx.save_for_backward(
            x, mean, rstd, xn, qkv, none if v is None else v, none if v is None else vp, y, o,
            none if vdot is None else vdot, pre, rbf, phi, unit,
            ln_w, ln_b, w_qkv, w_out, w_vec, w_f,
        )  # fmt: skip
        return x_new, v_new

    @staticmethod
    @once_differentiable
    def backward(ctx, gx, gv):
        (x, mean, rstd, xn, qkv, v, vp, y, o, vdot, pre, rbf, phi, unit,
         ln_w, ln_b, w_qkv, w_out, w_vec, w_f) = ctx.saved_tensors  # fmt: skip
        static = ctx.static
        n_atoms, hidden = x.shape
        need = [_will_run(e) for e in static.edges]
        pairs = MessagePairs(
            static.pairs.a, static.pairs.b, static.pairs.centre, static.pairs.neighbour, phi, unit
        )
        q, k, s0, s1, s2 = qkv.split(hidden, dim=1)
        gx = gx.contiguous()
        gv = gv.contiguous()

        # update: x' = x + o³ + o² ⟨U₁v, U₂v⟩,  v' = v + w + o¹ U₃v
        if ctx.has_v:
            o1, o2, _ = o.split(hidden, dim=1)
            u1, u2, u3 = vp.split(hidden, dim=-1)
            g_vdot = (gx * o2).unsqueeze(1)
            g_vp = torch.cat([g_vdot * u2, g_vdot * u1, gv * o1.unsqueeze(1)], dim=-1)
            g_o = torch.cat([(gv * u3).sum(1), gx * vdot, gx], dim=1)
            sv = v * s1.unsqueeze(1)
        else:
            g_o = torch.cat([torch.zeros_like(gx), torch.zeros_like(gx), gx], dim=1)
            sv = None
        g_y = g_o @ w_out

        # neighbour sums
        g_q, g_k, g_s0, g_s2, g_sv, g_pre, g_phi, g_unit = edge_sums_backward(
            g_y, gv, q, k, s0, s2, sv, pre, pairs, static.heads
        )
        g_rbf = g_pre @ w_f if ctx.needs_input_grad[11] else None

        # projections and the LayerNorm
        if ctx.has_v:
            g_s1 = (g_sv * v).sum(1)
            g_v = torch.addcmul(gv, g_sv, s1.unsqueeze(1))
            g_v += (g_vp.reshape(3 * n_atoms, 3 * hidden) @ w_vec).view(n_atoms, 3, hidden)
        else:
            g_s1, g_v = torch.zeros_like(s1), None
        g_qkv = torch.cat([g_q, g_k, g_s0, g_s1, g_s2], dim=1)
        g_x_ln, g_ln_w, g_ln_b = torch.ops.aten.native_layer_norm_backward(
            g_qkv @ w_qkv, x, (hidden,), mean, rstd, ln_w, ln_b, [True, need[0], need[1]]
        )
        g_x = g_x_ln.add_(gx)

        # parameters, only when asked for
        g_w_qkv = g_qkv.t() @ xn if need[2] else None
        g_b_qkv = g_qkv.sum(0) if need[3] else None
        g_w_out = g_o.t() @ y if need[4] else None
        g_b_out = g_o.sum(0) if need[5] else None
        g_w_vec = None  # unused without vector features (the first layer)
        if need[6] and ctx.has_v:
            g_w_vec = g_vp.reshape(3 * n_atoms, 3 * hidden).t() @ v.reshape(3 * n_atoms, hidden)
        g_w_f = g_pre.t() @ rbf if need[7] else None
        g_b_f = g_pre.sum(0) if need[8] else None
        return (
            g_x, g_v, g_ln_w if need[0] else None, g_ln_b if need[1] else None,
            g_w_qkv, g_b_qkv, g_w_out, g_b_out, g_w_vec, g_w_f, g_b_f,
            g_rbf, g_phi, g_unit, None,
        )  # fmt: skip


def fused_layer(
    layer, x: Tensor, v: Tensor | None, pairs: MessagePairs, rbf: Tensor
) -> tuple[Tensor, Tensor]:
    """``layer(x, v, pairs, rbf)`` of an :class:`EquivariantAttention` (SiLU, both filters)
    through :class:`FusedLayer`."""
    params = (
        layer.norm.weight,
        layer.norm.bias,
        layer.qkv.weight,
        layer.qkv.bias,
        layer.out.weight,
        layer.out.bias,
        layer.vec_proj.weight,
        layer.filter.weight,
        layer.filter.bias,
    )
    edges = [get_gradient_edge(p) if p.requires_grad else None for p in params]
    static = _Static(pairs, layer.heads, layer.norm.eps, edges)
    return FusedLayer.apply(x, v, *params, rbf, pairs.weight, pairs.unit, static)
