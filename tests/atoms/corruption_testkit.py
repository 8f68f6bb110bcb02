"""Random damage for the readers' property tests (hypothesis): bytes and arrays."""

from __future__ import annotations

import h5py
import numpy as np
from hypothesis import strategies as st


def corrupt_bytes(
    data: st.DataObject, raw: bytes, where: list[tuple[int, int]] | None = None
) -> bytes:
    """Truncated at a random byte (0: empty), or one to three bytes flipped (inside the byte
    ranges ``where`` if given: ``[(start, stop), ...]``)."""
    if data.draw(st.booleans(), label="truncate"):
        return raw[: data.draw(st.integers(0, len(raw) - 1), label="keep")]
    out = bytearray(raw)
    spans = where or [(0, len(raw))]
    for _ in range(data.draw(st.integers(1, 3), label="flips")):
        start, stop = data.draw(st.sampled_from(spans), label="span")
        at = data.draw(st.integers(start, stop - 1), label="at")
        out[at] ^= data.draw(st.integers(1, 255), label="xor")
    return bytes(out)


def hdf5_data_bytes(path) -> list[tuple[int, int]]:
    """The byte ranges of an HDF5 file's raw data (chunks, or contiguous storage) — not its
    headers: the HDF5 library itself can crash (a segfault, seen reading an attribute) on a
    damaged header of a file without metadata checksums, which no reader above it can catch."""
    spans: list[tuple[int, int]] = []

    def visit(name, obj) -> None:
        if not isinstance(obj, h5py.Dataset) or obj.id.get_storage_size() == 0:
            return
        if obj.chunks is None:
            offset = obj.id.get_offset()
            if offset is not None:
                spans.append((offset, offset + obj.id.get_storage_size()))
            return
        for k in range(obj.id.get_num_chunks()):
            info = obj.id.get_chunk_info(k)
            spans.append((info.byte_offset, info.byte_offset + info.size))

    with h5py.File(path, "r") as file:
        file.visititems(visit)
    return spans


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
