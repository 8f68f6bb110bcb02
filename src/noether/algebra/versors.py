"""Random Pin elements (versors) and a ready ``sample`` for :func:`noether.testing.equivariance_error`.

A versor is a product of invertible vectors; ``alg.sandwich(V, x)`` applies it (reflections for
one vector, rotations for two, ...). Random vectors have Gaussian components, are rejected when
nearly null (``|v.v| < |v|^2 / 2`` with ``|v|^2`` the Euclidean sum of squares, which keeps the
transformations well conditioned in indefinite signatures) and are scaled to ``v.v = +-1``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from noether.algebra.algebra import Algebra

__all__ = ["pin_sample", "random_vector", "random_versor"]

_MIN_SQUARE = 0.5
ACTIONS = ("multivector", "scalar", "pseudoscalar", None)


def random_vector(
    algebra: Algebra,
    batch_shape: Sequence[int] = (),
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """Random invertible unit vectors (``v.v = +-1``) as multivectors: ``(*batch_shape, dim)``."""
    metric = torch.tensor(algebra.metric, dtype=torch.float64)
    if not metric.any():
        raise ValueError(f"{algebra} has only null basis vectors: no vector is invertible")
    batch_shape = tuple(batch_shape)
    coeffs = torch.empty(*batch_shape, algebra.n, dtype=torch.float64)
    todo = torch.ones(batch_shape, dtype=torch.bool)
    while todo.any():
        draw = torch.randn(int(todo.sum()), algebra.n, generator=generator, dtype=torch.float64)
        coeffs[todo] = draw
        square = (coeffs**2 * metric).sum(-1)
        todo = square.abs() < _MIN_SQUARE * (coeffs**2).sum(-1)
    coeffs = coeffs / (coeffs**2 * metric).sum(-1, keepdim=True).abs().sqrt()
    out = torch.zeros(*batch_shape, algebra.dim, dtype=torch.float64)
    out[..., 1 : algebra.n + 1] = coeffs  # the vectors e_0..e_{n-1} follow the scalar
    return out.to(dtype=dtype, device=device)


def random_versor(
    algebra: Algebra,
    n_reflections: int,
    batch_shape: Sequence[int] = (),
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """The product of ``n_reflections`` random unit vectors: ``(*batch_shape, dim)``.

    Odd for an odd number of reflections (improper: reflections, rotoreflections), even otherwise;
    ``n_reflections = 0`` gives the identity (the scalar 1). Computed in float64, then cast.
    """
    if not isinstance(n_reflections, int) or n_reflections < 0:
        raise ValueError(f"n_reflections must be a non-negative int, got {n_reflections!r}")
    versor = torch.zeros(*batch_shape, algebra.dim, dtype=torch.float64)
    versor[..., 0] = 1.0
    for _ in range(n_reflections):
        vector = random_vector(algebra, batch_shape, generator=generator)
        versor = algebra.geometric_product(versor, vector)
    return versor.to(dtype=dtype, device=device)


def _act(algebra: Algebra, action, versor: Tensor, parity: int, value):
    if action is None or action == "scalar" or not isinstance(value, Tensor):
        return value
    if action == "pseudoscalar":
        return -value if parity else value
    if action == "multivector":
        return algebra.sandwich(versor.to(dtype=value.dtype, device=value.device), value)
    raise ValueError(f"unknown action {action!r}; accepted: {ACTIONS}")


def pin_sample(
    algebra: Algebra,
    in_actions: Sequence[str | None] | None = None,
    out_actions: Sequence[str | None] | None = None,
    *,
    max_reflections: int = 4,
    parity: str | None = None,
) -> Callable[[torch.Generator], tuple[Callable, Callable]]:
    """A ``sample(generator)`` for :func:`noether.testing.equivariance_error` under Pin(p,q,r).

    Each call draws a versor of 1 to ``max_reflections`` random reflections (so both parities
    occur; ``parity="even"`` or ``"odd"`` keeps one: ``"even"`` is Spin, the proper motions)
    and returns ``(transform_inputs, transform_outputs)``. Actions, one per input and output
    (``None`` for the whole list: every tensor is a multivector):

    - ``"multivector"``: the sandwich ``alg.sandwich(V, x)`` over the last axis ``(..., dim)``;
    - ``"scalar"`` or ``None``: invariant;
    - ``"pseudoscalar"``: negated by odd versors.

    Example::

        err = equivariance_error(alg.geometric_product, (x, y), pin_sample(alg))
    """
    if max_reflections < 1 or (parity == "even" and max_reflections < 2):
        raise ValueError(
            f"max_reflections must be at least 1 (2 for even versors), got {max_reflections}"
        )
    if parity not in (None, "even", "odd"):
        raise ValueError(f"parity must be None, 'even' or 'odd', got {parity!r}")
    counts = [
        c
        for c in range(1, max_reflections + 1)
        if parity is None or (c % 2 == 0) == (parity == "even")
    ]
    for actions in (in_actions, out_actions):
        for a in actions or ():
            if a not in ACTIONS:
                raise ValueError(f"unknown action {a!r}; accepted: {ACTIONS}")

    def sample(generator: torch.Generator):
        count = counts[int(torch.randint(len(counts), (), generator=generator))]
        versor = random_versor(algebra, count, generator=generator)
        parity = count % 2

        def mover(actions):
            def move(values: tuple) -> tuple:
                acts = actions if actions is not None else ("multivector",) * len(values)
                if len(acts) != len(values):
                    raise ValueError(
                        f"{len(acts)} action(s) given for {len(values)} value(s); give one each"
                    )
                return tuple(_act(algebra, a, versor, parity, v) for a, v in zip(acts, values))

            return move

        return mover(in_actions), mover(out_actions)

    return sample
