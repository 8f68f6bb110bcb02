"""What a user of the lattice family calls to run and measure samplers: a reference chain, the
training data it gives, one sampler's summary (acceptance, autocorrelation in diagonalisations,
cost) and an effective model's checkpoint. The SLMC study (:mod:`noether.studies.slmc`) is built
from these.
"""

from __future__ import annotations

from pathlib import Path

import torch

from noether.core.io import atomic_write
from noether.core.progress import Progress
from noether.lattice.attention import EffectiveModel
from noether.lattice.loop import Dataset
from noether.lattice.metropolis import ChainRecord, ExactMetropolis
from noether.lattice.model import DoubleExchangeModel
from noether.lattice.statistics import autocorrelation_window, mean_and_error

__all__ = ["reference_chain", "save_effective_model", "split_data", "summarise"]


def save_effective_model(
    effective: EffectiveModel, model: DoubleExchangeModel, path: str | Path
) -> None:
    """A checkpoint of ``effective`` with the physics it was trained for (written atomically):
    ``{"config", "physics": {L, t, J, mu, T}, "state_dict"}``."""
    physics = {k: getattr(model, k) for k in ("L", "t", "J", "mu", "T")}
    state = {"config": effective.config(), "physics": physics, "state_dict": effective.state_dict()}
    atomic_write(path, lambda file: torch.save(state, file))


def summarise(record: ChainRecord, n_sites: int) -> dict:
    """Acceptance, autocorrelation (in diagonalisations) and cost of one sampler's record."""
    chains, steps = record.energy.shape
    tau_m, window_m = autocorrelation_window(record.magnetisation)
    tau_e, window_e = autocorrelation_window(record.energy)
    per_ed = record.diagonalisations_per_step
    acceptance, acceptance_err = mean_and_error(record.accepted)
    m, m_err = mean_and_error(record.magnetisation, tau_m)
    e, e_err = mean_and_error(record.energy, tau_e)
    seconds_per_step = record.seconds / (chains * steps)  # per chain, batched chains amortised
    tau = max(tau_m, tau_e)
    return {
        "acceptance": acceptance,
        "acceptance_err": acceptance_err,
        "tau_m_ed": tau_m * per_ed,
        "tau_e_ed": tau_e * per_ed,
        "tau_m_window": window_m,  # False: the run is shorter than ~5 tau, tau is rough
        "tau_e_window": window_e,
        "ed_per_effective_sample": tau * per_ed,
        "seconds_per_effective_sample": seconds_per_step * tau,
        "m": m,
        "m_err": m_err,
        "energy": e,
        "energy_err": e_err,
        "samples": chains * steps,
    }


def reference_chain(
    model: DoubleExchangeModel,
    chains: int,
    burn: int,
    sweeps: int,
    seed: int,
    desc: str,
    keep: bool = True,
    progress: bool = True,
) -> tuple[ExactMetropolis, ChainRecord]:
    """``chains`` exact Metropolis chains: ``burn`` sweeps of burn-in, then ``sweeps`` recorded
    (every configuration kept with ``keep``), with a progress labelled ``desc`` (none without
    ``progress``)."""
    sampler = ExactMetropolis(model, n_chains=chains, seed=seed)
    total = burn + sweeps
    with Progress(total, desc=desc, unit="sweep", enabled=progress, mininterval=10) as bar:
        sampler.burn_in(burn, progress=bar.update)
        record = sampler.run(sweeps, keep_every=1 if keep else 0, progress=bar.update)
    return sampler, record


def split_data(record: ChainRecord, n_sites: int, seed: int) -> tuple[Dataset, tuple]:
    """Training data (train/validation split) and a score set from *other* chains, so that the
    reported loss is measured on configurations uncorrelated with those the models saw."""
    held = max(record.samples.shape[0] // 5, 1)
    energies = record.energy * n_sites
    score = (record.samples[:held].flatten(0, 1), energies[:held].flatten())
    data = Dataset.split(record.samples[held:].flatten(0, 1), energies[held:].flatten(), seed=seed)
    return data, score
