"""The scaling-law study: does equivariance matter at scale? (Brehmer et al., arXiv 2410.23179)

- :mod:`~noether.studies.scaling.plan`: the sweep's spec (sizes, budgets, seeds) and its chains;
- :mod:`~noether.studies.scaling.run`: data preparation and the resumable sweep behind
  ``noether scaling``; :mod:`~noether.studies.scaling.runner` trains one chain in its own process;
- :mod:`~noether.studies.scaling.report`: fits (:mod:`~noether.studies.scaling.fits`,
  :mod:`~noether.studies.scaling.analysis`), tables and figures
  (:mod:`~noether.studies.scaling.plots`);
- training FLOPs come from :mod:`noether.gatr.flops` (nominal = the paper's dense count,
  intrinsic = the sparse kernels' work; the study calls them dense and structured).

The data, task, tokens and models are the rigid-body family's: :mod:`noether.sims.rigid`.
See docs/scaling.md.
"""
