"""The executed-FLOP counter on operations whose FLOPs are known."""

from __future__ import annotations

import torch
from torch import nn

from noether.core.cost import PRODUCTS, count_flops, count_parameters, time_per_call


def test_a_matrix_product_costs_2mnk():
    a, b = torch.randn(7, 5), torch.randn(5, 3)
    flops, by_op = count_flops(lambda: a @ b)
    assert flops == 2 * 7 * 5 * 3 and set(by_op) <= PRODUCTS


def test_in_place_and_out_forms_count_as_functional():
    x, y, z = torch.randn(4, 6), torch.randn(4, 6), torch.randn(4, 6)
    flops, by_op = count_flops(lambda: z.addcmul_(x, y))
    assert flops == 2 * 24 and by_op == {"addcmul": 48}
    out = torch.empty(4, 6)
    assert count_flops(lambda: torch.mul(x, y, out=out))[0] == 24
    acc, p, q = torch.randn(2, 3, 4), torch.randn(2, 3, 5), torch.randn(2, 5, 4)
    flops, by_op = count_flops(lambda: acc.baddbmm_(p, q))
    assert by_op["baddbmm"] == 2 * 2 * 3 * 5 * 4


def test_a_training_step_of_a_linear_layer():
    layer = nn.Linear(8, 4, bias=False)
    x = torch.randn(10, 8)
    _, by_op = count_flops(lambda: layer(x).sum().backward())
    products = sum(v for k, v in by_op.items() if k in PRODUCTS)
    assert products == 2 * 10 * 8 * 4 * 2  # forward, and the weight's gradient (x needs none)
    assert count_parameters(layer) == 32
    assert time_per_call(lambda: layer(x), calls=2, repeats=2) > 0
