import dataclasses

import mujoco
import numpy as np
import pytest

from noether.sims.rigid.scenes import (
    RigidConfig,
    build,
    polytope_centroid,
    quaternion_matrices,
    random_polytope,
    random_quaternions,
    sample_scene,
    simulate_scene,
)

SHORT = RigidConfig(n_frames=3, steps_per_frame=10)


def test_polytope_centroid_of_a_box():
    corners = np.array([[x, y, z] for x in (0, 2) for y in (0, 1) for z in (0, 3)], dtype=float)
    centre, volume = polytope_centroid(corners)
    np.testing.assert_allclose(centre, [1.0, 0.5, 1.5], atol=1e-14)
    assert volume == pytest.approx(6.0, rel=1e-14)


def test_random_polytope_is_centred_and_every_point_is_a_vertex():
    from scipy.spatial import ConvexHull

    v = random_polytope(np.random.default_rng(0), SHORT)
    assert v.shape == (10, 3)
    assert len(ConvexHull(v).vertices) == 10
    np.testing.assert_allclose(polytope_centroid(v)[0], 0.0, atol=1e-15)


def test_quaternion_matrices_match_mujoco():
    q = random_quaternions(np.random.default_rng(0), 5)
    for qi, r in zip(q, quaternion_matrices(q)):
        ref = np.empty(9)
        mujoco.mju_quat2Mat(ref, qi)
        np.testing.assert_allclose(r, ref.reshape(3, 3), atol=1e-15)


def test_model_mass_and_centre_of_mass_match_the_hull():
    scene = sample_scene(np.random.default_rng(1), SHORT)
    model, _ = build(scene, SHORT)
    for b, v in enumerate(scene.vertices):
        volume = polytope_centroid(v)[1]
        assert model.body_mass[b + 1] == pytest.approx(scene.density[b] * volume, rel=1e-6)
        assert np.abs(model.body_ipos[b + 1]).max() < 1e-7  # MuJoCo keeps meshes in float32


def test_first_frame_is_the_sampled_state_and_points_follow_the_pose():
    scene = sample_scene(np.random.default_rng(2), SHORT)
    out = simulate_scene(scene, SHORT)
    n = len(scene.density)
    assert out["points"].shape == (3, n, 10, 3) and out["quaternion"].shape == (3, n, 4)
    np.testing.assert_allclose(out["position"][0], scene.position, atol=1e-7)
    np.testing.assert_allclose(out["velocity"][0], scene.velocity, atol=1e-7)
    np.testing.assert_allclose(out["angular_velocity"][0], scene.angular_velocity, atol=1e-12)
    np.testing.assert_allclose(out["quaternion"][0], scene.quaternion, atol=1e-15)
    # World points are MuJoCo's own collision vertices (up to its float32 mesh storage).
    model, data = build(scene, SHORT)
    for b in range(n):
        g = b + 1  # geom 0 is the ground
        mesh = model.geom_dataid[g]
        vert = model.mesh_vert[
            model.mesh_vertadr[mesh] : model.mesh_vertadr[mesh] + model.mesh_vertnum[mesh]
        ]
        world = data.geom_xpos[g] + vert @ data.geom_xmat[g].reshape(3, 3).T
        gap = np.linalg.norm(world[:, None] - out["points"][0, b][None], axis=-1).min(axis=1)
        assert gap.max() < 1e-7


def test_bodies_come_to_rest_on_the_plane():
    config = dataclasses.replace(
        SHORT, arena=3.0, speed=0.0, spin=0.0, n_frames=2, steps_per_frame=1000
    )
    scene = sample_scene(np.random.default_rng(1), config)  # far apart: no stacking
    out = simulate_scene(scene, config)
    lowest = out["points"][-1, :, :, 2].min(axis=1)
    assert np.all(lowest > -2e-3) and np.all(lowest < 1e-3)  # on the plane (soft contact)
    assert np.abs(out["velocity"][-1]).max() < 1e-5
    assert np.abs(out["angular_velocity"][-1]).max() < 1e-4


def test_momentum_is_conserved_in_collisions_without_gravity():
    config = dataclasses.replace(
        SHORT, gravity=(0.0, 0.0, 0.0), ground=False, n_frames=8, steps_per_frame=50, spin=3.0
    )
    scene = sample_scene(np.random.default_rng(2), config)
    scene.velocity = 2.0 * (scene.position.mean(axis=0) - scene.position)  # converge: they collide
    out = simulate_scene(scene, config)
    p = np.einsum("n,fnk->fk", out["mass"], out["velocity"])
    assert np.abs(p - p[0]).max() < 1e-8 * np.abs(p[0]).max() + 1e-12
    kinetic = 0.5 * np.einsum("n,fnk,fnk->f", out["mass"], out["velocity"], out["velocity"])
    assert kinetic[-1] < 0.9 * kinetic[0]  # contacts did happen (and dissipated energy)


def test_free_fall_follows_gravity_before_any_contact():
    config = dataclasses.replace(SHORT, height_range=(2.0, 2.0), arena=5.0, n_frames=4)
    scene = sample_scene(np.random.default_rng(3), config)
    out = simulate_scene(scene, config)
    t = config.timestep * config.steps_per_frame * np.arange(config.n_frames)
    expected = scene.velocity[None] + t[:, None, None] * np.array(config.gravity)
    np.testing.assert_allclose(out["velocity"], expected, atol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_bodies": 0}, "min_bodies <= max_bodies"),
        ({"min_bodies": 5, "max_bodies": 4}, "min_bodies <= max_bodies"),
        ({"points_per_body": 3}, "points_per_body must be >= 4"),
        ({"density_range": (-1.0, 5.0)}, "density_range must satisfy"),
        ({"gravity": (0.0, float("nan"), 0.0)}, "gravity must be 3 finite"),
        ({"n_frames": 1}, "n_frames >= 2"),
    ],
)
def test_impossible_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RigidConfig(**kwargs)
