"""Public pages of ``/ui``: the stylesheet and the login (an account's name and password
give a server-side session, its signed id in a cookie); and the logout, which ends the
session in the store at once."""

from __future__ import annotations

import hmac
import secrets
from importlib import resources

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from riskengine.serve.accounts import sign_in
from riskengine.serve.ui.dependencies import (
    UI_PREFIX,
    _redirect,
    _safe_next,
    _same_origin,
    _state,
    _Ui,
)
from riskengine.serve.ui.forms import read_form
from riskengine.serve.ui.sessions import LOGIN_COOKIE, SESSION_COOKIE, UiSession, session_key

_LOGIN_MAX_AGE_S = 600
_NAME_MAX = 64
_PASSWORD_MAX = 1024
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
                   user: str = "", next_url: str | None = None,
                   retry_after_s: int | None = None) -> HTMLResponse:
        nonce = ui.new_nonce(_LOGIN_MAX_AGE_S)
        resp = ui.render("ui_login.html.j2", request, status=status, error=error,
                         user_value=user, next_url=_safe_next(next_url),
                         nonce=nonce, active="login")
        if retry_after_s is not None:
            resp.headers["Retry-After"] = str(int(retry_after_s))
        resp.set_cookie(LOGIN_COOKIE, ui.signer.sign("login", nonce),
                        max_age=_LOGIN_MAX_AGE_S, path=f"{UI_PREFIX}/login", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
        return resp

    @router.get("/login")
    async def login_form(request: Request, next: str | None = None) -> Response:
        if await run_in_threadpool(ui.session_of, request) is not None:
            return _redirect(_safe_next(next))
        return login_page(request, next_url=next)

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await read_form(request)
        if form is None:
            return login_page(request, status=400, error="The form could not be read; "
                              "try again.")
        signed = ui.signer.unsign("login", request.cookies.get(LOGIN_COOKIE),
                                  max_age_s=_LOGIN_MAX_AGE_S)
        nonce = form.get("nonce")
        nonce_ok = (signed is not None and hmac.compare_digest(signed.encode(), nonce.encode())
                    and ui.use_nonce(nonce))  # served by us, for this browser, once
        name = form.get("username").lower()
        password = form.fields.get("password", "")
        next_url = form.get("next")
        if not nonce_ok or not _same_origin(request):
            return login_page(request, status=403, user=name[:_NAME_MAX], next_url=next_url,
                              error="The login form expired; please sign in again.")
        if not name or len(name) > _NAME_MAX or not password or len(password) > _PASSWORD_MAX:
            return login_page(request, status=422, user=name[:_NAME_MAX], next_url=next_url,
                              error="Give your account name and password.")
        _, store = _state(request)
        client = request.client.host if request.client else "unknown"
        result = await run_in_threadpool(sign_in, store, name, password, client,
                                         ui.login_limits)
        if result.outcome == "locked":
            minutes = max(1, round(result.retry_after_s / 60))
            return login_page(request, status=429, user=name, next_url=next_url,
                              retry_after_s=result.retry_after_s,
                              error="Too many failed sign-ins: this account or address is "
                                    f"locked; try again in about {minutes} minute"
                                    f"{'s' if minutes != 1 else ''}.")
        if result.outcome != "ok" or result.user is None:
            return login_page(request, status=401, user=name, next_url=next_url,
                              error="The account name or password is wrong.")
        sid = secrets.token_urlsafe(32)
        await run_in_threadpool(store.open_session, result.user, session_key(sid),
                                secrets.token_urlsafe(24), ttl_s=ui.session_max_age_s,
                                client=client)
        resp = _redirect(_safe_next(next_url))
        resp.set_cookie(SESSION_COOKIE, ui.signer.sign("session", sid), path=UI_PREFIX,
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
        _, store = _state(request)
        await run_in_threadpool(store.revoke_session, sess.key)
        resp = _redirect(f"{UI_PREFIX}/login")
        resp.delete_cookie(SESSION_COOKIE, path=UI_PREFIX)
        return resp

    return router
