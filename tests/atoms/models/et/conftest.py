"""ET tests: small float64 models from et_testkit.py beside this file (one torch thread, from
tests/atoms/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
