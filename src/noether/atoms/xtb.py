"""Reference data from GFN2-xTB: Langevin MD through ``tblite.ase.TBLite``, labelled on the fly.

For each temperature a molecule is relaxed, thermalised, equilibrated, then sampled every
``stride`` steps; each saved frame carries the xTB energy (eV) and forces (eV/Å) of exactly its
geometry (the integrator's own force evaluation, so labelling costs nothing extra). Everything is
deterministic in the seed (tblite runs single-threaded here).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np

from noether.atoms.dataset import AtomsDataset
from noether.atoms.md import thermalize

__all__ = ["XTBSampling", "frame_temperatures", "sample_molecule", "xtb_calculator"]


@dataclass
class XTBSampling:
    """How to sample. temperatures: K; timestep: fs; friction: 1/fs; stride and equilibration in
    MD steps; frames: per molecule, split evenly over the temperatures. ``accuracy`` is tblite's
    SCF accuracy: 0.01 makes each frame's forces agree with a fresh single point to about
    1e-6 eV/Å (tblite's default 1.0 leaves about 1e-4 eV/Å) for some 20% more time."""

    frames: int = 2000
    temperatures: tuple[float, ...] = (500.0,)
    timestep: float = 0.5
    stride: int = 4
    equilibration: int = 200
    friction: float = 0.01
    method: str = "GFN2-xTB"
    accuracy: float = 0.01
    relax_fmax: float = 0.05

    def __post_init__(self) -> None:
        if self.frames < 1 or self.stride < 1 or self.equilibration < 0:
            raise ValueError(
                f"need frames >= 1, stride >= 1, equilibration >= 0; got {self.frames}, "
                f"{self.stride}, {self.equilibration}"
            )
        if not self.temperatures or min(self.temperatures) <= 0:
            raise ValueError(f"temperatures must be positive (K), got {self.temperatures}")
        if not self.timestep > 0:
            raise ValueError(f"timestep must be positive (fs), got {self.timestep}")

    def as_dict(self) -> dict:
        return asdict(self)

    def counts(self) -> np.ndarray:
        """Frames per temperature, ``(len(temperatures),)``: ``frames`` split evenly, the first
        temperatures taking the remainder."""
        counts = np.full(len(self.temperatures), self.frames // len(self.temperatures))
        counts[: self.frames % len(self.temperatures)] += 1
        return counts


def frame_temperatures(settings: XTBSampling) -> np.ndarray:
    """The bath temperature (K) of each frame :func:`sample_molecule` returns, ``(frames,)``."""
    return np.repeat(np.asarray(settings.temperatures, dtype=np.float64), settings.counts())


def xtb_calculator(method: str = "GFN2-xTB", accuracy: float = 0.01):
    """A quiet ``tblite.ase.TBLite`` calculator (energies in eV, forces in eV/Å)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from tblite.ase import TBLite
    except ImportError as err:
        raise ImportError(
            "xTB reference data needs tblite: pip install 'noether[chem]' (tblite and rdkit)"
        ) from err
    return TBLite(method=method, accuracy=accuracy, verbosity=0)


def sample_molecule(atoms, settings: XTBSampling, *, seed: int = 0, progress=None) -> AtomsDataset:
    """Frames of ``atoms`` from xTB Langevin MD; ``progress(n)`` is called per saved frame."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.optimize import BFGS

    atoms = atoms.copy()
    atoms.calc = xtb_calculator(settings.method, settings.accuracy)
    if settings.relax_fmax:
        BFGS(atoms, logfile=None).run(fmax=settings.relax_fmax, steps=500)
    start = atoms.positions.copy()
    counts = settings.counts()
    positions, energies, forces = [], [], []
    for k, (temperature, count) in enumerate(zip(settings.temperatures, counts)):
        rng = np.random.default_rng([seed, k])
        atoms.positions = start
        thermalize(atoms, temperature, rng)
        dyn = Langevin(
            atoms,
            timestep=settings.timestep * units.fs,
            temperature_K=temperature,
            friction=settings.friction / units.fs,
            rng=rng,
            fixcm=False,
        )
        if settings.equilibration:
            dyn.run(settings.equilibration)
        for _ in range(int(count)):
            dyn.run(settings.stride)
            positions.append(atoms.positions.copy())
            energies.append(atoms.get_potential_energy())
            forces.append(atoms.get_forces())
            if progress is not None:
                progress(1)
    return AtomsDataset.from_arrays(
        atoms.numbers, np.array(positions), np.array(energies), np.array(forces), source="xTB MD"
    )
