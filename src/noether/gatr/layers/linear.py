"""The equivariant linear layer on multivector channels plus auxiliary scalar channels."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from noether.algebra import Algebra
from noether.gatr.primitives.linear import equi_linear

__all__ = ["INITS", "EquiLinear"]

INITS = ("default", "unit_scalar")


class EquiLinear(nn.Module):
    """``(x, s) -> (y, s')``: equivariant on the multivectors, ordinary on the scalars.

    - multivectors: ``y[o] = sum_i sum_a weight[o, i, a] basis[a] x[i]`` over the algebra's
      ``n_basis`` equivariant maps (PGA 9, EGA 4, CGA 6), plus ``bias[o]`` on the scalar blade
      only (a constant elsewhere would not be equivariant);
    - scalars feed the scalar blade of ``y`` and the scalar outputs, and the scalar blade of
      ``x`` (an invariant) feeds the scalar outputs.

    Tensors are in the internal layout: ``x: (dim, n, in_mv)``, ``s: (n, in_s)``; outputs
    ``(dim, n, out_mv)`` and ``(n, out_s)`` (``None`` when ``out_s == 0``).

    Args:
        gain: scales the initial weights.
        init: ``"default"`` or ``"unit_scalar"`` (see :meth:`reset_parameters`).
    """

    def __init__(
        self,
        algebra: Algebra,
        in_mv: int,
        out_mv: int,
        in_s: int = 0,
        out_s: int = 0,
        *,
        bias: bool = True,
        gain: float = 1.0,
        init: str = "default",
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("in_mv", in_mv, 1),
            ("out_mv", out_mv, 1),
            ("in_s", in_s, 0),
            ("out_s", out_s, 0),
        ):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"EquiLinear: {name} must be an int >= {low}, got {value!r}")
        self.algebra = algebra
        self.in_mv, self.out_mv, self.in_s, self.out_s = in_mv, out_mv, in_s, out_s
        basis = algebra.linear_basis
        self.weight = nn.Parameter(torch.empty(out_mv, in_mv, basis.n_basis))
        self.bias = nn.Parameter(torch.zeros(out_mv)) if bias else None
        self.s_to_mv = nn.Parameter(torch.empty(out_mv, in_s)) if in_s else None
        self.mv_to_s = nn.Parameter(torch.empty(out_s, in_mv)) if out_s else None
        self.s_to_s = nn.Parameter(torch.empty(out_s, in_s)) if in_s and out_s else None
        self.bias_s = nn.Parameter(torch.zeros(out_s)) if out_s and bias else None
        self.reset_parameters(gain, init)

    def reset_parameters(self, gain: float = 1.0, init: str = "default") -> None:
        """Uniform weights, following the reference GATr's scheme (Brehmer et al. 2023).

        ``"default"``: each output component has variance about ``gain**2 / 3`` for
        unit-variance inputs: He-style ``fan_in`` scaling times the reference's extra factor
        ``1/sqrt(3)`` (that of PyTorch's default initialisation). A component reached by a
        grade-changing map as well as a grade projection splits its variance between the two.
        ``"unit_scalar"``: multivector outputs near the unit scalar, ``1 + y`` with ``y`` of half
        the default scale (the right factor of a geometric product then starts near the
        identity; the reference's ``almost_unit_scalar``). Needs ``bias``.

        With the variance-preserving scale of earlier versions (three times the variance per
        layer), the residual stream grew about 40-fold in two blocks at initialisation and
        n-body GATr runs stalled on a plateau seed by seed (docs/nbody.md, "Why runs stalled").
        """
        if init not in INITS:
            raise ValueError(f"EquiLinear: init must be one of {INITS}, got {init!r}")
        if init == "unit_scalar" and self.bias is None:
            raise ValueError("EquiLinear: init='unit_scalar' needs bias=True")
        scale = gain * (0.5 if init == "unit_scalar" else 1.0)
        grades = self.algebra.linear_basis.grades
        with torch.no_grad():
            for a, (g_in, g_out) in enumerate(grades):
                share = 1.0 if g_in == g_out else 0.5
                bound = scale * math.sqrt(share / self.in_mv)
                self.weight[:, :, a].uniform_(-bound, bound)
            fan_s = self.in_mv + self.in_s
            for p in (self.s_to_mv, self.mv_to_s, self.s_to_s):
                if p is not None:
                    bound = gain * math.sqrt(1.0 / fan_s)
                    p.uniform_(-bound, bound)
            if init == "unit_scalar":
                if self.s_to_mv is not None:
                    self.s_to_mv.mul_(0.5)
                self.bias.fill_(1.0)

    def forward(self, x: Tensor, s: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        if self.in_s and s is None:
            raise ValueError(f"EquiLinear expects {self.in_s} scalar channels, got none")
        return equi_linear(
            self.algebra,
            x,
            s if self.in_s else None,
            self.weight,
            self.bias,
            self.s_to_mv,
            self.mv_to_s,
            self.s_to_s,
            self.bias_s,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.algebra}, mv {self.in_mv}->{self.out_mv}, s {self.in_s}->{self.out_s}, "
            f"bias={self.bias is not None}"
        )
