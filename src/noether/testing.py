"""Public checks of equivariance: does ``fn(g . x) == g . fn(x)`` hold for random group elements?

Each check draws random group elements, transforms the inputs, calls ``fn`` on the original and the
transformed inputs, transforms the original outputs, and returns the largest absolute difference.
Run them in float64 to see exactness (errors near 1e-12) and in float32 to see the working precision.

How each input and output transforms is named per argument:

- ``"scalar"`` / ``None``: invariant, left as it is (atomic numbers, masks, energies).
- ``"vector"``: the last axis has length 3 and rotates, ``x @ R.T``; translations leave it alone
  (velocities, forces, dipoles).
- ``"position"``: rotates like a vector and also moves under translations (coordinates).
- ``"pseudovector"``: ``det(R) * x @ R.T`` (angular momenta, magnetic fields).
- ``"pseudoscalar"``: ``det(R) * x``.
- a callable ``action(x, g)`` for anything else; ``g`` is the sampled group element: the 3x3 matrix
  ``R`` in :func:`check_o3`, the pair ``(R, t)`` in :func:`check_translation` (with ``R = I``) and
  :func:`check_e3`.

Example::

    from noether.testing import check_o3, check_translation

    energy_and_forces = lambda z, pos: model(z, pos)  # returns (energy, forces)
    err = check_o3(energy_and_forces, (z, pos), ("scalar", "position"), ("scalar", "vector"))
    assert err < 1e-10

:func:`equivariance_error` is the general form: it takes a function that samples one group element
and returns the input and output transformations, for groups this module does not name (for
example the sandwich action of a Pin element on multivectors).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

Action = str | None | Callable[[Tensor, Any], Tensor]
TransformPair = tuple[Callable[[tuple], tuple], Callable[[tuple], tuple]]

__all__ = [
    "check_e3",
    "check_o3",
    "check_permutation",
    "check_translation",
    "equivariance_error",
    "random_orthogonal",
    "random_rotation",
    "random_translation",
]


def random_orthogonal(
    det: int | None = None,
    *,
    n: int = 3,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """A Haar-random ``(n, n)`` orthogonal matrix with determinant ``det`` (+1, -1, or None: either).

    Drawn by the QR decomposition of a Gaussian matrix with the sign of R's diagonal fixed, which
    gives the Haar measure on O(n); a determinant is then imposed by flipping the first column.
    """
    if det not in (None, 1, -1):
        raise ValueError(f"det must be 1, -1 or None, got {det!r}")
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if det is not None and torch.sign(torch.linalg.det(q)).item() != det:
        q[:, 0] = -q[:, 0]
    return q.to(dtype=dtype, device=device)


def random_rotation(
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """A Haar-random 3x3 rotation matrix (determinant +1)."""
    return random_orthogonal(1, generator=generator, dtype=dtype, device=device)


def random_translation(
    scale: float = 1.0,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """A Gaussian random translation vector of shape ``(3,)`` with standard deviation ``scale``."""
    t = scale * torch.randn(3, generator=generator, dtype=torch.float64)
    return t.to(dtype=dtype, device=device)


def _as_tuple(outputs: Any) -> tuple:
    if isinstance(outputs, Tensor):
        return (outputs,)
    if isinstance(outputs, Mapping):
        return tuple(outputs.values())
    return tuple(outputs)


def _check_lengths(name: str, actions: Sequence[Action], values: Sequence) -> None:
    if len(actions) != len(values):
        raise ValueError(
            f"{name} names {len(actions)} action(s) but there are {len(values)} value(s); "
            f"give one action per value"
        )


def equivariance_error(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    sample: Callable[[torch.Generator], TransformPair],
    *,
    n_samples: int = 4,
    seed: int = 0,
) -> float:
    """Largest ``|fn(*g_in(x)) - g_out(fn(*x))|`` over ``n_samples`` random group elements.

    Args:
        fn: the function under test; returns a tensor, a tuple of tensors or a dict of tensors.
        inputs: its positional arguments.
        sample: draws one group element with the given generator and returns the pair
            ``(transform_inputs, transform_outputs)``, each mapping a tuple to a tuple.
        n_samples: how many group elements to draw.
        seed: seed of the generator that draws them.

    Returns:
        The largest absolute error over all samples, outputs and entries (a Python float).
    """
    generator = torch.Generator().manual_seed(seed)
    inputs = tuple(inputs)
    reference = _as_tuple(fn(*inputs))
    worst = 0.0
    for _ in range(n_samples):
        transform_inputs, transform_outputs = sample(generator)
        moved = _as_tuple(fn(*transform_inputs(inputs)))
        expected = transform_outputs(reference)
        if len(moved) != len(expected):
            raise ValueError(
                f"fn returned {len(moved)} output(s) but the output actions produce {len(expected)}"
            )
        for got, want in zip(moved, expected, strict=True):
            if not isinstance(got, Tensor):
                continue
            if got.shape != want.shape:
                raise ValueError(
                    f"output shape changed under the group: {got.shape} vs {want.shape}"
                )
            if got.numel():
                worst = max(worst, (got - want).abs().max().item())
    return worst


def _o3_apply(action: Action, x: Any, rotation: Tensor, translation: Tensor | None) -> Any:
    if action is None or action == "scalar" or (not isinstance(x, Tensor) and not callable(action)):
        return x
    if callable(action):
        return action(x, rotation if translation is None else (rotation, translation))
    r = rotation.to(dtype=x.dtype, device=x.device) if x.is_floating_point() else rotation
    det = torch.linalg.det(rotation.double()).round().item()
    if action == "pseudoscalar":
        return det * x
    if action not in ("vector", "position", "pseudovector"):
        raise ValueError(
            f"unknown action {action!r}; accepted: 'scalar', 'vector', 'position', "
            f"'pseudovector', 'pseudoscalar', None or a callable"
        )
    if x.shape[-1] != 3:
        raise ValueError(f"a {action!r} needs a last axis of length 3, got shape {tuple(x.shape)}")
    y = x @ r.T
    if action == "pseudovector":
        y = det * y
    if action == "position" and translation is not None:
        y = y + translation.to(dtype=x.dtype, device=x.device)
    return y


def _euclidean_sample(
    in_actions: Sequence[Action],
    out_actions: Sequence[Action],
    det: int | None,
    rotate: bool,
    translate: float | None,
    dtype: torch.dtype,
) -> Callable[[torch.Generator], TransformPair]:
    def sample(generator: torch.Generator) -> TransformPair:
        rotation = (
            random_orthogonal(det, generator=generator, dtype=dtype)
            if rotate
            else torch.eye(3, dtype=dtype)
        )
        translation = (
            random_translation(translate, generator=generator, dtype=dtype)
            if translate is not None
            else None
        )

        def move_in(xs: tuple) -> tuple:
            _check_lengths("in_actions", in_actions, xs)
            return tuple(
                _o3_apply(a, x, rotation, translation) for a, x in zip(in_actions, xs, strict=True)
            )

        def move_out(ys: tuple) -> tuple:
            _check_lengths("out_actions", out_actions, ys)
            return tuple(
                _o3_apply(a, y, rotation, translation) for a, y in zip(out_actions, ys, strict=True)
            )

        return move_in, move_out

    return sample


def _float_dtype(inputs: Sequence[Any]) -> torch.dtype:
    for x in inputs:
        if isinstance(x, Tensor) and x.is_floating_point():
            return x.dtype
    return torch.float64


def check_o3(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    in_actions: Sequence[Action],
    out_actions: Sequence[Action],
    *,
    det: int | None = None,
    n_samples: int = 4,
    seed: int = 0,
) -> float:
    """Largest error of ``fn`` under random orthogonal matrices about the origin.

    Args:
        det: +1 for rotations only (SO(3)), -1 for improper elements only, None for both: the
            samples then alternate between the two determinants.
    See the module docstring for the action names.
    """
    dtype = _float_dtype(inputs)
    if det is None:
        half = max(n_samples // 2, 1)
        return max(
            equivariance_error(
                fn,
                inputs,
                _euclidean_sample(in_actions, out_actions, d, True, None, dtype),
                n_samples=half,
                seed=seed + i,
            )
            for i, d in enumerate((1, -1))
        )
    return equivariance_error(
        fn,
        inputs,
        _euclidean_sample(in_actions, out_actions, det, True, None, dtype),
        n_samples=n_samples,
        seed=seed,
    )


def check_translation(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    in_actions: Sequence[Action],
    out_actions: Sequence[Action],
    *,
    scale: float = 10.0,
    n_samples: int = 4,
    seed: int = 0,
) -> float:
    """Largest error of ``fn`` under random translations of standard deviation ``scale``.

    Only ``"position"`` arguments and outputs move; every other action is left as it is.
    """
    dtype = _float_dtype(inputs)
    return equivariance_error(
        fn,
        inputs,
        _euclidean_sample(in_actions, out_actions, None, False, scale, dtype),
        n_samples=n_samples,
        seed=seed,
    )


def check_e3(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    in_actions: Sequence[Action],
    out_actions: Sequence[Action],
    *,
    det: int | None = None,
    scale: float = 10.0,
    n_samples: int = 4,
    seed: int = 0,
) -> float:
    """Largest error under random elements of E(3): an orthogonal map followed by a translation."""
    dtype = _float_dtype(inputs)
    dets = (1, -1) if det is None else (det,)
    per = max(n_samples // len(dets), 1)
    return max(
        equivariance_error(
            fn,
            inputs,
            _euclidean_sample(in_actions, out_actions, d, True, scale, dtype),
            n_samples=per,
            seed=seed + i,
        )
        for i, d in enumerate(dets)
    )


def check_permutation(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    in_dims: Sequence[int | None],
    out_dims: Sequence[int | None],
    *,
    n_samples: int = 4,
    seed: int = 0,
) -> float:
    """Largest error of ``fn`` under random permutations of the items (tokens, atoms) of an axis.

    Args:
        in_dims: for each input, the axis that holds the items, or None if it does not permute.
        out_dims: the same for each output (None for invariant outputs such as a total energy).
    All permuted axes must have the same length.
    """
    sizes = {
        x.shape[d] for x, d in zip(inputs, in_dims, strict=True) if d is not None and x is not None
    }
    if len(sizes) != 1:
        raise ValueError(f"the permuted axes must have one common length, got lengths {sizes}")
    (size,) = sizes

    def sample(generator: torch.Generator) -> TransformPair:
        perm = torch.randperm(size, generator=generator)

        def apply(dims: Sequence[int | None], xs: tuple, name: str) -> tuple:
            _check_lengths(name, dims, xs)
            return tuple(
                x if d is None else x.index_select(d, perm.to(x.device))
                for x, d in zip(xs, dims, strict=True)
            )

        return (lambda xs: apply(in_dims, xs, "in_dims")), (
            lambda ys: apply(out_dims, ys, "out_dims")
        )

    return equivariance_error(fn, inputs, sample, n_samples=n_samples, seed=seed)
