"""Errors as ``application/problem+json`` (RFC 9457), request ids and the request log (shell).

Every error of the HTTP API has one shape, whatever its status (400, 401, 403, 404, 405,
409, 413, 422, 429, 500, 503)::

    {"type": "urn:riskengine:problem:invalid-input", "title": "Invalid input",
     "status": 422, "detail": "1 problem in the request; see errors",
     "instance": "/v1/decisions", "request_id": "…",
     "errors": [{"loc": ["body", "statements", 0, "revenue"], "type": "identity_broken",
                 "msg": "accounting identity broken", "record": "statements[0]"}]}

``errors`` names each problem's place (``loc``), its reason (``type``), a sentence
without any submitted value (``msg``) and, where the problem is in one record of the
payload (a statement, an adverse record, an exposure), that record (``record``). No
member ever holds a value the client sent.

:class:`RequestContext` is the app's outermost middleware (pure ASGI, a few
microseconds a request): it takes the request id from ``X-Request-ID`` (1 to 128
visible ASCII characters; otherwise a new one) and returns it in the same header,
writes one JSON log line per request (``riskengine.serve.access``: request id, method,
route, status, duration), answers an unexpected exception with a 500 problem that
closes the connection (``Connection: close``: the client opens a fresh one), and a
store that cannot be read or written (read-only, full, gone) with a 503 problem and one
logged line, never a traceback.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BodySizeLimit", "PROBLEM_MEDIA_TYPE", "Problem", "ProblemItem", "RequestContext",
           "JsonFormatter", "instance_of", "problem", "problem_bytes", "problem_responses", "store_failure"]

PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("riskengine.serve.api")
access_log = logging.getLogger("riskengine.serve.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# status -> (type slug, title): the problem types of the API (URNs: no page behind them)
_KINDS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Malformed request"),
    401: ("unauthenticated", "Missing or invalid credentials"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict with the stored state"),
    413: ("body-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-input", "Invalid input"),
    429: ("too-many-requests", "Too many requests"),
    500: ("internal-error", "Internal error"),
    503: ("unavailable", "Service unavailable"),
}


class ProblemItem(BaseModel):
    """One problem of a request: where, why, in which record; never a submitted value."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str | int] = Field(description="Path of the field: body/query/path/header, "
                                             "then keys and positions")
    type: str = Field(description="Reason code, e.g. missing_column, identity_broken")
    msg: str = Field(description="The reason in words, without any submitted value")
    record: str | None = Field(default=None, description="The record the problem is in, "
                                                         "e.g. statements[1]")


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details, ``application/problem+json``)."""

    type: str = Field(description="URI of the problem type (urn:riskengine:problem:…)")
    title: str
    status: int
    detail: str = Field(description="This occurrence in words, without submitted values")
    instance: str = Field(description="The route's template (never a submitted value), "
                                      "else urn:riskengine:request:<request id>")
    request_id: str | None = Field(default=None, description="As in X-Request-ID")
    errors: list[ProblemItem] = Field(default_factory=list)


def problem_bytes(status: int, *, detail: str | None = None,
                  errors: Sequence[Mapping[str, Any]] = (), instance: str = "",
                  kind: str | None = None, title: str | None = None,
                  request_id: str | None = None) -> bytes:
    """The body of a problem answer."""
    slug, default_title = _KINDS.get(status, ("error", "Error"))
    items = [_item(e) for e in errors]
    if detail is None:
        detail = (f"{len(items)} problem{'s' if len(items) != 1 else ''} in the request; "
                  "see errors") if items else default_title
    body: dict[str, Any] = {"type": f"urn:riskengine:problem:{kind or slug}",
                            "title": title or default_title, "status": int(status),
                            "detail": detail, "instance": instance}
    if request_id is not None:
        body["request_id"] = request_id
    body["errors"] = items
    return json.dumps(body, separators=(",", ":")).encode()


def _item(e: Mapping[str, Any]) -> dict[str, Any]:
    item = {"loc": list(e.get("loc", ())), "type": str(e.get("type", "invalid")),
            "msg": str(e.get("msg", ""))}
    record = e.get("record") or _record_of(item["loc"])
    if record:
        item["record"] = record
    return item


_RECORDS = ("statements", "adverse_records", "invoices", "exposures", "insurer_limits",
            "fx_rates", "rates", "payments")


def _record_of(loc: Sequence[Any]) -> str | None:
    """The record a location is in (``statements[0]``, ``[2].exposures[1]``), or None."""
    for i, part in enumerate(loc):
        if part in _RECORDS and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            head = "".join(f"[{p}]" for p in loc[:i] if isinstance(p, int))
            return f"{head}{'.' if head else ''}{part}[{loc[i + 1]}]"
    return None


def instance_of(scope: Mapping[str, Any]) -> str:
    """The problem's ``instance``, never holding a submitted value: the matched route's
    template (``/v1/debtors/{debtor_id}/decision``), else the request's id as a URN."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(path).replace(":path}", "}")
    rid = (scope.get("state") or {}).get("request_id", "")
    return f"urn:riskengine:request:{rid}"


def problem(status: int, errors: Sequence[Mapping[str, Any]] = (), *,
            detail: str | None = None, instance: str = "", kind: str | None = None,
            headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A problem answer (``application/problem+json``) with the request's id."""
    body = problem_bytes(status, detail=detail, errors=errors, instance=instance, kind=kind,
                         request_id=_CURRENT_ID.get())
    return _ProblemResponse(body, status_code=status, headers=dict(headers or {}))


class _ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries of these statuses, each a :class:`Problem`."""
    return {s: {"model": Problem, "description": _KINDS.get(s, ("", "Error"))[1],
                "content": {PROBLEM_MEDIA_TYPE: {
                    "schema": {"$ref": "#/components/schemas/Problem"}}}} for s in statuses}


_STORE_ERRORS: tuple[type[BaseException], ...] = ()


def store_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the database failing (read-only, full, gone, locked out), not a bug."""
    global _STORE_ERRORS
    if not _STORE_ERRORS:
        import sqlalchemy.exc as sa_exc

        _STORE_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError,
                         sa_exc.DisconnectionError)
    return isinstance(exc, _STORE_ERRORS)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else ''}"


_REQUEST_ID = re.compile(rb"[!-~]{1,128}")
_CURRENT_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "riskengine_request_id", default=None)
"""The request id of the request being answered (set by :class:`RequestContext`; the
endpoints and their worker threads see it)."""


class RequestContext:
    """The outermost middleware of the app (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = b""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                rid = value
                break
        if not _REQUEST_ID.fullmatch(rid):
            rid = uuid.uuid4().hex.encode()
        request_id = rid.decode()
        scope.setdefault("state", {})["request_id"] = request_id
        token = _CURRENT_ID.set(request_id)
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if status:  # the answer has started: nothing more can be said on this connection
                raise
            if store_failure(exc):
                log.error("request %s: the store failed: %s", request_id, _first_line(exc))
                status = 503
                body = problem_bytes(503, kind="store-unavailable",
                                     detail="the decision store cannot be read or written; "
                                            "see the service log", instance=instance_of(scope),
                                     request_id=request_id)
                extra = [(b"retry-after", b"30")]
            else:
                log.error("request %s: unexpected error %s", request_id, type(exc).__name__,
                          exc_info=exc)
                status = 500
                body = problem_bytes(500, detail="internal error; see the service log",
                                     instance=instance_of(scope), request_id=request_id)
                extra = []
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
                (b"x-request-id", rid), *extra]})
            await send({"type": "http.response.body", "body": body})
        finally:
            _CURRENT_ID.reset(token)
            if access_log.isEnabledFor(logging.INFO):
                route = scope.get("route")
                access_log.info("request", extra={"fields": {
                    "request_id": request_id, "method": scope.get("method"),
                    "route": getattr(route, "path", None) or "(unmatched)",
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000.0, 3)}})


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
                    await _send_error(send, 400, "bad_request", "Content-Length is not a number.",
                                      instance_of(scope))
                    return
                if declared > self.max_bytes:
                    await self._reject(send, instance_of(scope))
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
                await self._reject(send, instance_of(scope))

    async def _reject(self, send: Send, path: str) -> None:
        await _send_error(send, 413, "body_too_large",
                          f"Request body larger than {self.max_bytes} bytes; send fewer "
                          "payloads per request.", path)


async def _send_error(send: Send, status: int, kind: str, msg: str, path: str = "") -> None:
    body = problem_bytes(status, errors=[{"loc": ["body"], "type": kind, "msg": msg}],
                         detail=msg, instance=path, request_id=_CURRENT_ID.get())
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: time (RFC 3339, UTC), level, logger, message and the
    record's ``fields`` (the request log's)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name,
            "message": record.getMessage()}
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)
