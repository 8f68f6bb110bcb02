"""Shared fixtures of the scaling-study tests: a small rigid-body dataset made by MuJoCo."""

from __future__ import annotations

import pytest

from noether.sims.rigid import generate
from noether.sims.rigid_scene import RigidConfig

N_SCENES = 24


@pytest.fixture(scope="session")
def rigid_data(tmp_path_factory):
    """24 scenes of 2 to 4 bodies with 6 points each and 4 frames, in 2 shards."""
    out = tmp_path_factory.mktemp("rigid")
    config = RigidConfig(min_bodies=2, max_bodies=4, points_per_body=6, n_frames=4)
    generate(out, config, N_SCENES, seed=1, scenes_per_shard=12, progress=False)
    return out
