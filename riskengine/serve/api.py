"""The HTTP service for funding systems: FastAPI on uvicorn (shell layer).

Routes (see docs/SERVICE.md)::

    POST /v1/decisions                 one payload (examples/debtor.json) -> one decision,
                                       a JSON array of payloads -> a list of decisions
    POST /v1/invoices/check            funding check of an assigned invoice
    GET  /v1/debtors/{debtor_id}/decision   the latest stored decision (404 if none)
    GET  /v1/insurer-requests          what to ask the insurer for (riskengine.serve.insurer)
    POST /v1/insurer-responses         an insurer's answers: recorded whole or refused whole,
                                       the affected debtors decided again
    PUT  /v1/fx-rates                  dated exchange rates into the store (all or none)
    GET  /health                       the process is up
    GET  /ready                        200 once the engine is loaded, else 503
    GET  /openapi.json                 the OpenAPI document
    /ui                                the credit officer's pages (riskengine.serve.ui): login
                                       with an officer's account, a server-side session

Every ``/v1`` route needs ``Authorization: Bearer <token>`` of a token with the route's
scope (:data:`ROUTE_SCOPES`, :mod:`riskengine.serve.security`). Every decision and funding check is written to
the :class:`~riskengine.store.DecisionStore` (committed) before the answer
is sent, each decision with its payload (``record_inputs``, under the
decision's ``input_hash``). Request bodies are limited in size (413). Validation errors are 422
with the field path and the reason and never echo a submitted value; bad JSON
is 400; unknown routes 404, wrong methods 405. Store work (and the scoring before
it) runs in worker threads (``run_in_threadpool``), never on the event loop: a store
waiting on a lock delays only the requests that need it; ``/health`` still answers.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from riskengine.contracts.dates import field_date
from riskengine.contracts.ids import ID_MAX_LENGTH, ID_PATTERN
from riskengine.contracts.payload import FxRate
from riskengine.errors import InvalidInputError, RiskEngineError
from riskengine.serve.common import (
    decide_and_store,
    problem_details,
    pydantic_details,
    supplier_paths,
)
from riskengine.serve.security import TokenSet, load_tokens
from riskengine.store import DecisionStore, jsonable
from riskengine.store.idempotency import IdempotentAnswer

__all__ = [
    "API_VERSION",
    "ROUTE_SCOPES",
    "InvoiceCheckRequest",
    "FxRatesRequest",
    "create_app",
    "serve",
    "serve_command",
]

API_VERSION = "1.0"
"""Version of the HTTP API (the OpenAPI document's ``info.version``)."""

log = logging.getLogger("riskengine.serve.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_HEADERS = {"content-type": "application/json"}


# --- body size limit ---------------------------------------------------------------


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: 413 for a body above ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(send, 400, "bad_request", "Content-Length is not a number.")
                    return
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        await _send_error(send, 413, "body_too_large",
                          f"Request body larger than {self.max_bytes} bytes; send fewer "
                          "payloads per request.")


async def _send_error(send: Send, status: int, kind: str, msg: str) -> None:
    body = json.dumps({"detail": [{"loc": ["body"], "type": kind, "msg": msg}]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _error(status: int, details: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": details}, status_code=status)


# --- request models ------------------------------------------------------------------

_Id = Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)  # riskengine.contracts.ids
_IsoDate = Annotated[dt.date, BeforeValidator(field_date)]  # as riskengine.contracts.payload.IsoDate


class InvoiceCheckRequest(BaseModel):
    """An assigned invoice to check for funding against the pair's current limit.

    The limit is the pair's in the store's limit register (in force on
    ``as_of``), else the latest stored decision's approved limit; the grade,
    product, supplier grade, advance rate (after the decision's dilution) and
    the rating's date are the latest stored decision's in force on ``as_of``,
    never the caller's: ``grade``, ``product``, ``supplier_grade``,
    ``dilution``, ``limit`` or ``advance_rate`` in the body are refused (422,
    ``extra_forbidden``, naming the field). ``approved_outstanding`` is the
    funding system's approved outstanding on the pair before this invoice.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    supplier_id: str = _Id
    debtor_id: str = _Id
    invoice_id: str | None = Field(default=None, min_length=1, max_length=ID_MAX_LENGTH,
                                   pattern=ID_PATTERN)
    amount: float = Field(ge=0.0, le=1e13, allow_inf_nan=False,
                          description="Invoice amount, in the pair's currency")
    invoice_date: _IsoDate
    due_date: _IsoDate
    as_of: _IsoDate | None = Field(default=None, description="Day of the check; absent: today")
    approved_outstanding: float = Field(ge=0.0, le=1e13, allow_inf_nan=False)
    contras: float = Field(default=0.0, ge=0.0, le=1e13, allow_inf_nan=False)
    cross_aged: bool = False
    related: bool = False


class FxRatesRequest(BaseModel):
    """Dated exchange rates for the store (the ``fx_rates`` contract): each row's ``rate``
    is the number of units of the policy's reporting currency (``[book] currency``) per
    ONE unit of ``currency``, in force from ``date`` until the next row of that currency.
    A row of a day and currency already stored replaces its rate. Every row is checked
    before any is stored: one bad row (422, naming ``rates.<i>.<field>``, never a value)
    stores nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rates: list[FxRate] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _one_per_day(self) -> FxRatesRequest:
        seen: set[tuple[dt.date, str]] = set()
        for i, r in enumerate(self.rates):
            if (r.date, r.currency) in seen:
                raise ValueError(f"rates.{i}.date: a second rate for this currency and day")
            seen.add((r.date, r.currency))
        return self


# --- the app ---------------------------------------------------------------------------


ROUTE_SCOPES: dict[tuple[str, str], str] = {
    ("POST", "/v1/decisions"): "decide",
    ("POST", "/v1/invoices/check"): "check",
    ("GET", "/v1/debtors/{debtor_id:path}/decision"): "read",
    ("GET", "/v1/limits/{debtor_id:path}"): "read",
    ("PUT", "/v1/fx-rates"): "decide",
    ("GET", "/v1/insurer-requests"): "read",
    ("POST", "/v1/insurer-responses"): "decide",
}
"""The scope each ``/v1`` route needs (:data:`riskengine.serve.security.SCOPES`); a route
not listed needs a scope no token has (closed by default)."""


class _BearerToken(HTTPBearer):
    """The ``/v1`` routes' dependency: a bearer token of ``tokens`` (401 otherwise) with the
    route's scope (:data:`ROUTE_SCOPES`; 403 otherwise, naming the scope, never the token).

    The check is the security scheme's own call (one dependency, not a function
    depending on the scheme: one level less to solve per request); the OpenAPI
    document names the scheme ``HTTPBearer`` as before.
    """

    def __init__(self, tokens: TokenSet | None) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer",
                         description="API token (RISKENGINE_API_TOKEN); scopes decide, "
                                     "check, read")
        self.tokens = tokens

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        if self.tokens is None:  # --insecure-dev
            return
        credentials = await super().__call__(request)
        scopes = None if credentials is None else self.tokens.scopes_of(
            credentials.credentials)
        if scopes is None:
            raise HTTPException(status_code=401, detail="missing or invalid bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        route = request.scope.get("route")
        method = "GET" if request.method == "HEAD" else request.method
        need = ROUTE_SCOPES.get((method, getattr(route, "path", "")), "(unlisted)")
        if need not in scopes:
            raise HTTPException(
                status_code=403, headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{need}"'},
                detail=[{"loc": ["header", "Authorization"], "type": "insufficient_scope",
                         "msg": f"this token lacks the {need!r} scope this route needs"}])


def _decision_json(value: Any) -> bytes:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError):  # numpy scalars, dates, NaN: made plain (NaN -> null)
        return json.dumps(jsonable(value), allow_nan=False, separators=(",", ":")).encode()


_IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,128}")


def _replay(answer: IdempotentAnswer, body_hash: str) -> Response:
    """The first answer under an Idempotency-Key, or 422 when the key came with another body."""
    if answer.request_hash != body_hash:
        return _error(422, [{"loc": ["header", "Idempotency-Key"], "type": "idempotency_key_reused",
                             "msg": "this key was used with another request body; use a new "
                                    "key for a new request"}])
    return Response(answer.response, headers={
        **_JSON_HEADERS, "x-decision-id": ",".join(str(i) for i in answer.decision_ids),
        "idempotent-replayed": "true"})


def _register_view(outcome: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the register did with a decision (the response's ``register``), or None."""
    if outcome is None:
        return None
    if not outcome["applied"]:
        return {"applied": False, "reason": outcome["reason"],
                "register_as_of": outcome["register_as_of"]}
    return {"applied": True, "action": outcome["action"], "status": outcome["status"],
            "limit": outcome["limit"], "effective_date": outcome["effective_date"],
            "pending": outcome["pending"]}


def _input_hash(obj: Any) -> str:
    text = json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def create_app(engine: Any, store: DecisionStore, tokens: Sequence[str] | None, *,
               max_body_bytes: int = 1_000_000, max_batch: int = 1000,
               insecure_dev: bool = False,
               engine_loader: Callable[[], Any] | None = None,
               policy: Any = None, ui: bool = True,
               ui_session_secret: bytes | None = None,
               login_limits: Any = None) -> FastAPI:
    """The FastAPI app of the service.

    Parameters
    ----------
    engine : Engine or None
        A loaded engine (``score_payloads(payloads) -> list[dict]``), or None
        with ``engine_loader``: ``/ready`` answers 503 until it is loaded.
    store : DecisionStore
        Where every decision and funding check is written before answering.
    tokens : sequence of str or None
        Allowed bearer tokens (at least one), or None with ``insecure_dev``.
    max_body_bytes : int
        Largest request body; larger ones get 413.
    max_batch : int
        Most payloads in one ``POST /v1/decisions`` array.
    insecure_dev : bool
        Serve ``/v1`` without authentication (development only).
    engine_loader : callable, optional
        Called once in a background thread at startup when ``engine`` is None.
    policy : CreditPolicy, optional
        The policy of funding checks; default ``engine.policy``, else the
        shipped policy.
    ui : bool
        Serve the credit officer's pages under ``/ui`` (:mod:`riskengine.serve.ui`),
        behind a login with the officers' accounts in ``store`` (never the tokens).
    ui_session_secret : bytes, optional
        Key of the ``/ui`` cookies; default a random key per process.
    login_limits : LoginLimits, optional
        Failed sign-ins before a lockout (:class:`riskengine.serve.accounts.LoginLimits`).

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    RiskEngineError
        No token and not ``insecure_dev``.
    """
    from riskengine.contracts.payload import DebtorPayload, by_payload

    if insecure_dev:
        token_set: TokenSet | None = None
    else:
        token_set = TokenSet(tokens or ())
    one = TypeAdapter(DebtorPayload)
    many = TypeAdapter(list[DebtorPayload])
    auth = _BearerToken(token_set)

    app = FastAPI(
        title="riskengine",
        version=API_VERSION,
        description="Debtor ratings, limits and invoice funding checks for funding systems.",
        docs_url=None, redoc_url=None,
        lifespan=_lifespan(engine_loader) if engine is None and engine_loader else None,
    )
    app.state.engine = engine
    app.state.engine_error = None
    app.state.store = store
    app.state.policy = policy
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, pydantic_details(exc.errors(), ()))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error %s", type(exc).__name__, exc_info=exc)
        return JSONResponse({"detail": "internal error; see the service log"}, status_code=500)

    def _engine() -> Any:
        eng = app.state.engine
        if eng is None:
            raise HTTPException(status_code=503, detail="engine not loaded yet; retry",
                                headers={"Retry-After": "1"})
        return eng

    def _policy() -> Any:
        if app.state.policy is None:
            pol = getattr(app.state.engine, "policy", None)
            if pol is None:
                from riskengine.config import load_policy
                pol = load_policy()
            app.state.policy = pol
        return app.state.policy

    @app.get("/health", tags=["operations"], summary="The process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], summary="The engine is loaded",
             responses={503: {"description": "Engine not loaded (yet)"}})
    async def ready() -> JSONResponse:
        eng = app.state.engine
        if eng is None:
            status = "failed" if app.state.engine_error else "loading"
            return JSONResponse({"status": status}, status_code=503,
                                headers={"Retry-After": "1"})
        versions = getattr(eng, "versions", None)
        if not isinstance(versions, Mapping):
            versions = {"model_version": getattr(eng, "model_version", None)}
        return JSONResponse({"status": "ready", **{k: str(v) for k, v in versions.items()}})

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(auth)],
                   responses={401: {"description": "Missing or invalid bearer token"},
                              403: {"description": "The token lacks the route's scope"}})

    payload_ref = {"$ref": "#/components/schemas/DebtorPayload"}
    error_responses: dict[int | str, dict[str, Any]] = {
        400: {"description": "Malformed JSON"},
        413: {"description": "Body too large"},
        422: {"description": "Invalid payload: field paths and reasons, never values"},
        503: {"description": "Engine not loaded yet"},
    }

    @v1.post(
        "/decisions", tags=["decisions"], summary="Decide one debtor (object) or many (array)",
        responses={200: {"description": "As the request: a payload with exposure gets its "
                                        "decision, one with exposures the list of its pairs' "
                                        "decisions; an array one entry per payload",
                         "content": {"application/json": {"schema": {"anyOf": [
                             {"type": "object"}, {"type": "array", "items": {"anyOf": [
                                 {"type": "object"},
                                 {"type": "array", "items": {"type": "object"}}]}}]}}}},
                   **error_responses},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"anyOf": [payload_ref, {"type": "array", "items": payload_ref,
                                               "minItems": 1, "maxItems": max_batch}]}}}}},
    )
    async def post_decisions(request: Request) -> Response:
        eng = _engine()
        body = await request.body()
        key = request.headers.get("idempotency-key")
        body_hash = hashlib.sha256(body).hexdigest()
        if key is not None:
            if not _IDEMPOTENCY_KEY.fullmatch(key):
                return _error(422, [{"loc": ["header", "Idempotency-Key"], "type": "bad_id",
                                     "msg": "give 1 to 128 visible ASCII characters"}])
            answer = await run_in_threadpool(store.idempotent_answer, key)
            if answer is not None:
                return _replay(answer, body_hash)
        is_list = body.lstrip()[:1] == b"["
        try:
            parsed = many.validate_json(body) if is_list else [one.validate_json(body)]
        except ValidationError as exc:
            errs = exc.errors(include_url=False)
            if any(e["type"] == "json_invalid" for e in errs):
                return _error(400, [{"loc": ["body"], "type": "json_invalid",
                                     "msg": "request body is not valid JSON"}])
            return _error(422, pydantic_details(errs, ("body",)))
        if is_list and not 1 <= len(parsed) <= max_batch:
            return _error(422, [{"loc": ["body"], "type": "too_long" if parsed else "too_short",
                                 "msg": f"give 1 to {max_batch} payloads per request"}])
        today = dt.datetime.now(dt.UTC).date()  # the reference date decide_payloads passes
        payloads = [p if p.as_of is not None else p.model_copy(update={"as_of": today})
                    for p in parsed]

        def render(decisions: list[dict[str, Any]], _ids: list[int],
                   register: list[dict[str, Any] | None]) -> bytes:
            out = by_payload(payloads, [{**d, "register": _register_view(r)} for d, r in zip(
                decisions, register, strict=True)])
            return _decision_json(out if is_list else out[0])

        idem = None if key is None else (key, body_hash, render)
        try:  # in a worker thread: a store waiting on a lock never holds the event loop
            decisions, stored = await run_in_threadpool(
                decide_and_store, eng, store, payloads, idempotency=idem)
        except InvalidInputError as exc:
            positions = {p.debtor.debtor_id: i for i, p in enumerate(payloads)}
            return _error(422, problem_details(exc, ("body",), positions if is_list else None,
                                               suppliers=supplier_paths(payloads, is_list)))
        if stored.answer is not None:  # a concurrent request under the same key stored first
            return _replay(stored.answer, body_hash)
        return Response(render(decisions, stored.ids, stored.register), headers={
            **_JSON_HEADERS, "x-decision-id": ",".join(str(i) for i in stored.ids)})

    @v1.post("/invoices/check", tags=["funding"],
             summary="Funding check of an assigned invoice against the pair's current limit",
             responses={404: {"description": "No stored decision on the debtor"},
                        409: {"description": "The debtor is unrated or has no limit"},
                        **error_responses})
    async def check_invoice(req: InvoiceCheckRequest) -> Response:
        return await run_in_threadpool(_check_invoice, req, store, _policy())

    @v1.get("/debtors/{debtor_id:path}/decision", tags=["decisions"],  # ids may hold '/'
            summary="The latest stored decision on a debtor",
            responses={404: {"description": "No decision stored for this debtor"}})
    async def get_decision(
        debtor_id: str = Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN),
        supplier_id: str | None = Query(default=None, min_length=1, max_length=ID_MAX_LENGTH,
                                        pattern=ID_PATTERN),
    ) -> Response:
        found = await run_in_threadpool(store.latest_decision, debtor_id, supplier_id)
        if found is None:
            raise HTTPException(status_code=404, detail="no decision stored for this debtor")
        decision_id = found.pop("decision_id", None)
        return Response(_decision_json(found),
                        headers={**_JSON_HEADERS, "x-decision-id": str(decision_id)})

    @v1.get("/limits/{debtor_id:path}", tags=["limits"],
            summary="The limit register's entries of a debtor (one per supplier)",
            responses={404: {"description": "The register has no entry for this debtor"}})
    async def get_limits(
        debtor_id: str = Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN),
        as_of: Annotated[_IsoDate | None, Query(description="Day; absent: today")] = None,
    ) -> Response:
        day = as_of or dt.datetime.now(dt.UTC).date()
        entries = store.limits_of_debtor(debtor_id, day)
        if not entries:
            raise HTTPException(status_code=404, detail="no limit in the register for this "
                                                        "debtor")
        out = {"debtor_id": debtor_id, "as_of": day.isoformat(), "limits": [
            {"supplier_id": e["supplier_id"], "approved_limit": e["limit"],
             "currency": e["currency"], "effective_date": e["effective_date"],
             "status": e["status"], "source": e["source"], "as_of": e["as_of"],
             "pending": e["pending"]} for e in entries]}
        return Response(_decision_json(out), headers=_JSON_HEADERS)

    @v1.put("/fx-rates", tags=["operations"],
            summary="Store dated exchange rates (the single path's rates when a payload "
                    "gives none)", responses={422: error_responses[422]})
    async def put_fx_rates(req: FxRatesRequest) -> Response:
        base = _policy().book.currency
        today = dt.datetime.now(dt.UTC).date()
        bad = [{"loc": ["body", "rates", i, "rate"], "type": "base_rate_not_one",
                "msg": "the reporting currency's rate is 1"}
               for i, r in enumerate(req.rates) if r.currency == base and r.rate != 1.0]
        bad += [{"loc": ["body", "rates", i, "date"], "type": "future_date",
                 "msg": "date is after the reference date"}
                for i, r in enumerate(req.rates) if r.date > today]
        if bad:
            return _error(422, bad)
        import pandas as pd

        table = pd.DataFrame({"date": pd.to_datetime([r.date for r in req.rates]),
                              "currency": [r.currency for r in req.rates],
                              "rate": [r.rate for r in req.rates]})
        try:
            n = await run_in_threadpool(store.load_fx_rates, table, base=base, source="api",
                                        reference_date=today)
        except InvalidInputError as exc:  # pragma: no cover - the model checks every rule
            return _error(422, problem_details(exc, ("body",)))
        return Response(_decision_json({"stored": n, "currency": base}),
                        headers=_JSON_HEADERS)

    from riskengine.serve.insurer import add_insurer_routes

    add_insurer_routes(v1, store, _engine, _policy)
    app.include_router(v1)
    if ui:
        from riskengine.serve.ui.router import create_ui_router

        app.include_router(create_ui_router(insecure_dev=insecure_dev,
                                            session_secret=ui_session_secret,
                                            login_limits=login_limits))
    _install_openapi(app, DebtorPayload)
    return app


def _check_invoice(req: InvoiceCheckRequest, store: DecisionStore, policy: Any) -> Response:
    from riskengine.policy.funding import fund_invoice

    as_of = req.as_of or dt.datetime.now(dt.UTC).date()  # the decisions' today (UTC)
    registered = store.current_limit(req.supplier_id, req.debtor_id, as_of)
    # the terms of the decision that set the register (a decision of the service, an
    # override, a rerate run), when in force on the check's date; else the latest stored
    # decision in force then (one dated later has not taken effect)
    decision = _register_terms(registered, as_of)
    if decision is None:
        decision = store.latest_decision(req.debtor_id, req.supplier_id, in_force_on=as_of)
    if decision is None:
        decision = store.latest_decision(req.debtor_id, in_force_on=as_of)
    if decision is None:
        raise HTTPException(status_code=404, detail="no decision on this debtor in force on "
                            "as_of: POST /v1/decisions first")
    grade = decision.get("grade")
    if grade is None:
        raise HTTPException(status_code=409, detail="the debtor is unrated: no funding "
                            "against an unrated debtor")
    if registered is not None:
        limit, source = float(registered["limit"]), "limit_register"
    elif decision.get("approved_limit") is not None:
        limit, source = float(decision["approved_limit"]), "latest_decision"
    else:
        raise HTTPException(status_code=409, detail="no approved limit for this pair")
    terms = _decision_terms(decision, policy)
    invoice: dict[str, Any] = {
        "limit": limit, "approved_outstanding": req.approved_outstanding,
        "amount": req.amount, "invoice_date": req.invoice_date.isoformat(),
        "due_date": req.due_date.isoformat(), "as_of": as_of.isoformat(), "grade": str(grade),
        "contras": req.contras, "cross_aged": req.cross_aged, "related": req.related,
        "rating_date": terms["rating_date"],
        **{k: v for k, v in terms.items() if v is not None},
    }
    try:
        result = fund_invoice(policy, **invoice)
    except InvalidInputError as exc:
        return _error(422, problem_details(exc, ("body",), table_in_path=False))
    request_record = req.model_dump(mode="json")
    answer: dict[str, Any] = {
        "supplier_id": req.supplier_id, "debtor_id": req.debtor_id,
        "invoice_id": req.invoice_id, "as_of": as_of.isoformat(), "grade": str(grade),
        "product": terms["product"], "supplier_grade": terms["supplier_grade"],
        "rating_date": terms["rating_date"], "limit": limit, "limit_source": source,
        "limit_status": None if registered is None else registered["status"],
        "approved_outstanding": req.approved_outstanding,
        **dataclasses.asdict(result),
        "policy_version": str(getattr(policy, "version", "")),
        "decision_id": decision.get("decision_id"),
    }
    answer["reasons"] = list(result.reasons)
    check_id = store.record_funding_check(
        supplier_id=req.supplier_id, debtor_id=req.debtor_id, invoice_id=req.invoice_id,
        request=request_record, result=answer, limit_used=limit, limit_source=source,
        approved_outstanding=req.approved_outstanding, as_of=as_of,
        decision_id=answer["decision_id"], model_version=_opt_str(decision.get("model_version")),
        policy_version=answer["policy_version"], input_hash=_input_hash(request_record))
    answer["check_id"] = check_id
    return Response(_decision_json(answer), headers=_JSON_HEADERS)


def _register_terms(registered: Mapping[str, Any] | None, day: dt.date
                    ) -> dict[str, Any] | None:
    """The funding terms the register row keeps of the decision that set it, when that
    decision is in force on ``day`` (not dated after it), else None."""
    terms = None if registered is None else registered.get("terms")
    if not terms or not terms.get("as_of") or terms["as_of"] > day.isoformat():
        return None
    return dict(terms)


def _decision_terms(decision: Mapping[str, Any], policy: Any) -> dict[str, Any]:
    """The funding terms a stored decision fixes: product, supplier grade, advance rate
    (its dilution included) and the rating's date (``as_of``, else the day of
    ``decided_at``; unknown: None, a stale rating). A decision without a supplier
    grade leaves the debtor's grade pricing (the engine's rule for a supplier not
    rated)."""
    rated = decision.get("as_of") or str(decision.get("decided_at") or "")[:10] or None
    return {"product": decision.get("product") or policy.product_names[0],
            "supplier_grade": _opt_str(decision.get("supplier_grade")),
            "advance_rate": decision.get("advance_rate"), "rating_date": rated}


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _lifespan(loader: Callable[[], Any]) -> Callable[[FastAPI], Any]:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        def load() -> None:
            try:
                app.state.engine = loader()
                log.info("engine loaded: %s", getattr(app.state.engine, "versions", "?"))
            except Exception as exc:  # the service stays up and /ready says failed
                app.state.engine_error = exc
                log.error("engine failed to load: %s", exc)

        threading.Thread(target=load, name="riskengine-engine-loader", daemon=True).start()
        yield

    return lifespan


def _install_openapi(app: FastAPI, payload_model: type[BaseModel]) -> None:
    """Add the payload's JSON Schema to the OpenAPI components (the body is parsed by hand)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        model = payload_model.model_json_schema(ref_template="#/components/schemas/{model}")
        defs = model.pop("$defs", {})
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs)
        components["DebtorPayload"] = model
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


# --- running it --------------------------------------------------------------------------


def serve(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, *,
          access_log: bool = True, log_level: str = "info") -> None:
    """Run ``app`` on uvicorn: one worker, HTTP keep-alive (blocks until stopped)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, workers=1, timeout_keep_alive=30,
                access_log=access_log, log_level=log_level, server_header=False)


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def serve_command(args: argparse.Namespace) -> int:
    """``riskengine serve``: the HTTP service (blocks until stopped).

    Parameters
    ----------
    args : argparse.Namespace
        ``host``, ``port``, ``insecure_dev`` (bool), ``token_file`` (path or
        None), ``store_url`` (SQLAlchemy URL or None: ``$RISKENGINE_STORE_URL``
        or ``./riskengine.db``), ``model_dir`` (or None: the shipped model) and
        ``factor_capital`` (or None: the policy's ``book.factor_capital``).

    Returns
    -------
    int
        0 after a clean shutdown.

    Raises
    ------
    RiskEngineError
        No API token and no ``--insecure-dev``; ``--insecure-dev`` on a
        non-loopback host; a bad token or token file.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    insecure = bool(getattr(args, "insecure_dev", False))
    tokens = load_tokens(getattr(args, "token_file", None))
    if insecure:
        if args.host not in _LOOPBACK:
            raise RiskEngineError(
                f"--insecure-dev serves without authentication and binds to loopback only; "
                f"got --host {args.host}. Drop --insecure-dev and set RISKENGINE_API_TOKEN.")
        log.warning("*** INSECURE DEV MODE: /v1 routes are served WITHOUT AUTHENTICATION "
                    "(--insecure-dev). Never use this in production. ***")
    elif not tokens:
        raise RiskEngineError(
            "no API token configured: set RISKENGINE_API_TOKEN (comma-separated) or give "
            "--token-file; there is no default token. (--insecure-dev runs without "
            "authentication, for development on loopback only.)")
    store = DecisionStore(getattr(args, "store_url", None))
    log.info("decision store: %s", store.engine.url.render_as_string(hide_password=True))
    model_dir = getattr(args, "model_dir", None)
    capital = getattr(args, "factor_capital", None)
    if capital is not None and not capital >= 0:  # NaN too
        raise RiskEngineError(f"--factor-capital must be an amount >= 0, got {capital}.")

    def loader() -> Any:
        from riskengine.api import load_engine

        engine = load_engine(model_dir=model_dir, factor_capital=capital)
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(1)
        except ImportError:  # pragma: no cover - comes with scikit-learn
            pass
        # the engine's objects live as long as the process: move them out of the
        # cyclic garbage collector's generations, so collections stay short on the
        # request path (about -10 % single-debtor p50, measured in process)
        import gc

        gc.collect()
        gc.freeze()
        return engine

    app = create_app(None, store, None if insecure else tokens, insecure_dev=insecure,
                     engine_loader=loader)
    try:
        serve(app, args.host, int(args.port))
    finally:
        store.close()
    return 0
