"""ET's inference strategy (et/inference.py): the policy as a pure function of the strategy and the
call's shape, the strategy set once (forward never changes the model), and compile fallbacks that
are recorded in the strategy."""

from __future__ import annotations

import pytest
import torch
from et_testkit import molecule, random_et
from test_blocks import frames

import noether.atoms.models.et.model as et_model
from noether.atoms.models.et import ETInference
from noether.atoms.models.et.blocks import MoleculeBlocks
from noether.atoms.models.et.fused import LayerKernels
from noether.atoms.models.et.inference import (
    MAX_CELLS_PER_PAIR,
    MIN_CELLS,
    Plan,
    SystemShape,
    blocks_pay,
    choose_plan,
)

ONE_ETHANOL = SystemShape(n_atoms=9, n_frames=1, largest_frame=9, n_pairs=36, periodic=False)
ETHANOLS = SystemShape(n_atoms=576, n_frames=64, largest_frame=9, n_pairs=64 * 36, periodic=False)
CLUSTER = SystemShape(n_atoms=1000, n_frames=1, largest_frame=1000, n_pairs=30_000, periodic=False)
CRYSTAL = SystemShape(n_atoms=576, n_frames=64, largest_frame=9, n_pairs=64 * 36, periodic=True)


AUTO = ETInference()


def plan(inference=AUTO, system=ETHANOLS, first_order=True, fusable=True) -> Plan:
    return choose_plan(inference, system, first_order=first_order, fusable=fusable)


def test_blocks_pay_for_batches_of_small_molecules_only():
    assert blocks_pay(ETHANOLS)  # every pair within the cutoff
    assert not blocks_pay(CLUSTER)  # 60 neighbours each of 999
    assert not blocks_pay(ONE_ETHANOL)  # too few cells: the compiled graph is faster
    assert not blocks_pay(CRYSTAL)  # an atom's images would share a cell
    assert not blocks_pay(SystemShape(0, 1, 0, 0, False))
    assert MAX_CELLS_PER_PAIR >= 1.0 and MIN_CELLS > 81


def test_system_shape_of_a_call():
    batch = torch.tensor([0, 0, 1, 1, 1, 2])
    pbc = torch.zeros(3, 3, dtype=torch.bool)
    assert SystemShape.of(batch, 3, 7, pbc) == SystemShape(6, 3, 3, 7, False)
    pbc[1, 2] = True
    assert SystemShape.of(batch, 3, 7, pbc).periodic
    assert SystemShape.of(torch.zeros(0, dtype=torch.long), 1, 0, pbc[:1]).largest_frame == 0


def test_policy_chooses_from_the_shape_when_not_forced():
    compiled = ETInference(compiled=True)
    assert plan() == Plan("fused")  # eager inference: hand-written layers over the edge list
    assert plan(system=CLUSTER) == Plan("fused")
    assert plan(compiled) == Plan("blocks", compiled=True)
    assert plan(compiled, ONE_ETHANOL) == Plan("eager", compiled=True)  # the whole graph
    assert plan(compiled, CLUSTER) == Plan("eager", compiled=True)
    assert plan(compiled, CRYSTAL) == Plan("eager", compiled=True)
    # a model the hand-written layers cannot compute runs the plain layers
    assert plan(fusable=False) == Plan("eager")
    assert plan(compiled, fusable=False) == Plan("eager", compiled=True)


def test_training_and_second_derivatives_always_run_the_differentiable_layers():
    for layers in (None, "eager", "fused", "blocks"):
        for compiled in (False, True):
            assert plan(ETInference(layers, compiled), first_order=False) == Plan("eager")


def test_forced_layers_and_what_compiled_means_for_them():
    assert plan(ETInference("eager")) == Plan("eager")
    assert plan(ETInference("eager", compiled=True)) == Plan("eager", compiled=True)
    assert plan(ETInference("fused", compiled=True)) == Plan("fused")  # never compiled
    assert plan(ETInference("blocks"), CLUSTER) == Plan("blocks")  # forced: even where slow
    assert plan(ETInference("blocks", compiled=True)) == Plan("blocks", compiled=True)
    assert plan(ETInference("blocks"), CRYSTAL) == Plan("fused")  # periodic: the edge list


def test_failed_compiled_parts_run_eager():
    graph_failed = ETInference(compiled=True).without("graph")
    blocks_failed = ETInference(compiled=True).without("blocks")
    assert graph_failed.failed == ("graph",) and graph_failed.without("graph") == graph_failed
    assert plan(graph_failed) == Plan("blocks", compiled=True)
    assert plan(graph_failed, ONE_ETHANOL) == Plan("fused")
    assert plan(blocks_failed) == Plan("eager", compiled=True)
    assert plan(ETInference("blocks", True).without("blocks")) == Plan("blocks")
    assert plan(ETInference("eager", True).without("graph")) == Plan("eager")


def test_strategy_values_are_checked():
    with pytest.raises(ValueError, match="unknown layers 'dense'"):
        ETInference("dense")
    with pytest.raises(ValueError, match="compiled part"):
        ETInference(failed=("kernels",))
    with pytest.raises(ValueError, match="layers='fused' needs SiLU"):
        random_et(activation="tanh").set_inference("fused")
    with pytest.raises(AttributeError, match="set_inference"):
        random_et().inference = ETInference("blocks")


def test_the_replaced_switches_say_what_to_call():
    model = random_et()
    with pytest.raises(AttributeError, match=r"set_inference\(layers='blocks'\)"):
        model.blocks = True
    with pytest.raises(AttributeError, match=r"set_inference\(layers='fused'\)"):
        model.fused = False


def test_set_inference_and_compile_inference_are_the_entry_points():
    model = random_et()
    assert model.inference == ETInference()
    assert model.set_inference("eager") is model and model.inference == ETInference("eager")
    model.compile_inference()  # compiles at the first call: nothing is compiled here
    assert model.inference == ETInference("eager", compiled=True)
    assert model._compiled_energy is not None and model._block_kernels is not None
    model.set_inference()
    assert model.inference == ETInference()
    assert model._compiled_energy is None and model._block_kernels is None


def _module_state(model):
    """Every attribute of every submodule, by identity: any assignment changes it."""
    return {
        (name, key): id(value)
        for name, m in model.named_modules()
        for key, value in vars(m).items()
    }


@pytest.mark.parametrize("layers", [None, "eager", "fused", "blocks"])
def test_forward_never_changes_the_model(layers):
    model = random_et().set_inference(layers)
    strategy, state = model.inference, _module_state(model)
    numbers, positions, batch = frames(sizes=(5, 9, 7), spread=1.5)
    cell = torch.diag(torch.tensor([3.0, 3.2, 3.4], dtype=torch.float64))
    pbc = torch.tensor([True, True, True])
    model(numbers, positions, batch)
    model(numbers, positions, batch, compute_forces=False)["energy"].sum().backward()
    model(numbers[:3], positions[:3], cell=cell, pbc=pbc, compute_stress=True)
    model(numbers, positions, batch, create_graph=True)["forces"].sum().backward()
    model.train()
    model(numbers, positions, batch)["forces"].square().sum().backward()
    model.eval()
    assert model.inference is strategy and _module_state(model) == state


@pytest.fixture
def spies(monkeypatch):
    """Counts of the layer implementations a call ran."""
    ran = {"eager": 0, "fused": 0, "blocks": 0}
    fused_layer, layer_forward = et_model.fused_layer, et_model.EquivariantAttention.forward

    def fused(layer, x, v, layout, *args):
        ran["blocks" if isinstance(layout, MoleculeBlocks) else "fused"] += 1
        return fused_layer(layer, x, v, layout, *args)

    def eager(self, *args):
        ran["eager"] += 1
        return layer_forward(self, *args)

    monkeypatch.setattr(et_model, "fused_layer", fused)
    monkeypatch.setattr(et_model.EquivariantAttention, "forward", eager)
    return ran


@pytest.mark.parametrize(
    "layers,train,create_graph,expect",
    [
        (None, False, None, "fused"),
        ("eager", False, None, "eager"),
        ("blocks", False, None, "blocks"),
        ("blocks", False, True, "eager"),  # second derivatives: the differentiable layers
        ("blocks", True, None, "eager"),  # training
        ("fused", True, False, "eager"),  # training, even without a force loss
    ],
)
def test_each_call_runs_its_plan(spies, layers, train, create_graph, expect):
    model = random_et().set_inference(layers).train(train)
    numbers, positions, batch = frames(sizes=(5, 9, 7), spread=1.5)
    out = model(numbers, positions, batch, create_graph=create_graph)
    assert spies == {k: 2 * (k == expect) for k in spies}  # two layers
    if create_graph or (train and create_graph is None):  # a force loss can train
        out["forces"].square().sum().backward()
        assert model.embedding.weight.grad.abs().sum() > 0


def test_a_call_outside_forward_runs_the_differentiable_layers(spies):
    """``energy_from_pairs`` called directly (as export traces it) may be differentiated twice."""
    model = random_et().set_inference("fused")
    numbers, positions = molecule(n=5)
    edge_index = torch.tensor([[i, j] for i in range(5) for j in range(5) if i != j]).T
    zeros = torch.zeros(1, 3, 3, dtype=torch.float64)
    model.energy_from_pairs(
        numbers, positions, torch.zeros(5, dtype=torch.long), 1, zeros,
        torch.zeros(1, 3, dtype=torch.bool), edge_index, torch.zeros(20, 3), None,
    )  # fmt: skip
    assert spies["eager"] == 2 and spies["fused"] == 0


def test_auto_on_a_model_the_fused_layers_cannot_compute_runs_the_plain_layers(spies):
    model = random_et(activation="tanh")
    numbers, positions = molecule()
    ref = model.set_inference("eager")(numbers, positions)
    out = model.set_inference(None)(numbers, positions)
    assert torch.equal(out["forces"], ref["forces"]) and spies["fused"] == 0


def test_forced_blocks_keep_the_edge_list_for_periodic_frames():
    """An atom's periodic images would share a block cell: a periodic call runs the edge list."""
    model = random_et()
    numbers = torch.tensor([8, 1, 1])
    positions = torch.tensor(
        [[0.2, 0.1, 0.3], [1.1, 0.4, 0.2], [0.1, 1.0, 0.9]], dtype=torch.float64
    )
    cell = torch.diag(torch.tensor([3.0, 3.2, 3.4], dtype=torch.float64))  # images within cutoff
    pbc = torch.tensor([True, True, True])
    out = {}
    for layers in ("blocks", "fused"):
        out[layers] = model.set_inference(layers)(numbers, positions, cell=cell, pbc=pbc)["forces"]
    assert torch.equal(out["blocks"], out["fused"])


def _broken(*args):
    from torch._inductor.exc import InductorError

    raise InductorError(AssertionError("codegen"), "")


def test_a_failing_compile_of_the_block_layers_is_recorded_and_runs_them_eager():
    model = random_et()
    numbers, positions, batch = frames(sizes=(9,) * 8, spread=1.2)
    ref = model(numbers, positions, batch)
    model.compile_inference()
    # a stand-in for the whole compiled graph (eager), and layer kernels that fail to compile
    model._compiled_energy = lambda self, *args: type(self).energy_from_pairs(self, *args)
    model._block_kernels = LayerKernels(_broken, _broken)
    with pytest.warns(RuntimeWarning, match="block layers failed"):
        out = model(numbers, positions, batch)
    assert model.inference == ETInference(compiled=True, failed=("blocks",))
    assert torch.allclose(out["forces"], ref["forces"], atol=1e-12, rtol=0)
    again = model(numbers, positions, batch)  # no second warning (pytest errors on it)
    assert torch.equal(again["forces"], out["forces"])


def test_a_failing_compile_of_the_graph_is_recorded_and_other_calls_run_fused(spies):
    model = random_et()
    numbers, positions = molecule()
    ref = model(numbers, positions)
    model.compile_inference()
    model._compiled_energy = _broken
    with pytest.warns(RuntimeWarning, match="of the model failed"):
        out = model(numbers, positions)
    assert model.inference.failed == ("graph",)
    assert torch.allclose(out["forces"], ref["forces"], atol=1e-12, rtol=0)
    assert spies["fused"] == 4  # the reference call and the fallback
    assert all(p.requires_grad for p in model.parameters())

    model.set_inference()
    model.compile_inference()
    model._compiled_energy = lambda *args: (_ for _ in ()).throw(ValueError("not a compile error"))
    with pytest.raises(ValueError, match="not a compile error"):
        model(numbers, positions)
    assert model.inference.failed == ()
