"""Insurer limits and the request loop in the store (issue 16; shell layer).

- ``insurer_limits`` keeps every state an insurer's limit had (append-only: a response
  adds a row, never changes one); the state of a key (insurer, policy, debtor, supplier)
  is its latest row. :meth:`_InsurerRegister.record_insurer_limits` writes only the rows
  whose state differs from the latest, in one transaction.
- ``insurer_requests`` holds what to ask the insurer for, as the pairs' latest decisions
  left it: a ``rerate`` run replaces the requests of its debtors (all of them for a whole
  book), a service decision those of its debtor.

The rows of ``insurer_limits`` are those of :data:`riskengine.contracts.schemas.INSURER_LIMITS`
(validated before they come here: :func:`riskengine.serve.insurer.check_responses`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskengine.contracts.schemas import INSURER_LIMITS
from riskengine.policy.insurer import REQUEST_COLUMNS
from riskengine.store.audit import _AuditTrail
from riskengine.store.tables import decisions, insurer_limits, insurer_requests, limit_register
from riskengine.store.values import _now

__all__ = ["LIMIT_COLUMNS", "pair_currencies"]

#: The contract columns of an insurer limit, as the store keeps them.
LIMIT_COLUMNS: tuple[str, ...] = INSURER_LIMITS.names
_KEY = ("insurer_id", "policy_id", "debtor_id", "supplier_id")
_DATES = ("decision_date", "effective_date")
_MONEY = ("requested_amount", "granted_amount", "cover_pct", "previous_granted_amount")
_BATCH = 900  # ids per IN (...) (SQLite's bound parameters)


def _plain(value: Any) -> Any:
    """A frame's cell for the driver: None for missing, dates as ``datetime.date``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cols = [c for c in LIMIT_COLUMNS if c in frame.columns]
    return [{c: _plain(v) for c, v in zip(cols, rec, strict=True)}
            for rec in frame[cols].itertuples(index=False, name=None)]


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    for c in LIMIT_COLUMNS:
        x, y = a.get(c), b.get(c)
        if isinstance(x, dt.datetime):
            x = x.date()
        if isinstance(y, dt.datetime):
            y = y.date()
        if x != y:
            return False
    return True


class _InsurerRegister(_AuditTrail):
    """Insurer limits (append-only states) and the requests to the insurer."""

    # -- insurer limits -------------------------------------------------------------------

    def record_insurer_limits(self, frame: pd.DataFrame, *, source: str) -> int:
        """Append the rows of a validated ``insurer_limits`` frame whose state is new (one
        transaction: all of them or none).

        Parameters
        ----------
        frame : pandas.DataFrame
            Rows of :data:`~riskengine.contracts.schemas.INSURER_LIMITS` (checked before).
        source : str
            Where they come from (``response:<file>``, ``http``, ``rerate:<run>``).

        Returns
        -------
        int
            Rows appended (a row equal to its key's latest state is not).
        """
        rows = _rows(frame)
        if not rows:
            return 0
        now = _now()
        with self._write() as conn:
            latest = _latest(conn, sorted({r["debtor_id"] for r in rows}))
            new = [r for r in rows if (prev := latest.get(tuple(r[k] for k in _KEY))) is None
                   or not _same(prev, r)]
            if new:
                conn.execute(insurer_limits.insert(), [
                    {**r, "source": str(source)[:200], "recorded_at": now} for r in new])
        return len(new)

    def insurer_limit_states(self, debtor_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The state of every insurer limit on these debtors (the latest row of each key) as
        dicts of the contract's columns (dates as ``datetime.date``, missing as None); one
        indexed read, no frame (the service's request path)."""
        ids = sorted({str(d) for d in debtor_ids})
        with self._read() as conn:
            latest = _latest(conn, ids)
        return [{c: r.get(c) for c in LIMIT_COLUMNS} for r in latest.values()]

    def insurer_limits_of(self, debtor_ids: Iterable[str]) -> pd.DataFrame:
        """The state of every insurer limit on these debtors (the latest row of each key),
        as a frame of the contract's columns (sorted by key)."""
        frame = pd.DataFrame(self.insurer_limit_states(debtor_ids),
                             columns=list(LIMIT_COLUMNS))
        for c in _DATES:
            frame[c] = pd.to_datetime(frame[c]).astype("datetime64[ns]")
        for c in _MONEY:
            frame[c] = pd.to_numeric(frame[c]).astype(np.float64)
        return frame.sort_values(list(_KEY), na_position="first").reset_index(drop=True)

    def insurer_limit_history(self, debtor_id: str) -> list[dict[str, Any]]:
        """Every state recorded for a debtor's insurer limits, oldest first (with ``source``
        and ``recorded_at``)."""
        c = insurer_limits.c
        q = sa.select(insurer_limits).where(c.debtor_id == str(debtor_id)).order_by(c.id)
        with self._read() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def known_debtors(self, debtor_ids: Iterable[str]) -> set[str]:
        """The debtors of ``debtor_ids`` the store knows: with a stored decision or a limit
        in the register."""
        ids = sorted({str(d) for d in debtor_ids})
        found: set[str] = set()
        with self._read() as conn:
            for i in range(0, len(ids), _BATCH):
                part = ids[i:i + _BATCH]
                for table in (decisions, limit_register):
                    found.update(conn.execute(sa.select(table.c.debtor_id).where(
                        table.c.debtor_id.in_(part)).distinct()).scalars())
        return found

    # -- the requests to the insurer ----------------------------------------------------------

    def replace_insurer_requests(self, requests: pd.DataFrame, *,
                                 debtors: Sequence[str] | None, source: str, as_of: Any,
                                 conn: Connection | None = None) -> int:
        """Replace the requests of ``debtors`` (None: every debtor, a whole book) with the
        rows of ``requests`` (:data:`~riskengine.policy.insurer.REQUEST_COLUMNS`).

        Returns
        -------
        int
            Requests written.
        """
        if conn is None:
            with self._write() as c:
                return self.replace_insurer_requests(requests, debtors=debtors, source=source,
                                                     as_of=as_of, conn=c)
        t = insurer_requests
        if debtors is None:
            conn.execute(t.delete())
        else:
            ids = sorted({str(d) for d in debtors})
            for i in range(0, len(ids), _BATCH):
                conn.execute(t.delete().where(t.c.debtor_id.in_(ids[i:i + _BATCH])))
        if not len(requests):
            return 0
        day = pd.Timestamp(as_of).date() if as_of is not None else None
        now = _now()
        cols = list(REQUEST_COLUMNS)
        rows = [{**{c: _plain(v) for c, v in zip(cols, rec, strict=True)}, "as_of": day,
                 "source": str(source)[:64], "recorded_at": now}
                for rec in requests[cols].itertuples(index=False, name=None)]
        conn.execute(t.insert(), rows)
        return len(rows)

    def insurer_requests(self, debtor_id: str | None = None) -> list[dict[str, Any]]:
        """The requests to the insurer (of one debtor, or all), sorted by debtor and
        supplier: :data:`~riskengine.policy.insurer.REQUEST_COLUMNS` with ``as_of``,
        ``source`` and ``recorded_at``."""
        c = insurer_requests.c
        q = sa.select(*[c[n] for n in (*REQUEST_COLUMNS, "as_of", "source", "recorded_at")])
        if debtor_id is not None:
            q = q.where(c.debtor_id == str(debtor_id))
        q = q.order_by(c.debtor_id, c.supplier_id, c.id)
        with self._read() as conn:
            out = [dict(r) for r in conn.execute(q).mappings()]
        for r in out:
            if r["as_of"] is not None:
                r["as_of"] = r["as_of"].isoformat()
        return out


def _latest(conn: Connection, debtor_ids: Sequence[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The latest row of each insurer-limit key of these debtors."""
    c = insurer_limits.c
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for i in range(0, len(debtor_ids), _BATCH):
        q = (sa.select(*[c[n] for n in LIMIT_COLUMNS]).where(
            c.debtor_id.in_(list(debtor_ids[i:i + _BATCH]))).order_by(c.id))
        for r in conn.execute(q).mappings():
            out[tuple(r[k] for k in _KEY)] = dict(r)
    return out


def pair_currencies(store: Any, debtor_ids: Iterable[str]
                    ) -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    """The currencies of the register's pairs of these debtors: by debtor, and by
    (supplier, debtor)."""
    ids = sorted({str(d) for d in debtor_ids})
    c = limit_register.c
    by_debtor: dict[str, set[str]] = {}
    by_pair: dict[tuple[str, str], str] = {}
    with store.connect() as conn:
        for i in range(0, len(ids), _BATCH):
            q = sa.select(c.supplier_id, c.debtor_id, c.currency).where(
                c.debtor_id.in_(ids[i:i + _BATCH]))
            for sid, did, cur in conn.execute(q):
                if cur is None:
                    continue
                by_debtor.setdefault(did, set()).add(cur)
                by_pair[(sid, did)] = cur
    return by_debtor, by_pair
