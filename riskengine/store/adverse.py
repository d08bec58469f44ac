"""The adverse records the store has seen (issue 18, the desk's "new adverse records").

A decision (``POST /v1/decisions``, the officer's score page) and a ``rerate`` run keep
the adverse records they decided on in ``adverse_seen``: one row per record key
(:data:`KEY`: debtor, record type, record date, amount, currency), inserted the first
time the key is seen and never changed after, with the decision or run that saw it
(``source``), the day it did (``first_seen``: the decision's or the run's ``as_of``) and
``baseline``: the register held no limit of the debtor before (its records were known
when it was taken on, they are not news). The alerts page lists the records first seen
in its window that are not a baseline (:mod:`riskengine.store.desk`).

The write is one driver-level ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING``
(SQLite and PostgreSQL alike) inside the caller's transaction: a run's records go in
with its register rows or not at all, and a record seen again costs one index probe.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from riskengine.contracts.arrowtext import text_member
from riskengine.store.driver import Prepared
from riskengine.store.tables import limit_register

__all__ = ["KEY", "ADVERSE_COLUMNS", "AdverseKey", "record_adverse", "record_decision_adverse",
           "known_debtors", "payload_adverse", "cents"]

KEY: tuple[str, ...] = ("debtor_id", "record_type", "record_date", "amount", "currency")
"""What makes two sightings one record (an HTTP payload's record has no stable id)."""
ADVERSE_COLUMNS: tuple[str, ...] = (*KEY, "source", "first_seen", "baseline")
AdverseKey = tuple[str, str, dt.date, float, str]
"""One record's key values (:data:`KEY` order), as :func:`payload_adverse` gives them."""

_SLICE = 100_000  # records sent to the driver at once


@functools.lru_cache(maxsize=16)
def _known_of(n: int) -> Any:
    """The debtors among ``n`` ids ``:k0 ...`` that hold a register pair: one statement
    per list length, built and compiled once (a decision asks on every request)."""
    c = limit_register.c
    return Prepared(sa.select(c.debtor_id).distinct().where(
        c.debtor_id.in_([sa.bindparam(f"k{i}", type_=sa.String) for i in range(n)])))


def known_debtors(conn: Any, debtor_ids: Iterable[str]) -> set[str]:
    """The debtors among ``debtor_ids`` of which the register holds a pair."""
    ids = sorted({str(d) for d in debtor_ids})
    out: set[str] = set()
    for i in range(0, len(ids), 900):
        part = ids[i:i + 900]
        out.update(str(d) for (d,) in _known_of(len(part)).rows(
            conn, {f"k{j}": d for j, d in enumerate(part)}))
    return out


def cents(amounts: Any) -> list[float]:
    """Amounts as the record key keeps them: rounded to cents (numpy's rounding, the same
    for a run's records and a decision's), -0.0 as 0.0."""
    return (np.round(np.asarray(amounts, dtype=np.float64), 2) + 0.0).tolist()


def record_adverse(conn: Any, records: pd.DataFrame, *, first_seen: Any, source: str,
                   known: Iterable[str]) -> int:
    """Keep the adverse records a run saw; returns the rows inserted (keys not seen
    before).

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        In the caller's write transaction.
    records : pandas.DataFrame
        ``debtor_id``, ``record_type``, ``record_date`` (date-like), ``amount`` (rounded
        to cents here: the key of a record), ``currency``; records dated after the
        run's day are the caller's to leave out (the run ignored them).
    first_seen : date-like
        The run's ``as_of``.
    source : str
        ``rerate:<run>``.
    known : iterable of str
        Debtors the register held a limit of before this write (the others' records are
        their ``baseline``).
    """
    n = len(records)
    if n == 0:
        return 0
    sqlite = conn.dialect.name == "sqlite"
    did = records["debtor_id"].astype(str).to_numpy(dtype=object)
    days = pd.to_datetime(records["record_date"]).to_numpy(dtype="datetime64[D]")
    day_v: list[Any] = (np.datetime_as_string(days, unit="D").tolist() if sqlite
                        else days.astype(object).tolist())
    seen = pd.Timestamp(first_seen).date()
    # Arrow's hash lookup (numpy's isin on text is quadratic: 53 s for 26,096 records
    # against 100,000 debtors; pandas' on Arrow strings a Python loop: 1 s)
    baseline = ~text_member(did, list(known))
    columns = [did.tolist(), records["record_type"].astype(str).tolist(), day_v,
               cents(records["amount"].to_numpy(dtype=np.float64)),
               records["currency"].astype(str).tolist(),
               [source[:64]] * n, [seen.isoformat() if sqlite else seen] * n,
               baseline.tolist()]
    return _insert_seen(conn, list(zip(*columns, strict=True)))


def record_decision_adverse(conn: Any, records: Sequence[AdverseKey], *,
                            first_seen: dt.date, source: str, known: Collection[str]) -> int:
    """Keep the adverse records one decision saw (:func:`payload_adverse` rows; as
    :func:`record_adverse`, without a frame: a decision has a handful); returns the rows
    inserted. ``known``: as :func:`record_adverse`, a set."""
    if not records:
        return 0
    sqlite = conn.dialect.name == "sqlite"
    seen: Any = first_seen.isoformat() if sqlite else first_seen
    amounts = cents([r[3] for r in records])
    return _insert_seen(conn, [
        (d, t, day.isoformat() if sqlite else day, a, cur, source[:64], seen,
         d not in known)
        for (d, t, day, _, cur), a in zip(records, amounts, strict=True)])


def _insert_seen(conn: Any, rows: list[tuple[Any, ...]]) -> int:
    """One driver-level executemany of ``adverse_seen`` rows (:data:`ADVERSE_COLUMNS`
    order), keys seen before left alone; returns the rows inserted."""
    ph = "?" if conn.dialect.name == "sqlite" else "%s"
    sql = (f"INSERT INTO adverse_seen ({', '.join(ADVERSE_COLUMNS)}) VALUES "
           f"({', '.join([ph] * len(ADVERSE_COLUMNS))}) "
           f"ON CONFLICT ({', '.join(KEY)}) DO NOTHING")
    inserted = 0
    for lo in range(0, len(rows), _SLICE):
        cur = conn.exec_driver_sql(sql, rows[lo:lo + _SLICE])
        inserted += max(0, int(cur.rowcount or 0))
    return inserted


def payload_adverse(debtor_id: str, records: Iterable[Any], day: dt.date
                    ) -> list[AdverseKey]:
    """A payload's adverse records (``AdverseRecord`` models or dicts) dated up to ``day``
    as the key rows :func:`record_decision_adverse` takes (:data:`KEY` order)."""
    rows: list[AdverseKey] = []
    for r in records:
        d: Mapping[str, Any] = r if isinstance(r, Mapping) else {
            k: getattr(r, k) for k in ("event_type", "event_date", "amount", "currency")}
        when = d["event_date"]
        if isinstance(when, dt.datetime) or not isinstance(when, dt.date):
            when = pd.Timestamp(when).date()
        if when <= day:
            rows.append((debtor_id, str(d["event_type"]), when, float(d["amount"]),
                         str(d["currency"])))
    return rows
