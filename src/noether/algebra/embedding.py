"""Helpers shared by the object modules (:mod:`~noether.algebra.ega`, ``pga``, ``cga``).

Quaternions are ``(x, y, z, w)``, scalar last (as scipy and GATr); a rotation ``R`` acts on column
vectors, ``x -> R @ x``; as a versor the unit quaternion is ``w - x e23 + y e13 - z e12`` (the
rotor ``cos(t/2) - sin(t/2) B`` of the rotation by ``t`` in the oriented plane ``B``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from noether.algebra.algebra import Algebra


def check_values(x: Tensor, shape: tuple[int, ...], name: str) -> Tensor:
    """Raise ``ValueError`` unless ``x`` is a finite floating tensor of shape ``(..., *shape)``."""
    expected = "(..., " + ", ".join(map(str, shape)) + ")"
    if not isinstance(x, Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor of shape {expected}, got {type(x).__name__}"
        )
    if x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape) :]) != shape:
        raise ValueError(f"{name} must have shape {expected}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor (float32 or float64), got {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return x


def compose(algebra: Algebra, batch: torch.Size, like: Tensor, **components: Tensor) -> Tensor:
    """A multivector ``(*batch, dim)`` with the named blades set (``one`` names the scalar)."""
    out = like.new_zeros(*batch, algebra.dim)
    for name, value in components.items():
        out[..., algebra.blade_names.index("1" if name == "one" else name)] = value
    return out


def component(algebra: Algebra, mv: Tensor, name: str) -> Tensor:
    """The coefficient of one named blade: ``(..., dim) -> (...)``."""
    return mv[..., algebra.blade_names.index(name)]


def quaternion_from_matrix(matrix: Tensor) -> Tensor:
    """``(..., 3, 3)`` rotation matrices -> ``(..., 4)`` unit quaternions ``(x, y, z, w)``, ``w >= 0``.

    Shepperd's method: the largest of ``w, x, y, z`` is computed from the diagonal, the others
    from off-diagonal sums, which keeps every branch well conditioned.
    """
    check_values(matrix, (3, 3), "matrix")
    m = matrix
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    candidates = []
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        q = [None] * 4
        q[i] = 1 + 2 * m[..., i, i] - trace
        q[j] = m[..., j, i] + m[..., i, j]
        q[k] = m[..., k, i] + m[..., i, k]
        q[3] = m[..., k, j] - m[..., j, k]
        candidates.append(torch.stack(q, -1))
    candidates.append(
        torch.stack(
            [
                m[..., 2, 1] - m[..., 1, 2],
                m[..., 0, 2] - m[..., 2, 0],
                m[..., 1, 0] - m[..., 0, 1],
                1 + trace,
            ],
            -1,
        )
    )
    candidates = torch.stack(candidates, -2)  # (..., 4 cases, 4)
    decision = torch.stack([m[..., 0, 0], m[..., 1, 1], m[..., 2, 2], trace], -1)
    choice = decision.argmax(-1)[..., None, None].expand(*decision.shape[:-1], 1, 4)
    q = candidates.gather(-2, choice).squeeze(-2)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    return torch.where(q[..., 3:] < 0, -q, q)


def matrix_from_quaternion(quaternion: Tensor) -> Tensor:
    """``(..., 4)`` quaternions ``(x, y, z, w)`` (normalised here) -> ``(..., 3, 3)`` matrices."""
    check_values(quaternion, (4,), "quaternion")
    q = quaternion / torch.linalg.vector_norm(quaternion, dim=-1, keepdim=True)
    x, y, z, w = q.unbind(-1)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return torch.stack([torch.stack(r, -1) for r in rows], -2)


def rotor(algebra: Algebra, quaternion: Tensor) -> Tensor:
    """The even versor ``w - x e23 + y e13 - z e12`` of a quaternion: ``(..., 4) -> (..., dim)``.

    The basis vectors e1, e2, e3 are the Euclidean axes in every preset.
    """
    check_values(quaternion, (4,), "quaternion")
    x, y, z, w = quaternion.unbind(-1)
    return compose(algebra, quaternion.shape[:-1], quaternion, one=w, e23=-x, e13=y, e12=-z)


def quaternion_of(algebra: Algebra, mv: Tensor) -> Tensor:
    """Read ``(x, y, z, w)`` back from the rotor part of a versor: ``(..., dim) -> (..., 4)``."""
    algebra.check(mv, "mv")
    c = lambda name: component(algebra, mv, name)  # noqa: E731
    return torch.stack([-c("e23"), c("e13"), -c("e12"), c("1")], -1)


def embed_component(algebra: Algebra, name: str, values: Tensor, what: str) -> Tensor:
    """``(..., 1)`` -> ``(..., dim)`` with the blade ``name`` set (scalars, pseudoscalars)."""
    check_values(values, (1,), what)
    return compose(algebra, values.shape[:-1], values, **{name: values[..., 0]})


def extract_component(algebra: Algebra, mv: Tensor, name: str) -> Tensor:
    """``(..., dim)`` -> the coefficient of blade ``name``, ``(..., 1)``."""
    algebra.check(mv, "mv")
    index = algebra.blade_names.index(name)
    return mv[..., index : index + 1]


def unit_plane(embed_plane, normal: Tensor, distance: Tensor) -> Tensor:
    """``embed_plane`` of the plane ``normal . x = distance`` rescaled to a unit normal."""
    check_values(normal, (3,), "normal")
    norm = torch.linalg.vector_norm(normal, dim=-1)
    distance = torch.as_tensor(distance, dtype=normal.dtype, device=normal.device)
    return embed_plane(normal / norm.unsqueeze(-1), distance / norm)


def unit_normal(normal: Tensor, distance: Tensor) -> tuple[Tensor, Tensor]:
    """``(normal, distance)`` rescaled to a unit normal."""
    norm = torch.linalg.vector_norm(normal, dim=-1)
    return normal / norm.unsqueeze(-1), distance / norm


def translator_of(algebra: Algebra, mv: Tensor, rotational: tuple[bool, ...]) -> Tensor:
    """The translator ``T`` of a motor ``M = T R``, scaled to a unit scalar part: ``(..., dim)``.

    ``R`` is the part of ``M`` on the ``rotational`` blades (those without the translation
    directions), so ``M reverse(R) = T |R|^2``.
    """
    algebra.check(mv, "mv")
    keep = torch.tensor(rotational, dtype=torch.bool, device=mv.device)
    rotation = torch.where(keep, mv, torch.zeros((), dtype=mv.dtype, device=mv.device))
    t = algebra.geometric_product(mv, algebra.reverse(rotation))
    return t / t[..., :1]


def shared_objects(algebra: Algebra, module: str) -> tuple:
    """The functions every object module has, bound to ``algebra`` (with their docstrings).

    Returns ``(embed_rotation, extract_rotation, embed_rotation_matrix, extract_rotation_matrix,
    embed_scalar, extract_scalar, embed_pseudoscalar, extract_pseudoscalar)``.
    """
    dim, pseudo = algebra.dim, algebra.blade_names[-1]

    def embed_rotation(quaternion: Tensor) -> Tensor:
        return rotor(algebra, quaternion)

    def extract_rotation(mv: Tensor) -> Tensor:
        return quaternion_of(algebra, mv)

    def embed_rotation_matrix(matrix: Tensor) -> Tensor:
        return rotor(algebra, quaternion_from_matrix(matrix))

    def extract_rotation_matrix(mv: Tensor) -> Tensor:
        return matrix_from_quaternion(quaternion_of(algebra, mv))

    def embed_scalar(scalar: Tensor) -> Tensor:
        return embed_component(algebra, "1", scalar, "scalar")

    def extract_scalar(mv: Tensor) -> Tensor:
        return extract_component(algebra, mv, "1")

    def embed_pseudoscalar(pseudoscalar: Tensor) -> Tensor:
        return embed_component(algebra, pseudo, pseudoscalar, "pseudoscalar")

    def extract_pseudoscalar(mv: Tensor) -> Tensor:
        return extract_component(algebra, mv, pseudo)

    docs = {
        embed_rotation: f"Unit quaternions ``(x, y, z, w)``, ``(..., 4)`` -> rotors ``(..., {dim})``.",
        extract_rotation: f"The quaternion ``(x, y, z, w)`` of a rotor or motor (as stored): "
        f"``(..., {dim}) -> (..., 4)``.",
        embed_rotation_matrix: f"Rotation matrices ``(..., 3, 3)`` -> rotors ``(..., {dim})`` "
        f"(``w >= 0``).",
        extract_rotation_matrix: f"The rotation matrix of a rotor or motor: "
        f"``(..., {dim}) -> (..., 3, 3)``.",
        embed_scalar: f"``(..., 1)`` -> ``(..., {dim})`` with the ``1`` component set.",
        extract_scalar: f"``(..., {dim})`` -> the ``1`` component, ``(..., 1)``.",
        embed_pseudoscalar: f"``(..., 1)`` -> ``(..., {dim})`` with the ``{pseudo}`` component set.",
        extract_pseudoscalar: f"``(..., {dim})`` -> the ``{pseudo}`` component, ``(..., 1)``.",
    }
    for fn, doc in docs.items():
        fn.__doc__, fn.__module__, fn.__qualname__ = doc, module, fn.__name__
    return tuple(docs)
