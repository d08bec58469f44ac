"""The score page: a new debtor from a JSON payload file or the form's key fields, decided
and stored as the ``/v1`` route does."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from riskengine.errors import InvalidInputError
from riskengine.serve.ui.dependencies import UI_PREFIX, _policy, _redirect, _state, _Ui
from riskengine.serve.ui.forms import (
    MAX_GROUPS,
    STATEMENT_FIELDS,
    FormData,
    _groups,
    payload_from_form,
)
from riskengine.serve.ui.sessions import UiSession


def create_router(ui: _Ui) -> APIRouter:
    """``GET /score`` (the form) and ``POST /score`` (scored and stored in a worker thread)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/score")
    async def score_form(request: Request,
                         sess: UiSession = Depends(ui.require_session)) -> Response:  # noqa: B008
        refused = ui.refuse_role(request, sess, "score")
        if refused is not None:
            return refused
        return _score_page(ui, request, sess, FormData(), [],
                           groups=_group_counts(request.query_params, FormData()))

    @router.post("/score")
    async def score(request: Request,
                    sess: UiSession = Depends(ui.require_session)) -> Response:  # noqa: B008
        form = await ui.checked_form(request, sess, "score")
        if isinstance(form, Response):
            return form
        return await run_in_threadpool(_score, ui, request, sess, form)

    return router


_DEFAULT_GROUPS = {"statements": 2, "adverse": 1}


def _group_counts(params: Mapping[str, str], form: FormData) -> dict[str, int]:
    """How many statement and adverse-record groups the form shows: as asked in the query
    (``?statements=3&adverse=2``, at most :data:`MAX_GROUPS`), and at least as many as the
    sent form filled."""
    out = {}
    for kind, default in _DEFAULT_GROUPS.items():
        try:
            n = int(params.get(kind) or default)
        except ValueError:
            n = default
        filled = _groups(form, kind)
        out[kind] = max(1, min(MAX_GROUPS, max(n, filled[-1] + 1 if filled else 0)))
    return out


def _count(text: str) -> int:
    return int(text) if text.isdigit() and len(text) <= 2 else 0


def default_product(request: Request) -> str | None:
    """The product a pair without one is decided under: the engine's default product
    (``Engine(default_product=...)``, non-recourse unless the engine was built otherwise)."""
    engine = request.app.state.engine
    return getattr(engine, "default_product", None) or "non_recourse"


def _score_page(ui: _Ui, request: Request, sess: UiSession, form: FormData,
                errors: list[str], status: int = 200,
                groups: dict[str, int] | None = None) -> HTMLResponse:
    from riskengine.contracts import schemas

    policy = _policy(request)
    products = tuple(getattr(policy, "product_names", ())) if policy is not None else ()
    counts = groups or _group_counts({}, form)
    return ui.render("ui_score.html.j2", request, status=status, session=sess,
                     active="score", errors=errors, values=form.fields,
                     legal_forms=tuple(schemas.LEGAL_FORMS),
                     currencies=tuple(schemas.CURRENCIES),
                     statement_types=tuple(schemas.STATEMENT_TYPES),
                     event_types=tuple(schemas.ADVERSE_EVENT_TYPES),
                     adverse_statuses=tuple(schemas.ADVERSE_STATUSES),
                     statement_fields=STATEMENT_FIELDS, products=products,
                     default_product=default_product(request), groups=counts,
                     max_groups=MAX_GROUPS, today=dt.date.today().isoformat())


def _score(ui: _Ui, request: Request, sess: UiSession, form: FormData) -> Response:
    from pydantic import ValidationError

    from riskengine.contracts.payload import DebtorPayload
    from riskengine.serve.common import decide_and_store, problem_details, pydantic_details

    add = form.get("add")
    if add in _DEFAULT_GROUPS:  # one more group; what was typed stays in the form
        counts = _group_counts({}, form)
        shown = {k: max(counts[k], _count(form.get(f"shown_{k}"))) for k in counts}
        shown[add] = min(MAX_GROUPS, shown[add] + 1)
        return _score_page(ui, request, sess, form, [], groups=shown)
    engine, store = _state(request)
    if engine is None:
        return _score_page(ui, request, sess, form, [
            "The engine is still loading; try again in a few seconds."], 503)
    upload = form.files.get("payload_file")
    if upload is not None and upload[1].strip():
        try:
            raw: Any = json.loads(upload[1].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _score_page(ui, request, sess, form, [
                f"The file {upload[0]!s} is not JSON text; upload a payload like "
                "examples/debtor.json."], 422)
        if not isinstance(raw, dict):
            return _score_page(ui, request, sess, form, [
                "The file holds a JSON array or value; upload one payload (a JSON object) "
                "like examples/debtor.json."], 422)
    else:
        raw, problems = payload_from_form(form)
        if problems:
            return _score_page(ui, request, sess, form, problems, 422)
    try:
        payload = DebtorPayload.model_validate(raw)
    except ValidationError as exc:
        details = pydantic_details(exc.errors(include_url=False), ())
        return _score_page(ui, request, sess, form, [_detail_text(d) for d in details], 422)
    if payload.as_of is None:  # today as the service's reference date (UTC)
        payload = payload.model_copy(update={"as_of": dt.datetime.now(dt.UTC).date()})
    try:
        ids = decide_and_store(engine, store, [payload])[1].ids
    except InvalidInputError as exc:
        details = problem_details(exc, ())
        return _score_page(ui, request, sess, form, [_detail_text(d) for d in details], 422)
    return _redirect(f"{UI_PREFIX}/debtor?id={quote(payload.debtor.debtor_id, safe='')}"
                     f"&scored={ids[0]}")


def _detail_text(detail: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in detail.get("loc", ()) if p != "body")
    return f"{loc or 'payload'}: {detail.get('msg', 'invalid')}"
