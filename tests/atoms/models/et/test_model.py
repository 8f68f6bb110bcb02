"""`ET` (et/model.py): symmetry, forces, batching, smoothness at the cutoff, its config, checkpoints
and export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from et_testkit import CUTOFF, energy_forces, molecule, random_et

from noether.atoms.checkpoint import load_potential, save_potential
from noether.atoms.models.et import ET, ETConfig
from noether.testing import check_e3, check_permutation


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_energy_invariant_forces_equivariant_under_e3(dtype, tol):
    model = random_et(dtype)
    numbers, positions = molecule(dtype=dtype)
    err = check_e3(
        energy_forces(model), (numbers, positions), ("scalar", "position"), ("scalar", "vector")
    )
    scale = model(numbers, positions)["forces"].abs().max().item()
    assert err < tol * max(1.0, scale)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_permutation_equivariance(dtype, tol):
    model = random_et(dtype)
    numbers, positions = molecule(dtype=dtype)
    err = check_permutation(energy_forces(model), (numbers, positions), (0, 0), (None, 0))
    assert err < tol


def test_forces_match_finite_differences():
    model = random_et()
    numbers, positions = molecule(n=6, spread=1.2)
    forces = model(numbers, positions)["forces"]
    h = 1e-5
    for atom, axis in [(0, 0), (2, 1), (5, 2), (3, 0)]:
        plus, minus = positions.clone(), positions.clone()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        e_plus = model(numbers, plus, compute_forces=False)["energy"]
        e_minus = model(numbers, minus, compute_forces=False)["energy"]
        numeric = -(e_plus - e_minus) / (2 * h)
        assert abs(float(numeric) - float(forces[atom, axis])) < 1e-7


def test_gradcheck_second_order():
    """Force training needs d(forces)/d(weights): second derivatives through the whole model."""
    model = random_et(hidden=8, layers=2, heads=2, num_rbf=4)
    numbers, positions = molecule(n=4, spread=1.0)
    names = ["layers.0.filter.bias", "layers.1.qkv.bias", "head.blocks.0.vec1.weight"]
    params = dict(model.named_parameters())

    def forces_of(*values):
        out = torch.func.functional_call(
            model,
            {**params, **dict(zip(names, values))},
            (numbers, positions),
            {"create_graph": True},
        )
        return out["forces"]

    inputs = tuple(params[n].detach().clone().requires_grad_(True) for n in names)
    assert torch.autograd.gradcheck(forces_of, inputs, fast_mode=True)


def test_batched_equals_single():
    model = random_et()
    frames = [molecule(n, seed=s) for n, s in ((5, 1), (9, 2), (1, 3), (7, 4))]
    numbers = torch.cat([z for z, _ in frames])
    positions = torch.cat([p for _, p in frames])
    batch = torch.cat([torch.full((len(z),), k) for k, (z, _) in enumerate(frames)])
    together = model(numbers, positions, batch)
    for k, (z, p) in enumerate(frames):
        alone = model(z, p)
        assert torch.allclose(together["energy"][k], alone["energy"][0], atol=1e-12, rtol=0)
        assert torch.allclose(together["forces"][batch == k], alone["forces"], atol=1e-12, rtol=0)


def dimer(model, r):
    positions = torch.tensor([[0.0, 0, 0], [0, 0, float(r)]], dtype=torch.float64)
    out = model(torch.tensor([6, 8]), positions)
    return float(out["energy"]), float(out["forces"][1, 2])


def test_dimer_energy_and_forces_are_smooth_through_the_cutoff():
    """Scan a dimer across r_c: no step in energy or force (upstream ET without vector_cutoff
    has one, TorchMD-NET issue #254). Random biases make the distance filters nonzero at the
    cutoff, which is what exposed the step upstream."""
    model = random_et()
    e_far, f_far = dimer(model, CUTOFF + 1.0)
    assert f_far == 0.0
    rs = np.linspace(CUTOFF - 0.1, CUTOFF + 0.1, 21)
    scan = np.array([dimer(model, r) for r in rs])
    energies, forces = scan[:, 0], scan[:, 1]
    # no step: between grid points the energy changes by no more than the force allows
    dr = rs[1] - rs[0]
    assert np.all(np.abs(np.diff(energies)) <= np.abs(forces).max() * dr * 1.01 + 1e-12)
    assert np.abs(np.diff(forces)).max() < 1e-3
    # at the cutoff itself energy and force meet the isolated values continuously
    for delta in (1e-4, 1e-7):
        e_in, f_in = dimer(model, CUTOFF - delta)
        assert abs(e_in - e_far) < 1e3 * delta**2 + 1e-12
        assert abs(f_in) < 1e3 * delta
    # and the interaction is real: at 3 Å the energy differs
    assert abs(dimer(model, 3.0)[0] - e_far) > 1e-5


def test_isolated_atoms_give_finite_forces_and_second_derivatives():
    model = random_et()
    numbers = torch.tensor([1, 6, 8])
    positions = torch.tensor([[0.0, 0, 0], [1.1, 0, 0], [20.0, 0, 0]], dtype=torch.float64)
    model.train()
    out = model(numbers, positions)
    assert torch.isfinite(out["forces"]).all()
    assert float(out["forces"][2].abs().max()) == 0.0
    out["forces"].square().sum().backward()
    for p in model.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


def test_periodic_cell_energy_is_extensive_and_translation_invariant():
    """A cell smaller than the cutoff (atoms see their own images): the 2x1x1 supercell has twice
    the energy, and translating atoms by lattice vectors changes nothing."""
    model = random_et()
    numbers = torch.tensor([8, 1, 1])
    cell = torch.diag(torch.tensor([3.0, 3.2, 3.4], dtype=torch.float64))
    positions = torch.tensor(
        [[0.2, 0.1, 0.3], [1.1, 0.4, 0.2], [0.1, 1.0, 0.9]], dtype=torch.float64
    )
    pbc = torch.tensor([True, True, True])
    one = model(numbers, positions, cell=cell, pbc=pbc)
    shifted = positions + torch.tensor(
        [[3.0, 0, 0], [0, -3.2, 0], [0, 0, 6.8]], dtype=torch.float64
    )
    moved = model(numbers, shifted, cell=cell, pbc=pbc)
    assert torch.allclose(one["energy"], moved["energy"], atol=1e-10, rtol=0)
    big_cell = cell.clone()
    big_cell[0, 0] *= 2
    two = model(
        numbers.repeat(2),
        torch.cat([positions, positions + cell[0]]),
        cell=big_cell,
        pbc=pbc,
    )
    assert torch.allclose(two["energy"], 2 * one["energy"], atol=1e-9, rtol=0)
    assert torch.allclose(two["forces"][:3], one["forces"], atol=1e-9, rtol=0)


def test_config_value_and_keyword_options_build_the_same_model():
    config = ETConfig(hidden=16, layers=2, heads=4, num_rbf=8, cutoff=CUTOFF, head="scalar")
    torch.manual_seed(0)
    a = ET(config)
    torch.manual_seed(0)
    b = ET(hidden=16, layers=2, heads=4, num_rbf=8, cutoff=CUTOFF, head="scalar")
    torch.manual_seed(0)
    c = ET(config, dtype="float64")  # an option replaces one field
    assert a.config == b.config == config and c.config.dtype == torch.float64
    assert a.state_dict().keys() == b.state_dict().keys()
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert c.dtype == torch.float64
    with pytest.raises(TypeError, match=r"unknown option.*hiden"):
        ET(hiden=16)


def test_hparams_are_the_flat_options_and_rebuild_the_model():
    model = random_et(zbl_cutoff=2.0, atomref={"H": -13.6})
    hparams = model.hparams
    assert hparams["dtype"] == "torch.float64" and hparams["zbl_cutoff"] == 2.0
    assert set(hparams) == {f for f in ETConfig.__dataclass_fields__}
    again = ET(**{**hparams, "dtype": torch.float64})
    assert again.config == model.config


def test_checkpoint_written_before_the_config_loads(tmp_path):
    """A save_potential file of the keyword-argument ET (its hparams the 18 keyword arguments,
    dtype as a string) loads into the config-taking ET and computes the same."""
    model = random_et(head="scalar")
    legacy = dict(
        hidden=16, layers=2, heads=4, num_rbf=8, cutoff=CUTOFF, max_z=100, trainable_rbf=False,
        neighbor_embedding=True, distance_influence="both", activation="silu",
        attn_activation="silu", head="scalar", zbl_cutoff=None, dtype="torch.float64",
        neighbor_method="auto", atomref=None, energy_scale=1.0, energy_shift=0.0,
    )  # fmt: skip
    path = save_potential(tmp_path / "et.pt", model)
    payload = torch.load(path, weights_only=True)
    payload["hparams"] = legacy
    torch.save(payload, path)
    again = load_potential(path)
    numbers, positions = molecule()
    assert torch.equal(again(numbers, positions)["energy"], model(numbers, positions)["energy"])


def test_checkpoint_round_trip(tmp_path):
    model = random_et(head="scalar", distance_influence="keys")
    numbers, positions = molecule()
    path = save_potential(tmp_path / "et.pt", model)
    again = load_potential(path)
    assert isinstance(again, ET) and again.config == model.config
    a, b = model(numbers, positions), again(numbers, positions)
    assert torch.equal(a["energy"], b["energy"]) and torch.equal(a["forces"], b["forces"])


@pytest.mark.parametrize(
    "influence,head",
    [("both", "scalar"), ("keys", "gated"), ("values", "scalar"), ("none", "gated")],
)
def test_variants_are_invariant(influence, head):
    model = random_et(distance_influence=influence, head=head, neighbor_embedding=head == "gated")
    numbers, positions = molecule(n=6)
    err = check_e3(
        energy_forces(model),
        (numbers, positions),
        ("scalar", "position"),
        ("scalar", "vector"),
        n_samples=2,
    )
    assert err < 1e-10


def test_exported_model_equals_eager(tmp_path):
    from noether.atoms.export import export_potential, load_exported

    model = random_et()
    # the random molecules have atoms 0.3 Å apart, which an export refuses by default
    path = export_potential(model, tmp_path / "et.pt2", min_distance=0.0)
    exported = load_exported(path)
    for n, seed in ((7, 1), (12, 2)):
        numbers, positions = molecule(n, seed=seed)
        a, b = model(numbers, positions), exported(numbers, positions)
        assert torch.allclose(a["energy"], b["energy"], atol=1e-12, rtol=0)
        assert torch.allclose(a["forces"], b["forces"], atol=1e-12, rtol=0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="divisible"):
        ET(hidden=10, heads=4)
    with pytest.raises(ValueError, match="activation"):
        ET(hidden=8, heads=2, activation="relu6")
    with pytest.raises(ValueError, match="distance_influence"):
        ET(hidden=8, heads=2, distance_influence="queries")
    with pytest.raises(ValueError, match="head"):
        ET(hidden=8, heads=2, head="dipole")
    model = ET(hidden=8, heads=2, layers=1, num_rbf=4, max_z=10)
    with pytest.raises(ValueError, match="frame 0, atom 1: atomic number 12 is beyond this ET's "):
        model(torch.tensor([1, 12]), torch.randn(2, 3))
