"""The request loop of insurer limits (issue 16; shell): the insurers' answers into the
register, the affected pairs decided again, and the requests to send.

- ``GET /v1/insurer-requests`` (optionally ``?debtor_id=``): what to ask the insurer for,
  from the store (:meth:`~riskengine.store.DecisionStore.insurer_requests`: the latest
  ``rerate`` run and service decisions);
- ``POST /v1/insurer-responses``: a JSON list of insurer limits (the columns of
  :data:`riskengine.contracts.schemas.INSURER_LIMITS`), and
  ``riskengine insurer-responses load FILE.csv|json --store URL``: the same answers from
  a file.

An answer set is checked whole before anything is written (:func:`check_responses`):
the contract (a cover percentage outside (0, 1], a status outside the vocabulary, a
granted limit without its amount, dates in the wrong order...), an insurance policy the
credit policy does not declare, a debtor the register does not know, a currency other
than the pairs' without a rate in force in the store (``missing_fx_rate``; with one, the
engine converts the limit). One bad row refuses the whole set (422 naming each row by its position
and field, never a value; the command prints the error rows): nothing is applied
partially. A good set is appended to the store's ``insurer_limits`` in one transaction
(every state is kept), then each affected debtor is **decided again** (:func:`redecide`):
its latest stored inputs (the payload behind the latest decision of each of its pairs)
are decided as of today with the register's insurer limits, through the one decision
path, and stored as new decisions (register, inputs, requests). A debtor the service
holds no inputs of (known from a ``rerate`` run only) is listed as not decided again:
the next ``rerate`` decides it with the portfolio's insurer limits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from riskengine.contracts.ids import ID_MAX_LENGTH, ID_PATTERN
from riskengine.contracts.schemas import INSURER_LIMITS
from riskengine.errors import InvalidInputError
from riskengine.serve.common import response_json
from riskengine.store import DecisionStore

__all__ = ["check_responses", "apply_responses", "redecide", "read_responses",
           "responses_frame", "add_insurer_routes", "responses_command"]

_COLUMNS = INSURER_LIMITS.names


def _today() -> dt.date:
    """The UTC date: the day answers are checked against and debtors decided again."""
    return dt.datetime.now(dt.UTC).date()


def responses_frame(records: Sequence[Any]) -> pd.DataFrame:
    """The rows of a JSON list of insurer limits, as read (validation reports what is wrong).

    Raises
    ------
    InvalidInputError
        An item is not a JSON object (naming its position).
    """
    for i, r in enumerate(records):
        if not isinstance(r, Mapping):
            raise InvalidInputError(
                f"insurer responses: item {i} is not an object; give a list of insurer "
                "limits (objects with the columns of insurer_limits).",
                [{"table": "insurer_limits", "record": str(i), "debtor_id": None,
                  "column": "", "value": None, "reason": "model_type",
                  "message": "not an object"}])
    frame = pd.DataFrame([dict(r) for r in records])
    if not len(frame.columns):
        frame = pd.DataFrame(columns=[c.name for c in INSURER_LIMITS.columns if c.required])
    return frame


def read_responses(path: str | Path) -> pd.DataFrame:
    """An insurer's answers from a CSV file (a header row of the contract's columns) or a
    JSON file (a list of objects, or ``{"insurer_limits": [...]}``), as read.

    Raises
    ------
    InvalidInputError
        The file is not readable CSV or JSON.
    """
    from riskengine.io.portfolio import _read_csv, unreadable

    file = Path(path)
    if file.suffix.lower() == ".csv":
        return _read_csv(file)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise unreadable(file, "JSON", exc) from None
    if isinstance(data, Mapping) and "insurer_limits" in data:
        data = data["insurer_limits"]
    if not isinstance(data, list):
        raise InvalidInputError(f"{file}: give a JSON list of insurer limits (or an object "
                                "with 'insurer_limits'), not a JSON object of other keys.")
    return responses_frame(data)


def check_responses(frame: pd.DataFrame, store: DecisionStore, policy: Any, *,
                    reference_date: Any) -> pd.DataFrame:
    """The clean rows of an answer set, or :class:`InvalidInputError` listing every problem
    (each problem row gains ``row``: the position of the answer in the set).

    Checks: the contract (:func:`riskengine.validation.validate_table`, the insurer
    rules of :mod:`riskengine.validation.insurer`), then against the register
    (:func:`riskengine.validation.insurer.insurer_response_errors`).
    """
    from riskengine.store.insurer import pair_currencies
    from riskengine.validation import validate_table
    from riskengine.validation.errors import _Labels
    from riskengine.validation.insurer import insurer_response_errors

    clean, errors = validate_table(frame, INSURER_LIMITS, reference_date=reference_date)
    if len(clean):
        ids = clean["debtor_id"].astype(str).unique().tolist()
        currencies, by_pair = pair_currencies(store, ids)
        base = policy.book.currency  # the rates in force: a limit converts at them
        day = reference_date or _today()
        rated = store.fx_rates_on(day, base).mapping_at(day)
        more = insurer_response_errors(
            clean, declared={(p.insurer_id, p.policy_id) for p in policy.insurance.policies},
            known_debtors=store.known_debtors(ids), currencies=currencies,
            pair_currency=by_pair, rated=set(rated) | {base})
        errors = pd.concat([errors, more], ignore_index=True) if len(more) else errors
    if not len(errors):
        return clean
    raw = frame.reindex(columns=list(_COLUMNS))
    labels = _Labels(raw, INSURER_LIMITS).at(np.arange(len(raw))).record
    at: dict[str, int] = {}
    for i, rec in enumerate(labels):
        at.setdefault(rec, i)
    problems = []
    for row in errors.to_dict("records"):
        rec = row.get("record")
        problems.append({**row, "row": at.get(str(rec)) if rec is not None else None})
    first = errors["message"].iloc[0]
    raise InvalidInputError(
        f"insurer responses: {len(errors)} problem(s); nothing was applied. First: {first}",
        problems)


def apply_responses(engine: Any, store: DecisionStore, clean: pd.DataFrame, *, source: str,
                    today: dt.date | None = None) -> dict[str, Any]:
    """Record a checked answer set (one transaction) and decide its debtors again.

    Returns
    -------
    dict
        ``recorded`` (new states appended), ``debtors`` (the answers' debtors),
        ``redecided`` (debtors decided again), ``decision_ids``, ``not_redecided``
        (debtors without stored inputs).
    """
    recorded = store.record_insurer_limits(clean, source=source)
    debtors = sorted(clean["debtor_id"].astype(str).unique().tolist())
    out = redecide(engine, store, debtors, today=today)
    return {"recorded": recorded, "debtors": debtors, **out}


def redecide(engine: Any, store: DecisionStore, debtors: Sequence[str], *,
             today: dt.date | None = None) -> dict[str, Any]:
    """Decide each debtor again from its latest stored inputs, as of ``today`` (default
    the UTC date), with the register's insurer limits (module docstring)."""
    from riskengine.contracts.payload import parse_payload
    from riskengine.serve.common import decide_and_store

    day = today or _today()
    done: list[str] = []
    missing: list[str] = []
    ids: list[int] = []
    for did in debtors:
        latest: dict[Any, str] = {}
        for d in store.decision_history(did, limit=1000):  # newest first
            sid = d.get("supplier_id")
            if sid not in latest and d.get("input_hash"):
                latest[sid] = str(d["input_hash"])
        payloads = []
        for h in dict.fromkeys(latest.values()):
            payload = store.inputs_for(h)
            if payload is not None:
                payload = {**payload, "as_of": day.isoformat(), "insurer_limits": []}
                payloads.append(parse_payload(payload))
        if not payloads:
            missing.append(did)
            continue
        for p in payloads:  # one debtor per call: a payload is one debtor's records
            _, stored = decide_and_store(engine, store, [p])
            ids.extend(stored.ids)
        done.append(did)
    return {"redecided": done, "decision_ids": ids, "not_redecided": missing}


class InsurerRequest(BaseModel):
    """A pair whose limit exceeds its cover: what to ask the insurer for."""

    model_config = ConfigDict(extra="allow")

    debtor_id: str
    supplier_id: str
    currency: str
    approved_limit: float
    insured_limit: float
    amount_requested: float
    reason: str


class InsurerRequestPage(BaseModel):
    """A page of the requests to the insurer."""

    requests: list[InsurerRequest]
    next: str | None


def add_insurer_routes(v1: Any, store: DecisionStore, engine: Callable[[], Any],
                       policy: Callable[[], Any], max_items: int = 10_000) -> None:
    """``GET /v1/insurer-requests`` and ``POST /v1/insurer-responses`` on the ``/v1`` router."""
    from riskengine.serve.lists import bad_cursor, page_answer
    from riskengine.serve.problems import problem, problem_responses
    from riskengine.store.pages import MAX_PAGE

    def error(status: int, details: list[dict[str, Any]]) -> Response:
        return problem(status, details, instance="/v1/insurer-responses")

    @v1.get("/insurer-requests", tags=["insurance"], operation_id="listInsurerRequests",
            summary="What to ask the insurer for: pairs whose limit exceeds their cover "
                    "(sorted by debtor and supplier, one page at a time)",
            responses={200: {"model": InsurerRequestPage}, **problem_responses(422)})
    async def get_requests(
        request: Request,
        debtor_id: str | None = Query(default=None, min_length=1, max_length=ID_MAX_LENGTH,
                                      pattern=ID_PATTERN),
        limit: int = Query(default=100, ge=1, le=MAX_PAGE, description="Most items"),
        cursor: str | None = Query(default=None, min_length=1, max_length=512,
                                   pattern=r"^[A-Za-z0-9_-]+$"),
    ) -> Response:
        try:
            page = await run_in_threadpool(store.insurer_request_page, debtor_id=debtor_id,
                                           cursor=cursor, limit=limit)
        except InvalidInputError as exc:
            return bad_cursor(request, exc)
        return page_answer(request, page, limit, key="requests")

    @v1.post("/insurer-responses", tags=["insurance"], operation_id="postInsurerResponses",
             summary="An insurer's answers: recorded whole or refused whole; the affected "
                     "pairs are decided again",
             responses=problem_responses(400, 422, 503))
    async def post_responses(request: Request) -> Response:
        eng = engine()
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error(400, [{"loc": ["body"], "type": "json_invalid",
                                "msg": "request body is not valid JSON"}])
        if not isinstance(body, list) or not 1 <= len(body) <= max_items:
            return error(422, [{"loc": ["body"], "type": "list_type",
                                "msg": f"give a list of 1 to {max_items} insurer limits"}])
        today = _today()

        def run() -> dict[str, Any]:
            frame = responses_frame(body)
            clean = check_responses(frame, store, policy(), reference_date=today)
            return apply_responses(eng, store, clean, source="http", today=today)

        try:
            out = await run_in_threadpool(run)
        except InvalidInputError as exc:
            return error(422, _details(exc))
        return Response(response_json(out), media_type="application/json")


def _details(exc: InvalidInputError) -> list[dict[str, Any]]:
    """422 items of refused answers: the answer's position and the field, never a value."""
    from riskengine.serve.common import _REASON_TEXT

    out: list[dict[str, Any]] = []
    for p in exc.problems or [{}]:
        loc: list[Any] = ["body"]
        if p.get("row") is not None:
            loc.append(int(p["row"]))
        elif str(p.get("record") or "").isdigit():  # an item that is not an object
            loc.append(int(p["record"]))
        if p.get("column"):
            loc.append(str(p["column"]))
        reason = str(p.get("reason") or "invalid")
        item = {"loc": loc, "type": reason, "msg": _REASON_TEXT.get(reason, "invalid value")}
        if item not in out:
            out.append(item)
    return out


def responses_command(args: argparse.Namespace) -> int:
    """``riskengine insurer-responses load FILE --store URL``: record an insurer's answers
    and decide the affected debtors again (prints one JSON object; exit 2 and the error
    rows when the file is refused, nothing applied)."""
    from riskengine.api import load_engine

    frame = read_responses(args.file)
    today = _today()
    with DecisionStore(args.store_url) as store:
        engine = load_engine(model_dir=args.model_dir, policy_path=args.policy)
        try:
            clean = check_responses(frame, store, engine.policy, reference_date=today)
        except InvalidInputError as exc:
            for p in exc.problems:
                where = f"row {p['row']}" if p.get("row") is not None else "file"
                print(f"{args.file}: {where}: {p.get('column')}: {p.get('reason')}: "
                      f"{p.get('message')}")
            raise
        out = apply_responses(engine, store, clean, source=f"response:{Path(args.file).name}",
                              today=today)
    from riskengine.io.console import set_result

    set_result(args, out)
    print(json.dumps(out, indent=2, default=str))
    return 0
