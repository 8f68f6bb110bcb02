"""The component-major kernels against the dense reference: forward, backward, double backward."""

from __future__ import annotations

import pytest
import torch

from noether.algebra import PGA, Algebra, kernels
from noether.algebra.reference import cayley_tensor, dense_bilinear, dense_linear
from noether.algebra.tables import resolve

PRODUCTS = ["geometric", "outer", "regressive"]


def _dense_cm(x, y, table):
    """The dense reference on component-major operands ``(d, *rest)``."""
    return dense_bilinear(x.movedim(0, -1), y.movedim(0, -1), table).movedim(-1, 0)


@pytest.mark.parametrize("product", PRODUCTS)
def test_bilinear_matches_the_dense_reference(alg, schedule, product):
    table = getattr(alg.tables, product)
    x, y = (torch.randn(alg.dim, 5, 3, dtype=torch.float64) for _ in range(2))
    torch.testing.assert_close(kernels.bilinear_kernel(x, y, table), _dense_cm(x, y, table))
    torch.testing.assert_close(kernels.sparse_bilinear(x, y, table), _dense_cm(x, y, table))


def test_bilinear_takes_strided_channel_slices(alg, schedule):
    table = alg.tables.geometric
    z = torch.randn(alg.dim, 4, 6, dtype=torch.float64)
    x, y = z[..., :2], z[..., 3:5]  # strided views
    assert not x.is_contiguous()
    out = kernels.sparse_bilinear(x, y, table)
    assert out.is_contiguous()
    torch.testing.assert_close(out, _dense_cm(x, y, table))


def test_bilinear_gradients_to_second_order(schedule):
    table = PGA.tables.geometric
    x, y = (torch.randn(16, 2, 1, dtype=torch.float64, requires_grad=True) for _ in range(2))
    torch.autograd.gradcheck(lambda a, b: kernels.sparse_bilinear(a, b, table), (x, y))
    torch.autograd.gradgradcheck(lambda a, b: kernels.sparse_bilinear(a, b, table), (x, y))
    # first and second derivatives equal the dense reference's
    w = torch.randn(16, 2, 1, dtype=torch.float64)

    def grads(fn):
        out = (fn(x, y, table) * w).square().sum()
        gx, gy = torch.autograd.grad(out, (x, y), create_graph=True)
        return gx, gy, torch.autograd.grad((gx * gy).sum(), (x, y))

    for a, b in zip(grads(kernels.sparse_bilinear), grads(_dense_cm), strict=True):
        torch.testing.assert_close(a, b)


def test_schedules_agree_and_the_rule_is_about_a_thousand_products():
    table = PGA.tables.geometric
    x, y = (torch.randn(16, 3000) for _ in range(2))
    out = torch.empty(16, 3000)
    torch.testing.assert_close(
        kernels._rows(x, y, table, out.clone()), kernels._gather(x, y, table, out.clone())
    )
    gather_up_to = kernels.GATHER_MAX // (16 * table.width)
    assert 256 <= gather_up_to <= 8192  # PGA: about a thousand products (see GATHER_MAX)


def test_tables_resolve_by_name_including_permuted_ones():
    table = PGA.tables.geometric
    assert resolve(table.name) is table
    assert resolve(f"{table.name}.grad_y") is table.grad_y
    reverse = tuple(range(PGA.dim))[::-1]
    permuted = table.permuted(reverse, "reversed")
    assert resolve(f"{permuted.name}.grad_x") is permuted.grad_x
    dense, dense_p = cayley_tensor(table), cayley_tensor(permuted)
    assert torch.equal(dense_p, dense.flip(0, 1, 2))


@pytest.mark.parametrize("algebra", [PGA, Algebra(3, 0, 0)], ids=str)
@pytest.mark.parametrize("order", ["canonical", "shuffled", "nondegenerate-first"])
def test_linear_matches_the_dense_reference_with_its_gradients(algebra, order):
    basis = algebra.linear_basis
    gen = torch.Generator().manual_seed(0)
    position = tuple(range(algebra.dim))
    if order == "shuffled":
        position = tuple(torch.randperm(algebra.dim, generator=gen).tolist())
    if order == "nondegenerate-first":  # GATr's internal order: PGA's e0 maps are a shift
        order_ = sorted(range(algebra.dim), key=lambda i: algebra.blade_metric[i] == 0)
        position = tuple(order_.index(i) for i in range(algebra.dim))
    plan = basis.plan(position)
    index = torch.tensor(position)
    dense_basis = algebra.equivariant_linear_basis(dtype=torch.float64)

    x = torch.randn(2, 2, algebra.dim, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, basis.n_basis, dtype=torch.float64, requires_grad=True)

    def sparse(x, w):  # to component-major (dim, n, in) at the plan's positions, and back
        xt = torch.zeros(algebra.dim, 2, 2, dtype=x.dtype).index_copy(0, index, x.permute(2, 0, 1))
        return kernels.equivariant_linear(plan, xt, w).index_select(0, index).permute(1, 2, 0)

    assert plan.shifted == (order == "nondegenerate-first" and algebra == PGA)
    torch.testing.assert_close(sparse(x, w), dense_linear(x, w, dense_basis))
    torch.autograd.gradcheck(sparse, (x, w))
    torch.autograd.gradgradcheck(sparse, (x, w))
    # the hand-written backward pieces equal autograd's
    xt = torch.randn(algebra.dim, 6, 2, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(algebra.dim, 6, 3, dtype=torch.float64)
    gx, gw = torch.autograd.grad(kernels.equivariant_linear(plan, xt, w), (xt, w), grad)
    torch.testing.assert_close(
        kernels.linear_grad_input(plan, grad, *kernels.linear_weights(plan, w)), gx
    )
    torch.testing.assert_close(kernels.linear_grad_weight(plan, xt, grad), gw)


def test_linear_plan_structure():
    assert PGA.linear_basis.plan().nnz == 24 and not PGA.linear_basis.plan().shifted
    assert PGA.linear_basis.plan() is PGA.linear_basis.plan(tuple(range(16)))
