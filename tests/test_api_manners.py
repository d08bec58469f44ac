"""An HTTP API with manners (issue 18 point 7) and MLflow as its users expect (point 8).

Source: issue 18 §7 (errors as application/problem+json naming the record, never a
value; typed models and operation ids; 201 Created with Location; paged lists; JSON
request logs with a request id; a 500 closes the connection; a failed model load is a
bounded 503; a missing, read-only or full store is one line at start-up and a logged
error at run time) and §8 (experiments declare their kind, descriptions, resolved
paths).
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from test_service import AUTH, OTHER, SECRET, TOKEN, FakeEngine, LiveServer, _check, _payload

from riskengine.errors import StoreError
from riskengine.serve.api import create_app
from riskengine.store import DecisionStore

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id", "errors"}


@pytest.fixture
def store() -> Any:
    s = DecisionStore("sqlite://")
    yield s
    s.close()


def _client(store: DecisionStore, engine: Any = None, **kw: Any) -> TestClient:
    app = create_app(FakeEngine() if engine is None else engine, store, [TOKEN], **kw)
    return TestClient(app, raise_server_exceptions=False)


def _is_problem(r: Any, status: int) -> dict[str, Any]:
    """The answer is an RFC 9457 problem of ``status``, echoing no SECRET; its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) == PROBLEM_KEYS, body
    assert body["status"] == status and body["type"].startswith("urn:riskengine:problem:")
    assert body["title"] and isinstance(body["detail"], str)
    assert body["request_id"] == r.headers["x-request-id"]
    assert SECRET not in r.text
    for item in body["errors"]:
        assert set(item) <= {"loc", "type", "msg", "record"}
    return body


# --- one error shape for every status --------------------------------------------------


def test_every_error_status_is_a_problem_without_echo(store: DecisionStore) -> None:
    c = _client(store, max_body_bytes=20_000)
    # 400: malformed JSON holding a secret
    b = _is_problem(c.post("/v1/decisions", content=b'{"x": "' + SECRET.encode(),
                           headers=AUTH), 400)
    assert b["errors"][0]["type"] == "json_invalid" and b["instance"] == "/v1/decisions"
    # 401: no token, a wrong token
    _is_problem(c.post("/v1/decisions", json=_payload()), 401)
    r = c.get("/v1/decisions", headers={"Authorization": f"Bearer {SECRET}"})
    assert _is_problem(r, 401) and r.headers["www-authenticate"] == "Bearer"
    # 403: a token without the scope (RISKENGINE_API_TOKEN scopes, docs/SERVICE.md)
    read_only = create_app(FakeEngine(), store, [f"{OTHER} scopes=read"])
    r = TestClient(read_only).post("/v1/decisions", json=_payload(),
                                   headers={"Authorization": f"Bearer {OTHER}"})
    assert _is_problem(r, 403)["errors"][0]["type"] == "insufficient_scope"
    # 404: an unknown route naming a secret; an unknown decision id
    r = c.get(f"/v1/nothing/{SECRET}", headers=AUTH)
    assert _is_problem(r, 404)["instance"].startswith("urn:riskengine:request:")
    assert _is_problem(c.get("/v1/decisions/999", headers=AUTH), 404)["instance"] == (
        "/v1/decisions/{decision_id}")
    # 404 on a route with an id: the instance is the route's template, not the id
    r = c.get(f"/v1/debtors/{SECRET}/decision", headers=AUTH)
    assert _is_problem(r, 404)["instance"] == "/v1/debtors/{debtor_id}/decision"
    # 405
    _is_problem(c.delete("/v1/decisions", headers=AUTH), 405)
    # 409: a funding check against an unrated debtor
    unrated = _client(store, FakeEngine(grade=None))
    assert unrated.post("/v1/decisions", json=_payload(), headers=AUTH).status_code == 201
    _is_problem(unrated.post("/v1/invoices/check", json=_check(), headers=AUTH), 409)
    # 413
    _is_problem(c.post("/v1/decisions", content=b" " * 30_000, headers=AUTH), 413)
    # 422: a bad value in a named field
    p = _payload()
    p["debtor"]["country"] = SECRET
    b = _is_problem(c.post("/v1/decisions", json=p, headers=AUTH), 422)
    assert b["errors"][0]["loc"] == ["body", "debtor", "country"]
    # 500: an unexpected error, its text never shown
    b = _is_problem(_client(store, FakeEngine(fail=RuntimeError(SECRET))).post(
        "/v1/decisions", json=_payload(), headers=AUTH), 500)
    assert b["detail"] == "internal error; see the service log"
    # 503: the engine is not loaded
    _is_problem(TestClient(create_app(None, store, [TOKEN])).post(
        "/v1/decisions", json=_payload(), headers=AUTH), 503)


def test_a_broken_identity_names_the_statement(store: DecisionStore) -> None:
    """The record that broke: statement 1 of the payload (its gross profit no longer
    revenue minus cost of sales), as a position, never its period or figures."""
    from test_service import EXAMPLE  # the real engine validates the identities

    from riskengine.api import default_engine

    p = json.loads(json.dumps(EXAMPLE))
    p["statements"][1]["gross_profit"] += 1_000_000.0
    r = _client(store, default_engine()).post("/v1/decisions", json=p, headers=AUTH)
    b = _is_problem(r, 422)
    broken = [e for e in b["errors"] if e["type"] == "identity_broken"]
    assert broken and {e["record"] for e in broken} == {"statements[1]"}
    assert all(e["loc"][:3] == ["body", "statements", 1] for e in broken)
    assert p["statements"][1]["period_end"] not in r.text
    second = _payload("D-2")  # another debtor (its own ids), statement 1 broken likewise
    second["statements"][1]["gross_profit"] += 1_000_000.0
    r = _client(store, default_engine()).post("/v1/decisions", json=[EXAMPLE, second],
                                               headers=AUTH)
    assert {e["record"] for e in _is_problem(r, 422)["errors"]
            if e["type"] == "identity_broken"} == {"[1].statements[1]"}


def test_the_openapi_document_has_operation_ids_and_typed_answers(store: DecisionStore
                                                                   ) -> None:
    doc = _client(store).get("/openapi.json").json()
    ops = [(path, method, op) for path, item in doc["paths"].items()
           for method, op in item.items()]
    ids = [op.get("operationId") for _, _, op in ops]
    assert all(ids) and len(set(ids)) == len(ids)
    assert all("_" not in i for i in ids)  # written, not FastAPI's generated name_path_method
    assert doc["paths"]["/v1/decisions"]["post"]["operationId"] == "createDecisions"
    assert "201" in doc["paths"]["/v1/decisions"]["post"]["responses"]
    schemas = doc["components"]["schemas"]
    assert {"Problem", "ProblemItem", "DecisionPage", "LimitActionPage", "AlertPage",
            "LimitsAnswer",
            "InsurerRequestPage", "Ready", "Health"} <= set(schemas)
    for path, method, op in ops:
        if path.startswith("/v1/"):
            problem = op["responses"]["401"]["content"]["application/problem+json"]
            assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}, (path,
                                                                                    method)


# --- 201 Created and Location ------------------------------------------------------------


def test_a_stored_decision_is_201_with_its_location(store: DecisionStore) -> None:
    c = _client(store)
    r = c.post("/v1/decisions", json=_payload(), headers=AUTH)
    assert r.status_code == 201
    location = r.headers["location"]
    assert location == f"/v1/decisions/{r.headers['x-decision-id']}"
    got = c.get(location, headers=AUTH)
    assert got.status_code == 200 and got.json()["debtor_id"] == "GR-D-004711"
    assert got.json()["grade"] == r.json()["grade"] == "5"
    # the same request again under its Idempotency-Key: the same answer and location
    key = {**AUTH, "Idempotency-Key": "k-201"}
    first = c.post("/v1/decisions", json=_payload("D-IDEM"), headers=key)
    again = c.post("/v1/decisions", json=_payload("D-IDEM"), headers=key)
    assert first.status_code == again.status_code == 201
    assert first.headers["location"] == again.headers["location"]


# --- pages ---------------------------------------------------------------------------------


def _walk(c: TestClient, url: str, key: str = "items") -> list[list[dict[str, Any]]]:
    pages = []
    while url:
        r = c.get(url, headers=AUTH)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body[key])
        url = body["next"]
        assert ("link" in r.headers) == (url is not None)
    return pages


def test_decisions_and_limit_actions_are_paged_in_a_stable_order(store: DecisionStore
                                                                 ) -> None:
    c = _client(store)
    for i in range(5):
        assert c.post("/v1/decisions", json=_payload(f"D-{i}"), headers=AUTH).status_code == 201
    pages = _walk(c, "/v1/decisions?limit=2")
    assert [len(p) for p in pages] == [2, 2, 1]
    ids = [d["decision_id"] for p in pages for d in p]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [d["debtor_id"] for p in pages for d in p] == [f"D-{i}" for i in range(5)]
    # a filter is kept in the next link
    assert [d["debtor_id"] for p in _walk(c, "/v1/decisions?debtor_id=D-3&limit=1")
            for d in p] == ["D-3"]
    # rows stored after the first page was read come at the end, none repeated
    first = c.get("/v1/decisions?limit=3", headers=AUTH).json()
    c.post("/v1/decisions", json=_payload("D-5"), headers=AUTH)
    rest = _walk(c, first["next"])
    assert [d["debtor_id"] for p in rest for d in p] == ["D-3", "D-4", "D-5"]
    actions = [a for p in _walk(c, "/v1/limit-actions?limit=4") for a in p]
    assert len(actions) == 6 and [a["debtor_id"] for a in actions] == [
        f"D-{i}" for i in range(6)]
    assert all(a["action"] == "new" and a["new_limit"] == 25_000.0 for a in actions)
    r = c.get("/v1/decisions?cursor=notacursor", headers=AUTH)
    assert _is_problem(r, 422)["errors"][0]["loc"] == ["query", "cursor"]
    assert "notacursor" not in r.text
    assert c.get("/v1/decisions?limit=501", headers=AUTH).status_code == 422


def test_insurer_requests_are_paged_by_debtor_and_supplier(store: DecisionStore) -> None:
    rows = pd.DataFrame({"debtor_id": ["D-2", "D-1", "D-1", "D-3"],
                         "supplier_id": ["S-1", "S-2", "S-1", "S-1"],
                         "insurer_id": "INS", "policy_id": "POL", "currency": "EUR",
                         "product": "non_recourse", "approved_limit": 100.0,
                         "insured_limit": 50.0, "insured_amount": 45.0,
                         "cover_basis": "insured", "amount_requested": 50.0,
                         "reason": "limit_above_cover"})
    store.replace_insurer_requests(rows, debtors=None, source="test", as_of="2026-07-01")
    c = _client(store)
    pages = _walk(c, "/v1/insurer-requests?limit=3", key="requests")
    assert [(r["debtor_id"], r["supplier_id"]) for p in pages for r in p] == [
        ("D-1", "S-1"), ("D-1", "S-2"), ("D-2", "S-1"), ("D-3", "S-1")]
    assert [len(p) for p in pages] == [3, 1]


# --- request ids, the request log, the 500's connection --------------------------------------


def test_the_request_id_is_kept_or_made_and_logged(store: DecisionStore,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    c = _client(store)
    with caplog.at_level(logging.INFO, logger="riskengine.serve.access"):
        r = c.get("/v1/debtors/D-1/decision", headers={**AUTH, "X-Request-ID": "req-42"})
        made = c.get("/health")
        bad = c.get("/health", headers={"X-Request-ID": "x" * 200})
    assert r.headers["x-request-id"] == "req-42" and r.json()["request_id"] == "req-42"
    assert len(made.headers["x-request-id"]) == 32
    assert bad.headers["x-request-id"] != "x" * 200
    lines = [rec.fields for rec in caplog.records if rec.name == "riskengine.serve.access"]
    assert lines[0]["request_id"] == "req-42" and lines[0]["method"] == "GET"
    assert lines[0]["route"] == "/v1/debtors/{debtor_id:path}/decision"
    assert lines[0]["status"] == 404 and lines[0]["duration_ms"] >= 0
    assert lines[1] == {**lines[1], "route": "/health", "status": 200,
                        "request_id": made.headers["x-request-id"]}


def test_the_log_lines_are_json(capsys: pytest.CaptureFixture[str]) -> None:
    from riskengine.serve.problems import JsonFormatter

    rec = logging.LogRecord("riskengine.serve.access", logging.INFO, __file__, 1, "request",
                            None, None)
    rec.fields = {"request_id": "r-1", "status": 201}
    line = json.loads(JsonFormatter().format(rec))
    assert line["message"] == "request" and line["request_id"] == "r-1"
    assert line["status"] == 201 and line["time"].endswith("Z")


def test_a_500_closes_the_keep_alive_connection_cleanly(store: DecisionStore) -> None:
    app = create_app(FakeEngine(fail=RuntimeError(SECRET)), store, [TOKEN])
    body = json.dumps(_payload()).encode()
    with LiveServer(app) as srv, socket.create_connection(("127.0.0.1", srv.port), 10) as s:
        s.sendall(b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n"
                  b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Type: "
                  b"application/json\r\nContent-Length: " + str(len(body)).encode()
                  + b"\r\n\r\n" + body)
        data = b""
        while chunk := s.recv(65536):  # the server closes: recv returns b"" (EOF)
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500")
    assert b"connection: close" in head.lower()
    assert json.loads(rest)["status"] == 500 and SECRET.encode() not in data


# --- the store: start-up and run time ----------------------------------------------------------


def test_a_missing_store_directory_is_an_error_not_created(tmp_path: Path) -> None:
    where = tmp_path / "no" / "such"
    with pytest.raises(StoreError, match="does not exist; create it first"):
        DecisionStore(f"sqlite:///{where / 'store.db'}")
    assert not where.exists()


def test_a_read_only_or_full_store_is_refused_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import shutil

    from riskengine.store import database

    url = f"sqlite:///{tmp_path / 'store.db'}"
    # the tests run as root, whom chmod does not stop: the check's own call is faked
    monkeypatch.setattr(database.os, "access", lambda p, mode: not mode & os.W_OK)
    with pytest.raises(StoreError, match="read-only") as err:
        DecisionStore(url)
    assert "\n" not in str(err.value)
    monkeypatch.undo()
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(database.shutil, "disk_usage",
                        lambda p: usage._replace(free=1024))
    with pytest.raises(StoreError, match="disk is full"):
        DecisionStore(url)


def test_a_store_that_cannot_open_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot be opened: file is not a database") as err:
        DecisionStore(f"sqlite:///{junk}")
    assert "\n" not in str(err.value) and "SELECT" not in str(err.value)


def test_serve_on_a_missing_store_directory_exits_2_with_one_line(tmp_path: Path) -> None:
    from test_service import _serve

    proc = _serve(["--insecure-dev", "--store", f"sqlite:///{tmp_path / 'gone' / 's.db'}"],
                  {})
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1 and "does not exist" in lines[0] and "Traceback" not in err


def test_a_store_failing_at_run_time_is_a_503_and_one_logged_line(
        store: DecisionStore, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def fail(*a: Any, **k: Any) -> Any:
        raise sa.exc.OperationalError("INSERT INTO decisions ...", {"x": SECRET},
                                      sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(store, "store_decisions", fail)
    with caplog.at_level(logging.ERROR, logger="riskengine.serve.api"):
        r = _client(store).post("/v1/decisions", json=_payload(), headers=AUTH)
    b = _is_problem(r, 503)
    assert b["type"] == "urn:riskengine:problem:store-unavailable"
    assert r.headers["connection"] == "close" and int(r.headers["retry-after"]) > 0
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert "database or disk is full" in errors[0].getMessage()
    assert SECRET not in errors[0].getMessage()


# --- MLflow -------------------------------------------------------------------------------------


def test_mlflow_experiments_models_and_params_as_users_expect(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    from mlflow import MlflowClient

    from riskengine.tracking import runs

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri, registry_uri=uri)
    old = client.create_experiment("riskengine-pd")  # made before issue 18: no kind
    model = tmp_path / "model"
    model.mkdir()
    (model / "card.md").write_text("a model")
    monkeypatch.chdir(tmp_path)
    run_id = runs.log_training_run({"data_path": runs.path_param("data.arff")},
                                   {"auc": 0.8}, {"model": model}, "abc", tracking_uri=uri)
    exp = client.get_experiment(old)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    assert "PD model development" in exp.tags["mlflow.note.content"]
    new = runs.get_or_create_experiment("riskengine-rerate", tracking_uri=uri)
    assert client.get_experiment(new).tags["mlflow.experimentKind"] == (
        "custom_model_development")
    assert client.get_run(run_id).data.params["data_path"] == str(tmp_path / "data.arff")
    version = runs.register_model_version("riskengine-pd", run_id, "model", val_auc=0.8,
                                          tracking_uri=uri)
    assert "Probability-of-default" in client.get_registered_model("riskengine-pd").description
    mv = client.get_model_version("riskengine-pd", version)
    assert mv.description == f"riskengine-pd from run {run_id}, validation AUC 0.8000"
