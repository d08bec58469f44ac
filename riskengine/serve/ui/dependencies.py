"""What the ``/ui`` routers share (FastAPI's "bigger applications"): :class:`_Ui` (templates,
session signer, tokens; the ``require_session`` dependency and the CSRF-checked form),
response headers, redirects, and the engine, store and policy of the app's state."""

from __future__ import annotations

import hmac
import re
import secrets
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from riskengine.serve.security import TokenSet
from riskengine.serve.ui.formatting import _templates
from riskengine.serve.ui.forms import FormData, parse_form
from riskengine.serve.ui.sessions import SESSION_COOKIE, SessionSigner, UiSession
from riskengine.store import DecisionStore

UI_PREFIX = "/ui"

_PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
             "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_MEMO_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
             "form-action 'none'; frame-ancestors 'self'; base-uri 'none'")


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

    # dependencies of the routes
    def require_session(self, request: Request) -> UiSession:
        """The request's session (a route dependency); without one, a redirect to the login."""
        sess = self.session_of(request)
        if sess is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":
                target = f"{UI_PREFIX}/search"
            raise HTTPException(status_code=303, detail="login required", headers={
                "Location": f"{UI_PREFIX}/login?next={quote(target, safe='')}",
                "Cache-Control": "no-store"})
        return sess

    async def checked_form(self, request: Request, sess: UiSession) -> FormData | Response:
        """The POSTed form, or a 403 page when it lacks the session's CSRF token or comes
        from another origin."""
        form = await _read_form(request)
        if form is None or not _same_origin(request) or not hmac.compare_digest(
                form.get("csrf").encode(), sess.csrf.encode()):
            return self.error(request, sess, 403, "Form refused",
                              "This form expired or was not sent from this site; open the "
                              "page again and resend it.")
        return form


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


def _state(request: Request) -> tuple[Any, DecisionStore]:
    return request.app.state.engine, request.app.state.store


def _policy(request: Request) -> Any:
    pol = getattr(request.app.state, "policy", None)
    return pol if pol is not None else getattr(request.app.state.engine, "policy", None)


def _grades() -> tuple[str, ...]:
    from riskengine.model.master_scale import GRADES

    return tuple(GRADES)
