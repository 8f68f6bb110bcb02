"""Fixtures of the sims tests (and, through tests/studies/conftest.py, of the studies tests):
defined once in sims_testkit.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from sims_testkit import nbody_dir, rigid_data, tiny_geometric, tiny_raw  # noqa: F401
