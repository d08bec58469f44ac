"""The HTTP service for funding systems: FastAPI on uvicorn (shell layer).

Routes (see docs/SERVICE.md)::

    POST /v1/decisions                 one payload (examples/debtor.json) -> one decision,
                                       a JSON array of payloads -> a list of decisions
    POST /v1/invoices/check            funding check of an assigned invoice
    GET  /v1/debtors/{debtor_id}/decision   the latest stored decision (404 if none)
    GET  /v1/insurer-requests          what to ask the insurer for (riskengine.serve.insurer)
    GET  /v1/alerts                    the desk's alerts, newest first (riskengine.serve.lists)
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
import datetime as dt
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
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
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskengine.contracts.dates import field_date
from riskengine.contracts.ids import ID_MAX_LENGTH, ID_PATTERN
from riskengine.contracts.payload import FxRate
from riskengine.errors import InvalidInputError, RiskEngineError
from riskengine.serve.common import (
    decide_and_store,
    problem_details,
    pydantic_details,
    response_json,
    supplier_paths,
)
from riskengine.serve.problems import (
    BodySizeLimit,
    RequestContext,
    instance_of,
    problem,
    problem_responses,
)
from riskengine.serve.security import TokenSet, load_tokens
from riskengine.store import DecisionStore, jsonable
from riskengine.store.idempotency import IdempotentAnswer

__all__ = [
    "API_VERSION",
    "ROUTE_SCOPES",
    "InvoiceCheckRequest",
    "FxRatesRequest",
    "BodySizeLimit",
    "create_app",
    "serve",
    "serve_command",
]

API_VERSION = "1.0"
"""Version of the HTTP API (the OpenAPI document's ``info.version``)."""

log = logging.getLogger("riskengine.serve.api")

_JSON_HEADERS = {"content-type": "application/json"}


def _error(status: int, details: list[dict[str, Any]], instance: str = "") -> Response:
    return problem(status, details, instance=instance)


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


# --- response models (the OpenAPI document's; the answers are written as bytes) ------


class Health(BaseModel):
    """The process is up."""

    status: str


class Ready(BaseModel):
    """Whether the engine is loaded: ``ready`` (with the versions), ``loading``,
    ``retrying`` or ``failed``."""

    model_config = ConfigDict(extra="allow")

    status: str


class RegisterLimit(BaseModel):
    """A pair's entry in the limit register."""

    supplier_id: str
    approved_limit: float
    currency: str | None
    effective_date: str | None
    status: str | None
    source: str | None
    as_of: str | None
    pending: dict[str, Any] | None


class LimitsAnswer(BaseModel):
    """The register's entries of a debtor on a day."""

    debtor_id: str
    as_of: str
    limits: list[RegisterLimit]


class FxStored(BaseModel):
    """Rates stored, in the policy's reporting currency."""

    stored: int
    currency: str


# --- the app ---------------------------------------------------------------------------


ROUTE_SCOPES: dict[tuple[str, str], str] = {
    ("POST", "/v1/decisions"): "decide",
    ("GET", "/v1/decisions"): "read",
    ("GET", "/v1/decisions/{decision_id}"): "read",
    ("GET", "/v1/limit-actions"): "read",
    ("GET", "/v1/alerts"): "read",
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
    return response_json(value)  # money in cents, NaN as null


_IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,128}")


def _replay(answer: IdempotentAnswer, body_hash: str) -> Response:
    """The first answer under an Idempotency-Key, or 422 when the key came with another body."""
    if answer.request_hash != body_hash:
        return _error(422, [{"loc": ["header", "Idempotency-Key"], "type": "idempotency_key_reused",
                             "msg": "this key was used with another request body; use a new "
                                    "key for a new request"}], "/v1/decisions")
    return Response(answer.response, status_code=201, headers={
        **_created(answer.decision_ids), "idempotent-replayed": "true"})


def _created(ids: Sequence[int]) -> dict[str, str]:
    """Headers of stored decisions: ``Location`` of the first, ``X-Decision-ID`` of all."""
    out = {**_JSON_HEADERS, "x-decision-id": ",".join(str(i) for i in ids)}
    if ids:
        out["location"] = f"/v1/decisions/{ids[0]}"
    return out


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
               login_limits: Any = None,
               load_retries: Sequence[float] = (5.0, 30.0)) -> FastAPI:
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
    load_retries : sequence of float
        Seconds before each new attempt when ``engine_loader`` fails (bounded: after
        the last, ``/ready`` says ``failed`` and 503s carry no ``Retry-After``).

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
    app.state.engine_retry_at = None
    app.state.load_retries = tuple(float(x) for x in load_retries)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestContext)  # outermost: request id, log line, 500 and 503

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _error(422, pydantic_details(exc.errors(), ()), instance_of(request.scope))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        items: list[Any] = exc.detail if isinstance(exc.detail, list) else []
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem(exc.status_code, items, detail=detail,
                       instance=instance_of(request.scope), headers=exc.headers)

    def _engine() -> Any:
        eng = app.state.engine
        if eng is None:
            raise HTTPException(status_code=503, detail=_engine_state(app)[1],
                                headers=_retry_after(app))
        return eng

    def _policy() -> Any:
        if app.state.policy is None:
            pol = getattr(app.state.engine, "policy", None)
            if pol is None:
                from riskengine.config import load_policy
                pol = load_policy()
            app.state.policy = pol
        return app.state.policy

    @app.get("/health", tags=["operations"], summary="The process is up",
             operation_id="getHealth", response_model=Health)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], summary="The engine is loaded",
             operation_id="getReady", responses={
                 200: {"model": Ready},
                 503: {"model": Ready, "description": "Engine loading, retrying or failed; "
                                                      "Retry-After while an attempt is due"}})
    async def ready() -> JSONResponse:
        eng = app.state.engine
        if eng is None:
            return JSONResponse({"status": _engine_state(app)[0]}, status_code=503,
                                headers=_retry_after(app))
        versions = getattr(eng, "versions", None)
        if not isinstance(versions, Mapping):
            versions = {"model_version": getattr(eng, "model_version", None)}
        return JSONResponse({"status": "ready", **{k: str(v) for k, v in versions.items()}})

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(auth)],
                   responses=problem_responses(401, 403, 500))

    payload_ref = {"$ref": "#/components/schemas/DebtorPayload"}
    error_responses = problem_responses(400, 413, 422, 503)

    @v1.post(
        "/decisions", tags=["decisions"], summary="Decide one debtor (object) or many (array)",
        operation_id="createDecisions", status_code=201,
        responses={201: {"description": "Stored (Location: the first decision). As the request: a payload with exposure gets its "
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
                                     "msg": "give 1 to 128 visible ASCII characters"}],
                              "/v1/decisions")
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
                                     "msg": "request body is not valid JSON"}],
                              "/v1/decisions")
            return _error(422, pydantic_details(errs, ("body",)), "/v1/decisions")
        if is_list and not 1 <= len(parsed) <= max_batch:
            return _error(422, [{"loc": ["body"], "type": "too_long" if parsed else "too_short",
                                 "msg": f"give 1 to {max_batch} payloads per request"}],
                          "/v1/decisions")
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
                                               suppliers=supplier_paths(payloads, is_list),
                                               payloads=payloads),
                          "/v1/decisions")
        if stored.answer is not None:  # a concurrent request under the same key stored first
            return _replay(stored.answer, body_hash)
        return Response(render(decisions, stored.ids, stored.register), status_code=201,
                        headers=_created(stored.ids))

    @v1.post("/invoices/check", tags=["funding"],
             summary="Funding check of an assigned invoice against the pair's current limit",
             operation_id="checkInvoice",
             responses={**error_responses, **problem_responses(404, 409)})
    async def check_invoice(req: InvoiceCheckRequest) -> Response:
        from riskengine.serve.funding import check_invoice as check

        return await run_in_threadpool(check, req, store, _policy())

    @v1.get("/debtors/{debtor_id:path}/decision", tags=["decisions"],  # ids may hold '/'
            summary="The latest stored decision on a debtor", operation_id="getLatestDecision",
            responses=problem_responses(404, 422))
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
            operation_id="getLimits",
            responses={200: {"model": LimitsAnswer}, **problem_responses(404, 422)})
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
                    "gives none)", operation_id="putFxRates",
            responses={200: {"model": FxStored}, **problem_responses(422)})
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
            return _error(422, bad, "/v1/fx-rates")
        import pandas as pd

        table = pd.DataFrame({"date": pd.to_datetime([r.date for r in req.rates]),
                              "currency": [r.currency for r in req.rates],
                              "rate": [r.rate for r in req.rates]})
        try:
            n = await run_in_threadpool(store.load_fx_rates, table, base=base, source="api",
                                        reference_date=today)
        except InvalidInputError as exc:  # pragma: no cover - the model checks every rule
            return _error(422, problem_details(exc, ("body",)), "/v1/fx-rates")
        return Response(_decision_json({"stored": n, "currency": base}),
                        headers=_JSON_HEADERS)

    from riskengine.serve.insurer import add_insurer_routes
    from riskengine.serve.lists import add_list_routes

    add_insurer_routes(v1, store, _engine, _policy)
    add_list_routes(v1, store)
    app.include_router(v1)
    if ui:
        from riskengine.serve.ui.router import create_ui_router

        app.include_router(create_ui_router(insecure_dev=insecure_dev,
                                            session_secret=ui_session_secret,
                                            login_limits=login_limits))
    _install_openapi(app, DebtorPayload)
    return app


def _engine_state(app: FastAPI) -> tuple[str, str]:
    """The engine's state while it is not loaded (``loading``, ``retrying``, ``failed``) and
    the problem's detail."""
    if app.state.engine_error is None:
        return "loading", "the engine is loading; retry shortly"
    if app.state.engine_retry_at is not None:
        return "retrying", "the engine failed to load and is tried again; retry later"
    return "failed", ("the engine failed to load; see the service log (restart the "
                      "service with a working model)")


_LOADING_RETRY_AFTER = 2
"""Seconds a client waits while the engine loads (a load takes a few seconds)."""


def _retry_after(app: FastAPI) -> dict[str, str]:
    """``Retry-After`` while the engine loads or a new attempt is due; none once every
    attempt failed (a client must not retry forever against a service without a model)."""
    if app.state.engine_error is None:
        return {"Retry-After": str(_LOADING_RETRY_AFTER)}
    at = app.state.engine_retry_at
    if at is None:
        return {}
    import time

    return {"Retry-After": str(max(1, int(at - time.monotonic() + 0.999)))}


def _lifespan(loader: Callable[[], Any]) -> Callable[[FastAPI], Any]:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        def load() -> None:
            import time

            delays = list(app.state.load_retries)
            while True:
                try:
                    app.state.engine = loader()
                    app.state.engine_retry_at = None
                    log.info("engine loaded: %s", getattr(app.state.engine, "versions", "?"))
                    return
                except Exception as exc:  # the service stays up and /ready says so
                    app.state.engine_error = exc
                    if not delays:
                        app.state.engine_retry_at = None
                        log.error("engine failed to load (no attempt left): %s", exc)
                        return
                    delay = delays.pop(0)
                    app.state.engine_retry_at = time.monotonic() + delay
                    log.error("engine failed to load: %s; next attempt in %.0f s", exc, delay)
                    time.sleep(delay)

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
          access_log: bool = False, log_level: str = "info",
          own_logging: bool = False) -> None:
    """Run ``app`` on uvicorn: one worker, HTTP keep-alive (blocks until stopped).

    The app logs one JSON line per request itself (:class:`RequestContext`); uvicorn's
    access log is off by default. ``own_logging``: leave logging as the caller set it up
    (``riskengine serve``: JSON lines on standard error), uvicorn's records included."""
    import uvicorn

    kw: dict[str, Any] = {"log_config": None} if own_logging else {}
    uvicorn.run(app, host=host, port=port, workers=1, timeout_keep_alive=30,
                access_log=access_log, log_level=log_level, server_header=False, **kw)


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def json_logging(level: int = logging.INFO) -> None:
    """Log JSON lines on standard error (:class:`~riskengine.serve.problems.JsonFormatter`):
    the service's own lines, uvicorn's and the request log."""
    from riskengine.serve.problems import JsonFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


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
    json_logging()
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
        serve(app, args.host, int(args.port), own_logging=True)
    finally:
        store.close()
    return 0
