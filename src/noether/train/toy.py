"""A smoke test of the stack: an MLP fitting a known function of three variables.

``y = sin(pi x0) cos(pi x1 / 2) + x2^2 / 2`` with ``x`` uniform in ``[-1, 1]^3``. The data is
drawn from ``data_seed``, in memory or from HDF5 shards written by :func:`write_toy_shards`
(``python -m noether.train.toy DIR``), which hold the very same samples.
"""

from __future__ import annotations

import argparse
import itertools
import math
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, TensorDataset

from noether.core.registry import register_model, register_task
from noether.core.task import DataPath, Task
from noether.train.shards import ShardedHDF5Dataset, write_shards


def toy_function(x: Tensor) -> Tensor:
    """The target: ``x (..., 3) -> y (..., 1)``."""
    y = torch.sin(math.pi * x[..., 0]) * torch.cos(0.5 * math.pi * x[..., 1]) + 0.5 * x[..., 2] ** 2
    return y.unsqueeze(-1)


def toy_data(n_samples: int, data_seed: int = 0, noise: float = 0.0) -> tuple[Tensor, Tensor]:
    """``x (n, 3)`` and ``y (n, 1)`` in float32, a pure function of the arguments."""
    generator = torch.Generator().manual_seed(data_seed)
    x = 2.0 * torch.rand(n_samples, 3, generator=generator, dtype=torch.float64) - 1.0
    y = toy_function(x)
    if noise:
        y = y + noise * torch.randn(n_samples, 1, generator=generator, dtype=torch.float64)
    return x.float(), y.float()


def write_toy_shards(
    directory: str | Path,
    n_samples: int,
    *,
    data_seed: int = 0,
    noise: float = 0.0,
    samples_per_shard: int = 10_000,
) -> list[Path]:
    """Write the toy data as HDF5 shards (columns ``x`` and ``y``)."""
    x, y = toy_data(n_samples, data_seed, noise)
    return write_shards(directory, {"x": x.numpy(), "y": y.numpy()}, samples_per_shard)


@register_model("toy-mlp")
class ToyMLP(nn.Module):
    """A plain MLP ``(..., in_dim) -> (..., out_dim)`` with ``layers`` hidden layers, each
    followed by the activation and (if ``dropout`` > 0) dropout."""

    def __init__(
        self,
        in_dim: int = 3,
        out_dim: int = 1,
        hidden: int = 32,
        layers: int = 2,
        activation: str = "silu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        acts = {"silu": nn.SiLU, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}
        if activation not in acts:
            raise ValueError(f"activation {activation!r} is not one of {sorted(acts)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if min(in_dim, out_dim, hidden, layers) < 1:
            raise ValueError(
                f"in_dim, out_dim, hidden and layers must be >= 1, got {in_dim}, {out_dim}, {hidden}, {layers}"
            )
        widths = [in_dim] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            blocks += [nn.Linear(a, b), acts[activation]()]
            if dropout > 0:
                blocks.append(nn.Dropout(dropout))
        blocks.append(nn.Linear(widths[-1], out_dim))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


@register_task("toy-regression")
class ToyRegression(Task):
    """Fit :func:`toy_function` with a mean-squared-error loss; compares ``y``.

    Args:
        n_samples: size of the data set (split by ``data.split``).
        data_seed: seed of the inputs and noise (fixed data, independent of the run's seed).
        noise: standard deviation of Gaussian noise added to ``y``.
        path: a folder of HDF5 shards to read instead of drawing the data in memory (old name:
            ``shards``).
    """

    units: ClassVar[dict[str, str]] = {"y": ""}
    key_aliases: ClassVar[dict[str, str]] = {"shards": "path"}

    def __init__(
        self,
        n_samples: int = 1024,
        data_seed: int = 0,
        noise: float = 0.0,
        path: DataPath | None = None,
    ) -> None:
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        self.n_samples, self.data_seed, self.noise, self.shards = (
            n_samples,
            data_seed,
            noise,
            path,
        )

    def datasets(self) -> Dataset:
        if self.shards is not None:
            dataset = ShardedHDF5Dataset(self.shards, columns=["x", "y"])
            if len(dataset) != self.n_samples:
                raise ValueError(
                    f"task.path holds {len(dataset)} samples but task.n_samples={self.n_samples}"
                )
            return dataset
        x, y = toy_data(self.n_samples, self.data_seed, self.noise)
        return _Columns(TensorDataset(x, y))

    def forward(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        return model(batch["x"])

    def loss(self, pred: Tensor, batch: dict[str, Tensor]) -> Tensor:
        return torch.nn.functional.mse_loss(pred, batch["y"])

    def compare(self, pred: Tensor, batch: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
        return {"y": (pred, batch["y"])}

    def model_defaults(self) -> dict[str, int]:
        return {"in_dim": 3, "out_dim": 1}


class _Columns(Dataset):
    """A TensorDataset of ``(x, y)`` seen as ``{"x": x, "y": y}`` like the shards."""

    def __init__(self, data: TensorDataset) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        x, y = self.data[i]
        return {"x": x, "y": y}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m noether.train.toy",
        description="write the toy regression data as HDF5 shards",
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--n-samples", type=int, default=1024)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--samples-per-shard", type=int, default=10_000)
    args = parser.parse_args(argv)
    paths = write_toy_shards(
        args.directory,
        args.n_samples,
        data_seed=args.data_seed,
        noise=args.noise,
        samples_per_shard=args.samples_per_shard,
    )
    print(f"wrote {args.n_samples} samples in {len(paths)} shards to {args.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
