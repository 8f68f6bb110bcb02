"""Experiments that answer a paper's question, each behind a `noether` command.

- :mod:`noether.sims.nbody.task`: the n-body task (``register_task("nbody")``) and
  :mod:`noether.sims.nbody.tokens`, how bodies become tokens for each algebra.
- :mod:`noether.studies.algebras`: ``noether study algebras``, the Euclidean / projective /
  conformal comparison of de Haan, Cohen and Brehmer (arXiv 2311.04744) on n-body.
- :mod:`noether.studies.slmc`: ``noether slmc``, self-learning Monte Carlo for the double-exchange
  model.
- :mod:`noether.studies.scaling`: ``noether scaling``, the rigid-body scaling-law study of
  Brehmer, Behrends, de Haan and Cohen, "Does equivariance matter at scale?" (arXiv 2410.23179).
"""
