"""The hand-written first-order layer (et/fused.py): the plain layer's energy, forces and, when a
backward pass asks for them, parameter gradients; only the gradients a backward pass needs. (It is
first-order only: the plan never runs it where second derivatives may follow, test_inference.py.)"""

from __future__ import annotations

import pytest
import torch
from et_testkit import (
    assert_same_outputs_and_gradients,
    molecule,
    outputs_and_gradients,
    random_et,
)

from noether.atoms.models.et.fused import EAGER, LayerKernels, fused_layer, layer_forward
from noether.atoms.models.et.pairs import message_pairs, unordered_pairs
from noether.atoms.models.et.radial import cosine_cutoff
from noether.atoms.potential import Graph


@pytest.mark.parametrize("chunk", [3, 1024])
def test_fused_inference_layers_equal_plain_autograd(monkeypatch, chunk):
    """Also when the pairs run in many chunks (:data:`~noether.atoms.models.et.messages.CHUNK_PAIRS`)."""
    import noether.atoms.models.et.messages as messages

    monkeypatch.setattr(messages, "CHUNK_PAIRS", chunk)
    model = random_et()
    numbers, positions = molecule(n=9)
    results = {}
    for layers in ("fused", "eager"):
        model.set_inference(layers)
        results[layers] = outputs_and_gradients(model, numbers, positions)
    assert_same_outputs_and_gradients(model, results["fused"], results["eager"])


def _layer_inputs(seed=0):
    model = random_et(seed=seed)
    numbers, positions = molecule(n=7, seed=seed)
    positions.requires_grad_(True)
    n = len(numbers)
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    keep = i != j
    edge_index = torch.stack([i[keep], j[keep]])
    vectors = positions[edge_index[1]] - positions[edge_index[0]]
    zeros = torch.zeros(1, 3, 3, dtype=torch.float64)
    batch = torch.zeros(n, dtype=torch.long)
    graph = Graph(numbers, positions, batch, 1, edge_index, vectors, zeros, zeros[:, 0] > 0)
    pairs = unordered_pairs(graph)
    phi = cosine_cutoff(pairs.length, model.cutoff)
    rbf = model.rbf(torch.cat([pairs.length, pairs.length.new_zeros(n)]))
    message = message_pairs(pairs, phi, n)
    x = torch.randn(n, 16, dtype=torch.float64)
    v = torch.randn(n, 3, 16, dtype=torch.float64)
    return model.layers[1], x, v, message, rbf, positions


def test_one_layer_equals_the_plain_layer_with_vectors_in():
    layer, x, v, message, rbf, positions = _layer_inputs()
    fx, fv = fused_layer(layer, x, v, message, rbf)
    px, pv = layer(x, v, message, rbf)
    assert torch.allclose(fx, px, atol=1e-12, rtol=0) and torch.allclose(fv, pv, atol=1e-12, rtol=0)
    (g_fused,) = torch.autograd.grad(fx.sum() + fv.square().sum(), positions, retain_graph=True)
    (g_plain,) = torch.autograd.grad(px.sum() + pv.square().sum(), positions)
    assert torch.allclose(g_fused, g_plain, atol=1e-11, rtol=0)


def test_position_gradients_skip_the_parameter_gradients(monkeypatch):
    """A force evaluation asks for positions only: the backward computes no weight gradient."""
    layer, x, v, message, rbf, positions = _layer_inputs()
    seen = []

    def backward(*args):
        seen.append(args[-1])  # need: the parameter gradients asked for
        return EAGER.backward(*args)

    kernels = LayerKernels(layer_forward, backward)
    fx, fv = fused_layer(layer, x, v, message, rbf, kernels)
    torch.autograd.grad(fx.sum() + fv.sum(), positions)
    assert seen and not any(seen[0][:9])
    layer, x, v, message, rbf, positions = _layer_inputs()
    fx, fv = fused_layer(layer, x, v, message, rbf, kernels)
    (fx.sum() + fv.sum()).backward()
    assert all(seen[1][:9]) and layer.qkv.weight.grad.abs().sum() > 0
