"""Random damage for the readers' property tests (hypothesis): bytes and arrays."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def corrupt_bytes(data: st.DataObject, raw: bytes) -> bytes:
    """Truncated at a random byte (0: empty), or one to three bytes flipped."""
    if data.draw(st.booleans(), label="truncate"):
        return raw[: data.draw(st.integers(0, len(raw) - 1), label="keep")]
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3), label="flips")):
        at = data.draw(st.integers(0, len(raw) - 1), label="at")
        out[at] ^= data.draw(st.integers(1, 255), label="xor")
    return bytes(out)


def damaged_array(data: st.DataObject, value: np.ndarray) -> np.ndarray:
    """``value`` with a wrong dtype, a wrong shape, or a NaN or inf in it: never valid."""
    value = np.asarray(value)
    kinds = ["strings", "complex", "shape"] if value.dtype.kind in "biuf" else ["numbers", "shape"]
    if value.dtype.kind == "f" and value.size:
        kinds.append("nonfinite")
    if value.dtype.kind in "iu":
        kinds.append("float")
    kind = data.draw(st.sampled_from(kinds), label="damage")
    if kind == "strings":
        return value.astype(str) if value.size else np.array(["x"])
    if kind == "numbers":
        return np.zeros(value.shape)
    if kind == "complex":
        return value.astype(complex) + 1j
    if kind == "float":
        return value + 0.5
    if kind == "nonfinite":
        out = value.astype(np.float64).copy()
        out.flat[data.draw(st.integers(0, out.size - 1), label="at")] = data.draw(
            st.sampled_from([np.nan, np.inf, -np.inf]), label="bad"
        )
        return out
    shapes = [value[None, None]]
    if value.ndim and value.shape[0] > 1:
        shapes.append(value[:-1])
    if value.ndim > 1 and value.shape[-1] > 1:
        shapes.append(value[..., :-1])
    return data.draw(st.sampled_from(shapes), label="shape")
