"""Public pages of ``/ui``: the stylesheet and the login (an API token and the officer's
name give a signed session cookie); and the logout."""

from __future__ import annotations

import hmac
import secrets
import time
from importlib import resources

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from riskengine.serve.ui.dependencies import (
    UI_PREFIX,
    _read_form,
    _redirect,
    _safe_next,
    _same_origin,
    _Ui,
)
from riskengine.serve.ui.sessions import LOGIN_COOKIE, SESSION_COOKIE, UiSession

_LOGIN_MAX_AGE_S = 600
_OFFICER_MAX = 80
_STATIC = {"ui.css": "text/css; charset=utf-8"}


def create_router(ui: _Ui) -> APIRouter:
    """The login, logout and stylesheet routes (under the ``/ui`` prefix of the router
    that includes them)."""
    router = APIRouter(include_in_schema=False)

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

    @router.post("/logout")
    async def logout(request: Request, sess: UiSession = Depends(ui.require_session)  # noqa: B008
                     ) -> Response:
        form = await ui.checked_form(request, sess)
        if isinstance(form, Response):
            return form
        resp = _redirect(f"{UI_PREFIX}/login")
        resp.delete_cookie(SESSION_COOKIE, path=UI_PREFIX)
        return resp

    return router
