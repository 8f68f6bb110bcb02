"""GATr on raw 3D inputs: embed points, vectors and scalars, run :class:`GATr`, extract."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from noether.algebra import cga, ega, pga
from noether.algebra.algebra import Algebra
from noether.core.config import config_repr, make_config
from noether.core.registry import register_model
from noether.gatr.nets.config import PointGATrConfig
from noether.gatr.nets.gatr import GATr
from noether.gatr.nets.points import PointOutputs, check_point_inputs, mask_outputs
from noether.gatr.primitives.masks import zero_padding
from noether.gatr.variants import resolve_variant

__all__ = ["PointGATr", "embed_objects", "extract_objects"]

_OBJECTS = {"G(3,0,0)": ega, "G(3,0,1)": pga, "G(4,1,0)": cga}


def _module(algebra: Algebra):
    try:
        return _OBJECTS[str(algebra)]
    except KeyError:
        raise ValueError(
            f"raw 3D inputs are defined for EGA, PGA and CGA, not {algebra}; use GATr on "
            f"multivectors directly"
        ) from None


def embed_objects(algebra: Algebra, points: Tensor | None, vectors: Tensor | None) -> Tensor:
    """Points ``(..., P, 3)`` and vectors ``(..., V, 3)`` -> multivectors ``(..., P + V, dim)``.

    Points are the algebra's points (EGA: vectors from the origin, so centre them first; PGA:
    trivectors; CGA: null vectors); vectors are translation-invariant directions (EGA:
    vectors; PGA: ideal points; CGA: free vectors ``v ^ e_inf``).
    """
    objects = _module(algebra)
    parts = []
    if points is not None:
        parts.append(objects.embed_point(points))
    if vectors is not None:
        parts.append(objects.embed_direction(vectors))
    return torch.cat(parts, -2) if len(parts) > 1 else parts[0]


def _vector_part(algebra: Algebra, mv: Tensor) -> Tensor:
    """The translation-invariant vector an output multivector carries, ``(..., 3)``.

    EGA and PGA: the ``e1, e2, e3`` components (in PGA the normal of a plane, which translations
    leave alone). CGA: the Euclidean part of ``e_inf ⌋ X``, which is ``X_{e_i5} - X_{e_i4}``:
    the contraction with the invariant ``e_inf`` has no ``e_o`` part, so translations do not
    move it.
    """
    names = algebra.blade_names
    if str(algebra) == "G(4,1,0)":
        five = [names.index(f"e{i}5") for i in (1, 2, 3)]
        four = [names.index(f"e{i}4") for i in (1, 2, 3)]
        return mv[..., five] - mv[..., four]
    return mv[..., [names.index(f"e{i}") for i in (1, 2, 3)]]


def extract_objects(
    algebra: Algebra, mv: Tensor, n_points: int, n_vectors: int
) -> tuple[Tensor | None, Tensor | None]:
    """The first ``n_points`` channels of ``mv (..., C, dim)`` as points, the next ``n_vectors``
    as vectors (see :func:`_vector_part`): ``(..., n_points, 3)``, ``(..., n_vectors, 3)``."""
    objects = _module(algebra)
    points = objects.extract_point(mv[..., :n_points, :]) if n_points else None
    vectors = (
        _vector_part(algebra, mv[..., n_points : n_points + n_vectors, :]) if n_vectors else None
    )
    return points, vectors


@register_model("point-gatr")
class PointGATr(nn.Module):
    """:class:`GATr` on raw 3D inputs, with the interface of the baseline
    :class:`~noether.gatr.nets.transformer.Transformer`.

    Each token's points and vectors become multivector channels (:func:`embed_objects`), its
    scalars auxiliary scalar channels; the outputs are read back with :func:`extract_objects`.
    Equivariant under E(3) (rotations, reflections, translations); in EGA the points are centred
    on their mean over the real tokens and the mean is added back to the output points.

    Reflections in PGA: points and directions are trivectors, and a reflection (an odd versor)
    maps the embedded point of ``x`` to *minus* the embedded point of the reflected ``x``: in the
    network's (twisted) action a reflection also flips a point's orientation (the sign of its
    homogeneous weight), while the embedding always gives weight +1. With
    ``orientation="fixed"`` (GATr's convention, one pass) the model is exactly equivariant under
    rotations and translations, and under reflections up to that orientation.
    ``orientation="average"`` runs both orientations in one batched pass (twice the work) and
    averages the outputs, which makes it exactly E(3)-equivariant. EGA and CGA embed points and
    directions in grades whose action has no such sign, so they are E(3)-equivariant either way
    (the option does nothing there).

    Options (:class:`~noether.gatr.nets.config.PointGATrConfig`, or its fields as keywords):
        algebra: ``"ega"``, ``"pga"``, ``"ipga"`` or ``"cga"`` (or a Variant over one of them).
        in_points, in_vectors, in_scalars, out_points, out_vectors, out_scalars: per-token counts.
        hidden_mv_channels, hidden_s_channels, num_blocks, num_heads: the GATr.
        **gatr: further keyword arguments of :class:`GATr` (``multi_query``, ``dropout``,
            ``checkpoint``, ...).

    Forward as :class:`~noether.gatr.nets.transformer.Transformer`.
    """

    def __init__(self, config: PointGATrConfig | None = None, /, **options: Any) -> None:
        super().__init__()
        self.config = c = make_config(PointGATrConfig, config, options)
        orientation = c.orientation
        if orientation not in ("fixed", "average"):
            raise ValueError(
                f"PointGATr: orientation must be 'fixed' or 'average', got {orientation!r}"
            )
        self.variant = resolve_variant(c.algebra)
        self.average = orientation == "average" and self.variant.algebra.r == 1
        _module(self.variant.algebra)
        counts = (
            c.in_points,
            c.in_vectors,
            c.in_scalars,
            c.out_points,
            c.out_vectors,
            c.out_scalars,
        )
        if any(not isinstance(c, int) or c < 0 for c in counts):
            raise ValueError(f"PointGATr: input and output counts must be ints >= 0, got {counts}")
        if not sum(counts[:3]) or not sum(counts[3:]):
            raise ValueError(
                f"PointGATr: needs at least one input and one output, got inputs {counts[:3]} "
                f"and outputs {counts[3:]}"
            )
        self.inputs, self.outputs, self.check_finite = counts[:3], counts[3:], c.check_finite
        self.gatr = GATr(c.gatr(self.variant))

    def extra_repr(self) -> str:
        return config_repr(self.config)

    def forward(
        self,
        points: Tensor | None = None,
        vectors: Tensor | None = None,
        scalars: Tensor | None = None,
        mask: Tensor | None = None,
        *,
        token_mask: Tensor | None = None,
    ) -> PointOutputs:
        batch_shape, tokens, dtype = check_point_inputs(
            "PointGATr", points, vectors, scalars, self.inputs, self.check_finite, token_mask
        )
        # padded tokens may hold anything (NaN, inf): zeros from here on
        points, vectors, scalars = (zero_padding(t, token_mask) for t in (points, vectors, scalars))
        algebra = self.variant.algebra
        centre = None
        if algebra.r == 0 and algebra.q == 0 and points is not None:  # EGA: centre the points
            weight = (
                points.new_ones(*batch_shape, tokens)
                if token_mask is None
                else token_mask.to(dtype)
            )
            total = (points.sum(-2) * weight[..., None]).sum(-2)
            centre = total / (weight.sum(-1) * points.shape[-2]).clamp_min(1.0)[..., None]
            points = points - centre[..., None, None, :]
        if points is None and vectors is None:
            mv = torch.zeros(
                *batch_shape, tokens, 1, algebra.dim, dtype=dtype, device=scalars.device
            )
            mv[..., 0] = 1.0
        else:
            mv = embed_objects(algebra, points, vectors)
        p, v, _ = self.outputs
        if self.average:  # both orientations as a leading batch axis of 2
            stack = lambda t: None if t is None else torch.stack([t, t])  # noqa: E731
            out_mv, out_s = self.gatr(
                torch.stack([mv, -mv]), stack(scalars), mask, token_mask=stack(token_mask)
            )
            out_points, out_vectors = extract_objects(algebra, out_mv, p, v)
            mean = lambda t: None if t is None else t.mean(0)  # noqa: E731
            out_points, out_vectors, out_s = mean(out_points), mean(out_vectors), mean(out_s)
        else:
            out_mv, out_s = self.gatr(mv, scalars, mask, token_mask=token_mask)
            out_points, out_vectors = extract_objects(algebra, out_mv, p, v)
        if centre is not None and out_points is not None:
            out_points = out_points + centre[..., None, None, :]
        outputs = PointOutputs(out_points, out_vectors, out_s)
        if token_mask is not None:
            outputs = mask_outputs(outputs, token_mask)
        return outputs
