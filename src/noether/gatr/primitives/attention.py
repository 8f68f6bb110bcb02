"""Attention as one fused ``scaled_dot_product_attention`` call over invariant features.

:func:`scaled_dot_product` is the single dispatch that GATr and the baseline Transformer share.
:func:`geometric_attention` packs multivector queries, keys and values into per-head feature
vectors whose dot product is the invariant score

``sum_c <q_c, k_c> + sum_c w_c d(q_c, k_c) + q_s . k_s``

(the algebra's inner product, the distance features of improved PGA with learnable weights
``w_c > 0``, and the auxiliary scalars), calls SDPA once, and unpacks the output. Query and key
features are padded with zeros to the value width rounded up to 8, since the fused CPU and GPU
kernels want equal head widths; zeros change no score, and the softmax temperature is set from
the unpadded width.

Packing and unpacking are fused autograd functions: their backward writes the gradients of the
projections into one buffer, instead of the zero-filled, summed gradients of the many slices
and permutations autograd would build.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel

from noether.algebra import Algebra
from noether.gatr.primitives.fused import differentiable_backward, save_inputs, saved_inputs
from noether.gatr.primitives.invariants import distance_features, point_components, point_features
from noether.gatr.primitives.layout import layout

__all__ = ["AttentionShape", "geometric_attention", "head_width", "scaled_dot_product"]


def head_width(*widths: int) -> int:
    """The common padded width of queries, keys and values: the largest, rounded up to 8."""
    return -(-max(widths) // 8) * 8


def _sdpa(q, k, v, mask, scale):
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, scale=scale, enable_gqa=k.shape[1] != q.shape[1]
    )


def _sdpa_math(q, k, v, mask, scale):
    with sdpa_kernel(SDPBackend.MATH):
        return _sdpa(q, k, v, mask, scale)


class _Attention(torch.autograd.Function):
    """Fused SDPA whose backward is differentiable too: the fused kernels' backward is not (no
    double backward on CPU), so a backward with ``create_graph=True`` differentiates the math
    kernel instead; a plain backward reuses the fused kernel's own."""

    @staticmethod
    def forward(ctx, q, k, v, mask, scale):
        save_inputs(ctx, (q, k, v, mask, scale))
        with torch.enable_grad():
            inner = [t.detach().requires_grad_(t.requires_grad) for t in (q, k, v)]
            out = _sdpa(*inner, mask, scale)
        ctx.inner, ctx.out = inner, out
        return out.detach()

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():
            return differentiable_backward(ctx, _sdpa_math, (grad,))
        wanted = [t for t in ctx.inner if t.requires_grad]
        # retained: the inner graph lives as long as this node (a repeated backward reuses it)
        found = iter(torch.autograd.grad(ctx.out, wanted, grad, retain_graph=True))
        grads = [next(found) if t.requires_grad else None for t in (ctx.saved_tensors[:3])]
        return (*grads, None, None)


def scaled_dot_product(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, scale: float | None = None
) -> Tensor:
    """Softmax attention: ``q: (B, H, Tq, F), k: (B, Hk, Tk, F), v: (B, Hk, Tk, Fv)``.

    ``Hk`` divides ``H`` (multi-query attention when ``Hk == 1``: keys and values are shared by
    the heads without being copied). ``mask``: boolean (True: may attend) or additive,
    broadcastable to ``(B, H, Tq, Tk)``. One call of
    :func:`torch.nn.functional.scaled_dot_product_attention`, which picks the fused kernel
    (flash attention on CPU when the widths agree); differentiable twice (forces from energies).
    """
    if torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad):
        return _Attention.apply(q, k, v, mask, scale)
    return _sdpa(q, k, v, mask, scale)


@dataclass(frozen=True)
class AttentionShape:
    """Where queries, keys and values sit in the projections, and the packed shapes.

    Queries come from ``q_mv[..., q_offset : q_offset + heads * hm]`` (scalars likewise from
    ``q_s``); keys and values from the key/value source at ``k_offset`` and ``v_offset``, with
    ``kv_heads`` heads. ``ip`` is the number of leading (non-degenerate) components whose inner
    product enters the score; ``distance`` adds the point features of improved PGA.
    """

    batch: int
    heads: int
    kv_heads: int
    hm: int
    hs: int
    tq: int
    tk: int
    q_offset: int
    k_offset: int
    v_offset: int
    q_s_offset: int
    k_s_offset: int
    v_s_offset: int
    ip: int
    distance: bool
    eps: float

    @property
    def n_distance(self) -> int:
        return 5 if self.distance else 0

    @property
    def width_qk(self) -> int:
        return self.hm * (self.ip + self.n_distance) + self.hs

    def width_v(self, dim: int) -> int:
        return self.hm * dim + self.hs

    def width(self, dim: int) -> int:
        return head_width(self.width_qk, self.width_v(dim))


def _heads_view(t: Tensor, batch: int, tokens: int, heads: int, per: int) -> Tensor:
    """``(f, batch * tokens, heads * per) -> (batch, heads, tokens, per, f)`` view."""
    return t.reshape(t.shape[0], batch, tokens, heads, per).permute(1, 3, 2, 4, 0)


def _scalar_view(t: Tensor, batch: int, tokens: int, heads: int, per: int) -> Tensor:
    """``(batch * tokens, heads * per) -> (batch, heads, tokens, per)`` view."""
    return t.reshape(batch, tokens, heads, per).permute(0, 2, 1, 3)


def _distance(algebra: Algebra, mv: Tensor, offset: int, channels: int, eps: float, key: bool):
    feats = distance_features(algebra, mv[..., offset : offset + channels], eps)
    return feats[1] if key else feats[0]


def _pack_reference(algebra, q_mv, q_s, kv_mv, kv_s, weights, shape: AttentionShape):
    """Plain-autograd packing: ``(q, k, v)`` of shapes ``(B, H|Hk, T, width)``."""
    lay = layout(algebra)
    dim, sh = lay.dim, shape
    kv_mv = q_mv if kv_mv is None else kv_mv
    kv_s = q_s if kv_s is None else kv_s
    width = sh.width(dim)
    b = sh.batch

    def role(mv, s, off, s_off, heads, tokens, key):
        chans = heads * sh.hm
        parts = []
        ip = mv[: sh.ip, :, off : off + chans]
        if not key and not lay.euclidean_metric:
            ip = ip * lay.signs(mv.device, mv.dtype)[: sh.ip]
        parts.append(_heads_view(ip, b, tokens, heads, sh.hm).reshape(b, heads, tokens, -1))
        if sh.distance:
            d = _distance(algebra, mv, off, chans, sh.eps, key)
            if not key:
                d = d * weights
            parts.append(_heads_view(d, b, tokens, heads, sh.hm).reshape(b, heads, tokens, -1))
        if sh.hs:
            parts.append(_scalar_view(s[:, s_off : s_off + heads * sh.hs], b, tokens, heads, sh.hs))
        return F.pad(torch.cat(parts, -1), (0, width - sh.width_qk))

    q = role(q_mv, q_s, sh.q_offset, sh.q_s_offset, sh.heads, sh.tq, False)
    k = role(kv_mv, kv_s, sh.k_offset, sh.k_s_offset, sh.kv_heads, sh.tk, True)
    chans = sh.kv_heads * sh.hm
    v_parts = [
        _heads_view(
            kv_mv[..., sh.v_offset : sh.v_offset + chans], b, sh.tk, sh.kv_heads, sh.hm
        ).reshape(b, sh.kv_heads, sh.tk, -1)
    ]
    if sh.hs:
        v_parts.append(
            _scalar_view(
                kv_s[:, sh.v_s_offset : sh.v_s_offset + sh.kv_heads * sh.hs],
                b,
                sh.tk,
                sh.kv_heads,
                sh.hs,
            )
        )
    v = F.pad(torch.cat(v_parts, -1), (0, width - sh.width_v(dim)))
    return q, k, v


class _Pack(torch.autograd.Function):
    @staticmethod
    def forward(ctx, algebra, q_mv, q_s, kv_mv, kv_s, weights, shape):
        save_inputs(ctx, (algebra, q_mv, q_s, kv_mv, kv_s, weights, shape))
        lay = layout(algebra)
        dim, sh, b = lay.dim, shape, shape.batch
        src_mv = q_mv if kv_mv is None else kv_mv
        src_s = q_s if kv_s is None else kv_s
        width = sh.width(dim)
        out = []
        for mv, s, off, s_off, heads, tokens, key in (
            (q_mv, q_s, sh.q_offset, sh.q_s_offset, sh.heads, sh.tq, False),
            (src_mv, src_s, sh.k_offset, sh.k_s_offset, sh.kv_heads, sh.tk, True),
        ):
            chans = heads * sh.hm
            t = mv.new_empty(b, heads, tokens, width)
            end = sh.hm * sh.ip
            region = t[..., :end].view(b, heads, tokens, sh.hm, sh.ip)
            region.copy_(_heads_view(mv[: sh.ip, :, off : off + chans], b, tokens, heads, sh.hm))
            if not key and not lay.euclidean_metric:
                region.mul_(lay.signs(mv.device, mv.dtype)[: sh.ip].view(-1))
            if sh.distance:
                d = _distance(algebra, mv, off, chans, sh.eps, key)
                if not key:
                    d = d * weights
                t[..., end : end + 5 * sh.hm].view(b, heads, tokens, sh.hm, 5).copy_(
                    _heads_view(d, b, tokens, heads, sh.hm)
                )
                end += 5 * sh.hm
            if sh.hs:
                t[..., end : end + sh.hs].copy_(
                    _scalar_view(s[:, s_off : s_off + heads * sh.hs], b, tokens, heads, sh.hs)
                )
                end += sh.hs
            t[..., end:].zero_()
            out.append(t)
        chans = sh.kv_heads * sh.hm
        v = src_mv.new_empty(b, sh.kv_heads, sh.tk, width)
        end = sh.hm * dim
        v[..., :end].view(b, sh.kv_heads, sh.tk, sh.hm, dim).copy_(
            _heads_view(
                src_mv[..., sh.v_offset : sh.v_offset + chans], b, sh.tk, sh.kv_heads, sh.hm
            )
        )
        if sh.hs:
            v[..., end : end + sh.hs].copy_(
                _scalar_view(
                    src_s[:, sh.v_s_offset : sh.v_s_offset + sh.kv_heads * sh.hs],
                    b,
                    sh.tk,
                    sh.kv_heads,
                    sh.hs,
                )
            )
            end += sh.hs
        v[..., end:].zero_()
        return out[0], out[1], v

    @staticmethod
    def backward(ctx, grad_q, grad_k, grad_v):
        if torch.is_grad_enabled():
            return differentiable_backward(ctx, _pack_reference, (grad_q, grad_k, grad_v))
        algebra, q_mv, q_s, kv_mv, kv_s, weights, sh = saved_inputs(ctx)
        lay = layout(algebra)
        dim, b = lay.dim, sh.batch
        separate = kv_mv is not None
        g_q_mv = torch.empty_like(q_mv)
        g_kv_mv = torch.empty_like(kv_mv) if separate else g_q_mv
        g_q_s = torch.empty_like(q_s) if q_s is not None else None
        g_kv_s = (torch.empty_like(kv_s) if kv_s is not None else None) if separate else g_q_s
        src_mv = kv_mv if separate else q_mv
        g_weights = None
        for mv, g_mv, g_s, grad, off, s_off, heads, tokens, key in (
            (q_mv, g_q_mv, g_q_s, grad_q, sh.q_offset, sh.q_s_offset, sh.heads, sh.tq, False),
            (src_mv, g_kv_mv, g_kv_s, grad_k, sh.k_offset, sh.k_s_offset, sh.kv_heads, sh.tk, True),
        ):
            chans = heads * sh.hm
            block = g_mv[..., off : off + chans]
            block[sh.ip :].zero_()
            end = sh.hm * sh.ip
            g_ip = grad[..., :end].view(b, heads, tokens, sh.hm, sh.ip)
            if not key and not lay.euclidean_metric:
                g_ip = g_ip * lay.signs(grad.device, grad.dtype)[: sh.ip].view(-1)
            _heads_view(block[: sh.ip], b, tokens, heads, sh.hm).copy_(g_ip)
            if sh.distance:
                g_d = grad[..., end : end + 5 * sh.hm].view(b, heads, tokens, sh.hm, 5)
                g_d = g_d.permute(4, 0, 2, 1, 3).reshape(5, b * tokens, chans)
                weight_index, coords = point_components(algebra)
                index = [weight_index, *coords]
                points = mv[index, :, off : off + chans].detach().requires_grad_()
                w = weights.detach().requires_grad_() if (not key and weights is not None) else None
                with torch.enable_grad():
                    d = point_features(points[0], points[1:], sh.eps)[1 if key else 0]
                    if w is not None:
                        d = d * w
                    wanted = [points] + ([w] if w is not None and ctx.needs_input_grad[5] else [])
                    found = torch.autograd.grad(d, wanted, g_d)
                block[index] += found[0]
                if len(found) > 1:
                    g_weights = found[1]
                end += 5 * sh.hm
            if sh.hs:
                g_view = _scalar_view(
                    g_s[:, s_off : s_off + heads * sh.hs], b, tokens, heads, sh.hs
                )
                g_view.copy_(grad[..., end : end + sh.hs])
        chans = sh.kv_heads * sh.hm
        _heads_view(
            g_kv_mv[..., sh.v_offset : sh.v_offset + chans], b, sh.tk, sh.kv_heads, sh.hm
        ).copy_(grad_v[..., : sh.hm * dim].view(b, sh.kv_heads, sh.tk, sh.hm, dim))
        if sh.hs:
            g_view = _scalar_view(
                g_kv_s[:, sh.v_s_offset : sh.v_s_offset + sh.kv_heads * sh.hs],
                b,
                sh.tk,
                sh.kv_heads,
                sh.hs,
            )
            g_view.copy_(grad_v[..., sh.hm * dim : sh.hm * dim + sh.hs])
        if not separate:
            return None, g_q_mv, g_q_s, None, None, g_weights, None
        return None, g_q_mv, g_q_s, g_kv_mv, g_kv_s, g_weights, None


def _unpack_reference(out: Tensor, dim: int, sh: AttentionShape):
    b, h, tq = sh.batch, sh.heads, sh.tq
    mv = out[..., : sh.hm * dim].reshape(b, h, tq, sh.hm, dim).permute(4, 0, 2, 1, 3)
    mv = mv.reshape(dim, b * tq, h * sh.hm)
    s = out[..., sh.hm * dim : sh.hm * dim + sh.hs].permute(0, 2, 1, 3).reshape(b * tq, h * sh.hs)
    return mv, s


class _Unpack(torch.autograd.Function):
    @staticmethod
    def forward(ctx, out, dim, sh):
        save_inputs(ctx, (out, dim, sh))
        mv, s = _unpack_reference(out, dim, sh)
        return mv, s

    @staticmethod
    def backward(ctx, grad_mv, grad_s):
        if torch.is_grad_enabled():
            return differentiable_backward(ctx, _unpack_reference, (grad_mv, grad_s))
        out, dim, sh = saved_inputs(ctx)
        b, h, tq = sh.batch, sh.heads, sh.tq
        g = torch.empty_like(out)
        end = sh.hm * dim
        g[..., :end].view(b, h, tq, sh.hm, dim).copy_(_heads_view(grad_mv, b, tq, h, sh.hm))
        if sh.hs:
            g[..., end : end + sh.hs].copy_(_scalar_view(grad_s, b, tq, h, sh.hs))
            end += sh.hs
        g[..., end:].zero_()
        return g, None, None


def geometric_attention(
    algebra: Algebra,
    q_mv: Tensor,
    q_s: Tensor | None,
    shape: AttentionShape,
    *,
    kv_mv: Tensor | None = None,
    kv_s: Tensor | None = None,
    mask: Tensor | None = None,
    distance_weights: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on multivectors and scalars in one SDPA call.

    Args:
        q_mv: ``(dim, B * Tq, channels)`` internal layout holding the queries (and, in
            self-attention, the keys and values) at the offsets of ``shape``.
        q_s: ``(B * Tq, channels_s)`` scalars, or ``None`` when ``shape.hs == 0``.
        shape: where everything sits (:class:`AttentionShape`).
        kv_mv, kv_s: the key/value source in cross-attention (``None``: ``q_mv``, ``q_s``).
        mask: SDPA mask for ``(B, heads, Tq, Tk)`` scores.
        distance_weights: ``(heads * hm,)`` non-negative weights of the distance features.

    Returns:
        ``(out_mv (dim, B * Tq, heads * hm), out_s (B * Tq, heads * hs) or None)``.
    """
    dim = layout(algebra).dim
    q, k, v = _Pack.apply(algebra, q_mv, q_s, kv_mv, kv_s, distance_weights, shape)
    out = scaled_dot_product(q, k, v, mask, scale=1.0 / math.sqrt(shape.width_qk))
    out_mv, out_s = _Unpack.apply(out, dim, shape)
    return out_mv, (out_s if shape.hs else None)
