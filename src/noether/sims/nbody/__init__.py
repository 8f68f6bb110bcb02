"""Gravitational n-body systems: :mod:`~noether.sims.nbody.gravity` (forces, integrator),
:mod:`~noether.sims.nbody.simulator` (sampling and simulation), :mod:`~noether.sims.nbody.dataset`
(npz splits), :mod:`~noether.sims.nbody.tokens` (bodies as tokens for each algebra),
:mod:`~noether.sims.nbody.task` (the registered ``nbody`` task), :mod:`~noether.sims.nbody.eval`
(test sets, baselines, equivariance errors) and :mod:`~noether.sims.nbody.plots`. See docs/sims.md
and docs/nbody.md."""
