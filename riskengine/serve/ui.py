"""The credit officer's web pages, served by ``riskengine serve`` under ``/ui`` (shell layer).

Server-rendered HTML (jinja2 templates ``riskengine/templates/ui_*.html.j2``,
autoescaped), one local stylesheet, no JavaScript, nothing from another host.

Pages
-----
``GET  /ui/login``                the officer gives an API token and their name
``GET  /ui/search?q=``            debtors among the stored decisions, by id or name
``GET  /ui/debtor?id=``           latest decision, override form, overrides, audit trail, memo
``GET  /ui/debtor/memo?id=``      the one-page decision memo (framed by the debtor page)
``POST /ui/debtor/override``      record an override of grade and/or limit
``GET  /ui/score``, ``POST``      score a new debtor: a JSON payload file, or a form
``GET  /ui/portfolio``            grade distribution, migrations, concentrations, expected loss
``GET  /ui/reports/overrides``    the override report of a period
``POST /ui/logout``

Security
--------
- The login takes an API token of the service (the same :class:`TokenSet` as
  ``/v1``) and the officer's name. On success the browser gets a **signed
  session cookie** (HMAC-SHA256 with a per-process random key unless
  ``session_secret`` is given) holding the officer's name, a CSRF token, the
  issue time and a key id derived from the token: ``HttpOnly``,
  ``SameSite=Strict``, ``Path=/ui``, ``Secure`` over HTTPS. The token itself is
  never stored in the cookie nor put in a URL. Sessions last
  :data:`SESSION_MAX_AGE_S`; a restart (new key) or removing the token ends them.
- Every page except the login and the stylesheet needs a valid session (else
  a redirect to the login). Every POST form carries the session's CSRF token
  (the login form a signed one-time nonce) and a cross-origin ``Origin`` is refused.
- Pages are sent with a strict Content-Security-Policy (no script at all),
  ``X-Frame-Options``, ``no-store`` caching and a same-origin referrer policy.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email import policy as email_policy
from email.parser import BytesParser
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote

import jinja2
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from riskengine.contracts.dates import parse_date
from riskengine.contracts.ids import ID_RULE, is_identifier
from riskengine.errors import InvalidInputError, RiskEngineError
from riskengine.serve.security import TokenSet
from riskengine.store import DecisionStore

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE_S",
    "FormData",
    "SessionSigner",
    "UiSession",
    "create_ui_router",
    "decision_runs",
    "parse_form",
    "payload_from_form",
    "search_debtors",
]

UI_PREFIX = "/ui"
SESSION_COOKIE = "riskengine_session"
"""Name of the session cookie (signed; ``HttpOnly``, ``SameSite=Strict``, ``Path=/ui``)."""
LOGIN_COOKIE = "riskengine_login"
"""Name of the login form's nonce cookie (signed, ten minutes)."""
SESSION_MAX_AGE_S = 8 * 3600
"""Lifetime of a session, seconds (a working day)."""
_LOGIN_MAX_AGE_S = 600
_OFFICER_MAX = 80
_REASON_MAX = 500
_MAX_COOKIE = 4096

_PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
             "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_MEMO_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
             "form-action 'none'; frame-ancestors 'self'; base-uri 'none'")
_STATIC = {"ui.css": "text/css; charset=utf-8"}


# --- signed sessions -------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and checks small JSON documents for cookies (HMAC-SHA256, with expiry).

    Parameters
    ----------
    secret : bytes
        The signing key (at least 16 bytes).
    max_age_s : int
        Documents older than this (their ``iat``) are refused.

    Examples
    --------
    >>> s = SessionSigner(b"k" * 32)
    >>> text = s.sign("session", {"officer": "A. Papadopoulou", "iat": 1000})
    >>> s.unsign("session", text, now=1001)["officer"]
    'A. Papadopoulou'
    >>> s.unsign("login", text, now=1001) is None  # another purpose
    True
    >>> s.unsign("session", text[:-2] + "xx", now=1001) is None  # tampered
    True
    """

    def __init__(self, secret: bytes, max_age_s: int = SESSION_MAX_AGE_S) -> None:
        if len(secret) < 16:
            raise RiskEngineError("the session secret must be at least 16 bytes long; "
                                  "use secrets.token_bytes(32).")
        self._key = hashlib.sha256(b"riskengine-ui|" + secret).digest()
        self.max_age_s = int(max_age_s)

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}|{body}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, data: Mapping[str, Any]) -> str:
        """``data`` (JSON-able, with an integer ``iat``) as ``body.mac`` (URL-safe base64)."""
        body = _b64(json.dumps(dict(data), sort_keys=True, separators=(",", ":")).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def unsign(self, purpose: str, text: str | None, *, now: float,
               max_age_s: int | None = None) -> dict[str, Any] | None:
        """The signed document, or None if missing, tampered, of another purpose or expired."""
        if not text or len(text) > _MAX_COOKIE or text.count(".") != 1:
            return None
        body, mac = text.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(purpose, body).encode()):
            return None
        try:
            data = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        iat = data.get("iat")
        age = self.max_age_s if max_age_s is None else max_age_s
        if not isinstance(iat, int) or not -60 <= now - iat <= age:
            return None
        return data

    def key_id(self, token: str) -> str:
        """A short id of an API token (not reversible), to end sessions of removed tokens."""
        return _b64(hmac.new(self._key, b"token|" + token.encode("utf-8", "surrogatepass"),
                             hashlib.sha256).digest()[:12])


@dataclass(frozen=True, slots=True)
class UiSession:
    """A logged-in officer: the name recorded with overrides, and the session's CSRF token."""

    officer: str
    csrf: str
    issued_at: int
    key_id: str


# --- forms -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FormData:
    """Fields (first value of each name) and uploaded files (name -> (filename, bytes))."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        """The field's value stripped of surrounding blanks (``default`` when absent)."""
        return self.fields.get(name, default).strip()


def parse_form(content_type: str, body: bytes) -> FormData:
    """Parse an HTML form body: ``application/x-www-form-urlencoded`` or ``multipart/form-data``.

    Parameters
    ----------
    content_type : str
        The request's ``Content-Type`` header.
    body : bytes
        The request body (already size-limited by the service).

    Returns
    -------
    FormData

    Raises
    ------
    ValueError
        The body is not UTF-8 text where text is expected, or the content type is
        neither of the two.

    Examples
    --------
    >>> parse_form("application/x-www-form-urlencoded", b"q=GR-D%2A&x=1&x=2").fields
    {'q': 'GR-D*', 'x': '1'}
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    out = FormData()
    if kind == "application/x-www-form-urlencoded":
        text = body.decode("utf-8")
        for k, v in parse_qsl(text, keep_blank_values=True, max_num_fields=200):
            out.fields.setdefault(k, v)
        return out
    if kind == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
        msg = BytesParser(policy=email_policy.HTTP).parsebytes(head + body)
        if not msg.is_multipart():
            raise ValueError("multipart body without parts")
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            data = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                out.files.setdefault(name, (str(filename), bytes(data)))
            else:
                out.fields.setdefault(name, bytes(data).decode("utf-8"))
        return out
    raise ValueError(f"unsupported form content type {kind!r}")


# Key fields of the score form -> payload path; numbers are parsed as floats.
_FORM_TEXT = {
    "debtor_id": ("debtor", "debtor_id"), "name": ("debtor", "name"),
    "country": ("debtor", "country"), "nace": ("debtor", "nace"),
    "legal_form": ("debtor", "legal_form"), "tax_id": ("debtor", "tax_id"),
    "supplier_id": ("exposure", "supplier_id"), "currency": ("exposure", "currency"),
    "product": ("exposure", "product"),
    "supplier_name": ("exposure", "supplier", "name"),
    "supplier_country": ("exposure", "supplier", "country"),
    "supplier_nace": ("exposure", "supplier", "nace"),
    "as_of": ("as_of",),
}
_FORM_MONEY = {
    "requested_limit": ("exposure", "requested_limit"),
    "approved_outstanding": ("exposure", "approved_outstanding"),
    "supplier_ledger_total": ("exposure", "supplier", "ledger_total"),
}
STATEMENT_FIELDS: tuple[str, ...] = (
    "revenue", "ebitda", "ebit", "net_income", "interest_expense", "cash", "receivables",
    "current_assets", "total_assets", "current_liabilities", "total_liabilities", "equity")
"""Statement items of the score form (one statement, the latest)."""


def payload_from_form(form: FormData) -> tuple[dict[str, Any], list[str]]:
    """A debtor payload (the form of ``examples/debtor.json``) from the score form's key fields.

    Blank fields are left out (the payload's own validation says what is
    required). The statement's currency is the exposure's.

    Returns
    -------
    (dict, list of str)
        The payload, and problems with fields that are not numbers (named by
        their label, never echoing the value).

    Examples
    --------
    >>> p, bad = payload_from_form(FormData(fields={"debtor_id": "D-1", "revenue": "1,200",
    ...                                             "period_end": "2025-12-31", "ebitda": "x"}))
    >>> p["debtor"]["debtor_id"], p["statements"][0]["revenue"], bad
    ('D-1', 1200.0, ['statement ebitda: not a number'])
    """
    payload: dict[str, Any] = {"debtor": {}, "exposure": {"supplier": {}}}
    problems: list[str] = []

    def put(path: Sequence[str], value: Any) -> None:
        node = payload
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    def number(name: str, label: str) -> float | None:
        text = form.get(name).replace(",", "").replace(" ", "")
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            problems.append(f"{label}: not a number")
            return None
        if not math.isfinite(value):
            problems.append(f"{label}: not a finite number")
            return None
        return value

    for name, path in _FORM_TEXT.items():
        if form.get(name):
            put(path, form.get(name))
    for name, path in _FORM_MONEY.items():
        value = number(name, name.replace("_", " "))
        if value is not None:
            put(path, value)
    statement: dict[str, Any] = {}
    for name in STATEMENT_FIELDS:
        value = number(name, f"statement {name}")
        if value is not None:
            statement[name] = value
    if statement or form.get("period_end"):
        statement["period_end"] = form.get("period_end")
        statement["statement_type"] = form.get("statement_type") or "audited"
        statement["currency"] = form.get("currency") or "EUR"
        payload["statements"] = [statement]
    return payload, problems


# --- formatting --------------------------------------------------------------------------


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, (bool, jinja2.Undefined)):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def fmt_money(value: Any, currency: Any = None) -> str:
    """``350,000 EUR`` (cents below 1,000); ``—`` for no number.

    Examples
    --------
    >>> fmt_money(350000.0, "EUR"), fmt_money(295.4), fmt_money(None)
    ('350,000 EUR', '295.40', '—')
    """
    v = _finite(value)
    if v is None:
        return "—"
    text = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.2f}"
    return f"{text} {currency}" if currency else text


def fmt_pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage: ``fmt_pct(0.0211) == '2.11 %'``; ``—`` for no number."""
    v = _finite(value)
    return "—" if v is None else f"{100 * v:.{digits}f} %"


def fmt_num(value: Any, digits: int = 2) -> str:
    """A number with ``digits`` decimals and thousands separators; ``—`` for no number."""
    v = _finite(value)
    return "—" if v is None else f"{v:,.{digits}f}"


def fmt_time(value: Any) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM UTC`` (dates and other text unchanged)."""
    if value is None or isinstance(value, jinja2.Undefined):
        return "—"
    text = str(value)
    m = re.match(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})", text)
    return f"{m.group(1)} {m.group(2)} UTC" if m else text


def _words(code: Any) -> str:
    return str(code).replace("_", " ")


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("riskengine", "templates"),
        autoescape=True, undefined=jinja2.ChainableUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(money=fmt_money, pct=fmt_pct, num=fmt_num, when=fmt_time, words=_words)
    return env


# --- the store, read for pages --------------------------------------------------------------


def _grades() -> tuple[str, ...]:
    from riskengine.model.master_scale import GRADES

    return tuple(GRADES)


def search_debtors(store: DecisionStore, query: str, *, limit: int = 50
                   ) -> list[dict[str, Any]]:
    """Debtors among the stored decisions whose id or name contains ``query`` (any case).

    Parameters
    ----------
    store : DecisionStore
    query : str
        Part of a debtor id or name; blank lists the most recently decided debtors.
    limit : int
        Most rows returned.

    Returns
    -------
    list of dict
        One row per debtor, most recent decision first: ``debtor_id``, ``name``
        (when the inputs were kept), ``decision_id``, ``supplier_id``, ``grade``,
        ``pd``, ``approved_limit``, ``currency``, ``as_of``, ``decided_at``.
    """
    import sqlalchemy as sa

    from riskengine.store.tables import decisions as d

    latest = (sa.select(sa.func.max(d.c.id).label("id"))
              .group_by(d.c.debtor_id).subquery())
    q = (sa.select(d.c.id, d.c.debtor_id, d.c.supplier_id, d.c.grade, d.c.pd,
                   d.c.approved_limit, d.c.as_of, d.c.decided_at, d.c.input_hash,
                   d.c.decision)
         .join(latest, d.c.id == latest.c.id).order_by(d.c.id.desc()))
    needle = query.strip().lower()
    names = _names_matching(store, needle) if needle else {}
    if needle:
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        cond: sa.ColumnElement[bool] = sa.func.lower(d.c.debtor_id).like(pattern, escape="\\")
        if names:
            cond = sa.or_(cond, d.c.debtor_id.in_(sorted(names)))
        q = q.where(cond)
    q = q.limit(int(limit))
    with store.engine.connect() as conn:
        rows = list(conn.execute(q))
    out = []
    for r in rows:
        decision = dict(r.decision or {})
        out.append({"debtor_id": r.debtor_id, "decision_id": int(r.id),
                    "supplier_id": r.supplier_id, "grade": r.grade, "pd": r.pd,
                    "approved_limit": r.approved_limit, "currency": decision.get("currency"),
                    "as_of": r.as_of.isoformat() if r.as_of else None,
                    "decided_at": r.decided_at, "input_hash": r.input_hash,
                    "name": names.get(r.debtor_id)})
    missing = [row for row in out if row["name"] is None and row["input_hash"]]
    for row in missing[:limit]:
        row["name"] = _debtor_name(store, row["input_hash"])
    return out


def _names_matching(store: DecisionStore, needle: str, *, scan: int = 5000
                    ) -> dict[str, str]:
    """Debtor id -> name, for the kept inputs whose debtor name contains ``needle``."""
    import sqlalchemy as sa

    from riskengine.store.tables import inputs

    pattern = "%" + needle.replace("\\", "").replace("%", "").replace("_", "") + "%"
    q = (sa.select(inputs.c.payload).where(sa.func.lower(inputs.c.payload).like(pattern))
         .limit(scan))
    out: dict[str, str] = {}
    with store.engine.connect() as conn:
        for (text,) in conn.execute(q):
            try:
                debtor = (json.loads(text) or {}).get("debtor") or {}
            except (ValueError, AttributeError):
                continue
            name, did = debtor.get("name"), debtor.get("debtor_id")
            if isinstance(name, str) and isinstance(did, str) and needle in name.lower():
                out[did] = name
    return out


def _inputs(store: DecisionStore, input_hash: Any) -> dict[str, Any] | None:
    """The payload kept under a decision's ``input_hash``, or None."""
    return store.inputs_for(str(input_hash)) if input_hash else None


def _debtor_name(store: DecisionStore, input_hash: Any) -> str | None:
    payload = _inputs(store, input_hash)
    if payload is None:
        return None
    name = (payload.get("debtor") or {}).get("name")
    return name if isinstance(name, str) else None


# --- the router ----------------------------------------------------------------------------


class _Ui:
    """What the pages share: templates, signer, tokens."""

    def __init__(self, tokens: Sequence[str] | None, insecure_dev: bool,
                 session_secret: bytes | None, policy_max_upgrade_notches: int | None
                 ) -> None:
        self.env = _templates()
        self.signer = SessionSigner(session_secret or secrets.token_bytes(32))
        self.insecure_dev = insecure_dev
        self.token_set = None if insecure_dev else TokenSet(tokens or ())
        self.key_ids = frozenset(self.signer.key_id(t) for t in (tokens or ()) if t)
        self.max_upgrade = policy_max_upgrade_notches

    def max_upgrade_for(self, request: Request) -> int:
        """The upgrade bound: the router's, else the policy's (default 2)."""
        if self.max_upgrade is not None:
            return int(self.max_upgrade)
        from riskengine.policy.overrides import max_upgrade_notches

        return max_upgrade_notches(_policy(request))

    # sessions
    def session_of(self, request: Request) -> UiSession | None:
        data = self.signer.unsign("session", request.cookies.get(SESSION_COOKIE),
                                  now=time.time())
        if data is None:
            return None
        officer, csrf, key_id = data.get("officer"), data.get("csrf"), data.get("kid")
        if not (isinstance(officer, str) and isinstance(csrf, str) and isinstance(key_id, str)):
            return None
        if not self.insecure_dev and key_id not in self.key_ids:
            return None
        return UiSession(officer=officer, csrf=csrf, issued_at=int(data["iat"]), key_id=key_id)

    def render(self, template: str, request: Request, *, status: int = 200,
               session: UiSession | None = None, **ctx: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(
            officer=session.officer if session else None,
            csrf=session.csrf if session else "", active=ctx.pop("active", ""),
            insecure_dev=self.insecure_dev, **ctx)
        return HTMLResponse(html, status_code=status, headers=_page_headers(_PAGE_CSP, "DENY"))

    def error(self, request: Request, session: UiSession | None, status: int, title: str,
              message: str) -> HTMLResponse:
        return self.render("ui_error.html.j2", request, status=status, session=session,
                           title=title, message=message)


def _page_headers(csp: str, frame: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "X-Frame-Options": frame,
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store"}


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # not a browser form post (the CSRF token still has to match)
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def _safe_next(target: str | None) -> str:
    """A local ``/ui`` path to go to after the login (anything else: the search page)."""
    if (target and re.fullmatch(r"/ui(/[A-Za-z0-9_\-./]*)?(\?[A-Za-z0-9_\-.:%=&+]*)?", target)
            and "//" not in target and ".." not in target):
        return target
    return f"{UI_PREFIX}/search"


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


async def _read_form(request: Request) -> FormData | None:
    body = await request.body()
    try:
        return parse_form(request.headers.get("content-type", ""), body)
    except (ValueError, UnicodeDecodeError):
        return None


def create_ui_router(tokens: Sequence[str] | None, *, insecure_dev: bool = False,
                     session_secret: bytes | None = None,
                     policy_max_upgrade_notches: int | None = None) -> APIRouter:
    """The ``/ui`` pages as a router for the service's app (:func:`riskengine.serve.api.create_app`).

    The pages read the engine, the store and the policy from ``request.app.state``
    (``engine``, ``store``, ``policy``) as the ``/v1`` routes do.

    Parameters
    ----------
    tokens : sequence of str or None
        The service's API tokens: the login accepts any of them. None only with
        ``insecure_dev`` (then any token is accepted; the officer's name is still required).
    insecure_dev : bool
        As the service's ``--insecure-dev``.
    session_secret : bytes, optional
        Key that signs the session cookies; default a random key per process
        (a restart ends every session). Give the same secret to processes
        behind one load balancer.
    policy_max_upgrade_notches : int, optional
        Most notches an override may upgrade a grade; default the policy's
        ``[overrides] max_upgrade_notches`` (2 when absent).

    Returns
    -------
    fastapi.APIRouter
        Routes under ``/ui``, left out of the OpenAPI document.
    """
    ui = _Ui(tokens, insecure_dev, session_secret, policy_max_upgrade_notches)
    router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

    def require_session(request: Request) -> UiSession:
        sess = ui.session_of(request)
        if sess is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":
                target = f"{UI_PREFIX}/search"
            raise HTTPException(status_code=303, detail="login required", headers={
                "Location": f"{UI_PREFIX}/login?next={quote(target, safe='')}",
                "Cache-Control": "no-store"})
        return sess

    async def checked_form(request: Request, sess: UiSession) -> FormData | Response:
        """The POSTed form, or a 403 page when it lacks the session's CSRF token or comes
        from another origin."""
        form = await _read_form(request)
        if form is None or not _same_origin(request) or not hmac.compare_digest(
                form.get("csrf").encode(), sess.csrf.encode()):
            return ui.error(request, sess, 403, "Form refused",
                            "This form expired or was not sent from this site; open the "
                            "page again and resend it.")
        return form

    # --- public: login, static --------------------------------------------------------

    @router.get("")
    async def root() -> Response:
        return _redirect(f"{UI_PREFIX}/search")

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in _STATIC:
            raise HTTPException(status_code=404, detail="Not Found")
        data = resources.files("riskengine").joinpath("static", name).read_bytes()
        return Response(data, media_type=_STATIC[name],
                        headers={"Cache-Control": "max-age=3600",
                                 "X-Content-Type-Options": "nosniff"})

    def login_page(request: Request, *, status: int = 200, error: str | None = None,
                   officer: str = "", next_url: str | None = None) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        resp = ui.render("ui_login.html.j2", request, status=status, error=error,
                         officer_value=officer, next_url=_safe_next(next_url),
                         nonce=nonce, active="login")
        resp.set_cookie(LOGIN_COOKIE, ui.signer.sign("login", {"n": nonce,
                                                               "iat": int(time.time())}),
                        max_age=_LOGIN_MAX_AGE_S, path=f"{UI_PREFIX}/login", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
        return resp

    @router.get("/login")
    async def login_form(request: Request, next: str | None = None) -> Response:
        if ui.session_of(request) is not None:
            return _redirect(_safe_next(next))
        return login_page(request, next_url=next)

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await _read_form(request)
        if form is None:
            return login_page(request, status=400, error="The form could not be read; "
                              "try again.")
        signed = ui.signer.unsign("login", request.cookies.get(LOGIN_COOKIE),
                                  now=time.time(), max_age_s=_LOGIN_MAX_AGE_S)
        nonce_ok = signed is not None and hmac.compare_digest(
            str(signed.get("n", "")).encode(), form.get("nonce").encode())
        officer = " ".join(form.get("officer").split())
        next_url = form.get("next")
        if not nonce_ok or not _same_origin(request):
            return login_page(request, status=403, officer=officer, next_url=next_url,
                              error="The login form expired; please sign in again.")
        token = form.fields.get("token", "")
        if not officer or len(officer) > _OFFICER_MAX or not officer.isprintable():
            return login_page(request, status=422, officer=officer[:_OFFICER_MAX],
                              next_url=next_url, error="Give your name (1 to "
                              f"{_OFFICER_MAX} characters): it is recorded with every "
                              "override you make.")
        if ui.token_set is not None and not ui.token_set.allows(token):
            return login_page(request, status=401, officer=officer, next_url=next_url,
                              error="This API token is not valid for this service.")
        key_id = "dev" if ui.token_set is None else ui.signer.key_id(token)
        session = {"officer": officer, "csrf": secrets.token_urlsafe(24), "kid": key_id,
                   "iat": int(time.time())}
        resp = _redirect(_safe_next(next_url))
        resp.set_cookie(SESSION_COOKIE, ui.signer.sign("session", session), path=UI_PREFIX,
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
        resp.delete_cookie(LOGIN_COOKIE, path=f"{UI_PREFIX}/login")
        return resp

    # --- pages behind the session ---------------------------------------------------

    @router.post("/logout")
    async def logout(request: Request, sess: UiSession = Depends(require_session)  # noqa: B008
                     ) -> Response:
        form = await checked_form(request, sess)
        if isinstance(form, Response):
            return form
        resp = _redirect(f"{UI_PREFIX}/login")
        resp.delete_cookie(SESSION_COOKIE, path=UI_PREFIX)
        return resp

    @router.get("/search")
    async def search(request: Request, q: str = "",
                     sess: UiSession = Depends(require_session)) -> Response:  # noqa: B008
        store: DecisionStore = request.app.state.store
        query = q.strip()[:128]
        rows = search_debtors(store, query)
        return ui.render("ui_search.html.j2", request, session=sess, active="search",
                         query=query, rows=rows)

    @router.get("/debtor")
    async def debtor(request: Request, id: str = "",
                     sess: UiSession = Depends(require_session)) -> Response:  # noqa: B008
        return _debtor_page(ui, request, sess, id)

    @router.get("/debtor/memo")
    async def memo(request: Request, id: str = "",
                   sess: UiSession = Depends(require_session)) -> Response:  # noqa: B008
        return _memo_page(ui, request, sess, id)

    @router.post("/debtor/override")
    async def override(request: Request,
                       sess: UiSession = Depends(require_session)) -> Response:  # noqa: B008
        form = await checked_form(request, sess)
        if isinstance(form, Response):
            return form
        return _record_override(ui, request, sess, form)

    @router.get("/score")
    async def score_form(request: Request,
                         sess: UiSession = Depends(require_session)) -> Response:  # noqa: B008
        return _score_page(ui, request, sess, FormData(), [])

    @router.post("/score")
    async def score(request: Request,
                    sess: UiSession = Depends(require_session)) -> Response:  # noqa: B008
        form = await checked_form(request, sess)
        if isinstance(form, Response):
            return form
        return _score(ui, request, sess, form)

    @router.get("/portfolio")
    async def portfolio(request: Request,
                        sess: UiSession = Depends(require_session)) -> Response:  # noqa: B008
        return _portfolio_page(ui, request, sess)

    @router.get("/reports/overrides")
    async def override_report(request: Request, since: str = "", until: str = "",
                              sess: UiSession = Depends(require_session)  # noqa: B008
                              ) -> Response:
        return _override_report_page(ui, request, sess, since, until)

    return router


# --- page bodies ---------------------------------------------------------------------------


def _state(request: Request) -> tuple[Any, DecisionStore]:
    return request.app.state.engine, request.app.state.store


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
                  + (" and flagged for review (upgrade)." if flagged else "."))
    return ui.render(
        "ui_debtor.html.j2", request, status=status, session=sess, active="search",
        d=decision, name=name, overrides=overrides, effective=effective,
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
    from riskengine.serve.memo import memo_context, render_memo

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
                       f"{fmt_money(o.get('new_limit'), currency)}")
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


def _effective(decision: Mapping[str, Any], overrides: Sequence[Mapping[str, Any]]
               ) -> dict[str, Any] | None:
    """The grade and limit in force after the latest override of this decision, if any."""
    did = decision.get("decision_id")
    mine = [o for o in overrides if o.get("decision_id") in (None, did)]
    if not mine:
        return None
    last = max(mine, key=lambda o: int(o.get("id") or 0))
    return {"grade": last.get("new_grade") or decision.get("grade"),
            "limit": last.get("new_limit") if last.get("new_limit") is not None
            else decision.get("approved_limit"),
            "officer": last.get("officer"), "flagged": bool(last.get("flagged"))}


def _record_override(ui: _Ui, request: Request, sess: UiSession, form: FormData) -> Response:
    from riskengine.policy.overrides import OverrideRefusedError, apply_override

    _, store = _state(request)
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
                               policy_max_upgrade_notches=ui.max_upgrade_for(request))
    except OverrideRefusedError as exc:
        return again(422, [_sentence(r) for r in exc.check.reasons])
    except InvalidInputError as exc:
        return again(422, [_sentence(str(p.get("message") or exc))
                           for p in (exc.problems or [{}])])
    return _redirect(f"{UI_PREFIX}/debtor?id={quote(debtor_id, safe='')}"
                     f"&override={int(saved['id'])}&flagged={int(bool(saved.get('flagged')))}")


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else text


def _score_page(ui: _Ui, request: Request, sess: UiSession, form: FormData,
                errors: list[str], status: int = 200) -> HTMLResponse:
    from riskengine.contracts import schemas

    policy = _policy(request)
    products = tuple(getattr(policy, "product_names", ())) if policy is not None else ()
    return ui.render("ui_score.html.j2", request, status=status, session=sess,
                     active="score", errors=errors, values=form.fields,
                     legal_forms=tuple(schemas.LEGAL_FORMS),
                     currencies=tuple(schemas.CURRENCIES),
                     statement_types=tuple(schemas.STATEMENT_TYPES),
                     statement_fields=STATEMENT_FIELDS, products=products,
                     today=dt.date.today().isoformat())


def _policy(request: Request) -> Any:
    pol = getattr(request.app.state, "policy", None)
    return pol if pol is not None else getattr(request.app.state.engine, "policy", None)


def _score(ui: _Ui, request: Request, sess: UiSession, form: FormData) -> Response:
    from pydantic import ValidationError

    from riskengine.contracts.payload import DebtorPayload
    from riskengine.serve.common import decide_and_store, problem_details, pydantic_details

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
        _, ids = decide_and_store(engine, store, [payload])
    except InvalidInputError as exc:
        details = problem_details(exc, ())
        return _score_page(ui, request, sess, form, [_detail_text(d) for d in details], 422)
    return _redirect(f"{UI_PREFIX}/debtor?id={quote(payload.debtor.debtor_id, safe='')}"
                     f"&scored={ids[0]}")


def _detail_text(detail: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in detail.get("loc", ()) if p != "body")
    return f"{loc or 'payload'}: {detail.get('msg', 'invalid')}"


def _portfolio_page(ui: _Ui, request: Request, sess: UiSession) -> Response:
    _, store = _state(request)
    current, previous = decision_runs(store)
    overview: dict[str, Any] | None = None
    if current is not None and len(current):
        from riskengine.serve.audit import portfolio_overview

        overview = dict(portfolio_overview(current, previous))
    return ui.render("ui_portfolio.html.j2", request, session=sess, active="portfolio",
                     overview=overview, grades=_grades())


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

    q = sa.select(d.c.id, d.c.debtor_id, d.c.supplier_id, d.c.decision).order_by(d.c.id)
    with store.engine.connect() as conn:
        rows = [(int(r.id), r.debtor_id, r.supplier_id, r.decision) for r in conn.execute(q)]
    if not rows:
        return None, None
    last: dict[tuple[str, Any], dict[str, Any]] = {}
    before: dict[tuple[str, Any], dict[str, Any]] = {}
    for rid, debtor_id, supplier_id, decision in rows:
        key = (debtor_id, supplier_id)
        if key in last:
            before[key] = last[key]
        last[key] = {**dict(decision), "decision_id": rid, "debtor_id": debtor_id,
                     "supplier_id": supplier_id}
    current = pd.DataFrame(list(last.values()))
    previous = pd.DataFrame(list(before.values())) if before else None
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
                     report=report, rows=rows, since=start.isoformat(), until=end.isoformat(),
                     errors=errors, presets=[(label, a.isoformat(), b.isoformat())
                                             for label, a, b in presets])
