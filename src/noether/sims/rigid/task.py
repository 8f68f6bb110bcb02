"""The rigid-body task: predict every body's surface points one frame (k MuJoCo steps) ahead.

Data come from ``noether data rigid`` (HDF5 shards, :class:`noether.sims.rigid.shards.RigidShards`).
A sample is one transition ``frame f -> f + 1`` of one scene, so a scene with ``F`` frames gives
``F - 1`` samples. Scenes are split by index, the same for every run of a sweep: scenes
``[0, test_scenes)`` are the test set, the next ``val_scenes`` the validation set and the next
``train_scenes`` the training set (so a larger training set contains every smaller one).

Units inside the task: lengths in ``length_scale`` (0.1 m by default), times in frames (velocities
are displacements per frame, gravity a displacement per frame squared), masses in kg and inertia in
kg * length_scale^2. The loss is the mean squared error of the predicted points in
``length_scale^2``; the compared quantity ``points`` is in cm.

With ``augment: true`` every training sample is moved by a random element of E(3) (a Haar-random
orthogonal map, reflections included, and a Gaussian translation of ``translation_std`` metres),
gravity and the ground plane with it: the augmentation of the whole scene that a non-equivariant
model needs to learn the symmetry. ``test_transform: true`` moves every test sample by a fixed
random rigid motion (seeded), to measure how a model generalises to orientations it never saw.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from noether.core import DataPath, Splits, Task, register_task
from noether.sims.euclidean import random_euclidean
from noether.sims.rigid.shards import RigidShards
from noether.sims.rigid.tokens import apply_euclidean

__all__ = ["RigidTask", "RigidTransitions", "ballistic", "load_scenes", "masked_mse"]

_STATE = ("points", "position", "velocity", "angular_velocity")


def load_scenes(data: str, first: int, count: int) -> dict[str, np.ndarray]:
    """Scenes ``first .. first + count - 1`` of a shard folder, stacked (float64 numpy)."""

    shards = RigidShards(data)
    if first + count > len(shards):
        raise ValueError(
            f"{data} holds {len(shards)} scenes; the split needs {first + count} "
            f"(test + val + train scenes); generate more with `noether data rigid --scenes N`"
        )
    scenes = [shards[i] for i in range(first, first + count)]
    shards.close()
    keys = ("body_mask", "mass", "inertia", *_STATE, "gravity", "plane_normal", "plane_point")
    return {k: np.stack([s[k] for s in scenes]) for k in keys}


def _invariants(
    mass: np.ndarray, inertia: np.ndarray, mask: np.ndarray, length: float
) -> np.ndarray:
    """``(N, T, 4)``: log mass in kg and log principal moments in kg * length^2 (0 for padding)."""
    moments = np.linalg.eigvalsh(inertia) / length**2
    values = np.concatenate([mass[..., None], moments], axis=-1)
    safe = np.where(mask[..., None], np.maximum(values, 1e-12), 1.0)
    return np.where(mask[..., None], np.log(safe), 0.0)


class RigidTransitions(Dataset):
    """Transitions ``f -> f + 1`` of preloaded scenes, normalised (see the module docstring).

    ``dataset[i]`` is a dict of float32 tensors with the keys of
    :data:`~noether.sims.rigid.tokens.SCENE_KEYS` plus ``target (T, P, 3)``: scene
    ``i // (F - 1)``, frame ``i % (F - 1)``.

    Args:
        scenes: arrays from :func:`load_scenes`.
        length_scale: metres per length unit.
        frame_time: seconds per frame.
        transform: ``None``, ``"random"`` (a fresh E(3) element per access, from torch's global
            generator: augmentation) or ``"fixed"`` (one rigid motion per sample from ``seed``).
    """

    def __init__(
        self,
        scenes: dict[str, np.ndarray],
        *,
        length_scale: float,
        frame_time: float,
        transform: str | None = None,
        translation_std: float = 0.5,
        seed: int = 0,
    ) -> None:
        if transform not in (None, "random", "fixed"):
            raise ValueError(f"transform must be None, 'random' or 'fixed', got {transform!r}")
        length, dt = length_scale, frame_time
        self.mask = torch.from_numpy(scenes["body_mask"].astype(bool))
        f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        self.points = f32(scenes["points"] / length)  # (N, F, T, P, 3)
        self.com = f32(scenes["position"] / length)
        self.velocity = f32(scenes["velocity"] * dt / length)
        self.omega = f32(scenes["angular_velocity"] * dt)
        self.gravity = f32(scenes["gravity"] * dt**2 / length)
        self.plane_normal = f32(scenes["plane_normal"])
        self.plane_point = f32(scenes["plane_point"] / length)
        self.scalars = f32(
            _invariants(scenes["mass"], scenes["inertia"], scenes["body_mask"], length)
        )
        self.n_scenes, self.n_frames = self.points.shape[:2]
        if self.n_frames < 2:
            raise ValueError(f"scenes need at least 2 frames for a transition, got {self.n_frames}")
        self.transform, self.translation_std = transform, translation_std / length
        self.seed = seed

    def __len__(self) -> int:
        return self.n_scenes * (self.n_frames - 1)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} transitions")
        s, f = divmod(index, self.n_frames - 1)
        sample = {
            "points": self.points[s, f],
            "com": self.com[s, f],
            "velocity": self.velocity[s, f],
            "angular_velocity": self.omega[s, f],
            "gravity": self.gravity[s],
            "plane_normal": self.plane_normal[s],
            "plane_point": self.plane_point[s],
            "scalars": self.scalars[s],
            "mask": self.mask[s],
            "target": self.points[s, f + 1],
        }
        if self.transform is None:
            return sample
        generator = None
        if self.transform == "fixed":
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        rotation, translation = random_euclidean(
            1,
            shift=self.translation_std,
            reflections=self.transform == "random",
            generator=generator,
        )
        batched = {k: v.unsqueeze(0) for k, v in sample.items()}
        return {k: v.squeeze(0) for k, v in apply_euclidean(batched, rotation, translation).items()}


def ballistic(scene: dict[str, Tensor]) -> Tensor:
    """The contact-free prediction: every body moves on with its velocity and angular velocity
    for one frame, and falls by ``g / 2`` (``(B, T, P, 3)``, the units of the task). A reference
    for the models: beating it means learning the contacts."""
    points, com, omega = scene["points"], scene["com"], scene["angular_velocity"]
    angle = omega.norm(dim=-1, keepdim=True)
    axis = omega / angle.clamp_min(1e-12)
    r = points - com.unsqueeze(-2)
    k, c, s = axis.unsqueeze(-2), torch.cos(angle).unsqueeze(-2), torch.sin(angle).unsqueeze(-2)
    rotated = (
        r * c
        + torch.linalg.cross(k.expand_as(r), r) * s
        + k * (k * r).sum(-1, keepdim=True) * (1 - c)
    )
    shift = scene["velocity"] + 0.5 * scene["gravity"].unsqueeze(-2)
    return com.unsqueeze(-2) + shift.unsqueeze(-2) + rotated


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the coordinates of real bodies: ``pred, target (B, T, P, 3)``,
    ``mask (B, T)``; whatever the padded bodies hold is ignored."""
    keep = mask[..., None, None]
    count = mask.to(pred.dtype).sum() * pred.shape[-2] * pred.shape[-1]
    # where, not a product: padded bodies may hold NaN (0 * nan is nan)
    diff = torch.where(keep, pred - target, pred.new_zeros(()))
    return (diff**2).sum() / count.clamp_min(1.0)


@register_task("rigid")
class RigidTask(Task):
    """Next-frame surface points of colliding rigid bodies (see the module docstring).

    Args:
        path: a folder of shards from ``noether data rigid`` (old name: ``data``).
        train_scenes, val_scenes, test_scenes: scenes per split (split by scene index).
        augment: move every training sample by a random element of E(3) (whole scene).
        translation_std: standard deviation of the augmentation's translation, m.
        test_transform: move every test sample by a fixed random rigid motion.
        length_scale: metres per length unit of the model's inputs and outputs.
    """

    units: ClassVar[dict[str, str]] = {"points": "cm"}
    key_aliases: ClassVar[dict[str, str]] = {"data": "path"}

    def __init__(
        self,
        path: DataPath,
        train_scenes: int = 1000,
        val_scenes: int = 100,
        test_scenes: int = 200,
        augment: bool = False,
        translation_std: float = 0.5,
        test_transform: bool = False,
        length_scale: float = 0.1,
    ) -> None:
        for name, value, low in (
            ("train_scenes", train_scenes, 1),
            ("val_scenes", val_scenes, 1),
            ("test_scenes", test_scenes, 0),
        ):
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
        if not length_scale > 0 or not translation_std >= 0:
            raise ValueError(
                f"length_scale must be > 0 and translation_std >= 0, got {length_scale} and "
                f"{translation_std}"
            )
        self.data = path
        self.train_scenes, self.val_scenes, self.test_scenes = train_scenes, val_scenes, test_scenes
        self.augment, self.translation_std = augment, translation_std
        self.test_transform, self.length_scale = test_transform, length_scale

    def data_shape(self) -> tuple[int, int, float]:
        """``(bodies per scene with padding, points per body, seconds per frame)`` of the data."""

        shards = RigidShards(self.data)
        config = shards.config
        frame_time = float(shards.attrs[0]["frame_time"])
        return int(config["max_bodies"]), int(config["points_per_body"]), frame_time

    def test_set(self, transformed: bool = False) -> RigidTransitions:
        """The test split alone (``transformed``: each sample moved by its fixed rigid motion)."""
        if not self.test_scenes:
            raise ValueError("test_scenes is 0: there is no test set")
        _, _, frame_time = self.data_shape()
        return RigidTransitions(
            load_scenes(self.data, 0, self.test_scenes),
            length_scale=self.length_scale,
            frame_time=frame_time,
            transform="fixed" if transformed else None,
            translation_std=self.translation_std,
        )

    def datasets(self) -> Splits:
        _, _, frame_time = self.data_shape()
        n_test, n_val = self.test_scenes, self.val_scenes
        scenes = load_scenes(self.data, 0, n_test + n_val + self.train_scenes)
        part = lambda a, b: {k: v[a:b] for k, v in scenes.items()}  # noqa: E731
        common = {"length_scale": self.length_scale, "frame_time": frame_time}
        train = RigidTransitions(
            part(n_test + n_val, None),
            transform="random" if self.augment else None,
            translation_std=self.translation_std,
            **common,
        )
        val = RigidTransitions(part(n_test, n_test + n_val), **common)
        test = None
        if n_test:
            test = RigidTransitions(
                part(0, n_test),
                transform="fixed" if self.test_transform else None,
                translation_std=self.translation_std,
                **common,
            )
        return Splits(train=train, val=val, test=test)

    def forward(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        return model(batch)

    def loss(self, pred: Tensor, batch: dict[str, Tensor]) -> Tensor:
        return masked_mse(pred, batch["target"], batch["mask"])

    def compare(self, pred: Tensor, batch: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
        cm = 100.0 * self.length_scale
        mask = batch["mask"]
        return {"points": (pred[mask] * cm, batch["target"][mask] * cm)}

    def model_defaults(self) -> dict[str, int]:
        _, points, _ = self.data_shape()
        return {"points_per_body": points}
