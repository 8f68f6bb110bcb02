"""The n-body task: predict where every body is after a fixed time, from masses, positions and
velocities (data of ``noether data nbody``, see docs/sims.md; the tokens: :mod:`nbody_tokens`).

Config keys (``task:`` section)::

    task: {name: nbody, path: data/nbody, n_train: 1000, epoch_size: 4096, augment: false}

The loss is the mean squared error of the final positions over bodies and coordinates; the stack
reports the MAE and RMSE of ``x_final``. Any model works: a model with an ``algebra`` (GATr) gets
multivector tokens, a model on raw 3D inputs (``forward(points, vectors, scalars)``, the
Transformer) gets each body's position, velocity and mass.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from noether.core import DataPath, Splits, Task, register_task
from noether.sims.euclidean import random_euclidean
from noether.sims.nbody.dataset import SPLITS, load_meta, load_split
from noether.sims.nbody.tokens import (
    GeometricTokens,
    apply_euclidean,
    invert_euclidean,
    tokens_for,
)

__all__ = [
    "INPUTS",
    "MODEL_CHANNELS",
    "NBodySystems",
    "NBodyTask",
    "RepeatedDataset",
    "horizon_of",
    "load_systems",
    "placement_of",
    "predict",
]

INPUTS = ("masses", "x_initial", "v_initial", "x_final")
TEST_SETS = tuple(s for s in SPLITS if s.startswith("test"))
MODEL_CHANNELS = {  # what the task gives multivector models (GATr) and raw 3D models (Transformer)
    "in_mv_channels": GeometricTokens.mv_channels,
    "out_mv_channels": 1,
    "in_s_channels": GeometricTokens.s_channels,
    "out_s_channels": 1,
    "in_points": 1,
    "in_vectors": 1,
    "in_scalars": 1,
    "out_points": 0,
    "out_vectors": 1,
    "out_scalars": 0,
}


def load_systems(
    path: str | Path, split: str, limit: int | None = None, *, at_most: bool = False
) -> dict[str, Tensor]:
    """The arrays of :data:`INPUTS` of one split as float32 tensors (the first ``limit`` systems).

    Raises ``ValueError`` naming the split and array when a value is not finite, when masses are
    not positive, or when ``limit`` exceeds the split (unless ``at_most``: then all are taken).
    """
    arrays = load_split(path, split)
    n = len(arrays["masses"])
    if limit is not None:
        if at_most:
            limit = min(limit, n)
        if not 1 <= limit <= n:
            raise ValueError(f"asked for {limit} systems of {split!r} but {path} holds {n}")
        n = limit
    out = {}
    for key in INPUTS:
        value = np.asarray(arrays[key][:n], dtype=np.float64)
        if not np.isfinite(value).all():
            raise ValueError(f"{Path(path) / split}.npz: {key} holds non-finite values")
        out[key] = torch.from_numpy(value).float()
    if (out["masses"] <= 0).any():
        raise ValueError(f"{Path(path) / split}.npz: masses must be positive")
    return out


def predict(
    model: nn.Module,
    masses: Tensor,
    positions: Tensor,
    velocities: Tensor,
    horizon: float = 1.0,
) -> Tensor:
    """Final positions ``(B, b, 3)`` predicted by ``model`` from ``masses (B, b)``, initial
    ``positions`` and ``velocities (B, b, 3)``, with the tokens the model needs.

    Velocities enter the model as ``horizon * v``, the displacement they would cause over the
    time to the target: the same length unit as the positions (a unit choice, so every symmetry
    is kept; it makes "keep moving" a unit-weight linear map for the model).
    """
    return tokens_for(model).predict(model, masses, positions, horizon * velocities)


def horizon_of(path: str | Path) -> float:
    """The time between input and target of a dataset (``config.time`` of its ``meta.json``)."""
    try:
        horizon = float(load_meta(path)["config"]["time"])
    except (FileNotFoundError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: no readable meta.json with config.time ({error})") from None
    if not (math.isfinite(horizon) and horizon > 0):
        raise ValueError(f"{Path(path) / 'meta.json'}: config.time must be > 0, got {horizon}")
    return horizon


def placement_of(path: str | Path) -> tuple[bool, float]:
    """``(randomly placed?, translation scale)`` of a dataset's systems, from its ``meta.json``:
    ``(True, shift_std)`` for ``placement="random"``, else ``(False, 20.0)`` (the GATr paper's
    scale, which canonical data's augmentation has always used)."""
    config = load_meta(path).get("config", {})
    if config.get("placement") == "random":
        shift = float(config.get("shift_std", 20.0))
        if not (math.isfinite(shift) and shift >= 0):
            raise ValueError(
                f"{Path(path) / 'meta.json'}: config.shift_std must be >= 0, got {shift}"
            )
        return True, shift
    return False, 20.0


class NBodySystems(Dataset):
    """Systems of one split; item ``i`` is a dict of :data:`INPUTS` (``(b,)`` and ``(b, 3)``)."""

    def __init__(self, arrays: dict[str, Tensor]) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays["masses"])

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {k: v[i] for k, v in self.arrays.items()}


class RepeatedDataset(Dataset):
    """``dataset`` repeated to ``length`` items (item ``i`` is ``dataset[i % len(dataset)]``), so
    an epoch is the same number of samples whatever the size of the training set."""

    def __init__(self, dataset: Dataset, length: int) -> None:
        self.dataset, self.length = dataset, max(length, len(dataset))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        return self.dataset[i % len(self.dataset)]


@register_task("nbody")
class NBodyTask(Task):
    """Final positions of gravitational n-body systems.

    Args:
        path: a dataset folder written by ``noether data nbody``.
        n_train: train on the first ``n_train`` training systems (all when null).
        n_val: validate on the first ``n_val`` validation systems (all when null or fewer).
        epoch_size: repeat the training systems to at least this many samples per epoch, so that
            runs on small and large training sets validate at the same step counts.
        test_set: the split ``noether evaluate`` reports: ``test``, ``test_rotated``,
            ``test_translated`` or ``test_more_bodies``.
        augment: during training, move every system by a random orthogonal map and a Gaussian
            translation of ``augment_shift`` per axis; the prediction is mapped back, so the loss
            is that of the moved system (the map is an isometry).
        augment_shift: standard deviation of the augmentation's translation; ``None``: the
            dataset's own placement (its ``shift_std`` when it was generated with
            ``placement="random"``, else 20, the GATr paper's scale).
        augment_reflections: draw the augmentation's orthogonal map from all of O(3) (rotations
            and reflections) rather than SO(3); ``None``: like the dataset's placement (random
            placement rotates only, so no reflections; canonical data: reflections too).

    With the defaults, augmentation draws from the same distribution as the data's placement:
    a randomly placed dataset is augmented with the rotations and translations it was placed
    with, never more.
    """

    units: ClassVar[dict[str, str]] = {"x_final": "length"}

    def __init__(
        self,
        path: DataPath,
        n_train: int | None = None,
        n_val: int | None = None,
        epoch_size: int | None = None,
        test_set: str = "test",
        augment: bool = False,
        augment_shift: float | None = None,
        augment_reflections: bool | None = None,
    ) -> None:
        for key, value in (("n_train", n_train), ("n_val", n_val), ("epoch_size", epoch_size)):
            if value is not None and value < 1:
                raise ValueError(f"{key} must be >= 1 or null, got {value}")
        if test_set not in TEST_SETS:
            raise ValueError(f"test_set must be one of {', '.join(TEST_SETS)}, got {test_set!r}")
        if augment_shift is not None and (not math.isfinite(augment_shift) or augment_shift < 0):
            raise ValueError(f"augment_shift must be finite and >= 0, got {augment_shift!r}")
        self.path, self.n_train, self.n_val = path, n_train, n_val
        self.epoch_size, self.test_set = epoch_size, test_set
        self.horizon = horizon_of(path)
        placed, shift = placement_of(path)
        self.augment = augment
        self.augment_shift = shift if augment_shift is None else augment_shift
        self.augment_reflections = (
            not placed if augment_reflections is None else augment_reflections
        )

    def datasets(self) -> Splits:
        train: Dataset = NBodySystems(load_systems(self.path, "train", self.n_train))
        if self.epoch_size is not None:
            train = RepeatedDataset(train, self.epoch_size)
        val = NBodySystems(load_systems(self.path, "val", self.n_val, at_most=True))
        test = NBodySystems(load_systems(self.path, self.test_set))
        return Splits(train=train, val=val, test=test)

    def forward(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        """Predicted final positions ``(B, b, 3)``."""
        m, x, v = batch["masses"], batch["x_initial"], batch["v_initial"]
        if not (self.augment and model.training):
            return predict(model, m, x, v, self.horizon)
        rotation, shift = random_euclidean(
            x.shape[0],
            shift=self.augment_shift,
            reflections=self.augment_reflections,
            determinant="coin",
            dtype=x.dtype,
            device=x.device,
        )
        x_moved, v_moved = apply_euclidean(x, rotation, shift), apply_euclidean(v, rotation)
        moved = predict(model, m, x_moved, v_moved, self.horizon)
        return invert_euclidean(moved, rotation, shift)

    def loss(self, pred: Tensor, batch: dict[str, Tensor]) -> Tensor:
        return torch.nn.functional.mse_loss(pred, batch["x_final"])

    def compare(self, pred: Tensor, batch: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
        return {"x_final": (pred, batch["x_final"])}

    def model_defaults(self) -> dict[str, int]:
        return dict(MODEL_CHANNELS)
