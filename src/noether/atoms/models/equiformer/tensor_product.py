"""The depth-wise ("uvu", channel-wise) tensor product with edge spherical harmonics, fused with
the equivariant linear layer that always follows it in Equiformer.

For an input block ``x`` of ``mul`` copies of ``l1`` and the edge harmonics ``Y^{l2}``, every
allowed output ``lo`` (``|l1-l2| <= lo <= l1+l2``, parity ``p1 p2``, kept when it is in
``irreps_filter`` or is ``0e``) is one *path*::

    t_p[m, u] = w_p[u] · sqrt(2lo+1) Σ_{m1,m2} C^{l1 l2 lo}_{m1 m2 m} x[m1, u] Y^{l2}[m2]

(e3nn's ``TensorProduct`` with ``irrep_normalization='component'``, ``path_normalization='none'``,
which is the paper's ``DepthwiseTensorProduct``). The weights ``w_p[u]`` are either one per edge
(from the radial MLP: ``weight (E, weight_numel)``) or shared (internal parameters). The paths
then go through :class:`EquivariantLinear` to ``irreps_out``.

How it is computed (this is where Equiformer spends its time):

1. ``A = Y @ C`` contracts the Clebsch-Gordan coefficients with the harmonics once per edge for
   all paths of an input block: ``(E, 2l1+1, S)``, ``S = Σ_paths (2lo+1)``.
2. one batched matmul ``Aᵀ x`` gives every path output of that block, ``(E, S, mul)``, with rows
   ordered ``(lo, m, path)`` so that the paths into one ``lo`` form a ready ``(E, 2lo+1,
   n_paths·mul)`` view;
3. the per-edge weights multiply that view (shared weights are folded into the linear instead);
4. one GEMM per (input block, output irrep) applies the linear layer and accumulates.

No tensor of all path outputs is ever concatenated, and the linear never sees a transposed
``mul_ir`` layout. The result equals e3nn's DTP followed by its ``Linear`` (tests check it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from e3nn import o3
from torch import Tensor, nn

from noether.atoms.models.equiformer.irreps import IrrepsLayout

__all__ = ["SeparableTensorProduct", "depthwise_paths"]

_SCALAR = o3.Irrep("0e")


@dataclass(frozen=True)
class Path:
    """One path ``(input block i1, harmonic block i2) -> ir_out`` of the depth-wise product."""

    i1: int
    i2: int
    ir_out: o3.Irrep
    mul: int


def depthwise_paths(
    irreps_in: o3.Irreps, irreps_sh: o3.Irreps, irreps_filter: o3.Irreps
) -> list[Path]:
    """The paper's DTP paths, in e3nn instruction order (input block, harmonic block, output)."""
    keep = {ir for _, ir in irreps_filter} | {_SCALAR}
    paths = []
    for i1, (mul, ir1) in enumerate(irreps_in):
        for i2, (_, ir2) in enumerate(irreps_sh):
            for ir_out in ir1 * ir2:
                if ir_out in keep:
                    paths.append(Path(i1, i2, ir_out, mul))
    return paths


@dataclass
class _Group:
    """The paths of one input block into one output irrep: a contiguous slice of rows."""

    k_in: int  # input block
    ir_out: o3.Irrep
    k_out: int  # output block of the linear (-1: output irrep not wanted)
    lo_dim: int  # 2lo+1
    n_paths: int
    row_start: int  # first row in the (E, S, mul) path tensor of this input block
    weight_start: int  # first per-edge weight
    linear_index: int  # index into self.linear_weights (-1 if k_out < 0)
    index: int  # position in self._groups


class SeparableTensorProduct(nn.Module):
    """Depth-wise tensor product with edge harmonics, then an equivariant linear layer.

    Args:
        irreps_in: node/edge feature irreps (the ``x`` operand).
        irreps_sh: irreps of the harmonics, e.g. ``1x0e+1x1e+1x2e`` (SE(3)) or ``0e+1o+2e``.
        irreps_out: irreps after the linear layer.
        irreps_filter: which path outputs to keep (plus ``0e``); default ``irreps_in``.
        edge_weights: True: ``forward`` takes one weight per edge and path channel
            (``weight_numel`` of them, from a radial MLP); False: the weights are parameters.
        bias: bias on the ``0e`` outputs of the linear layer.

    ``forward(x (E, irreps_in.dim), sh (E, irreps_sh.dim), weight (E, weight_numel) | None)
    -> (E, irreps_out.dim)``; features in the ir_mul layout, harmonics in e3nn's.
    """

    def __init__(
        self,
        irreps_in: str | o3.Irreps,
        irreps_sh: str | o3.Irreps,
        irreps_out: str | o3.Irreps,
        irreps_filter: str | o3.Irreps | None = None,
        *,
        edge_weights: bool = True,
        bias: bool = True,
    ):
        super().__init__()
        self.layout_in = IrrepsLayout(irreps_in)
        self.layout_out = IrrepsLayout(irreps_out)
        self.irreps_in, self.irreps_out = self.layout_in.irreps, self.layout_out.irreps
        self.irreps_sh = o3.Irreps(irreps_sh)
        irreps_filter = self.irreps_in if irreps_filter is None else o3.Irreps(irreps_filter)
        self.paths = depthwise_paths(self.irreps_in, self.irreps_sh, irreps_filter)
        self.edge_weights = edge_weights
        sh_offsets = [s.start for s in self.irreps_sh.slices()]

        # Per input block: the CG tensor (sh_dim, 2l1+1, S) and the row groups.
        self._groups: list[_Group] = []
        cg_tensors = []
        weight_start = 0
        fan_in: dict[int, int] = {}
        group_weights: list[tuple[int, int, int]] = []  # (rows, cols) of each linear weight
        for k_in, b_in in enumerate(self.layout_in.blocks):
            mine = [p for p in self.paths if p.i1 == k_in]
            outs = sorted({p.ir_out for p in mine}, key=lambda ir: (ir.l, -ir.p))
            rows = sum(ir.dim * sum(p.ir_out == ir for p in mine) for ir in outs)
            cg = torch.zeros(self.irreps_sh.dim, b_in.ir.dim, rows, dtype=torch.float64)
            row = 0
            for ir_out in outs:
                group = [p for p in mine if p.ir_out == ir_out]
                n = len(group)
                k_out = self.layout_out._index.get(ir_out, -1)
                lin = -1
                if k_out >= 0:
                    lin = len(group_weights)
                    group_weights.append((n * b_in.mul, self.layout_out.blocks[k_out].mul))
                    fan_in[k_out] = fan_in.get(k_out, 0) + n * b_in.mul
                self._groups.append(
                    _Group(
                        k_in,
                        ir_out,
                        k_out,
                        ir_out.dim,
                        n,
                        row,
                        weight_start,
                        lin,
                        len(self._groups),
                    )
                )
                for j, p in enumerate(group):
                    l1, l2, lo = b_in.ir.l, self.irreps_sh[p.i2].ir.l, ir_out.l
                    c = o3.wigner_3j(l1, l2, lo, dtype=torch.float64) * math.sqrt(ir_out.dim)
                    s = sh_offsets[p.i2]
                    for m in range(ir_out.dim):  # rows ordered (m, path)
                        cg[s : s + 2 * l2 + 1, :, row + m * n + j] = c[:, :, m].T
                row += ir_out.dim * n
                weight_start += n * b_in.mul
            cg_tensors.append(cg)
        self.weight_numel = weight_start
        # Constants, kept in float64 and cast once per dtype and device (a buffer cast to float32
        # and back would lose the exactness of the coefficients).
        self._cg64 = [cg.reshape(cg.shape[0], -1) for cg in cg_tensors]
        self._cg_cache: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
        self._n_in = len(cg_tensors)
        self._groups_of = [[g for g in self._groups if g.k_in == k] for k in range(self._n_in)]
        self._group_rows = [[g.lo_dim * g.n_paths for g in gs] for gs in self._groups_of]
        self._weight_sizes = [g.n_paths * self.layout_in.blocks[g.k_in].mul for g in self._groups]

        self.linear_weights = nn.ParameterList()
        for g in self._groups:
            if g.linear_index >= 0:
                rows, cols = group_weights[g.linear_index]
                w = torch.randn(rows, cols) / math.sqrt(fan_in[g.k_out])
                self.linear_weights.append(nn.Parameter(w))
        self.weight = None
        if not edge_weights:
            self.weight = nn.Parameter(torch.randn(self.weight_numel))
        self.bias = None
        if bias and _SCALAR in self.layout_out:
            self.bias = nn.Parameter(torch.zeros(self.layout_out.block(_SCALAR).mul))

    @property
    def irreps_mid(self) -> o3.Irreps:
        """The irreps of all path outputs (before the linear layer), in path order."""
        return o3.Irreps([(p.mul, p.ir_out) for p in self.paths])

    def extra_repr(self) -> str:
        w = "per-edge" if self.edge_weights else "shared"
        return (
            f"{self.irreps_in} x {self.irreps_sh} -> {self.irreps_out}, {len(self.paths)} paths, "
            f"{self.weight_numel} {w} weights"
        )

    def _cg(self, like: Tensor) -> list[Tensor]:
        key = (like.dtype, like.device)
        if key not in self._cg_cache:
            self._cg_cache[key] = [c.to(dtype=like.dtype, device=like.device) for c in self._cg64]
        return self._cg_cache[key]

    def _group(self, group: _Group, x: Tensor, a: Tensor, w: Tensor, n_edges: int) -> Tensor:
        """The paths of one input block into one output irrep, through the linear layer.

        ``x (E, d1, mul)`` the input block, ``a (E, d1, d·n)`` its CG-harmonic rows, ``w`` the
        path weights (``(E, n·mul)`` per edge or ``(n·mul,)`` shared). The cheaper order wins:
        contract the CG rows first and mix channels on ``d = 2lo+1`` components (late), or mix
        channels on the ``d1 = 2l1+1`` input components and contract the CG rows last (early).
        """
        n, mul, d, d1 = group.n_paths, x.shape[-1], group.lo_dim, x.shape[1]
        lin = self.linear_weights[group.linear_index]  # (n·mul, mul_out)
        if not self.edge_weights:
            lin = w.unsqueeze(-1) * lin
        if d <= d1:  # late: t[e, (m, k), u] = Σ_m1 a[e, m1, (m, k)] x[e, m1, u]
            # einsum, not matmul(a.mT, x): torch's CPU bmm is 30x slower for these tiny matrices.
            t = torch.einsum("eis,eiu->esu", a, x)
            if self.edge_weights:
                t = t.reshape(n_edges, d, n, mul) * w.view(n_edges, 1, n, mul)
            return torch.matmul(t.reshape(n_edges, d, n * mul), lin)
        # early: z[e, m1, k, :] = Σ_u x[e, m1, u] w[e, k, u] W_k[u, :]; y = Σ_{m1,k} a z
        mul_out = lin.shape[-1]
        if self.edge_weights:
            xw = x.unsqueeze(2) * w.view(n_edges, 1, n, mul)  # (E, d1, n, mul)
            z = torch.einsum("eiku,kuo->eiko", xw, lin.view(n, mul, mul_out))
        else:
            z = torch.matmul(x, lin.view(n, mul, mul_out).transpose(0, 1).reshape(mul, n * mul_out))
            z = z.view(n_edges, d1, n, mul_out)
        return torch.einsum("eimk,eiko->emo", a.view(n_edges, d1, d, n), z)

    def forward(self, x: Tensor, sh: Tensor, weight: Tensor | None = None) -> Tensor:
        n_edges = x.shape[0]
        if self.edge_weights:
            if weight is None or weight.shape != (n_edges, self.weight_numel):
                got = None if weight is None else tuple(weight.shape)
                raise ValueError(
                    f"expected per-edge weights ({n_edges}, {self.weight_numel}), got {got}"
                )
        blocks = self.layout_in.split(x)
        out: list[Tensor | None] = [None] * len(self.layout_out.blocks)
        if self.edge_weights:
            weights = weight.split(self._weight_sizes, dim=1)
        else:
            weights = self.weight.split(self._weight_sizes)
        for k_in, cg in enumerate(self._cg(x)):
            b = self.layout_in.blocks[k_in]
            groups = self._groups_of[k_in]
            xb = blocks[k_in]
            # A[e, m1, s] = Σ_m2 Y[e, m2] C[m2, m1, s] for every row s = (lo, m, path).
            a = torch.matmul(sh, cg).view(n_edges, b.ir.dim, -1)
            for group, ag in zip(groups, a.split(self._group_rows[k_in], dim=2)):
                if group.k_out < 0:
                    continue
                y = self._group(group, xb, ag, weights[group.index], n_edges)
                out[group.k_out] = y if out[group.k_out] is None else out[group.k_out] + y
        for k, b in enumerate(self.layout_out.blocks):
            if out[k] is None:
                out[k] = x.new_zeros(n_edges, b.ir.dim, b.mul)
        if self.bias is not None:
            k0 = self.layout_out._index[_SCALAR]
            out[k0] = out[k0] + self.bias
        return self.layout_out.join(out)  # type: ignore[arg-type]
