"""Migration from TorchMD-NET (et/torchmdnet.py): a converted checkpoint computes the same energies and forces.

Skipped when torchmd-net is not installed (`make bench` installs it).
"""

from __future__ import annotations

import pytest
import torch

torchmdnet_model = pytest.importorskip("torchmdnet.models.model")

from noether.atoms.models.et.torchmdnet import from_torchmdnet_state, load_torchmdnet  # noqa: E402
from noether.atoms.units import energy_factor  # noqa: E402

ARGS = dict(
    model="equivariant-transformer",
    embedding_dimension=32,
    num_layers=2,
    num_rbf=16,
    rbf_type="expnorm",
    trainable_rbf=False,
    activation="silu",
    attn_activation="silu",
    neighbor_embedding=True,
    num_heads=4,
    distance_influence="both",
    cutoff_lower=0.0,
    cutoff_upper=4.0,
    max_z=100,
    max_num_neighbors=64,
    vector_cutoff=True,
    derivative=True,
    atom_filter=-1,
    prior_model="Atomref",
    prior_args={"max_z": 100},
    output_model="Scalar",
    reduce_op="add",
    precision=64,
)


def upstream(args=ARGS, seed=0):
    """A TorchMD-NET ET with every weight (biases, atomref too) random, mean and std set."""
    torch.manual_seed(seed)
    model = torchmdnet_model.create_model(
        dict(args), mean=torch.tensor(-3.5), std=torch.tensor(0.7)
    ).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
        for prior in model.prior_model or []:
            prior.atomref.weight.copy_(torch.randn_like(prior.atomref.weight))
    return model


def molecules(seed=1):
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in (5, 12, 23):
        numbers = torch.randint(1, 10, (n,), generator=g)
        positions = torch.randn(n, 3, generator=g, dtype=torch.float64) * (0.5 * n ** (1 / 3) + 0.5)
        out.append((numbers, positions))
    return out


@pytest.mark.parametrize("layers", ["fused", "eager"])
def test_converted_model_matches_torchmdnet_in_float64(layers):
    theirs = upstream()
    ours = from_torchmdnet_state(ARGS, theirs.state_dict(), energy_unit="kcal/mol")
    ours.set_inference(layers)
    factor = energy_factor("kcal/mol")
    for numbers, positions in molecules():
        energy, forces = theirs(numbers, positions.clone())
        out = ours(numbers, positions)
        scale = float(forces.abs().max()) * factor
        assert abs(float(out["energy"][0]) - float(energy) * factor) < 1e-5 * abs(
            float(energy) * factor
        )
        assert float((out["forces"] - forces * factor).abs().max()) < 1e-5 * scale


def test_batched_molecules_and_checkpoint_file(tmp_path):
    theirs = upstream(seed=3)
    path = tmp_path / "epoch=1.ckpt"
    torch.save(
        {
            "hyper_parameters": dict(ARGS),
            "state_dict": {f"model.{k}": v for k, v in theirs.state_dict().items()},
        },
        path,
    )
    ours = load_torchmdnet(path)
    mols = molecules(seed=4)
    numbers = torch.cat([z for z, _ in mols])
    positions = torch.cat([p for _, p in mols])
    batch = torch.cat([torch.full((len(z),), k) for k, (z, _) in enumerate(mols)])
    energy, forces = theirs(numbers, positions.clone(), batch)
    out = ours(numbers, positions, batch)
    assert torch.allclose(out["energy"], energy.reshape(-1), rtol=1e-5, atol=1e-8)
    assert torch.allclose(out["forces"], forces, rtol=1e-5, atol=1e-8)


def test_refuses_models_it_cannot_reproduce():
    with pytest.raises(ValueError, match="vector_cutoff=False"):
        from_torchmdnet_state({**ARGS, "vector_cutoff": False}, {})
    with pytest.raises(ValueError, match="rbf_type"):
        from_torchmdnet_state({**ARGS, "rbf_type": "gauss"}, {})
    with pytest.raises(ValueError, match="prior_model"):
        from_torchmdnet_state({**ARGS, "prior_model": "ZBL"}, {})


def test_upstream_without_vector_cutoff_has_the_energy_step_ours_does_not():
    """TorchMD-NET issue #254: the original ET's energy jumps when a pair crosses the cutoff."""
    legacy = upstream({**ARGS, "vector_cutoff": False, "prior_model": None})
    smooth = from_torchmdnet_state(
        {**ARGS, "prior_model": None}, upstream({**ARGS, "prior_model": None}).state_dict()
    )
    z = torch.tensor([6, 8])

    def at(model, r, ours):
        pos = torch.tensor([[0.0, 0, 0], [0, 0, r]], dtype=torch.float64)
        return float(model(z, pos)["energy"][0]) if ours else float(model(z, pos.clone())[0])

    cut = ARGS["cutoff_upper"]
    assert abs(at(legacy, cut - 1e-6, False) - at(legacy, cut + 1e-6, False)) > 1e-4
    assert abs(at(smooth, cut - 1e-6, True) - at(smooth, cut + 1e-6, True)) < 1e-9
