"""The batch path's compiled helpers give exactly what Python gives.

``riskengine._numtext.number_texts`` (the reason-code numbers) must equal ``format(v, ".4g")`` and
``format(v, ".2f")`` character for character, and ``_digests`` (the input hashes)
must equal :mod:`hashlib`'s sha256: both are part of the decisions, and the
single-debtor path formats and hashes with Python.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine import engine as E
from riskengine._numtext import number_texts

# Hand-picked values around the kernel's edges: rounding ties (exact in binary and
# not), carries into a new decade (9999.5 -> 1e+04), the fixed/scientific switch at
# 1e-4 and 1e4, the ends of the exact powers of ten (1e22, 1e23), zeros of both
# signs, subnormals, huge values and non-finite ones.
EDGES = [0.0, -0.0, 12345.0, -12345.0, 1.2345, 0.00012345, 9999.5, 99995.0, 0.5, 1e-5,
         1e-4, 9.9995e-5, 0.00009999, 1000.0, 10000.0, 99999.0, 1e16, 1e-22, 1e22, 1e23,
         123456789.0, 5e-324, 2.2e-308, 1e300, -1e300, 1.0005, 2.675, 1.005, 0.125, 0.375,
         8.5, 0.015, 0.005, 999999.995, 1e6, 3.14159, np.nan, np.inf, -np.inf]


def _texts(values: np.ndarray, mode: int) -> list[str]:
    out: list[str] = number_texts(values, mode).to_pylist()
    return out


def _cases() -> list[np.ndarray]:
    rng = np.random.default_rng(20260630)
    n = 20_000
    ints = rng.integers(0, 10**7, n).astype(np.float64)
    return [
        np.asarray(EDGES, dtype=np.float64),
        rng.standard_normal(n) * 10.0 ** rng.integers(-8, 9, n),
        (rng.integers(0, 2**63, n, dtype=np.int64) * rng.choice([1, -1], n)).view(np.float64),
        np.round(rng.standard_normal(n) * 10.0 ** rng.integers(-3, 7, n), 3),
        ints, ints / 100, ints / 1000 + 0.0005, ints / 1000 + 0.005,
        np.exp(rng.random(n) * 20),
    ]


@pytest.mark.parametrize("mode,spec", [(0, ".4g"), (1, ".2f")])
def test_number_texts_equal_python_format(mode: int, spec: str) -> None:
    """Each value's text is ``format(v, spec)`` (Python's correctly rounded formatting)."""
    for values in _cases():
        assert _texts(values, mode) == [format(v, spec) for v in values.tolist()]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=50))
def test_number_texts_any_float(values: list[float]) -> None:
    """Property: any floats, both formats, as Python formats them."""
    a = np.asarray(values, dtype=np.float64)
    for mode, spec in ((0, ".4g"), (1, ".2f")):
        assert _texts(a, mode) == [format(v, spec) for v in values]


def test_number_texts_empty() -> None:
    assert _texts(np.zeros(0), 0) == []


def test_digests_equal_hashlib() -> None:
    """Digests of slices (empty ones, overlapping ones, one whole buffer) are hashlib's."""
    rng = np.random.default_rng(7)
    buf = rng.integers(0, 256, 100_000, dtype=np.uint8)
    starts = np.array([0, 0, 10, 500, 0, 99_999, 64, 40_000], dtype=np.int64)
    ends = np.array([0, 1, 74, 2_000, 100_000, 100_000, 64, 45_555], dtype=np.int64)
    raw = buf.tobytes()
    expected = [hashlib.sha256(raw[a:b]).digest() for a, b in zip(starts, ends, strict=True)]
    got = E._digests(buf, starts, ends)
    assert got.shape == (starts.size, 32)
    assert [bytes(r) for r in got] == expected
