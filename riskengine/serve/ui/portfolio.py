"""The portfolio page (grades, migrations, concentrations, expected loss) and the override
report of a period."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from riskengine.contracts.dates import parse_date
from riskengine.errors import InvalidInputError
from riskengine.serve.ui.dependencies import _grades, _policy, _state, _Ui
from riskengine.serve.ui.sessions import UiSession
from riskengine.store import DecisionStore


def create_router(ui: _Ui) -> APIRouter:
    """``GET /portfolio`` and ``GET /reports/overrides`` (their store reads in a worker
    thread: a locked store never holds the event loop)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/portfolio")
    async def portfolio(request: Request,
                        sess: UiSession = Depends(ui.require_session)) -> Response:  # noqa: B008
        return await run_in_threadpool(_portfolio_page, ui, request, sess)

    @router.get("/reports/overrides")
    async def override_report(request: Request, since: str = "", until: str = "",
                              sess: UiSession = Depends(ui.require_session)  # noqa: B008
                              ) -> Response:
        return await run_in_threadpool(_override_report_page, ui, request, sess, since, until)

    return router


def _portfolio_page(ui: _Ui, request: Request, sess: UiSession) -> Response:
    _, store = _state(request)
    policy = _policy(request)
    current, previous = decision_runs(store)
    overview: dict[str, Any] | None = None
    if current is not None and len(current):
        from riskengine.serve.audit import portfolio_overview

        # every amount in the reporting currency, each pair at its decision's rate
        overview = dict(portfolio_overview(
            current, previous, currency=None if policy is None else policy.book.currency))
    from riskengine.serve.ui.book import book_view

    book = book_view(request, "/ui/portfolio")
    return ui.render("ui_portfolio.html.j2", request, status=422 if book["problems"] else 200,
                     session=sess, active="portfolio", overview=overview, grades=_grades(),
                     book=book)


def decision_runs(store: DecisionStore) -> tuple[Any, Any]:
    """The latest and the one-before-latest decision of every supplier-debtor pair, as frames.

    Returns
    -------
    (pandas.DataFrame or None, pandas.DataFrame or None)
        One row per pair (its decision dict's keys plus ``decision_id``); the
        second frame holds the pairs decided at least twice, None when none was.
    """
    import pandas as pd
    import sqlalchemy as sa

    from riskengine.store.tables import decisions as d

    # the last two decisions of each pair, picked in SQL (a window over the pair's ids)
    rank = sa.func.row_number().over(partition_by=(d.c.debtor_id, d.c.supplier_id),
                                     order_by=d.c.id.desc()).label("rank")
    inner = sa.select(d.c.id, d.c.debtor_id, d.c.supplier_id, d.c.decision, rank).subquery()
    q = sa.select(inner).where(inner.c.rank <= 2).order_by(inner.c.id)
    with store.connect() as conn:
        rows = [(int(r.id), r.debtor_id, r.supplier_id, r.decision, int(r.rank))
                for r in conn.execute(q)]
    if not rows:
        return None, None
    last = [{**dict(dec), "decision_id": rid, "debtor_id": did, "supplier_id": sid}
            for rid, did, sid, dec, k in rows if k == 1]
    before = [{**dict(dec), "decision_id": rid, "debtor_id": did, "supplier_id": sid}
              for rid, did, sid, dec, k in rows if k == 2]
    current = pd.DataFrame(last)
    previous = pd.DataFrame(before) if before else None
    return current, previous


def _override_report_page(ui: _Ui, request: Request, sess: UiSession, since: str,
                          until: str) -> Response:
    _, store = _state(request)
    today = dt.date.today()
    errors = []
    try:
        start = parse_date(since, "since") if since else today - dt.timedelta(days=30)
        end = parse_date(until, "until") if until else today
    except InvalidInputError:
        errors.append("Give the period as two dates (YYYY-MM-DD).")
        start, end = today - dt.timedelta(days=30), today
    if dt.date.max in (start, end):  # the period's end is exclusive: its next day overflows
        errors.append("Give the period as two dates before 9999-12-31.")
        start, end = today - dt.timedelta(days=30), today
    if start > end:
        errors.append("The period starts after it ends.")
        start, end = end, start
    from riskengine.serve.audit import override_report

    report = dict(override_report(store, start, end))
    rows = store.overrides(since=start, until=end)
    presets = [("Last 30 days", today - dt.timedelta(days=30), today),
               ("This quarter", dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today),
               ("This year", dt.date(today.year, 1, 1), today)]
    return ui.render("ui_overrides.html.j2", request, session=sess, active="overrides",
                     status=422 if errors else 200,
                     report=report, rows=rows, since=start.isoformat(), until=end.isoformat(),
                     errors=errors, presets=[(label, a.isoformat(), b.isoformat())
                                             for label, a, b in presets])
