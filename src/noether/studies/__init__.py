"""Experiments that answer a paper's question with noether's models, tasks and data.

- :mod:`noether.studies.scaling`: ``noether scaling``, the rigid-body scaling-law study of
  Brehmer, Behrends, de Haan and Cohen, "Does equivariance matter at scale?" (arXiv 2410.23179).
"""
