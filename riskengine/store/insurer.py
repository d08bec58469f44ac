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

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskengine.contracts.schemas import INSURER_LIMITS
from riskengine.policy.insurer import REQUEST_COLUMNS
from riskengine.store.audit import _AuditTrail
from riskengine.store.driver import Prepared
from riskengine.store.runs import _floats, _insert, _iso, _objects, _tuples
from riskengine.store.tables import decisions, insurer_limits, insurer_requests, limit_register
from riskengine.store.values import _now

__all__ = ["LIMIT_COLUMNS", "pair_currencies"]

#: The contract columns of an insurer limit, as the store keeps them.
LIMIT_COLUMNS: tuple[str, ...] = INSURER_LIMITS.names
_KEY = ("insurer_id", "policy_id", "debtor_id", "supplier_id")
_DATES = ("decision_date", "effective_date")
_MONEY = ("requested_amount", "granted_amount", "cover_pct", "previous_granted_amount")
_BATCH = 900  # ids per IN (...) (SQLite's bound parameters)
_REQUEST_MONEY = ("approved_limit", "insured_limit", "insured_amount", "amount_requested")


def _ids(ids: Sequence[str]) -> dict[str, str]:
    """The parameters ``d0 ...`` of :func:`_latest_of` and :func:`_delete_requests_of`."""
    return {f"d{i}": d for i, d in enumerate(ids)}


@functools.lru_cache(maxsize=16)
def _latest_of(n: int) -> Any:
    """Every insurer-limit row of ``n`` debtors ``:d0 ...``, oldest first: one statement per
    list length, built and compiled once (the service reads it on every decision)."""
    c = insurer_limits.c
    return Prepared(sa.select(*[c[name] for name in LIMIT_COLUMNS]).where(c.debtor_id.in_(
        [sa.bindparam(f"d{i}", type_=sa.String) for i in range(n)])).order_by(c.id))


@functools.lru_cache(maxsize=16)
def _delete_requests_of(n: int) -> Any:
    """Delete the insurer requests of ``n`` debtors ``:d0 ...`` (as :func:`_latest_of`)."""
    t = insurer_requests
    return Prepared(t.delete().where(t.c.debtor_id.in_(
        [sa.bindparam(f"d{i}", type_=sa.String) for i in range(n)])))


def _normal(frame: pd.DataFrame) -> pd.DataFrame:
    """Every contract column of insurer-limit rows in one shape for comparing and writing:
    texts (missing: None, or NaN once pandas infers a text column), dates as
    ``datetime64[D]``, amounts as floats."""
    out = {}
    for c in LIMIT_COLUMNS:
        col = frame[c] if c in frame.columns else pd.Series(None, index=frame.index,
                                                            dtype=object)
        if c in _DATES:
            out[c] = pd.to_datetime(col).to_numpy(dtype="datetime64[D]")
        elif c in _MONEY:
            out[c] = pd.to_numeric(col).to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            v = col.astype(object).to_numpy(dtype=object)
            out[c] = np.asarray(np.where(np.asarray(pd.isna(v), dtype=bool), None,
                                         v.astype(str)), dtype=object)
    return pd.DataFrame(out)


def _latest_frame(conn: Connection, debtor_ids: Any) -> pd.DataFrame:
    """The latest state of each insurer-limit key of these debtors (:func:`_normal`): by
    indexed reads for a few debtors, the whole table through the driver's cursor for a
    book (a rerate: plain tuples, no Row objects)."""
    cols = list(LIMIT_COLUMNS)
    if len(debtor_ids) <= 5_000:
        rows = list(_latest(conn, sorted(str(d) for d in debtor_ids)).values())
        frame = pd.DataFrame([[r.get(c) for c in cols] for r in rows], columns=cols)
    else:
        driver: Any = conn.connection.driver_connection
        cur = driver.cursor()
        try:
            cur.execute(f"SELECT {', '.join(cols)} FROM insurer_limits ORDER BY id")
            frame = pd.DataFrame.from_records(cur.fetchall(), columns=cols)
        finally:
            cur.close()
        frame = frame.drop_duplicates(list(_KEY), keep="last")
    return _normal(frame)


def _keys(frame: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([np.where(pd.isna(frame[k].to_numpy(dtype=object)), "",
                                               frame[k].to_numpy(dtype=object)).astype(str)
                                      for k in _KEY])


def _changed(rows: pd.DataFrame, held: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Rows whose key has no state yet or whose state differs from the latest held one
    (missing equals missing)."""
    if not len(held):
        return np.ones(len(rows), dtype=bool)
    at = _keys(held).get_indexer(_keys(rows))
    found = at >= 0
    take = np.where(found, at, 0)
    differs = ~found
    for c in LIMIT_COLUMNS:
        a, b = rows[c].to_numpy(), held[c].to_numpy()[take]
        if c in _DATES:
            same = (a == b) | (np.isnat(a) & np.isnat(b))
        elif c in _MONEY:
            same = (a == b) | (np.isnan(a) & np.isnan(b))
        else:  # texts (pandas may hold a missing one as NaN)
            na, nb = np.asarray(pd.isna(a), dtype=bool), np.asarray(pd.isna(b), dtype=bool)
            same = (na & nb) | (~na & ~nb & (a.astype(str) == b.astype(str)))
        differs |= found & ~same
    out: npt.NDArray[np.bool_] = differs
    return out


def _append(conn: Connection, rows: pd.DataFrame, source: str, now: str) -> None:
    """Insert insurer-limit states (:func:`_normal` rows) with one driver ``executemany``."""
    sqlite = conn.dialect.name == "sqlite"
    cols = list(LIMIT_COLUMNS)
    values = []
    for c in cols:
        v = rows[c].to_numpy()
        if c in _DATES:
            values.append(_objects(_iso(v, sqlite), len(rows)))
        elif c in _MONEY:
            values.append(_objects(_floats(v), len(rows)))
        else:
            values.append(np.asarray(np.where(np.asarray(pd.isna(v), dtype=bool), None, v),
                                     dtype=object))
    values += [_objects(source, len(rows)), _objects(now, len(rows))]
    _insert(conn, "insurer_limits", [*cols, "source", "recorded_at"],
            _tuples(values, np.arange(len(rows))))


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
        if not len(frame):
            return 0
        rows = _normal(frame)
        now = _now()
        with self._write() as conn:
            held = _latest_frame(conn, pd.unique(rows["debtor_id"]))
            fresh = _changed(rows, held)
            if fresh.any():
                _append(conn, rows[fresh], str(source)[:200], now)
        return int(fresh.sum())

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

    def replace_insurer_requests(self, requests: pd.DataFrame | Mapping[str, Any], *,
                                 debtors: Sequence[str] | None, source: str, as_of: Any,
                                 conn: Connection | None = None) -> int:
        """Replace the requests of ``debtors`` (None: every debtor, a whole book) with the
        rows of ``requests`` (:data:`~riskengine.policy.insurer.REQUEST_COLUMNS`: a frame,
        or columns as :func:`~riskengine.policy.insurer.request_columns` gives them).

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
                part = ids[i:i + _BATCH]
                _delete_requests_of(len(part)).rows(conn, _ids(part))
        n = len(requests[REQUEST_COLUMNS[0]])
        if not n:
            return 0
        sqlite = conn.dialect.name == "sqlite"
        day = None if as_of is None else pd.Timestamp(as_of).date()
        values = []
        for name in REQUEST_COLUMNS:  # columns at once, rows by one driver executemany
            v = np.asarray(requests[name], dtype=object)
            if name in _REQUEST_MONEY:
                values.append(_objects(_floats(np.asarray(pd.to_numeric(v), dtype=np.float64)),
                                       n))
            else:
                values.append(np.asarray(np.where(np.asarray(pd.isna(v), dtype=bool),
                                                  np.asarray(None, dtype=object), v),
                                         dtype=object))
        values += [_objects(None if day is None else (day.isoformat() if sqlite else day), n),
                   _objects(str(source)[:64], n), _objects(_now(), n)]
        _insert(conn, t.name, [*REQUEST_COLUMNS, "as_of", "source", "recorded_at"],
                _tuples(values, np.arange(n)))
        return n

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
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for i in range(0, len(debtor_ids), _BATCH):
        part = debtor_ids[i:i + _BATCH]
        for values in _latest_of(len(part)).rows(conn, _ids(part)):
            r = dict(zip(LIMIT_COLUMNS, values, strict=True))
            out[tuple(r[k] for k in _KEY)] = r
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
