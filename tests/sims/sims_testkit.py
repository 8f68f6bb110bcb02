"""What the tests of sims/ and studies/ share: small stand-in models for the n-body pipeline, a tiny
n-body dataset and a small rigid-body dataset (session fixtures).

``TinyGeometric`` is Pin-equivariant by construction (equivariant linear maps, a geometric
product with a token mean, a gate on invariant scalars); ``TinyRaw`` is an ordinary MLP on raw
coordinates. They make the task and study tests independent of the GATr models.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from noether.algebra import Algebra
from noether.core import register_model
from noether.sims.nbody.dataset import NBodySizes, generate_dataset, write_dataset
from noether.sims.nbody.simulator import NBodyConfig
from noether.sims.nbody.tokens import ALGEBRAS
from noether.sims.rigid.scenes import RigidConfig
from noether.sims.rigid.simulator import generate


@register_model("test-tiny-geometric")
class TinyGeometric(nn.Module):
    """``(mv (..., n, C_in, dim), s (..., n, S_in)) -> (mv (..., n, C_out, dim), s)``."""

    def __init__(
        self,
        algebra: str = "pga",
        in_mv_channels: int = 3,
        out_mv_channels: int = 1,
        in_s_channels: int = 1,
        hidden: int = 4,
    ) -> None:
        super().__init__()
        self.algebra: Algebra = ALGEBRAS[algebra]
        k = self.algebra.linear_basis.n_basis
        self.w_in = nn.Parameter(torch.randn(hidden, in_mv_channels, k) / in_mv_channels**0.5)
        self.w_left = nn.Parameter(torch.randn(hidden, hidden, k) / hidden**0.5)
        self.w_right = nn.Parameter(torch.randn(hidden, hidden, k) / hidden**0.5)
        self.w_out = nn.Parameter(0.1 * torch.randn(out_mv_channels, 2 * hidden, k) / hidden**0.5)
        self.gate = nn.Linear(in_s_channels, hidden)

    def forward(self, mv: torch.Tensor, s: torch.Tensor):
        alg = self.algebra
        h = alg.equivariant_linear(mv, self.w_in)
        context = h.mean(dim=-3, keepdim=True)  # mean over tokens
        g = alg.geometric_product(
            alg.equivariant_linear(h, self.w_left), alg.equivariant_linear(context, self.w_right)
        )
        gate = torch.sigmoid(g[..., :1] + self.gate(s).unsqueeze(-1))
        return alg.equivariant_linear(torch.cat([h, g * gate], dim=-2), self.w_out), s


@register_model("test-tiny-raw")
class TinyRaw(nn.Module):
    """Raw 3D inputs (one point, vector, scalar per token) -> one vector per token, with a
    token-mean context; the keyword API of noether's point models."""

    def __init__(self, in_vectors: int = 1, out_vectors: int = 1, hidden: int = 16) -> None:
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(3 + 3 * in_vectors + 1, hidden), nn.SiLU())
        self.outer = nn.Linear(2 * hidden, 3 * out_vectors)

    def forward(self, points=None, vectors=None, scalars=None):
        x = torch.cat([points.flatten(-2), vectors.flatten(-2), scalars], dim=-1)
        h = self.inner(x)
        context = h.mean(dim=-2, keepdim=True).expand_as(h)
        return None, self.outer(torch.cat([h, context], dim=-1)).unflatten(-1, (-1, 3)), None


TINY_CONFIG = NBodyConfig(max_level=4)
TINY_SIZES = NBodySizes(train=64, val=16, test=16, more_bodies=8, more_planets=5)


@pytest.fixture(scope="session")
def nbody_dir(tmp_path_factory) -> str:
    """A tiny n-body dataset on disk (64 / 16 / 16 systems, transformed and larger test sets)."""
    splits, meta = generate_dataset(TINY_CONFIG, TINY_SIZES, seed=5, progress=False)
    out = tmp_path_factory.mktemp("nbody") / "data"
    return str(write_dataset(out, splits, meta))


N_SCENES = 24


def random_scene(b=3, t=4, p=5, s=4, dtype=torch.float64, seed=0):
    """A batch of ``b`` random rigid-body scenes in the layout of the ``rigid`` task's batches
    (not physical: for symmetry checks of tokens and models)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g, dtype=dtype)  # noqa: E731
    normal = r(b, 3)
    mask = torch.ones(b, t, dtype=torch.bool)
    mask[0, -1] = False
    return {
        "points": r(b, t, p, 3),
        "com": r(b, t, 3),
        "velocity": r(b, t, 3),
        "angular_velocity": r(b, t, 3),
        "gravity": r(b, 3),
        "plane_normal": normal / normal.norm(dim=-1, keepdim=True),
        "plane_point": r(b, 3),
        "scalars": r(b, t, s),
        "mask": mask,
        "target": r(b, t, p, 3),
    }


@pytest.fixture(scope="session")
def rigid_data(tmp_path_factory):
    """24 scenes of 2 to 4 bodies with 6 points each and 4 frames, in 2 shards."""
    out = tmp_path_factory.mktemp("rigid")
    config = RigidConfig(min_bodies=2, max_bodies=4, points_per_body=6, n_frames=4)
    generate(out, config, N_SCENES, seed=1, scenes_per_shard=12, progress=False)
    return out


@pytest.fixture
def tiny_geometric() -> type[TinyGeometric]:
    return TinyGeometric


@pytest.fixture
def tiny_raw() -> type[TinyRaw]:
    return TinyRaw


@pytest.fixture(scope="session")
def placed_nbody_dir(tmp_path_factory) -> str:
    """As :func:`nbody_dir`, every system randomly rotated and translated (scale 1), as the
    algebra study's data."""
    config = NBodyConfig(max_level=4, placement="random", shift_std=1.0)
    splits, meta = generate_dataset(config, TINY_SIZES, seed=5, progress=False)
    out = tmp_path_factory.mktemp("nbody-placed") / "data"
    return str(write_dataset(out, splits, meta))
