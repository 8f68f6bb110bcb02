"""One rigid-body scene: random convex bodies, their MuJoCo model, and its simulated frames.

Units are SI: metres, kilograms, seconds (radians for angles). A body is a convex polytope: the
convex hull of ``points_per_body`` points on a random ellipsoid (all of them are hull vertices),
simulated as a MuJoCo mesh geom with a free joint. Its state is the pose of its centre of mass
(position, orientation quaternion ``(w, x, y, z)`` body-to-world) and its linear and angular
velocity, both in world axes. The world has a ground plane ``z = 0`` (normal ``+z``) and gravity
``config.gravity``: these two break the E(3) symmetry and are stored with every dataset.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import mujoco
import numpy as np
from scipy.spatial import ConvexHull


@dataclass(frozen=True)
class RigidConfig:
    """Settings of the rigid-body scene generator.

    Attributes:
        min_bodies, max_bodies: bodies per scene, uniform in this range.
        points_per_body: hull vertices per body (the body's surface points).
        size_range: range of the ellipsoid semi-axes the vertices lie on (m).
        density_range: log-uniform density range (kg/m^3).
        arena: initial centres lie in ``[-arena, arena]^2`` horizontally (m).
        height_range: range of initial centre heights above the plane (m).
        speed: standard deviation of each initial velocity component (m/s).
        spin: standard deviation of each initial angular velocity component (rad/s).
        gravity: gravitational acceleration (m/s^2).
        ground: whether the ground plane ``z = 0`` exists.
        timestep: MuJoCo time step (s).
        steps_per_frame: simulator steps between stored frames (the target is ``k`` steps ahead).
        n_frames: stored frames per scene, the initial state included.
        friction: sliding friction coefficient of every contact.
    """

    min_bodies: int = 3
    max_bodies: int = 8
    points_per_body: int = 10
    size_range: tuple[float, float] = (0.04, 0.12)
    density_range: tuple[float, float] = (200.0, 2000.0)
    arena: float = 0.5
    height_range: tuple[float, float] = (0.15, 0.8)
    speed: float = 0.5
    spin: float = 2.0
    gravity: tuple[float, float, float] = (0.0, 0.0, -9.81)
    ground: bool = True
    timestep: float = 0.002
    steps_per_frame: int = 25
    n_frames: int = 12
    friction: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.min_bodies <= self.max_bodies:
            raise ValueError(
                f"need 1 <= min_bodies <= max_bodies, got {self.min_bodies} and {self.max_bodies}"
            )
        if self.points_per_body < 4:
            raise ValueError(f"points_per_body must be >= 4 (a solid), got {self.points_per_body}")
        for name in ("size_range", "density_range", "height_range"):
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
                raise ValueError(f"{name} must satisfy 0 < low <= high (finite), got {(lo, hi)}")
        for name in ("arena", "speed", "spin", "friction"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        if len(self.gravity) != 3 or not all(math.isfinite(g) for g in self.gravity):
            raise ValueError(f"gravity must be 3 finite numbers, got {self.gravity!r}")
        if not (math.isfinite(self.timestep) and self.timestep > 0):
            raise ValueError(f"timestep must be > 0, got {self.timestep!r}")
        if self.steps_per_frame < 1 or self.n_frames < 2:
            raise ValueError(
                f"need steps_per_frame >= 1 and n_frames >= 2, got {self.steps_per_frame} and "
                f"{self.n_frames}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> RigidConfig:
        """The config stored in a dataset's metadata (JSON turns tuples into lists)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass
class Scene:
    """Initial conditions of one scene with ``n`` bodies.

    Attributes:
        vertices: ``(n, points, 3)`` hull vertices in each body's frame, centred on its centre of
            mass (m).
        density: ``(n,)`` kg/m^3.
        position: ``(n, 3)`` centre of mass (m).
        quaternion: ``(n, 4)`` orientation ``(w, x, y, z)``, body to world.
        velocity: ``(n, 3)`` centre-of-mass velocity (m/s).
        angular_velocity: ``(n, 3)`` in world axes (rad/s).
    """

    vertices: np.ndarray
    density: np.ndarray
    position: np.ndarray
    quaternion: np.ndarray
    velocity: np.ndarray
    angular_velocity: np.ndarray


def polytope_centroid(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre of mass and volume of the convex hull of ``points: (k, 3)`` (uniform density)."""
    hull = ConvexHull(points)
    apex = points.mean(axis=0)
    tri = points[hull.simplices]  # (faces, 3, 3)
    vol = (
        np.abs(
            np.einsum("fi,fi->f", tri[:, 0] - apex, np.cross(tri[:, 1] - apex, tri[:, 2] - apex))
        )
        / 6
    )
    centres = (tri.sum(axis=1) + apex) / 4
    return (vol[:, None] * centres).sum(axis=0) / vol.sum(), float(vol.sum())


def random_polytope(rng: np.random.Generator, config: RigidConfig) -> np.ndarray:
    """Vertices ``(points, 3)`` of a random convex polytope centred on its centre of mass.

    The points lie on an ellipsoid with semi-axes drawn from ``size_range``, so every point is a
    hull vertex; point sets whose hull holds less than a quarter of the ellipsoid's volume (all
    points bunched on one side) are redrawn.
    """
    axes = rng.uniform(*config.size_range, size=3)
    while True:
        u = rng.normal(size=(config.points_per_body, 3))
        points = axes * u / np.linalg.norm(u, axis=1, keepdims=True)
        centre, volume = polytope_centroid(points)
        if volume >= 0.25 * (4 / 3) * math.pi * np.prod(axes):
            return points - centre


def random_quaternions(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniformly random unit quaternions ``(w, x, y, z)`` with ``w >= 0``."""
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q * np.where(q[:, :1] < 0, -1.0, 1.0)


def sample_scene(rng: np.random.Generator, config: RigidConfig) -> Scene:
    """A scene whose bodies start apart: bounding spheres do not overlap and clear the plane."""
    n = int(rng.integers(config.min_bodies, config.max_bodies + 1))
    vertices = np.stack([random_polytope(rng, config) for _ in range(n)])
    radius = np.linalg.norm(vertices, axis=-1).max(axis=1)
    density = np.exp(rng.uniform(*np.log(config.density_range), size=n))
    position = np.zeros((n, 3))
    lo, hi = config.height_range
    for b in range(n):
        for attempt in range(1000):
            top = hi + attempt * 0.01  # widen the box upwards if the scene is crowded
            p = np.array(
                [*rng.uniform(-config.arena, config.arena, 2), rng.uniform(lo, top)], dtype=float
            )
            p[2] = max(p[2], radius[b] + 0.005)
            gaps = np.linalg.norm(position[:b] - p, axis=1) - radius[:b] - radius[b]
            if np.all(gaps > 0.005):
                position[b] = p
                break
        else:  # pragma: no cover - 1000 attempts with a growing box always succeed
            raise RuntimeError("could not place the bodies apart")
    return Scene(
        vertices=vertices,
        density=density,
        position=position,
        quaternion=random_quaternions(rng, n),
        velocity=rng.normal(scale=config.speed, size=(n, 3)),
        angular_velocity=rng.normal(scale=config.spin, size=(n, 3)),
    )


def _num(values) -> str:
    return " ".join(repr(float(v)) for v in np.ravel(values))


def scene_xml(scene: Scene, config: RigidConfig) -> str:
    """MJCF text of the scene: one free body with one mesh geom per body, and the ground plane."""
    meshes = "".join(
        f'<mesh name="shape{b}" vertex="{_num(v)}"/>' for b, v in enumerate(scene.vertices)
    )
    bodies = "".join(
        f'<body name="body{b}" pos="{_num(scene.position[b])}" quat="{_num(scene.quaternion[b])}">'
        f'<freejoint/><geom type="mesh" mesh="shape{b}" density="{float(scene.density[b])!r}"/></body>'
        for b in range(len(scene.density))
    )
    ground = '<geom name="ground" type="plane" size="0 0 1"/>' if config.ground else ""
    return (
        '<mujoco model="noether-rigid">'
        f'<option timestep="{config.timestep!r}" gravity="{_num(config.gravity)}"/>'
        f'<default><geom friction="{config.friction!r} 0.005 0.0001"/></default>'
        f"<asset>{meshes}</asset><worldbody>{ground}{bodies}</worldbody></mujoco>"
    )


def build(scene: Scene, config: RigidConfig) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """Compiled model and data, with the scene's velocities set and kinematics computed."""
    model = mujoco.MjModel.from_xml_string(scene_xml(scene, config))
    data = mujoco.MjData(model)
    for b in range(len(scene.density)):
        rot = np.empty(9)
        mujoco.mju_quat2Mat(rot, scene.quaternion[b])
        w_local = rot.reshape(3, 3).T @ scene.angular_velocity[b]
        offset = rot.reshape(3, 3) @ model.body_ipos[b + 1]  # centre of mass from body origin
        # Free joint: linear velocity of the body origin (world axes), angular in body axes.
        data.qvel[6 * b : 6 * b + 3] = scene.velocity[b] - np.cross(
            scene.angular_velocity[b], offset
        )
        data.qvel[6 * b + 3 : 6 * b + 6] = w_local
    mujoco.mj_forward(model, data)
    return model, data


def body_state(model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, np.ndarray]:
    """Centre-of-mass position, quaternion, velocity and angular velocity of every body,
    ``(n, 3 or 4)``, in world axes (kinematics of ``data`` must be current)."""
    n = model.nbody - 1
    vel = np.empty((n, 6))
    for b in range(n):
        mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_BODY, b + 1, vel[b], 0)
    return {
        "position": data.xipos[1:].copy(),
        "quaternion": data.xquat[1:].copy(),
        "velocity": vel[:, 3:],
        "angular_velocity": vel[:, :3],
    }


def body_constants(model: mujoco.MjModel, scene: Scene) -> dict[str, np.ndarray]:
    """Mass ``(n,)``, inertia about the centre of mass in body axes ``(n, 3, 3)`` and the surface
    points in body axes relative to the centre of mass ``(n, points, 3)``."""
    n = model.nbody - 1
    inertia = np.empty((n, 3, 3))
    for b in range(n):
        rot = np.empty(9)
        mujoco.mju_quat2Mat(rot, model.body_iquat[b + 1])
        rot = rot.reshape(3, 3)
        inertia[b] = rot @ np.diag(model.body_inertia[b + 1]) @ rot.T
    return {
        "mass": model.body_mass[1:].copy(),
        "inertia": inertia,
        "points_local": scene.vertices - model.body_ipos[1:, None, :],
    }


def quaternion_matrices(q: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of unit quaternions ``(..., 4)`` in ``(w, x, y, z)`` order."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def simulate_scene(scene: Scene, config: RigidConfig) -> dict[str, np.ndarray]:
    """Simulate one scene and return its arrays (``n`` bodies, ``F = config.n_frames``):

    ``mass (n,)``, ``inertia (n, 3, 3)``, ``points_local (n, P, 3)``, and per frame
    ``position (F, n, 3)``, ``quaternion (F, n, 4)``, ``velocity (F, n, 3)``,
    ``angular_velocity (F, n, 3)``, ``points (F, n, P, 3)`` (world surface points).
    """
    model, data = build(scene, config)
    frames = []
    for f in range(config.n_frames):
        if f > 0:
            for _ in range(config.steps_per_frame):
                mujoco.mj_step(model, data)
            mujoco.mj_forward(
                model, data
            )  # kinematics at the new state (mj_step leaves them stale)
        frames.append(body_state(model, data))
    out = {k: np.stack([s[k] for s in frames]) for k in frames[0]}
    out.update(body_constants(model, scene))
    rot = quaternion_matrices(out["quaternion"])  # (F, n, 3, 3)
    out["points"] = out["position"][:, :, None, :] + np.einsum(
        "fnij,npj->fnpi", rot, out["points_local"]
    )
    return out
