import itertools

import pytest
import torch

from noether.lattice.attention import EffectiveModel, SpinAttention
from noether.lattice.geometry import SquareLattice, permute_sites
from noether.lattice.shells import ShellEnergy
from noether.lattice.spins import random_spins
from noether.testing import check_o3, equivariance_error


def trained_like(model: EffectiveModel, seed: int = 0) -> EffectiveModel:
    """Give every parameter a non-trivial value (fresh layers start as the identity)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return model


def lattice_sample(lattice: SquareLattice, vector_output: bool):
    maps = [lattice.translation(a, b) for a in range(lattice.L) for b in range(lattice.L)]
    maps += lattice.point_group()

    def sample(generator):
        perm = maps[int(torch.randint(len(maps), (1,), generator=generator))]
        move_in = lambda xs: (permute_sites(xs[0], perm),)  # noqa: E731
        move_out = (lambda ys: (permute_sites(ys[0], perm),)) if vector_output else (lambda ys: ys)
        return move_in, move_out

    return sample


@pytest.mark.parametrize("n_layers", [0, 1, 3])
@pytest.mark.parametrize("det", [1, -1])
def test_effective_energy_is_o3_invariant_and_spins_equivariant(n_layers, det):
    lattice = SquareLattice(4)
    model = trained_like(EffectiveModel(lattice, n_layers=n_layers, n_heads=2))
    spins = random_spins(3, n_sites=lattice.n_sites)
    assert check_o3(model, (spins,), ("vector",), ("scalar",), det=det) < 1e-10
    err = check_o3(model.effective_spins, (spins,), ("vector",), ("vector",), det=det)
    assert err < 1e-10


def test_o3_check_catches_a_layer_that_mixes_spin_components():
    lattice = SquareLattice(3)
    model = trained_like(EffectiveModel(lattice, n_layers=1))
    mix = torch.tensor([[1.0, 0.3, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    broken = lambda s: model(s @ mix)  # noqa: E731
    assert check_o3(broken, (random_spins(2, n_sites=9),), ("vector",), ("scalar",)) > 1e-4


@pytest.mark.parametrize("n_layers", [0, 2])
def test_effective_model_respects_lattice_translations_and_point_group(n_layers):
    lattice = SquareLattice(4)
    model = trained_like(EffectiveModel(lattice, n_layers=n_layers))
    spins = random_spins(2, n_sites=lattice.n_sites)
    assert equivariance_error(model, (spins,), lattice_sample(lattice, False), n_samples=10) < 1e-10
    err = equivariance_error(
        model.effective_spins, (spins,), lattice_sample(lattice, True), n_samples=10
    )
    assert err < 1e-10


def test_translation_check_catches_a_site_dependent_model():
    lattice = SquareLattice(4)
    model = trained_like(EffectiveModel(lattice, n_layers=1))
    weights = torch.linspace(0.5, 1.5, lattice.n_sites, dtype=torch.float64)[:, None]
    broken = lambda s: model(torch.nn.functional.normalize(s + 0.3 * weights, dim=-1))  # noqa: E731
    spins = random_spins(2, n_sites=lattice.n_sites)
    assert equivariance_error(broken, (spins,), lattice_sample(lattice, False)) > 1e-4


def test_zero_layers_is_exactly_the_linear_model():
    lattice = SquareLattice(4)
    model = trained_like(EffectiveModel(lattice, n_layers=0))
    spins = random_spins(5, n_sites=lattice.n_sites)
    assert torch.equal(model.effective_spins(spins), spins)
    linear = ShellEnergy(lattice)
    linear.load_state_dict(model.head.state_dict())
    assert torch.equal(model(spins), linear(spins))
    # and the linear model is E_0 - sum_n J_n sum over unordered pairs in shell n of S_i . S_j
    J, E0 = model.head.couplings, model.head.offset
    for b in range(2):
        explicit = E0.clone()
        for i, j in itertools.combinations(range(lattice.n_sites), 2):
            explicit = explicit - J[lattice.shell_index[i, j] - 1] * spins[b, i] @ spins[b, j]
        assert abs(explicit.item() - model(spins[b]).item()) < 1e-12


def test_fresh_layers_start_as_the_identity_map():
    lattice = SquareLattice(3)
    layer = SpinAttention(lattice)
    spins = random_spins(2, n_sites=lattice.n_sites)
    torch.testing.assert_close(layer(spins), spins, atol=1e-12, rtol=0)


def test_least_squares_recovers_known_couplings():
    lattice = SquareLattice(4)
    truth = trained_like(EffectiveModel(lattice, n_layers=0), seed=3)
    spins = random_spins(200, n_sites=lattice.n_sites)
    energies = truth(spins).detach()
    fitted = EffectiveModel(lattice, n_layers=0)
    assert fitted.head.fit_least_squares(spins, energies) < 1e-20
    torch.testing.assert_close(fitted.head.couplings, truth.head.couplings, atol=1e-10, rtol=0)


def test_batched_equals_single_and_float32_agrees():
    lattice = SquareLattice(3)
    model = trained_like(EffectiveModel(lattice, n_layers=2))
    spins = random_spins(4, n_sites=lattice.n_sites)
    batched = model(spins)
    for b in range(4):
        assert abs(batched[b].item() - model(spins[b]).item()) < 1e-12
    low = EffectiveModel(lattice, n_layers=2, dtype=torch.float32)
    low.load_state_dict(model.state_dict())
    assert low(spins).dtype == torch.float32
    torch.testing.assert_close(low(spins).double(), batched, atol=1e-4, rtol=1e-5)
    assert check_o3(low, (spins.float(),), ("vector",), ("scalar",)) < 1e-4


def test_grown_model_computes_the_same_energy_with_one_more_layer():
    lattice = SquareLattice(3)
    model = trained_like(EffectiveModel(lattice, n_layers=1))
    bigger = model.grown()
    assert bigger.n_layers == 2 and bigger.n_parameters() > model.n_parameters()
    spins = random_spins(3, n_sites=lattice.n_sites)
    torch.testing.assert_close(bigger(spins), model(spins), atol=1e-12, rtol=0)
