"""The HTTP service: authentication, routes, errors without echo, size limit, the store.

Sources: issue 5 §3-§4 (routes, bearer tokens with no default, 422 with field
paths and reasons that never echo submitted values, 404/405 never 500, body
size limit, /ready only once the engine is loaded, decisions stored before the
answer, a restart loses nothing acknowledged); docs/POLICY.md §4 and
riskengine/policy/funding.py's doctest for the funding-check figures.

Most cases use FastAPI's in-process TestClient; the ``live`` tests start the
real uvicorn server on a free loopback port and call it over HTTP.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from riskengine.errors import InvalidInputError, RiskEngineError
from riskengine.serve.api import create_app
from riskengine.store import DecisionStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "examples" / "debtor.json").read_text())
TOKEN = "test-token-0123456789abcdef"
OTHER = "second-token-fedcba9876543210"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "XYZZY-SECRET-7f3a9c"


class FakeEngine:
    """Same surface as :class:`riskengine.scoring.engine.Engine` for the service: ``score_payloads``."""

    model_version = "fake-1"
    policy_version = "2026.1"

    def __init__(self, grade: str | None = "5", limit: float | None = 25_000.0,
                 fail: Exception | None = None) -> None:
        self.grade, self.limit, self.fail = grade, limit, fail
        self.calls = 0

    @property
    def versions(self) -> dict[str, str]:
        return {"model_version": "fake-1", "policy_version": "2026.1"}

    def score_payloads(self, payloads: list[Any], *, decided_at: str | None = None,
                       reference_date: Any = None) -> list[dict[str, Any]]:
        self.calls += 1
        self.last_kw = {"decided_at": decided_at, "reference_date": reference_date}
        if self.fail is not None:
            raise self.fail
        return [{"debtor_id": p.debtor.debtor_id, "as_of": p.as_of.isoformat(), "pd": 0.0123,
                 "grade": self.grade, "approved_limit": self.limit, "model_version": "fake-1",
                 "policy_version": "2026.1", "input_hash": f"h-{p.debtor.debtor_id}",
                 "decided_at": decided_at} for p in payloads]


def _payload(debtor_id: str = "GR-D-004711", supplier_id: str = "GR-S-000318",
             product: str = "recourse") -> dict[str, Any]:
    p = copy.deepcopy(EXAMPLE)
    p["debtor"]["debtor_id"] = debtor_id
    if debtor_id != EXAMPLE["debtor"]["debtor_id"]:  # invoice ids are unique per supplier
        for rec in p["adverse_records"]:
            rec["record_id"] = f"{debtor_id}-{rec['record_id']}"
        for inv in p["invoices"]:
            inv["invoice_id"] = f"{debtor_id}-{inv['invoice_id']}"
    p["exposure"]["supplier_id"] = supplier_id
    p["exposure"]["product"] = product
    return p


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DecisionStore]:
    """An in-memory store; the register's tests (``ON_BOTH``) get a SQLite file and a
    PostgreSQL database (conftest's ``pg_url``) instead."""
    backend = getattr(request, "param", "memory")
    url = {"memory": "sqlite://", "sqlite": f"sqlite:///{tmp_path / 'store.db'}"}.get(backend)
    s = DecisionStore(url or request.getfixturevalue("pg_url"))
    yield s
    s.close()


ON_BOTH = pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
"""The register's tests run on both backends."""


def _client(engine: Any, store: DecisionStore, **kw: Any) -> TestClient:
    kw.setdefault("tokens", [TOKEN, OTHER])
    tokens = kw.pop("tokens")
    return TestClient(create_app(engine, store, tokens, **kw), raise_server_exceptions=False)


@pytest.fixture
def client(store: DecisionStore) -> TestClient:
    return _client(FakeEngine(), store)


# --- authentication -----------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-token-0000000000"}, {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": "Bearer"}, {"Authorization": f"Bearer {TOKEN}x"},
])
def test_v1_routes_need_a_valid_bearer_token(client: TestClient, headers: dict[str, str]
                                             ) -> None:
    for method, url in (("POST", "/v1/decisions"), ("POST", "/v1/invoices/check"),
                        ("GET", "/v1/debtors/D-1/decision"), ("GET", "/v1/limits/D-1")):
        r = client.request(method, url, headers=headers, json=_payload())
        assert r.status_code == 401, (method, url)
        assert r.headers["www-authenticate"] == "Bearer"


def test_every_configured_token_is_accepted(client: TestClient, store: DecisionStore) -> None:
    for token in (TOKEN, OTHER):
        r = client.post("/v1/decisions", json=_payload(),
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201
    assert store.count("decisions") == 2


READ_ONLY = "read-only-token-0123456789abcdef"
FUNDING = "funding-token-0123456789abcdef"


def test_tokens_have_scopes_and_each_route_needs_its_own(store: DecisionStore) -> None:
    """Issue 18: tokens get scopes (decide, check, read); a bare token has all three; a
    route outside a token's scopes answers 403 naming the scope, never a value."""
    c = _client(FakeEngine(), store, tokens=[TOKEN, f"{READ_ONLY} scopes=read",
                                             f"{FUNDING} scopes=check,read"])
    routes = {"decide": ("POST", "/v1/decisions"), "check": ("POST", "/v1/invoices/check"),
              "read": ("GET", "/v1/limits/D-1")}
    allowed = {TOKEN: {"decide", "check", "read"}, READ_ONLY: {"read"},
               FUNDING: {"check", "read"}}
    for token, scopes in allowed.items():
        for scope, (method, url) in routes.items():
            r = c.request(method, url, json=_payload(),
                          headers={"Authorization": f"Bearer {token}"})
            if scope in scopes:
                assert r.status_code != 403, (token, scope)
            else:
                assert r.status_code == 403, (token, scope)
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["status"] == 403 and r.json()["errors"] == [{
                    "loc": ["header", "Authorization"], "type": "insufficient_scope",
                    "msg": f"this token lacks the '{scope}' scope this route needs"}]
                assert r.headers["www-authenticate"] == (
                    f'Bearer error="insufficient_scope", scope="{scope}"')
    assert store.count("decisions") == 1  # only the all-scope token decided


def test_every_v1_route_declares_its_scope(store: DecisionStore) -> None:
    from riskengine.serve.api import ROUTE_SCOPES

    doc = create_app(FakeEngine(), store, [TOKEN]).openapi()
    routes = {(m.upper(), path) for path, ops in doc["paths"].items()
              if path.startswith("/v1") for m in ops}
    assert routes == {(m, p.replace(":path}", "}")) for m, p in ROUTE_SCOPES}


def test_token_file_lines_with_scopes(tmp_path: Path) -> None:
    from riskengine.serve.security import TokenSet, read_token_file

    f = tmp_path / "tokens"
    f.write_text(f"# ops\n{TOKEN}\n{READ_ONLY} scopes=read\n{FUNDING} scopes=check,read\n")
    f.chmod(0o600)
    entries = read_token_file(f)
    assert entries == [TOKEN, f"{READ_ONLY} scopes=read", f"{FUNDING} scopes=check,read"]
    ts = TokenSet(entries)
    assert ts.scopes_of(TOKEN) == {"decide", "check", "read"}
    assert ts.scopes_of(FUNDING) == {"check", "read"} and ts.scopes_of("nope" * 5) is None
    f.write_text(f"{READ_ONLY} scopes=read,admin\n")
    with pytest.raises(RiskEngineError, match=r"token 1 in token file .* \(line 1\): "
                       r"scopes= lists an unknown scope") as info:
        read_token_file(f)
    assert READ_ONLY not in str(info.value)


def test_there_is_no_default_token(store: DecisionStore) -> None:
    with pytest.raises(RiskEngineError, match="no API token configured"):
        create_app(FakeEngine(), store, [])
    with pytest.raises(RiskEngineError, match="no API token configured"):
        create_app(FakeEngine(), store, None)


def test_insecure_dev_serves_without_token(store: DecisionStore) -> None:
    c = _client(FakeEngine(), store, tokens=None, insecure_dev=True)
    assert c.post("/v1/decisions", json=_payload()).status_code == 201


def test_health_and_openapi_need_no_token(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    doc = client.get("/openapi.json").json()
    assert {"/v1/decisions", "/v1/invoices/check", "/v1/debtors/{debtor_id}/decision",
            "/health", "/ready"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "DebtorPayload" in doc["components"]["schemas"]
    body = doc["paths"]["/v1/decisions"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["anyOf"][0] == {"$ref": "#/components/schemas/DebtorPayload"}


# --- decisions ----------------------------------------------------------------------


@ON_BOTH
def test_one_payload_gives_one_stored_decision(client: TestClient, store: DecisionStore
                                               ) -> None:
    r = client.post("/v1/decisions", json=_payload(), headers=AUTH)
    assert r.status_code == 201
    d = r.json()
    assert (d["debtor_id"], d["grade"], d["pd"]) == ("GR-D-004711", "5", 0.0123)
    assert r.headers["x-decision-id"] == "1"
    stored = store.latest_decision("GR-D-004711", "GR-S-000318")
    assert stored is not None and stored["input_hash"] == "h-GR-D-004711"
    assert stored["supplier_id"] == "GR-S-000318" and stored["product"] == "recourse"
    got = client.get("/v1/debtors/GR-D-004711/decision", headers=AUTH)
    assert got.status_code == 200 and got.json()["pd"] == 0.0123
    assert got.headers["x-decision-id"] == "1"


def test_array_gives_a_list_in_order(client: TestClient, store: DecisionStore) -> None:
    ids = [f"D-{i}" for i in range(12)]  # more than the inline batch: goes to a thread
    r = client.post("/v1/decisions", json=[_payload(d) for d in ids], headers=AUTH)
    assert r.status_code == 201
    assert [d["debtor_id"] for d in r.json()] == ids
    assert r.headers["x-decision-id"] == ",".join(str(i) for i in range(1, 13))
    assert store.count("decisions") == 12


def test_missing_as_of_is_today(client: TestClient) -> None:
    import datetime as dt

    p = _payload()
    del p["as_of"]
    r = client.post("/v1/decisions", json=p, headers=AUTH)
    assert r.json()["as_of"] == dt.date.today().isoformat()


def test_latest_decision_404_when_none(client: TestClient) -> None:
    r = client.get("/v1/debtors/NOBODY/decision", headers=AUTH)
    assert r.status_code == 404
    client.post("/v1/decisions", json=_payload("D-9", "S-9"), headers=AUTH)
    assert client.get("/v1/debtors/D-9/decision", params={"supplier_id": "S-9"},
                      headers=AUTH).status_code == 200
    assert client.get("/v1/debtors/D-9/decision", params={"supplier_id": "S-0"},
                      headers=AUTH).status_code == 404


@pytest.mark.parametrize("path", ["/v1/debtors/GR/D/7/decision", "/v1/debtors/GR%2FD%2F7/decision"])
def test_an_id_with_a_slash_is_read_back(client: TestClient, path: str) -> None:
    """Issue 13 point 7: a stored id with '/' was a 404 on GET (the route split on it)."""
    assert client.post("/v1/decisions", json=_payload("GR/D/7", "S/1"), headers=AUTH
                       ).status_code == 201
    got = client.get(path, params={"supplier_id": "S/1"}, headers=AUTH)
    assert got.status_code == 200 and got.json()["debtor_id"] == "GR/D/7"
    assert client.get("/v1/debtors/GR/D/decision", headers=AUTH).status_code == 404


@pytest.mark.parametrize("bad,status", [("D,5", 422), ("%20D000008%20", 422), ("x" * 65, 422),
                                        ("D%0A6", 404)])  # no route spans a line break
def test_ids_outside_the_grammar_are_refused_without_echo(client: TestClient, bad: str,
                                                          status: int) -> None:
    r = client.get(f"/v1/debtors/{bad}/decision", headers=AUTH)
    assert r.status_code == status and bad not in r.text and "D000008" not in r.text
    if status == 422:
        assert r.json()["errors"][0]["loc"] == ["path", "debtor_id"]
    r = client.get("/v1/debtors/D-1/decision", params={"supplier_id": "S,1"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "supplier_id"]
    r = client.post("/v1/invoices/check", json=_check(debtor_id="D,5", invoice_id="I 1"),
                    headers=AUTH)
    assert r.status_code == 422 and "D,5" not in r.text
    assert {tuple(d["loc"]) for d in r.json()["errors"]} == {
        ("body", "debtor_id"), ("body", "invoice_id")}


# --- errors never echo --------------------------------------------------------------


def test_422_names_fields_and_reasons_without_echo(client: TestClient, store: DecisionStore
                                                   ) -> None:
    p = _payload()
    p["debtor"]["country"] = SECRET
    p["statements"][1]["revenue"] = SECRET
    p["exposure"]["currency"] = SECRET
    p["adverse_records"][0]["settlement_date"] = None  # settled without a date
    r = client.post("/v1/decisions", json=p, headers=AUTH)
    assert r.status_code == 422
    assert SECRET not in r.text
    details = r.json()["errors"]
    locs = {tuple(d["loc"]) for d in details}
    assert ("body", "debtor", "country") in locs
    assert ("body", "statements", 1, "revenue") in locs
    assert ("body", "exposure", "currency") in locs
    assert ("body", "adverse_records", 0, "settlement_date") in locs
    assert all(set(d) <= {"loc", "type", "msg", "record"} for d in details)
    assert {d.get("record") for d in details if d["loc"][1] == "statements"} == {
        "statements[1]"}  # the record: which statement
    assert store.count("decisions") == 0


def test_422_in_an_array_names_the_position(client: TestClient) -> None:
    bad = _payload("D-2")
    bad["invoices"][0]["amount"] = -1.0
    r = client.post("/v1/decisions", json=[_payload("D-1"), bad], headers=AUTH)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", 1, "invoices", 0, "amount"]


def test_engine_input_errors_are_422_without_values(store: DecisionStore) -> None:
    exc = InvalidInputError(f"statements row 0: revenue = '{SECRET}': bad", [{
        "table": "statements", "record": "0", "debtor_id": "D-1", "column": "revenue",
        "value": SECRET, "reason": "not_numeric", "message": f"revenue {SECRET} is bad"}])
    r = _client(FakeEngine(fail=exc), store).post("/v1/decisions", json=_payload(),
                                                  headers=AUTH)
    assert r.status_code == 422 and SECRET not in r.text
    assert r.json()["errors"] == [{"loc": ["body", "statements", "revenue"],
                                   "type": "not_numeric", "msg": "must be a number"}]
    r = _client(FakeEngine(fail=exc), store).post(
        "/v1/decisions", json=[_payload("D-0"), _payload("D-1")], headers=AUTH)
    assert r.json()["errors"][0]["loc"] == ["body", 1, "statements", "revenue"]


def test_unexpected_engine_error_is_500_without_detail(store: DecisionStore) -> None:
    r = _client(FakeEngine(fail=RuntimeError(SECRET)), store).post(
        "/v1/decisions", json=_payload(), headers=AUTH)
    assert r.status_code == 500 and SECRET not in r.text
    assert store.count("decisions") == 0


@pytest.mark.parametrize("body", [
    b'{"debtor": {"debtor_id": "' + SECRET.encode(), b"[{]", b"\xff\xfe" + SECRET.encode(),
    b"", b"nul",
])
def test_malformed_json_is_400_without_echo(client: TestClient, body: bytes) -> None:
    r = client.post("/v1/decisions", content=body, headers=AUTH)
    assert r.status_code == 400
    assert SECRET not in r.text and r.json()["errors"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("body", ["42", '"text"', "null", "[]", "[1]", "{}"])
def test_wrong_json_shapes_are_422(client: TestClient, body: str) -> None:
    r = client.post("/v1/decisions", content=body, headers=AUTH)
    assert r.status_code == 422


def test_batch_size_is_limited(store: DecisionStore) -> None:
    c = _client(FakeEngine(), store, max_batch=2)
    r = c.post("/v1/decisions", json=[_payload(f"D-{i}") for i in range(3)], headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "too_long"


def test_unknown_routes_404_and_wrong_methods_405(client: TestClient) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/v1/nope", headers=AUTH).status_code == 404
    assert client.delete("/v1/decisions", headers=AUTH).status_code == 405
    assert client.delete("/v1/debtors/D-1/decision", headers=AUTH).status_code == 405
    assert client.post("/health").status_code == 405


def test_body_size_limit_413_declared_and_streamed(store: DecisionStore) -> None:
    c = _client(FakeEngine(), store, max_body_bytes=2_000)
    big = json.dumps(_payload()).encode()
    assert len(big) > 2_000
    r = c.post("/v1/decisions", content=big, headers=AUTH)
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for i in range(0, len(big), 500):
            yield big[i:i + 500]

    r = c.post("/v1/decisions", content=chunks(), headers=AUTH)
    assert r.status_code == 413
    assert store.count("decisions") == 0


# --- readiness ----------------------------------------------------------------------


def test_ready_only_once_the_engine_is_loaded(store: DecisionStore) -> None:
    release = threading.Event()

    def loader() -> FakeEngine:
        release.wait(10)
        return FakeEngine()

    app = create_app(None, store, [TOKEN], engine_loader=loader)
    with TestClient(app) as c:
        assert c.get("/health").status_code == 200
        r = c.get("/ready")
        assert r.status_code == 503 and r.json() == {"status": "loading"}
        assert c.post("/v1/decisions", json=_payload(), headers=AUTH).status_code == 503
        release.set()
        for _ in range(200):
            if c.get("/ready").status_code == 200:
                break
            time.sleep(0.01)
        assert c.get("/ready").json()["model_version"] == "fake-1"
        assert c.post("/v1/decisions", json=_payload(), headers=AUTH).status_code == 201


def test_ready_says_failed_when_the_engine_cannot_load(store: DecisionStore) -> None:
    def loader() -> FakeEngine:
        raise RuntimeError("artifact missing")

    with TestClient(create_app(None, store, [TOKEN], engine_loader=loader,
                               load_retries=())) as c:
        for _ in range(200):
            if c.get("/ready").json()["status"] == "failed":
                break
            time.sleep(0.01)
        r = c.get("/ready")
        assert r.status_code == 503 and r.json() == {"status": "failed"}
        # no attempt left: 503 without Retry-After (a client must not retry forever)
        assert "retry-after" not in r.headers
        r = c.post("/v1/decisions", json=_payload(), headers=AUTH)
        assert r.status_code == 503 and "retry-after" not in r.headers
        assert r.headers["content-type"] == "application/problem+json"
        assert "failed to load" in r.json()["detail"] and "artifact" not in r.text


def test_a_failed_engine_load_is_retried_a_bounded_number_of_times(
        store: DecisionStore) -> None:
    """Issue 18 point 7: after a failed load the 503's Retry-After is the time to the next
    attempt (bounded by the attempts left); the second attempt succeeds here."""
    attempts: list[float] = []

    def loader() -> FakeEngine:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise RuntimeError("artifact missing")
        return FakeEngine()

    with TestClient(create_app(None, store, [TOKEN], engine_loader=loader,
                               load_retries=(3.0,))) as c:
        for _ in range(200):
            if attempts:
                break
            time.sleep(0.01)
        time.sleep(0.05)
        r = c.get("/ready")
        assert r.status_code == 503 and r.json() == {"status": "retrying"}
        assert 1 <= int(r.headers["retry-after"]) <= 3
        r = c.post("/v1/decisions", json=_payload(), headers=AUTH)
        assert r.status_code == 503 and 1 <= int(r.headers["retry-after"]) <= 3
        for _ in range(500):
            if c.get("/ready").status_code == 200:
                break
            time.sleep(0.01)
        assert c.get("/ready").status_code == 200 and len(attempts) == 2


# --- funding checks -----------------------------------------------------------------


def _check(**kw: Any) -> dict[str, Any]:
    base = {"supplier_id": "GR-S-000318", "debtor_id": "GR-D-004711", "invoice_id": "INV-1",
            "amount": 4_000.0, "invoice_date": "2026-07-01", "due_date": "2026-09-29",
            "as_of": "2026-07-06", "approved_outstanding": 20_000.0}
    return {**base, **kw}


@ON_BOTH
def test_funding_check_against_the_register_limit(client: TestClient, store: DecisionStore
                                                  ) -> None:
    """funding.py doctest: limit 25,000, outstanding 20,000, grade 5, recourse:
    a 4,000 invoice is approved whole (advance 85 % = 3,400); with 24,000
    outstanding only 1,000 fits (over limit 3,000, advance 850)."""
    assert client.post("/v1/decisions", json=_payload(), headers=AUTH).status_code == 201
    r = client.post("/v1/invoices/check", json=_check(), headers=AUTH)
    assert r.status_code == 200, r.text
    a = r.json()
    assert (a["limit"], a["limit_source"], a["grade"]) == (25_000.0, "limit_register", "5")
    assert (a["approved"], a["advance"], a["unapproved"]) == (4_000.0, 3_400.0, 0.0)
    assert a["reasons"] == [] and a["check_id"] == 1 and a["decision_id"] == 1
    r = client.post("/v1/invoices/check", json=_check(approved_outstanding=24_000.0),
                    headers=AUTH)
    a = r.json()
    assert (a["approved"], a["over_limit"], a["advance"]) == (1_000.0, 3_000.0, 850.0)
    assert a["reasons"] == ["over_limit"]
    # before the decision's date no decision is in force: no funding (issue 13 point 3;
    # this answered 200 with the not-yet-effective decision's grade before)
    r = client.post("/v1/invoices/check", json=_check(invoice_date="2026-06-01",
                                                      as_of="2026-06-29"), headers=AUTH)
    assert r.status_code == 404 and "in force" in r.json()["detail"]
    checks = store.funding_checks("GR-S-000318", "GR-D-004711")
    assert [c["approved"] for c in checks] == [1_000.0, 4_000.0]
    assert checks[0]["limit_source"] == "limit_register" and checks[0]["input_hash"]


@ON_BOTH
def test_funding_check_ignores_a_decision_not_yet_in_force(store: DecisionStore) -> None:
    """Issue 13 point 3 (docs/SERVICE.md): a decision as of 2199 (grade D, limit 0) stored
    after the 2026-06-30 one does not change a check dated 2026-07-06."""
    store.record_decisions([{"debtor_id": "D-1", "as_of": "2026-06-30", "grade": "5",
                             "pd": 0.01, "approved_limit": 25_000.0}])
    store.record_decisions([{"debtor_id": "D-1", "as_of": "2199-01-01", "grade": "D",
                             "pd": 1.0, "approved_limit": 0.0}])
    c = _client(FakeEngine(), store)
    a = c.post("/v1/invoices/check", json=_check(supplier_id="S-1", debtor_id="D-1"),
               headers=AUTH).json()
    assert (a["grade"], a["limit"], a["approved"], a["decision_id"]) == ("5", 25_000.0,
                                                                         4_000.0, 1)
    a = c.post("/v1/invoices/check", json=_check(supplier_id="S-1", debtor_id="D-1",
                                                 as_of="2199-01-02"), headers=AUTH).json()
    assert (a["grade"], a["approved"], a["decision_id"]) == ("D", 0.0, 2)


@ON_BOTH
def test_funding_check_uses_a_lowered_register_limit(client: TestClient,
                                                     store: DecisionStore) -> None:
    client.post("/v1/decisions", json=_payload(), headers=AUTH)
    store.set_limit("GR-S-000318", "GR-D-004711", 21_000.0, effective_date="2026-07-01",
                    reason="committee", changed_by="officer")
    a = client.post("/v1/invoices/check", json=_check(), headers=AUTH).json()
    assert (a["limit"], a["approved"]) == (21_000.0, 1_000.0)


@ON_BOTH
def test_funding_check_falls_back_to_the_latest_decision(store: DecisionStore) -> None:
    store.record_decisions([{"debtor_id": "D-1", "grade": "5", "pd": 0.01, "as_of": "2026-06-30",
                             "approved_limit": 25_000.0}])  # no supplier: no register row
    c = _client(FakeEngine(), store)
    a = c.post("/v1/invoices/check", json=_check(supplier_id="S-1", debtor_id="D-1"),
               headers=AUTH).json()
    assert (a["limit_source"], a["approved"]) == ("latest_decision", 4_000.0)


def test_funding_check_on_a_rating_of_unknown_date_is_stale(store: DecisionStore) -> None:
    """A stored decision without as_of (nor decided_at) is not known to be current: this
    funded 4,000 before issue 15."""
    store.record_decisions([{"debtor_id": "D-1", "grade": "5", "pd": 0.01,
                             "approved_limit": 25_000.0}])
    c = _client(FakeEngine(), store)
    a = c.post("/v1/invoices/check", json=_check(supplier_id="S-1", debtor_id="D-1"),
               headers=AUTH).json()
    assert (a["approved"], a["reasons"], a["rating_date"]) == (0.0, ["rating_stale"], None)




@ON_BOTH
def test_funding_check_refusals(store: DecisionStore) -> None:
    c = _client(FakeEngine(grade=None, limit=None), store)
    assert c.post("/v1/invoices/check", json=_check(), headers=AUTH).status_code == 404
    c.post("/v1/decisions", json=_payload(), headers=AUTH)
    r = c.post("/v1/invoices/check", json=_check(), headers=AUTH)
    assert r.status_code == 409 and "unrated" in r.json()["detail"]
    assert store.count("funding_checks") == 0


def test_funding_check_422_without_echo(client: TestClient, store: DecisionStore) -> None:
    client.post("/v1/decisions", json=_payload(), headers=AUTH)
    r = client.post("/v1/invoices/check", json=_check(amount=SECRET, product=SECRET,
                                                      invoice_date=SECRET), headers=AUTH)
    assert r.status_code == 422 and SECRET not in r.text
    assert {tuple(d["loc"]) for d in r.json()["errors"]} == {
        ("body", "amount"), ("body", "product"), ("body", "invoice_date")}
    r = client.post("/v1/invoices/check", json=_check(due_date="2026-06-01"), headers=AUTH)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"loc": ["body", "due_date"], "type": "date_order",
                                   "msg": "dates in the wrong order"}]
    r = client.post("/v1/invoices/check", json=_check(product="leasing"), headers=AUTH)
    assert r.status_code == 422 and "leasing" not in r.text
    assert store.count("funding_checks") == 0


@pytest.mark.parametrize("text", ["01/06/2026", "June 2026", "2026-13-01", "1782777600",
                                  "2026-07-06T00:00:00Z"])
def test_dates_are_strict_over_http_without_echo(client: TestClient, store: DecisionStore,
                                                 text: str) -> None:
    """Issue 13 point 3: one ISO form (YYYY-MM-DD); anything else is a 422 naming the
    field, never reinterpreted, never echoed."""
    p = _payload()
    p["as_of"] = text
    p["statements"][0]["period_end"] = text
    r = client.post("/v1/decisions", json=p, headers=AUTH)
    assert r.status_code == 422
    assert {tuple(d["loc"]) for d in r.json()["errors"]} == {
        ("body", "as_of"), ("body", "statements", 0, "period_end")}
    assert text not in r.text and "2026" not in r.text
    r = client.post("/v1/invoices/check", json=_check(as_of=text), headers=AUTH)
    assert r.status_code == 422 and text not in r.text
    assert [d["loc"] for d in r.json()["errors"]] == [["body", "as_of"]]
    assert store.count("decisions") == 0 and store.count("funding_checks") == 0


# --- the real server over loopback ----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn in a background thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, timeout_keep_alive=30)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            time.sleep(0.01)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.mark.parametrize("case", ["auth", "errors", "limits"])
def test_live_server_over_loopback(store: DecisionStore, case: str) -> None:
    app = create_app(FakeEngine(), store, [TOKEN], max_body_bytes=50_000)
    with LiveServer(app) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        if case == "auth":
            assert http.post("/v1/decisions", json=_payload()).status_code == 401
            assert http.post("/v1/decisions", json=_payload(),
                             headers={"Authorization": "Bearer nope-nope-nope-nope"}
                             ).status_code == 401
            r = http.post("/v1/decisions", json=_payload(), headers=AUTH)
            assert r.status_code == 201 and r.json()["grade"] == "5"
            assert http.get("/ready").status_code == 200
            assert http.get("/health").status_code == 200
        elif case == "errors":
            p = _payload()
            p["debtor"]["nace"] = SECRET
            r = http.post("/v1/decisions", json=p, headers=AUTH)
            assert r.status_code == 422 and SECRET not in r.text
            assert http.get("/v1/nothing", headers=AUTH).status_code == 404
            assert http.delete("/v1/decisions", headers=AUTH).status_code == 405
        else:
            r = http.post("/v1/decisions", content=b" " * 60_000, headers=AUTH)
            assert r.status_code == 413
            # the connection is usable again afterwards (a new one if the server closed it)
            assert http.get("/health").status_code == 200


def test_decisions_survive_a_service_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'decisions.db'}"
    first = DecisionStore(url)
    with LiveServer(create_app(FakeEngine(), first, [TOKEN])) as srv:
        r = httpx.post(f"{srv.url}/v1/decisions", json=_payload("D-KEEP", "S-KEEP"),
                       headers=AUTH)
        assert r.status_code == 201
    first.close()
    second = DecisionStore(url)
    with LiveServer(create_app(FakeEngine(), second, [TOKEN])) as srv:
        r = httpx.get(f"{srv.url}/v1/debtors/D-KEEP/decision", headers=AUTH)
        assert r.status_code == 200 and r.json()["input_hash"] == "h-D-KEEP"
    second.close()


# --- riskengine serve ------------------------------------------------------------------


def _serve(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if k != "RISKENGINE_API_TOKEN"}
    full.update(env)
    return subprocess.Popen([sys.executable, "-m", "riskengine.cli", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=full, cwd=str(ROOT))


def test_serve_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    proc = _serve(["--store", f"sqlite:///{tmp_path / 's.db'}"], {})
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "no API token configured" in err


def test_serve_refuses_insecure_dev_off_loopback(tmp_path: Path) -> None:
    proc = _serve(["--insecure-dev", "--host", "0.0.0.0",
                   "--store", f"sqlite:///{tmp_path / 's.db'}"], {})
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "loopback only" in err


def test_serve_refuses_a_short_token(tmp_path: Path) -> None:
    proc = _serve(["--store", f"sqlite:///{tmp_path / 's.db'}"],
                  {"RISKENGINE_API_TOKEN": "short"})
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "shorter than 16" in err and "short\n" not in err


def _wait_for(url: str, ok: Callable[[httpx.Response], bool], seconds: float) -> httpx.Response:
    deadline = time.monotonic() + seconds
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=2)
            if ok(last):
                return last
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not as expected within {seconds} s: {last!r}")


def test_serve_insecure_dev_warns_loudly_and_serves(tmp_path: Path) -> None:
    """`riskengine serve` end to end: warns, loads the shipped engine, decides."""
    port = _free_port()
    proc = _serve(["--insecure-dev", "--port", str(port),
                   "--store", f"sqlite:///{tmp_path / 's.db'}"], {})
    try:
        _wait_for(f"http://127.0.0.1:{port}/health", lambda r: r.status_code == 200, 60)
        ready = _wait_for(f"http://127.0.0.1:{port}/ready",
                          lambda r: r.json()["status"] in ("ready", "failed"), 120)
        assert ready.json()["status"] == "ready", "the shipped engine did not load"
        r = httpx.post(f"http://127.0.0.1:{port}/v1/decisions", json=EXAMPLE, timeout=30)
        assert r.status_code == 201 and r.json()["debtor_id"] == "GR-D-004711"
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert "WARNING" in err and "WITHOUT AUTHENTICATION" in err


def test_the_shell_gives_the_engine_the_clock(store: DecisionStore) -> None:
    """The core reads no clock: the service passes decided_at (UTC) and the reference date."""
    import datetime as dt

    engine = FakeEngine()
    c = _client(engine, store)
    d = c.post("/v1/decisions", json=[_payload("D-1"), _payload("D-2")], headers=AUTH).json()
    assert engine.last_kw["reference_date"] == dt.date.today().isoformat()
    assert d[0]["decided_at"] == engine.last_kw["decided_at"]
    assert str(engine.last_kw["decided_at"]).endswith("Z")


# --- the real engine end to end ----------------------------------------------------------


@pytest.fixture(scope="module")
def real_engine() -> Any:
    from riskengine.api import load_engine

    return load_engine()


def test_real_engine_end_to_end_over_loopback(real_engine: Any, tmp_path: Path) -> None:
    """HTTP gives the engine's own decision (same inputs, versions and clock: equal), stores
    it, serves it back, and funds an invoice against its limit."""
    import datetime as dt
    import re

    from riskengine.io.console import money_rounded
    from riskengine.serve.common import RESPONSE_MONEY

    store = DecisionStore(f"sqlite:///{tmp_path / 'e2e.db'}")
    app = create_app(real_engine, store, [TOKEN])
    with LiveServer(app) as srv, httpx.Client(base_url=srv.url, timeout=60) as http:
        r = http.post("/v1/decisions", json=EXAMPLE, headers=AUTH)
        assert r.status_code == 201, r.text
        d = r.json()
        register = d.pop("register")  # what the register did: not part of the decision
        assert (register["applied"], register["action"]) == (True, "new")
        assert 0.0 < d["pd"] < 1.0 and d["grade"] in {str(g) for g in range(1, 11)} | {"D"}
        assert d["model_version"] == real_engine.model_version
        assert d["policy_version"] == real_engine.policy.version
        direct = real_engine.score_payloads(
            [EXAMPLE], decided_at=d["decided_at"],
            reference_date=dt.date.today().isoformat())[0]
        # the answer is the engine's decision with its money in cents (issue 18 point 6)
        assert json.loads(json.dumps(money_rounded(direct, RESPONSE_MONEY))) == d
        assert json.loads(json.dumps(direct)) != d  # the expected loss is not whole cents
        money = {k: v for k, v in d.items() if k in RESPONSE_MONEY and v is not None}
        assert money and all(round(v, 2) == v for v in money.values()), money
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", d["decided_at"])
        got = http.get("/v1/debtors/GR-D-004711/decision", headers=AUTH)
        assert got.status_code == 200 and got.json() == d
        second = _payload("GR-D-000002", "GR-S-000318", "non_recourse")
        # the register now knows the supplier's one debtor (issue 16: the dispersion of its
        # debtors, HHI 1, is an input of its pairs); the same limit, a new decision
        book = store.supplier_book({"GR-S-000318": "EUR"}, as_of="2026-06-30")
        assert book.debtor_hhi == {"GR-S-000318": 1.0} and book.ratings == {}
        batch = http.post("/v1/decisions", json=[EXAMPLE, second], headers=AUTH).json()
        assert [b["debtor_id"] for b in batch] == ["GR-D-004711", "GR-D-000002"]
        assert batch[0]["register"]["action"] == "unchanged"
        again = real_engine.score_payloads(
            [EXAMPLE, second], decided_at=batch[0]["decided_at"],
            reference_date=dt.date.today().isoformat(), supplier_book=book)
        assert [{k: v for k, v in b.items() if k != "register"} for b in batch] == json.loads(
            json.dumps(money_rounded(again, RESPONSE_MONEY)))
        assert batch[0]["approved_limit"] == d["approved_limit"]
        assert "supplier_concentrated" in batch[0]["limit_notes"]
        check = http.post("/v1/invoices/check", headers=AUTH, json={
            "supplier_id": "GR-S-000318", "debtor_id": "GR-D-004711", "amount": 50_000.0,
            "invoice_date": "2026-07-01", "due_date": "2026-09-29", "as_of": "2026-07-02",
            "approved_outstanding": 0.0})
        assert check.status_code == 200, check.text
        a = check.json()
        assert (a["limit"], a["grade"], a["product"]) == (
            batch[0]["approved_limit"], d["grade"], d["product"])
        assert a["approved"] == min(50_000.0, a["limit"])
    assert store.count("decisions") == 3 and store.count("funding_checks") == 1
    store.close()


@pytest.mark.parametrize("where", ["as_of", "statement"])
def test_future_payload_refused_by_http_and_python_api_alike(
        real_engine: Any, store: DecisionStore, where: str) -> None:
    """Issue 13 point 3: a payload dated 2199 (or with a statement dated 2199) is refused
    by the HTTP service (422 naming the field, not the value) and by ``riskengine.score``
    and ``Engine.decide_one`` (InvalidInputError); nothing is stored."""
    import riskengine

    p = _payload()
    if where == "as_of":
        p["as_of"], loc, field = "2199-01-01", ["body", "as_of"], "as_of"
    else:
        p["statements"][0]["period_end"] = "2199-12-31"
        loc, field = ["body", "statements", 0, "period_end"], "period_end"  # statement 0
    c = _client(real_engine, store)
    r = c.post("/v1/decisions", json=p, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == loc
    assert r.json()["errors"][0]["type"] == "future_date"
    assert "2199" not in r.text
    assert store.count("decisions") == 0
    with pytest.raises(InvalidInputError, match=field) as err:
        riskengine.score(p)
    assert "reference date" in str(err.value) or "future_date" in {
        x["reason"] for x in err.value.problems}
    with pytest.raises(InvalidInputError, match=field):
        real_engine.decide_one(p, reference_date="2026-07-01")


# --- issue 15: the register behind decisions and funding checks --------------------------


def test_an_older_decision_is_history_only_and_the_answer_says_so(client: TestClient,
                                                                  store: DecisionStore) -> None:
    """docs/SERVICE.md: 200 with register.applied false, reason older_than_register."""
    newer = {**_payload(), "as_of": "2026-07-10"}
    r = client.post("/v1/decisions", json=newer, headers=AUTH)
    assert r.json()["register"]["applied"] is True
    r = client.post("/v1/decisions", json=_payload(), headers=AUTH)  # as of 2026-06-30
    assert r.status_code == 201
    assert r.json()["register"] == {"applied": False, "reason": "older_than_register",
                                    "register_as_of": "2026-07-10"}
    assert store.count("decisions") == 2
    limits = client.get("/v1/limits/GR-D-004711", headers=AUTH).json()["limits"]
    assert [(e["source"], e["as_of"]) for e in limits] == [("decision:1", "2026-07-10")]


def test_get_limits_lists_the_register_of_a_debtor(store: DecisionStore) -> None:
    c = _client(FakeEngine(limit=25_000.0), store)
    c.post("/v1/decisions", json=_payload(), headers=AUTH)
    c.post("/v1/decisions", json=_payload(supplier_id="GR-S-000999"), headers=AUTH)
    cut = _client(FakeEngine(limit=10_000.0), store)
    r = cut.post("/v1/decisions", json={**_payload(), "as_of": "2026-07-10"}, headers=AUTH)
    assert r.json()["register"]["status"] == "pending_cut"
    r = c.get("/v1/limits/GR-D-004711", params={"as_of": "2026-07-15"}, headers=AUTH)
    assert r.status_code == 200
    assert r.json()["limits"] == [
        {"supplier_id": "GR-S-000318", "approved_limit": 25_000.0, "currency": "EUR",
         "effective_date": "2026-06-30", "status": "pending_cut", "source": "decision:3",
         "as_of": "2026-07-10", "pending": {"limit": 10_000.0, "effective_date": "2026-08-09"}},
        {"supplier_id": "GR-S-000999", "approved_limit": 25_000.0, "currency": "EUR",
         "effective_date": "2026-06-30", "status": "active", "source": "decision:2",
         "as_of": "2026-06-30", "pending": None}]
    assert c.get("/v1/limits/GR-D-000001", headers=AUTH).status_code == 404
    assert c.get("/v1/limits/GR-D-004711").status_code == 401


def test_funding_check_refuses_caller_terms_and_uses_the_decision(store: DecisionStore) -> None:
    """Issue 15 point 4: grade "1" + recourse from the caller on a non-recourse grade-6 pair
    gave a 95 % advance; the terms are now the stored decision's (its advance rate 0.5)."""
    c = _client(FakeEngine(), store)
    r = c.post("/v1/invoices/check", json=_check(grade="1", product="recourse",
                                                 supplier_grade="1", dilution=0.0),
               headers=AUTH)
    assert r.status_code == 422
    assert {(tuple(d["loc"]), d["type"]) for d in r.json()["errors"]} == {
        (("body", f), "extra_forbidden") for f in ("grade", "product", "supplier_grade",
                                                   "dilution")}
    store.record_decisions([{"debtor_id": "D-6", "supplier_id": "S-1", "as_of": "2026-06-30",
                             "grade": "6", "pd": 0.05, "approved_limit": 25_000.0,
                             "product": "non_recourse", "advance_rate": 0.5}])
    a = c.post("/v1/invoices/check", json=_check(supplier_id="S-1", debtor_id="D-6",
                                                 approved_outstanding=0.0), headers=AUTH).json()
    assert (a["product"], a["grade"], a["supplier_grade"]) == ("non_recourse", "6", None)
    assert (a["limit_source"], a["limit_status"]) == ("limit_register", "active")
    assert (a["approved"], a["advance_rate"], a["advance"]) == (4_000.0, 0.5, 2_000.0)
    assert store.count("funding_checks") == 1


def test_a_rating_older_than_the_policy_maximum_is_unfundable(store: DecisionStore) -> None:
    """[funding] max_rating_age_months = 12 (CRR art. 173(1)(b)): a rating of 2025-06-30
    funds until 2026-06-30 and not on 2026-07-06; with 24 months it still funds."""
    from riskengine.config import load_policy
    from riskengine.policy import CreditPolicy

    store.record_decisions([{"debtor_id": "D-1", "supplier_id": "S-1", "as_of": "2025-06-30",
                             "grade": "5", "pd": 0.01, "approved_limit": 25_000.0}])
    check = _check(supplier_id="S-1", debtor_id="D-1")
    a = _client(FakeEngine(), store).post("/v1/invoices/check", json=check,
                                          headers=AUTH).json()
    assert (a["approved"], a["advance"], a["reasons"]) == (0.0, 0.0, ["rating_stale"])
    assert a["rating_date"] == "2025-06-30"
    d = load_policy().to_dict()
    d["funding"] = {"max_rating_age_months": 24}
    lenient = _client(FakeEngine(), store, policy=CreditPolicy.from_dict(d))
    a = lenient.post("/v1/invoices/check", json=check, headers=AUTH).json()
    assert (a["approved"], a["reasons"]) == (4_000.0, [])


def test_idempotency_key_replays_the_first_answer(store: DecisionStore) -> None:
    """docs/SERVICE.md: the same key and body answer the first response and store nothing;
    the same key with another body is 422; without a key every post is stored."""
    engine = FakeEngine()
    c = _client(engine, store)
    key = {**AUTH, "Idempotency-Key": "order-7f3a-0001"}
    first = c.post("/v1/decisions", json=_payload(), headers=key)
    again = c.post("/v1/decisions", json=_payload(), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["x-decision-id"] == first.headers["x-decision-id"] == "1"
    assert again.headers["idempotent-replayed"] == "true"
    assert (engine.calls, store.count("decisions"), store.count("limit_history")) == (1, 1, 1)
    other = c.post("/v1/decisions", json=_payload(debtor_id="GR-D-000002"), headers=key)
    assert other.status_code == 422
    assert other.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert other.json()["errors"][0]["type"] == "idempotency_key_reused"
    bad = c.post("/v1/decisions", json=_payload(), headers={**AUTH, "Idempotency-Key": "k" * 129})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == [
        "header", "Idempotency-Key"]
    c.post("/v1/decisions", json=_payload(), headers=AUTH)
    c.post("/v1/decisions", json=_payload(), headers=AUTH)
    assert store.count("decisions") == 3 and store.count("idempotency_keys") == 1
