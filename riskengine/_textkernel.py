"""Compiled passes over the buffers of Arrow text arrays (for :mod:`riskengine.validation`
and :mod:`riskengine._sortedjoin`).

Kernels compiled by numba on first use (and cached on disk beside this file) read a
text array as its offsets and bytes (:func:`text_buffers`):

- :func:`compare_bytes`: the order of two values (their bytes: Arrow's order, and
  Python's ``str`` order of the decoded text), called from the other kernels;
- :func:`text_steps`: how each value compares to the one before it;
- :func:`maybe_blank`: the values that may be empty or only whitespace: empty, or
  not starting with a printable ASCII character other than space;
- :func:`sorted_member`: membership in a sorted array by one merge pass.

They hold no Python objects and release the GIL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["text_buffers", "compare_bytes", "text_steps", "maybe_blank", "sorted_member", "warm_up"]

Offsets = npt.NDArray[np.int64]
Bytes = npt.NDArray[np.uint8]


def text_buffers(arr: Any) -> tuple[Offsets, Bytes]:
    """The ``len(arr) + 1`` offsets (int64) and the bytes of an Arrow ``string`` or
    ``large_string`` array, or of a chunked one (no copy of the bytes unless it has
    several chunks). Values of null slots are whatever the buffers hold there."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    wide = pa.types.is_large_string(arr.type)
    _, offs, data = arr.buffers()
    if offs is None:  # no values
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    stored = np.frombuffer(offs, dtype=np.int64 if wide else np.int32)
    offsets: Offsets = stored[arr.offset : arr.offset + len(arr) + 1].astype(np.int64, copy=False)
    raw: Bytes = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets, raw


@njit(cache=True, nogil=True)
def compare_bytes(data_a: Bytes, a0: int, a1: int, data_b: Bytes, b0: int, b1: int) -> int:
    """-1, 0 or 1 as ``data_a[a0:a1]`` is below, equal to or above ``data_b[b0:b1]``."""
    n = min(a1 - a0, b1 - b0)
    for k in range(n):
        x, y = data_a[a0 + k], data_b[b0 + k]
        if x != y:
            return -1 if x < y else 1
    la, lb = a1 - a0, b1 - b0
    return 0 if la == lb else (-1 if la < lb else 1)


@njit(cache=True, nogil=True)
def text_steps(offsets: Offsets, data: Bytes) -> npt.NDArray[np.int8]:
    """``out[i]``: -1, 0 or 1 as value ``i + 1`` is below, equal to or above value ``i``."""
    n = len(offsets) - 1
    out = np.zeros(max(n - 1, 0), dtype=np.int8)
    for i in range(n - 1):
        out[i] = compare_bytes(data, offsets[i + 1], offsets[i + 2], data, offsets[i],
                               offsets[i + 1])
    return out


@njit(cache=True, nogil=True)
def maybe_blank(offsets: Offsets, data: Bytes) -> npt.NDArray[np.bool_]:
    """Values that are empty or whose first byte is not printable ASCII (``!`` to ``~``):
    every value that is empty or only whitespace is among them."""
    n = len(offsets) - 1
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        out[i] = a == b or data[a] < 0x21 or data[a] > 0x7E
    return out


@njit(cache=True, nogil=True)
def sorted_member(offsets_a: Offsets, data_a: Bytes, offsets_b: Offsets,
                  data_b: Bytes) -> npt.NDArray[np.bool_]:
    """Whether each value of ``a`` is in ``b``; both non-decreasing (:func:`text_steps`
    never -1)."""
    n, m = len(offsets_a) - 1, len(offsets_b) - 1
    out = np.zeros(n, dtype=np.bool_)
    j = 0
    for i in range(n):
        a0, a1 = offsets_a[i], offsets_a[i + 1]
        c = 1
        while j < m:
            c = compare_bytes(data_a, a0, a1, data_b, offsets_b[j], offsets_b[j + 1])
            if c <= 0:
                break
            j += 1
        out[i] = j < m and c == 0
    return out


def warm_up() -> None:
    """Compile (or load from the disk cache) the kernels now (the batch job does it
    before forking its workers)."""
    offsets, data = np.zeros(2, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    text_steps(offsets, data)
    maybe_blank(offsets, data)
    sorted_member(offsets, data, offsets, data)
