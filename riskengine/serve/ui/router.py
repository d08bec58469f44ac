"""The ``/ui`` router: the page routers (login, search, debtor, score, portfolio) under one
prefix, sharing one :class:`~riskengine.serve.ui.dependencies._Ui`."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from fastapi.responses import Response

from riskengine.serve.ui import debtor, login, portfolio, score, search
from riskengine.serve.ui.dependencies import UI_PREFIX, _redirect, _Ui


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

    @router.get("")
    async def root() -> Response:
        return _redirect(f"{UI_PREFIX}/search")

    for page in (login, search, debtor, score, portfolio):
        router.include_router(page.create_router(ui))

    return router
