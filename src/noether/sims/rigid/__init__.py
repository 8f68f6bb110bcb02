"""MuJoCo rigid-body scenes: :mod:`~noether.sims.rigid.scenes` (one scene), :mod:`~noether.sims.rigid.simulator`
(datasets in parallel), :mod:`~noether.sims.rigid.shards` (the HDF5 shard schema and reader),
:mod:`~noether.sims.rigid.tokens` (PGA and raw tokens), :mod:`~noether.sims.rigid.task`
(the registered ``rigid`` task), :mod:`~noether.sims.rigid.models` (``rigid-gatr``,
``rigid-transformer``) and :mod:`~noether.sims.rigid.plots`. See docs/sims.md and docs/scaling.md."""
