"""The credit officer's web pages, served by ``riskengine serve`` under ``/ui`` (shell layer).

Server-rendered HTML (jinja2 templates ``riskengine/templates/ui_*.html.j2``,
autoescaped), one local stylesheet, no JavaScript, nothing from another host.

Pages
-----
``GET  /ui/login``, ``POST``      an officer signs in with their account (name, password)
``GET  /ui/search?q=&...``        the register's pairs by debtor or supplier id or debtor name,
                                  filtered (grade, migration, last limit change, sector,
                                  country, insurer) and paged (``page``, ``size``)
``GET  /ui/debtor?id=``           latest decision, override form, overrides (pending ones with
                                  the approver's buttons), audit trail, memo
``GET  /ui/debtor/memo?id=``      the one-page decision memo (framed by the debtor page)
``POST /ui/debtor/override``      propose an override of grade and/or limit
``POST /ui/debtor/review``        approve or reject a pending override (approver role)
``GET  /ui/score``, ``POST``      score a new debtor: a JSON payload file, or a form
``GET  /ui/portfolio?...``        grade distribution, migrations, concentrations, expected
                                  loss, and the book with the search page's filters
``GET  /ui/alerts?kind=&since=&until=``  limit cuts, downgrades, insurer reductions, paged
``GET  /ui/export/book.csv?...``  every filtered row of the book (streamed CSV)
``GET  /ui/export/alerts.csv?...``  every filtered alert (streamed CSV)
``GET  /ui/reports/overrides``    the override report of a period
``POST /ui/logout``               ends the session in the store

Security (issue 18)
-------------------
- Officers have **accounts** in the decision store (``riskengine users add NAME --role
  ROLE``; argon2id hashes, :mod:`riskengine.serve.accounts`). API tokens never open the
  pages. Roles: ``officer`` (score, propose overrides), ``approver`` (also approve or
  reject others' overrides), ``admin`` (accounts, with the command) and ``auditor``
  (read-only pages and reports); every role reads.
- Sign-ins are throttled per account name and per client address
  (:class:`~riskengine.serve.accounts.LoginLimits`): after the limit, 429 with
  ``Retry-After``. The login form carries a nonce that is served once and used once
  (and bound to the browser by a signed cookie).
- A successful sign-in opens a **server-side session** (its random id's SHA-256, user,
  CSRF token, expiry in the store); the cookie holds only the id, signed by itsdangerous
  (:class:`~riskengine.serve.ui.sessions.CookieSigner`): ``HttpOnly``,
  ``SameSite=Strict``, ``Path=/ui``, ``Secure`` over HTTPS. Logout revokes the session
  row (the old cookie stops working at once); disabling an account or setting its
  password revokes its sessions; sessions expire after
  :data:`~riskengine.serve.ui.sessions.SESSION_MAX_AGE_S`.
- Every page except the login and the stylesheet needs a live session (else a redirect
  to the login). Every POST form carries the session's CSRF token and a cross-origin
  ``Origin`` is refused. Forms are parsed by Starlette with python-multipart.
- Pages are sent with a strict Content-Security-Policy (no script at all),
  ``X-Frame-Options``, ``no-store`` caching and a same-origin referrer policy.

Modules
-------
``router`` (:func:`create_ui_router`: the page routers under one prefix), ``dependencies``
(what the routers share), ``sessions`` (cookie signer, the session), ``forms``,
``formatting``, ``search`` (store reads for pages), and a router per page group:
``login``, ``book`` (search, alerts, exports), ``debtor``, ``score``, ``portfolio``.
"""

from __future__ import annotations

from riskengine.serve.ui.forms import FormData, payload_from_form, read_form
from riskengine.serve.ui.portfolio import decision_runs
from riskengine.serve.ui.router import create_ui_router
from riskengine.serve.ui.search import search_debtors
from riskengine.serve.ui.sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    CookieSigner,
    UiSession,
)

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE_S",
    "CookieSigner",
    "FormData",
    "UiSession",
    "create_ui_router",
    "decision_runs",
    "payload_from_form",
    "read_form",
    "search_debtors",
]
