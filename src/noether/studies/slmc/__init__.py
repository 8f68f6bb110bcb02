"""The SLMC study of the double-exchange model: :mod:`~noether.studies.slmc.plan` (what runs),
:mod:`~noether.studies.slmc.run` (running it) and :mod:`~noether.studies.slmc.report` (tables and
figures). The samplers and the driver pieces are in :mod:`noether.lattice`."""
