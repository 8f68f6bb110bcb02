"""`Potential.compile_inference`: torch.compile'd energy+forces equal eager ones (the comparison is
slow: inductor compiles C++ kernels, a minute or two on a CPU), and a failing compile falls back.
ET's compiled strategy (whole graph, or compiled block layers) is compared here too; its policy
and recorded fallbacks are tested in tests/atoms/models/et/test_inference.py."""

import copy
import warnings

import numpy as np
import pytest
import torch
from atoms_testkit import PairMLP, random_molecule

from noether.atoms.models.et import ET, ETInference


@pytest.fixture
def two_threads():
    """Two torch threads: inductor's vectorised CPU code then takes its parallel paths (in torch
    2.13 the per-frame sum of a single frame used to fail there)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback to eager
        yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_compiled_inference_equals_eager_and_training_stays_eager(two_threads):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    eager = ET(hidden=16, heads=2, layers=2, num_rbf=8, dtype=torch.float64).eval()
    compiled = copy.deepcopy(eager).compile_inference()
    assert compiled.inference == ETInference(compiled=True) and eager.inference == ETInference()
    for n in (9, 12):  # a new size reuses the dynamic-shape graph
        z = torch.as_tensor(rng.choice([1, 6, 8], size=n))
        pos = torch.as_tensor(random_molecule(n, rng, 1.2) * 1.3)
        out, ref = compiled(z, pos), eager(z, pos)
        assert torch.allclose(out["energy"], ref["energy"], rtol=0, atol=1e-12)
        assert torch.allclose(out["forces"], ref["forces"], rtol=0, atol=1e-12)
    # forces need no parameter gradients (the parameters are frozen during the call only)
    assert all(p.requires_grad for p in compiled.parameters())
    # an energy without forces keeps its graph to the parameters
    compiled(z, pos, compute_forces=False)["energy"].sum().backward()
    assert compiled.embedding.weight.grad.abs().sum() > 0
    compiled.zero_grad()
    batch = torch.tensor([0] * 5 + [1] * 7)
    out, ref = compiled(z, pos, batch), eager(z, pos, batch)
    assert torch.allclose(out["forces"], ref["forces"], rtol=0, atol=1e-12)

    # a deep copy computes with its own parameters, not the original's
    other = copy.deepcopy(compiled)
    with torch.no_grad():
        other.embedding.weight.mul_(2.0)
    assert not torch.allclose(other(z, pos)["energy"], compiled(z, pos)["energy"])

    # a force loss needs second derivatives: training runs eager and reaches the parameters
    compiled.train()
    loss = compiled(z, pos)["forces"].square().sum()
    loss.backward()
    assert compiled.embedding.weight.grad is not None
    assert compiled.embedding.weight.grad.abs().sum() > 0


def test_a_failing_compile_warns_and_falls_back_to_eager():
    from torch._inductor.exc import InductorError

    torch.manual_seed(0)
    model = PairMLP(dtype=torch.float64).eval()  # the base class's fallback (ET records its own)
    z = torch.tensor([6, 8, 1, 1])
    pos = torch.tensor(
        [[0.0, 0, 0], [1.2, 0, 0], [-0.5, 0.9, 0], [-0.5, -0.9, 0]], dtype=torch.float64
    )
    ref = model(z, pos)

    def broken(*args):
        raise InductorError(AssertionError("codegen"), "")

    model._compiled_energy = broken
    with pytest.warns(RuntimeWarning, match="torch.compile failed"):
        out = model(z, pos)
    assert torch.equal(out["forces"], ref["forces"]) and model._compiled_energy is None
    assert all(p.requires_grad for p in model.parameters())

    def wrong(*args):
        raise ValueError("not a compile error")

    model._compiled_energy = wrong
    with pytest.raises(ValueError, match="not a compile error"):
        model(z, pos)
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.slow
def test_compiled_block_layers_equal_eager(two_threads, monkeypatch):
    """A batch of small molecules runs the fused layers over molecule blocks, their two halves
    compiled; a second batch of other sizes recompiles them and agrees too."""
    import noether.atoms.models.et.model as et_model

    built = []
    blocks = et_model.molecule_blocks
    monkeypatch.setattr(et_model, "molecule_blocks", lambda *a: built.append(1) or blocks(*a))
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    eager = ET(hidden=16, heads=2, layers=2, num_rbf=8, dtype=torch.float64).eval()
    compiled = copy.deepcopy(eager).compile_inference()
    for sizes in ((9, 7, 9, 8, 9, 6), (11, 12, 12, 10, 12)):
        z = torch.as_tensor(rng.choice([1, 6, 8], size=sum(sizes)))
        pos = torch.as_tensor(np.concatenate([random_molecule(n, rng, 1.0) for n in sizes]))
        batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
        out, ref = compiled(z, pos, batch), eager(z, pos, batch)
        assert torch.allclose(out["energy"], ref["energy"], rtol=0, atol=1e-12)
        assert torch.allclose(out["forces"], ref["forces"], rtol=0, atol=1e-12)
    assert len(built) == 2 and compiled.inference == ETInference(compiled=True)
