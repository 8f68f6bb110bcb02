"""The neighbour sums of one ET layer over dense molecule blocks, for batches of small molecules.

Without periodic images every pair of a batch of ``B`` molecules lies inside one molecule, so the
directed pairs ``i ← j`` fit in ``B`` blocks of ``n × n`` (``n`` the largest molecule; smaller ones
are padded). In that layout the gathers of the edge list (``k_j``, ``s⁰_j``, …) are broadcasts of
the per-atom tensors, the scatter sums over neighbours are reductions over a block axis, and the
``r̂ ⊗`` products are small batched matrix products: no ``index_select`` or ``index_add_`` at all,
which do not scale with threads on CPU (nor compile without atomic adds). Pairs beyond the cutoff
and padding carry ``φ = 0``; the diagonal is each atom's self term (``φ = 1``, ``r̂ = 0``). The
distance filters are the same for ``i ← j`` and ``j ← i``, so they are computed once per cell of
each block's upper triangle (``i ≤ j``) and read through an index for both directions.

It pays when the blocks hold not many more cells than the edge list has directed pairs (a batch of
molecules smaller than the cutoff sphere: MD17, QM9); the policy of
:mod:`~noether.atoms.models.et.inference` decides. :func:`block_sums_forward` and :func:`block_sums_backward` compute the same sums and first
derivatives as :func:`~noether.atoms.models.et.messages.edge_sums_forward` and its backward (tested
to float64 round-off) and serve :mod:`noether.atoms.models.et.fused`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from noether.atoms.models.et.pairs import Pairs

__all__ = ["MoleculeBlocks", "block_sums_backward", "block_sums_forward", "molecule_blocks"]


@dataclass
class MoleculeBlocks:
    """``B`` blocks of ``n × n`` directed pairs ``i ← j``, row ``i`` receiving.

    Attributes:
        n_blocks, size: ``B`` and ``n``.
        slots: ``(N,)`` row of each atom in the padded ``(B n, …)`` per-atom layout, or None when
            the atoms already are in that layout (frames sorted, all of ``n`` atoms).
        weight: ``(B, n, n)`` the cutoff ``φ(r_ij)``; 1 on the diagonal, 0 for absent pairs.
        unit: ``(B, n, n, 3)`` unit vector from ``i`` to ``j``; 0 on the diagonal and absent pairs.
        rbf: ``(B T, K)`` radial basis of each upper-triangle cell (``T = n (n + 1) / 2``, row
            major), ``e(0)`` on the diagonal, 0 when absent.
        cell_triangle: ``(n n,)`` the triangle cell of each block cell ``(i, j)``.
        triangle_cells: ``(2, T)`` block cells ``(i, j)`` and ``(j, i)`` of each triangle cell.
        off_diagonal: ``(T, 1)`` 1, or 0 for the diagonal (whose two block cells coincide).
    """

    n_blocks: int
    size: int
    slots: Tensor | None
    weight: Tensor
    unit: Tensor
    rbf: Tensor
    cell_triangle: Tensor
    triangle_cells: Tensor
    off_diagonal: Tensor


def _layout(batch: Tensor, n_graphs: int) -> tuple[int, Tensor]:
    """``(n, row (N,))``: the largest frame and each atom's row ``frame · n + slot``."""
    counts = torch.bincount(batch, minlength=n_graphs)
    size = int(counts.max())
    order = torch.argsort(batch, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.empty_like(batch)
    slot[order] = torch.arange(batch.shape[0], device=batch.device) - starts[batch[order]]
    return size, batch * size + slot


def molecule_blocks(
    pairs: Pairs, weight: Tensor, rbf: Tensor, rbf_self: Tensor, batch: Tensor, n_graphs: int
) -> MoleculeBlocks:
    """The blocks of ``pairs`` (all within frames) with cutoff ``weight (P,)``, radial basis
    ``rbf (P, K)`` and each atom's basis at ``r = 0``, ``rbf_self (N, K)``; differentiable in all
    three and in ``pairs.unit``."""
    n_atoms = batch.shape[0]
    device = batch.device
    size, row = _layout(batch, n_graphs)
    slot = row - batch * size
    cells = n_graphs * size * size
    rows_a, rows_b = row[pairs.a], row[pairs.b]
    index = torch.cat(
        [rows_a * size + slot[pairs.b], rows_b * size + slot[pairs.a], row * size + slot]
    )
    ones = weight.new_ones(n_atoms)
    blocks_weight = weight.new_zeros(cells).index_put((index,), torch.cat([weight, weight, ones]))
    unit = pairs.unit
    blocks_unit = unit.new_zeros(cells, 3).index_put(
        (index,), torch.cat([unit, -unit, unit.new_zeros(n_atoms, 3)])
    )
    i, j = torch.triu_indices(size, size, device=device)
    n_tri = i.shape[0]
    triangle = torch.empty(size, size, dtype=torch.long, device=device)
    triangle[i, j] = triangle[j, i] = torch.arange(n_tri, device=device)
    tri_pairs = batch[pairs.a] * n_tri + triangle[slot[pairs.a], slot[pairs.b]]
    tri_self = batch * n_tri + triangle[slot, slot]
    blocks_rbf = rbf.new_zeros(n_graphs * n_tri, rbf.shape[1]).index_put(
        (torch.cat([tri_pairs, tri_self]),), torch.cat([rbf, rbf_self])
    )
    identity = n_graphs * size == n_atoms and bool(
        (row == torch.arange(n_atoms, device=device)).all()
    )
    return MoleculeBlocks(
        n_blocks=n_graphs,
        size=size,
        slots=None if identity else row,
        weight=blocks_weight.view(n_graphs, size, size),
        unit=blocks_unit.view(n_graphs, size, size, 3),
        rbf=blocks_rbf,
        cell_triangle=triangle.view(-1),
        triangle_cells=torch.stack([i * size + j, j * size + i]),
        off_diagonal=(i != j).to(rbf.dtype).unsqueeze(-1),
    )


def _filters(pre: Tensor, blocks: MoleculeBlocks, hidden: int) -> tuple[Tensor, ...]:
    """``D^K, D^V⁰, D^V¹, D^V² (B, n, n, H)`` of every block cell from the triangle's
    pre-activations ``pre (B T, 4H)``."""
    b, n = blocks.n_blocks, blocks.size
    f = F.silu(pre).view(b, -1, 4 * hidden)[:, blocks.cell_triangle]
    return f.view(b, n, n, 4, hidden).unbind(3)


def block_sums_forward(
    q: Tensor,
    k: Tensor,
    s0: Tensor,
    s2: Tensor,
    sv: Tensor | None,
    rbf: Tensor,
    weight: Tensor,
    bias: Tensor,
    blocks: MoleculeBlocks,
    heads: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(y (B n, H), w (B n, 3, H), pre (B T, 4H))``; SiLU filters and attention.

    Per-atom inputs in the padded layout: ``q, k, s0, s2 (B n, H)``, ``sv (B n, 3, H)`` or None.
    ``rbf (B T, K)`` (the blocks' own), ``weight (4H, K)`` and ``bias (4H,)`` the stacked filter
    layers ``[D^K; D^V⁰; D^V¹; D^V²]``; ``pre (B T, 4H)`` their pre-activations on the triangle.
    """
    b, n = blocks.n_blocks, blocks.size
    hidden = q.shape[1]
    width = hidden // heads
    phi = blocks.weight.unsqueeze(-1)  # (B, n, n, 1)
    pre = torch.addmm(bias, rbf, weight.t())
    dk, dv0, dv1, dv2 = _filters(pre, blocks, hidden)
    qk = q.view(b, n, 1, hidden) * k.view(b, 1, n, hidden)
    attn = F.silu(qk.mul_(dk).view(b, n, n, heads, width).sum(-1)).mul_(phi)  # (B, n, n, heads)
    msg = (s0.view(b, 1, n, hidden) * dv0).view(b, n, n, heads, width).mul_(attn.unsqueeze(-1))
    y = msg.sum(2).view(b * n, hidden)
    t2 = (s2.view(b, 1, n, hidden) * dv2).mul_(phi)
    w = torch.bmm(blocks.unit.view(b * n, n, 3).transpose(1, 2), t2.view(b * n, n, hidden))
    if sv is not None:
        a1 = (dv1 * phi).unsqueeze(3)  # (B, n, n, 1, H)
        w += (a1 * sv.view(b, 1, n, 3, hidden)).sum(2).view(b * n, 3, hidden)
    return y, w, pre


def block_sums_backward(
    gy: Tensor,
    gw: Tensor,
    q: Tensor,
    k: Tensor,
    s0: Tensor,
    s2: Tensor,
    sv: Tensor | None,
    pre: Tensor,
    blocks: MoleculeBlocks,
    heads: int,
) -> tuple[Tensor, ...]:
    """Gradients of :func:`block_sums_forward` given ``gy (B n, H)`` and ``gw (B n, 3, H)``.

    Returns ``(g_q, g_k, g_s0, g_s2, g_sv or None, g_pre (B T, 4H), g_weight (B, n, n),
    g_unit (B, n, n, 3))``.
    """
    b, n = blocks.n_blocks, blocks.size
    hidden = q.shape[1]
    width = hidden // heads
    phi = blocks.weight.unsqueeze(-1)
    unit = blocks.unit
    dk, dv0, dv1, dv2 = _filters(pre, blocks, hidden)
    q_i = q.view(b, n, 1, hidden)
    k_j = k.view(b, 1, n, hidden)
    qk = q_i * k_j
    logits = (qk * dk).view(b, n, n, heads, width).sum(-1)
    sig = F.silu(logits)
    attn = sig * phi

    # scalar messages: y_i = Σ_j attn_ij s⁰_j D^V⁰_ij
    gy_i = gy.view(b, n, 1, hidden)
    s0_j = s0.view(b, 1, n, hidden)
    g_attn = (gy_i * s0_j).mul_(dv0).view(b, n, n, heads, width).sum(-1)
    gy_a = (gy.view(b, n, 1, heads, width) * attn.unsqueeze(-1)).view(b, n, n, hidden)
    g_s0 = (gy_a * dv0).sum(1)
    g_dv0 = gy_a.mul_(s0_j)
    g_weight = (g_attn * sig).sum(-1)
    g_logits = torch.ops.aten.silu_backward(g_attn.mul_(phi), logits)
    g_logits = g_logits.unsqueeze(-1).expand(b, n, n, heads, width).reshape(b, n, n, hidden)
    g_qk = g_logits * dk
    g_q = (g_qk * k_j).sum(2)
    g_k = g_qk.mul_(q_i).sum(1)
    g_dk = g_logits.mul_(qk)

    # vector messages: w_i = Σ_j φ (s²_j D^V²_ij) r̂_ij + φ D^V¹_ij sv_j
    gw_i = gw.reshape(b * n, 3, hidden)
    s2_j = s2.view(b, 1, n, hidden)
    t2 = s2_j * dv2
    g_t2 = torch.bmm(unit.view(b * n, n, 3), gw_i).view(b, n, n, hidden).mul_(phi)
    g_s2 = (g_t2 * dv2).sum(1)
    g_dv2 = g_t2.mul_(s2_j)
    g_rphi = torch.bmm(t2.view(b * n, n, hidden), gw_i.transpose(1, 2)).view(b, n, n, 3)
    g_unit = g_rphi * phi
    g_weight += (g_rphi * unit).sum(-1)
    if sv is not None:
        gw5 = gw.view(b, n, 1, 3, hidden)
        g_sv = (gw5 * (dv1 * phi).unsqueeze(3)).sum(1).view(b * n, 3, hidden)
        g_a1 = (gw5 * sv.view(b, 1, n, 3, hidden)).sum(3)  # (B, n, n, H)
        g_weight += (g_a1 * dv1).sum(-1)
        g_dv1 = g_a1.mul_(phi)
    else:
        g_sv, g_dv1 = None, torch.zeros_like(dv1)
    g_f = torch.stack([g_dk, g_dv0, g_dv1, g_dv2], 3).view(b, n * n, 4 * hidden)
    ij, ji = blocks.triangle_cells
    g_f = g_f[:, ij] + g_f[:, ji] * blocks.off_diagonal  # both directions of each triangle cell
    g_pre = torch.ops.aten.silu_backward(g_f.view(-1, 4 * hidden), pre)
    shape = (b * n, hidden)
    return (
        g_q.reshape(shape), g_k.reshape(shape), g_s0.reshape(shape), g_s2.reshape(shape),
        g_sv, g_pre, g_weight, g_unit,
    )  # fmt: skip
