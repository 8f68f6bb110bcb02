"""SeparableTensorProduct: equals e3nn's TensorProduct path by path, paper sizes, equivariant."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3
from e3nn.util.test import assert_equivariant
from equiformer_testkit import E3, SE3

from noether.atoms.models.equiformer import (
    SeparableTensorProduct,
)
from noether.atoms.models.equiformer.irreps import sorted_irreps


def _e3nn_reference(tp: SeparableTensorProduct, x, sh, weight):
    """The same product with e3nn's TensorProduct, then the linear layer path by path."""
    n = x.shape[0]
    inst = [(p.i1, p.i2, k, "uvu", True) for k, p in enumerate(tp.paths)]
    ref = o3.TensorProduct(
        tp.irreps_in, tp.irreps_sh, tp.irreps_mid, inst,
        internal_weights=False, shared_weights=False, path_normalization="none",
    )  # fmt: skip
    w = weight if tp.edge_weights else tp.weight.expand(n, -1)
    where = {}  # path -> (first weight, index inside its group, group)
    for g in tp._groups:
        members = [k for k, p in enumerate(tp.paths) if p.i1 == g.k_in and p.ir_out == g.ir_out]
        mul = tp.layout_in.blocks[g.k_in].mul
        for j, k in enumerate(members):
            where[k] = (g.weight_start + j * mul, j, g)
    w_e3nn = torch.cat([w[:, where[k][0] : where[k][0] + p.mul] for k, p in enumerate(tp.paths)], 1)
    t = ref(tp.layout_in.to_e3nn(x), sh, w_e3nn)
    out = [torch.zeros(n, b.ir.dim, b.mul) for b in tp.layout_out.blocks]
    for (k, p), sl in zip(enumerate(tp.paths), tp.irreps_mid.slices()):
        _, j, g = where[k]
        if g.k_out < 0:
            continue
        lin = tp.linear_weights[g.linear_index][j * p.mul : (j + 1) * p.mul]
        out[g.k_out] += torch.einsum("eum,uw->emw", t[:, sl].view(n, p.mul, p.ir_out.dim), lin)
    if tp.bias is not None:
        out[0] = out[0] + tp.bias
    return tp.layout_out.join(out)


@pytest.mark.parametrize("edge_weights", [True, False])
@pytest.mark.parametrize("irreps", [SE3, E3])
def test_separable_tensor_product_equals_e3nn(float64, irreps, edge_weights):
    irreps_in, irreps_sh = irreps
    out = "5x0e+2x0o+2x1e+1x1o+3x2e+2x2o+1x3e"
    tp = SeparableTensorProduct(irreps_in, irreps_sh, out, edge_weights=edge_weights)
    x = torch.randn(7, tp.layout_in.dim)
    sh = o3.spherical_harmonics(
        o3.Irreps(irreps_sh), torch.randn(7, 3), True, normalization="component"
    )
    weight = torch.randn(7, tp.weight_numel) if edge_weights else None
    got = tp(x, sh, weight)
    assert torch.allclose(got, _e3nn_reference(tp, x, sh, weight), atol=1e-12)


def test_separable_tensor_product_paper_sizes():
    tp = SeparableTensorProduct("128x0e+64x1e+32x2e", "1x0e+1x1e+1x2e", "224x0e+64x1e+32x2e")
    assert len(tp.paths) == 15 and tp.weight_numel == 960
    assert str(sorted_irreps(tp.irreps_mid)) == "224x0e+384x1e+352x2e"


@pytest.mark.parametrize("irreps", [SE3, E3])
def test_separable_tensor_product_equivariant(float64, irreps):
    irreps_in, irreps_sh = irreps
    tp = SeparableTensorProduct(irreps_in, irreps_sh, irreps_in)
    weight = torch.randn(6, tp.weight_numel)
    x, vec = torch.randn(6, tp.layout_in.dim), torch.randn(6, 3)
    parity = "1o" in irreps_sh

    def f(x, vec):
        sh = o3.spherical_harmonics(tp.irreps_sh, vec, True, normalization="component")
        return tp.layout_out.to_e3nn(tp(tp.layout_in.from_e3nn(x), sh, weight))

    # SE(3) features declare the harmonics even: equivariant under rotations only.
    vec_irreps = "1o" if parity else "1e"
    assert_equivariant(
        f, args_in=[x, vec], irreps_in=[tp.layout_in.irreps, vec_irreps],
        irreps_out=[tp.layout_out.irreps], do_parity=parity,
    )  # fmt: skip


def test_separable_tensor_product_rejects_wrong_weights():
    tp = SeparableTensorProduct("2x0e+1x1e", "1x0e+1x1e", "2x0e+1x1e")
    x, sh = torch.randn(3, 5), torch.randn(3, 4)
    with pytest.raises(ValueError, match="per-edge weights"):
        tp(x, sh, torch.randn(3, tp.weight_numel + 1))
