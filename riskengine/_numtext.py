"""Numbers as text, fast: Python's ``format(v, ".4g")`` and ``format(v, ".2f")`` of
whole arrays, as Arrow text (the numbers of the batch path's reason-code texts).

A compiled pass (numba, cached on disk beside this module) writes the digits of
every value whose correctly rounded result it can prove: the value is scaled
by an exact power of ten in one correctly rounded step, and a value within
1e-6 of a rounding tie, NaN, an infinity or a magnitude outside the pass's
range is left to Python's ``format``. ``tests/test_engine_batch_text.py``
checks the result against ``format`` on edge values, random values and random
bit patterns.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["number_texts"]

FloatArray = npt.NDArray[np.float64]

_NUM_WIDTH = 24  # bytes per formatted number in the kernel's output rows


def number_texts(values: FloatArray, mode: int) -> Any:
    """``format(v, ".4g")`` (``mode`` 0) or ``format(v, ".2f")`` (``mode`` 1) of each
    value, as Arrow text.

    A compiled pass (:func:`_format_numbers`) writes the text of every value whose
    correctly rounded digits it can prove; the few it cannot (a rounding tie within
    1e-6, NaN, infinities, magnitudes out of its range) are formatted by Python.
    tests/test_engine_batch_text.py checks it against ``format`` on millions of values.
    """
    import pyarrow as pa

    v = np.ascontiguousarray(values, dtype=np.float64)
    n = v.shape[0]
    out = np.zeros((n, _NUM_WIDTH), dtype=np.uint8)
    lens = np.zeros(n, dtype=np.int64)
    fallback = np.zeros(n, dtype=np.bool_)
    if n:
        _format_kernel()(v, mode, out, lens, fallback)
    spec = ".4g" if mode == 0 else ".2f"
    for i in np.flatnonzero(fallback).tolist():
        b = format(float(v[i]), spec).encode("ascii")
        if len(b) > _NUM_WIDTH:  # a huge number in fixed notation: all by Python
            return pa.array([format(x, spec) for x in v.tolist()], type=pa.string())
        out[i, :len(b)] = np.frombuffer(b, dtype=np.uint8)
        lens[i] = len(b)
    data = out[np.arange(_NUM_WIDTH) < lens[:, None]]  # row-major: the texts end to end
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lens, out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(data.tobytes())])


def _format_numbers(values: Any, mode: int, out: Any, lens: Any,
                    fallback: Any) -> None:  # pragma: no cover - compiled
    """Kernel of :func:`_number_texts` (compiled by numba, see :func:`_format_kernel`).

    Row ``i`` of ``out`` gets the ASCII text of ``values[i]`` (``lens[i]`` bytes).
    The value is scaled to four significant digits (``.4g``) or to hundredths
    (``.2f``) by one exact power of ten, a single correctly rounded operation: its
    error (under 1e-12 here) cannot move the rounding unless the fraction is within
    1e-6 of one half, and those values (possible ties) are flagged in ``fallback``
    and left to Python, as are non-finite values and magnitudes out of range.
    """
    p10 = np.empty(23)
    p = 1.0
    for i in range(23):
        p10[i] = p
        p *= 10.0
    for i in range(values.shape[0]):
        v = values[i]
        at = 0
        if not np.isfinite(v):
            fallback[i] = True
            continue
        neg = v < 0 or (v == 0 and math.copysign(1.0, v) < 0)
        a = -v if neg else v
        if mode == 1:
            if a >= 1e6:
                fallback[i] = True
                continue
            s = a * 100.0
            q = math.floor(s)
            f = s - q
            if abs(f - 0.5) < 1e-6:
                fallback[i] = True
                continue
            r = q + (1 if f > 0.5 else 0)
            if neg:
                out[i, at] = 45
                at += 1
            ip = r // 100
            # integer part digits
            nd = 1
            t = ip
            while t >= 10:
                t //= 10
                nd += 1
            for k in range(nd - 1, -1, -1):
                out[i, at + k] = 48 + ip % 10
                ip //= 10
            at += nd
            out[i, at] = 46
            out[i, at + 1] = 48 + (r // 10) % 10
            out[i, at + 2] = 48 + r % 10
            lens[i] = at + 3
            continue
        # mode 0: '%.4g'
        if a == 0.0:
            if neg:
                out[i, 0] = 45
                out[i, 1] = 48
                lens[i] = 2
            else:
                out[i, 0] = 48
                lens[i] = 1
            continue
        if a < 1e-290 or a > 1e290:
            fallback[i] = True
            continue
        e = int(math.floor(math.log10(a)))
        ok = False
        s = 0.0
        for _ in range(3):
            k = 3 - e
            if k > 22 or k < -22:
                break
            s = a * p10[k] if k >= 0 else a / p10[-k]
            if s < 1000.0:
                e -= 1
            elif s >= 10000.0:
                e += 1
            else:
                ok = True
                break
        if not ok:
            fallback[i] = True
            continue
        q = math.floor(s)
        f = s - q
        if abs(f - 0.5) < 1e-6:
            fallback[i] = True
            continue
        r = q + (1 if f > 0.5 else 0)
        if r == 10000:
            r = 1000
            e += 1
        d0 = r // 1000
        d1 = (r // 100) % 10
        d2 = (r // 10) % 10
        d3 = r % 10
        nsig = 4 if d3 else (3 if d2 else (2 if d1 else 1))
        if neg:
            out[i, at] = 45
            at += 1
        if -4 <= e < 4:
            if e < 0:
                out[i, at] = 48
                out[i, at + 1] = 46
                at += 2
                for _ in range(-e - 1):
                    out[i, at] = 48
                    at += 1
                for j in range(nsig):
                    dj = d0 if j == 0 else (d1 if j == 1 else (d2 if j == 2 else d3))
                    out[i, at] = 48 + dj
                    at += 1
            else:
                for j in range(max(nsig, e + 1)):
                    if j == e + 1:
                        out[i, at] = 46
                        at += 1
                    dj = d0 if j == 0 else (d1 if j == 1 else (d2 if j == 2 else d3))
                    out[i, at] = 48 + dj
                    at += 1
        else:
            for j in range(nsig):
                if j == 1:
                    out[i, at] = 46
                    at += 1
                dj = d0 if j == 0 else (d1 if j == 1 else (d2 if j == 2 else d3))
                out[i, at] = 48 + dj
                at += 1
            out[i, at] = 101
            out[i, at + 1] = 45 if e < 0 else 43
            at += 2
            x = -e if e < 0 else e
            nd = 2 if x < 100 else 3
            for k in range(nd - 1, -1, -1):
                out[i, at + k] = 48 + x % 10
                x //= 10
            at += nd
        lens[i] = at



@functools.cache
def _format_kernel() -> Any:
    """:func:`_format_numbers` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_format_numbers)
