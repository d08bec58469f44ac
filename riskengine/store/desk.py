"""The book as the officer's desk reads it (issue 18, point 3): the limit register's rows
(one per supplier-debtor pair, with the terms of the decision or rerate run that set
each) filtered, counted and paged in SQL, and the alerts (limit cuts, downgrades,
insurer reductions and cancellations, new adverse records) the register, its history,
the insurer limits and the adverse records seen (``adverse_seen``) hold.

Everything here is a read: the pages call it in a worker thread. A page is one ``LIMIT``
/ ``OFFSET`` query plus one ``COUNT``; an export walks the rows in keyset order
(:func:`book_chunks`, :func:`alert_chunks`) so that no query holds the whole book.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from riskengine.contracts.schemas import INSURER_STATUSES
from riskengine.model.master_scale import GRADES
from riskengine.store.tables import adverse_seen, insurer_limits, limit_history, limit_register

__all__ = ["BookFilter", "AlertFilter", "MIGRATIONS", "LIMIT_ACTIONS", "INSURER_FILTERS",
           "ALERT_KINDS", "book_page", "book_chunks", "alerts_page", "alert_chunks",
           "alert_list",
           "book_choices"]

MIGRATIONS: tuple[str, ...] = ("upgrade", "downgrade", "unchanged", "new")
"""A pair's migration: its grade against the grade the register held before (``new``: no
grade before, the pair's first decision or a row written before revision 0008)."""
LIMIT_ACTIONS: tuple[str, ...] = ("new", "increase", "decrease", "cancel", "unchanged")
"""A pair's last limit change as the register holds it (a pending cut counts as the cut)."""
INSURER_FILTERS: tuple[str, ...] = (*INSURER_STATUSES, "none")
"""The insurer's latest answer on the pair (``none``: the register holds no insurer limit)."""
ALERT_KINDS: tuple[str, ...] = ("limit_cut", "downgrade", "insurer_reduction", "new_adverse")

_r = limit_register
_h = limit_history
_il = insurer_limits
_a = adverse_seen


def _rank(col: Any) -> Any:
    """A grade's place on the master scale (1 best ... 11 default; NULL for no grade)."""
    return sa.case({g: i + 1 for i, g in enumerate(GRADES)}, value=col, else_=None)


_MIGRATION = sa.case(
    (sa.or_(_r.c.previous_grade.is_(None), _r.c.grade.is_(None)), "new"),
    (_rank(_r.c.grade) > _rank(_r.c.previous_grade), "downgrade"),
    (_rank(_r.c.grade) < _rank(_r.c.previous_grade), "upgrade"),
    else_="unchanged")
_ACTION = sa.case(
    (sa.and_(_r.c.pending_limit.is_not(None), _r.c.pending_limit <= 0), "cancel"),
    (sa.and_(_r.c.pending_limit.is_not(None), _r.c.pending_limit < _r.c.limit_amount),
     "decrease"),
    (sa.and_(_r.c.limit_amount <= 0, _r.c.previous_limit > 0), "cancel"),
    (_r.c.limit_amount < _r.c.previous_limit, "decrease"),
    (sa.and_(_r.c.previous_limit <= 0, _r.c.limit_amount > 0), "new"),
    (_r.c.limit_amount > _r.c.previous_limit, "increase"),
    else_="unchanged")
# the latest insurer answer covering the pair (its own, or the debtor's for every supplier)
_INSURER = (sa.select(_il.c.status)
            .where(_il.c.debtor_id == _r.c.debtor_id,
                   sa.or_(_il.c.supplier_id == _r.c.supplier_id, _il.c.supplier_id.is_(None)))
            .order_by(_il.c.id.desc()).limit(1).correlate(_r).scalar_subquery())

BOOK_COLUMNS: tuple[str, ...] = (
    "debtor_id", "supplier_id", "grade", "previous_grade", "migration", "pd",
    "limit_amount", "previous_limit", "pending_limit", "pending_effective_date",
    "effective_date", "action", "currency", "status", "product", "sector", "country",
    "insurer_status", "as_of", "source")
"""The columns of a book row (pages and export), in their order."""


@dataclass(frozen=True)
class BookFilter:
    """Filters of the book (blank: any). ``q`` is part of a debtor or supplier id;
    ``debtor_ids`` adds debtors found otherwise (by name in the kept inputs)."""

    q: str = ""
    grade: str = ""
    migration: str = ""
    action: str = ""
    sector: str = ""
    country: str = ""
    insurer: str = ""
    debtor_ids: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        """Filters whose value is not one of their choices (named, never echoed)."""
        out = []
        for name, allowed in (("grade", GRADES), ("migration", MIGRATIONS),
                              ("action", LIMIT_ACTIONS), ("insurer", INSURER_FILTERS)):
            value = getattr(self, name)
            if value and value not in allowed:
                out.append(f"filter {name}: not one of its choices")
        return out


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _book_select(f: BookFilter) -> Any:
    cols = [_r.c.debtor_id, _r.c.supplier_id, _r.c.grade, _r.c.previous_grade,
            _MIGRATION.label("migration"), _r.c.pd, _r.c.limit_amount, _r.c.previous_limit,
            _r.c.pending_limit, _r.c.pending_effective_date, _r.c.effective_date,
            _ACTION.label("action"), _r.c.currency, _r.c.status, _r.c.product, _r.c.sector,
            _r.c.country, _INSURER.label("insurer_status"), _r.c.as_of, _r.c.source]
    return sa.select(*cols).where(*_book_where(f))


def _book_where(f: BookFilter) -> list[Any]:
    where: list[Any] = []
    if f.q.strip():
        pattern = _like(f.q.strip())
        cond = sa.or_(sa.func.lower(_r.c.debtor_id).like(pattern, escape="\\"),
                      sa.func.lower(_r.c.supplier_id).like(pattern, escape="\\"))
        if f.debtor_ids:
            cond = sa.or_(cond, _r.c.debtor_id.in_(sorted(f.debtor_ids)[:900]))
        where.append(cond)
    if f.grade:
        where.append(_r.c.grade == f.grade)
    if f.migration:
        where.append(_MIGRATION == f.migration)
    if f.action:
        where.append(_ACTION == f.action)
    if f.sector:
        where.append(_r.c.sector == f.sector)
    if f.country:
        where.append(_r.c.country == f.country.upper())
    if f.insurer == "none":
        where.append(_INSURER.is_(None))
    elif f.insurer:
        where.append(_INSURER == f.insurer)
    return where


def _dicts(rows: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in rows]


def book_page(store: Any, f: BookFilter, *, page: int = 1, size: int = 50
              ) -> tuple[list[dict[str, Any]], int]:
    """One page of the book's register rows matching ``f`` and the count of all of them.

    Parameters
    ----------
    store : riskengine.store.DecisionStore
    f : BookFilter
    page : int
        1-based page number.
    size : int
        Rows per page.

    Returns
    -------
    (list of dict, int)
        The page's rows (:data:`BOOK_COLUMNS`), ordered by debtor then supplier; the
        number of rows matching ``f`` over every page.
    """
    q = (_book_select(f).order_by(_r.c.debtor_id, _r.c.supplier_id)
         .offset(max(0, (int(page) - 1) * int(size))).limit(int(size)))
    count = sa.select(sa.func.count()).select_from(_r).where(*_book_where(f))
    with store.connect() as conn:
        rows = _dicts(conn.execute(q))
        total = int(conn.execute(count).scalar_one())
    return rows, total


def book_chunks(store: Any, f: BookFilter, *, chunk: int = 5000
                ) -> Iterator[list[dict[str, Any]]]:
    """Every register row matching ``f``, ``chunk`` rows at a time in keyset order (one
    short query per chunk: an export of the whole book holds no connection between
    chunks)."""
    after: tuple[str, str] | None = None
    while True:
        q = _book_select(f)
        if after is not None:
            q = q.where(sa.tuple_(_r.c.debtor_id, _r.c.supplier_id) > sa.tuple_(*after))
        q = q.order_by(_r.c.debtor_id, _r.c.supplier_id).limit(int(chunk))
        with store.connect() as conn:
            rows = _dicts(conn.execute(q))
        if not rows:
            return
        yield rows
        if len(rows) < chunk:
            return
        after = (rows[-1]["debtor_id"], rows[-1]["supplier_id"])


def book_choices(store: Any) -> dict[str, list[str]]:
    """The sectors and countries the register holds (the filters' choices)."""
    with store.connect() as conn:
        sectors = [s for (s,) in conn.execute(sa.select(_r.c.sector).distinct()
                                              .where(_r.c.sector.is_not(None))
                                              .order_by(_r.c.sector))]
        countries = [c for (c,) in conn.execute(sa.select(_r.c.country).distinct()
                                                .where(_r.c.country.is_not(None))
                                                .order_by(_r.c.country))]
    return {"sectors": sectors, "countries": countries}


# -- alerts ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AlertFilter:
    """Alerts dated from ``since`` to ``until`` (inclusive; None: open), of one ``kind``
    (blank: every kind)."""

    kind: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    def problems(self) -> list[str]:
        if self.kind and self.kind not in ALERT_KINDS:
            return ["filter kind: not one of its choices"]
        if self.since and self.until and self.since > self.until:
            return ["The period starts after it ends."]
        return []


ALERT_COLUMNS: tuple[str, ...] = (
    "kind", "day", "debtor_id", "supplier_id", "before", "after", "currency", "grade_from",
    "grade_to", "detail", "seq")
"""An alert's columns: its kind and date, the pair, the amounts before and after (a
limit, an insurer's granted amount), the grades (a downgrade), a detail (the history's
action, the insurer) and ``seq`` (an order within a kind)."""


def _dated(col: Any, f: AlertFilter) -> list[Any]:
    out = []
    if f.since is not None:
        out.append(col >= f.since)
    if f.until is not None:
        out.append(col <= f.until)
    return out


def _alerts_union(f: AlertFilter) -> Any:
    null_f = sa.null().cast(sa.Float)
    null_s = sa.null().cast(sa.String)
    parts = []
    if f.kind in ("", "limit_cut"):
        parts.append(sa.select(
            sa.literal("limit_cut").label("kind"), _h.c.effective_date.label("day"),
            _h.c.debtor_id, _h.c.supplier_id, _h.c.old_limit.label("before"),
            _h.c.new_limit.label("after"), null_s.label("currency"),
            null_s.label("grade_from"), null_s.label("grade_to"),
            _h.c.action.label("detail"), _h.c.id.label("seq"))
            .where(_h.c.action.in_(("decrease", "cancel")), *_dated(_h.c.effective_date, f)))
    if f.kind in ("", "downgrade"):
        parts.append(sa.select(
            sa.literal("downgrade").label("kind"), _r.c.rating_as_of.label("day"),
            _r.c.debtor_id, _r.c.supplier_id, null_f.label("before"), null_f.label("after"),
            _r.c.currency, _r.c.previous_grade.label("grade_from"),
            _r.c.grade.label("grade_to"), null_s.label("detail"),
            sa.literal(0).label("seq"))
            .where(_rank(_r.c.grade) > _rank(_r.c.previous_grade),
                   *_dated(_r.c.rating_as_of, f)))
    if f.kind in ("", "insurer_reduction"):
        day = sa.func.coalesce(_il.c.effective_date, _il.c.decision_date)
        parts.append(sa.select(
            sa.literal("insurer_reduction").label("kind"), day.label("day"),
            _il.c.debtor_id, _il.c.supplier_id,
            _il.c.previous_granted_amount.label("before"),
            _il.c.granted_amount.label("after"), _il.c.currency,
            null_s.label("grade_from"), null_s.label("grade_to"),
            (_il.c.insurer_id + sa.literal(" ") + _il.c.status).label("detail"),
            _il.c.id.label("seq"))
            .where(_il.c.status.in_(("reduced", "cancelled")), *_dated(day, f)))
    if f.kind in ("", "new_adverse"):  # a known debtor's record, on the day first seen
        parts.append(sa.select(
            sa.literal("new_adverse").label("kind"), _a.c.first_seen.label("day"),
            _a.c.debtor_id, null_s.label("supplier_id"), null_f.label("before"),
            _a.c.amount.label("after"), _a.c.currency, null_s.label("grade_from"),
            null_s.label("grade_to"),
            (_a.c.record_type + sa.literal(" ") + sa.cast(_a.c.record_date, sa.String)
             ).label("detail"), _a.c.id.label("seq"))
            .where(_a.c.baseline.is_(False), *_dated(_a.c.first_seen, f)))
    return sa.union_all(*parts).subquery("alerts")


def _alert_rows(rows: Any) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        d = dict(r._mapping)
        day = d["day"]
        if isinstance(day, str):  # SQLite hands a union's dates back as their ISO text
            d["day"] = dt.date.fromisoformat(day[:10])
        if d["kind"] == "insurer_reduction" and d["detail"]:
            insurer, _, status = str(d["detail"]).rpartition(" ")
            d["insurer_id"], d["detail"] = insurer, status
        if d["kind"] == "new_adverse" and d["detail"]:  # "<record type> <record date>"
            kind, _, day = str(d["detail"]).rpartition(" ")
            d["detail"], d["record_date"] = kind, day[:10]
        out.append(d)
    return out


def alerts_page(store: Any, f: AlertFilter, *, page: int = 1, size: int = 50
                ) -> tuple[list[dict[str, Any]], int]:
    """One page of alerts (newest first) and their count over every page.

    The alerts: **limit cuts** (the register's history: decreases and cancellations, on
    their effective dates, notice included), **downgrades** (a pair whose grade is worse
    than the grade the register held before, on its rating date) and **insurer
    reductions** (an insurer's answer ``reduced`` or ``cancelled``, on its effective or
    decision date) and **new adverse records** (a record first seen by a decision or a
    run on a debtor the register held before, on that day: ``after`` is its amount,
    ``detail`` its type, ``record_date`` its date; :mod:`riskengine.store.adverse`).
    """
    return _alerts(store, f, page, size, count=True)


def alert_list(store: Any, f: AlertFilter, *, offset: int = 0, limit: int = 100
               ) -> tuple[list[dict[str, Any]], int | None]:
    """``limit`` alerts from ``offset`` in :func:`alerts_page`'s order (``GET /v1/alerts``)
    and the offset of the next ones (None: none after); one query, no count."""
    rows, _ = _alerts(store, f, 1, int(limit) + 1, count=False, offset=int(offset))
    nxt = int(offset) + int(limit) if len(rows) > int(limit) else None
    return [{k: v for k, v in r.items() if k != "seq"} for r in rows[:int(limit)]], nxt


def _alerts(store: Any, f: AlertFilter, page: int, size: int, *, count: bool,
            offset: int | None = None) -> tuple[list[dict[str, Any]], int]:
    u = _alerts_union(f)
    start = max(0, (int(page) - 1) * int(size)) if offset is None else max(0, offset)
    q = (sa.select(u).order_by(u.c.day.desc(), u.c.kind, u.c.debtor_id, u.c.supplier_id,
                               u.c.seq.desc())
         .offset(start).limit(int(size)))
    with store.connect() as conn:
        rows = _alert_rows(conn.execute(q))
        total = int(conn.execute(sa.select(sa.func.count()).select_from(u)).scalar_one()
                    ) if count else -1
    return rows, total


def alert_chunks(store: Any, f: AlertFilter, *, chunk: int = 5000
                 ) -> Iterator[list[dict[str, Any]]]:
    """Every alert matching ``f``, newest first, ``chunk`` at a time."""
    page = 1
    while True:
        rows, _ = _alerts(store, f, page, chunk, count=False)
        if rows:
            yield rows
        if len(rows) < chunk:
            return
        page += 1
