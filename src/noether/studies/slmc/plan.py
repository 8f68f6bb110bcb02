"""What the SLMC study runs: the physics, the models and the run lengths, as one dataclass.

Defaults: 6 x 6, t = 1, J = 4, mu = -3, T = 0.03 (about a third of an electron per site), where the
linear model's acceptance is about 20 %, as in the paper (Nagai & Tomiya). Larger lattices
(``L=8``, ``L=10``) and longer runs (``scale=4``) are options. The ``noether slmc`` command's
flags are these fields (``--max-layers`` is ``max_layers``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from noether.lattice.model import DoubleExchangeModel

__all__ = ["SLMCPlan"]


@dataclass(frozen=True)
class SLMCPlan:
    L: int = 6  # lattice size (L x L sites, periodic)
    t: float = 1.0  # hopping (the energy unit)
    J: float = 4.0  # spin-fermion coupling
    mu: float = -3.0  # chemical potential
    T: float = 0.03  # temperature of the layer study
    max_layers: int = 6  # models with 0 .. max_layers attention layers
    heads: int = 2  # attention heads per layer
    chains: int = 16  # independent chains run as one batch
    n_inner: int | None = None  # effective-model updates per exact test (None: 2N)
    rounds: int = 2  # rounds of the self-learning loop per model
    scale: float = 1.0  # multiplies every sweep/step count
    ref_sweeps: int = 150  # reference sweeps recorded (training data)
    train_steps: int = 500  # AdamW steps per round
    slmc_steps: int = 200  # recorded SLMC updates in the last round
    temperatures: str = "0.02,0.05,0.08"  # extra temperatures of the scan, comma-separated
    scan_sweeps: int = 80  # reference sweeps per scan temperature
    threads: int = 1  # torch threads (1 is fastest for these sizes)
    seed: int = 0
    out: Path = Path("runs/slmc")

    def check(self) -> tuple[DoubleExchangeModel, list[float]]:
        """The physics model and the scan temperatures; a ``ValueError`` naming the first bad
        option as its command flag (checked before any sampling, so a bad option costs nothing)."""
        model = DoubleExchangeModel(L=self.L, t=self.t, J=self.J, mu=self.mu, T=self.T)
        try:
            scan = [float(x) for x in self.temperatures.split(",") if x.strip()]
        except ValueError:
            raise ValueError(
                f"--temperatures must be comma-separated numbers, got {self.temperatures!r}"
            ) from None
        bad = [T for T in scan if not (math.isfinite(T) and T > 0)]
        if bad:
            raise ValueError(f"--temperatures must all be positive and finite, got {bad[0]!r}")
        minimum = {
            "max_layers": 0,
            "heads": 1,
            "chains": 2,  # one chain is held out to score the models, the others train them
            "rounds": 1,
            "ref_sweeps": 1,
            "train_steps": 1,
            "slmc_steps": 1,
            "scan_sweeps": 1,
            "threads": 1,
        }
        for name, low in minimum.items():
            if getattr(self, name) < low:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} must be at least {low}, got {getattr(self, name)}")
        if self.n_inner is not None and self.n_inner < 1:
            raise ValueError(f"--n-inner must be at least 1, got {self.n_inner}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"--scale must be positive, got {self.scale}")
        return model, scan
