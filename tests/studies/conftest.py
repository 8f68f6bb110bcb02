"""The studies tests use the sims fixtures (tiny n-body and rigid-body datasets, tiny models),
defined once in tests/sims/sims_testkit.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "sims"))

from sims_testkit import nbody_dir, rigid_data, tiny_geometric, tiny_raw  # noqa: F401
