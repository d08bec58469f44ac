"""Exchange rates: the ``fx_rates`` table checked, and the debtors a missing rate stops.

:func:`validate_fx_rates` checks the table against
:data:`~riskengine.contracts.schemas.FX_RATES` (a known currency, a date, a rate > 0,
one row per currency and day, none after the reference date). A currency with any
invalid row loses **all** its rows, with one ``currency_rejected`` row: a later valid
row would otherwise stand in for the bad one silently and change limits.

:func:`reject_missing_rates` finds, as of the decision date, every record whose amount
the decision must convert and whose currency has no rate in force: the exposure (its
limit, its share of the debtor's capacity, the book's totals), the supplier's ledger,
the debtor's latest statement (its capacity), its recent adverse records of a
knock-out type (their significance) and its invoices open on the decision date (the
past-due default adds them in the reporting currency). Each is a ``missing_fx_rate`` error row naming
the record, the field and the currency; its debtor is rejected whole, as any invalid
record rejects it (:func:`~riskengine.validation.portfolio.validate_portfolio`), and
the rest of the book is decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts import schemas
from riskengine.contracts.dates import as_of_day, parse_date
from riskengine.validation.columns import _finalise, _reference
from riskengine.validation.errors import _Emitter, _error_frame, _Errors, _Labels, _rejection_rows
from riskengine.validation.keys import _isin
from riskengine.validation.table import _check_table

__all__ = ["validate_fx_rates", "reject_missing_rates", "base_rate_rows"]


def validate_fx_rates(df: pd.DataFrame, *, reference_date: Any = None
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check an ``fx_rates`` table; a currency with an invalid row loses all its rows.

    Returns
    -------
    clean : pandas.DataFrame
        The rows of the currencies without a problem, canonical dtypes.
    errors : pandas.DataFrame
        One row per problem (``not_positive`` for a rate <= 0, ``unknown_currency``,
        ``not_date``, ``duplicate_key``, ``future_date``, ...), then one
        ``currency_rejected`` row per currency left without rates.

    Examples
    --------
    >>> df = pd.DataFrame({"date": ["2026-06-30", "2026-05-31", "2026-06-30"],
    ...                    "currency": ["USD", "GBP", "GBP"], "rate": [0.92, 1.17, -1.0]})
    >>> clean, errors = validate_fx_rates(df)
    >>> clean["currency"].tolist(), errors["reason"].tolist()
    (['USD'], ['not_positive', 'currency_rejected'])
    """
    contract = schemas.FX_RATES
    checked = _check_table(df, contract, _reference(reference_date))
    frame = checked.frame
    errors = checked.errors.frame()
    if not checked.table_ok:
        return _finalise(frame.iloc[:0], contract), errors
    bad_rows = ~checked.row_ok
    cur = frame["currency"]
    bad_cur = pd.unique(cur[bad_rows & cur.isin(schemas.CURRENCIES).to_numpy()].dropna())
    keep = checked.row_ok & ~_isin(cur, pd.Index(bad_cur, dtype="str"))
    if len(bad_cur):
        n_bad = cur[bad_rows].value_counts()
        rows = pd.DataFrame({
            "table": contract.name, "record": [str(c) for c in bad_cur], "debtor_id": None,
            "column": "currency", "value": [str(c) for c in bad_cur],
            "reason": "currency_rejected",
            "message": [f"Currency {c!r}: every fx_rates row of it is left out, because "
                        f"{_rows(int(n_bad.get(c, 0)))} invalid (see their rows); a "
                        "record in it gets missing_fx_rate. Correct the rows and send the "
                        "table again." for c in bad_cur]})
        errors = pd.concat([errors, _error_frame(rows)], ignore_index=True)
    clean = frame if keep.all() else frame[keep]
    return _finalise(clean, contract), errors


def _rows(n: int) -> str:
    return "1 of them is" if n == 1 else f"{n} of them are"


def _latest_statements(st: pd.DataFrame, day: int) -> np.ndarray:
    """Positions of each debtor's latest statement with ``period_end <= day``."""
    if not len(st):
        return np.zeros(0, dtype=np.int64)
    pe = st["period_end"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").view(np.int64)
    ok = np.flatnonzero(pe <= day)
    if not ok.size:
        return ok
    codes, _ = pd.factorize(st["debtor_id"].to_numpy(dtype=object)[ok])
    order = np.lexsort((pe[ok], codes))  # by debtor, then period end: the last is the latest
    last = np.ones(order.size, dtype=bool)
    last[:-1] = codes[order][1:] != codes[order][:-1]
    return np.sort(ok[order[last]])


def reject_missing_rates(
    frames: Mapping[str, pd.DataFrame], rates: np.ndarray, as_of: Any, *,
    lookback_days: int, knockout_types: Sequence[str],
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, tuple[str, ...]]:
    """Reject the debtors with a record whose currency has no rate on ``as_of``.

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        Clean portfolio frames (:func:`~riskengine.validation.portfolio.validate_portfolio`).
    rates : numpy.ndarray
        The rates in force on ``as_of`` over ``CURRENCIES``
        (:meth:`riskengine.features.fx.FxRates.at`; NaN: none).
    as_of : date-like
    lookback_days : int
        Adverse records older than this are not read (their currency does not matter).
    knockout_types : sequence of str
        The adverse event types whose amount is tested for significance.

    Returns
    -------
    frames : dict
        ``frames`` without the records of the rejected debtors.
    errors : pandas.DataFrame
        ``missing_fx_rate`` rows, then one ``debtor_rejected`` row per rejected debtor.
    rejected : tuple of str
        The rejected debtors, sorted.
    """
    day = as_of_day(as_of)
    have = set(c for c, r in zip(schemas.CURRENCIES, rates.tolist(), strict=True) if r == r)
    when = parse_date(as_of).isoformat()
    found: list[pd.DataFrame] = []

    def check(table: str, frame: pd.DataFrame, mask: np.ndarray, what: str) -> None:
        if not mask.any():
            return
        contract = schemas.CONTRACTS[table]
        errs = _Errors(table)
        emit = _Emitter(frame, _Labels(frame, contract), errs, np.ones(len(frame), bool))
        emit(mask, "currency", "missing_fx_rate", lambda s, w, v, x: (
            f"{s}: the amounts {w} are in {v}, and no {v} rate is in force on {when} "
            f"(fx_rates: the latest rate dated on or before it), so {what} cannot be "
            "converted. Add the rate; the debtor is not decided until then."))
        found.append(errs.frame())

    def missing(values: pd.Series) -> np.ndarray:
        return ~values.astype("str").isin(have).to_numpy(dtype=bool)

    ex = frames["exposures"]
    check("exposures", ex, missing(ex["currency"]), "the pair's limit")
    sup = frames["suppliers"]
    if len(ex) and len(sup):
        s = sup.drop_duplicates("supplier_id").set_index("supplier_id")["currency"]
        ledger = pd.DataFrame({"supplier_id": ex["supplier_id"].to_numpy(),
                               "debtor_id": ex["debtor_id"].to_numpy(),
                               "currency": s.reindex(ex["supplier_id"]).to_numpy()})
        other = ledger["currency"].notna().to_numpy() & (  # the same: the exposure's row
            ledger["currency"].astype("str").to_numpy() != ex["currency"].astype("str").to_numpy())
        ledger = ledger[other].drop_duplicates().reset_index(drop=True)
        check("suppliers", ledger, missing(ledger["currency"]), "the ledger cap of the pair")
    st = frames["statements"]
    latest = _latest_statements(st, day)
    flag = np.zeros(len(st), dtype=bool)
    flag[latest] = missing(st["currency"].iloc[latest])
    check("statements", st, flag, "the debtor's capacity")
    adv = frames["adverse_records"]
    if len(adv):
        ev = adv["event_date"].to_numpy(dtype="datetime64[ns]").astype(
            "datetime64[D]").view(np.int64)
        age = day - ev
        recent = (age >= 0) & (age <= lookback_days) & \
            adv["event_type"].isin(list(knockout_types)).to_numpy(dtype=bool)
        check("adverse_records", adv, recent & missing(adv["currency"]),
              "the record's significance")
    inv = frames.get("invoices")
    if inv is not None and len(inv):
        def days(name: str) -> np.ndarray:
            d = inv[name].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
            return np.where(np.isnat(d), np.iinfo(np.int64).max, d.view(np.int64))

        open_ = (days("issue_date") <= day) & (days("paid_date") > day)
        check("invoices", inv, open_ & missing(inv["currency"]),
              "the past-due default's materiality")
    if not found:
        return dict(frames), _error_frame(), ()
    problems = pd.concat(found, ignore_index=True)
    rejected = pd.Index(pd.unique(problems["debtor_id"].dropna()), dtype="str").sort_values()
    out: dict[str, pd.DataFrame] = {}
    for name, frame in frames.items():
        if "debtor_id" in frame.columns and name in schemas.CONTRACTS:
            drop = _isin(frame["debtor_id"], rejected)
            out[name] = frame[~drop].reset_index(drop=True) if drop.any() else frame
        else:
            out[name] = frame
    errors = pd.concat([problems, _rejection_rows(problems, rejected,
                                                  pd.Series(pd.NA, index=rejected,
                                                            dtype="object"))],
                       ignore_index=True)
    return out, errors, tuple(rejected.tolist())


def base_rate_rows(frame: pd.DataFrame, base: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of the reporting currency ``base`` in a clean ``fx_rates`` table: it is worth 1
    of itself on every day, so a row saying otherwise is a ``base_rate_not_one`` error row
    (and left out); a row saying 1 is redundant and kept.

    Examples
    --------
    >>> df = pd.DataFrame({"date": pd.to_datetime(["2026-06-30", "2026-06-30"]),
    ...                    "currency": ["EUR", "USD"], "rate": [1.1, 0.92]})
    >>> clean, errors = base_rate_rows(df, "EUR")
    >>> clean["currency"].tolist(), errors["reason"].tolist()
    (['USD'], ['base_rate_not_one'])
    """
    bad = ((frame["currency"] == base) & (frame["rate"] != 1.0)).to_numpy(dtype=bool)
    if not bad.any():
        return frame, _error_frame()
    contract = schemas.FX_RATES
    errs = _Errors(contract.name)
    emit = _Emitter(frame, _Labels(frame, contract), errs, np.ones(len(frame), bool))
    emit(bad, "rate", "base_rate_not_one", lambda s, w, v, x: (
        f"{s}: rate is {v} {w}, but {base} is the reporting currency (policy [book] "
        f"currency) and worth 1 {base}; the row is left out. Give 1 or remove it."))
    return _finalise(frame[~bad], contract), errs.frame()
