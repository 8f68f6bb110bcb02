"""`noether run`: the main job on its built-in default.

Until the GATr Transformer baseline lands on main (the n-body comparison, `noether study algebras`,
needs it) this is a self-check: it verifies with :mod:`noether.testing` that
e3nn's spherical harmonics transform as they should and that a non-equivariant map is caught.
"""

from __future__ import annotations

import argparse

import torch
from e3nn import o3

from noether import __version__
from noether.testing import check_o3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")


def main(args: argparse.Namespace) -> int:
    print(f"noether {__version__}: equivariance self-check")
    generator = torch.Generator().manual_seed(args.seed)
    x = torch.randn(32, 3, generator=generator, dtype=torch.float64)

    def sh_l1(v: torch.Tensor) -> torch.Tensor:
        return o3.spherical_harmonics(1, v, normalize=True)

    err_equivariant = check_o3(sh_l1, (x,), ("vector",), ("vector",))
    err_broken = check_o3(lambda v: v**2, (x,), ("vector",), ("vector",))
    print(f"  l=1 spherical harmonics, O(3) error: {err_equivariant:.2e}")
    print(f"  elementwise square (not equivariant), error: {err_broken:.2e}")
    ok = err_equivariant < 1e-10 and err_broken > 1e-3
    print("  passed" if ok else "  FAILED")
    return 0 if ok else 1
