"""Funding checks and the limit register with its history (methods of the store)."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskengine.errors import InvalidInputError
from riskengine.features.fx import FxRates, currency_codes
from riskengine.policy.book import BookRest
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.scoring.suppliers import SupplierBook
from riskengine.store.database import _Database
from riskengine.store.driver import Prepared, insert_row, select_rows, update_rows
from riskengine.store.register_rule import (
    ACTIONS,
    NextState,
    RegisterRows,
    in_force,
    next_state,
)
from riskengine.store.tables import funding_checks, limit_history, limit_register
from riskengine.store.values import _date, _float, _new_id, _now, _row, _str

# Prebuilt statements: compiled once and cached by SQLAlchemy (a fresh ``insert().values(...)``
# per call costs more than the SQLite write itself).
_INSERT_CHECK = funding_checks.insert()
_PAIR = (limit_register.c.supplier_id == sa.bindparam("p_supplier"),
         limit_register.c.debtor_id == sa.bindparam("p_debtor"))
_SELECT_REGISTER = sa.select(limit_register).where(*_PAIR)
# PostgreSQL: a pair's first row; a concurrent first insert makes it do nothing (and wait
# for that one to commit) instead of failing on the primary key
_PAIR_LOCK_PG = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")


def _locked_pair(conn: Connection, key: dict[str, str]) -> Any:
    """The pair's register row (None for a new pair), with the pair locked until the
    transaction ends, so that a read-modify-write of one pair cannot lose an update.

    SQLite: the transaction is ``BEGIN IMMEDIATE`` (one writer at a time). PostgreSQL: a
    transaction-scoped advisory lock on the pair (it also covers a pair that has no row
    yet, so two first inserts cannot collide), then ``SELECT ... FOR UPDATE``.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(_PAIR_LOCK_PG, {"k": f"{key['p_supplier']}\x1f{key['p_debtor']}"})
    rows = select_rows(conn, limit_register, {"supplier_id": key["p_supplier"],
                                              "debtor_id": key["p_debtor"]},
                       for_update=True)
    return rows[0] if rows else None


def _history_id(conn: Connection, row: Mapping[str, Any]) -> int:
    """Insert a history row; its id."""
    return int(insert_row(conn, limit_history, row, returning="id") or 0)


BOOK_SNAPSHOT_SECONDS = 60.0
"""How long the book's totals by sector and country are reused when they are costly to
compute (:meth:`DecisionStore.book_rest`): sector and country shares of a large book move
slowly, and a decision should not pay a scan of the whole register."""
BOOK_FRESH_SECONDS = 0.01
"""Below this computing time the book's totals are computed afresh for every decision."""


_IN_FORCE_SQL = (
    "CASE WHEN pending_limit IS NOT NULL AND pending_effective_date IS NOT NULL"
    " AND pending_effective_date <= :day THEN pending_limit"
    " WHEN effective_date IS NULL OR effective_date <= :day THEN limit_amount"
    " ELSE previous_limit END")
"""The limit in force on the day ``:day`` of a register row, in SQL
(:func:`~riskengine.store.register_rule.in_force`: a pending change past its date, else
the limit from its effective date, else the limit before it)."""

_BOOK_TOTALS = Prepared(sa.text(
    "SELECT COALESCE(sector, ''), COALESCE(country, ''), currency, SUM(" + _IN_FORCE_SQL + ")"
    " FROM limit_register GROUP BY 1, 2, 3"
).bindparams(sa.bindparam("day", type_=sa.Date)))


@functools.lru_cache(maxsize=64)
def _book_mine(n_excl: int, n_grp: int) -> Any:
    """The rows of ``n_excl`` debtors ``:e0 ...`` (flag 1) and of ``n_grp`` groups ``:g0
    ...`` at stake, by group, sector, country and currency (:meth:`DecisionStore.book_rest`):
    plain text, one statement per list length (SQLAlchemy's expanding IN costs about
    0.5 ms a call to render)."""
    excl = ", ".join(f":e{i}" for i in range(n_excl)) or "NULL"
    grp = ", ".join(f":g{i}" for i in range(n_grp)) or "NULL"
    return Prepared(sa.text(
        f"SELECT CASE WHEN debtor_id IN ({excl}) THEN 1 ELSE 0 END, group_id,"
        " COALESCE(sector, ''), COALESCE(country, ''), currency, SUM(" + _IN_FORCE_SQL + ")"
        f" FROM limit_register WHERE (debtor_id IN ({excl})"
        f" OR group_id IN ({grp})) GROUP BY 1, 2, 3, 4, 5"
    ).bindparams(sa.bindparam("day", type_=sa.Date)))


_RATED_COLUMNS = ("debtor_id", "grade", "rating_as_of")
_REGISTER_COLUMNS = tuple(c.name for c in limit_register.columns)


@functools.lru_cache(maxsize=32)
def _supplier_reads(n: int) -> tuple[Any, Any]:
    """The two reads of :meth:`DecisionStore.supplier_book` for ``n`` suppliers ``:s0 ...``
    (and the day ``:p_day``): their ratings as debtors, newest first, and their pairs' rows.
    One statement per list length, built and compiled once (a fresh select with ``in_``
    per call costs more than the reads)."""
    c = limit_register.c
    ids = [sa.bindparam(f"s{i}", type_=sa.String) for i in range(n)]
    rated = (sa.select(c.debtor_id, c.grade, c.rating_as_of)
             .where(c.debtor_id.in_(ids), c.grade.is_not(None), c.rating_as_of.is_not(None),
                    c.rating_as_of <= sa.bindparam("p_day", type_=sa.Date))
             .order_by(c.debtor_id, c.rating_as_of.desc(), c.updated_at.desc()))
    pairs = sa.select(limit_register).where(
        c.supplier_id.in_([sa.bindparam(f"s{i}", type_=sa.String) for i in range(n)]))
    return Prepared(rated), Prepared(pairs)


def _converter(day: dt.date, base: str, rates: FxRates | None) -> Any:
    """``factor(currency, amount)``: units of ``base`` per unit of a register row's
    currency on ``day`` (1 in ``base``; None: the row does not count, its currency being
    unknown, or another one without ``rates``); a missing rate for a non-zero amount is an
    :class:`~riskengine.errors.InvalidInputError` (``missing_fx_rate``)."""
    at = int(np.datetime64(day, "D").astype(np.int64))

    def factor(currency: str | None, amount: float) -> float | None:
        if currency == base:
            return 1.0
        if not currency or rates is None:
            return None
        rate = float(rates.in_force(currency_codes([currency]), at)[0])
        if rate != rate:
            if not amount:
                return 0.0
            msg = (f"the limit register holds limits in {currency}, and no {currency} rate "
                   f"is in force on {day} (fx_rates): the book's caps cannot count them. "
                   "Add the rate.")
            raise InvalidInputError(msg, [{
                "table": "fx_rates", "record": str(currency), "debtor_id": None,
                "column": "currency", "value": str(currency), "reason": "missing_fx_rate",
                "message": msg}])
        return rate

    return factor


@functools.cache
def _shipped_policy() -> CreditPolicy:
    from riskengine.config import load_policy

    return load_policy()


def _checked_limit(supplier_id: Any, debtor_id: Any, value: Any, reason: Any,
                   changed_by: Any) -> float:
    """The proposed limit as a float >= 0, with a reason and an author; else InvalidInputError."""
    limit = _float(value)
    if limit is None or limit < 0:
        raise InvalidInputError(
            f"limit of supplier {supplier_id!s} / debtor {debtor_id!s}: the new limit must "
            "be a finite number >= 0 (0 cancels the limit).",
            [{"table": "limit_register", "record": f"{supplier_id}/{debtor_id}",
              "debtor_id": str(debtor_id), "column": "new_limit", "value": None,
              "reason": "negative", "message": "the new limit must be >= 0"}])
    for name, text in (("reason", reason), ("changed_by", changed_by)):
        if not str(text or "").strip():
            raise InvalidInputError(
                f"limit of supplier {supplier_id!s} / debtor {debtor_id!s}: {name} is "
                "empty; every limit change records why and who.",
                [{"table": "limit_history", "record": f"{supplier_id}/{debtor_id}",
                  "debtor_id": str(debtor_id), "column": name, "value": None,
                  "reason": "missing_value", "message": f"{name} is empty"}])
    return limit


def _status(limit: float, pending: tuple[float, Any] | None) -> str:
    if pending is not None:
        return "pending_cut" if pending[0] < limit else "pending_increase"
    return "cancelled" if limit <= 0 else "active"


def _pending(pending: tuple[float, dt.date] | None) -> dict[str, Any] | None:
    return None if pending is None else {"limit": float(pending[0]),
                                         "effective_date": pending[1].isoformat()}


def _entry(row: Mapping[Any, Any], day: dt.date) -> dict[str, Any]:
    """A register row as seen on ``day`` (a pending change past its date is in force)."""
    force, since_day, before_arr = in_force(register_rows([row]), np.datetime64(day, "D"))
    limit, since, before = float(force[0]), _day(since_day[0]), float(before_arr[0])
    pend = row["pending_limit"]
    pending = None
    if pend is not None and since != row["pending_effective_date"]:
        pending = (float(pend), row["pending_effective_date"])
    elif since is None:  # before the in-force limit's own date: it is still to come
        pending = (float(row["limit_amount"]), row["effective_date"])
    return {"supplier_id": row["supplier_id"], "debtor_id": row["debtor_id"],
            "limit": limit, "registered_limit": float(pend if pend is not None
                                                      else row["limit_amount"]),
            "previous_limit": before,
            "effective_date": None if since is None else since.isoformat(),
            "status": _status(limit, pending), "source": row["source"],
            "as_of": None if row["as_of"] is None else row["as_of"].isoformat(),
            "notice_days": row["notice_days"], "pending": _pending(pending),
            "outstanding": row["outstanding"],
            "protected_outstanding": row["protected_outstanding"],
            "currency": row["currency"], "decision_id": row["decision_id"],
            "updated_at": row["updated_at"], "terms": _terms_of(row)}


def _terms_of(row: Mapping[Any, Any]) -> dict[str, Any] | None:
    """The funding terms a register row keeps (None: the row has none)."""
    if row["rating_as_of"] is None:
        return None
    out = {key: row[col] for key, col in TERM_COLUMNS.items()}
    out["as_of"] = row["rating_as_of"].isoformat()
    out["currency"], out["decision_id"] = row["currency"], row["decision_id"]
    return out


def _day(value: Any) -> dt.date | None:
    """A numpy day as a date (NaT: None)."""
    return None if np.isnat(value) else value.astype("datetime64[D]").item()


def _opt(value: float) -> float | None:
    return None if value != value else float(value)


def register_rows(rows: list[Mapping[Any, Any] | None]) -> RegisterRows:
    """:class:`~riskengine.store.register_rule.RegisterRows` of register rows (None: no row)."""
    def floats(name: str) -> Any:
        return np.array([np.nan if r is None or r[name] is None else float(r[name])
                         for r in rows], dtype=np.float64)

    def days(name: str) -> Any:
        return np.array([None if r is None else r[name] for r in rows], dtype="datetime64[D]")

    return RegisterRows(np.array([r is not None for r in rows], dtype=bool),
                        floats("limit_amount"), floats("previous_limit"), days("effective_date"),
                        floats("pending_limit"), days("pending_effective_date"), days("as_of"),
                        floats("outstanding"))


#: The funding terms a register row keeps of the decision that set it: decision key ->
#: register column.
TERM_COLUMNS: dict[str, str] = {
    "grade": "grade", "pd": "pd", "product": "product", "supplier_grade": "supplier_grade",
    "advance_rate": "advance_rate", "as_of": "rating_as_of", "decided_at": "decided_at",
    "model_version": "model_version", "policy_version": "policy_version",
    "decision_type": "decision_type", "group_id": "group_id"}
BOOK_KEYS: tuple[str, ...] = ("sector", "country")
"""Register columns of the pair's debtor that the book's caps read (not decision fields:
the caller passes them with the pair, :meth:`DecisionStore.store_decisions`)."""


def decision_terms(decision: Mapping[str, Any]) -> dict[str, Any]:
    """The register columns of a decision's funding terms (:data:`TERM_COLUMNS`)."""
    out: dict[str, Any] = {}
    for key, col in TERM_COLUMNS.items():
        v = decision.get(key)
        if isinstance(v, float) and v != v:
            v = None
        out[col] = v
    as_of = out["rating_as_of"]
    out["rating_as_of"] = _date(as_of, "as_of", "decision") if as_of is not None else None
    for col in ("grade", "product", "supplier_grade", "decided_at", "model_version",
                "policy_version", "decision_type", "group_id"):
        out[col] = None if out[col] is None else str(out[col])
    return out


def state_values(st: NextState, i: int, *, as_of: dt.date, source: str, currency: str | None,
                 decision_id: int | None, now: str, notice_days: int,
                 terms: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The register row of pair ``i`` of a next state (its columns but the pair's keys)."""
    return {"limit_amount": float(st.limit_amount[i]),
            "previous_limit": float(st.previous_limit[i]),
            "effective_date": _day(st.effective_date[i]),
            "pending_limit": _opt(st.pending_limit[i]),
            "pending_effective_date": _day(st.pending_effective_date[i]),
            "notice_days": notice_days, "status": str(st.status[i]), "source": source[:64],
            "as_of": as_of, "currency": currency, "decision_id": decision_id,
            "updated_at": now, "outstanding": _opt(st.outstanding[i]),
            "protected_outstanding": float(st.protected[i]),
            **(terms or {})}  # no terms (an override, a manual change): the row keeps its own


def history_row(st: NextState, i: int, *, supplier_id: str, debtor_id: str, new_limit: float,
                as_of: dt.date, source: str, reason: str, changed_by: str,
                decision_id: int | None, now: str) -> dict[str, Any]:
    """The history row of pair ``i`` of a next state."""
    applied = bool(st.applied[i])
    return {"supplier_id": supplier_id, "debtor_id": debtor_id, "new_limit": new_limit,
            "reason": reason[:500], "changed_by": changed_by[:128],
            "decision_id": decision_id, "changed_at": now, "source": source[:64],
            "as_of": as_of, "action": ACTIONS[int(st.action[i])],
            "old_limit": _opt(st.old_limit[i]), "effective_date": _day(st.history_date[i]),
            "protected_outstanding": float(st.protected[i]) if applied else None}


class _LimitRegister(_Database):
    """Funding checks, and the current limit per supplier-debtor pair with every change."""

    # -- funding checks ------------------------------------------------------------------

    def record_funding_check(self, *, supplier_id: str, debtor_id: str,
                             request: Mapping[str, Any], result: Mapping[str, Any],
                             limit_used: float, limit_source: str,
                             approved_outstanding: float, invoice_id: str | None = None,
                             as_of: Any = None, decision_id: int | None = None,
                             model_version: str | None = None,
                             policy_version: str | None = None,
                             input_hash: str | None = None) -> int:
        """Store one funding check (committed before returning); returns its id."""
        row = {
            "supplier_id": str(supplier_id), "debtor_id": str(debtor_id),
            "invoice_id": _str(invoice_id),
            "as_of": _date(as_of, "as_of", f"funding check of debtor {debtor_id}"),
            "amount": _float(request.get("amount")) or 0.0,
            "limit_used": float(limit_used), "limit_source": str(limit_source),
            "approved_outstanding": float(approved_outstanding),
            "approved": _float(result.get("approved")) or 0.0,
            "request": request, "result": result,
            "decision_id": decision_id, "model_version": model_version,
            "policy_version": policy_version, "input_hash": input_hash,
            "recorded_at": _now(),
        }
        with self._write() as conn:
            return _new_id(conn.execute(_INSERT_CHECK, row))

    def funding_checks(self, supplier_id: str, debtor_id: str, *, limit: int = 100
                       ) -> list[dict[str, Any]]:
        """Stored funding checks of a pair, newest first."""
        c = funding_checks.c
        q = (sa.select(funding_checks)
             .where(c.supplier_id == str(supplier_id), c.debtor_id == str(debtor_id))
             .order_by(c.id.desc()).limit(int(limit)))
        with self._read() as conn:
            return [_row(r) for r in conn.execute(q).mappings()]

    # -- limit register ------------------------------------------------------------------

    def current_limit(self, supplier_id: str, debtor_id: str, as_of: Any = None
                      ) -> dict[str, Any] | None:
        """The register's entry of a supplier-debtor pair on ``as_of``, or None.

        Parameters
        ----------
        supplier_id, debtor_id : str
        as_of : date or ISO text, optional
            Day of the question (default today). A pending change (a cut waiting
            for its notice) is in force from its effective date on; before that
            the limit in force is the previous one.

        Returns
        -------
        dict or None
            ``limit`` (in force on the day), ``registered_limit`` (the latest
            set, pending or not), ``previous_limit``, ``effective_date``,
            ``status``, ``source``, ``as_of``, ``notice_days``, ``pending``
            (``{"limit", "effective_date"}`` or None), ``outstanding``,
            ``protected_outstanding``, ``currency``, ``decision_id``,
            ``updated_at``; None when the pair has no limit.
        """
        with self._read() as conn:
            row = conn.execute(_SELECT_REGISTER, {"p_supplier": str(supplier_id),
                                                  "p_debtor": str(debtor_id)}).mappings().first()
        if row is None:
            return None
        day = _date(as_of, "as_of", f"limit of {supplier_id}/{debtor_id}") or dt.date.today()
        return _entry(row, day)

    def book_rest(self, *, excluding: Sequence[str], groups: Sequence[str], as_of: Any,
                  currency: str, rates: FxRates | None = None) -> BookRest:
        """The rest of the book for debtors decided alone (issue 15): the limits in force
        on ``as_of`` of every other debtor's pairs, in ``currency`` (the reporting
        currency), summed by sector and country, and by group for the ``groups`` at
        stake (the others' groups: None). With ``rates`` (into ``currency``; issue 16) a
        limit in another currency is converted at the rate in force on ``as_of``;
        without, only the limits in ``currency`` count.

        The book's totals by sector, country and currency come from one aggregate query
        over the whole register, kept for :data:`BOOK_SNAPSHOT_SECONDS` when it is costly
        (a large register; below :data:`BOOK_FRESH_SECONDS` it is run for every call).
        The excluded debtors' own pairs and the groups at stake are read exactly, through
        the register's debtor and group indexes, and taken out of those totals. The limit
        in force is the register rule's (:func:`~riskengine.store.register_rule.in_force`)
        written in SQL. Rows written before migration 0004 count with an unknown ("")
        sector and country until their pair is decided again.

        Raises
        ------
        InvalidInputError
            A limit in a currency without a rate in force on ``as_of``
            (``missing_fx_rate``): the book would be understated.
        """
        day = _date(as_of, "as_of", "book") or dt.date.today()
        factor = _converter(day, str(currency), rates)
        excl, grp = [str(d) for d in excluding], [str(g) for g in groups]
        params = {"day": day, **{f"e{i}": d for i, d in enumerate(excl)},
                  **{f"g{i}": g for i, g in enumerate(grp)}}
        rows: list[tuple[str | None, str, str, float]] = []
        totals: dict[tuple[str, str], float] = {}
        with self._read() as conn:
            for (s, k, cur), a in self._book_totals(conn, params).items():
                f = factor(cur, a)
                if f is not None:
                    totals[(s, k)] = totals.get((s, k), 0.0) + a * f
            for is_own, group, s, k, cur, amount in _book_mine(len(excl), len(grp)).rows(
                    conn, params):
                f = factor(cur, float(amount or 0.0))
                if f is None:
                    continue
                a = float(amount or 0.0) * f
                totals[(s, k)] = totals.get((s, k), 0.0) - a
                if not is_own and a:
                    rows.append((str(group), str(s), str(k), a))
        rows += [(None, s, k, a) for (s, k), a in sorted(totals.items()) if a > 1e-6]
        return BookRest(tuple(r[0] for r in rows), tuple(r[1] for r in rows),
                        tuple(r[2] for r in rows), tuple(r[3] for r in rows))

    def _book_totals(self, conn: Connection, params: Mapping[str, Any]
                     ) -> dict[tuple[str, str, str | None], float]:
        """The register's limits in force by (sector, country, currency)
        (:meth:`book_rest`): a snapshot reused for :data:`BOOK_SNAPSHOT_SECONDS` when it
        took longer than :data:`BOOK_FRESH_SECONDS` to compute."""
        key = params["day"]
        snap = getattr(self, "_book_snapshot", None)
        now = time.monotonic()
        if snap is not None and snap[0] == key and snap[2] > BOOK_FRESH_SECONDS \
                and now - snap[1] < BOOK_SNAPSHOT_SECONDS:
            return dict(snap[3])
        totals = {(str(s), str(k), cur): float(a or 0.0)
                  for s, k, cur, a in _BOOK_TOTALS.rows(conn, {"day": key})}
        self._book_snapshot = (key, now, time.monotonic() - now, totals)
        return dict(totals)

    def supplier_book(self, currencies: Mapping[str, str], *, as_of: Any,
                      policy: CreditPolicy | None = None,
                      rates: Mapping[str, float] | None = None) -> SupplierBook:
        """What the register knows of suppliers on ``as_of`` (issue 16), by supplier id.

        Parameters
        ----------
        currencies : mapping of str to str
            The suppliers (id -> the currency of their ledger, e.g. the pair's).
        as_of : date or ISO text
        policy : CreditPolicy, optional
            Its ``funding.max_rating_age_months`` (default the shipped policy's).
        rates : mapping of str to float, optional
            Units of the reporting currency per unit of each currency on ``as_of``: the
            limits are converted into it before the dispersion (a supplier with a limit in
            a currency without a rate has none: unknown). None: only the limits in the
            supplier's currency count.

        Returns
        -------
        SupplierBook
            ``ratings``: each supplier's own rating, the grade of its latest rating as a
            debtor in the register (``debtor_id`` = the supplier's id) dated on or before
            ``as_of`` and not older than ``funding.max_rating_age_months`` (CRR art.
            173(1)(b): a rating is reviewed at least yearly); ``debtor_hhi``: the
            dispersion of its debtors, the HHI of its limits in force on ``as_of``, converted
            at ``rates`` (:func:`riskengine.policy.supplier.debtor_hhi`). A supplier the
            register does not know is absent.
        """
        from riskengine.policy.funding import rating_stale
        from riskengine.policy.supplier import debtor_hhi_arrays

        ids = sorted({str(s) for s in currencies})
        if not ids:
            return SupplierBook()
        day = _date(as_of, "as_of", "supplier book") or dt.date.today()
        rated_q, pairs_q = _supplier_reads(len(ids))
        params = {"p_day": day, **{f"s{i}": s for i, s in enumerate(ids)}}
        with self._read() as conn:
            rated = [dict(zip(_RATED_COLUMNS, r, strict=True))
                     for r in rated_q.rows(conn, params)]
            rows: list[Mapping[Any, Any] | None] = [
                dict(zip(_REGISTER_COLUMNS, r, strict=True)) for r in pairs_q.rows(conn, params)]
        ratings: dict[str, str | None] = {}
        latest: dict[str, Any] = {}
        for r in rated:  # newest first per supplier
            latest.setdefault(str(r["debtor_id"]), r)
        if latest:
            keys = list(latest)
            stale = rating_stale([latest[k]["rating_as_of"] for k in keys], day,
                                 policy or _shipped_policy())
            ratings = {k: str(latest[k]["grade"]) for k, old in zip(keys, stale, strict=True)
                       if not old}
        hhi: dict[str, float | None] = {}
        if rows:
            limit = in_force(register_rows(rows), np.datetime64(day, "D"))[0]
            held = [r for r in rows if r is not None]
            sid = np.asarray([str(r["supplier_id"]) for r in held], dtype=object)
            cur = np.asarray([r["currency"] for r in held], dtype=object)
            if rates is None:
                want = np.asarray([currencies.get(str(s)) for s in sid], dtype=object)
                keep = cur == want
                amount = limit
            else:
                rate = np.asarray([rates.get(str(c), np.nan) for c in cur], dtype=np.float64)
                amount = limit * rate
                keep = np.isfinite(rate)
            if keep.any():
                deb = np.asarray([str(r["debtor_id"]) for r in held], dtype=object)
                got = debtor_hhi_arrays(sid[keep], deb[keep], amount[keep])
                hhi = {str(k): (None if v != v else float(v))
                       for k, v in zip(got[0].tolist(), got[1].tolist(), strict=True)}
            for s_ in set(sid[~keep].tolist()) if rates is not None else ():
                hhi[str(s_)] = None  # a limit that cannot be converted: unknown
        return SupplierBook(ratings, hhi)

    def limits_of_debtor(self, debtor_id: str, as_of: Any = None) -> list[dict[str, Any]]:
        """Every register entry of a debtor on ``as_of`` (as :meth:`current_limit`), by supplier."""
        day = _date(as_of, "as_of", f"limits of debtor {debtor_id}") or dt.date.today()
        q = (sa.select(limit_register).where(limit_register.c.debtor_id == str(debtor_id))
             .order_by(limit_register.c.supplier_id))
        with self._read() as conn:
            return [_entry(r, day) for r in conn.execute(q).mappings()]

    def apply_limit(self, supplier_id: str, debtor_id: str, proposed_limit: float, *,
                    as_of: Any, source: str, reason: str, changed_by: str,
                    policy: CreditPolicy | None = None, knockout: bool = False,
                    outstanding: float | None = None, effective_date: Any = None,
                    currency: str | None = None, decision_id: int | None = None
                    ) -> dict[str, Any]:
        """Apply a proposed limit to a pair: the one way the register changes.

        Decisions (``decision:<id>``), officers' overrides (``override:<id>``),
        re-ratings (``rerate:<run id>``) and manual changes all come here.

        Parameters
        ----------
        supplier_id, debtor_id : str
        proposed_limit : float
            The new limit (>= 0; 0 cancels).
        as_of : date or ISO text
            Date of the decision behind the change. Updates are ordered by it,
            never by posting order: one older than the register's ``as_of`` is
            written to the history as ``not_applied`` and changes nothing.
        source : str
            ``decision:<id>``, ``override:<id>``, ``rerate:<run id>``, ``manual``...
        reason, changed_by : str
            Why and who (history).
        policy : CreditPolicy, optional
            Its ``limits.notice_days`` (default the shipped policy): an increase
            takes effect at ``as_of``, a cut after the notice, at once on a
            knock-out (:func:`riskengine.policy.limits.limit_change`).
        knockout : bool
            The change follows a knock-out event (:data:`~riskengine.policy.limits.KNOCKOUT_REASONS`).
        outstanding : float, optional
            Approved outstanding on the pair when decided: deliveries already
            made stay protected up to ``min(old limit, outstanding)`` (absent:
            the old limit).
        effective_date : date or ISO text, optional
            An explicit effective date instead of the policy's rule.
        currency : str, optional
        decision_id : int, optional

        Returns
        -------
        dict
            ``applied`` (bool), ``reason`` (``older_than_register`` when not
            applied), ``action``, ``status``, ``limit`` (in force on ``as_of``),
            ``effective_date``, ``pending``, ``history_id``.

        Raises
        ------
        InvalidInputError
            A negative or non-finite limit, an empty reason or author, a date
            that is not ISO.
        """
        record = f"limit of {supplier_id}/{debtor_id}"
        limit = _checked_limit(supplier_id, debtor_id, proposed_limit, reason, changed_by)
        day = _date(as_of, "as_of", record) or dt.date.today()
        eff = _date(effective_date, "effective_date", record)
        with self._write() as conn:
            return self._apply_limit(
                conn, str(supplier_id), str(debtor_id), limit, as_of=day, source=str(source),
                policy=policy, knockout=knockout, outstanding=_float(outstanding),
                effective_date=eff, reason=str(reason), changed_by=str(changed_by),
                currency=currency, decision_id=decision_id, now=_now())

    def set_limit(self, supplier_id: str, debtor_id: str, new_limit: float, *,
                  effective_date: Any = None, reason: str, changed_by: str,
                  currency: str | None = None, decision_id: int | None = None,
                  as_of: Any = None, policy: CreditPolicy | None = None,
                  knockout: bool = False) -> dict[str, Any]:
        """A manual change (source ``manual``, as of today): :meth:`apply_limit`.

        Returns the history row (``action``: ``new``, ``increase``, ``decrease``,
        ``cancel``, ``unchanged`` or ``not_applied``; ``old_limit``, ``new_limit``,
        ``effective_date``...). Without ``effective_date`` a cut waits for the
        policy's notice (at once with ``knockout``).
        """
        out = self.apply_limit(supplier_id, debtor_id, new_limit, as_of=as_of, source="manual",
                               reason=reason, changed_by=changed_by, policy=policy,
                               knockout=knockout, effective_date=effective_date,
                               currency=currency, decision_id=decision_id)
        with self._read() as conn:
            row = conn.execute(sa.select(limit_history).where(
                limit_history.c.id == int(out["history_id"]))).mappings().one()
        return _row(row)

    def _apply_limit(self, conn: Connection, supplier_id: str, debtor_id: str, limit: float, *,
                     as_of: dt.date, source: str, policy: CreditPolicy | None, knockout: bool,
                     outstanding: float | None, effective_date: dt.date | None, reason: str,
                     changed_by: str, currency: str | None, decision_id: int | None,
                     now: str, terms: Mapping[str, Any] | None = None) -> dict[str, Any]:
        key = {"p_supplier": supplier_id, "p_debtor": debtor_id}
        old = _locked_pair(conn, key)
        rule = policy if policy is not None else _shipped_policy()
        st = next_state(register_rows([old]), [limit], as_of, [bool(knockout)], rule,
                        outstanding=[np.nan if outstanding is None else outstanding],
                        effective_date=np.datetime64(effective_date or "NaT", "D"))
        hist = history_row(st, 0, supplier_id=supplier_id, debtor_id=debtor_id,
                           new_limit=limit, as_of=as_of, source=source, reason=reason,
                           changed_by=changed_by, decision_id=decision_id, now=now)
        if not st.applied[0]:
            hist["reason"] = (f"{reason} (older than the register's as_of "
                              f"{old['as_of'].isoformat()}: not applied)")[:500]
            hid = _history_id(conn, hist)
            return {"applied": False, "reason": "older_than_register",
                    "register_as_of": old["as_of"].isoformat(), "history_id": hid}
        values = state_values(st, 0, as_of=as_of, source=source, currency=currency,
                              decision_id=decision_id, now=now,
                              notice_days=rule.limits.notice_days, terms=terms)
        if terms is not None and terms.get("grade") is not None:  # a decision's terms
            values["previous_grade"] = None if old is None else old["grade"]
        if old is None:
            insert_row(conn, limit_register, {"supplier_id": supplier_id,
                                                 "debtor_id": debtor_id, **values})
        else:
            update_rows(conn, limit_register, values,
                          {"supplier_id": supplier_id, "debtor_id": debtor_id})
        hid = _history_id(conn, hist)
        pending = None if values["pending_limit"] is None else {
            "limit": values["pending_limit"],
            "effective_date": values["pending_effective_date"].isoformat()}
        return {"applied": True, "action": hist["action"], "status": values["status"],
                "limit": values["limit_amount"],
                "effective_date": values["effective_date"].isoformat(),
                "pending": pending, "history_id": hid}

    def history(self, supplier_id: str | None = None, debtor_id: str | None = None, *,
                limit: int = 1000) -> list[dict[str, Any]]:
        """Limit changes, oldest first, for a pair, a supplier, a debtor, or all."""
        c = limit_history.c
        q = sa.select(limit_history)
        if supplier_id is not None:
            q = q.where(c.supplier_id == str(supplier_id))
        if debtor_id is not None:
            q = q.where(c.debtor_id == str(debtor_id))
        q = q.order_by(c.id).limit(int(limit))
        with self._read() as conn:
            return [_row(r) for r in conn.execute(q).mappings()]

