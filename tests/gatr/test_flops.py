"""The FLOP formulas of :mod:`noether.gatr.flops` against independent counts: the dense tables'
non-zero entries, and the matrix products that :func:`noether.core.cost.count_flops` measures."""

from __future__ import annotations

import pytest
import torch

from noether.algebra import CGA, EGA, PGA
from noether.algebra.reference import cayley_tensor
from noether.core.cost import PRODUCTS, count_flops
from noether.gatr import GATr
from noether.gatr.flops import forward_flops, linear_flops, product_flops, training_flops
from noether.gatr.nets.transformer import Transformer


@pytest.mark.parametrize("alg", [EGA, PGA, CGA], ids=str)
def test_per_op_counts_are_the_dense_tables_entries(alg):
    for table in (alg.tables.geometric, alg.tables.outer, alg.tables.regressive):
        dense = cayley_tensor(table)
        assert product_flops(table) == 2 * int((dense != 0).sum())
        assert product_flops(table, "nominal") == 2 * dense.numel()
    basis = alg.equivariant_linear_basis(dtype=torch.float64)
    assert linear_flops(alg) == 2 * int((basis != 0).any(0).sum())
    assert linear_flops(alg, "nominal") == 2 * basis[0].numel()
    with pytest.raises(ValueError, match="kind must be one of"):
        product_flops(alg.tables.geometric, "dense")


def test_pga_counts():
    assert product_flops(PGA.tables.geometric) == 2 * 192
    assert product_flops(PGA.tables.regressive) == 2 * 81
    assert linear_flops(PGA) == 2 * 24 and linear_flops(PGA, "nominal") == 2 * 256


def _measured_products(loss_fn) -> tuple[int, int]:
    """Matrix-product FLOPs of a forward and of its backward, as executed."""
    box = {}
    _, by_op_f = count_flops(lambda: box.setdefault("loss", loss_fn()))
    _, by_op_b = count_flops(lambda: box["loss"].backward())
    pick = lambda by_op: sum(v for k, v in by_op.items() if k in PRODUCTS)  # noqa: E731
    return pick(by_op_f), pick(by_op_b)


@pytest.mark.parametrize(("channels", "blocks", "heads"), [(16, 1, 2), (48, 3, 4)])
def test_transformer_flops_match_the_counter(channels, blocks, heads):
    b, t = 3, 5
    model = Transformer(
        in_points=4, out_points=4, hidden_channels=channels, num_blocks=blocks, num_heads=heads
    )
    points = torch.randn(b, t, 4, 3)
    measured = _measured_products(lambda: model(points).points.square().sum())
    analytic = training_flops(model, b, t)
    assert measured == (analytic.total_forward, analytic.total_backward)
    assert analytic.forward["attention"] > 0


def test_flops_scale_with_batch_and_tokens():
    model = Transformer(in_points=4, out_points=4, hidden_channels=16, num_blocks=2, num_heads=2)
    one = training_flops(model, 1, 6)
    assert training_flops(model, 5, 6).total == pytest.approx(5 * one.total)
    longer = training_flops(model, 1, 12)
    assert longer.forward["linear"] == pytest.approx(2 * one.forward["linear"])
    assert longer.forward["attention"] == pytest.approx(4 * one.forward["attention"])


def _gatr(algebra: str) -> GATr:
    return GATr(
        in_mv_channels=2, out_mv_channels=1, hidden_mv_channels=4, in_s_channels=3,
        out_s_channels=2, hidden_s_channels=8, num_blocks=2, num_heads=2, algebra=algebra,
    ).double()  # fmt: skip


@pytest.mark.parametrize("algebra", ["pga", "ipga"])
def test_gatr_intrinsic_flops_match_the_counter(algebra):
    """The counter sees every matrix product of the sparse GATr (the bilinear products run as
    elementwise row operations, compared apart). Per sample: the difference of two batch sizes
    removes the work done once per call whatever the batch (preparing the weights)."""
    model, t = _gatr(algebra), 5
    dim = model.variant.algebra.dim

    def measure(b):
        mv, s = torch.randn(b, t, 2, dim, dtype=torch.float64), torch.randn(b, t, 3).double()
        return _measured_products(lambda: sum(o.square().sum() for o in model(mv, s)))

    (f2, b2), (f1, b1) = measure(4), measure(2)
    analytic = [training_flops(model, b, t) for b in (4, 2)]
    per = lambda part: (analytic[0].forward[part] - analytic[1].forward[part],  # noqa: E731
                        analytic[0].backward[part] - analytic[1].backward[part])  # fmt: skip
    expected = [a + b for a, b in zip(per("linear"), per("attention"), strict=True)]
    assert (f2 - f1, b2 - b1) == tuple(expected)
    bilinear = model.blocks[0].mlp.bilinear
    assert analytic[1].forward["bilinear"] == len(model.blocks) * 2 * t * 2 * (
        192 * bilinear.n_gp + 81 * bilinear.n_join
    )


def test_gatr_nominal_count_is_the_dense_convention():
    model = _gatr("pga")
    nominal, intrinsic = (training_flops(model, 1, 8, kind) for kind in ("nominal", "intrinsic"))
    assert nominal.forward["attention"] == intrinsic.forward["attention"]
    assert 3 < nominal.total / intrinsic.total < 15
    flops = forward_flops(model, 8)
    assert flops == {"intrinsic": intrinsic.total_forward, "nominal": nominal.total_forward}
