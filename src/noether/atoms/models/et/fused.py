"""A whole ET layer as one autograd node with a hand-written backward, for fast inference.

Plain autograd records some thirty nodes per layer and keeps every intermediate; for the energy
and forces of a trained model that costs time (small molecules are bound by the number of
operations) and memory (large systems by the per-edge tensors). :class:`FusedLayer` computes the
layer of :class:`~noether.atoms.models.et.attention.EquivariantAttention` directly, keeps only
per-atom tensors and the filter pre-activations, and computes the first derivatives by hand:

- the neighbour sums run over the edge list in chunks
  (:func:`~noether.atoms.models.et.messages.edge_sums_forward` and its backward), recomputing
  per-edge products in cache-sized pieces, or over dense molecule blocks
  (:mod:`~noether.atoms.models.et.blocks`) for batches of small molecules;
- parameter gradients are computed only when the backward pass will use them (the autograd
  engine says so): a force evaluation asks for position gradients alone and skips them.

The two halves are pure functions (:func:`layer_forward`, :func:`layer_backward`), so
:class:`LayerKernels` can hand them to ``torch.compile``: over molecule blocks there is no scatter
sum, and inductor fuses each half's pointwise work and reductions into a few loops.

It is first-order only (``once_differentiable``): training with a force loss differentiates the
forces again, so training runs the plain layer. Both compute the same function (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.autograd.graph import GradientEdge, get_gradient_edge

from noether.atoms.models.et.blocks import MoleculeBlocks, block_sums_backward, block_sums_forward
from noether.atoms.models.et.messages import edge_sums_backward, edge_sums_forward
from noether.atoms.models.et.pairs import MessagePairs

__all__ = ["EAGER", "FusedLayer", "LayerKernels", "fused_layer", "layer_backward", "layer_forward"]


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
    layout: MessagePairs | MoleculeBlocks  # its weight and unit are inputs of the Function
    heads: int
    eps: float
    edges: list[GradientEdge | None]  # of the parameters, in argument order
    kernels: LayerKernels


def layer_forward(
    x, v, ln_w, ln_b, w_qkv, b_qkv, w_out, b_out, w_vec, w_f, b_f, rbf, layout, heads, eps
):
    """``(x', v', saved)``: the layer's outputs and the tensors :func:`layer_backward` needs.
    ``layout`` is a :class:`MessagePairs` or :class:`MoleculeBlocks` (with its cutoff weights and
    unit vectors); no autograd."""
    n_atoms, hidden = x.shape
    sums = block_sums_forward if isinstance(layout, MoleculeBlocks) else edge_sums_forward
    xn, mean, rstd = torch.native_layer_norm(x, (hidden,), ln_w, ln_b, eps)
    qkv = torch.addmm(b_qkv, xn, w_qkv.t())
    q, k, s0, s1, s2 = qkv.split(hidden, dim=1)
    if v is None:
        sv = vp = None
    else:
        sv = v * s1.unsqueeze(1)
        vp = torch.mm(v.reshape(3 * n_atoms, hidden), w_vec.t()).view(n_atoms, 3, 3 * hidden)
    y, w, pre = sums(q, k, s0, s2, sv, rbf, w_f, b_f, layout, heads)
    o = torch.addmm(b_out, y, w_out.t())
    o1, o2, o3 = o.split(hidden, dim=1)
    if v is None:
        return x + o3, w, (mean, rstd, xn, qkv, y, o, None, pre)
    u1, u2, u3 = vp.split(hidden, dim=-1)
    vdot = (u1 * u2).sum(1)
    x_new = torch.addcmul(o3, vdot, o2).add_(x)
    v_new = torch.addcmul(w, u3, o1.unsqueeze(1)).add_(v)
    return x_new, v_new, (mean, rstd, xn, qkv, y, o, vp, pre)


def layer_backward(
    gx, gv, x, v, saved, ln_w, ln_b, w_qkv, w_out, w_vec, w_f, rbf, layout, heads, need
):
    """Gradients of :func:`layer_forward` given those of its outputs, ``saved`` its third output;
    ``need`` flags the parameter gradients (in argument order, then ``rbf``) to compute.

    Returns ``(g_x, g_v, g_ln_w, g_ln_b, g_w_qkv, g_b_qkv, g_w_out, g_b_out, g_w_vec, g_w_f,
    g_b_f, g_rbf, g_phi, g_unit)`` (None where not needed)."""
    mean, rstd, xn, qkv, y, o, vp, pre = saved
    n_atoms, hidden = x.shape
    sums = block_sums_backward if isinstance(layout, MoleculeBlocks) else edge_sums_backward
    q, k, s0, s1, s2 = qkv.split(hidden, dim=1)
    gx = gx.contiguous()
    gv = gv.contiguous()

    # update: x' = x + o³ + o² ⟨U₁v, U₂v⟩,  v' = v + w + o¹ U₃v
    if v is not None:
        o1, o2, _ = o.split(hidden, dim=1)
        u1, u2, u3 = vp.split(hidden, dim=-1)
        vdot = (u1 * u2).sum(1)
        g_vdot = (gx * o2).unsqueeze(1)
        g_vp = torch.cat([g_vdot * u2, g_vdot * u1, gv * o1.unsqueeze(1)], dim=-1)
        g_o = torch.cat([(gv * u3).sum(1), gx * vdot, gx], dim=1)
        sv = v * s1.unsqueeze(1)
    else:
        g_o = torch.cat([torch.zeros_like(gx), torch.zeros_like(gx), gx], dim=1)
        sv = None
    g_y = g_o @ w_out

    # neighbour sums
    g_q, g_k, g_s0, g_s2, g_sv, g_pre, g_phi, g_unit = sums(
        g_y, gv, q, k, s0, s2, sv, pre, layout, heads
    )
    g_rbf = g_pre @ w_f if need[9] else None

    # projections and the LayerNorm
    if v is not None:
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
    if need[6] and v is not None:
        g_w_vec = g_vp.reshape(3 * n_atoms, 3 * hidden).t() @ v.reshape(3 * n_atoms, hidden)
    g_w_f = g_pre.t() @ rbf if need[7] else None
    g_b_f = g_pre.sum(0) if need[8] else None
    return (
        g_x, g_v, g_ln_w if need[0] else None, g_ln_b if need[1] else None,
        g_w_qkv, g_b_qkv, g_w_out, g_b_out, g_w_vec, g_w_f, g_b_f, g_rbf, g_phi, g_unit,
    )  # fmt: skip


@dataclass(frozen=True)
class LayerKernels:
    """The two halves of :class:`FusedLayer`: :func:`layer_forward` and :func:`layer_backward`,
    eager or through ``torch.compile`` (:meth:`compiled`)."""

    forward: Callable = layer_forward
    backward: Callable = layer_backward

    @classmethod
    def compiled(cls, **options) -> LayerKernels:
        """Both halves through ``torch.compile`` (``options``), compiled at their first call."""
        return cls(
            torch.compile(layer_forward, **options), torch.compile(layer_backward, **options)
        )


EAGER = LayerKernels()


class FusedLayer(torch.autograd.Function):
    """``apply(x, v, ln_w, ln_b, w_qkv, b_qkv, w_out, b_out, w_vec, w_f, b_f, rbf, phi, unit,
    static) -> (x', v')``. See :func:`fused_layer`."""

    @staticmethod
    def forward(
        ctx, x, v, ln_w, ln_b, w_qkv, b_qkv, w_out, b_out, w_vec, w_f, b_f, rbf, phi, unit, static
    ):
        layout = replace(static.layout, weight=phi, unit=unit)
        params = (ln_w, ln_b, w_qkv, b_qkv, w_out, b_out, w_vec, w_f, b_f)
        x_new, v_new, saved = static.kernels.forward(
            x, v, *params, rbf, layout, static.heads, static.eps
        )
        ctx.static = static
        ctx.has = (v is not None, saved[6] is not None)
        none = x.new_zeros(0)
        ctx.save_for_backward(
            x, none if v is None else v, *(none if t is None else t for t in saved),
            rbf, phi, unit, ln_w, ln_b, w_qkv, w_out, w_vec, w_f,
        )  # fmt: skip
        return x_new, v_new

    @staticmethod
    @once_differentiable
    def backward(ctx, gx, gv):
        x, v, *rest = ctx.saved_tensors
        saved, (rbf, phi, unit, ln_w, ln_b, w_qkv, w_out, w_vec, w_f) = rest[:8], rest[8:]
        has_v, has_vp = ctx.has
        v = v if has_v else None
        saved[6] = saved[6] if has_vp else None
        static = ctx.static
        need = (*(_will_run(e) for e in static.edges), ctx.needs_input_grad[11])
        layout = replace(static.layout, weight=phi, unit=unit)
        grads = static.kernels.backward(
            gx, gv, x, v, tuple(saved), ln_w, ln_b, w_qkv, w_out, w_vec, w_f, rbf, layout,
            static.heads, need,
        )  # fmt: skip
        return (*grads, None)


def fused_layer(
    layer,
    x: Tensor,
    v: Tensor | None,
    layout: MessagePairs | MoleculeBlocks,
    rbf: Tensor,
    kernels: LayerKernels = EAGER,
) -> tuple[Tensor, Tensor]:
    """``layer(x, v, layout, rbf)`` of an :class:`EquivariantAttention` (SiLU, both filters)
    through :class:`FusedLayer`, over an edge list or dense molecule blocks
    (:mod:`~noether.atoms.models.et.blocks`; ``rbf`` is then the blocks' own)."""
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
    static = _Static(layout, layer.heads, layer.norm.eps, edges, kernels)
    return FusedLayer.apply(x, v, *params, rbf, layout.weight, layout.unit, static)
