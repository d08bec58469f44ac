"""Store work never blocks the service's event loop (issue 15 point 7).

Source: issue 15 §7 ("/health answers while the database is locked (today it waits
behind a held SQLite lock and /ui/portfolio)"). The real uvicorn server runs in a
thread (test_service.LiveServer); requests that need the store wait on a lock held by
another connection, and /health must still answer (a behaviour with a generous
timeout: the waiting requests are still pending when it answers).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_service import AUTH, TOKEN, FakeEngine, LiveServer, _check, _payload

from riskengine.serve.api import create_app
from riskengine.store import DecisionStore

_HEALTH_WITHIN_S = 2.0


class _Pending:
    """A request sent from a background thread; ``response`` once it is answered."""

    def __init__(self, send: Callable[[], httpx.Response]) -> None:
        self.response: httpx.Response | None = None
        self.thread = threading.Thread(target=self._run, args=(send,), daemon=True)
        self.thread.start()

    def _run(self, send: Callable[[], httpx.Response]) -> None:
        self.response = send()

    def wait(self) -> httpx.Response:
        self.thread.join(60)
        assert self.response is not None, "the request never got an answer"
        return self.response


def _health_answers_while(pending: list[_Pending], url: str) -> None:
    time.sleep(0.5)  # the pending requests have reached the store
    assert all(p.response is None for p in pending), "nothing waited on the lock"
    r = httpx.get(f"{url}/health", timeout=_HEALTH_WITHIN_S)
    assert r.status_code == 200
    assert all(p.response is None for p in pending), "the lock was not held"


def test_health_answers_while_the_sqlite_store_is_locked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = DecisionStore(url)
    app = create_app(FakeEngine(), store, [TOKEN])
    with LiveServer(app) as srv:
        first = httpx.post(f"{srv.url}/v1/decisions", json=_payload(), headers=AUTH)
        assert first.status_code == 201
        lock = sqlite3.connect(tmp_path / "store.db", isolation_level=None, timeout=0)
        lock.execute("BEGIN EXCLUSIVE")  # every writer of the store now waits
        try:
            pending = [
                _Pending(lambda: httpx.post(f"{srv.url}/v1/decisions",
                                            json=_payload("D-WAIT"), headers=AUTH,
                                            timeout=60)),
                _Pending(lambda: httpx.post(f"{srv.url}/v1/invoices/check", json=_check(),
                                            headers=AUTH, timeout=60)),
            ]
            _health_answers_while(pending, srv.url)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert [p.wait().status_code for p in pending] == [201, 200]  # created, checked
    assert store.latest_decision("D-WAIT") is not None and store.count("funding_checks") == 1
    store.close()


PASSWORD = "a passphrase of the loop test"


def _login(http: httpx.Client) -> None:
    page = http.get("/ui/login").text
    nonce = re.search(r'name="nonce" value="([^"]*)"', page)
    assert nonce is not None
    r = http.post("/ui/login", data={"nonce": nonce.group(1), "username": "officer.one",
                                     "password": PASSWORD, "next": "/ui/search"})
    assert r.status_code == 303


def test_health_answers_while_the_portfolio_page_waits_on_the_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/ui/portfolio reads every decision: its store read runs off the event loop."""
    import riskengine.serve.ui.portfolio as portfolio

    release = threading.Event()
    real = portfolio.decision_runs

    def slow_runs(store: DecisionStore) -> tuple[Any, Any]:
        release.wait(30)  # a store that takes its time (a lock, a large book)
        return real(store)

    monkeypatch.setattr(portfolio, "decision_runs", slow_runs)
    store = DecisionStore(f"sqlite:///{tmp_path / 'store.db'}")
    from riskengine.serve.accounts import hash_password

    store.add_user("officer.one", "officer", hash_password(PASSWORD))
    with LiveServer(create_app(FakeEngine(), store, [TOKEN])) as srv, \
            httpx.Client(base_url=srv.url, timeout=60) as http:
        _login(http)
        page = _Pending(lambda: http.get("/ui/portfolio"))
        try:
            _health_answers_while([page], srv.url)
        finally:
            release.set()
        assert page.wait().status_code == 200
    store.close()
