"""Ids and keys: the id grammar, duplicate keys, and the fast paths on sorted text.

Columns are hashed into integer codes once per table (:class:`_CodeCache`);
membership, duplicate keys and the cross-table references all work on those
codes. Text sorted without missing values (the layout riskengine writes) is
numbered by its runs and a key strictly increasing has no duplicate, both read
from one comparison of a column with itself shifted by one (:func:`_steps`,
Arrow kernels); :func:`pandas.factorize` is the general path and gives the same
codes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.contracts.arrowtext import text_member
from riskengine.contracts.ids import ID_PATTERN, ID_RULE
from riskengine.contracts.schemas import TableContract
from riskengine.validation.errors import _Emitter, _parse_sentence


def _arrow_strings(s: pd.Series) -> pa.Array | None:
    """The Arrow array of an Arrow-backed string column (no copy), None for other dtypes."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        return pa.array(s.array)
    return None


def _isin(s: pd.Series, values: pd.Series | pd.Index) -> np.ndarray:
    """Membership of each value of ``s`` in ``values``, a bool array (missing: False).

    Arrow's ``is_in`` for arrow-backed strings: pandas' ``isin`` goes through
    Python objects there and is about ten times slower on large value sets.
    """
    if _arrow_strings(s) is not None:
        return text_member(s, values)
    return np.array(s.isin(values).to_numpy(dtype=bool, na_value=False))


def _text_steps(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """-1, 0 or 1 as each value of a text array without missing values is below, equal to
    or above the one before (Arrow compares text as bytes: Python's ``str`` order)."""
    n = len(arr)
    if n < 2:
        return np.zeros(0, dtype=np.int8)
    now, before = arr.slice(1), arr.slice(0, n - 1)
    up = np.asarray(pc.greater(now, before), dtype=np.int8)
    return up - np.asarray(pc.less(now, before), dtype=np.int8)


def _steps(s: pd.Series) -> np.ndarray | None:
    """-1, 0 or 1 as each row's value is below, equal to or above the row before.

    None when a value is missing or the dtype is neither Arrow-backed text
    (compared as bytes) nor a naive ``datetime64``.
    """
    arr = _arrow_strings(s)
    if arr is not None:
        return None if arr.null_count else _text_steps(arr)
    if isinstance(s.dtype, np.dtype) and s.dtype.kind == "M" and not s.isna().any():
        i8 = s.to_numpy().view("i8")
        return (i8[1:] > i8[:-1]).view(np.int8) - (i8[1:] < i8[:-1]).view(np.int8)
    return None


def _codes(s: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Dense integer codes of ``s`` (-1 where missing) and its distinct values.

    Codes follow the first appearance of each value (:func:`pandas.factorize`).
    Text sorted without missing values (the layout riskengine writes) is numbered
    by its runs instead of hashing every value: the same codes and values.
    """
    steps = _steps(s) if len(s) > 1 and _arrow_strings(s) is not None else None
    if steps is not None and not (steps < 0).any():
        new = steps > 0
        codes = np.zeros(len(s), dtype=np.int64)
        np.cumsum(new, out=codes[1:])
        first = np.flatnonzero(np.concatenate(([True], new)))
        return codes, pd.Series(s.array.take(first))
    codes, uniques = pd.factorize(s)
    return np.asarray(codes, dtype=np.int64), pd.Series(uniques)


def _unique_rows(frame: pd.DataFrame, key: Sequence[str]) -> bool:
    """Whether the rows are strictly increasing by ``key`` (``debtor_id`` first), or by
    one column of it, none missing: then no key repeats. False means not known (the rows
    may still be unique)."""
    if len(frame) < 2:
        return False
    steps = {k: _steps(frame[k]) for k in sorted(key, key=lambda k: k != "debtor_id")}
    if any(st is not None and (st > 0).all() for st in steps.values()):
        return True  # e.g. invoice ids increasing over a table keyed (supplier, invoice)
    tie = np.ones(len(frame) - 1, dtype=bool)  # all columns so far equal to the row before
    for st in steps.values():
        if st is None or (tie & (st < 0)).any():
            return False
        tie &= st == 0
    return not tie.any()


def _member(codes: np.ndarray, uniques: pd.Series, values: pd.Series | pd.Index) -> np.ndarray:
    """``isin`` through codes: hash the distinct values only (missing: False)."""
    return np.append(_isin(uniques, values), False)[codes]


class _CodeCache:
    """Integer codes of a frame's columns, computed once (string hashing is the slow part)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.cache: dict[str, tuple[np.ndarray, pd.Series]] = {}

    def codes(self, column: str) -> tuple[np.ndarray, pd.Series]:
        if column not in self.cache:
            self.cache[column] = _codes(self.frame[column])
        return self.cache[column]


def _bad_ids(values: pd.Series) -> np.ndarray:
    """Whether each (non-missing) text value breaks the id grammar: one Arrow regex pass."""
    arr = _arrow_strings(values)
    if arr is None:
        arr = pa.array(values.astype("str").to_numpy(dtype=object), pa.large_string())
    ok = pc.match_substring_regex(arr, ID_PATTERN)
    return ~np.asarray(ok.fill_null(True), dtype=bool)


#: Id columns whose codes the cross-table checks compute anyway.
_REFERENCES = ("debtor_id", "supplier_id")


def _check_ids(
    contract: TableContract, present: frozenset[str], emit: _Emitter, cache: _CodeCache
) -> None:
    """``bad_id`` for every id outside the grammar: Arrow's regex kernel on the distinct
    values of a reference column, on every value of the others (invoice and record ids are
    mostly distinct: coding them would cost more than the regex saves)."""
    fix = f"Correct the {emit.labels.noun} or remove it."
    rule = f"an identifier of {ID_RULE}"
    for col in contract.columns:
        if not col.identifier or col.name not in present:
            continue
        values = emit.frame[col.name]
        if col.name in _REFERENCES or _arrow_strings(values) is None:
            codes, uniques = cache.codes(col.name)
            bad = np.append(_bad_ids(uniques), False)[codes]  # code -1 (missing): False
        else:
            bad = _bad_ids(values)  # missing: not a bad id (missing_value covers it)
        emit(bad, col.name, "bad_id", _parse_sentence(col.name, rule, fix))


def _check_key(
    frame: pd.DataFrame,
    contract: TableContract,
    present: frozenset[str],
    emit: _Emitter,
    cache: _CodeCache,
) -> None:
    key = list(contract.key)
    if not key or not set(key) <= present or frame.empty or _unique_rows(frame, key):
        return
    def key_codes(name: str) -> tuple[np.ndarray, int]:
        # a nullable key column (insurer_limits.supplier_id): missing is a value of its own
        got, uniques = cache.codes(name)
        if contract.column(name).nullable:
            return np.where(got < 0, len(uniques), got), len(uniques) + 1
        return got, len(uniques)

    codes, span = key_codes(key[0])
    for k in key[1:]:  # combine the columns' codes pairwise; -1 where any part is missing
        other, width = key_codes(k)
        known = (codes >= 0) & (other >= 0)
        combined = np.full(len(codes), -1, dtype=np.int64)
        if span * width <= 4 * len(codes) + 1024:  # small: count directly
            combined[known] = codes[known] * width + other[known]
            span *= width
        else:  # re-densify so that the product never overflows
            combined[known], dense = pd.factorize(codes[known] * width + other[known])
            span = len(dense)
        codes = combined
    size = np.append(np.bincount(codes[codes >= 0], minlength=span), 0)  # code -1 -> size 0
    mask = size[codes] > 1
    if not mask.any():
        return
    counts = size[codes[mask]].tolist()
    table, cols = contract.name, ", ".join(key)
    emit(
        mask,
        ",".join(key),
        "duplicate_key",
        lambda s, w, v, x: (
            f"{s}: {x} records of table '{table}' share the key ({cols}) = ({repr(v)[1:-1]}); "
            f"each key must appear once. Keep one and remove the others."
        ),
        values=emit.labels.at(np.flatnonzero(mask)).record,
        extra=counts,
    )
