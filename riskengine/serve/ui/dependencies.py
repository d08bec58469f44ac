"""What the ``/ui`` routers share (FastAPI's "bigger applications"): :class:`_Ui` (templates,
cookie signer, login nonces and limits; the ``require_session`` dependency, role checks
and the CSRF-checked form), response headers, redirects, and the engine, store and policy
of the app's state."""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from riskengine.serve.accounts import LoginLimits
from riskengine.serve.ui.formatting import _templates
from riskengine.serve.ui.forms import FormData, read_form
from riskengine.serve.ui.sessions import (
    SESSION_COOKIE,
    CookieSigner,
    UiSession,
    session_key,
)
from riskengine.store import DecisionStore

UI_PREFIX = "/ui"

_PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
             "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_MEMO_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
             "form-action 'none'; frame-ancestors 'self'; base-uri 'none'")


_NONCES_MAX = 10_000  # outstanding login nonces kept (the oldest go first)


class _Ui:
    """What the pages share: templates, the cookie signer, login nonces and limits."""

    def __init__(self, insecure_dev: bool, session_secret: bytes | None,
                 policy_max_upgrade_notches: int | None, login_limits: LoginLimits | None,
                 session_max_age_s: int) -> None:
        self.env = _templates()
        self.signer = CookieSigner(session_secret or secrets.token_bytes(32))
        self.insecure_dev = insecure_dev
        self.max_upgrade = policy_max_upgrade_notches
        self.login_limits = login_limits or LoginLimits()
        self.session_max_age_s = int(session_max_age_s)
        self._nonces: dict[str, float] = {}
        self._nonce_lock = threading.Lock()

    def max_upgrade_for(self, request: Request) -> int:
        """The upgrade bound: the router's, else the policy's (default 2)."""
        if self.max_upgrade is not None:
            return int(self.max_upgrade)
        from riskengine.policy.overrides import max_upgrade_notches

        return max_upgrade_notches(_policy(request))

    # login nonces: each served once, used once
    def new_nonce(self, max_age_s: int) -> str:
        nonce = secrets.token_urlsafe(16)
        now = time.monotonic()
        with self._nonce_lock:
            if len(self._nonces) >= _NONCES_MAX:
                for old in sorted(self._nonces, key=self._nonces.__getitem__)[:1000]:
                    del self._nonces[old]
            self._nonces[nonce] = now + max_age_s
        return nonce

    def use_nonce(self, nonce: str) -> bool:
        """Whether ``nonce`` was served and not used yet (it is used now)."""
        with self._nonce_lock:
            expiry = self._nonces.pop(nonce, None)
        return expiry is not None and expiry >= time.monotonic()

    # sessions (in the store: call from a worker thread)
    def session_of(self, request: Request) -> UiSession | None:
        sid = self.signer.unsign("session", request.cookies.get(SESSION_COOKIE),
                                 max_age_s=self.session_max_age_s)
        if sid is None:
            return None
        key = session_key(sid)
        _, store = _state(request)
        row = store.session(key)
        if row is None:
            return None
        return UiSession(officer=str(row["user_name"]), role=str(row["role"]),
                         csrf=str(row["csrf"]), key=key)

    def render(self, template: str, request: Request, *, status: int = 200,
               session: UiSession | None = None, **ctx: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(
            officer=session.officer if session else None,
            role=session.role if session else None,
            csrf=session.csrf if session else "", active=ctx.pop("active", ""),
            insecure_dev=self.insecure_dev, **ctx)
        return HTMLResponse(html, status_code=status, headers=_page_headers(_PAGE_CSP, "DENY"))

    def error(self, request: Request, session: UiSession | None, status: int, title: str,
              message: str) -> HTMLResponse:
        return self.render("ui_error.html.j2", request, status=status, session=session,
                           title=title, message=message)

    # dependencies of the routes
    def require_session(self, request: Request) -> UiSession:
        """The request's session (a route dependency, run in a worker thread: it reads the
        store); without one, a redirect to the login."""
        sess = self.session_of(request)
        if sess is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":
                target = f"{UI_PREFIX}/search"
            raise HTTPException(status_code=303, detail="login required", headers={
                "Location": f"{UI_PREFIX}/login?next={quote(target, safe='')}",
                "Cache-Control": "no-store"})
        return sess

    def refuse_role(self, request: Request, sess: UiSession, action: str) -> Response | None:
        """A 403 page when the session's role may not ``action``; None when it may."""
        if sess.can(action):
            return None
        what = {"score": "score debtors", "override": "propose overrides",
                "approve": "approve or reject overrides"}.get(action, action)
        return self.error(request, sess, 403, "Not allowed",
                          f"Your role ({sess.role}) may not {what}.")

    async def checked_form(self, request: Request, sess: UiSession,
                           action: str | None = None) -> FormData | Response:
        """The POSTed form, or a 403 page when it lacks the session's CSRF token, comes
        from another origin, or (with ``action``) the session's role may not do it."""
        form = await read_form(request)
        if form is None or not _same_origin(request) or not hmac.compare_digest(
                form.get("csrf").encode(), sess.csrf.encode()):
            return self.error(request, sess, 403, "Form refused",
                              "This form expired or was not sent from this site; open the "
                              "page again and resend it.")
        refused = None if action is None else self.refuse_role(request, sess, action)
        return form if refused is None else refused


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


def _state(request: Request) -> tuple[Any, DecisionStore]:
    return request.app.state.engine, request.app.state.store


def _policy(request: Request) -> Any:
    pol = getattr(request.app.state, "policy", None)
    return pol if pol is not None else getattr(request.app.state.engine, "policy", None)


def _grades() -> tuple[str, ...]:
    from riskengine.model.master_scale import GRADES

    return tuple(GRADES)
