"""The API's stored decisions and limit actions, one page at a time (shell).

Routes (on the ``/v1`` router, scope ``read``)::

    GET /v1/decisions                  stored decisions, oldest first (keyset pages)
    GET /v1/decisions/{decision_id}    one stored decision (the Location of a POST's 201)
    GET /v1/limit-actions              the limit register's history, oldest first

A list answers ``{"items": [...], "next": URL or null}`` and, when there is a next page,
a ``Link: <URL>; rel="next"`` header. ``limit`` (1 to 500, default 100) bounds a page;
``cursor`` is the opaque value of a ``next`` link. The pages are read in SQL
(:mod:`riskengine.store.pages`): in a stable order, never the whole table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from riskengine.contracts.ids import ID_MAX_LENGTH, ID_PATTERN
from riskengine.errors import InvalidInputError
from riskengine.serve.common import response_json
from riskengine.serve.problems import instance_of, problem, problem_responses
from riskengine.store import DecisionStore
from riskengine.store.desk import ALERT_KINDS, AlertFilter, alert_list
from riskengine.store.pages import MAX_PAGE, Page, decode_cursor, encode_cursor

__all__ = ["Alert", "AlertPage", "DecisionPage", "LimitAction", "LimitActionPage",
           "add_list_routes",
           "page_answer", "page_query"]


class DecisionPage(BaseModel):
    """A page of stored decisions (each as stored, with ``decision_id``)."""

    items: list[dict[str, Any]]
    next: str | None = Field(description="URL of the next page; null on the last")


class LimitAction(BaseModel):
    """One change of a pair's limit in the register."""

    model_config = ConfigDict(extra="allow")

    action_id: int
    supplier_id: str
    debtor_id: str
    action: str = Field(description="new, increase, decrease, cancel, ...")
    old_limit: float | None
    new_limit: float
    effective_date: str
    reason: str
    changed_by: str
    decision_id: int | None
    changed_at: str
    source: str | None
    as_of: str | None


class LimitActionPage(BaseModel):
    """A page of the limit register's history."""

    items: list[LimitAction]
    next: str | None = Field(description="URL of the next page; null on the last")


class Alert(BaseModel):
    """One alert of the desk (riskengine.store.desk.ALERT_COLUMNS)."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field(description=", ".join(ALERT_KINDS))
    day: str = Field(description="When it happened (YYYY-MM-DD)")
    debtor_id: str
    supplier_id: str | None
    before: float | None = Field(description="A limit or an insurer's granted amount before")
    after: float | None = Field(description="... and after (a new adverse record: its amount)")
    currency: str | None
    grade_from: str | None
    grade_to: str | None
    detail: str | None = Field(description="The history's action, the insurer's status or "
                                           "the adverse record's type")


class AlertPage(BaseModel):
    """A page of the desk's alerts, newest first."""

    items: list[Alert]
    next: str | None = Field(description="URL of the next page; null on the last")


_LIMIT = Query(default=100, ge=1, le=MAX_PAGE, description="Most items in the page")
_CURSOR = Query(default=None, min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_-]+$",
                description="The cursor of a next link")
_KIND = Query(default=None, pattern="^(" + "|".join(ALERT_KINDS) + ")$",
              description="One kind of alert (default: every kind)")
_DAY = Query(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")
_ID_QUERY: dict[str, Any] = {"default": None, "min_length": 1, "max_length": ID_MAX_LENGTH,
                             "pattern": ID_PATTERN}


def page_query(request: Request, cursor: str, limit: int) -> str:
    """The URL of the next page: the request's path and filters with ``cursor``."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    if not any(k == "limit" for k, _ in params):
        params.append(("limit", str(limit)))
    return f"{request.url.path}?{urlencode([*params, ('cursor', cursor)])}"


def page_answer(request: Request, page: Page, limit: int, key: str = "items") -> Response:
    """A page as JSON with its next link (body and ``Link`` header)."""
    nxt = None if page.next_cursor is None else page_query(request, page.next_cursor, limit)
    body = response_json({key: page.items, "next": nxt})
    headers = {"content-type": "application/json"}
    if nxt is not None:
        headers["link"] = f'<{nxt}>; rel="next"'
    return Response(body, headers=headers)


def bad_cursor(request: Request, exc: InvalidInputError) -> Response:
    """422 for a cursor this list did not hand out (never echoing it)."""
    del exc
    return problem(422, [{"loc": ["query", "cursor"], "type": "bad_cursor",
                          "msg": "not a cursor of this list; start again without one"}],
                   instance=instance_of(request.scope))


def add_list_routes(v1: Any, store: DecisionStore,
                    headers_of: Mapping[str, str] | None = None) -> None:
    """The list routes and ``GET /v1/decisions/{decision_id}`` on the ``/v1`` router."""
    json_headers = dict(headers_of or {"content-type": "application/json"})

    @v1.get("/decisions", tags=["decisions"], operation_id="listDecisions",
            summary="Stored decisions, oldest first, one page at a time",
            responses={200: {"model": DecisionPage}, **problem_responses(422)})
    async def list_decisions(
        request: Request,
        debtor_id: str | None = Query(**_ID_QUERY),
        supplier_id: str | None = Query(**_ID_QUERY),
        limit: int = _LIMIT, cursor: str | None = _CURSOR,
    ) -> Response:
        try:
            page = await run_in_threadpool(store.decision_page, debtor_id=debtor_id,
                                           supplier_id=supplier_id, cursor=cursor,
                                           limit=limit)
        except InvalidInputError as exc:
            return bad_cursor(request, exc)
        return page_answer(request, page, limit)

    @v1.get("/decisions/{decision_id}", tags=["decisions"], operation_id="getDecision",
            summary="One stored decision (the Location of a created decision)",
            responses={200: {"content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": True}}},
                "description": "The decision as stored"}, **problem_responses(404, 422)})
    async def get_decision_by_id(
        decision_id: int = Path(ge=1, le=2**63 - 1),
    ) -> Response:
        found = await run_in_threadpool(store.decision_by_id, decision_id)
        if found is None:
            raise HTTPException(status_code=404, detail="no stored decision of this id")
        found.pop("decision_id", None)
        body = response_json(found)
        return Response(body, headers={**json_headers, "x-decision-id": str(decision_id)})

    @v1.get("/alerts", tags=["limits"], operation_id="listAlerts",
            summary="The desk's alerts (limit cuts, downgrades, insurer reductions, new "
                    "adverse records), newest first",
            responses={200: {"model": AlertPage}, **problem_responses(422)})
    async def list_alerts(
        request: Request,
        kind: str | None = _KIND, since: str | None = _DAY, until: str | None = _DAY,
        limit: int = _LIMIT, cursor: str | None = _CURSOR,
    ) -> Response:
        try:  # the cursor holds the position of the next alert in the order
            offset = decode_cursor(cursor, [int])[0] if cursor else 0
        except InvalidInputError as exc:
            return bad_cursor(request, exc)
        days: dict[str, dt.date | None] = {}
        for name, text in (("since", since), ("until", until)):
            try:
                days[name] = dt.date.fromisoformat(text) if text else None
            except ValueError:
                return problem(422, [{"loc": ["query", name], "type": "not_date",
                                      "msg": "not a date (YYYY-MM-DD)"}],
                               instance=instance_of(request.scope))
        f = AlertFilter(kind=kind or "", **days)
        if f.problems():
            return problem(422, [{"loc": ["query", "since"], "type": "date_order",
                                  "msg": "the period starts after it ends"}],
                           instance=instance_of(request.scope))
        rows, nxt = await run_in_threadpool(alert_list, store, f, offset=offset, limit=limit)
        return page_answer(request, Page(rows, None if nxt is None else encode_cursor([nxt])),
                           limit)

    @v1.get("/limit-actions", tags=["limits"], operation_id="listLimitActions",
            summary="The limit register's history (every limit change), oldest first",
            responses={200: {"model": LimitActionPage}, **problem_responses(422)})
    async def list_limit_actions(
        request: Request,
        debtor_id: str | None = Query(**_ID_QUERY),
        supplier_id: str | None = Query(**_ID_QUERY),
        action: str | None = Query(default=None, min_length=1, max_length=16,
                                   pattern=r"^[a-z_]+$"),
        limit: int = _LIMIT, cursor: str | None = _CURSOR,
    ) -> Response:
        try:
            page = await run_in_threadpool(store.limit_action_page, debtor_id=debtor_id,
                                           supplier_id=supplier_id, action=action,
                                           cursor=cursor, limit=limit)
        except InvalidInputError as exc:
            return bad_cursor(request, exc)
        return page_answer(request, page, limit)
