"""SLMC is exact: on a 2 x 2 lattice its averages agree with an independent exact reference."""

import math

import pytest
import torch

from noether.lattice.attention import EffectiveModel
from noether.lattice.metropolis import ExactMetropolis, local_metropolis
from noether.lattice.model import DoubleExchangeModel
from noether.lattice.slmc import SLMC
from noether.lattice.spins import random_spins
from noether.lattice.statistics import mean_and_error

MODEL = DoubleExchangeModel(L=2, J=4.0, mu=-2.0, T=0.2)


def observables(spins: torch.Tensor, energies: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"energy": energies / spins.shape[-2], "m2": spins.mean(-2).square().sum(-1)}


def importance_sampled(model: DoubleExchangeModel, n: int = 100_000) -> dict[str, tuple]:
    """Exact averages up to a small, known error: independent uniform spins weighted by
    exp(-Omega / T) (self-normalised importance sampling; no Markov chain involved)."""
    generator = torch.Generator().manual_seed(123)
    spins = random_spins(n, n_sites=model.n_sites, generator=generator)
    energies = model.energy(spins)
    w = torch.exp(-(energies - energies.min()) / model.T)
    w = w / w.sum()
    out = {}
    for name, x in observables(spins, energies).items():
        mean = (w * x).sum()
        out[name] = (mean.item(), math.sqrt(((w * (x - mean)) ** 2).sum().item()))
    return out


def chain_averages(record) -> dict[str, tuple]:
    spins = record.samples.flatten(0, 1)
    energies = record.energy.flatten() * spins.shape[-2]
    out = {}
    for name, x in observables(spins, energies).items():
        series = x.reshape(record.energy.shape)
        out[name] = mean_and_error(series)
    return out


def assert_agree(ours: dict, exact: dict, sigmas: float = 4.0) -> None:
    for name, (mean, error) in ours.items():
        ref_mean, ref_error = exact[name]
        combined = math.hypot(error, ref_error)
        assert abs(mean - ref_mean) < sigmas * combined, (name, mean, error, ref_mean, ref_error)


def bad_linear_model() -> EffectiveModel:
    """A deliberately wrong effective model: strongly ferromagnetic where the truth is not."""
    eff = EffectiveModel(MODEL.lattice, n_layers=0)
    with torch.no_grad():
        eff.head.couplings.copy_(torch.tensor([0.15, 0.05], dtype=torch.float64))
    return eff


@pytest.fixture(scope="module")
def exact() -> dict:
    return importance_sampled(MODEL)


def test_slmc_with_a_wrong_effective_model_is_still_exact(exact):
    eff = bad_linear_model()
    sampler = SLMC(MODEL, eff, n_chains=64, n_inner=8, seed=1)
    sampler.burn_in(30)
    record = sampler.run(300, keep_every=1)
    acceptance = record.accepted.mean().item()
    assert 0.1 < acceptance < 0.9  # the exact test really rejects some proposals
    assert_agree(chain_averages(record), exact)


def test_without_the_exact_test_the_wrong_model_would_be_caught(exact):
    # Sampling the effective model alone gives clearly different averages: the test above can fail.
    eff = bad_linear_model()
    generator = torch.Generator().manual_seed(2)
    spins = random_spins(64, n_sites=MODEL.n_sites, generator=generator)
    energies = eff(spins).detach()
    m2 = []
    for i in range(130):
        spins, energies, _ = local_metropolis(eff, spins, energies, MODEL.beta, 8, 0.5, generator)
        if i >= 30:
            m2.append(spins.mean(-2).square().sum(-1))
    mean, error = mean_and_error(torch.stack(m2, 1))
    assert abs(mean - exact["m2"][0]) > 10 * math.hypot(error, exact["m2"][1])


def test_reference_metropolis_is_exact(exact):
    sampler = ExactMetropolis(MODEL, n_chains=32, seed=3)
    sampler.burn_in(20)
    record = sampler.run(150, keep_every=1)
    assert_agree(chain_averages(record), exact)


def test_slmc_with_a_transformer_agrees_with_the_reference(exact):
    eff = EffectiveModel(MODEL.lattice, n_layers=2, dtype=torch.float32)
    with torch.no_grad():
        for layer in eff.layers:
            layer.value.normal_(0, 0.5)
        eff.head.couplings.copy_(torch.tensor([0.02, -0.01]))
    sampler = SLMC(MODEL, eff, n_chains=32, n_inner=8, seed=4)
    sampler.burn_in(20)
    record = sampler.run(200, keep_every=1)
    assert_agree(chain_averages(record), exact)


def test_self_learning_loop_grows_the_data_with_exactly_labelled_proposals():
    from noether.lattice.loop import Dataset, self_learning

    model = DoubleExchangeModel(L=3, J=4.0, mu=-2.0, T=0.2)
    generator = torch.Generator().manual_seed(5)
    spins = random_spins(40, n_sites=model.n_sites, generator=generator)
    data = Dataset.split(spins, model.energy(spins))
    eff = EffectiveModel(model.lattice, n_layers=1)
    result = self_learning(
        model, eff, data, spins[:4], rounds=2, train_steps=5, slmc_steps=6, burn_in=2, n_inner=9
    )
    assert len(result.rounds) == 2
    assert len(result.data) == 40 + 4 * 6  # every proposal of round 1, labelled
    new_train = result.data.train[0][32:], result.data.train[1][32:]
    torch.testing.assert_close(model.energy(new_train[0]), new_train[1], atol=1e-12, rtol=0)
    assert result.rounds[1].n_data == 64
    assert result.rounds[1].record.accepted.shape == (4, 6)


@pytest.mark.slow
def test_trained_transformer_slmc_agrees_with_reference_on_3x3():
    """Longer statistical check: train a 2-layer model on reference samples of a 3 x 3 lattice at
    low temperature, then compare SLMC and reference averages of |m| and Omega/N."""
    from noether.lattice.loop import Dataset
    from noether.lattice.training import fit

    model = DoubleExchangeModel(L=3, J=4.0, mu=-3.0, T=0.05)
    reference = ExactMetropolis(model, n_chains=32, seed=7)
    reference.burn_in(100)
    record = reference.run(600, keep_every=1)
    spins = record.samples[:, ::5].flatten(0, 1)
    data = Dataset.split(spins, model.energy(spins))
    eff = EffectiveModel(model.lattice, n_layers=2, dtype=torch.float32)
    fit(eff, data.train, data.test, steps=400)
    sampler = SLMC(model, eff, n_chains=32, seed=8, spins=reference.spins)
    sampler.burn_in(50)
    slmc = sampler.run(1500)
    for name in ("magnetisation", "energy"):
        ours = mean_and_error(getattr(slmc, name))
        theirs = mean_and_error(getattr(record, name))
        assert abs(ours[0] - theirs[0]) < 4 * math.hypot(ours[1], theirs[1]), (name, ours, theirs)
