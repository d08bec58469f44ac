"""Lazy validation of input tables against the declared data contracts.

Every check is a column-wise boolean mask over the whole table; message strings
are built only for the rows that fail. All problems are collected at once and
returned as *error rows* with the columns of :data:`riskengine.contracts.schemas.ERROR_COLUMNS`
(``table, record, debtor_id, column, value, reason, message``).

Reason codes
------------
Table level (the whole table is rejected, no row of it is clean):

- ``missing_column``: a required column is absent.
- ``extra_column``: a column that the contract does not declare (or a declared
  column given twice). The table is *rejected*, not silently trimmed: an
  unexpected column usually means a renamed or shifted column, and rating on a
  misread table is worse than asking for a corrected file.
- ``unknown_table`` (portfolio only): a table name that is not a contract; ignored.

Row level (the row is invalid; in a portfolio its debtor is rejected whole):

- ``not_numeric``, ``not_integer``, ``not_date``, ``not_bool``: a value that
  does not parse as the declared kind (dates are ISO 8601, ``YYYY-MM-DD``).
- ``missing_value``: a missing (or blank) value in a non-nullable column.
- ``bad_id``: a value of an id column (declared ``identifier=True``) outside the
  id grammar of :mod:`riskengine.contracts.ids`, the one the HTTP API applies (``D,5``,
  ``' D-1 '`` with its spaces, a line break, more than 64 characters).
- ``negative``: a number below the declared ``ge`` bound of 0
  (``below_minimum`` for any other bound).
- ``unknown_category`` / ``unknown_currency``: a value outside the closed vocabulary.
- ``future_date``: a date after the reference (extraction) date.
- ``duplicate_key``: every row of a key that occurs more than once.
- ``date_order``: :data:`DATE_ORDER` broken, or an adverse record whose status
  and settlement date disagree.
- ``identity_broken``: an accounting identity of a statement (:data:`IDENTITIES`).
- ``unknown_debtor``, ``unknown_supplier`` (portfolio only): a reference to a
  debtor absent from the debtors table, or to a supplier that is absent from
  (or was rejected in) the suppliers table.
- ``debtor_rejected`` (portfolio only): one summary row per rejected debtor.

Canonical frames
----------------
Clean frames hold the contract's columns in declared order with a fresh
``RangeIndex``: ``str`` for identifiers, text and categories; ``datetime64[ns]``
(naive, day resolution) for dates; ``float64`` for money; ``bool`` for a
non-nullable flag (``boolean`` if nullable); ``int64`` for a non-nullable
integer, ``Int64`` for a nullable one (as :mod:`riskengine.synthetic` writes
it). An optional column that is absent comes back all-missing. Blank strings
count as missing. A date written as text must be exactly ``YYYY-MM-DD``
(:mod:`riskengine.contracts.dates`: ``31/12/2023``, ``June 2026``, ``2026-13-01`` and
text with a time of day are ``not_date``, never reinterpreted); a timestamp
column (Parquet) has its time of day dropped; a date outside the
``datetime64[ns]`` range (1677–2262) is ``not_date``.

Batch rule and record ids
-------------------------
:func:`validate_portfolio` rejects a debtor whole when any of its records is
invalid (see its Notes). ``record`` names the row by its key: ``"D-102
2023-12-31"`` for a statement, ``"S-1 INV-7"`` for an invoice (keyed per
supplier), ``"D-102 A-1"`` for an adverse record (keyed per debtor), ``"S-1 D-7"``
for an exposure; ``"row N"`` (0-based position in the input) when the key is
missing. Table-level rows have no record. Messages quote ids as Python literals
(``'D\\n6'``), so each stays on one line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.contracts import schemas
from riskengine.contracts.dates import iso_date_error, parse_date
from riskengine.contracts.ids import ID_PATTERN, ID_RULE
from riskengine.contracts.schemas import Column, TableContract
from riskengine.errors import InvalidInputError

__all__ = [
    "DATE_ORDER",
    "IDENTITIES",
    "ValidatedPortfolio",
    "validate_table",
    "check_identities",
    "validate_portfolio",
    "raise_if_errors",
]

#: Per table, pairs ``(later, earlier)``: when both are present, ``later`` must be on
#: or after ``earlier``.
DATE_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "invoices": (("due_date", "issue_date"), ("paid_date", "issue_date")),
    "adverse_records": (("settlement_date", "event_date"),),
}

#: Statement identities ``(total, left, sign, right)``: ``total = left + sign * right``.
IDENTITIES: tuple[tuple[str, str, int, str], ...] = (
    ("total_assets", "total_liabilities", 1, "equity"),
    ("ebit", "ebitda", -1, "depreciation_amortization"),
    ("gross_profit", "revenue", -1, "cost_of_sales"),
)

_NOUN = {
    "debtors": "debtor record",
    "suppliers": "supplier record",
    "statements": "statement",
    "adverse_records": "adverse record",
    "invoices": "invoice",
    "exposures": "exposure",
    "relations": "relation",
}
# table -> (column naming the record in a sentence, template); None: no column.
_WHERE: dict[str, tuple[str | None, str]] = {
    "debtors": (None, "in the debtors table"),
    "suppliers": (None, "in the suppliers table"),
    "statements": ("period_end", "in the {} statement"),
    "adverse_records": ("record_id", "in adverse record {!r}"),
    "invoices": ("invoice_id", "in invoice {!r}"),
    "exposures": ("supplier_id", "in the exposure to supplier {!r}"),
    "relations": ("supplier_id", "in the relation with supplier {!r}"),
}
_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")
_RULE = {
    "not_numeric": "a finite number",
    "not_integer": "a whole number",
    "not_date": "a date (YYYY-MM-DD, between 1677 and 2262)",
    "not_bool": "true or false",
}
_CANON = {
    "str": "str",
    "category": "str",
    "float": "float64",
    "int": "float64",
    "date": "datetime64[ns]",
    "bool": "boolean",
}


# --- error rows -------------------------------------------------------------------


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _text(s: pd.Series, pos: np.ndarray) -> list[str | None]:
    """Values of ``s`` at positions ``pos`` as strings (dates as YYYY-MM-DD), None if missing."""
    sub = s.iloc[pos]
    if pd.api.types.is_datetime64_any_dtype(sub.dtype):
        sub = sub.dt.strftime("%Y-%m-%d")
    return [None if _isna(v) else str(v) for v in sub.tolist()]


_Sentence = Callable[[str, str, Any, Any], str]


def _parse_sentence(name: str, rule: str, fix: str) -> _Sentence:
    return lambda s, w, v, x: f"{s}: {name} is {v!r} {w}; it must be {rule}. {fix}"


def _order_sentence(later: str, earlier: str, noun: str) -> _Sentence:
    return lambda s, w, v, x: (
        f"{s}: {later} {v} is before {earlier} {x} {w}; {later} must be on or after {earlier}. "
        f"Correct the dates or remove the {noun}."
    )


def _identity_sentence(
    total: str, left: str, op: str, right: str, pct: float, abs_tol: float
) -> _Sentence:
    return lambda s, w, v, x: (
        f"{s}: {total} is {x[0]} {w}, but {left} {op} {right} is {x[1]} ({x[2]} {op} {x[3]}); "
        f"the gap of {x[4]} exceeds the tolerance of {x[5]} ({pct:g}% of the larger side plus "
        f"{abs_tol:g}). Correct the statement or remove it."
    )


def _fixed_sentence(template: str, noun: str) -> _Sentence:
    """A ``str.format`` template with the fields ``s``, ``w``, ``v``, ``x`` and ``noun``."""
    return lambda s, w, v, x: template.format(s=s, w=w, v=v, x=x, noun=noun)


class _Lab(NamedTuple):
    record: list[str]
    debtor: list[str | None]
    subject: list[str]
    where: list[str]


class _Labels:
    """Readable names of the rows of one (coerced) table, built for error rows only."""

    def __init__(self, frame: pd.DataFrame, contract: TableContract) -> None:
        self.frame = frame
        self.table = contract.name
        self.key = contract.key
        self.noun = _NOUN.get(contract.name, "record")

    def _col(self, name: str, pos: np.ndarray) -> list[str | None]:
        if name in self.frame.columns:
            return _text(self.frame[name], pos)
        return [None] * len(pos)

    def at(self, pos: np.ndarray) -> _Lab:
        keys = [self._col(k, pos) for k in self.key]
        record = [
            " ".join(p if p is not None else "?" for p in row)
            if any(p is not None for p in row)
            else f"row {i}"
            for row, i in zip(zip(*keys, strict=True), pos.tolist(), strict=True)
        ]
        debtor = self._col("debtor_id", pos)
        if self.table == "suppliers":
            sid = self._col("supplier_id", pos)
            subject = [f"Supplier {s!r}" if s is not None else "Table 'suppliers'" for s in sid]
        elif "debtor_id" in self.frame.columns:
            subject = [
                f"Debtor {d!r}" if d is not None else f"Table '{self.table}'" for d in debtor
            ]
        else:
            subject = [f"Table '{self.table}', record {r!r}" for r in record]
        col, template = _WHERE.get(self.table, (None, ""))
        if col is None:
            where = [template or f"in {self.table} record {r!r}" for r in record]
        else:
            where = [
                template.format(v) if v is not None else f"in the {self.noun} at row {i}"
                for v, i in zip(self._col(col, pos), pos.tolist(), strict=True)
            ]
        return _Lab(record, debtor, subject, where)


class _Errors:
    """Accumulates the error rows of one table (with the row position, for ordering)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.rows: dict[str, list[Any]] = {c: [] for c in (*schemas.ERROR_COLUMNS, "_pos")}

    def add(
        self,
        pos: np.ndarray,
        lab: _Lab,
        column: str,
        values: list[str | None],
        reason: str,
        messages: list[str],
    ) -> None:
        n = len(pos)
        r = self.rows
        r["table"].extend([self.table] * n)
        r["record"].extend(lab.record)
        r["debtor_id"].extend(lab.debtor)
        r["column"].extend([column] * n)
        r["value"].extend(values)
        r["reason"].extend([reason] * n)
        r["message"].extend(messages)
        r["_pos"].extend(pos.tolist())

    def add_table(self, column: str, reason: str, message: str) -> None:
        for c, v in zip(
            schemas.ERROR_COLUMNS,
            (self.table, None, None, column, None, reason, message),
            strict=True,
        ):
            self.rows[c].append(v)
        self.rows["_pos"].append(-1)

    def __len__(self) -> int:
        return len(self.rows["_pos"])

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows)
        df = df.sort_values("_pos", kind="stable") if len(df) else df
        return _error_frame(df.drop(columns="_pos"))


def _error_frame(df: pd.DataFrame | None = None) -> pd.DataFrame:
    if df is None or df.empty:
        df = pd.DataFrame({c: [] for c in schemas.ERROR_COLUMNS})
    return df.astype("str").reset_index(drop=True)[list(schemas.ERROR_COLUMNS)]


# --- coercion ---------------------------------------------------------------------


@dataclass
class _Coerced:
    values: pd.Series
    missing: np.ndarray  # missing or blank in the input
    bad: list[tuple[np.ndarray, str]] = field(default_factory=list)  # (mask, reason)


def _blank(raw: pd.Series) -> np.ndarray:
    """Missing, or a string of only whitespace."""
    na = raw.isna().to_numpy(copy=True)
    if raw.dtype == "str" or raw.dtype == object:
        s = raw.astype("str")
        arr = _arrow_strings(s)
        if arr is not None:  # Arrow's Unicode is-space kernel
            empty = pc.or_(pc.equal(pc.binary_length(arr), 0), pc.utf8_is_space(arr))
            na |= np.asarray(empty.fill_null(False), dtype=bool)
        else:
            na |= s.str.strip().eq("").to_numpy(dtype=bool, na_value=False)
    return na


def _coerce_float(raw: pd.Series, integer: bool) -> _Coerced:
    if pd.api.types.is_bool_dtype(raw.dtype):  # True is not an amount
        missing = raw.isna().to_numpy(copy=True)
        return _Coerced(pd.Series(np.full(len(raw), np.nan)), missing, [(~missing, "not_numeric")])
    if pd.api.types.is_numeric_dtype(raw.dtype):
        vals = raw.to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(vals)
        bad = np.isinf(vals)  # neither missing nor finite
    else:
        missing = _blank(raw)
        vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = ~missing & ~np.isfinite(vals)
    values = pd.Series(np.where(bad, np.nan, vals) if bad.any() else vals)
    out = _Coerced(values, missing, [(bad, "not_numeric")])
    if integer:
        frac = ~missing & ~bad & (vals != np.floor(np.where(bad, 0.0, vals)))
        out.values = out.values.mask(frac)
        out.bad.append((frac, "not_integer"))
    return out


_NS_MIN, _NS_MAX = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")


def _strict_dates(raw: pd.Series, missing: np.ndarray) -> pd.Series:
    """Text cells exactly ``YYYY-MM-DD`` (:mod:`riskengine.contracts.dates`: ``01/06/2026``,
    ``June 2026``, ``2026-13-01`` or a timestamp become NaT, reported as ``not_date``);
    date objects in an object column (a Python caller's frame) as their day."""
    text = raw.astype("str").str.strip()
    iso = text.str.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fillna(False).to_numpy(dtype=bool)
    s = pd.to_datetime(text.where(iso), errors="coerce", format="%Y-%m-%d")
    rest = np.flatnonzero(~iso & ~missing)
    if raw.dtype == object and len(rest):
        values = raw.to_numpy()
        for i in rest:
            if iso_date_error(values[i]) is None and not isinstance(values[i], str):
                s.iat[i] = pd.Timestamp(parse_date(values[i]))
    return s


def _coerce_date(raw: pd.Series) -> _Coerced:
    missing = _blank(raw)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        s = raw
    elif pd.api.types.is_numeric_dtype(raw.dtype):  # no epoch guessing: not a date
        s = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    else:
        s = _strict_dates(raw, missing)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)
    oob = ((s < _NS_MIN) | (s > _NS_MAX)).to_numpy()
    if oob.any():
        s = s.mask(oob)
    s = s.astype("datetime64[ns]")
    i8 = s.to_numpy().view("i8")
    if (i8[s.notna().to_numpy()] % 86_400_000_000_000).any():
        s = s.dt.normalize()
    bad = ~missing & s.isna().to_numpy()
    return _Coerced(s.reset_index(drop=True), missing, [(bad, "not_date")])


def _coerce_bool(raw: pd.Series) -> _Coerced:
    missing = _blank(raw)
    if pd.api.types.is_bool_dtype(raw.dtype):
        vals = raw.astype("boolean")
        return _Coerced(vals.reset_index(drop=True), missing)
    s = raw.astype("str").str.strip().str.lower()
    true, false = s.isin(_TRUE).to_numpy(), s.isin(_FALSE).to_numpy()
    bad = ~missing & ~true & ~false
    vals = pd.Series(pd.array(np.where(true | false, true, False), dtype="boolean"))
    vals[~(true | false)] = pd.NA
    return _Coerced(vals, missing, [(bad, "not_bool")])


def _coerce(raw: pd.Series, col: Column) -> _Coerced:
    raw = raw.reset_index(drop=True)
    if col.kind in ("float", "int"):
        return _coerce_float(raw, integer=col.kind == "int")
    if col.kind == "date":
        return _coerce_date(raw)
    if col.kind == "bool":
        return _coerce_bool(raw)
    if isinstance(raw.dtype, pd.CategoricalDtype):  # convert the categories, then take
        raw = pd.Series(
            raw.cat.categories.astype("str").array.take(
                raw.cat.codes.to_numpy(dtype=np.intp), allow_fill=True
            )
        )
    missing = _blank(raw)
    s = raw.astype("str")
    if missing.any():
        s = s.mask(missing)
    return _Coerced(s, missing)


def _empty_column(col: Column, n: int) -> pd.Series:
    if col.kind in ("float", "int"):
        return pd.Series(np.full(n, np.nan))
    if col.kind == "date":
        return pd.Series(np.full(n, np.datetime64("NaT", "ns")))
    return pd.Series(pd.array([None] * n, dtype=_CANON[col.kind]))


def _isin(s: pd.Series, values: pd.Series | pd.Index) -> np.ndarray:
    """Membership of each value of ``s`` in ``values``, a bool array (missing: False).

    Arrow's ``is_in`` for arrow-backed strings: pandas' ``isin`` goes through
    Python objects there and is about ten times slower on large value sets.
    """
    arr = _arrow_strings(s)
    if arr is not None:
        value_set = pa.array(pd.array(values, dtype="str")).drop_null().cast(arr.type)
        return np.array(pc.is_in(arr, value_set=value_set).fill_null(False), dtype=bool)
    return np.array(s.isin(values).to_numpy(dtype=bool, na_value=False))


def _arrow_strings(s: pd.Series) -> pa.Array | None:
    """The Arrow array of an Arrow-backed string column (no copy), None for other dtypes."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        return pa.array(s.array)
    return None


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


def _empty_frame(contract: TableContract) -> pd.DataFrame:
    return pd.DataFrame({c.name: _empty_column(c, 0) for c in contract.columns})


def _finalise(frame: pd.DataFrame, contract: TableContract) -> pd.DataFrame:
    """Reset the index; ints become int64 (Int64 if nullable), non-nullable flags bool."""
    out = frame.reset_index(drop=True)
    casts = {
        c.name: {"int": "int64", "bool": "bool"}[c.kind] if not c.nullable else "Int64"
        for c in contract.columns
        if c.kind == "int" or (c.kind == "bool" and not c.nullable)
    }
    return out.astype(casts) if casts else out


def _reference(reference_date: Any) -> pd.Timestamp | None:
    if reference_date is None:
        return None
    return pd.Timestamp(parse_date(reference_date, "reference_date"))


# --- one table --------------------------------------------------------------------


class _CodeCache:
    """Integer codes of a frame's columns, computed once (string hashing is the slow part)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.cache: dict[str, tuple[np.ndarray, pd.Series]] = {}

    def codes(self, column: str) -> tuple[np.ndarray, pd.Series]:
        if column not in self.cache:
            self.cache[column] = _codes(self.frame[column])
        return self.cache[column]


@dataclass
class _Checked:
    contract: TableContract
    frame: pd.DataFrame  # every row, canonical columns, unparseable cells missing
    row_ok: np.ndarray
    table_ok: bool
    present: frozenset[str]
    errors: _Errors
    labels: _Labels
    cache: _CodeCache

    def member(self, column: str, values: pd.Series | pd.Index) -> np.ndarray:
        """Whether each row's ``column`` is in ``values`` (missing: False)."""
        return _member(*self.cache.codes(column), values)


class _Emitter:
    """Turns a boolean mask into error rows and marks those rows invalid.

    ``sentence(s, w, v, x)`` builds one message from the subject ``s`` (e.g.
    ``Debtor 'D-1'``), where ``w`` (e.g. ``in the 2023-12-31 statement``), the
    offending value ``v`` and a per-row extra ``x``.
    """

    def __init__(
        self, frame: pd.DataFrame, labels: _Labels, errs: _Errors, row_ok: np.ndarray
    ) -> None:
        self.frame, self.labels, self.errs, self.row_ok = frame, labels, errs, row_ok

    def __call__(
        self,
        mask: np.ndarray,
        column: str,
        reason: str,
        sentence: _Sentence,
        *,
        values: Sequence[str | None] | None = None,
        raw: pd.Series | None = None,
        extra: list[Any] | None = None,
    ) -> None:
        pos = np.flatnonzero(mask)
        if pos.size == 0:
            return
        self.row_ok[pos] = False
        lab = self.labels.at(pos)
        if values is None:
            values = _text(raw if raw is not None else self.frame[column], pos)
        xs = extra if extra is not None else [""] * pos.size
        msgs = [
            sentence(s, w, v, x)
            for s, w, v, x in zip(lab.subject, lab.where, values, xs, strict=True)
        ]
        self.errs.add(pos, lab, column, list(values), reason, msgs)


def _table_level(df: pd.DataFrame, contract: TableContract, errs: _Errors) -> None:
    names = [str(c) for c in df.columns]
    declared = ", ".join(contract.names)
    for name in contract.required_names:
        if name not in names:
            errs.add_table(
                name,
                "missing_column",
                f"Table '{contract.name}': required column '{name}' is missing. Add it "
                f"(declared columns: {declared}) and send the table again; no row of "
                f"the table is accepted until then.",
            )
    for name, k in Counter(names).items():
        if name not in contract.names:
            errs.add_table(
                name,
                "extra_column",
                f"Table '{contract.name}': column '{name}' is not in the contract. Remove "
                f"or rename it (declared columns: {declared}); the table is rejected "
                f"until its columns match.",
            )
        elif k > 1:
            errs.add_table(
                name,
                "extra_column",
                f"Table '{contract.name}': column '{name}' appears {k} times. Keep one "
                f"copy; the table is rejected until its columns match.",
            )


def _check_column(
    col: Column,
    c: _Coerced,
    raw: pd.Series,
    contract: TableContract,
    ref: pd.Timestamp | None,
    emit: _Emitter,
) -> None:
    name, noun = col.name, emit.labels.noun
    fix = f"Correct the {noun} or remove it."
    parsed_bad = np.zeros(len(raw), dtype=bool)
    for mask, reason in c.bad:
        parsed_bad |= mask
        rule = _RULE[reason]
        emit(mask, name, reason, _parse_sentence(name, rule, fix), raw=raw)
    if not col.nullable:
        miss = c.missing & ~parsed_bad
        emit(
            miss,
            name,
            "missing_value",
            lambda s, w, v, x: (
                f"{s}: {name} is missing {w}; it is required. Fill it in or remove the {noun}."
            ),
            values=[None] * int(miss.sum()),
        )
    if col.kind == "category":
        _check_category(c.values, col, emit, fix)
    if col.ge is not None:
        ge = col.ge
        below = (c.values < ge).to_numpy(dtype=bool, na_value=False)
        emit(
            below,
            name,
            "negative" if ge == 0 else "below_minimum",
            lambda s, w, v, x: f"{s}: {name} is {v} {w}; it must be >= {ge:g}. {fix}",
            values=[str(v) for v in c.values.to_numpy()[below].tolist()],
        )
    if ref is not None and name in contract.date_columns_not_future:
        day = ref.date()
        emit(
            (c.values > ref).to_numpy(dtype=bool, na_value=False),
            name,
            "future_date",
            lambda s, w, v, x: (
                f"{s}: {name} is {v} {w}, after the reference date {day}; a record "
                f"cannot be dated in the future. Correct the date or remove the "
                f"{noun}."
            ),
        )


def _check_category(values: pd.Series, col: Column, emit: _Emitter, fix: str) -> None:
    unknown = (values.notna() & ~values.isin(col.allowed)).to_numpy()
    if not unknown.any():
        return
    is_currency = col.allowed == schemas.CURRENCIES
    folded = {a.lower(): a for a in col.allowed}
    hints = [
        f" (did you mean '{folded[v.strip().lower()]}'?)" if v.strip().lower() in folded else ""
        for v in values.to_numpy()[unknown].tolist()
    ]
    rule = (
        "an ISO 4217 code listed in riskengine.contracts.schemas.CURRENCIES (e.g. EUR, USD)"
        if is_currency
        else "one of " + ", ".join(col.allowed)
    )
    name = col.name
    emit(
        unknown,
        name,
        "unknown_currency" if is_currency else "unknown_category",
        lambda s, w, v, x: f"{s}: {name} is {v!r} {w}{x}; it must be {rule}. {fix}",
        extra=hints,
    )


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
    codes, span = cache.codes(key[0])[0], len(cache.codes(key[0])[1])
    for k in key[1:]:  # combine the columns' codes pairwise; -1 where any part is missing
        other, uniques = cache.codes(k)
        known = (codes >= 0) & (other >= 0)
        combined = np.full(len(codes), -1, dtype=np.int64)
        if span * len(uniques) <= 4 * len(codes) + 1024:  # small: count directly
            combined[known] = codes[known] * len(uniques) + other[known]
            span *= len(uniques)
        else:  # re-densify so that the product never overflows
            combined[known], dense = pd.factorize(codes[known] * len(uniques) + other[known])
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


def _check_dates(
    frame: pd.DataFrame, contract: TableContract, present: frozenset[str], emit: _Emitter
) -> None:
    noun = emit.labels.noun
    for later, earlier in DATE_ORDER.get(contract.name, ()):
        if later in present and earlier in present:
            bad = (frame[later] < frame[earlier]).to_numpy(dtype=bool, na_value=False)
            emit(
                bad,
                later,
                "date_order",
                _order_sentence(later, earlier, noun),
                extra=_text(frame[earlier], np.flatnonzero(bad)),
            )
    if contract.name == "adverse_records" and {"status", "settlement_date"} <= present:
        status, settled = frame["status"], frame["settlement_date"]
        no_date = (status.eq("settled") & settled.isna()).to_numpy(dtype=bool, na_value=False)
        emit(
            no_date,
            "settlement_date",
            "date_order",
            lambda s, w, v, x: (
                f"{s}: status is 'settled' but settlement_date is missing {w}; a "
                "settled record needs its settlement date. Add the date or set the status to 'open'."
            ),
            values=[None] * int(no_date.sum()),
        )
        dated = (status.eq("open") & settled.notna()).to_numpy(dtype=bool, na_value=False)
        emit(
            dated,
            "settlement_date",
            "date_order",
            lambda s, w, v, x: (
                f"{s}: status is 'open' but settlement_date is {v} {w}; an open "
                "record has no settlement date. Remove the date or set the status to 'settled'."
            ),
        )


def _check_table(df: pd.DataFrame, contract: TableContract, ref: pd.Timestamp | None) -> _Checked:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"Table '{contract.name}' must be a pandas DataFrame, not {type(df).__name__}."
        )
    n = len(df)
    errs = _Errors(contract.name)
    _table_level(df, contract, errs)
    table_ok = len(errs) == 0
    first: dict[str, int] = {}
    for j, name in enumerate(df.columns):
        first.setdefault(str(name), j)
    coerced = {
        c.name: _coerce(df.iloc[:, first[c.name]], c) for c in contract.columns if c.name in first
    }
    frame = pd.DataFrame(
        {
            c.name: coerced[c.name].values if c.name in coerced else _empty_column(c, n)
            for c in contract.columns
        },
        index=pd.RangeIndex(n),
    )
    labels = _Labels(frame, contract)
    row_ok = np.ones(n, dtype=bool)
    emit = _Emitter(frame, labels, errs, row_ok)
    for col in contract.columns:
        if col.name in coerced:
            raw = df.iloc[:, first[col.name]].reset_index(drop=True)
            _check_column(col, coerced[col.name], raw, contract, ref, emit)
    present = frozenset(first)
    cache = _CodeCache(frame)
    _check_ids(contract, present, emit, cache)
    _check_key(frame, contract, present, emit, cache)
    _check_dates(frame, contract, present, emit)
    return _Checked(contract, frame, row_ok, table_ok, present, errs, labels, cache)


def validate_table(
    df: pd.DataFrame, contract: TableContract, *, reference_date: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check one table against its contract and split it into clean rows and error rows.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read (any dtypes; strings are parsed). Not modified.
    contract : TableContract
        Its declared contract, e.g. ``riskengine.contracts.schemas.STATEMENTS``.
    reference_date : date-like, optional
        The extraction date: records dated after it are ``future_date`` errors.
        ``None`` (default) skips that check; the shell passes today's date.

    Returns
    -------
    clean : pandas.DataFrame
        The valid rows with canonical dtypes, columns in contract order, a fresh
        ``RangeIndex``. Empty when a table-level problem (missing or extra
        column) was found.
    errors : pandas.DataFrame
        One row per problem, columns :data:`riskengine.contracts.schemas.ERROR_COLUMNS`,
        all of dtype ``str`` (missing where not applicable). Every problem is
        reported, not only the first.

    Notes
    -----
    Accounting identities are not checked here: see :func:`check_identities`.
    The module docstring lists the reason codes and canonical dtypes.

    Examples
    --------
    >>> import pandas as pd
    >>> from riskengine.contracts.schemas import RELATIONS
    >>> df = pd.DataFrame({"supplier_id": ["S-1", "S-1"], "debtor_id": ["D-1", "D-2"],
    ...                    "relation_type": ["parent", "cousin"]})
    >>> clean, errors = validate_table(df, RELATIONS)
    >>> len(clean), errors.loc[0, "reason"]
    (1, 'unknown_category')
    >>> errors.loc[0, "message"][:52]
    "Debtor 'D-2': relation_type is 'cousin' in the relat"
    """
    checked = _check_table(df, contract, _reference(reference_date))
    frame = checked.frame
    if not checked.table_ok:
        frame = frame.iloc[:0]
    elif not checked.row_ok.all():
        frame = frame[checked.row_ok]
    return _finalise(frame, contract), checked.errors.frame()


# --- accounting identities --------------------------------------------------------


def _identity_checks(frame: pd.DataFrame, emit: _Emitter, rel_tol: float, abs_tol: float) -> None:
    if rel_tol < 0 or abs_tol < 0:
        raise ValueError(f"rel_tol and abs_tol must be >= 0, got {rel_tol} and {abs_tol}.")
    for total, left, sign, right in IDENTITIES:
        if not {total, left, right} <= set(frame.columns):
            continue
        t, a, b = (
            pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            for c in (total, left, right)
        )
        rhs = a + sign * b
        tol = rel_tol * np.maximum(np.abs(t), np.abs(rhs)) + abs_tol
        gap = np.abs(t - rhs)
        with np.errstate(invalid="ignore"):
            bad = gap > tol  # NaN (an item missing, e.g. a tax return) compares False: skipped
        op = "+" if sign > 0 else "-"
        extra = [
            (f"{ti:,.2f}", f"{ri:,.2f}", f"{ai:,.2f}", f"{bi:,.2f}", f"{gi:,.2f}", f"{ki:,.2f}")
            for ti, ri, ai, bi, gi, ki in zip(
                t[bad], rhs[bad], a[bad], b[bad], gap[bad], tol[bad], strict=True
            )
        ]
        pct = rel_tol * 100
        emit(
            bad,
            total,
            "identity_broken",
            _identity_sentence(total, left, op, right, pct, abs_tol),
            values=[
                f"{ti!r} vs {ri!r}"
                for ti, ri in zip(t[bad].tolist(), rhs[bad].tolist(), strict=True)
            ],
            extra=extra,
        )


def check_identities(
    statements: pd.DataFrame, *, rel_tol: float = 0.02, abs_tol: float = 1.0
) -> pd.DataFrame:
    """Check the accounting identities of financial statements.

    Parameters
    ----------
    statements : pandas.DataFrame
        Statements with numeric line items (as returned by :func:`validate_table`);
        non-numeric cells are treated as missing. Not modified.
    rel_tol : float, default 0.02
        Relative tolerance, as a fraction of the larger magnitude of the two
        sides.
    abs_tol : float, default 1.0
        Absolute tolerance in the statement's currency unit, for rounding of
        items reported in whole units.

    Returns
    -------
    pandas.DataFrame
        Error rows (:data:`riskengine.contracts.schemas.ERROR_COLUMNS`) with reason
        ``identity_broken``, one per broken identity, naming the debtor, the
        period and the amounts.

    Notes
    -----
    The identities are :data:`IDENTITIES`: ``total_assets = total_liabilities +
    equity``, ``ebit = ebitda - depreciation_amortization`` and ``gross_profit
    = revenue - cost_of_sales``. One holds when ``|total - rhs| <= rel_tol *
    max(|total|, |rhs|) + abs_tol``. An identity is skipped for a row when any
    of its three items is missing (a tax return has no balance sheet) and for
    the whole table when a column is absent. ``rel_tol`` is unit free;
    ``abs_tol`` is in the unit the amounts are written in, and the default of
    one unit absorbs the rounding of items reported in whole units (of
    currency, or of thousands if the statement is in thousands).

    Examples
    --------
    >>> import pandas as pd
    >>> st = pd.DataFrame({"debtor_id": ["D-1"], "period_end": pd.to_datetime(["2023-12-31"]),
    ...                    "total_assets": [1000.0], "total_liabilities": [600.0],
    ...                    "equity": [300.0]})
    >>> check_identities(st).loc[0, "message"][:60]
    "Debtor 'D-1': total_assets is 1,000.00 in the 2023-12-31 sta"
    """
    frame = statements.reset_index(drop=True)
    errs = _Errors(schemas.STATEMENTS.name)
    emit = _Emitter(
        frame, _Labels(frame, schemas.STATEMENTS), errs, np.ones(len(frame), dtype=bool)
    )
    _identity_checks(frame, emit, rel_tol, abs_tol)
    return errs.frame()


# --- portfolio --------------------------------------------------------------------


def raise_if_errors(errors: pd.DataFrame, *, shown: int = 3) -> None:
    """Raise :class:`InvalidInputError` when ``errors`` has any row.

    Parameters
    ----------
    errors : pandas.DataFrame
        Error rows (:data:`riskengine.contracts.schemas.ERROR_COLUMNS`).
    shown : int, default 3
        How many problems the message quotes in full.

    Raises
    ------
    InvalidInputError
        Its message starts with the number of problems and quotes the first
        ``shown``; ``problems`` holds every error row as a dict (missing values
        as ``None``).
    """
    n = len(errors)
    if n == 0:
        return
    quoted = " ".join(f"({i}) {m}" for i, m in enumerate(errors["message"].head(shown).tolist(), 1))
    more = (
        f" ... and {n - shown} more; see the problems attribute for the full list."
        if n > shown
        else ""
    )
    problems = errors[list(schemas.ERROR_COLUMNS)].astype(object)
    records = problems.where(problems.notna(), None).to_dict("records")
    raise InvalidInputError(
        f"{n} problem{'s' if n > 1 else ''} in the input: {quoted}{more}",
        [{str(k): v for k, v in r.items()} for r in records],
    )


@dataclass(frozen=True, slots=True)
class ValidatedPortfolio:
    """The outcome of :func:`validate_portfolio`.

    Attributes
    ----------
    frames : dict of str to pandas.DataFrame
        Clean frames for every contract table (empty, canonical frames for the
        tables not given); only records of clean debtors.
    errors : pandas.DataFrame
        Every problem (:data:`riskengine.contracts.schemas.ERROR_COLUMNS`), then one
        ``debtor_rejected`` row per rejected debtor.
    rejected_debtors : tuple of str
        Debtors of the input that were rejected whole, sorted.
    rows_in : dict of str to int
        Number of input rows per table.
    debtors_in : int
        Number of distinct debtor ids in the input debtors table, plus its rows
        without a debtor id (``debtors_unidentified``).
    debtors_unidentified : int
        Rows of the input debtors table without a debtor id (missing or blank):
        each is a debtor in and a rejected one (its ``missing_value`` row).
    """

    frames: dict[str, pd.DataFrame]
    errors: pd.DataFrame
    rejected_debtors: tuple[str, ...]
    rows_in: dict[str, int] = field(default_factory=dict)
    debtors_in: int = 0
    debtors_unidentified: int = 0

    @property
    def problems(self) -> pd.DataFrame:
        """The error rows without the ``debtor_rejected`` summaries."""
        return self.errors[self.errors["reason"] != "debtor_rejected"].reset_index(drop=True)

    def summary(self) -> dict[str, int]:
        """Counts: debtors in/clean/rejected, problems, rows in/clean per table, problems per reason.

        ``debtors_in == debtors_clean + debtors_rejected`` always holds.
        """
        out = {
            "debtors_in": self.debtors_in,
            "debtors_clean": len(self.frames["debtors"]),
            "debtors_rejected": len(self.rejected_debtors) + self.debtors_unidentified,
            "problems": len(self.problems),
        }
        for name, frame in self.frames.items():
            out[f"{name}_in"] = self.rows_in.get(name, 0)
            out[f"{name}_clean"] = len(frame)
        for reason, k in self.errors["reason"].value_counts(sort=False).items():
            out[f"reason_{reason}"] = int(k)
        return out


def _cross_checks(
    checked: dict[str, _Checked], input_ids: pd.Index, has_ids: bool, suppliers_given: bool
) -> None:
    """unknown_debtor and unknown_supplier: references to records not in their table."""
    sup = checked["suppliers"]
    sup_ids = sup.frame["supplier_id"]
    sup_all = sup_ids[sup_ids.notna().to_numpy()]
    sup_ok = sup_ids[sup_ids.notna().to_numpy() & sup.row_ok & sup.table_ok]
    for name, c in checked.items():
        emit = _Emitter(c.frame, c.labels, c.errors, c.row_ok)
        if name != "debtors" and has_ids and "debtor_id" in c.present:
            codes = c.cache.codes("debtor_id")[0]
            unknown = (codes >= 0) & ~c.member("debtor_id", input_ids)
            noun = c.labels.noun
            emit(
                unknown,
                "debtor_id",
                "unknown_debtor",
                _fixed_sentence(
                    "{s}: the debtor is not in the debtors table ({w}). Add the "
                    "debtor or remove the {noun}.",
                    noun,
                ),
            )
        if (
            suppliers_given
            and name in ("exposures", "invoices", "relations")
            and "supplier_id" in c.present
        ):
            codes = c.cache.codes("supplier_id")[0]
            bad = (codes >= 0) & ~c.member("supplier_id", sup_ok)
            if bad.any():
                listed = _isin(c.frame["supplier_id"][bad], sup_all).tolist()
                why = [
                    "was rejected in the suppliers table (see its errors)"
                    if x
                    else "is not in the suppliers table"
                    for x in listed
                ]
                noun = c.labels.noun
                emit(
                    bad,
                    "supplier_id",
                    "unknown_supplier",
                    _fixed_sentence(
                        "{s}: supplier {v!r} {w} {x}. Correct the supplier or remove the {noun}.",
                        noun,
                    ),
                    extra=why,
                )


def _rejection_rows(
    problems: pd.DataFrame, rejected: pd.Index, table_cause: pd.Series
) -> pd.DataFrame:
    if rejected.empty:
        return _error_frame()
    p = problems[_isin(problems["debtor_id"], rejected)]
    g = p.groupby("debtor_id", sort=False).agg(
        n=("reason", "size"),
        table=("table", "first"),
        reason=("reason", "first"),
        column=("column", "first"),
    )
    g = g.reindex(rejected)
    cause = table_cause.reindex(rejected)
    msgs = [
        f"Debtor {d!r} is rejected whole: {int(n)} problem{'s' if n > 1 else ''} in its records "
        f"(first: {r} in {t}.{c}). It is not rated on partial data; correct its records and send "
        f"the debtor again."
        if n == n
        else f"Debtor {d!r} is rejected whole because table '{tc}' was rejected (see its "
        f"table-level errors). It is not rated on partial data; fix the table and send it again."
        for d, n, t, r, c, tc in zip(
            rejected.tolist(),
            g["n"].tolist(),
            g["table"].tolist(),
            g["reason"].tolist(),
            g["column"].tolist(),
            cause.tolist(),
            strict=True,
        )
    ]
    ids = rejected.astype("str")
    return _error_frame(
        pd.DataFrame(
            {
                "table": "debtors",
                "record": ids,
                "debtor_id": ids,
                "column": "debtor_id",
                "value": ids,
                "reason": "debtor_rejected",
                "message": msgs,
            }
        )
    )


def validate_portfolio(
    frames: Mapping[str, pd.DataFrame],
    *,
    reference_date: Any = None,
    strict: bool = False,
    rel_tol: float = 0.02,
    abs_tol: float = 1.0,
) -> ValidatedPortfolio:
    """Validate every table of a portfolio and reject invalid debtors whole.

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        Tables keyed by contract name (``debtors`` is required; an absent table
        is treated as empty). Not modified.
    reference_date : date-like, optional
        Extraction date for the ``future_date`` check (None: no check).
    strict : bool, default False
        Raise :class:`InvalidInputError` listing every problem instead of
        returning the clean part.
    rel_tol, abs_tol : float
        Tolerances of :func:`check_identities`.

    Returns
    -------
    ValidatedPortfolio

    Raises
    ------
    InvalidInputError
        When ``debtors`` is absent, or when ``strict`` and any problem is found.

    Notes
    -----
    Batch rule (docs/DESIGN.md): a debtor with any invalid record in any table,
    or with records in a table rejected at table level, is rejected whole: its
    records leave every clean frame and it gets one error row per problem plus
    one ``debtor_rejected`` row. A record whose debtor is not in the debtors
    table is an ``unknown_debtor`` error (its id is not an input debtor, so it
    is not in ``rejected_debtors``). When ``suppliers`` is given, a record of
    ``exposures``, ``invoices`` or ``relations`` whose supplier is absent from
    it or invalid there is an ``unknown_supplier`` error, which rejects its
    debtor. Every input debtor id ends up either in ``frames['debtors']`` or in
    ``rejected_debtors``. Unknown table names give an ``unknown_table`` row and
    are ignored.
    """
    if "debtors" not in frames:
        msg = (
            "The portfolio has no 'debtors' table; every other table refers to it. Add the "
            "debtors table (riskengine.contracts.schemas.DEBTORS) and validate again."
        )
        raise InvalidInputError(
            msg,
            [
                dict(
                    zip(
                        schemas.ERROR_COLUMNS,
                        ("debtors", None, None, None, None, "missing_table", msg),
                        strict=True,
                    )
                )
            ],
        )
    ref = _reference(reference_date)
    unknown_tables = []
    for name in frames:
        if name not in schemas.CONTRACTS:
            extra = _Errors(str(name))
            unknown_tables.append(extra)
            extra.add_table(
                name,
                "unknown_table",
                f"Table '{name}' is not part of a portfolio (expected: "
                f"{', '.join(schemas.CONTRACTS)}); it was ignored. Rename it or leave "
                f"it out.",
            )
    checked: dict[str, _Checked] = {}
    for name, contract in schemas.CONTRACTS.items():
        df = frames[name] if name in frames else _empty_frame(contract)
        checked[name] = _check_table(df, contract, ref)
    st = checked["statements"]
    _identity_checks(
        st.frame, _Emitter(st.frame, st.labels, st.errors, st.row_ok), rel_tol, abs_tol
    )
    deb = checked["debtors"]
    has_ids = "debtor_id" in deb.present
    input_ids = pd.Index(deb.cache.codes("debtor_id")[1] if has_ids else [], dtype="str")
    unidentified = int(_blank(deb.frame["debtor_id"]).sum()) if has_ids else 0
    _cross_checks(checked, input_ids, has_ids, "suppliers" in frames)

    problems = pd.concat(
        [e.frame() for e in unknown_tables] + [c.errors.frame() for c in checked.values()],
        ignore_index=True,
    )
    bad = _isin(pd.Series(input_ids), problems["debtor_id"].dropna().unique())
    table_cause = pd.Series(pd.NA, index=input_ids, dtype="object")
    for name, c in checked.items():
        if c.table_ok or "debtor_id" not in c.contract.names:
            continue
        hit = (
            _isin(pd.Series(input_ids), c.cache.codes("debtor_id")[1])
            if "debtor_id" in c.present
            else np.ones(len(input_ids), bool)
        )
        table_cause[hit & table_cause.isna().to_numpy()] = name
        bad |= hit
    rejected = input_ids[bad].sort_values()
    clean: dict[str, pd.DataFrame] = {}
    for name, c in checked.items():
        # rows of unknown or missing debtors are already invalid: drop the rejected ones
        keep = c.row_ok & c.table_ok
        if "debtor_id" in c.contract.names and not has_ids:
            keep[:] = False  # no debtor can be identified, so no record is usable
        elif len(rejected) and "debtor_id" in c.present:
            keep &= ~c.member("debtor_id", rejected)
        clean[name] = _finalise(c.frame if keep.all() else c.frame[keep], c.contract)
    if strict:
        raise_if_errors(problems)
    errors = pd.concat(
        [problems, _rejection_rows(problems, rejected, table_cause)], ignore_index=True
    )
    return ValidatedPortfolio(
        frames=clean,
        errors=errors,
        rejected_debtors=tuple(rejected.tolist()),
        rows_in={name: len(frames[name]) for name in schemas.CONTRACTS if name in frames},
        debtors_in=len(input_ids) + unidentified,
        debtors_unidentified=unidentified,
    )
