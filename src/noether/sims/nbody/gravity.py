"""Newtonian gravity of point masses, vectorised over many independent systems (numpy, float64).

Units are gravitational N-body units with ``G = 1``: masses, lengths and times are dimensionless.
Forces use Plummer softening: the pair potential is ``-G m_i m_j / sqrt(r^2 + eps^2)``, so the
integrators below conserve the energy returned by :func:`energy` (not the unsoftened one).

All functions take a batch of systems: ``x, v: (systems, bodies, 3)``, ``m: (systems, bodies)``.
"""

from __future__ import annotations

import numpy as np

# Drift (c) and kick (d) coefficients of symplectic splitting schemes in drift-first form:
# for each stage, x += c * dt * v, then v += d * dt * a(x). A zero kick costs no force evaluation.
_CBRT2 = 2.0 ** (1.0 / 3.0)
_W1 = 1.0 / (2.0 - _CBRT2)
_W0 = -_CBRT2 * _W1
_FEW_SYSTEMS = 256
SCHEMES: dict[str, tuple[tuple[float, ...], tuple[float, ...], int]] = {
    # name: (drift coefficients, kick coefficients, order)
    "leapfrog": ((0.5, 0.5), (1.0, 0.0), 2),
    # Yoshida (1990) / Forest-Ruth: three leapfrog steps of w1, w0, w1 composed into fourth order.
    "yoshida4": ((_W1 / 2, (_W0 + _W1) / 2, (_W0 + _W1) / 2, _W1 / 2), (_W1, _W0, _W1, 0.0), 4),
}


def _accelerations_soa(x: np.ndarray, m: np.ndarray, softening: float) -> np.ndarray:
    """Accelerations in the structure-of-arrays layout ``x: (3, bodies, systems)``, ``m: (bodies,
    systems)``.

    Many systems: one vectorised pass per pair of bodies, the force applied to both partners. Few
    systems (where numpy's per-call overhead dominates): all pairs at once. Both paths do the same
    floating-point operations in the same order, so a system's result does not depend on how many
    others are integrated with it.
    """
    n, s = x.shape[1], x.shape[2]
    eps2 = softening * softening
    if s <= _FEW_SYSTEMS:
        d = x[:, None, :, :] - x[:, :, None, :]  # d[:, i, j] = x_j - x_i
        r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + eps2
        r2[np.arange(n), np.arange(n)] = 1.0  # self-pairs: d = 0, keep them finite
        f = d * r2**-1.5
        return (m[None, None, :, :] * f).sum(axis=2)
    a = np.zeros_like(x)
    for i in range(n):
        for j in range(i + 1, n):
            d = x[:, j] - x[:, i]
            f = d * (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + eps2) ** -1.5
            a[:, i] += m[j] * f
            a[:, j] -= m[i] * f
    return a


def accelerations(x: np.ndarray, m: np.ndarray, softening: float = 0.0) -> np.ndarray:
    """Gravitational accelerations ``a_i = sum_j m_j (x_j - x_i) / (|x_j - x_i|^2 + eps^2)^(3/2)``.

    Args:
        x: positions ``(systems, bodies, 3)``.
        m: masses ``(systems, bodies)``.
        softening: Plummer softening length ``eps`` (same units as ``x``).

    Returns:
        Accelerations ``(systems, bodies, 3)``.
    """
    a = _accelerations_soa(np.ascontiguousarray(x.transpose(2, 1, 0)), m.T.copy(), softening)
    return a.transpose(2, 1, 0)


def potential_energy(x: np.ndarray, m: np.ndarray, softening: float = 0.0) -> np.ndarray:
    """Softened potential energy ``-sum_{i<j} m_i m_j / sqrt(r_ij^2 + eps^2)``, shape ``(systems,)``."""
    d = x[:, None, :, :] - x[:, :, None, :]
    r = np.sqrt(np.einsum("sijk,sijk->sij", d, d) + softening * softening)
    i, j = np.triu_indices(x.shape[1], k=1)
    return -np.sum(m[:, i] * m[:, j] / r[:, i, j], axis=-1)


def kinetic_energy(v: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``sum_i m_i |v_i|^2 / 2``, shape ``(systems,)``."""
    return 0.5 * np.einsum("si,sik,sik->s", m, v, v)


def energy(x: np.ndarray, v: np.ndarray, m: np.ndarray, softening: float = 0.0) -> np.ndarray:
    """Total energy (kinetic plus softened potential), shape ``(systems,)``."""
    return kinetic_energy(v, m) + potential_energy(x, m, softening)


def momentum(v: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Total linear momentum ``(systems, 3)``."""
    return np.einsum("si,sik->sk", m, v)


def angular_momentum(x: np.ndarray, v: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Total angular momentum about the origin ``(systems, 3)``."""
    return np.einsum("si,sik->sk", m, np.cross(x, v))


def centre_of_mass(x: np.ndarray, v: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre-of-mass position and velocity, each ``(systems, 1, 3)``."""
    w = m / m.sum(axis=-1, keepdims=True)
    return np.einsum("si,sik->sk", w, x)[:, None], np.einsum("si,sik->sk", w, v)[:, None]


def integrate(
    x: np.ndarray,
    v: np.ndarray,
    m: np.ndarray,
    time: float,
    n_steps: int,
    *,
    softening: float = 0.0,
    scheme: str = "yoshida4",
) -> tuple[np.ndarray, np.ndarray]:
    """Evolve all systems for ``time`` with ``n_steps`` equal steps of a symplectic scheme.

    The motion is integrated in each system's centre-of-mass frame and the free drift of the
    centre of mass is added back exactly, so a system far from the origin loses no precision and
    a translated system gives the translated result up to round-off.

    Args:
        x, v: initial positions and velocities ``(systems, bodies, 3)``.
        m: masses ``(systems, bodies)``, positive.
        time: total time.
        n_steps: number of steps (``dt = time / n_steps``).
        softening: Plummer softening length.
        scheme: ``"yoshida4"`` (fourth order, 3 force evaluations per step) or ``"leapfrog"``
            (second order, 1 per step).

    Returns:
        Final positions and velocities ``(systems, bodies, 3)``.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {sorted(SCHEMES)}")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    drifts, kicks, _ = SCHEMES[scheme]
    x_com, v_com = centre_of_mass(x, v, m)
    x, v = x - x_com, v - v_com
    dt = time / n_steps
    xs = np.ascontiguousarray(x.transpose(2, 1, 0))  # (3, bodies, systems): fast pair loops
    vs = np.ascontiguousarray(v.transpose(2, 1, 0))
    ms = np.ascontiguousarray(m.T)
    for _ in range(n_steps):
        for c, d in zip(drifts, kicks):
            xs += (c * dt) * vs
            if d != 0.0:
                vs += (d * dt) * _accelerations_soa(xs, ms, softening)
    x, v = xs.transpose(2, 1, 0), vs.transpose(2, 1, 0)
    return x + (x_com + time * v_com), v + v_com
