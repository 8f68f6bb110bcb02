"""The scaling-law study: does equivariance matter at scale? (Brehmer et al., arXiv 2410.23179)

- :mod:`~noether.sims.rigid.tokens`: scenes as PGA multivectors (GATr) and raw numbers;
- :mod:`~noether.sims.rigid.task`: the rigid-body task (``register_task("rigid")``);
- :mod:`~noether.sims.rigid.models`: ``rigid-gatr`` and ``rigid-transformer``;
- :mod:`~noether.studies.scaling.flops`: training FLOPs, analytic, dense and structured;
- :mod:`~noether.studies.scaling.fits`: power laws with bootstrap intervals, compute-optimal sizes;
- :mod:`~noether.studies.scaling.sweep`: the sweep behind ``noether scaling``.

See docs/scaling.md.
"""
