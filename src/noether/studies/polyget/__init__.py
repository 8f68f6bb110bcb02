"""PolyGET: force-only vs joint ET on polymer families (``noether study polyget``):
:mod:`~noether.studies.polyget.plan`, :mod:`~noether.studies.polyget.run` and
:mod:`~noether.studies.polyget.report`. See docs/polyget.md."""
