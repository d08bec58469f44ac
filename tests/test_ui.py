"""The credit officer's pages under /ui, in process (FastAPI's TestClient).

Sources: issue 7 §2 (the pages; overrides with a mandatory reason and the officer's
identity, upgrades bounded by the policy (default 2 notches) and flagged) and §3 (audit
trail, override report, portfolio page); the brief of the web page (HttpOnly
SameSite=Strict cookie, CSRF tokens on POST forms, all data escaped); issue 18 points 1
and 2 (officers' own accounts, never API tokens; throttled sign-ins locked after 5
failures with 429 and Retry-After; single-use login nonce; logout ends the session on the
server; roles; four eyes: a flagged override pending until a second approver, funding on
the limit in force until then, no limit above the policy's cap). The engine is a stand-in (grade and limit fixed) so that these tests
run in seconds; tests/test_browser.py runs the real service and engine in Chromium.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from riskengine.serve.accounts import LoginLimits, hash_password
from riskengine.serve.api import create_app
from riskengine.serve.ui.forms import FormData, payload_from_form
from riskengine.serve.ui.search import search_debtors
from riskengine.serve.ui.sessions import SESSION_COOKIE, CookieSigner
from riskengine.store import DecisionStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_BYTES = (ROOT / "examples" / "debtor.json").read_bytes()
EXAMPLE = json.loads(EXAMPLE_BYTES)
TOKEN = "ui-test-token-0123456789abcdef"
OFFICER = "maria.p"            # role officer
APPROVER = "ana.k"             # role approver
AUDITOR = "audrey"             # role auditor
PASSWORD = "correct horse battery staple"
REASON = "Audited H1 2026 accounts show margins recovering and new equity."
XSS = "<script>alert('x')</script>"


class StubEngine:
    """The service's engine surface (``decide_one``, ``score_payloads``) with a fixed grade;
    the input hash depends on the payload (as the real engine's does)."""

    def __init__(self, grade: str = "6", limit: float = 350_000.0) -> None:
        self.grade, self.limit = grade, limit

    @property
    def versions(self) -> dict[str, str]:
        return {"model_version": "stub-1", "policy_version": "2026.1"}

    CAP = 1_000_000.0
    """With an officer's grade (``grades``), the stub's policy grants the request up to
    this cap (its grant at the example's own request of 350,000 is 350,000)."""

    def decide_one(self, payload: Any, **kw: Any) -> dict[str, Any]:
        return self.score_payloads([payload], **kw)[0]

    def score_payloads(self, payloads: list[Any], *, decided_at: str | None = None,
                       reference_date: Any = None,
                       grades: dict[str, str] | None = None) -> list[dict[str, Any]]:
        import hashlib

        out = []
        for p in payloads:
            digest = hashlib.sha256(p.model_dump_json().encode()).hexdigest()
            grade = (grades or {}).get(p.debtor.debtor_id)
            limit = self.limit if grade is None else min(p.exposure.requested_limit, self.CAP)
            out.append({
                "debtor_id": p.debtor.debtor_id, "supplier_id": p.exposure.supplier_id,
                "as_of": p.as_of.isoformat(), "pd": 0.0211, "grade": grade or self.grade,
                "approved_limit": limit, "requested_limit": p.exposure.requested_limit,
                "decision_type": "full", "binding_constraints": ["requested"],
                "expected_loss": 295.4, "currency": p.exposure.currency,
                "reason_codes": [{"feature": "adv_n_tier2", "value": 1.0,
                                  "direction": "higher", "text": "bounced cheques: 1"}],
                "model_version": "stub-1", "policy_version": "2026.1",
                "input_hash": digest, "decided_at": decided_at})
        return out


@pytest.fixture(scope="module")
def _hash() -> str:
    return hash_password(PASSWORD)  # argon2id: hashed once for the module


@pytest.fixture
def store(_hash: str) -> Iterator[DecisionStore]:
    s = DecisionStore("sqlite://")
    for name, role in ((OFFICER, "officer"), (APPROVER, "approver"), (AUDITOR, "auditor"),
                       ("adam", "admin")):
        s.add_user(name, role, _hash)
    yield s
    s.close()


def _client(store: DecisionStore, engine: Any = None, **kw: Any) -> TestClient:
    app = create_app(engine if engine is not None else StubEngine(), store, [TOKEN], **kw)
    return TestClient(app, raise_server_exceptions=True, base_url="http://testserver")


def _hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, f"no hidden field {name}"
    return m.group(1)


def _login(client: TestClient, user: str = OFFICER, password: str = PASSWORD,
           next_url: str = "/ui/search") -> Any:
    page = client.get("/ui/login")
    return client.post("/ui/login", follow_redirects=False, data={
        "nonce": _hidden(page.text, "nonce"), "username": user, "password": password,
        "next": next_url})


@pytest.fixture
def client(store: DecisionStore) -> TestClient:
    c = _client(store)
    assert _login(c).status_code == 303
    return c


def _csrf(client: TestClient) -> str:
    return _hidden(client.get("/ui/score").text, "csrf")


def _upload(client: TestClient, payload: bytes = EXAMPLE_BYTES) -> Any:
    return client.post("/ui/score", follow_redirects=False, data={"csrf": _csrf(client)},
                       files={"payload_file": ("debtor.json", payload, "application/json")})


def _override(client: TestClient, **fields: str) -> Any:
    data = {"csrf": _csrf(client), "debtor_id": "GR-D-004711", "decision_id": "1",
            "reason": REASON, **fields}
    return client.post("/ui/debtor/override", data=data, follow_redirects=False)


# --- authentication ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ui/search", "/ui/debtor?id=GR-D-004711", "/ui/score",
                                  "/ui/portfolio", "/ui/reports/overrides",
                                  "/ui/debtor/memo?id=GR-D-004711"])
def test_every_page_but_the_login_needs_a_session(store: DecisionStore, path: str) -> None:
    r = _client(store).get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/ui/login?next=%2Fui%2F")


def test_posts_without_a_session_go_to_the_login(store: DecisionStore) -> None:
    c = _client(store)
    for path in ("/ui/score", "/ui/debtor/override", "/ui/logout"):
        r = c.post(path, data={"csrf": "x"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
    assert store.count("decisions") == 0


def test_login_sets_a_signed_httponly_strict_cookie_with_the_session_id_only(
        store: DecisionStore) -> None:
    c = _client(store)
    r = _login(c, next_url="/ui/portfolio")
    assert r.status_code == 303 and r.headers["location"] == "/ui/portfolio"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert PASSWORD not in cookie and OFFICER not in cookie  # a signed random id only
    page = c.get("/ui/portfolio")
    assert page.status_code == 200 and f'data-testid="officer">{OFFICER}<' in page.text
    (row,) = store.engine.connect().exec_driver_sql(
        "SELECT user_name, revoked_at FROM user_sessions").fetchall()
    assert tuple(row) == (OFFICER, None)


def test_the_login_form_sends_the_password_in_the_body_only(store: DecisionStore) -> None:
    html = _client(store).get("/ui/login").text
    assert 'method="post"' in html and 'type="password"' in html


@pytest.mark.parametrize("user,password,status,message", [
    (OFFICER, "wrong password, long enough", 401, "name or password is wrong"),
    ("nobody", PASSWORD, 401, "name or password is wrong"),  # the same answer
    (OFFICER, "", 422, "Give your account name and password"),
    ("x" * 65, PASSWORD, 422, "Give your account name and password"),
    (OFFICER, TOKEN, 401, "name or password is wrong"),  # an API token is no password
])
def test_a_bad_login_is_refused(store: DecisionStore, user: str, password: str, status: int,
                                message: str) -> None:
    c = _client(store)
    r = _login(c, user=user, password=password)
    assert r.status_code == status and message in r.text
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert password not in r.text or not password


def test_a_disabled_account_cannot_sign_in_and_loses_its_sessions(store: DecisionStore
                                                                  ) -> None:
    c = _client(store)
    assert _login(c).status_code == 303
    store.update_user(OFFICER, disabled=True)
    assert c.get("/ui/search", follow_redirects=False).status_code == 303
    assert _login(_client(store)).status_code == 401


def test_a_login_without_the_form_nonce_is_refused(store: DecisionStore) -> None:
    c = _client(store)
    r = c.post("/ui/login", data={"nonce": "forged", "username": OFFICER,
                                  "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and "expired" in r.text


def test_a_login_nonce_serves_one_attempt(store: DecisionStore) -> None:
    """Issue 18: one login nonce served 2,001 attempts; now the second use is refused."""
    c = _client(store)
    nonce = _hidden(c.get("/ui/login").text, "nonce")
    login_cookie = c.cookies.get("riskengine_login")
    data = {"nonce": nonce, "username": OFFICER, "password": "not the password at all"}
    assert c.post("/ui/login", data=data, follow_redirects=False).status_code == 401
    c.cookies.set("riskengine_login", login_cookie, path="/ui/login")
    r = c.post("/ui/login", data={**data, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and "expired" in r.text


def test_failed_logins_lock_the_account_with_429_and_retry_after(store: DecisionStore
                                                                 ) -> None:
    """Five failures (LoginLimits' default, NIST SP 800-63B §5.2.2 / OWASP lockout) lock
    the account for 15 minutes: the right password then answers 429, not a session."""
    c = _client(store)
    codes = [_login(c, password=f"wrong password number {i}").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    r = _login(c)
    assert r.status_code == 429 and "locked" in r.text
    assert 890 <= int(r.headers["retry-after"]) <= 900
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert _login(_client(store), user=APPROVER).status_code == 303  # others still sign in


def test_failed_logins_from_one_address_lock_it(store: DecisionStore) -> None:
    c = _client(store, login_limits=LoginLimits(account_failures=100, address_failures=3))
    codes = [_login(c, user=f"guess{i}", password="wrong password, long").status_code
             for i in range(4)]
    assert codes == [401, 401, 401, 429]
    assert _login(c, user=APPROVER).status_code == 429  # the address, whatever the name


def test_a_tampered_or_foreign_session_cookie_is_refused(store: DecisionStore) -> None:
    c = _client(store)
    forged = CookieSigner(b"another-secret-0123456789").sign("session", "some-session-id")
    c.cookies.set(SESSION_COOKIE, forged, path="/ui")
    assert c.get("/ui/search", follow_redirects=False).status_code == 303


def test_a_shared_secret_keeps_sessions_over_a_restart(store: DecisionStore) -> None:
    secret = b"shared-secret-0123456789abcdef"
    first = _client(store, ui_session_secret=secret)
    assert _login(first).status_code == 303
    cookie = first.cookies.get(SESSION_COOKIE)
    same = TestClient(create_app(StubEngine(), store, [TOKEN], ui_session_secret=secret))
    same.cookies.set(SESSION_COOKIE, cookie, path="/ui")
    assert same.get("/ui/search", follow_redirects=False).status_code == 200
    other = TestClient(create_app(StubEngine(), store, [TOKEN]))
    other.cookies.set(SESSION_COOKIE, cookie, path="/ui")
    assert other.get("/ui/search", follow_redirects=False).status_code == 303


def test_the_session_does_not_open_the_v1_api(client: TestClient) -> None:
    assert client.get("/v1/debtors/GR-D-004711/decision").status_code == 401


def test_logout_ends_the_session_on_the_server(client: TestClient) -> None:
    """Issue 18: the old cookie kept working for 8 hours after a logout; now it stops."""
    old = client.cookies.get(SESSION_COOKIE)
    csrf = _csrf(client)
    r = client.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/ui/search", follow_redirects=False).status_code == 303
    client.cookies.set(SESSION_COOKIE, old, path="/ui")  # the cookie replayed
    assert client.get("/ui/search", follow_redirects=False).status_code == 303
    r = client.post("/ui/debtor/override", data={"csrf": csrf, "debtor_id": "GR-D-004711",
                                                 "decision_id": "1", "reason": REASON,
                                                 "new_grade": "9"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")


def test_the_ui_is_not_in_the_openapi_document(client: TestClient) -> None:
    assert not [p for p in client.get("/openapi.json").json()["paths"] if p.startswith("/ui")]


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    r = client.get("/ui/search")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "script-src" not in r.headers["content-security-policy"]  # none allowed
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    css = client.get("/ui/static/ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/ui/static/../service.py").status_code == 404


# --- CSRF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("csrf,origin", [("", None), ("forged", None),
                                         (None, "http://evil.example")])
def test_posts_need_the_session_csrf_token_and_our_origin(
        client: TestClient, store: DecisionStore, csrf: str | None, origin: str | None) -> None:
    token = _csrf(client) if csrf is None else csrf
    headers = {"origin": origin} if origin else {}
    r = client.post("/ui/score", data={"csrf": token}, headers=headers,
                    files={"payload_file": ("d.json", EXAMPLE_BYTES, "application/json")},
                    follow_redirects=False)
    assert r.status_code == 403 and "Form refused" in r.text
    assert store.count("decisions") == 0


# --- scoring -------------------------------------------------------------------------------


def test_upload_scores_stores_decision_and_inputs_and_shows_them(
        client: TestClient, store: DecisionStore) -> None:
    r = _upload(client)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/debtor?id=GR-D-004711&scored=1"
    decision = store.latest_decision("GR-D-004711")
    assert decision is not None and decision["grade"] == "6"
    kept = store.inputs_for(decision["input_hash"])
    assert kept is not None and kept["debtor"]["name"] == "Aegean Food Wholesale S.A."
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert "Decision 1 recorded." in page.text
    assert re.search(r'data-testid="grade">6<', page.text)
    assert re.search(r'data-testid="limit">350,000 EUR<', page.text)
    assert "Aegean Food Wholesale S.A." in page.text and "bounced cheques: 1" in page.text


def test_the_v1_api_keeps_the_inputs_too(store: DecisionStore) -> None:
    c = _client(store)
    r = c.post("/v1/decisions", json=EXAMPLE, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 201
    assert store.inputs_for(r.json()["input_hash"])["exposure"]["supplier_id"] == "GR-S-000318"


@pytest.mark.parametrize("content,message", [
    (b"not json", "is not JSON text"),
    (b"[1, 2]", "upload one payload"),
    (json.dumps({**EXAMPLE, "debtor": {**EXAMPLE["debtor"], "nace": XSS}}).encode(),
     "debtor.nace"),
])
def test_a_bad_upload_is_explained_without_echo(client: TestClient, store: DecisionStore,
                                                content: bytes, message: str) -> None:
    r = _upload(client, content)
    assert r.status_code == 422 and message in r.text
    assert XSS not in r.text and "alert(" not in r.text
    assert store.count("decisions") == 0


def test_the_form_of_key_fields_scores_a_debtor(client: TestClient,
                                                store: DecisionStore) -> None:
    fields = {"csrf": _csrf(client), "debtor_id": "GR-D-000777", "name": "Ionian Olive Co",
              "country": "GR", "nace": "10.41", "legal_form": "private_limited",
              "as_of": "2026-06-30", "supplier_id": "GR-S-000318",
              "supplier_name": "Thessaly Dairy", "supplier_country": "GR",
              "supplier_nace": "10.51", "supplier_ledger_total": "4,850,000",
              "currency": "EUR", "requested_limit": "120000",
              "statements-0-period_end": "2025-12-31", "statements-0-statement_type": "audited",
              "statements-0-revenue": "8,400,000", "statements-0-ebitda": "610000",
              "statements-0-total_assets": "5200000", "statements-0-total_liabilities": "3100000",
              "statements-0-equity": "2100000",
              "statements-1-period_end": "2024-12-31", "statements-1-revenue": "7,900,000",
              "statements-1-statement_type": "unaudited", "statements-1-total_assets": "5000000",
              "statements-1-total_liabilities": "3000000", "statements-1-equity": "2000000",
              "adverse-0-event_type": "bounced_cheque", "adverse-0-event_date": "2025-03-14",
              "adverse-0-amount": "850", "adverse-0-status": "settled",
              "adverse-0-settlement_date": "2025-04-02",
              "adverse-1-event_type": "protested_bill", "adverse-1-status": "open"}  # blank
    r = client.post("/ui/score", data=fields, follow_redirects=False)
    assert r.status_code == 303, r.text
    kept = store.inputs_for(store.latest_decision("GR-D-000777")["input_hash"])
    assert [(s["period_end"], s["revenue"], s["statement_type"]) for s in kept["statements"]] == [
        ("2025-12-31", 8_400_000.0, "audited"), ("2024-12-31", 7_900_000.0, "unaudited")]
    assert kept["adverse_records"] == [{
        "record_id": "FORM-ADV-1", "event_type": "bounced_cheque", "event_date": "2025-03-14",
        "amount": 850.0, "currency": "EUR", "status": "settled",
        "settlement_date": "2025-04-02"}]
    assert kept["exposure"]["requested_limit"] == 120_000.0


def test_the_form_names_fields_that_are_missing_or_not_numbers(client: TestClient) -> None:
    r = client.post("/ui/score", data={"csrf": _csrf(client), "debtor_id": "D-1",
                                       "statements-0-period_end": "2025-12-31",
                                       "statements-2-revenue": "lots",
                                       "adverse-0-amount": "much"})
    assert r.status_code == 422
    errors = r.text.split('data-testid="score-errors"')[1].split("</div>")[0]
    assert "statement 2 revenue: not a number" in errors and "lots" not in errors
    assert "adverse record 1 amount: not a number" in errors and "much" not in errors
    assert 'data-testid="statement-3"' in r.text  # the form keeps the groups it was sent


def test_the_form_adds_a_group_keeping_what_was_typed(store: DecisionStore) -> None:
    from riskengine.config import load_policy

    client = _client(store, policy=load_policy())
    assert _login(client).status_code == 303
    page = client.get("/ui/score").text
    assert page.count('data-testid="statement-') == 2 and 'data-testid="adverse-2"' not in page
    assert re.search(r'<option value="non_recourse" selected>', page)
    r = client.post("/ui/score", data={"csrf": _csrf(client), "add": "adverse",
                                       "shown_statements": "2", "shown_adverse": "1",
                                       "name": "Kept Name"})
    assert r.status_code == 200 and 'data-testid="adverse-2"' in r.text
    assert 'value="Kept Name"' in r.text and store_decisions_none(r.text)


def store_decisions_none(html: str) -> bool:
    """Adding a group scores nothing: the page has no error box and stays the form."""
    return 'data-testid="score-errors"' not in html and 'data-testid="fields-form"' in html


def test_scoring_waits_for_the_engine(store: DecisionStore) -> None:
    c = TestClient(create_app(None, store, [TOKEN], engine_loader=lambda: None))
    _login(c)
    r = _upload(c)
    assert r.status_code == 503 and "still loading" in r.text


# --- overrides -------------------------------------------------------------------------------


def test_a_one_notch_upgrade_is_recorded_flagged_with_the_officer(
        client: TestClient, store: DecisionStore) -> None:
    _upload(client)
    r = _override(client, new_grade="5")
    assert r.status_code == 303 and r.headers["location"].endswith("&override=1&flagged=1")
    (row,) = store.overrides("GR-D-004711")
    assert (row["officer"], row["direction"], row["notches"], row["flagged"]) == (
        OFFICER, "upgrade", 1, True)
    assert row["status"] == "pending" and row["terms"]["grade"] == "5"
    page = client.get(r.headers["location"]).text
    assert "Override 1 recorded: flagged, pending until a second approver" in page
    trail = page.split('data-testid="audit"')[1].split("</section>")[0]
    assert "Upgrade of decision 1: grade 6 → 5 (1 notch)" in trail
    assert "pending a second approver" in trail
    assert 'class="flag">flagged<' in trail and OFFICER in trail and REASON in trail
    assert 'data-testid="effective"' not in page  # nothing in force yet
    assert 'value="approved"' not in page  # the author cannot approve it


def _check(client: TestClient) -> Any:
    """A funding check today (the register's changes are dated the day they are made)."""
    import datetime as dt

    today = dt.date.today()
    return client.post("/v1/invoices/check", headers={"Authorization": f"Bearer {TOKEN}"},
                       json={"supplier_id": "GR-S-000318", "debtor_id": "GR-D-004711",
                             "amount": 600_000.0,
                             "invoice_date": (today - dt.timedelta(days=5)).isoformat(),
                             "due_date": (today + dt.timedelta(days=60)).isoformat(),
                             "approved_outstanding": 0.0})


def test_a_pending_override_is_approved_by_a_second_account(store: DecisionStore) -> None:
    """Four eyes: an officer raises the limit (flagged: above the policy's grant of
    350,000); funding stays on 350,000 until the approver approves; then 800,000."""
    officer, approver = _client(store), _client(store)
    assert _login(officer).status_code == 303 and _login(approver, APPROVER).status_code == 303
    _upload(officer)
    r = _override(officer, new_limit="800,000")
    assert r.status_code == 303 and r.headers["location"].endswith("&flagged=1")
    (row,) = store.overrides("GR-D-004711")
    assert (row["status"], row["policy_limit"], row["policy_cap"]) == (
        "pending", 350_000.0, 1_000_000.0)
    assert _check(officer).json()["limit"] == 350_000.0  # the limit in force
    page = approver.get("/ui/debtor?id=GR-D-004711").text
    assert 'data-testid="pending-1"' in page and 'value="approved"' in page
    r = approver.post("/ui/debtor/review", follow_redirects=False, data={
        "csrf": _hidden(page, "csrf"), "debtor_id": "GR-D-004711", "override_id": "1",
        "verdict": "approved", "comment": "Checked the new accounts"})
    assert r.status_code == 303 and r.headers["location"].endswith("&reviewed=1&verdict=approved")
    (row,) = store.overrides("GR-D-004711")
    assert (row["status"], row["approver"], row["officer"]) == ("approved", APPROVER, OFFICER)
    assert _check(officer).json()["limit"] == 800_000.0
    page = approver.get("/ui/debtor?id=GR-D-004711").text
    assert f"After override by {OFFICER}, approved by {APPROVER}" in page
    report = approver.get("/ui/reports/overrides").text
    assert "approved: <strong>1</strong>" in report and f"{APPROVER} (1)" in report


def test_the_author_and_other_roles_cannot_approve(store: DecisionStore) -> None:
    officer = _client(store)
    _login(officer)
    _upload(officer)
    _override(officer, new_limit="800,000")
    for user, message in ((OFFICER, "Your role (officer) may not approve"),
                          (AUDITOR, "Your role (auditor) may not approve")):
        c = _client(store)
        _login(c, user)
        csrf = _hidden(c.get("/ui/debtor?id=GR-D-004711").text, "csrf")
        r = c.post("/ui/debtor/review", data={"csrf": csrf, "debtor_id": "GR-D-004711",
                                               "override_id": "1", "verdict": "approved"})
        assert r.status_code == 403 and message in r.text
    assert store.overrides("GR-D-004711")[0]["status"] == "pending"


def test_an_approver_cannot_approve_their_own_override(store: DecisionStore) -> None:
    c = _client(store)
    _login(c, APPROVER)
    _upload(c)
    _override(c, new_limit="800,000")
    csrf = _hidden(c.get("/ui/debtor?id=GR-D-004711").text, "csrf")
    r = c.post("/ui/debtor/review", data={"csrf": csrf, "debtor_id": "GR-D-004711",
                                           "override_id": "1", "verdict": "approved"})
    assert r.status_code == 409 and "The author of an override cannot review it" in r.text
    assert store.overrides("GR-D-004711")[0]["status"] == "pending"


def test_no_override_exceeds_the_policy_cap(client: TestClient, store: DecisionStore) -> None:
    """Issue 18: an officer raised a limit to 10,000,000,000,000 and the next funding check
    advanced 4e12; the stub policy's cap (1,000,000) refuses it."""
    _upload(client)
    r = _override(client, new_limit="10000000000000")
    assert r.status_code == 422
    assert "exceeds the largest limit the policy allows this debtor at grade 6 " \
           "(1,000,000)" in r.text
    assert store.overrides("GR-D-004711") == []
    assert _check(client).json()["limit"] == 350_000.0


def test_an_auditor_reads_but_neither_scores_nor_overrides(client: TestClient,
                                                           store: DecisionStore) -> None:
    _upload(client)
    c = _client(store)
    _login(c, AUDITOR)
    page = c.get("/ui/debtor?id=GR-D-004711")
    assert page.status_code == 200 and "reads this page only" in page.text
    assert 'action="/ui/debtor/override"' not in page.text and ">Score a debtor<" not in page.text
    assert c.get("/ui/score").status_code == 403
    csrf = _hidden(page.text, "csrf")
    r = c.post("/ui/debtor/override", data={"csrf": csrf, "debtor_id": "GR-D-004711",
                                             "decision_id": "1", "reason": REASON,
                                             "new_grade": "9"})
    assert r.status_code == 403 and store.overrides("GR-D-004711") == []
    assert c.get("/ui/reports/overrides").status_code == 200


def test_a_three_notch_upgrade_is_refused_with_the_policy_message(
        client: TestClient, store: DecisionStore) -> None:
    _upload(client)
    r = _override(client, new_grade="3")
    assert r.status_code == 422
    assert "Upgrade of 3 notches exceeds the policy bound of 2 notches" in r.text
    assert store.overrides("GR-D-004711") == []
    assert REASON in r.text  # the officer's text is kept in the form


def test_a_downgrade_is_free_and_not_flagged(client: TestClient, store: DecisionStore) -> None:
    _upload(client)
    r = _override(client, new_grade="9", new_limit="100,000")
    assert r.status_code == 303 and r.headers["location"].endswith("&flagged=0")
    (row,) = store.overrides("GR-D-004711")
    assert (row["direction"], row["notches"], row["new_limit"], row["flagged"]) == (
        "downgrade", -3, 100_000.0, False)
    assert store.current_limit("GR-S-000318", "GR-D-004711", "2100-01-01")["limit"] == 100_000


@pytest.mark.parametrize("fields,message", [
    ({"reason": ""}, "A reason is mandatory"),
    ({"reason": "ok"}, "The reason is too short"),
    ({"new_limit": "-5"}, "New limit: give an amount of 0 or more"),
    ({"new_grade": "11"}, "New grade: choose a grade"),
    ({}, "Nothing to override"),
])
def test_bad_overrides_are_refused_with_a_message(client: TestClient, store: DecisionStore,
                                                  fields: dict[str, str], message: str) -> None:
    _upload(client)
    r = _override(client, **fields)
    assert r.status_code == 422 and message in r.text
    assert store.overrides("GR-D-004711") == []


def test_an_override_of_a_superseded_decision_is_refused(client: TestClient,
                                                         store: DecisionStore) -> None:
    _upload(client)
    _upload(client)  # decision 2
    r = _override(client, new_grade="7")
    assert r.status_code == 409 and "newer decision" in r.text


def test_the_upgrade_bound_follows_the_router_setting(store: DecisionStore) -> None:
    from riskengine.serve.ui.router import create_ui_router

    app = create_app(StubEngine(), store, [TOKEN], ui=False)
    app.include_router(create_ui_router(policy_max_upgrade_notches=0))
    c = TestClient(app)
    _login(c)
    _upload(c)
    r = _override(c, new_grade="5")
    assert r.status_code == 422 and "bound of 0 notches" in r.text


# --- escaping, search, memo, portfolio, report -----------------------------------------------


def test_all_data_is_escaped(store: DecisionStore) -> None:
    c = _client(store)
    _login(c)
    payload = copy.deepcopy(EXAMPLE)
    payload["debtor"]["name"] = f"Evil {XSS} S.A."
    assert _upload(c, json.dumps(payload).encode()).status_code == 303
    _override(c, new_grade="7", reason=f"Because {XSS} and more words here")
    pages = [c.get("/ui/debtor?id=GR-D-004711").text, c.get("/ui/search?q=evil").text,
             c.get("/ui/reports/overrides").text, c.get(f"/ui/search?q={XSS}").text]
    for html in pages:
        assert XSS not in html
    assert "&lt;script&gt;" in pages[0] and "&lt;script&gt;" in pages[1]


def test_search_finds_debtors_by_id_or_name(client: TestClient, store: DecisionStore) -> None:
    _upload(client)
    other = copy.deepcopy(EXAMPLE)
    other["debtor"].update(debtor_id="CY-D-000042", name="Limassol Traders Ltd")
    _upload(client, json.dumps(other).encode())
    assert [r["debtor_id"] for r in search_debtors(store, "aegean")] == ["GR-D-004711"]
    assert [r["debtor_id"] for r in search_debtors(store, "cy-d")] == ["CY-D-000042"]
    assert [r["debtor_id"] for r in search_debtors(store, "")] == ["CY-D-000042",
                                                                   "GR-D-004711"]
    assert search_debtors(store, "100%_") == []
    page = client.get("/ui/search?q=Limassol").text
    assert "CY-D-000042" in page and "GR-D-004711" not in page


def test_an_unknown_debtor_is_a_404_page(client: TestClient) -> None:
    r = client.get("/ui/debtor?id=NOPE-1")
    assert r.status_code == 404 and "No decision is stored for debtor NOPE-1" in r.text


def test_an_id_with_a_slash_is_shown_and_a_malformed_id_is_refused(client: TestClient) -> None:
    payload = json.loads(EXAMPLE_BYTES)
    payload["debtor"]["debtor_id"] = "GR/D/7"
    r = _upload(client, json.dumps(payload).encode())
    assert r.status_code == 303 and r.headers["location"] == "/ui/debtor?id=GR%2FD%2F7&scored=1"
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and "GR/D/7" in page.text
    r = client.get("/ui/debtor", params={"id": "D,5\n"})
    assert r.status_code == 400 and "Not a debtor id" in r.text and "D,5" not in r.text


def test_the_memo_is_served_framed_with_its_own_policy(client: TestClient,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import riskengine.serve.memo.context as memo_context_module
    import riskengine.serve.memo.render as memo_render

    seen: dict[str, Any] = {}

    def context(engine: Any, payload: Any, decision: Any, **kw: Any) -> dict[str, Any]:
        seen.update(payload=payload, decision=decision, **kw)
        return {"name": payload["debtor"]["name"]}

    monkeypatch.setattr(memo_context_module, "memo_context", context)
    monkeypatch.setattr(memo_render, "render_memo", lambda ctx: f"<h1>Memo of {ctx['name']}</h1>")
    _upload(client)
    r = client.get("/ui/debtor/memo?id=GR-D-004711")
    assert r.status_code == 200 and r.text == "<h1>Memo of Aegean Food Wholesale S.A.</h1>"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in r.headers["content-security-policy"]
    assert seen["decision"]["decision_id"] == 1 and seen["overrides"] == []
    assert 'src="/ui/debtor/memo?id=GR-D-004711"' in client.get(
        "/ui/debtor?id=GR-D-004711").text


def test_the_portfolio_page_shows_grades_migrations_and_expected_loss(
        client: TestClient) -> None:
    assert "No decision is stored yet" in client.get("/ui/portfolio").text
    _upload(client)
    page = client.get("/ui/portfolio").text
    assert "One decision per pair so far" in page and "295.40 EUR" in page
    _upload(client)
    page = client.get("/ui/portfolio").text
    assert 'class="data heat"' in page and "GR-D-004711" in page


def test_the_override_report_covers_the_period(client: TestClient) -> None:
    _upload(client)
    _override(client, new_grade="5")
    page = client.get("/ui/reports/overrides").text
    assert re.search(r'data-testid="n-overrides">1<', page) and OFFICER in page
    empty = client.get("/ui/reports/overrides?since=2020-01-01&until=2020-12-31").text
    assert re.search(r'data-testid="n-overrides">0<', empty)
    bad = client.get("/ui/reports/overrides?since=yesterday")
    assert bad.status_code == 422 and "Give the period as two dates" in bad.text
    # issue 18 point 7: the last day there is was a 500 (its next day overflows)
    far = client.get("/ui/reports/overrides?until=9999-12-31")
    assert far.status_code == 422 and "before 9999-12-31" in far.text


# --- helpers ---------------------------------------------------------------------------------


def test_read_form_reads_multipart_files_and_fields_with_python_multipart() -> None:
    import asyncio

    from starlette.requests import Request

    from riskengine.serve.ui.forms import read_form

    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"payload_file\"; "
            b"filename=\"d.json\"\r\nContent-Type: application/json\r\n\r\n"
            b"{\"a\": \"\xce\xb1\"}\r\n--XyZ--\r\n")

    def request(content_type: str, data: bytes) -> Request:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": data, "more_body": False}

        return Request({"type": "http", "method": "POST", "path": "/", "headers": [
            (b"content-type", content_type.encode())]}, receive)

    form = asyncio.run(read_form(request("multipart/form-data; boundary=XyZ", body)))
    assert form is not None and form.fields == {"csrf": "abc"}
    assert form.files == {"payload_file": ("d.json", '{"a": "α"}'.encode())}
    assert asyncio.run(read_form(request("application/json", b"{}"))) is None
    broken = asyncio.run(read_form(request("multipart/form-data; boundary=XyZ",
                                           b"--XyZ\r\nbroken")))
    assert broken is None or broken.fields == {}  # no CSRF token: refused by the caller
    plain = asyncio.run(read_form(request("application/x-www-form-urlencoded",
                                          b"q=GR-D%2A&x=1&x=2")))
    assert plain is not None and plain.fields == {"q": "GR-D*", "x": "1"}


def test_payload_from_form_leaves_blank_fields_out() -> None:
    payload, problems = payload_from_form(FormData(fields={
        "debtor_id": "D-1", "requested_limit": " ", "statements-0-revenue": "inf",
        "statements-0-period_end": "2025-12-31", "statements-1-statement_type": "audited",
        "statements-1-revenue": " ", "adverse-0-event_type": "bounced_cheque"}))
    assert payload["debtor"] == {"debtor_id": "D-1"}
    assert "requested_limit" not in payload["exposure"]
    assert len(payload["statements"]) == 1 and "adverse_records" not in payload
    assert problems == ["statement 1 revenue: not a finite number"]


def test_payload_from_form_keeps_the_groups_in_form_order() -> None:
    """Groups are numbered by their place among the filled ones; ids past the limit of
    10 groups are not read."""
    payload, _ = payload_from_form(FormData(fields={
        "statements-3-period_end": "2023-12-31", "statements-1-period_end": "2025-12-31",
        "statements-10-period_end": "2020-12-31", "currency": "USD",
        "adverse-2-event_type": "insolvency", "adverse-2-event_date": "2024-01-02",
        "adverse-0-record_id": "TIR-1", "adverse-0-event_type": "bounced_cheque",
        "adverse-0-currency": "EUR"}))
    assert [s["period_end"] for s in payload["statements"]] == ["2025-12-31", "2023-12-31"]
    assert {s["currency"] for s in payload["statements"]} == {"USD"}
    assert [(a["record_id"], a["currency"]) for a in payload["adverse_records"]] == [
        ("TIR-1", "EUR"), ("FORM-ADV-2", "USD")]


def test_a_refused_pair_shows_no_advance_or_fees(store: DecisionStore) -> None:
    client = _client(store, StubEngine(limit=0.0))  # the stub's policy grants nothing
    assert _login(client).status_code == 303
    assert _upload(client).status_code == 303
    page = client.get("/ui/debtor?id=GR-D-004711").text
    assert 'data-testid="no-terms"' in page and "Advance rate" not in page
    assert "commission" not in page.split('data-testid="no-terms"')[0].split("Latest decision")[1]


class _CutEngine(StubEngine):
    """The stub deciding 100,000 against a limit in force of 250,000."""

    def score_payloads(self, payloads: list[Any], **kw: Any) -> list[dict[str, Any]]:
        return [{**d, "current_limit": 250_000.0}
                for d in super().score_payloads(payloads, **kw)]


def test_the_debtor_page_flags_a_cut_against_the_limit_in_force(store: DecisionStore) -> None:
    client = _client(store, _CutEngine(limit=100_000.0))
    assert _login(client).status_code == 303 and _upload(client).status_code == 303
    page = client.get("/ui/debtor?id=GR-D-004711").text
    # 250,000 - 100,000 = 150,000 (hand calculation)
    assert ("Decrease: the decision grants 100,000 EUR, 150,000 EUR below the limit in force "
            "(250,000 EUR)") in page
    client = _client(store, StubEngine())  # 350,000 granted, no limit in force given
    assert _login(client).status_code == 303 and _upload(client).status_code == 303
    assert 'data-testid="decrease"' not in client.get("/ui/debtor?id=GR-D-004711").text
