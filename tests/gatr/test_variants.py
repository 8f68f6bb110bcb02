"""Variant names resolve to algebras and switches; bad names are refused with the accepted ones."""

from __future__ import annotations

import pytest

from noether.algebra import CGA, EGA, PGA, Algebra
from noether.gatr import VARIANTS, Variant, resolve_variant


def test_names():
    assert resolve_variant("ega") == Variant("ega", EGA, join=False, distance=False)
    assert resolve_variant("PGA") == Variant("pga", PGA, join=True, distance=False)
    assert resolve_variant("ipga").distance and resolve_variant("ipga").algebra == PGA
    assert resolve_variant("cga").algebra == CGA
    assert set(VARIANTS) == {"ega", "pga", "ipga", "cga"}


def test_algebras_and_variants():
    assert resolve_variant(PGA).name == "pga"
    generic = resolve_variant(Algebra(2, 0, 1))
    assert generic.join and not generic.distance
    assert not resolve_variant(Algebra(1, 3, 0)).join
    v = Variant("mine", PGA, join=False, distance=True)
    assert resolve_variant(v) is v


def test_errors():
    with pytest.raises(ValueError, match=r"unknown GATr variant 'qga'.*'ega'"):
        resolve_variant("qga")
    with pytest.raises(ValueError, match="projective algebra"):
        Variant("bad", CGA, join=False, distance=True)
    with pytest.raises(ValueError, match="r <= 1"):
        Variant("bad", Algebra(2, 0, 2), join=True, distance=False)
