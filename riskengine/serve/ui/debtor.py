"""The debtor page: the latest decision, the override form, overrides (pending ones with
the approver's buttons), the audit trail and the framed memo; proposing an override and
reviewing a pending one (four eyes, issue 18)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from riskengine.contracts.ids import ID_RULE, is_identifier
from riskengine.errors import InvalidInputError
from riskengine.serve.ui.dependencies import (
    _MEMO_CSP,
    UI_PREFIX,
    _grades,
    _page_headers,
    _policy,
    _redirect,
    _state,
    _Ui,
)
from riskengine.serve.ui.formatting import _finite, _words, fmt_money
from riskengine.serve.ui.forms import FormData
from riskengine.serve.ui.search import _debtor_name, _inputs
from riskengine.serve.ui.sessions import UiSession
from riskengine.store import DecisionStore

_REASON_MAX = 500


def create_router(ui: _Ui) -> APIRouter:
    """``GET /debtor``, ``GET /debtor/memo`` and ``POST /debtor/override`` (their store
    work in a worker thread)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/debtor")
    async def debtor(request: Request, id: str = "",
                     sess: UiSession = Depends(ui.require_session)) -> Response:  # noqa: B008
        return await run_in_threadpool(_debtor_page, ui, request, sess, id)

    @router.get("/debtor/memo")
    async def memo(request: Request, id: str = "",
                   sess: UiSession = Depends(ui.require_session)) -> Response:  # noqa: B008
        return await run_in_threadpool(_memo_page, ui, request, sess, id)

    @router.post("/debtor/override")
    async def override(request: Request,
                       sess: UiSession = Depends(ui.require_session)) -> Response:  # noqa: B008
        form = await ui.checked_form(request, sess, "override")
        if isinstance(form, Response):
            return form
        return await run_in_threadpool(_record_override, ui, request, sess, form)

    @router.post("/debtor/review")
    async def review(request: Request,
                     sess: UiSession = Depends(ui.require_session)) -> Response:  # noqa: B008
        form = await ui.checked_form(request, sess, "approve")
        if isinstance(form, Response):
            return form
        return await run_in_threadpool(_review_override, ui, request, sess, form)

    return router


def _debtor_page(ui: _Ui, request: Request, sess: UiSession, debtor_id: str, *,
                 status: int = 200, override_error: list[str] | None = None,
                 override_values: Mapping[str, str] | None = None) -> HTMLResponse:
    _, store = _state(request)
    debtor_id = debtor_id.strip()
    if debtor_id and not is_identifier(debtor_id):
        return ui.error(request, sess, 400, "Not a debtor id",
                        f"A debtor id is {ID_RULE}. Search for the debtor instead.")
    decision = store.latest_decision(debtor_id) if debtor_id else None
    if decision is None:
        return ui.error(request, sess, 404, "No decision on this debtor",
                        f"No decision is stored for debtor {debtor_id or '(none given)'}. "
                        "Search for another debtor, or score it first.")
    name = _debtor_name(store, decision.get("input_hash"))
    overrides = store.overrides(debtor_id=debtor_id)
    effective = _effective(decision, overrides)
    trail = _trail_rows(store, debtor_id, overrides, decision.get("currency"))
    params = request.query_params
    notice = None
    if params.get("scored"):
        notice = f"Decision {params.get('scored')} recorded."
    elif params.get("override"):
        flagged = params.get("flagged") == "1"
        notice = (f"Override {params.get('override')} recorded"
                  + (": flagged, pending until a second approver approves it; the limit "
                     "in force stays until then." if flagged else " and applied."))
    elif params.get("reviewed"):
        notice = f"Override {params.get('reviewed')} {params.get('verdict', 'reviewed')}."
    return ui.render(
        "ui_debtor.html.j2", request, status=status, session=sess, active="search",
        d=decision, name=name, overrides=overrides, effective=effective,
        pending=[o for o in overrides if o.get("status") == "pending"],
        can_override=sess.can("override"), can_approve=sess.can("approve"),
        trail=trail, notice=notice, grades=_grades(),
        max_upgrade=ui.max_upgrade_for(request),
        override_error=override_error or [], override_values=dict(override_values or {}),
        memo_url=f"{UI_PREFIX}/debtor/memo?id={quote(debtor_id, safe='')}",
        has_inputs=_inputs(store, decision.get("input_hash")) is not None)


def _memo_page(ui: _Ui, request: Request, sess: UiSession, debtor_id: str) -> Response:
    engine, store = _state(request)
    debtor_id = debtor_id.strip()
    decision = store.latest_decision(debtor_id) if is_identifier(debtor_id) else None
    headers = _page_headers(_MEMO_CSP, "SAMEORIGIN")
    if decision is None:
        return HTMLResponse("<p>No decision stored for this debtor.</p>", 404, headers=headers)
    payload = _inputs(store, decision.get("input_hash"))
    if payload is None:
        return HTMLResponse("<p style='font-family:sans-serif'>The inputs of this decision "
                            "were not kept (decided before inputs were recorded): no memo. "
                            "Score the debtor again to get one.</p>", 200, headers=headers)
    if engine is None:
        return HTMLResponse("<p style='font-family:sans-serif'>The engine is still loading; "
                            "reload in a few seconds.</p>", 503, headers=headers)
    from riskengine.serve.memo.context import memo_context
    from riskengine.serve.memo.render import render_memo

    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    try:
        context = memo_context(engine, payload, decision,
                               overrides=store.overrides(debtor_id=decision["debtor_id"]),
                               source=f"decision store (inputs {str(decision.get('input_hash'))[:12]})",
                               generated_at=now)
    except InvalidInputError as exc:
        return HTMLResponse(jinja2.Template("<p style='font-family:sans-serif'>No memo: "
                                            "{{ m }}</p>", autoescape=True).render(m=str(exc)),
                            422, headers=headers)
    return HTMLResponse(render_memo(context), 200, headers=headers)


def _trail_rows(store: DecisionStore, debtor_id: str, overrides: Sequence[Mapping[str, Any]],
                currency: Any) -> list[dict[str, Any]]:
    """The debtor's audit trail (:func:`riskengine.serve.audit.audit_trail`), newest first, as
    rows of the page: ``at, kind, by, summary, reason, versions, flagged``."""
    from riskengine.serve.audit import audit_trail

    flagged = {int(o["id"]): bool(o.get("flagged")) for o in overrides}
    by_id = {int(o["id"]): o for o in overrides}
    rows = []
    for e in reversed(audit_trail(store, debtor_id)):
        kind = str(e.get("kind"))
        if kind == "decision":
            summary = (f"Decision {e.get('decision_id')}: grade {e.get('grade') or 'NR'}, "
                       f"limit {fmt_money(e.get('limit'), currency)}"
                       + (f", as of {e['as_of']}" if e.get("as_of") else ""))
        elif kind == "override":
            o = by_id.get(int(e.get("id") or 0), {})
            n = abs(int(o.get("notches") or 0))
            summary = (f"{_words(o.get('direction', 'override')).capitalize()} of decision "
                       f"{e.get('decision_id')}: grade {o.get('original_grade')} → "
                       f"{o.get('new_grade')}"
                       + (f" ({n} notch{'es' if n != 1 else ''})" if n else "")
                       + f", limit {fmt_money(o.get('original_limit'))} → "
                       f"{fmt_money(o.get('new_limit'), currency)}"
                       + _review_words(o))
        else:
            summary = str(e.get("summary") or "")
            if kind == "limit_change":
                summary = (f"Limit register{' for ' + str(e['supplier_id']) if e.get('supplier_id') else ''}: "
                           f"{fmt_money(e.get('limit'), currency)}"
                           + (f" from {e['as_of']}" if e.get("as_of") else ""))
        versions = " · ".join(x for x in (
            f"model {e['model_version']}" if e.get("model_version") else "",
            f"policy {e['policy_version']}" if e.get("policy_version") else "",
            (f"inputs {str(e['input_hash'])[:12]}…"
             + (" (kept)" if e.get("inputs_recorded") else " (not kept)"))
            if e.get("input_hash") else "") if x)
        rows.append({"at": e.get("at"), "kind": kind, "by": e.get("officer"),
                     "summary": summary, "reason": e.get("reason") if kind != "decision"
                     else None, "versions": versions,
                     "flagged": kind == "override" and flagged.get(int(e.get("id") or 0),
                                                                   False)})
    return rows


def _review_words(o: Mapping[str, Any]) -> str:
    """The four-eyes state of an override in the trail: who approved or rejected it."""
    status = o.get("status", "applied")
    if status in ("approved", "rejected"):
        return f"; {status} by {o.get('approver')}"
    return "; pending a second approver" if status == "pending" else ""


def _effective(decision: Mapping[str, Any], overrides: Sequence[Mapping[str, Any]]
               ) -> dict[str, Any] | None:
    """The grade and limit in force after the latest override of this decision that is in
    force (applied at once, or approved), if any."""
    did = decision.get("decision_id")
    mine = [o for o in overrides if o.get("decision_id") in (None, did)
            and o.get("status", "applied") in ("applied", "approved")]
    if not mine:
        return None
    last = max(mine, key=lambda o: int(o.get("id") or 0))
    return {"grade": last.get("new_grade") or decision.get("grade"),
            "limit": last.get("new_limit") if last.get("new_limit") is not None
            else decision.get("approved_limit"),
            "officer": last.get("officer"), "flagged": bool(last.get("flagged")),
            "approver": last.get("approver"), "terms": last.get("terms")}


def _record_override(ui: _Ui, request: Request, sess: UiSession, form: FormData) -> Response:
    from riskengine.policy.overrides import OverrideRefusedError, apply_override
    from riskengine.serve.common import override_rerun

    engine, store = _state(request)
    debtor_id = form.get("debtor_id")
    decision = store.latest_decision(debtor_id) if is_identifier(debtor_id) else None
    if decision is None:
        return ui.error(request, sess, 404, "No decision on this debtor",
                        "There is no stored decision to override.")

    def again(status: int, problems: list[str]) -> HTMLResponse:
        return _debtor_page(ui, request, sess, debtor_id, status=status,
                            override_error=problems, override_values=form.fields)

    if str(decision.get("decision_id")) != form.get("decision_id"):
        return again(409, ["A newer decision was stored while you were reading it; review "
                           "that one and override it if you still disagree."])
    problems: list[str] = []
    new_grade = form.get("new_grade") or None
    if new_grade is not None and new_grade not in _grades():
        problems.append("New grade: choose a grade of the master scale.")
    new_limit: float | None = None
    limit_text = form.get("new_limit").replace(",", "").replace(" ", "")
    if limit_text:
        new_limit = _finite(limit_text) if re.fullmatch(r"[0-9.]+", limit_text) else None
        if new_limit is None:
            problems.append("New limit: give an amount of 0 or more, or leave it blank to "
                            "keep the approved limit.")
    if problems:
        return again(422, problems)
    try:
        saved = apply_override(store, decision, reason=form.get("reason"),
                               officer=sess.officer, new_grade=new_grade, new_limit=new_limit,
                               policy_max_upgrade_notches=ui.max_upgrade_for(request),
                               policy=_policy(request),
                               rerun=override_rerun(engine, store, decision))
    except OverrideRefusedError as exc:
        return again(422, [_sentence(r) for r in exc.check.reasons])
    except InvalidInputError as exc:
        return again(422, [_sentence(str(p.get("message") or exc))
                           for p in (exc.problems or [{}])])
    return _redirect(f"{UI_PREFIX}/debtor?id={quote(debtor_id, safe='')}"
                     f"&override={int(saved['id'])}&flagged={int(bool(saved.get('flagged')))}")


def _review_override(ui: _Ui, request: Request, sess: UiSession, form: FormData
                     ) -> Response:
    from riskengine.policy.limits import decision_knockout
    from riskengine.policy.overrides import check_review

    _, store = _state(request)
    debtor_id = form.get("debtor_id")
    oid = form.get("override_id")
    o = store.override(int(oid)) if oid.isdigit() else None
    if o is None or o["debtor_id"] != debtor_id:
        return ui.error(request, sess, 404, "No such override",
                        "There is no override of this debtor to review.")
    verdict = form.get("verdict")
    problems = check_review(o, sess.officer, sess.role, verdict)
    if problems:
        return _debtor_page(ui, request, sess, debtor_id, status=409,
                            override_error=[_sentence(p) for p in problems])
    decision = store.latest_decision(debtor_id) or {}
    try:
        store.review_override(int(oid), verdict=verdict, approver=sess.officer,
                              comment=form.get("comment")[:2000] or None,
                              policy=_policy(request),
                              knockout=decision_knockout({"knockouts": decision.get(
                                  "knockouts")}))
    except InvalidInputError as exc:  # reviewed meanwhile by someone else
        return _debtor_page(ui, request, sess, debtor_id, status=409,
                            override_error=[_sentence(str(p.get("message") or exc))
                                            for p in (exc.problems or [{}])])
    return _redirect(f"{UI_PREFIX}/debtor?id={quote(debtor_id, safe='')}"
                     f"&reviewed={int(oid)}&verdict={verdict}")


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else text
