"""Random Euclidean motions as versors, and the equivariance check of a GATr.

A Euclidean motion is an orthogonal map (a product of reflections in planes through the origin:
rotations for an even number, reflections and rotoreflections for an odd one) followed by a
translation, as versors of the algebra (EGA: O(3) only). These are the transformations a
user's data undergoes; :func:`noether.algebra.random_versor` draws from the whole Pin group
instead (in CGA that includes boosts and dilations).

In CGA the components of an object grow like ``|t|^2`` under a translation by ``t`` (a point
``x`` has ``e4, e5`` components ``(|x|^2 -+ 1)/2``), so float32 precision falls with the distance
from the origin: keep CGA data centred.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from noether.algebra import Algebra, cga, ega, pga
from noether.gatr.variants import Variant, resolve_variant
from noether.testing import equivariance_error

__all__ = ["euclidean_sample", "euclidean_versor", "gatr_equivariance_error"]


def euclidean_versor(
    algebra: Algebra | str,
    n_reflections: int,
    *,
    translation: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A random Euclidean motion as a versor ``(dim,)`` in float64: ``n_reflections``
    reflections in random planes through the origin (a rotation when even, an improper element
    when odd), followed by a Gaussian translation of standard deviation ``translation`` per axis
    (none in EGA, where the group is O(3))."""
    alg = resolve_variant(algebra).algebra if not isinstance(algebra, Algebra) else algebra
    objects = {"G(3,0,0)": ega, "G(3,0,1)": pga, "G(4,1,0)": cga}.get(str(alg))
    if objects is None:
        raise ValueError(f"Euclidean motions are defined for EGA, PGA and CGA, not {alg}")
    versor = torch.zeros(alg.dim, dtype=torch.float64)
    versor[0] = 1.0
    for _ in range(n_reflections):
        normal = torch.randn(3, generator=generator, dtype=torch.float64)
        if objects is ega:
            plane = ega.embed_reflection(normal)
        else:
            plane = objects.embed_reflection(normal, normal.new_zeros(()))
        versor = alg.geometric_product(versor, plane)
    if objects is not ega:
        shift = translation * torch.randn(3, generator=generator, dtype=torch.float64)
        versor = alg.geometric_product(objects.embed_translation(shift), versor)
    return versor


def euclidean_sample(
    algebra: Algebra | str,
    in_actions: Sequence[str | None],
    out_actions: Sequence[str | None],
    *,
    max_reflections: int = 4,
    translation: float = 1.0,
) -> Callable[[torch.Generator], tuple[Callable, Callable]]:
    """A ``sample(generator)`` for :func:`noether.testing.equivariance_error` under E(3).

    Each call draws 1 to ``max_reflections`` reflections (both parities occur). Actions per
    input and output: ``"multivector"`` (the sandwich on the last axis, computed in float64 and
    cast back, so a float32 check measures the model and not the transformation), ``"scalar"``
    or ``None`` (invariant).
    """
    alg = resolve_variant(algebra).algebra if not isinstance(algebra, Algebra) else algebra
    accepted = ("multivector", "scalar", None)
    for a in (*in_actions, *out_actions):
        if a not in accepted:
            raise ValueError(f"unknown action {a!r}; accepted: {accepted}")

    def sample(generator: torch.Generator):
        count = int(torch.randint(1, max_reflections + 1, (), generator=generator))
        versor = euclidean_versor(alg, count, translation=translation, generator=generator)

        def mover(actions):
            def move(values: tuple) -> tuple:
                return tuple(
                    alg.sandwich(versor.to(v.device), v.double()).to(v.dtype)
                    if a == "multivector" and isinstance(v, Tensor)
                    else v
                    for a, v in zip(actions, values, strict=True)
                )

            return move

        return mover(in_actions), mover(out_actions)

    return sample


def gatr_equivariance_error(
    model: Callable,
    mv: Tensor,
    s: Tensor | None = None,
    mask: Tensor | None = None,
    *,
    token_mask: Tensor | None = None,
    algebra: Algebra | str | Variant | None = None,
    n_samples: int = 4,
    translation: float = 1.0,
    seed: int = 0,
) -> float:
    """Largest ``|model(g mv, s) - g model(mv, s)|`` over random Euclidean motions ``g``.

    ``model`` is a :class:`~noether.gatr.GATr` (or anything with its signature returning
    ``(mv, s)``); its algebra is read from ``model.algebra`` unless given.
    """
    alg = algebra if algebra is not None else model.algebra
    alg = alg if isinstance(alg, Algebra) else resolve_variant(alg).algebra

    def fn(mv, s):
        return model(mv, s, mask, token_mask=token_mask)

    sample = euclidean_sample(
        alg, ("multivector", "scalar"), ("multivector", "scalar"), translation=translation
    )
    return equivariance_error(fn, (mv, s), sample, n_samples=n_samples, seed=seed)
