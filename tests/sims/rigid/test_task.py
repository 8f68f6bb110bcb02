"""The rigid-body task: splits by scene, units, augmentation of the whole scene, the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sims_testkit import N_SCENES

from noether.sims.rigid.shards import RigidShards
from noether.sims.rigid.task import RigidTask, masked_mse


def test_splits_follow_scene_indices_and_units(rigid_data):
    task = RigidTask(str(rigid_data), train_scenes=10, val_scenes=4, test_scenes=6)
    splits = task.datasets()
    assert (len(splits.train), len(splits.val), len(splits.test)) == (30, 12, 18)  # 3 per scene
    raw = RigidShards(rigid_data)[6 + 4 + 2]  # train scene 2
    sample = splits.train[2 * 3 + 1]  # its frame 1 -> 2
    np.testing.assert_allclose(sample["points"].numpy(), raw["points"][1] / 0.1, rtol=1e-5)
    np.testing.assert_allclose(sample["target"].numpy(), raw["points"][2] / 0.1, rtol=1e-5)
    dt = RigidShards(rigid_data).attrs[0]["frame_time"]
    np.testing.assert_allclose(sample["gravity"].numpy(), [0, 0, -9.81 * dt**2 / 0.1], rtol=1e-6)
    np.testing.assert_allclose(
        sample["angular_velocity"].numpy(), raw["angular_velocity"][1] * dt, rtol=1e-5, atol=1e-7
    )
    mask = sample["mask"].numpy()
    assert mask.sum() == raw["n_bodies"]
    assert np.isfinite(sample["scalars"].numpy()).all()
    assert (sample["scalars"].numpy()[~mask] == 0).all()
    np.testing.assert_allclose(sample["scalars"][0, 0], np.log(raw["mass"][0]), rtol=1e-5)
    assert task.model_defaults() == {"points_per_body": 6}


def test_too_few_scenes_is_refused_with_the_count(rigid_data):
    task = RigidTask(str(rigid_data), train_scenes=N_SCENES, val_scenes=4, test_scenes=6)
    with pytest.raises(
        ValueError, match=f"holds {N_SCENES} scenes; the split needs {N_SCENES + 10}"
    ):
        task.datasets()
    with pytest.raises(ValueError, match="train_scenes must be >= 1"):
        RigidTask(str(rigid_data), train_scenes=0)


def test_augmentation_moves_the_whole_scene(rigid_data):
    plain = RigidTask(str(rigid_data), train_scenes=4, val_scenes=2, test_scenes=2).datasets()
    augmented = RigidTask(
        str(rigid_data), train_scenes=4, val_scenes=2, test_scenes=2, augment=True
    ).datasets()
    a, b = plain.train[5], augmented.train[5]
    assert not torch.allclose(a["points"], b["points"])
    assert not torch.allclose(a["gravity"], b["gravity"])
    # every distance and the gravity-plane geometry are preserved
    d = lambda s: torch.cdist(s["points"].flatten(0, 1), s["points"].flatten(0, 1))  # noqa: E731
    torch.testing.assert_close(d(a), d(b), atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(b["gravity"].norm(), a["gravity"].norm())
    torch.testing.assert_close(b["gravity"] @ b["plane_normal"], a["gravity"] @ a["plane_normal"])
    height = lambda s: (s["target"] - s["plane_point"]) @ s["plane_normal"]  # noqa: E731
    torch.testing.assert_close(height(a), height(b), atol=1e-4, rtol=1e-5)
    assert not torch.allclose(augmented.train[5]["points"], b["points"])  # fresh each access
    assert torch.allclose(augmented.val[0]["points"], plain.val[0]["points"])  # only training


def test_fixed_test_transform_is_reproducible(rigid_data):
    make = lambda: RigidTask(  # noqa: E731
        str(rigid_data), train_scenes=2, val_scenes=2, test_scenes=3, test_transform=True
    ).datasets()
    a, b, plain = (
        make().test[4],
        make().test[4],
        RigidTask(str(rigid_data), train_scenes=2, val_scenes=2, test_scenes=3).datasets().test[4],
    )
    torch.testing.assert_close(a["points"], b["points"])
    assert not torch.allclose(a["points"], plain["points"])


def test_masked_mse_ignores_padding():
    pred, target = torch.zeros(2, 3, 4, 3), torch.ones(2, 3, 4, 3)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    pred[0, 2] = 100.0  # padding: ignored
    assert masked_mse(pred, target, mask) == 1.0
    pred[1, 0] = 1.0
    torch.testing.assert_close(masked_mse(pred, target, mask), torch.tensor(2 / 3))
