"""The adverse records the store has seen and the desk's "new adverse records" alert
(issue 18 point 3; riskengine/store/adverse.py, riskengine/store/desk.py).

Expected rows are counted by hand from the runs and payloads built here: a record of a
debtor the register did not hold before is its baseline (no alert); a record first seen
on a debtor it held is an alert on the day it was first seen.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from riskengine.config import load_policy
from riskengine.serve.lists import AlertPage
from riskengine.store import DecisionStore
from riskengine.store.adverse import KEY
from riskengine.store.desk import AlertFilter, alerts_page
from riskengine.store.runs import apply_run
from riskengine.store.tables import adverse_seen

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]


def _pairs(debtors: list[str]) -> pd.DataFrame:
    n = len(debtors)
    return pd.DataFrame({
        "supplier_id": ["S-1"] * n, "debtor_id": debtors, "approved_limit": [50_000.0] * n,
        "knockout": [False] * n, "approved_outstanding": [0.0] * n,
        "current_limit": [0.0] * n, "currency": ["EUR"] * n, "grade": ["5"] * n,
        "pd": [0.01] * n, "advance_rate": [0.8] * n, "sector": ["C"] * n,
        "country": ["DE"] * n})


def _records(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame([(d, t, pd.Timestamp(day), a, "EUR") for d, t, day, a in rows],
                        columns=list(KEY))


def test_a_run_keeps_records_once_and_alerts_the_new_ones_of_known_debtors(
        store_url: str) -> None:
    """Run 1 (2026-03-31) takes on D-0 and D-1 with two records: baselines, no alert.
    Run 2 (2026-06-30) sees D-0's old record again (kept once), a new payment order of
    D-0 (alert, first seen 2026-06-30), and D-2, a debtor new to the register, with its
    record (its baseline: no alert). The same record twice in one run is one row."""
    policy = load_policy()
    store = DecisionStore(store_url)
    try:
        first = _records([("D-0", "bounced_cheque", "2025-11-02", 850.0),
                          ("D-1", "unpaid_bill", "2026-01-15", 1_200.0),
                          ("D-1", "unpaid_bill", "2026-01-15", 1_200.0)])
        c1 = apply_run(store, _pairs(["D-0", "D-1"]), as_of="2026-03-31", run="r1",
                       policy=policy, adverse=first)
        assert c1["adverse_new"] == 2
        second = _records([("D-0", "bounced_cheque", "2025-11-02", 850.0),
                           ("D-0", "payment_order", "2026-05-20", 4_250.126),
                           ("D-2", "bounced_cheque", "2026-02-01", 300.0)])
        c2 = apply_run(store, _pairs(["D-0", "D-1", "D-2"]), as_of="2026-06-30", run="r2",
                       policy=policy, adverse=second)
        assert c2["adverse_new"] == 2
        with store.connect() as conn:
            rows = conn.execute(sa.select(adverse_seen.c.debtor_id, adverse_seen.c.first_seen,
                                          adverse_seen.c.baseline, adverse_seen.c.source)
                                .order_by(adverse_seen.c.id)).all()
        assert [tuple(r) for r in rows] == [
            ("D-0", dt.date(2026, 3, 31), True, "rerate:r1"),
            ("D-1", dt.date(2026, 3, 31), True, "rerate:r1"),
            ("D-0", dt.date(2026, 6, 30), False, "rerate:r2"),
            ("D-2", dt.date(2026, 6, 30), True, "rerate:r2")]
        alerts, total = alerts_page(store, AlertFilter(kind="new_adverse"))
        assert total == 1
        a = alerts[0]
        assert (a["debtor_id"], a["day"], a["detail"], a["record_date"], a["after"],
                a["currency"]) == ("D-0", dt.date(2026, 6, 30), "payment_order", "2026-05-20",
                                   4_250.13, "EUR")  # the amount kept in cents
        # a window before the record was seen has none; every kind lists it too
        assert alerts_page(store, AlertFilter(kind="new_adverse",
                                              until=dt.date(2026, 6, 29)))[1] == 0
        assert "new_adverse" in {r["kind"] for r in alerts_page(store, AlertFilter())[0]}
    finally:
        store.close()


def test_a_failed_run_keeps_no_record() -> None:
    """The records go in the register's transaction: a run the register refuses (a pair
    held in another currency) writes neither."""
    from riskengine.errors import RerateError

    policy = load_policy()
    store = DecisionStore("sqlite://")
    try:
        apply_run(store, _pairs(["D-0"]), as_of="2026-03-31", run="r1", policy=policy)
        usd = _pairs(["D-0"]).assign(currency="USD")
        with pytest.raises(RerateError, match="holds its limit in EUR"):
            apply_run(store, usd, as_of="2026-06-30", run="r2", policy=policy,
                      adverse=_records([("D-0", "unpaid_bill", "2026-05-01", 10.0)]))
        assert store.count("adverse_seen") == 0
    finally:
        store.close()


class _Engine:
    """Decides every pair at 25,000 EUR, grade 5 (the pages and the store are what is
    tested here, not the engine)."""

    versions = {"model_version": "m", "policy_version": "p"}

    def score_payloads(self, payloads: list[Any], **kw: Any) -> list[dict[str, Any]]:
        out = []
        for p in payloads:
            for ex in p.pairs:
                out.append({"debtor_id": p.debtor.debtor_id, "supplier_id": ex.supplier_id,
                            "as_of": str(p.as_of), "grade": "5", "pd": 0.01,
                            "approved_limit": 25_000.0, "currency": ex.currency,
                            "decided_at": kw.get("decided_at"), "model_version": "m",
                            "policy_version": "p", "input_hash": "h" * 64,
                            "knockouts": [], "binding_constraints": []})
        return out

    decide_payload = None


def test_http_decisions_keep_records_and_the_alerts_page_shows_the_new_one(
        tmp_path: Path) -> None:
    """POST the example (debtor new to the register: its two records are its baseline),
    then the example with a payment order added: one alert, sourced to that decision, on
    the alerts page (kind ``new adverse``) and in its CSV export."""
    from riskengine.serve.accounts import hash_password
    from riskengine.serve.api import create_app

    example = json.loads((ROOT / "examples" / "debtor.json").read_text())
    store = DecisionStore(f"sqlite:///{tmp_path / 's.db'}")
    store.add_user("maria.p", "officer", hash_password("correct horse battery staple"))
    client = TestClient(create_app(_Engine(), store, ["t" * 32]), base_url="http://testserver")
    auth = {"Authorization": "Bearer " + "t" * 32}
    assert client.post("/v1/decisions", json=example, headers=auth).status_code == 201
    assert store.count("adverse_seen") == 2
    later = copy.deepcopy(example)
    later["adverse_records"].append({
        "record_id": "TIR-2026-000123", "event_type": "payment_order",
        "event_date": "2026-06-02", "amount": 12_500.0, "currency": "EUR",
        "status": "open", "settlement_date": None})
    r = client.post("/v1/decisions", json=later, headers=auth)
    assert r.status_code == 201, r.text
    decision_id = int(r.headers["location"].rsplit("/", 1)[-1])
    alerts, total = alerts_page(store, AlertFilter(kind="new_adverse"))
    assert total == 1 and alerts[0]["debtor_id"] == "GR-D-004711"
    with store.connect() as conn:
        source = conn.execute(sa.select(adverse_seen.c.source)
                              .where(adverse_seen.c.baseline.is_(False))).scalar_one()
    assert source == f"decision:{decision_id}"
    page = client.get("/ui/login")
    nonce = re.search(r'name="nonce" value="([^"]*)"', page.text)
    assert nonce
    client.post("/ui/login", data={"nonce": nonce.group(1), "username": "maria.p",
                                   "password": "correct horse battery staple"})
    html = client.get("/ui/alerts?kind=new_adverse").text
    assert "New adverse record: payment order of 12,500 EUR, dated 2026-06-02" in html
    csv_text = client.get("/ui/export/alerts.csv?kind=new_adverse").text
    assert "new_adverse,2026-06-30,GR-D-004711" in csv_text.replace('"', "")
    assert "2026-06-02" in csv_text and "12500.00" in csv_text
    store.close()


def test_the_alerts_list_of_the_api_pages_the_new_adverse_records(store_url: str) -> None:
    """``GET /v1/alerts?kind=new_adverse`` (scope read): the three new records of run 2,
    newest first, two a page with a next link; amounts in cents; a bad date is a 422
    naming the field."""
    from riskengine.serve.api import create_app

    policy = load_policy()
    store = DecisionStore(store_url)
    try:
        debtors = ["D-0", "D-1", "D-2"]
        apply_run(store, _pairs(debtors), as_of="2026-03-31", run="r1", policy=policy,
                  adverse=_records([]))
        apply_run(store, _pairs(debtors), as_of="2026-06-30", run="r2", policy=policy,
                  adverse=_records([(d, "unpaid_bill", "2026-06-01", 100.0 + k + 0.004)
                                    for k, d in enumerate(debtors)]))
        client = TestClient(create_app(_Engine(), store, ["t" * 32 + " scopes=read"]),
                            base_url="http://testserver")
        auth = {"Authorization": "Bearer " + "t" * 32}
        first = client.get("/v1/alerts?kind=new_adverse&limit=2", headers=auth)
        assert first.status_code == 200, first.text
        body = first.json()
        AlertPage.model_validate(body)  # the answer is what the OpenAPI document says
        assert [(a["debtor_id"], a["after"], a["day"]) for a in body["items"]] == [
            ("D-0", 100.0, "2026-06-30"), ("D-1", 101.0, "2026-06-30")]
        rest = client.get(body["next"], headers=auth).json()
        assert [a["debtor_id"] for a in rest["items"]] == ["D-2"] and rest["next"] is None
        bad = client.get("/v1/alerts?since=2026-13-01", headers=auth)
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "since"]
    finally:
        store.close()
