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

Modules
-------
``router`` (:func:`create_ui_router`: the page routers under one prefix), ``dependencies``
(what the routers share), ``sessions`` (signed cookies), ``forms``, ``formatting``, and a
router per page group: ``login``, ``search``, ``debtor``, ``score``, ``portfolio``.
"""

from __future__ import annotations

from riskengine.serve.ui.forms import FormData, parse_form, payload_from_form
from riskengine.serve.ui.portfolio import decision_runs
from riskengine.serve.ui.router import create_ui_router
from riskengine.serve.ui.search import search_debtors
from riskengine.serve.ui.sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    SessionSigner,
    UiSession,
)

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
