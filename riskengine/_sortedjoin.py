"""Outer join of two key lists sorted by (debtor, supplier) text, compiled.

Kernels compiled by numba on first use (and cached on disk beside this file):
:func:`merge_sorted_pairs` walks both lists once, comparing the keys' bytes
(:func:`riskengine._textkernel.compare_bytes`: the order of Python's and Arrow's
text), and gives the row of each side for every key of the union, in key order: the rows of
``pandas.merge(how="outer", sort=True)`` on two lists of distinct keys, without
hashing or sorting them. A list that is not strictly increasing (a key out of
order or repeated) is reported, not joined: the caller then takes the general
way. The kernels hold no Python objects and release the GIL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from numba import njit

from riskengine._textkernel import compare_bytes, text_buffers

__all__ = ["merge_sorted_pairs"]


@njit(cache=True, nogil=True)
def _increasing(first_off: Any, first: Any, second_off: Any, second: Any, rows: Any
                ) -> bool:  # pragma: no cover - compiled
    """Whether the (first, second) keys of ``rows`` (in that order) strictly increase."""
    for r in range(1, rows.shape[0]):
        i, j = rows[r - 1], rows[r]
        c = compare_bytes(first, first_off[i], first_off[i + 1], first, first_off[j],
                          first_off[j + 1])
        if c == 0:
            c = compare_bytes(second, second_off[i], second_off[i + 1], second, second_off[j],
                         second_off[j + 1])
        if c >= 0:
            return False
    return True


@njit(cache=True, nogil=True)
def _merge(l_off: Any, l_first: Any, l2_off: Any, l_second: Any, left_rows: Any,
           r_off: Any, r_first: Any, r2_off: Any, r_second: Any, right_rows: Any,
           li: Any, ri: Any) -> int:  # pragma: no cover - compiled
    """Rows of :func:`merge_sorted_pairs` (into ``li`` and ``ri``); how many keys.

    (The keys are passed as separate arrays, not as tuples: a tuple of arrays
    makes every access several times slower.)"""
    i = j = k = 0
    n_l, n_r = left_rows.shape[0], right_rows.shape[0]
    while i < n_l or j < n_r:
        if i == n_l:
            c = 1
        elif j == n_r:
            c = -1
        else:
            a, b = left_rows[i], right_rows[j]
            c = compare_bytes(l_first, l_off[a], l_off[a + 1], r_first, r_off[b], r_off[b + 1])
            if c == 0:
                c = compare_bytes(l_second, l2_off[a], l2_off[a + 1], r_second, r2_off[b],
                             r2_off[b + 1])
        li[k] = left_rows[i] if c <= 0 else -1
        ri[k] = right_rows[j] if c >= 0 else -1
        i += c <= 0
        j += c >= 0
        k += 1
    return k


def merge_sorted_pairs(left: tuple[pa.Array, pa.Array], left_pairs: np.ndarray,
                       left_rows: np.ndarray, right: tuple[pa.Array, pa.Array]
                       ) -> tuple[np.ndarray, np.ndarray] | None:
    """Outer join of the (first, second) text keys of two tables, in key order.

    Parameters
    ----------
    left, right : tuple of pyarrow.Array
        The two key columns of each side (``large_string``, no missing value).
    left_pairs : numpy.ndarray of int64
        The left rows that are keys (in order): they must be strictly increasing.
    left_rows : numpy.ndarray of int64
        The left rows joined (a subsequence of ``left_pairs``).
    right : tuple of pyarrow.Array
        Every right row is joined; they must be strictly increasing.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray) or None
        For each key of the union, in key order, its left row and its right row
        (-1: not on that side); None when a side's keys are not strictly increasing.
    """
    lk = (*text_buffers(left[0]), *text_buffers(left[1]))
    rk = (*text_buffers(right[0]), *text_buffers(right[1]))
    right_rows = np.arange(len(right[0]), dtype=np.int64)
    if not _increasing(*lk, np.ascontiguousarray(left_pairs, dtype=np.int64)) or \
            not _increasing(*rk, right_rows):
        return None
    n = len(left_rows) + len(right_rows)
    li, ri = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    k = _merge(*lk, np.ascontiguousarray(left_rows, dtype=np.int64), *rk, right_rows, li, ri)
    return li[:k], ri[:k]

