"""Simulators that make data, each family a package that owns its data, tokenisers and task.

- :mod:`noether.sims.nbody`: gravitational n-body systems (gravity, simulator, npz dataset,
  tokens for each algebra, the ``nbody`` task, evaluation, overview figure);
- :mod:`noether.sims.rigid`: MuJoCo rigid-body scenes (scenes, simulator, HDF5 shards, PGA and
  raw tokens, the ``rigid`` task, the ``rigid-gatr`` / ``rigid-transformer`` models, overview
  figure);
- :mod:`noether.sims.euclidean`: random E(3) transformations, shared by both families'
  augmentation.
"""
