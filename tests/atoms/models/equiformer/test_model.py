"""The Equiformer potential and property model: symmetry, forces, batching, smoothness."""

from __future__ import annotations

import pytest
import torch
from e3nn.util.test import assert_equivariant

from noether.atoms.models.equiformer import Equiformer, EquiformerProperties, preset
from noether.testing import check_e3, check_permutation

VARIANTS = {
    "paper": {},
    "linear-messages": dict(nonlinear_messages=False),
    "dot-product": dict(attention="dot", nonlinear_messages=False),
}
TINY_E3 = dict(
    irreps_node="6x0e+2x0o+3x1e+2x1o+2x2e+1x2o",
    irreps_head="3x0e+1x0o+2x1e+1x1o+1x2e+1x2o",
    irreps_mlp_mid="12x0e+4x0o+6x1e+4x1o+4x2e+2x2o",
    parity=True,
)


def molecule(n=7, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    numbers = torch.tensor([6, 1, 8, 1, 7, 1, 6, 1, 9, 6][:n])
    positions = 1.3 * torch.randn(n, 3, generator=g, dtype=dtype)
    return numbers, positions


def tiny(**kw) -> Equiformer:
    torch.manual_seed(0)
    return Equiformer.from_preset("tiny", **kw).to(torch.float64).eval()


def energy_forces(model):
    def fn(numbers, positions):
        out = model(numbers, positions)
        return out["energy"], out["forces"]

    return fn


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_rotation_translation_invariance_se3(variant):
    model = tiny(**VARIANTS[variant])
    z, pos = molecule()
    err = check_e3(
        energy_forces(model), (z, pos), ("scalar", "position"), ("scalar", "vector"), det=1
    )
    assert err < 1e-10


def test_se3_model_is_not_parity_invariant():
    """The paper's default declares vectors even: a mirror image can change the energy."""
    model = tiny()
    z, pos = molecule()
    err = check_e3(
        energy_forces(model), (z, pos), ("scalar", "position"), ("scalar", "vector"), det=-1
    )
    assert err > 1e-4


def test_e3_variant_is_parity_invariant():
    model = tiny(**TINY_E3)
    z, pos = molecule()
    err = check_e3(energy_forces(model), (z, pos), ("scalar", "position"), ("scalar", "vector"))
    assert err < 1e-10


@pytest.mark.parametrize("kw", [{}, TINY_E3], ids=["se3", "e3"])
def test_e3nn_checker(kw):
    model = tiny(**kw)
    z, pos = molecule()
    parity = bool(kw)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert_equivariant(
            lambda p: tuple(energy_forces(model)(z, p)),
            args_in=[pos], irreps_in=["cartesian_points"], irreps_out=["0e", "1o"],
            do_parity=parity,
        )  # fmt: skip
    finally:
        torch.set_default_dtype(previous)


def test_permutation_invariance():
    model = tiny()
    z, pos = molecule()
    err = check_permutation(energy_forces(model), (z, pos), (0, 0), (None, 0))
    assert err < 1e-10


def test_forces_match_finite_differences():
    model = tiny()
    z, pos = molecule(5)
    forces = model(z, pos)["forces"]
    h = 1e-5
    for atom, axis in [(0, 0), (2, 1), (4, 2), (1, 2)]:
        plus, minus = pos.clone(), pos.clone()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        e_plus = model(z, plus, compute_forces=False)["energy"]
        e_minus = model(z, minus, compute_forces=False)["energy"]
        numeric = -(e_plus - e_minus) / (2 * h)
        assert abs(numeric.item() - forces[atom, axis].item()) < 1e-8


def test_force_gradient_double_backward():
    """gradcheck of positions -> forces: the double backward a force loss needs is exact."""
    model = tiny(num_layers=1)
    z, pos = molecule(3)

    def forces(p):
        return model(z, p, create_graph=True)["forces"]

    assert torch.autograd.gradcheck(forces, (pos.clone().requires_grad_(True),), atol=1e-7)


def test_force_loss_reaches_every_live_parameter():
    """Only the l>0 outputs of the last block (which maps to scalars, as in the paper) and the
    constant energy offset get no gradient from a force loss."""
    model = tiny()
    model.train()
    z, pos = molecule()
    out = model(z, pos)
    out["forces"].square().sum().backward()
    dead = {n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0}
    last = "backbone.blocks.1."
    assert dead == {
        "head.linear_2.bias",
        *(last + f"attention.dtp_2.linear_weights.{k}" for k in (1, 2, 4, 5, 7, 8)),
        *(last + f"attention.proj.weights.{k}" for k in (1, 2)),
        *(last + f"ffn.linear_1.weights.{k}" for k in (1, 2)),
    }


def test_batched_equals_single():
    model = tiny()
    mols = [molecule(n, seed=s) for n, s in [(5, 1), (7, 2), (3, 3)]]
    z = torch.cat([m[0] for m in mols])
    pos = torch.cat([m[1] for m in mols])
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor([5, 7, 3]))
    out = model(z, pos, batch)
    start = 0
    for k, (zk, pk) in enumerate(mols):
        single = model(zk, pk)
        assert torch.allclose(out["energy"][k], single["energy"][0], atol=1e-12)
        n = zk.numel()
        assert torch.allclose(out["forces"][start : start + n], single["forces"], atol=1e-12)
        start += n


@pytest.mark.parametrize("smooth", [True, False])
def test_energy_continuous_at_the_cutoff(smooth):
    model = tiny(cutoff=3.0, smooth_cutoff=smooth)
    z = torch.tensor([6, 8, 1])
    pos = torch.tensor([[0.0, 0.0, 0.0], [1.2, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    energies = []
    for r in (3.0 - 1e-6, 3.0 + 1e-6):  # atom 2 leaves the cutoff sphere of atom 0
        p = pos.clone()
        p[2] = torch.tensor([0.0, r, 0.0])
        energies.append(model(z, p, compute_forces=False)["energy"].item())
    jump = abs(energies[1] - energies[0])
    if smooth:
        assert jump < 1e-8
    else:
        assert jump > 1e-4  # the paper's hard cutoff is discontinuous


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_float32_equivariance(variant):
    torch.manual_seed(0)
    model = Equiformer.from_preset("tiny", **VARIANTS[variant]).eval()
    z, pos = molecule(dtype=torch.float32)
    err = check_e3(
        energy_forces(model), (z, pos), ("scalar", "position"), ("scalar", "vector"), det=1
    )
    assert err < 1e-4


def _dead_edge_degree_parameters(node: str, sh: str) -> int:
    """Parameters of the paper's edge-degree embedding that only ever multiply zeros: its
    depth-wise product also has paths from the l>0 blocks of a constant scalar feature."""
    from noether.atoms.models.equiformer import IrrepsLayout, SeparableTensorProduct

    full = SeparableTensorProduct(node, sh, node, node)
    scalar = SeparableTensorProduct(f"{IrrepsLayout(node).scalar_dim()}x0e", sh, node, node)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    radial = (full.weight_numel - scalar.weight_numel) * (64 + 1)  # last layer and offset
    return radial + count(full) - count(scalar)


@pytest.mark.parametrize(
    ("name", "node", "sh", "paper"),
    [
        ("md17", "128x0e+64x1e+32x2e", "1x0e+1x1e+1x2e", 3_496_001),
        ("md17-l3", "128x0e+64x1e+64x2e+32x3e", "1x0e+1x1e+1x2e+1x3e", 5_500_865),
        ("qm9", "128x0e+64x1e+32x2e", "1x0e+1x1e+1x2e", 3_531_715),
    ],
)
def test_paper_parameter_counts(name, node, sh, paper):
    """Our models are the paper's exactly (its counts for MD17 L_max 2 and 3 and QM9), less the
    dead parameters of its edge-degree embedding (73,280 at L_max 2)."""
    kw = {"num_elements": 5} if name == "qm9" else {}
    ours = sum(p.numel() for p in Equiformer.from_preset(name, **kw).parameters())
    assert ours + _dead_edge_degree_parameters(node, sh) == paper


def test_bad_input_errors():
    model = tiny(num_elements=10)
    with pytest.raises(ValueError, match="frame 0, atom 1: atomic number 11 is beyond this Equi"):
        model(torch.tensor([6, 11]), torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="unknown attention"):
        Equiformer.from_preset("tiny", attention="linear")
    with pytest.raises(ValueError, match="unknown Equiformer preset"):
        preset("huge")
    with pytest.raises(ValueError, match="dot-product attention uses linear"):
        Equiformer.from_preset("tiny", attention="dot")


def test_property_model_invariant_and_batched():
    torch.manual_seed(0)
    model = EquiformerProperties(n_targets=3, **preset("tiny")).to(torch.float64).eval()
    model.set_standardization(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 1.0, 2.0]))
    z, pos = molecule()
    err = check_e3(
        lambda zz, pp: model(zz, pp), (z, pos), ("scalar", "position"), ("scalar",), det=1
    )
    assert err < 1e-10
    z2, pos2 = molecule(4, seed=5)
    both = model(torch.cat([z, z2]), torch.cat([pos, pos2]), torch.tensor([0] * 7 + [1] * 4))
    assert torch.allclose(both[1], model(z2, pos2)[0], atol=1e-12)
    assert torch.allclose(model(z, pos), model.mean + model.std * model.raw(z, pos))


def test_checkpoint_round_trip_and_ase_calculator(tmp_path):
    from ase import Atoms

    from noether.atoms.calculator import NoetherCalculator
    from noether.atoms.checkpoint import load_potential, save_potential

    model = tiny(**TINY_E3)
    z, pos = molecule(5)
    path = save_potential(tmp_path / "equiformer.pt", model)
    loaded = load_potential(path)
    assert type(loaded) is Equiformer
    assert torch.allclose(loaded(z, pos)["energy"], model(z, pos)["energy"], atol=1e-12)
    atoms = Atoms(numbers=z.numpy(), positions=pos.numpy())
    atoms.calc = NoetherCalculator(path)
    assert abs(atoms.get_potential_energy() - model(z, pos)["energy"].item()) < 1e-8
    assert atoms.get_forces().shape == (5, 3)


@pytest.mark.slow
def test_torch_export_round_trip(tmp_path):
    from noether.atoms.export import export_potential, load_exported

    model = tiny()
    z, pos = molecule(5)
    exported = load_exported(export_potential(model, tmp_path / "equiformer.pt2"))
    got, want = exported(z, pos), model(z, pos)
    assert torch.allclose(got["energy"], want["energy"], atol=1e-12)
    assert torch.allclose(got["forces"], want["forces"], atol=1e-12)


def test_dtype_is_per_model_and_the_global_default_is_untouched():
    default = torch.get_default_dtype()
    z, pos = molecule(4)
    m64 = Equiformer.from_preset("tiny", dtype="float64").eval()
    m32 = Equiformer.from_preset("tiny", dtype=torch.float32).eval()
    assert {p.dtype for p in m64.parameters()} == {torch.float64}
    assert m64(z, pos)["forces"].dtype == torch.float64
    assert m32(z, pos)["forces"].dtype == torch.float32
    props = EquiformerProperties(n_targets=2, dtype="float64", **preset("tiny"))
    assert props(z, pos).dtype == torch.float64
    assert torch.get_default_dtype() == default
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        Equiformer.from_preset("tiny", dtype="float16")
