"""The batch path's compiled helpers give exactly what Python gives.

``_digests`` (the input hashes) must equal :mod:`hashlib`'s sha256 and ``_exps``
(the overlay's odds factors) ``math.exp``: both are part of the decisions, and
the single-debtor path hashes and exponentiates with Python.
"""

from __future__ import annotations

import hashlib
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.scoring import core, reason_rows, records


def test_digests_equal_hashlib() -> None:
    """Digests of consecutive slices (empty ones, one byte, the rest) are hashlib's."""
    rng = np.random.default_rng(7)
    buf = rng.integers(0, 256, 100_000, dtype=np.uint8)
    ends = np.array([0, 1, 1, 74, 2_000, 45_555, 100_000], dtype=np.int64)
    raw = buf.tobytes()
    starts = [0, *ends[:-1].tolist()]
    expected = [hashlib.sha256(raw[a:b]).digest() for a, b in zip(starts, ends, strict=True)]
    got = records._digests(buf, ends)
    assert got.shape == (ends.size, 32)
    assert [bytes(r) for r in got] == expected


def test_exps_equal_math_exp() -> None:
    """The compiled exp (the odds factors of the overlay reason codes) is the C library's exp,
    bit for bit; a finite value beyond the float range raises as math.exp does."""
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.uniform(-5.0, 5.0, 200_000), rng.uniform(-745.0, 709.0, 50_000),
                             rng.standard_normal(50_000) * 1e-3,
                             [0.0, -0.0, 1e-300, 709.78, -745.2, np.inf, -np.inf, np.nan]])
    ref = np.array([math.exp(v) for v in values.tolist()])
    assert reason_rows._exps(values).view(np.int64).tolist() == ref.view(np.int64).tolist()
    with pytest.raises(OverflowError):
        reason_rows._exps(np.array([1.0, 710.0]))


def _top_reference(owner: np.ndarray, impact: np.ndarray, k: int) -> tuple[list[int], list[int]]:
    """The definition: lexsort by owner, decreasing impact, candidate order; cut at k."""
    order = np.lexsort((np.arange(owner.size), -impact, owner))
    so = owner[order]
    rank = np.arange(so.size) - np.searchsorted(so, so, side="left")
    keep = rank < k
    return order[keep].tolist(), rank[keep].tolist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from([0.5, 1.0, 2.0, 0.25, -0.0, 0.0,
                                                               np.nan, 3.5, 1e-9])),
                max_size=60),
       st.integers(0, 6))
def test_top_codes_equal_lexsort(cands: list[tuple[int, float]], k: int) -> None:
    """Per owner the first k by decreasing impact, earlier candidates first on ties
    (many ties, signed zeros, NaN last), in any candidate order."""
    owner = np.array([c[0] for c in cands], dtype=np.intp)
    impact = np.array([c[1] for c in cands], dtype=np.float64)
    top, rank = reason_rows._top_codes(owner, impact, 7, k)
    assert (top.tolist(), rank.tolist()) == _top_reference(owner, impact, k)


@pytest.mark.parametrize("values", [
    ["b", "a", "x", "b", "c", "a", "zz", "x", "a", "b"],  # text: hashed as is
    ["b", None, 3, "a", 3.0, "b", np.nan, "x", "a", True, "None", "3"],  # anything: str() first
    [np.str_("a"), "b", "a", np.str_("c"), "b", "a", "a", "b", "c"],
])
def test_lookup_is_table_of_str(values: list[object]) -> None:
    """``_lookup`` gives ``table[str(v)]`` (or the default) of each value on either
    path, and without a default raises the KeyError of the smallest missing text."""
    arr = np.array(values, dtype=object)
    table = {"a": 1, "b": 2, "None": 3, "3": 4, "True": 5}
    expect = [table.get(str(v), 0) for v in values]
    assert core._lookup(arr, table, 0).tolist() == expect
    missing = sorted({str(v) for v in values} - set(table))
    with pytest.raises(KeyError, match=re.escape(repr(missing[0]))):
        core._lookup(arr, table, None)
