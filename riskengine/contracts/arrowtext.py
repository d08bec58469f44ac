"""Checks on Arrow text arrays shared by the features, the batch job and the comparison
of runs (Arrow kernels only: cheap to import from any layer)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["strictly_increasing"]


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
