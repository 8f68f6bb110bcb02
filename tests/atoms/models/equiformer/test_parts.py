"""The parts of Equiformer: each is equivariant (e3nn's checker, float64) and matches e3nn."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3
from e3nn.util.test import assert_equivariant

from noether.atoms.models.equiformer import (
    EquivariantLayerNorm,
    EquivariantLinear,
    Gate,
    IrrepsLayout,
    SeparableTensorProduct,
    segment_softmax,
)
from noether.atoms.models.equiformer.irreps import gate_irreps, sorted_irreps

SE3 = ("4x0e+3x1e+2x2e", "1x0e+1x1e+1x2e")
E3 = ("4x0e+2x0o+3x1e+2x1o+2x2e+1x2o", "1x0e+1x1o+1x2e")


def on_e3nn(module, layout_in, layout_out):
    """``module`` seen through e3nn's mul_ir layout (for e3nn's checker)."""
    return lambda x: layout_out.to_e3nn(module(layout_in.from_e3nn(x)))


def test_layout_round_trip_and_sorting():
    layout = IrrepsLayout("2x1e+3x0e+1x2o+1x0o+2x0e")
    assert str(layout.irreps) == "5x0e+1x0o+2x1e+1x2o"
    x = torch.randn(4, layout.dim)
    assert torch.equal(layout.to_e3nn(layout.from_e3nn(x)), x)
    assert torch.equal(layout.join(layout.split(x)), x)
    # the 1e block: e3nn keeps (mul, 3), we keep (3, mul)
    b = layout.block("1e")
    e3 = layout.to_e3nn(x)[:, 6:12].view(4, 2, 3)
    assert torch.equal(e3.transpose(1, 2), x[:, b.start : b.stop].view(4, 3, 2))


def test_layout_rejects_wrong_width():
    with pytest.raises(ValueError, match="width 15"):
        IrrepsLayout("3x0e+1x0o+2x1e+1x2o").split(torch.zeros(2, 14))


def test_gate_irreps_split():
    scalars, gates, gated = gate_irreps("128x0e+32x0o+32x1e+16x2e")
    assert (str(scalars), str(gates), str(gated)) == ("128x0e", "80x0e", "32x0o+32x1e+16x2e")
    assert str(sorted_irreps("1x1o+2x0e+1x1e+3x0e")) == "5x0e+1x1e+1x1o"


@pytest.mark.parametrize("irreps", [SE3[0], E3[0]])
def test_linear_equivariant_and_scaled(float64, irreps):
    lin = EquivariantLinear(irreps, "5x0e+2x1e+1x1o+3x2e+1x3e")
    f = on_e3nn(lin, lin.layout_in, lin.layout_out)
    assert_equivariant(f, irreps_in=[lin.layout_in.irreps], irreps_out=[lin.layout_out.irreps])
    x = torch.randn(3, lin.layout_in.dim)
    y = lin.layout_out.split(lin(x))
    assert torch.equal(y[-1], torch.zeros_like(y[-1]))  # 3e: no input path
    # a block is x @ W: the 1e block of the output from the 1e block of the input
    xb = lin.layout_in.split(x)[lin.layout_in._index[o3.Irrep("1e")]]
    w = lin.weights[next(k for k, (_, o) in enumerate(lin._paths) if o == 1)]
    assert torch.allclose(y[1], xb @ w)


def test_layer_norm_equivariant_and_normalised(float64):
    irreps = E3[0]
    norm = EquivariantLayerNorm(irreps)
    f = on_e3nn(norm, norm.layout, norm.layout)
    assert_equivariant(f, irreps_in=[norm.irreps], irreps_out=[norm.irreps])
    exact = EquivariantLayerNorm(irreps, eps=0.0)
    x = 3.0 * torch.randn(5, norm.layout.dim) + 1.0
    for b, field in zip(exact.layout.blocks, exact.layout.split(exact(x))):
        if b.ir == o3.Irrep("0e"):
            assert field.mean(-1).abs().max() < 1e-12
        ms = field.square().mean(dim=(-2, -1))
        assert torch.allclose(ms, torch.ones_like(ms), atol=1e-12)


@pytest.mark.parametrize("irreps", [SE3[0], E3[0]])
def test_gate_equivariant(float64, irreps):
    gate = Gate(irreps)
    f = on_e3nn(gate, gate.layout_in, gate.layout_out)
    assert_equivariant(f, irreps_in=[gate.irreps_in], irreps_out=[gate.irreps_out])


def test_gate_values():
    gate = Gate("2x0e+1x1e")
    x = torch.tensor([[0.5, -1.0, 2.0, 1.0, 2.0, 3.0]])  # scalars (2), gate (1), vector (3)
    y = gate(x)
    silu = torch.nn.functional.silu(x[0, :2]) * gate.silu.c
    sig = torch.sigmoid(x[0, 2]) * gate.sigmoid.c
    assert torch.allclose(y[0, :2], silu)
    assert torch.allclose(y[0, 2:], sig * x[0, 3:])


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


def test_segment_softmax(float64):
    logits = torch.randn(7, 2)
    index = torch.tensor([0, 0, 1, 1, 1, 3, 3])
    weight = torch.rand(7)
    p = segment_softmax(logits, index, 4, weight)
    for seg in (0, 1, 3):
        rows = index == seg
        want = weight[rows, None] * logits[rows].exp()
        assert torch.allclose(p[rows], want / want.sum(0))
    # huge logits do not overflow (the maximum is subtracted)
    assert torch.isfinite(segment_softmax(logits * 1e4, index, 4)).all()
