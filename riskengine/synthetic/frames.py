"""Array helpers of the SYNTHETIC generator and the assembly of contract frames.

Seeded streams, row expansion, categorical draws, ids, dates, category codes,
and :func:`contract_dtypes` / ``_frame``: arrays in, a frame with exactly the
contract's columns and dtypes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from riskengine.contracts.schemas import CONTRACTS, REFERENCE_TABLES

__all__ = ["contract_dtypes"]

_F = np.ndarray  # arrays of float64 / int64 below; kept loose for readability
# One child stream per stage; new stages are appended (a child depends on its position
# only, so the earlier stages draw the same numbers).
_STREAMS = ("latent", "debtors", "statements", "adverse", "suppliers", "exposures", "invoices",
            "fx", "insurers", "assessment", "history")


# --- small helpers -------------------------------------------------------------------


def _expit(x: _F) -> _F:
    return 1.0 / (1.0 + np.exp(-x))


def _rngs(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(c) for name, c in zip(_STREAMS, children, strict=True)}


def _expand(counts: _F) -> tuple[_F, _F, _F]:
    """Owner index of each expanded row, its position within the owner, owner start rows."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(counts.size), counts)
    pos = np.arange(owner.size) - starts[owner]
    return owner, pos, starts


def _choice_rows(rng: np.random.Generator, probs: _F) -> _F:
    """One categorical draw per row of a (rows x k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1)) * cum[:, -1:]
    return np.minimum((cum < u).sum(axis=1), probs.shape[1] - 1)


def _ids(prefix: str, n: int, width: int) -> pd.api.extensions.ExtensionArray:
    """``prefix`` + zero-padded 0 … n-1, as a pandas ``str`` array.

    Built as one fixed-width ASCII buffer (a loop over digit positions, not rows).
    """
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    length = head.size + width
    nums = np.arange(n, dtype=np.int64)
    buf = np.empty((n, length), dtype=np.uint8)
    buf[:, : head.size] = head
    for j in range(width):
        buf[:, length - 1 - j] = 48 + (nums // 10**j) % 10
    offsets = np.arange(n + 1, dtype=np.int64) * length
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf))
    return pd.array(arr, dtype="str")


def _width(n: int) -> int:
    return max(6, len(str(max(n - 1, 0))))


def _str(values: _F | Sequence[str], idx: _F | None = None) -> pd.api.extensions.ExtensionArray:
    arr = np.asarray(values, dtype=object)
    return pd.array(arr if idx is None else arr[idx], dtype="str")


def _vocab(values: Sequence[str], codes: _F) -> pd.api.extensions.ExtensionArray:
    """``values[codes]`` as a pandas ``str`` array: one Arrow take from a small vocabulary."""
    vocabulary = pa.array(list(values), type=pa.large_string())
    return pd.array(vocabulary.take(pa.array(np.asarray(codes, dtype=np.int64))), dtype="str")


def _dates(days: _F, missing: _F | None = None) -> _F:
    """Days since 1970-01-01 → datetime64[ns]; ``missing`` rows become NaT."""
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    if missing is not None:
        out[np.asarray(missing, dtype=bool)] = np.datetime64("NaT")
    return out.astype("datetime64[ns]")


def _month_end_days(year: _F, month: _F) -> _F:
    """Days since epoch of the last day of (year, month)."""
    months = (np.asarray(year, dtype=np.int64) - 1970) * 12 + (
        np.asarray(month, dtype=np.int64) - 1
    )
    return (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1


def contract_dtypes(table: str) -> dict[str, Any]:
    """The pandas dtype of every declared column of ``table``.

    Parameters
    ----------
    table : str
        A name in :data:`riskengine.contracts.schemas.CONTRACTS` or
        :data:`~riskengine.contracts.schemas.REFERENCE_TABLES`.

    Returns
    -------
    dict
        Column name → dtype: ``"str"`` for identifiers, text and ``category``
        columns (values from the closed vocabulary), ``"float64"``,
        ``"Int64"`` (nullable integer), ``"datetime64[ns]"``, ``"bool"`` (``"boolean"``
        for a nullable flag).

    Notes
    -----
    These are the canonical dtypes of :mod:`riskengine.validation`'s clean
    frames, so a generated portfolio passes validation unchanged. Every
    ``int`` column of the contracts is nullable, hence ``Int64``.
    """
    kinds: dict[str, Any] = {
        "str": "str",
        "category": "str",
        "float": "float64",
        "int": "Int64",
        "date": "datetime64[ns]",
        "bool": "bool",
    }
    contract = CONTRACTS[table] if table in CONTRACTS else REFERENCE_TABLES[table]
    return {c.name: "boolean" if c.kind == "bool" and c.nullable else kinds[c.kind]
            for c in contract.columns}


@dataclass(frozen=True, slots=True)
class _Gather:
    """A column still to be gathered: ``source.take(index)`` (one take, after ordering).

    ``index=None`` marks a column that is already in the final row order.
    """

    source: Any
    index: _F | None


def _frame(
    table: str,
    cols: dict[str, Any],
    order: _F | None = None,
    *,
    base: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Assemble ``cols`` into a frame with exactly the contract columns and dtypes.

    ``order`` (a permutation) is applied to every column with plain numpy/arrow
    gathers; category columns arrive as integer codes into the allowed values
    and leave as ``str``.
    ``base`` is a frame already holding some of the columns (in contract order);
    the others are inserted around it without copying it.
    """
    dtypes = contract_dtypes(table)
    given = set(cols) | (set() if base is None else set(base.columns))
    # an optional column (required=False) that is not generated is all-missing
    absent = {k for k in dtypes if k not in given and not CONTRACTS[table].column(k).required}
    missing = set(dtypes) - given - absent
    extra = given - set(dtypes)
    if missing or extra:  # pragma: no cover - a programming error, caught by the tests
        raise AssertionError(f"{table}: missing {sorted(missing)}, extra {sorted(extra)}")
    out: dict[str, Any] = {}
    for name, dtype in dtypes.items():
        if name not in cols:
            continue
        values = cols[name]
        if isinstance(values, _Gather):
            if values.index is None:
                values = values.source
            else:
                index = values.index if order is None else values.index[order]
                values = values.source.take(index)
        elif order is not None:
            values = values[order] if isinstance(values, np.ndarray) else values.take(order)
        column = CONTRACTS[table].column(name)
        if column.kind == "category":
            vocabulary = pa.array(column.allowed, type=pa.large_string())
            values = pd.array(vocabulary.take(pa.array(np.asarray(values))), dtype="str")
        elif dtype == "str":
            values = pd.array(values, dtype="str") if isinstance(values, np.ndarray) else values
        elif dtype == "boolean":  # a nullable flag: a pandas extension array, not numpy's
            values = pd.array(np.asarray(values), dtype="boolean")
        elif isinstance(values, np.ndarray):
            values = values.astype(dtype, copy=False)
        out[name] = values
    if absent:
        n = len(base) if base is not None else len(next(iter(out.values()))) if out else 0
        for name in absent:
            out[name] = pd.Series(pd.array([None] * n, dtype=dtypes[name])) \
                if dtypes[name] in ("str", "boolean") else np.full(n, np.nan)
        out = {name: out[name] for name in dtypes if name in out}  # contract order
    if base is None:
        frame = pd.DataFrame(out)
    else:
        frame = base
        for i, name in enumerate(dtypes):
            if name in out:
                frame.insert(i, name, out[name])
    for name, dtype in dtypes.items():  # cheap no-op when already right; guards the contract
        if frame[name].dtype != dtype:
            frame[name] = frame[name].astype(dtype)
    return frame


def _codes(table: str, column: str, values: list[str] | tuple[str, ...]) -> _F:
    """Category codes of ``values`` in the contract's allowed list of ``column``."""
    allowed = list(CONTRACTS[table].column(column).allowed)
    return np.array([allowed.index(v) for v in values], dtype=np.int64)


def _optional_take(ids: Any, index: _F) -> pd.api.extensions.ExtensionArray:
    """``ids[index]`` as ``str``, missing where ``index < 0``."""
    if ids.size == 0:
        return pd.array(np.full(index.size, None, dtype=object), dtype="str")
    out = pd.Series(ids.take(np.maximum(index, 0)))
    return out.where(index >= 0).array


def _nullable_int(values: _F, missing: _F) -> pd.api.extensions.ExtensionArray:
    return pd.arrays.IntegerArray(
        np.asarray(values, dtype=np.int64), np.asarray(missing, dtype=bool)
    )


def _conform(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly the contract's columns of ``table``, in order, in its dtypes.

    For the tables the generator makes before the contracts declare them (the
    shared decisions of issue 16): a contract column the generator does not make is
    a programming error, raised at once.
    """
    dtypes = contract_dtypes(table)
    contract = CONTRACTS[table] if table in CONTRACTS else REFERENCE_TABLES[table]
    optional = {c.name for c in contract.columns if not c.required}
    missing = [c for c in dtypes if c not in frame.columns and c not in optional]
    if missing:  # pragma: no cover - a programming error, caught by the tests
        raise AssertionError(f"{table}: the generator makes no column {missing}")
    frame = frame.assign(**{c: pd.Series(np.nan, index=frame.index)
                            for c in dtypes if c not in frame.columns})  # optional: missing
    out = frame[list(dtypes)]
    for name, dtype in dtypes.items():
        if out[name].dtype != dtype:
            out[name] = out[name].astype(dtype)
    return out
