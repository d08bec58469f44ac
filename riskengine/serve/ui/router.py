"""The ``/ui`` router: the page routers (login, book: search and alerts, debtor, score, portfolio) under one
prefix, sharing one :class:`~riskengine.serve.ui.dependencies._Ui`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from riskengine.serve.accounts import LoginLimits
from riskengine.serve.ui import book, debtor, login, portfolio, score
from riskengine.serve.ui.dependencies import UI_PREFIX, _redirect, _Ui
from riskengine.serve.ui.sessions import SESSION_MAX_AGE_S


def create_ui_router(*, insecure_dev: bool = False, session_secret: bytes | None = None,
                     policy_max_upgrade_notches: int | None = None,
                     login_limits: LoginLimits | None = None,
                     session_max_age_s: int = SESSION_MAX_AGE_S) -> APIRouter:
    """The ``/ui`` pages as a router for the service's app (:func:`riskengine.serve.api.create_app`).

    The pages read the engine, the store and the policy from ``request.app.state``
    (``engine``, ``store``, ``policy``) as the ``/v1`` routes do. Officers sign in with
    their accounts in the store (``riskengine users add``); API tokens never open the
    pages.

    Parameters
    ----------
    insecure_dev : bool
        As the service's ``--insecure-dev`` (a banner; the pages still need an account).
    session_secret : bytes, optional
        Key that signs the cookies (the session id, the login nonce); default a random
        key per process (a restart ends every session). Give the same secret to
        processes behind one load balancer.
    policy_max_upgrade_notches : int, optional
        Most notches an override may upgrade a grade; default the policy's
        ``[overrides] max_upgrade_notches`` (2 when absent).
    login_limits : LoginLimits, optional
        Failed sign-ins before a lockout (:class:`riskengine.serve.accounts.LoginLimits`).
    session_max_age_s : int
        Lifetime of a session (the store's expiry), default eight hours.

    Returns
    -------
    fastapi.APIRouter
        Routes under ``/ui``, left out of the OpenAPI document.
    """
    ui = _Ui(insecure_dev, session_secret, policy_max_upgrade_notches, login_limits,
             session_max_age_s)
    router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

    @router.get("")
    async def root() -> Response:
        return _redirect(f"{UI_PREFIX}/search")

    for page in (login, book, debtor, score, portfolio):
        router.include_router(page.create_router(ui))

    return router
