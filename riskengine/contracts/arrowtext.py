"""Checks on Arrow text arrays shared by the features, the batch job and the comparison
of runs (Arrow kernels only: cheap to import from any layer)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["large_text", "strictly_increasing", "text_member"]


def large_text(values: Any) -> pa.Array:
    """Values (pandas, numpy, Arrow or a list) as one Arrow ``large_string`` array
    (missing values null; numbers as their text).

    Examples
    --------
    >>> large_text(pd.Series(["a", None])).to_pylist()
    ['a', None]
    """
    if isinstance(values, pa.ChunkedArray):
        arr: Any = values.combine_chunks()
    elif isinstance(values, pa.Array):
        arr = values
    else:
        arr = pa.array(pd.Series(values, copy=False), from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    return arr


def text_member(values: Any, among: Any) -> np.ndarray:
    """Whether each value is one of ``among``, as text: one Arrow hash lookup (missing:
    False).

    pandas' ``isin`` on Arrow-backed text turns each value of ``among`` into a Python
    scalar first: 14 s for 1M ids, where this takes a fraction of a second.

    Examples
    --------
    >>> text_member(["D1", "D2", None], ["D2", "D3"]).tolist()
    [False, True, False]
    """
    found = pc.is_in(large_text(values), value_set=large_text(among), skip_nulls=True)
    return np.asarray(found.fill_null(False), dtype=bool)


def strictly_increasing(arr: pa.Array | pa.ChunkedArray) -> bool:
    """Whether Arrow text has no missing value and each value is below the next (so none
    repeats): one comparison of the array with itself shifted by one.

    Examples
    --------
    >>> [strictly_increasing(pa.array(v)) for v in (["a", "b"], ["a", "a"], ["b", "a"],
    ...                                             ["a", None], [])]
    [True, False, False, False, True]
    """
    n = len(arr)
    if arr.null_count:
        return False
    return n < 2 or bool(pc.all(pc.less(arr.slice(0, n - 1), arr.slice(1))).as_py())
