"""The Algebra value: structure, every product and involution against kingdon, bad input."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from noether.algebra import CGA, EGA, PGA, Algebra, kernels

BATCH = 23

PGA_BLADES = "1 e0 e1 e2 e3 e01 e02 e03 e12 e13 e23 e012 e013 e023 e123 e0123".split()


def test_presets_and_structure():
    assert PGA == Algebra(3, 0, 1) and hash(PGA) == hash(Algebra(3, 0, 1))
    assert PGA != Algebra(3, 0, 0) and len({PGA, Algebra(3, 0, 1), EGA, CGA}) == 3
    assert (EGA.dim, PGA.dim, CGA.dim) == (8, 16, 32)
    assert PGA.metric == (0, 1, 1, 1) and CGA.metric == (1, 1, 1, 1, -1)
    assert PGA.blade_names == PGA_BLADES  # the clifford / GATr order
    assert PGA.blades[:6] == [(), (0,), (1,), (2,), (3,), (0, 1)]
    assert PGA.grades == (0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4)
    assert EGA.blade_names == "1 e1 e2 e3 e12 e13 e23 e123".split()
    assert PGA.nondegenerate_blades == (0, 2, 3, 4, 8, 9, 10, 14)
    assert PGA.nondegenerate_pseudoscalar_index == PGA.blade_names.index("e123")
    assert CGA.nondegenerate_pseudoscalar_index == CGA.pseudoscalar_index == 31
    assert str(PGA) == "G(3,0,1)"
    with pytest.raises(AttributeError):
        PGA.p = 4  # immutable


def test_blades_are_canonical_for_every_signature(alg):
    assert alg.blades == sorted(
        alg.blades, key=lambda b: (len(b), b)
    )  # by grade, then lexicographic
    assert len(set(alg.blades)) == alg.dim == 2 ** len(alg.metric)
    assert alg.grades == tuple(len(b) for b in alg.blades)
    assert alg.metric == (0,) * alg.r + (1,) * alg.p + (-1,) * alg.q
    assert len(set(alg.blade_names)) == alg.dim and alg.blade_names[0] == "1"


def test_pickles_as_its_signature():
    PGA.linear_basis  # noqa: B018  (fill the caches)
    data = pickle.dumps(PGA)
    assert len(data) < 200 and pickle.loads(data) == PGA
    assert copy.deepcopy(CGA) == CGA and pickle.loads(data).tables is PGA.tables


def test_tables_are_shared_and_sparse():
    assert Algebra(3, 0, 1).tables is PGA.tables
    assert len(PGA.tables.geometric.entries) == 192  # of 16**3 = 4096
    assert len(EGA.tables.geometric.entries) == 64
    assert len(CGA.tables.geometric.entries) == 1024
    x = torch.randn(3, 16)
    a = kernels.constant(PGA.blade_metric, x.device, x.dtype)
    assert a is kernels.constant(PGA.blade_metric, x.device, x.dtype)


def test_tensors_are_built_once_per_device_and_dtype():
    cpu = torch.device("cpu")
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(5, 3, 16, dtype=dtype)
        PGA.geometric_product(x, x)
        PGA.equivariant_linear(x, torch.randn(2, 3, 9, dtype=dtype))
        plan = PGA.linear_basis.plan().tensors(cpu, dtype)
        assert plan is Algebra(3, 0, 1).linear_basis.plan().tensors(cpu, dtype)
        assert plan[0].dtype == dtype
        signs = kernels.constant(PGA.blade_metric, cpu, dtype)
        assert signs is kernels.constant(Algebra(3, 0, 1).blade_metric, cpu, dtype)
    f32, f64 = (PGA.linear_basis.plan().tensors(cpu, t)[0] for t in (torch.float32, torch.float64))
    assert f32 is not f64
    gathered = kernels._padded_indices(PGA.tables.geometric, cpu)
    assert gathered is kernels._padded_indices(Algebra(3, 0, 1).tables.geometric, cpu)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        ("geometric_product", lambda x, y: x * y),
        ("outer_product", lambda x, y: x ^ y),
        ("join", lambda x, y: x & y),
    ],
)
def test_products_match_kingdon(alg, kd, schedule, ours, theirs, float64):
    x, y = torch.randn(BATCH, alg.dim), torch.randn(BATCH, alg.dim)
    expected = kd.back(theirs(kd.to(x), kd.to(y)), BATCH)
    torch.testing.assert_close(getattr(alg, ours)(x, y), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        ("reverse", lambda x: ~x),
        ("grade_involution", lambda x: x.involute()),
        ("clifford_conjugate", lambda x: x.conjugate()),
        ("dual", lambda x: x.dual()),
        ("undual", lambda x: x.undual()),
    ],
)
def test_unary_maps_match_kingdon(alg, kd, ours, theirs, float64):
    x = torch.randn(BATCH, alg.dim)
    expected = kd.back(theirs(kd.to(x)), BATCH)
    torch.testing.assert_close(getattr(alg, ours)(x), expected, rtol=0, atol=1e-12)


def test_grade_project_and_inner_product_match_kingdon(alg, kd, float64):
    x, y = torch.randn(BATCH, alg.dim), torch.randn(BATCH, alg.dim)
    kx = kd.to(x)
    for k in range(alg.n + 1):
        expected = kd.back(kx.grade(k), BATCH)
        torch.testing.assert_close(alg.grade_project(x, k), expected, rtol=0, atol=0)
    scalar = kd.back((~kx) * kd.to(y), BATCH)[:, 0]
    torch.testing.assert_close(alg.inner_product(x, y), scalar, rtol=0, atol=1e-12)
    torch.testing.assert_close(alg.norm(x), alg.inner_product(x, x).abs().sqrt())
    assert alg.inner_product(x, y).shape == (BATCH,)


def test_associativity(alg, schedule, float64):
    x, y, z = (torch.randn(BATCH, alg.dim) for _ in range(3))
    gp, op = alg.geometric_product, alg.outer_product
    torch.testing.assert_close(gp(gp(x, y), z), gp(x, gp(y, z)), rtol=0, atol=1e-11)
    torch.testing.assert_close(op(op(x, y), z), op(x, op(y, z)), rtol=0, atol=1e-11)
    torch.testing.assert_close(alg.undual(alg.dual(x)), x, rtol=0, atol=0)


def test_broadcasting_and_batching(schedule):
    x, y = torch.randn(4, 1, 3, 16), torch.randn(5, 1, 16)
    out = PGA.geometric_product(x, y)
    assert out.shape == (4, 5, 3, 16)
    single = PGA.geometric_product(x[2, 0, 1], y[3, 0])
    torch.testing.assert_close(out[2, 3, 1], single)
    assert PGA.geometric_product(torch.randn(0, 16), y[0, 0]).shape == (0, 16)


def test_float32_float64_agree(alg, schedule):
    x, y = torch.randn(BATCH, alg.dim, dtype=torch.float64), torch.randn(BATCH, alg.dim)
    exact = alg.geometric_product(x, y.double())
    assert alg.geometric_product(x.float(), y).dtype == torch.float32
    torch.testing.assert_close(
        alg.geometric_product(x.float(), y).double(), exact, rtol=1e-5, atol=1e-4
    )
    assert alg.geometric_product(x, y).dtype == torch.float64  # promotion


@pytest.mark.parametrize("op", ["geometric_product", "outer_product", "join"])
def test_gradients(op, schedule):
    x = torch.randn(2, 16, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(getattr(PGA, op), (x, y))


def test_double_backward(schedule):
    x = torch.randn(1, 8, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(EGA.geometric_product, (x, y))


def test_bad_input_names_what_is_expected():
    with pytest.raises(ValueError, match=r"\(\.\.\., 16\).*G\(3,0,1\).*\(4, 8\)"):
        PGA.geometric_product(torch.randn(4, 8), torch.randn(4, 16))
    with pytest.raises(ValueError, match=r"y must have shape \(\.\.\., 16\)"):
        PGA.join(torch.randn(16), torch.randn(32))  # a CGA operand in PGA
    with pytest.raises(ValueError, match=r"\(\.\.\., 32\)"):
        CGA.reverse(torch.randn(16))
    with pytest.raises(ValueError, match=r"r = 2 null"):
        Algebra(2, 0, 2).dual(torch.randn(16))
    with pytest.raises(ValueError, match="r = 2"):
        Algebra(2, 0, 2).undual(torch.randn(16))
    with pytest.raises(ValueError, match=r"grade must be an int in 0\.\.4"):
        PGA.grade_project(torch.randn(16), 5)
    with pytest.raises(ValueError, match="floating"):
        PGA.reverse(torch.ones(16, dtype=torch.long))
    with pytest.raises(ValueError, match=r"torch\.Tensor"):
        PGA.reverse([0.0] * 16)
    with pytest.raises(ValueError, match="non-negative int"):
        Algebra(-1, 0, 0)
    with pytest.raises(ValueError, match="between 1 and"):
        Algebra(0, 0, 0)


@pytest.mark.slow
def test_torch_compile_keeps_the_kernel_as_one_operator():
    def f(x, y, w):
        z = PGA.sandwich(y[0, 0], PGA.geometric_product(x, y))
        return PGA.equivariant_linear(z, w).square().sum()

    x = torch.randn(64, 4, 16, requires_grad=True)
    y, w = torch.randn(64, 4, 16), torch.randn(3, 4, 9, requires_grad=True)
    compiled = torch.compile(f)
    expected, got = f(x, y, w), compiled(x, y, w)
    torch.testing.assert_close(got, expected)
    grads = torch.autograd.grad(got, (x, w))
    for g, e in zip(grads, torch.autograd.grad(expected, (x, w)), strict=True):
        torch.testing.assert_close(g, e)
