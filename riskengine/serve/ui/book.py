"""The book on the desk (issue 18, point 3): the register's rows with filters and paging
(the search and portfolio pages read them through :func:`book_view`), the alerts page,
and the CSV exports of both (every page of the filtered rows, streamed).

Every store read runs in a worker thread (``run_in_threadpool``, and Starlette iterates
a streamed export's synchronous chunks in its thread pool): a slow or locked store never
holds the event loop. Paging and filtering are SQL (:mod:`riskengine.store.desk`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from riskengine.contracts.dates import parse_date
from riskengine.errors import InvalidInputError
from riskengine.serve.ui.dependencies import _grades, _page_headers, _state, _Ui
from riskengine.serve.ui.search import _debtor_name_of, _names_matching
from riskengine.serve.ui.sessions import UiSession
from riskengine.store.desk import (
    ALERT_COLUMNS,
    ALERT_KINDS,
    BOOK_COLUMNS,
    INSURER_FILTERS,
    LIMIT_ACTIONS,
    MIGRATIONS,
    AlertFilter,
    BookFilter,
    alert_chunks,
    alerts_page,
    book_choices,
    book_chunks,
    book_page,
)

PAGE_SIZES: tuple[int, ...] = (25, 50, 100, 200)
"""Rows per page the pages offer (default 50)."""
_MONEY = frozenset({"limit_amount", "previous_limit", "pending_limit", "before",
                    "after"})
_FILTER_KEYS = ("q", "grade", "migration", "action", "sector", "country", "insurer")


def create_router(ui: _Ui) -> APIRouter:
    """``GET /search``, ``GET /alerts``, ``GET /export/book.csv`` and
    ``GET /export/alerts.csv``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/search")
    async def search(request: Request,
                     sess: UiSession = Depends(ui.require_session)) -> Response:  # noqa: B008
        """The register's pairs whose debtor or supplier id (or the debtor's kept name)
        contains ``q``, filtered and paged."""
        book = await run_in_threadpool(book_view, request, "/ui/search")
        return ui.render("ui_search.html.j2", request, status=422 if book["problems"] else 200,
                         session=sess, active="search", query=book["filters"]["q"], book=book)

    @router.get("/alerts")
    async def alerts(request: Request,
                     sess: UiSession = Depends(ui.require_session)) -> Response:  # noqa: B008
        return await run_in_threadpool(_alerts_page, ui, request, sess)

    @router.get("/export/book.csv")
    async def export_book(request: Request,
                          sess: UiSession = Depends(ui.require_session)  # noqa: B008
                          ) -> Response:
        f, _, _, problems = book_query(request.query_params)
        if problems:
            return ui.error(request, sess, 422, "Export refused", " ".join(problems))
        _, store = _state(request)
        f = await run_in_threadpool(_with_names, store, f)
        rows = (r for chunk in book_chunks(store, f) for r in chunk)
        return _csv_response(BOOK_COLUMNS, rows, "book")

    @router.get("/export/alerts.csv")
    async def export_alerts(request: Request,
                            sess: UiSession = Depends(ui.require_session)  # noqa: B008
                            ) -> Response:
        f, _, _, problems = alert_query(request.query_params)
        if problems:
            return ui.error(request, sess, 422, "Export refused", " ".join(problems))
        _, store = _state(request)
        rows = (r for chunk in alert_chunks(store, f) for r in chunk)
        return _csv_response(("insurer_id", "record_date", *ALERT_COLUMNS[:-1]), rows,
                             "alerts")

    return router


# -- the query string --------------------------------------------------------------------

def _paging(params: Mapping[str, str], problems: list[str]) -> tuple[int, int]:
    try:
        page = int(params.get("page") or 1)
        size = int(params.get("size") or 50)
    except ValueError:
        problems.append("page and size: whole numbers")
        return 1, 50
    if page < 1:
        problems.append("page: 1 or more")
        page = 1
    if size not in PAGE_SIZES:
        problems.append(f"size: one of {', '.join(map(str, PAGE_SIZES))}")
        size = 50
    return page, size


def book_query(params: Mapping[str, str]) -> tuple[BookFilter, int, int, list[str]]:
    """The book's filter, page and page size of a query string, and its problems (each a
    line naming the parameter, never echoing its value)."""
    problems: list[str] = []
    values = {k: str(params.get(k) or "").strip()[:128] for k in _FILTER_KEYS}
    f = _filter(values)
    problems.extend(f.problems())
    if problems:
        f = BookFilter(q=values["q"])
    page, size = _paging(params, problems)
    return f, page, size, problems


def alert_query(params: Mapping[str, str]) -> tuple[AlertFilter, int, int, list[str]]:
    """The alerts' filter, page and page size of a query string, and its problems."""
    problems: list[str] = []
    days: dict[str, dt.date | None] = {}
    for name in ("since", "until"):
        text = str(params.get(name) or "").strip()
        try:
            days[name] = parse_date(text, name) if text else None
        except InvalidInputError:
            problems.append(f"{name}: a date (YYYY-MM-DD)")
            days[name] = None
    f = AlertFilter(kind=str(params.get("kind") or "").strip()[:32], **days)
    problems.extend(f.problems())
    if problems:
        f = AlertFilter()
    page, size = _paging(params, problems)
    return f, page, size, problems


def _link(path: str, params: Mapping[str, Any], **change: Any) -> str:
    merged = {**{k: v for k, v in params.items() if v not in ("", None)}, **change}
    query = urlencode({k: v for k, v in merged.items() if v not in ("", None)})
    return f"{path}?{query}" if query else path


def _pager(path: str, params: Mapping[str, Any], page: int, size: int, total: int
           ) -> dict[str, Any]:
    pages = max(1, math.ceil(total / size))
    return {"page": page, "pages": pages, "size": size, "total": total,
            "first": (page - 1) * size + 1 if total else 0,
            "last": min(total, page * size),
            "prev": _link(path, params, page=page - 1) if page > 1 else None,
            "next": _link(path, params, page=page + 1) if page < pages else None,
            "sizes": [(s, _link(path, params, size=s, page=1)) for s in PAGE_SIZES]}


# -- pages -------------------------------------------------------------------------------

def _with_names(store: Any, f: BookFilter) -> BookFilter:
    """``f`` with the debtors whose kept name contains its text (search by name)."""
    needle = f.q.strip().lower()
    if not needle:
        return f
    names = _names_matching(store, needle)
    return _filter({k: getattr(f, k) for k in _FILTER_KEYS}, tuple(sorted(names)))


def _filter(values: Mapping[str, str], debtor_ids: tuple[str, ...] = ()) -> BookFilter:
    return BookFilter(q=values["q"], grade=values["grade"], migration=values["migration"],
                      action=values["action"], sector=values["sector"],
                      country=values["country"], insurer=values["insurer"],
                      debtor_ids=debtor_ids)


def book_view(request: Request, path: str) -> dict[str, Any]:
    """What the search and portfolio pages show of the book: the filtered page of
    register rows, its pager, the filters and their choices, the export link, problems
    (call in a worker thread: it reads the store)."""
    _, store = _state(request)
    f, page, size, problems = book_query(request.query_params)
    f = _with_names(store, f)
    rows, total = book_page(store, f, page=page, size=size)
    if not rows and total and page > 1:  # past the end (the book shrank): the last page
        page = math.ceil(total / size)
        rows, total = book_page(store, f, page=page, size=size)
    for row in rows:
        row["name"] = _debtor_name_of(store, row["debtor_id"])
    params = {k: getattr(f, k) for k in _FILTER_KEYS}
    kept = {**params, "size": size if size != 50 else ""}
    return {"rows": rows, "pager": _pager(path, kept, page, size, total), "filters": params,
            "problems": problems, "export": _link("/ui/export/book.csv", params),
            "choices": {"grade": _grades(), "migration": MIGRATIONS, "action": LIMIT_ACTIONS,
                        "insurer": INSURER_FILTERS, **book_choices(store)},
            "filtered": any(params[k] for k in _FILTER_KEYS if k != "q")}


def _alerts_page(ui: _Ui, request: Request, sess: UiSession) -> Response:
    _, store = _state(request)
    f, page, size, problems = alert_query(request.query_params)
    rows, total = alerts_page(store, f, page=page, size=size)
    if not rows and total and page > 1:  # past the end: the last page
        page = math.ceil(total / size)
        rows, total = alerts_page(store, f, page=page, size=size)
    params = {"kind": f.kind, "since": f.since.isoformat() if f.since else "",
              "until": f.until.isoformat() if f.until else ""}
    kept = {**params, "size": size if size != 50 else ""}
    return ui.render("ui_alerts.html.j2", request, status=422 if problems else 200,
                     session=sess, active="alerts", rows=rows, filters=params,
                     kinds=ALERT_KINDS, problems=problems,
                     pager=_pager("/ui/alerts", kept, page, size, total),
                     export=_link("/ui/export/alerts.csv", params))


# -- CSV ---------------------------------------------------------------------------------

_RISKY = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any, *, money: bool = False) -> str:
    """One CSV cell: money to cents, dates as ISO text, and text that a spreadsheet would
    read as a formula (starting with ``= + - @``, a tab or a carriage return) prefixed
    with an apostrophe.

    Examples
    --------
    >>> csv_cell(1234.5678, money=True), csv_cell("=HYPERLINK(1)"), csv_cell(None)
    ('1234.57', "'=HYPERLINK(1)", '')
    """
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return f"{value:.2f}" if money else repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_RISKY) else text


def csv_lines(columns: Sequence[str], rows: Iterator[Mapping[str, Any]] | Any,
              *, batch: int = 1000) -> Iterator[str]:
    """The CSV text of ``rows`` (a header, then ``batch`` rows per piece yielded)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    n = 0
    for row in rows:
        writer.writerow([csv_cell(row.get(c), money=c in _MONEY) for c in columns])
        n += 1
        if n % batch == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _csv_response(columns: Sequence[str], rows: Any, name: str) -> StreamingResponse:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = _page_headers("default-src 'none'", "DENY")
    headers["Content-Disposition"] = f'attachment; filename="riskengine-{name}-{stamp}.csv"'
    return StreamingResponse(csv_lines(columns, rows), media_type="text/csv; charset=utf-8",
                             headers=headers)
