"""The double-exchange model on the square lattice, exact diagonalisation, Monte Carlo and SLMC.

- :class:`DoubleExchangeModel`: parameters and the exact energy ``Omega[S]`` by diagonalisation.
- :class:`ExactMetropolis`: the reference local-update sampler on ``Omega``.
- :class:`EffectiveModel`: the shell (linear) model and the equivariant spin transformer.
- :class:`SLMC`: self-learning Monte Carlo with the cumulative update.
- :func:`fit` and :func:`self_learning`: training and the self-learning loop.
"""

from noether.lattice.attention import EffectiveModel, SpinAttention
from noether.lattice.geometry import SquareLattice, permute_sites
from noether.lattice.metropolis import ExactMetropolis, local_metropolis
from noether.lattice.model import DoubleExchangeModel, grand_potential
from noether.lattice.shells import ShellEnergy
from noether.lattice.slmc import SLMC
from noether.lattice.spins import magnetisation, random_spins
from noether.lattice.statistics import (
    autocorrelation_window,
    integrated_autocorrelation_time,
    mean_and_error,
)
from noether.lattice.training import FitResult, fit

__all__ = [
    "SLMC",
    "DoubleExchangeModel",
    "EffectiveModel",
    "ExactMetropolis",
    "FitResult",
    "ShellEnergy",
    "SpinAttention",
    "SquareLattice",
    "autocorrelation_window",
    "fit",
    "grand_potential",
    "integrated_autocorrelation_time",
    "local_metropolis",
    "magnetisation",
    "mean_and_error",
    "permute_sites",
    "random_spins",
]
