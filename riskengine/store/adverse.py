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
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from riskengine.contracts.arrowtext import text_member
from riskengine.store.tables import limit_register

__all__ = ["KEY", "ADVERSE_COLUMNS", "record_adverse", "known_debtors", "payload_adverse"]

KEY: tuple[str, ...] = ("debtor_id", "record_type", "record_date", "amount", "currency")
"""What makes two sightings one record (an HTTP payload's record has no stable id)."""
ADVERSE_COLUMNS: tuple[str, ...] = (*KEY, "source", "first_seen", "baseline")

_SLICE = 100_000  # records sent to the driver at once


def known_debtors(conn: Any, debtor_ids: Iterable[str]) -> set[str]:
    """The debtors among ``debtor_ids`` of which the register holds a pair."""
    ids = sorted({str(d) for d in debtor_ids})
    out: set[str] = set()
    for i in range(0, len(ids), 900):
        q = (sa.select(limit_register.c.debtor_id).distinct()
             .where(limit_register.c.debtor_id.in_(ids[i:i + 900])))
        out.update(str(d) for (d,) in conn.execute(q))
    return out


def record_adverse(conn: Any, records: pd.DataFrame, *, first_seen: Any, source: str,
                   known: Iterable[str]) -> int:
    """Keep the adverse records a decision or a run saw; returns the rows inserted (keys
    not seen before).

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        In the caller's write transaction.
    records : pandas.DataFrame
        ``debtor_id``, ``record_type``, ``record_date`` (date-like), ``amount`` (rounded
        to cents here: the key of a record), ``currency``; records dated after the
        decision's day are the caller's to leave out (the decision ignored them).
    first_seen : date-like
        The decision's or the run's ``as_of``.
    source : str
        ``rerate:<run>`` or ``decision:<id>``.
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
    amount = np.round(records["amount"].to_numpy(dtype=np.float64), 2) + 0.0
    # Arrow's hash lookup (numpy's isin on text is quadratic: 53 s for 26,096 records
    # against 100,000 debtors; pandas' on Arrow strings a Python loop: 1 s)
    baseline = ~text_member(did, list(known))
    columns = [did.tolist(), records["record_type"].astype(str).tolist(), day_v,
               amount.tolist(), records["currency"].astype(str).tolist(),
               [source[:64]] * n, [seen.isoformat() if sqlite else seen] * n,
               baseline.tolist()]
    ph = "?" if sqlite else "%s"
    sql = (f"INSERT INTO adverse_seen ({', '.join(ADVERSE_COLUMNS)}) VALUES "
           f"({', '.join([ph] * len(ADVERSE_COLUMNS))}) "
           f"ON CONFLICT ({', '.join(KEY)}) DO NOTHING")
    rows = list(zip(*columns, strict=True))
    inserted = 0
    for lo in range(0, n, _SLICE):
        cur = conn.exec_driver_sql(sql, rows[lo:lo + _SLICE])
        inserted += max(0, int(cur.rowcount or 0))
    return inserted


def payload_adverse(debtor_id: str, records: Iterable[Any], day: dt.date) -> pd.DataFrame:
    """A payload's adverse records (``AdverseRecord`` models or dicts) dated up to ``day``
    as the frame :func:`record_adverse` takes."""
    rows = []
    for r in records:
        d: dict[str, Any] = r if isinstance(r, dict) else {
            k: getattr(r, k) for k in ("event_type", "event_date", "amount", "currency")}
        when = pd.Timestamp(d["event_date"]).date()
        if when <= day:
            rows.append((debtor_id, str(d["event_type"]), when, float(d["amount"]),
                         str(d["currency"])))
    return pd.DataFrame(rows, columns=list(KEY))
