"""The algebra comparison on n-body (``noether study algebras``, ``noether run``):
:mod:`~noether.studies.algebras.plan` (models, sizes, seeds, presets),
:mod:`~noether.studies.algebras.run` (resumable runs, costs) and
:mod:`~noether.studies.algebras.report` (table and figure). See docs/nbody.md."""
