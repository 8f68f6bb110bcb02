"""Gravitational n-body systems as in the GATr paper's n-body experiment: sampling and simulation.

A system is one star and ``n_planets`` planets (Brehmer et al. 2023, `gatr/experiments/nbody`):

1. masses are log-uniform: the star in ``star_mass_range``, each planet in ``planet_mass_range``;
2. the star sits at rest at the origin; planets are uniform (by area) in the annulus
   ``radius_range`` of the x-y plane;
3. each planet gets the velocity of a circular orbit around the star, turning clockwise or
   anticlockwise at random, plus isotropic Gaussian noise of scale ``velocity_noise``;
4. the bodies are permuted at random (the star is not always body 0); with ``placement="random"``
   the system is also rotated (Haar) and translated (Gaussian, ``shift_std``) as in the paper;
5. the state after ``time`` is computed, and systems that move a body further than
   ``outlier_threshold`` are rejected, as in the paper.

Where noether differs from the reference: it integrates with a fourth-order symplectic scheme with
Plummer softening and per-system step doubling until the final positions converge to
``tolerance`` (the reference takes 100 semi-implicit Euler steps without softening), and it rejects
systems that do not converge or do not conserve energy to ``energy_tolerance``. Units: ``G = 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from noether.sims.nbody import gravity

PLACEMENTS = ("canonical", "random")


@dataclass(frozen=True)
class NBodyConfig:
    """Settings of the n-body generator (defaults: the GATr paper's, except where noted).

    Attributes:
        n_planets: planets per system (bodies = planets + 1); the paper trains on 3.
        time: time between the input and the target state.
        star_mass_range, planet_mass_range: log-uniform mass ranges.
        radius_range: annulus of initial planet positions around the star.
        velocity_noise: standard deviation of the noise added to circular-orbit velocities.
        placement: ``"canonical"`` (noether's default: star at the origin, orbits near the x-y
            plane, so rotated and translated test sets are out of distribution) or ``"random"``
            (the paper's: Haar rotation and Gaussian shift of scale ``shift_std``).
        shift_std: translation scale for ``placement="random"``.
        softening: Plummer softening length of the pair potential.
        scheme: symplectic integrator, ``"yoshida4"`` or ``"leapfrog"``.
        base_steps: steps of the coarsest level; level ``k`` uses ``base_steps * 2**k``.
        max_level: finest level tried before a system is rejected as unconverged.
        tolerance: accepted Richardson estimate of the final-position error (length units).
        energy_tolerance: accepted relative energy drift ``|E(T) - E(0)| / |E(0)|``.
        outlier_threshold: largest accepted displacement of a body (the paper's 2.0).
    """

    n_planets: int = 3
    time: float = 0.1
    star_mass_range: tuple[float, float] = (1.0, 10.0)
    planet_mass_range: tuple[float, float] = (0.01, 0.1)
    radius_range: tuple[float, float] = (0.1, 1.0)
    velocity_noise: float = 0.01
    placement: str = "canonical"
    shift_std: float = 20.0
    softening: float = 1e-3
    scheme: str = "yoshida4"
    base_steps: int = 200
    max_level: int = 8
    tolerance: float = 1e-9
    energy_tolerance: float = 1e-7
    outlier_threshold: float = 2.0

    def __post_init__(self) -> None:
        def finite(name: str, value: float) -> None:
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")

        if self.n_planets < 1:
            raise ValueError(
                f"n_planets must be >= 1 (a star and at least one planet), got {self.n_planets}"
            )
        for name in ("star_mass_range", "planet_mass_range", "radius_range"):
            lo, hi = getattr(self, name)
            finite(name, lo)
            finite(name, hi)
            if name != "radius_range" and not 0 < lo <= hi:
                raise ValueError(
                    f"{name} must satisfy 0 < low <= high (masses are positive), got {(lo, hi)}"
                )
        lo, hi = self.radius_range
        if not 0 < lo < hi:
            raise ValueError(f"radius_range must satisfy 0 < low < high, got {(lo, hi)}")
        for name in ("time", "tolerance", "energy_tolerance", "outlier_threshold"):
            value = getattr(self, name)
            finite(name, value)
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        for name in ("velocity_noise", "shift_std", "softening"):
            value = getattr(self, name)
            finite(name, value)
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {self.placement!r}")
        if self.scheme not in gravity.SCHEMES:
            raise ValueError(
                f"scheme must be one of {sorted(gravity.SCHEMES)}, got {self.scheme!r}"
            )
        if self.base_steps < 1 or self.max_level < 1:
            raise ValueError(
                f"base_steps and max_level must be >= 1, got {self.base_steps} and {self.max_level}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> NBodyConfig:
        """The config stored in a dataset's metadata (JSON turns tuples into lists)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` Haar-random rotation matrices ``(n, 3, 3)`` (QR of Gaussian matrices, det +1)."""
    q, r = np.linalg.qr(rng.normal(size=(n, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[:, :, 0] *= np.sign(np.linalg.det(q))[:, None]
    return q


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, size: tuple) -> np.ndarray:
    return np.exp(rng.uniform(math.log(lo), math.log(hi), size=size))


def sample_initial_conditions(
    rng: np.random.Generator, n_systems: int, config: NBodyConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masses ``(n, bodies)``, positions and velocities ``(n, bodies, 3)`` of fresh systems."""
    n, p = n_systems, config.n_planets
    star = _log_uniform(rng, *config.star_mass_range, (n, 1))
    planets = _log_uniform(rng, *config.planet_mass_range, (n, p))
    r_lo, r_hi = config.radius_range
    radius = np.sqrt(rng.uniform(r_lo**2, r_hi**2, size=(n, p)))  # uniform by area
    angle = rng.uniform(0.0, 2.0 * math.pi, size=(n, p))
    pos = np.stack([radius * np.cos(angle), radius * np.sin(angle), np.zeros_like(radius)], -1)
    turn = rng.choice([-1.0, 1.0], size=(n, p))
    # Circular speed sqrt(M / r) along z x pos, turned by the sign; then isotropic noise.
    tangent = np.stack([-pos[..., 1], pos[..., 0], np.zeros_like(radius)], -1) / radius[..., None]
    vel = (turn * np.sqrt(star / radius))[..., None] * tangent
    vel = vel + rng.normal(scale=config.velocity_noise, size=(n, p, 3))
    m = np.concatenate([star, planets], axis=1)
    x = np.concatenate([np.zeros((n, 1, 3)), pos], axis=1)
    v = np.concatenate([np.zeros((n, 1, 3)), vel], axis=1)
    order = np.argsort(rng.random((n, p + 1)), axis=1)
    m = np.take_along_axis(m, order, axis=1)
    x = np.take_along_axis(x, order[..., None], axis=1)
    v = np.take_along_axis(v, order[..., None], axis=1)
    if config.placement == "random":
        rot = random_rotations(rng, n)
        shift = rng.normal(scale=config.shift_std, size=(n, 1, 3))
        x = np.einsum("sij,sbj->sbi", rot, x) + shift
        v = np.einsum("sij,sbj->sbi", rot, v)
    return m, x, v


@dataclass
class Simulation:
    """Result of :func:`simulate` for ``n`` systems.

    Attributes:
        x_final, v_final: ``(n, bodies, 3)``.
        n_steps: ``(n,)`` steps used per system.
        error_estimate: ``(n,)`` Richardson estimate of the final-position error (NaN when the
            step counts were given rather than found).
        energy_error: ``(n,)`` relative energy drift.
        converged: ``(n,)`` whether the estimate met the tolerance within ``max_level``.
    """

    x_final: np.ndarray
    v_final: np.ndarray
    n_steps: np.ndarray
    error_estimate: np.ndarray
    energy_error: np.ndarray
    converged: np.ndarray


def _relative_energy_error(m, x0, v0, x1, v1, softening) -> np.ndarray:
    e0 = gravity.energy(x0, v0, m, softening)
    e1 = gravity.energy(x1, v1, m, softening)
    return np.abs(e1 - e0) / np.abs(e0)


def simulate(
    m: np.ndarray,
    x: np.ndarray,
    v: np.ndarray,
    config: NBodyConfig,
    n_steps: np.ndarray | None = None,
    on_done: Callable[[int], object] | None = None,
) -> Simulation:
    """Evolve each system for ``config.time``.

    Without ``n_steps`` the step count is found per system by step doubling: levels ``k`` and
    ``k + 1`` are compared and a system is accepted at the first level where
    ``max|x_{k+1} - x_k| / (2**order - 1) <= tolerance``; the finer result is kept. With ``n_steps``
    (per system) those counts are used as given, which is how transformed copies of a dataset are
    simulated with exactly the integrator settings of the originals. ``on_done(k)`` is called as
    ``k`` more systems are finished (for progress bars).
    """
    m, x, v = (np.asarray(a, dtype=np.float64) for a in (m, x, v))
    _check_state(m, x, v)
    s = len(m)
    x_out, v_out = np.empty_like(x), np.empty_like(v)
    error = np.full(s, np.nan)
    run = _runner(m, x, v, config)
    if n_steps is not None:
        n_steps = np.asarray(n_steps, dtype=np.int64)
        if n_steps.shape != (s,) or np.any(n_steps < 1):
            raise ValueError(f"n_steps must be positive integers of shape ({s},), got {n_steps!r}")
        for count in np.unique(n_steps):
            idx = np.flatnonzero(n_steps == count)
            x_out[idx], v_out[idx] = run(idx, int(count))
            if on_done is not None:
                on_done(len(idx))
        converged = np.ones(s, dtype=bool)
    else:
        n_steps = np.zeros(s, dtype=np.int64)
        order = gravity.SCHEMES[config.scheme][2]
        pending = np.arange(s)
        coarse_x, _ = run(pending, config.base_steps)
        for level in range(1, config.max_level + 1):
            count = config.base_steps * 2**level
            fine_x, fine_v = run(pending, count)
            estimate = np.abs(fine_x - coarse_x).max(axis=(1, 2)) / (2**order - 1)
            x_out[pending], v_out[pending] = fine_x, fine_v
            error[pending], n_steps[pending] = estimate, count
            done = estimate <= config.tolerance
            pending, coarse_x = pending[~done], fine_x[~done]
            if on_done is not None:
                on_done(int(done.sum()) if level < config.max_level else len(done))
            if len(pending) == 0:
                break
        converged = np.ones(s, dtype=bool)
        converged[pending] = False
    energy = _relative_energy_error(m, x, v, x_out, v_out, config.softening)
    return Simulation(x_out, v_out, n_steps, error, energy, converged)


def _runner(m, x, v, config) -> Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]:
    def run(idx: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        return gravity.integrate(
            x[idx],
            v[idx],
            m[idx],
            config.time,
            count,
            softening=config.softening,
            scheme=config.scheme,
        )

    return run


def _check_state(m: np.ndarray, x: np.ndarray, v: np.ndarray) -> None:
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError(f"masses must have shape (systems, bodies >= 2), got {m.shape}")
    if x.shape != (*m.shape, 3) or v.shape != x.shape:
        raise ValueError(
            f"positions and velocities must have shape {(*m.shape, 3)}, got {x.shape} and {v.shape}"
        )
    for name, a in (("masses", m), ("positions", x), ("velocities", v)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contain non-finite values (NaN or inf)")
    if np.any(m <= 0):
        raise ValueError(f"masses must be positive, got minimum {m.min()!r}")


def accept(sim: Simulation, x_initial: np.ndarray, config: NBodyConfig) -> np.ndarray:
    """Boolean mask of systems kept: converged, energy conserved, no body displaced too far."""
    displacement = np.linalg.norm(sim.x_final - x_initial, axis=-1).max(axis=-1)
    return (
        sim.converged
        & (sim.energy_error <= config.energy_tolerance)
        & (displacement <= config.outlier_threshold)
    )
