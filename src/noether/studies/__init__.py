"""Experiments that answer a paper's question: one folder per study, each with ``plan.py`` (what
runs, a dataclass), ``run.py`` (resumable execution) and ``report.py`` (tables and figures).
Studies register nothing: the tasks and models they train live in their families (``sims/``,
``atoms/``, ``lattice/``).

- :mod:`noether.studies.algebras`: ``noether study algebras`` (and ``noether run``), the
  Euclidean / projective / conformal comparison of de Haan, Cohen and Brehmer (arXiv 2311.04744)
  on n-body;
- :mod:`noether.studies.polyget`: ``noether study polyget``, force-only vs joint ET on polymer
  families;
- :mod:`noether.studies.scaling`: ``noether scaling``, the rigid-body scaling-law study of
  Brehmer, Behrends, de Haan and Cohen, "Does equivariance matter at scale?" (arXiv 2410.23179);
- :mod:`noether.studies.slmc`: ``noether slmc``, self-learning Monte Carlo for the
  double-exchange model;
- :mod:`noether.studies.recipe`: the CPU training recipe the study plans share.
"""
