"""Columns: coercion to the canonical dtypes and the checks of one column at a time.

Each declared column is parsed once (:func:`_coerce`: numbers, ISO dates, flags,
text; blank strings count as missing) into its canonical dtype, remembering
which cells did not parse. The checks then read the coerced column: table-level
(missing and extra columns), parse failures, missing values, vocabularies,
bounds, future dates and the date order within a record (:data:`DATE_ORDER`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from riskengine.contracts import schemas
from riskengine.contracts.dates import iso_date_error, parse_date
from riskengine.contracts.schemas import Column, TableContract
from riskengine.validation.errors import _Emitter, _Errors, _order_sentence, _parse_sentence, _text
from riskengine.validation.keys import _arrow_strings

__all__ = ["DATE_ORDER"]


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
    if col.le is not None:
        le = col.le
        above = (c.values > le).to_numpy(dtype=bool, na_value=False)
        emit(
            above,
            name,
            "above_maximum",
            lambda s, w, v, x: f"{s}: {name} is {v} {w}; it must be <= {le:g}. {fix}",
            values=[str(v) for v in c.values.to_numpy()[above].tolist()],
        )
    if col.gt is not None:
        gt = col.gt
        low = (c.values <= gt).to_numpy(dtype=bool, na_value=False)
        emit(
            low,
            name,
            "not_positive" if gt == 0 else "below_minimum",
            lambda s, w, v, x: f"{s}: {name} is {v} {w}; it must be > {gt:g}. {fix}",
            values=[str(v) for v in c.values.to_numpy()[low].tolist()],
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


#: Per table, pairs ``(later, earlier)``: when both are present, ``later`` must be on
#: or after ``earlier``.
DATE_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "invoices": (("due_date", "issue_date"), ("paid_date", "issue_date")),
    "adverse_records": (("settlement_date", "event_date"),),
    "insurer_limits": (("effective_date", "decision_date"),),
}


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
