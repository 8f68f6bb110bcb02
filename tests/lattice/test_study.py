"""The SLMC driver pieces a user of the lattice family calls: reference chain, data, summary,
checkpoint."""

import math

import torch

from noether.lattice.attention import EffectiveModel
from noether.lattice.model import DoubleExchangeModel
from noether.lattice.study import reference_chain, save_effective_model, split_data, summarise


def test_a_reference_chain_gives_data_a_summary_and_a_checkpoint(tmp_path):
    model = DoubleExchangeModel(L=3, t=1.0, J=4.0, mu=-2.0, T=0.2)
    sampler, record = reference_chain(model, 5, 2, 6, seed=0, desc="test")
    assert record.samples.shape[:2] == (5, 6) and sampler.spins.shape[0] == 5
    summary = summarise(record, model.n_sites)
    assert 0.0 <= summary["acceptance"] <= 1.0 and summary["samples"] == 30
    assert 0.0 <= summary["m"] <= 1.0 and math.isfinite(summary["energy"])
    assert record.diagonalisations_per_step == model.n_sites  # a sweep costs N of them
    assert summary["tau_m_ed"] > 0 and summary["seconds_per_effective_sample"] > 0
    data, (spins, energies) = split_data(record, model.n_sites, seed=0)
    assert spins.shape[0] == energies.shape[0] == 6  # one held-out chain of five scores
    assert len(data) == 4 * 6
    effective = EffectiveModel(model.lattice, 0, 2, dtype=torch.float32)
    save_effective_model(effective, model, tmp_path / "m.pt")
    state = torch.load(tmp_path / "m.pt", weights_only=False)
    assert state["physics"] == {"L": 3, "t": 1.0, "J": 4.0, "mu": -2.0, "T": 0.2}
    assert set(state["state_dict"]) == set(effective.state_dict())
