"""A ``rerate`` run into the limit register: every pair of the run at once, by the register's
one rule (:func:`riskengine.store.register_rule.next_state`), in one transaction.

- A pair the register does not hold yet but whose exposure has a limit in force
  (``exposures.approved_limit``, the decision's ``current_limit``) is first **seeded**
  with it (history action ``new``, source ``seed:<run>``): the run's change is then a
  limit action against it, with its notice.
- Updates are ordered by ``as_of``: a pair whose register row is newer than the run is
  left as it is (history ``not_applied``).
- A cut waits for the policy's notice (at once after a knock-out); what was delivered
  and approved stays protected.
- Each row keeps the funding terms of the run's decision (grade, product, advance
  rate, ...), so ``/v1/invoices/check`` answers from the register.
- A pair whose limit the run confirms gets no history row, only its row's ``as_of``,
  source and terms.
- The adverse records the run decided on are kept (``adverse_seen``,
  :func:`riskengine.store.adverse.record_adverse`) in the same transaction: those of a
  debtor the register held before are news on the desk's alerts page when first seen.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from riskengine.errors import RerateError
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.store.adverse import record_adverse
from riskengine.store.register_rule import ACTIONS, RegisterRows, next_state
from riskengine.store.tables import limit_register
from riskengine.store.values import _now

__all__ = ["apply_run"]

_SLICE = 100_000  # pairs whose rows are built and written at once
_RUN_CACHE_KIB = 262_144  # SQLite page cache during a run: 1.3M pairs, 14.3 -> 10.7 s insert

_STATE = ("limit_amount", "previous_limit", "effective_date", "pending_limit",
          "pending_effective_date", "as_of", "outstanding", "currency")


def _held(conn: Any, pairs: pd.DataFrame) -> pd.DataFrame:
    """The register rows of the run's pairs (all rows when the run is large)."""
    cols = [limit_register.c[c] for c in ("supplier_id", "debtor_id", *_STATE, "grade")]
    q = sa.select(*cols)
    debtors = pd.unique(pairs["debtor_id"].astype(str))
    if len(debtors) <= 5_000:
        frames = [pd.DataFrame(conn.execute(q.where(limit_register.c.debtor_id.in_(
            debtors[i:i + 900].tolist()))).all(), columns=[c.name for c in cols])
            for i in range(0, len(debtors), 900)] or [pd.DataFrame(columns=[c.name for c in cols])]
        return pd.concat(frames, ignore_index=True)
    # the whole register through the driver's cursor: plain tuples (SQLAlchemy's Row
    # objects cost pandas a failed attribute lookup each, 9 s for 1.3M rows)
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute(f"SELECT {', '.join(c.name for c in cols)} FROM limit_register")
        return pd.DataFrame.from_records(cur.fetchall(), columns=[c.name for c in cols])
    finally:
        cur.close()


def _reconcile(held: pd.DataFrame, has: np.ndarray, take: np.ndarray,
               pairs: pd.DataFrame) -> None:
    """A register row the run cannot reconcile stops the write (nothing is written): a
    limit held in another currency than the run decides the pair in."""
    if not has.any():
        return
    cur = held["currency"].to_numpy(dtype=object)[take]
    run_cur = pairs["currency"].to_numpy(dtype=object)
    bad = has & pd.notna(cur) & pd.notna(run_cur) & (cur != run_cur)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RerateError(
            f"limit register: pair {pairs['supplier_id'].iloc[i]} / debtor "
            f"{pairs['debtor_id'].iloc[i]} holds its limit in {cur[i]}, the run decides it "
            f"in {run_cur[i]} ({int(bad.sum())} such pairs); nothing was written to the "
            "register. Reconcile the register (or the exposure's currency) and run again.")


def _days(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s, errors="coerce").to_numpy(dtype="datetime64[D]")


def _dates(a: np.ndarray) -> list[Any]:
    """datetime64[D] values as ``datetime.date`` (NaT: None), for the SQL driver."""
    return a.astype("datetime64[D]").astype(object).tolist()


def _floats(a: np.ndarray) -> list[float | None]:
    """Floats for the driver (NaN: None)."""
    values = np.asarray(a, dtype=np.float64)
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out.tolist()


def apply_run(store: Any, pairs: pd.DataFrame, *, as_of: Any, run: str, policy: CreditPolicy,
              changed_by: str = "rerate", adverse: pd.DataFrame | None = None
              ) -> dict[str, int]:
    """Write a run's pairs into the store's limit register (module docstring).

    Parameters
    ----------
    store : riskengine.store.DecisionStore
    pairs : pandas.DataFrame
        One row per pair of the run: ``supplier_id``, ``debtor_id``, ``approved_limit``,
        ``knockout``, ``approved_outstanding``, ``current_limit``, ``currency`` and the
        terms (:data:`riskengine.store.register.TERMS_KEYS` present among its columns).
    as_of : date-like
    run : str
        The run's id (sources ``rerate:<run>`` and ``seed:<run>``).
    policy : CreditPolicy
    adverse : pandas.DataFrame, optional
        The adverse records the run decided on (:data:`riskengine.store.adverse.KEY`
        columns), kept with ``first_seen`` = ``as_of``.

    Returns
    -------
    dict
        Pairs ``applied``, ``not_applied`` (the register was newer), ``seeded``, and
        the history rows written by action.
    """
    day = pd.Timestamp(as_of).date()
    now = _now()
    n = len(pairs)
    if n == 0:
        return {"applied": 0, "not_applied": 0, "seeded": 0}
    sid = pairs["supplier_id"].astype(str).to_numpy(dtype=object)
    did = pairs["debtor_id"].astype(str).to_numpy(dtype=object)
    with store._write() as conn:
        if conn.dialect.name == "postgresql":  # one writer of the register for the run
            conn.execute(sa.text("LOCK TABLE limit_register IN SHARE ROW EXCLUSIVE MODE"))
        else:  # SQLite: a page cache that holds the register's indexes for the run
            conn.exec_driver_sql(f"PRAGMA cache_size=-{_RUN_CACHE_KIB}")
        held = _held(conn, pairs)
        at = pd.MultiIndex.from_frame(held[["supplier_id", "debtor_id"]].astype(str)) \
            .get_indexer(pd.MultiIndex.from_arrays([sid, did]))
        has = at >= 0
        take = np.where(has, at, 0)
        _reconcile(held, has, take, pairs)

        def col(name: str, days: bool = False) -> np.ndarray:
            if not len(held):
                return np.full(n, np.datetime64("NaT", "D") if days else np.nan)
            v = _days(held[name]) if days else held[name].to_numpy(dtype=np.float64,
                                                                     na_value=np.nan)
            return np.where(has, v[take], np.datetime64("NaT", "D") if days else np.nan)

        current = pairs["current_limit"].to_numpy(dtype=np.float64, na_value=0.0)
        seed = ~has & (current > 0)
        rows = RegisterRows(
            has | seed, np.where(seed, current, col("limit_amount")),
            np.where(seed, 0.0, col("previous_limit")), col("effective_date", True),
            col("pending_limit"), col("pending_effective_date", True), col("as_of", True),
            col("outstanding"))
        st = next_state(rows, pairs["approved_limit"].to_numpy(dtype=np.float64,
                                                               na_value=0.0),
                        day, pairs["knockout"].to_numpy(dtype=bool, na_value=False), policy,
                        outstanding=pairs["approved_outstanding"].to_numpy(
                            dtype=np.float64, na_value=np.nan))
        grades: np.ndarray = (held["grade"].to_numpy(dtype=object) if len(held)
                              else np.full(n, None, dtype=object))[take]
        before: np.ndarray = np.where(has & np.asarray(pd.notna(grades), dtype=bool), grades,
                                      np.full(n, None, dtype=object))  # the row's grade
        _write_rows(conn, st, has, sid, did, pairs, day, run, now, policy, before)
        counts: dict[str, int] = {}
        _history(conn, st, seed, sid, did, pairs, day, run, changed_by, now, counts)
        if adverse is not None:  # the debtors the register held before this run
            counts["adverse_new"] = record_adverse(
                conn, adverse, first_seen=day, source=f"rerate:{run}",
                known=held["debtor_id"].astype(str).unique() if len(held) else [])
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-2000")  # SQLite's default, for the pool
    return {"applied": int(st.applied.sum()), "not_applied": int((~st.applied).sum()),
            "seeded": int(seed.sum()),
            **{k if k.startswith("adverse") else f"history_{k}": v
               for k, v in sorted(counts.items())}}


def _iso(a: np.ndarray, sqlite: bool) -> list[Any]:
    """Days for the driver: ISO text on SQLite (what SQLAlchemy's Date stores), dates
    elsewhere; NaT: None."""
    if not sqlite:
        return _dates(a)
    days = a.astype("datetime64[D]")
    text = np.datetime_as_string(days, unit="D").astype(object)
    text[np.isnat(days)] = None
    return text.tolist()


def _texts(pairs: pd.DataFrame, name: str) -> list[Any]:
    """A column as str values for the driver (missing, or no such column: None)."""
    if name not in pairs.columns:
        return [None] * len(pairs)
    col = pairs[name]
    if not (pd.api.types.is_string_dtype(col.dtype) and col.dtype != object):
        col = col.astype("string")
    return col.to_numpy(dtype=object, na_value=None).tolist()


def _insert(conn: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """One driver-level ``executemany`` (no per-row statement processing: a run writes a
    whole book)."""
    ph = "?" if conn.dialect.name == "sqlite" else "%s"
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                         f"({', '.join([ph] * len(columns))})", rows)


def _objects(values: list[Any] | Any, n: int) -> np.ndarray:
    """A column as an object array of length ``n`` (a scalar: repeated)."""
    if isinstance(values, list):
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    return np.full(n, values, dtype=object)


def _tuples(columns: list[np.ndarray], at: np.ndarray) -> list[tuple[Any, ...]]:
    """The driver's rows: the columns' values at positions ``at``, row by row."""
    return list(zip(*(c[at] for c in columns), strict=True))


def _write_rows(conn: Any, st: Any, has: np.ndarray, sid: np.ndarray, did: np.ndarray,
                pairs: pd.DataFrame, day: dt.date, run: str, now: str,
                policy: CreditPolicy, previous_grade: np.ndarray) -> None:
    """The pairs' register rows: inserted for new pairs, updated for held ones (the
    applied ones only), with the run's funding terms."""
    sqlite = conn.dialect.name == "sqlite"
    n = len(pairs)
    day_v = day.isoformat() if sqlite else day

    def num(name: str) -> list[float | None]:
        return _floats(pairs[name].to_numpy(dtype=np.float64, na_value=np.nan))

    cols: dict[str, Any] = {
        "limit_amount": st.limit_amount.tolist(), "previous_limit": st.previous_limit.tolist(),
        "effective_date": _iso(st.effective_date, sqlite),
        "pending_limit": _floats(st.pending_limit),
        "pending_effective_date": _iso(st.pending_effective_date, sqlite),
        "status": st.status.tolist(), "outstanding": _floats(st.outstanding),
        "protected_outstanding": st.protected.tolist(), "currency": _texts(pairs, "currency"),
        "notice_days": policy.limits.notice_days, "source": f"rerate:{run}"[:64],
        "as_of": day_v, "decision_id": None, "updated_at": now,
        # the run's funding terms (riskengine.store.register.TERM_COLUMNS)
        "grade": _texts(pairs, "grade"), "pd": num("pd"), "product": _texts(pairs, "product"),
        "supplier_grade": _texts(pairs, "supplier_grade"), "advance_rate": num("advance_rate"), "rating_as_of": day_v,
        **{name: _texts(pairs, name) for name in ("decided_at", "model_version",
                                                  "policy_version", "decision_type",
                                                  "group_id", "sector", "country")},
        "previous_grade": previous_grade.tolist()}
    names = list(cols)
    values = [_objects(v, n) for v in cols.values()]
    keys = [sid, did]
    ph = "?" if sqlite else "%s"
    update = (f"UPDATE limit_register SET {', '.join(f'{c} = {ph}' for c in names)} "
              f"WHERE supplier_id = {ph} AND debtor_id = {ph}")
    new_at = np.flatnonzero(~has)
    held_at = np.flatnonzero(has & st.applied)
    for lo in range(0, max(new_at.size, held_at.size), _SLICE):  # tuples for a slice only
        if lo < new_at.size:
            _insert(conn, "limit_register", ["supplier_id", "debtor_id", *names],
                    _tuples(keys + values, new_at[lo:lo + _SLICE]))
        if lo < held_at.size:
            conn.exec_driver_sql(update, _tuples(values + keys, held_at[lo:lo + _SLICE]))


_HISTORY_COLUMNS = ("supplier_id", "debtor_id", "action", "old_limit", "new_limit",
                    "effective_date", "protected_outstanding", "source", "reason",
                    "changed_by", "decision_id", "changed_at", "as_of")


def _history(conn: Any, st: Any, seed: np.ndarray, sid: np.ndarray, did: np.ndarray,
             pairs: pd.DataFrame, day: dt.date, run: str, changed_by: str, now: str,
             counts: dict[str, int]) -> None:
    """History rows, one per pair that changed or was not applied, and one per seeded
    pair (its first row: the change against the seeded limit, or the seed itself when
    the run confirms it), written slice by slice."""
    sqlite = conn.dialect.name == "sqlite"
    new = pairs["approved_limit"].to_numpy(dtype=np.float64, na_value=0.0)
    current = pairs["current_limit"].to_numpy(dtype=np.float64, na_value=0.0)
    unchanged = ACTIONS.index("unchanged")
    keep = np.flatnonzero((st.action != unchanged) | seed)
    day_v = day.isoformat() if sqlite else day
    names = np.array(ACTIONS, dtype=object)
    for lo in range(0, keep.size, _SLICE):
        part = keep[lo:lo + _SLICE]
        k = part.size
        seeded = seed[part]
        confirm = seeded & (st.action[part] == unchanged)  # the run confirms the seeded limit
        applied = st.applied[part]
        action = names[st.action[part]]
        action[confirm] = "new"
        old = _objects(_floats(st.old_limit[part]), k)
        old[confirm] = None
        eff = _objects(_iso(st.history_date[part], sqlite), k)
        eff[confirm] = day_v
        protected = _objects(st.protected[part].tolist(), k)
        protected[confirm | ~applied] = None
        reason = np.select(
            [confirm, ~applied, seeded],
            [_objects("the limit in force before the first re-rating "
                      "(exposures.approved_limit), confirmed", k),
             _objects(f"re-rating {run} (older than the register's as_of: not applied)", k),
             _objects(f"re-rating {run} against the limit in force "
                      "(exposures.approved_limit)", k)],
            _objects(f"re-rating {run}", k))
        source = np.where(confirm, f"seed:{run}"[:64], f"rerate:{run}"[:64]).astype(object)
        limit = _objects(np.where(confirm, current[part], new[part]).tolist(), k)
        columns = [sid[part], did[part], action, old, limit, eff, protected, source, reason,
                   _objects(changed_by, k), _objects(None, k), _objects(now, k),
                   _objects(day_v, k)]
        for name, count in zip(*np.unique(action.astype(str), return_counts=True),
                               strict=True):
            counts[str(name)] = counts.get(str(name), 0) + int(count)
        _insert(conn, "limit_history", list(_HISTORY_COLUMNS),
                _tuples(columns, np.arange(k)))
