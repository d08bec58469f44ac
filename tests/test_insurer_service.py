"""The request loop over HTTP and the command line (issue 16 point 2), on SQLite and
PostgreSQL: a decision lists what to ask the insurer for, an answer updates the register
(history kept) and decides the debtor again; a bad answer set is refused whole (422
naming each answer's position and field, never a value; nothing applied).

Figures: the example payload (examples/debtor.json) asks 350,000 and gets it (grade 6);
without an insurer limit the policy's discretionary cover applies, 25,000 at 60 %
(policy.toml [insurance]); a partial grant of 300,000 at 90 % covers 300,000 (insured
amount 270,000) and 50,000 is still to ask; a grant of 400,000 covers all of it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from riskengine.api import load_engine
from riskengine.cli import main
from riskengine.serve import insurer as insurer_mod
from riskengine.serve.api import create_app
from riskengine.store import DecisionStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "examples" / "debtor.json").read_text())
TOKEN = "i" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAY = dt.date(2026, 6, 30)  # the example's as-of date: the day answers arrive here
SUPPLIER = EXAMPLE["exposure"]["supplier_id"]


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(insurer_mod, "_today", lambda: DAY)


def _payload(debtor_id: str) -> dict[str, Any]:
    p = copy.deepcopy(EXAMPLE)
    p["debtor"]["debtor_id"] = debtor_id
    p["exposure"]["insurer_limit"] = None  # no insurer data: the register's, or none
    del p["fx_rates"]  # no rates of its own: the store's
    return p


def _answer(debtor_id: str, **kw: Any) -> dict[str, Any]:
    out = {"insurer_id": "INS00", "policy_id": "INS00-WT1", "debtor_id": debtor_id,
           "supplier_id": None, "currency": "EUR", "requested_amount": 350_000.0,
           "granted_amount": 300_000.0, "cover_pct": 0.9, "status": "partial",
           "decision_date": "2026-06-29", "effective_date": None}
    out.update(kw)
    return out


def test_requests_and_answers_round_trip_over_http(engine: Any, store_url: str) -> None:
    with DecisionStore(store_url) as store:
        client = TestClient(create_app(engine, store, [TOKEN], ui=False))
        d = client.post("/v1/decisions", json=_payload("D-INS-1"), headers=AUTH).json()
        assert (d["approved_limit"], d["cover_basis"], d["insured_limit"]) == (
            350_000.0, "discretionary", 25_000.0)
        assert d["insured_amount"] == pytest.approx(15_000.0)
        req = client.get("/v1/insurer-requests", headers=AUTH).json()["requests"]
        assert [(q["debtor_id"], q["supplier_id"], q["insurer_id"], q["policy_id"],
                 q["amount_requested"], q["reason"]) for q in req] == [
            ("D-INS-1", SUPPLIER, "INS00", "INS00-WT1", 350_000.0, "no_insurer_limit")]

        r = client.post("/v1/insurer-responses", json=[_answer("D-INS-1")], headers=AUTH)
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["recorded"], out["redecided"], out["not_redecided"]) == (
            1, ["D-INS-1"], [])
        latest = client.get("/v1/debtors/D-INS-1/decision", headers=AUTH).json()
        assert latest["cover_basis"] == "insurer_limit" and latest["insurer_status"] == "partial"
        assert latest["insured_limit"] == 300_000.0
        assert latest["insured_amount"] == pytest.approx(270_000.0)
        assert latest["as_of"] == DAY.isoformat()
        req = client.get("/v1/insurer-requests?debtor_id=D-INS-1", headers=AUTH).json()
        assert [(q["amount_requested"], q["insured_limit"], q["reason"])
                for q in req["requests"]] == [(350_000.0, 300_000.0, "above_granted")]

        full = _answer("D-INS-1", granted_amount=400_000.0, status="granted")
        assert client.post("/v1/insurer-responses", json=[full],
                           headers=AUTH).json()["recorded"] == 1
        assert client.get("/v1/insurer-requests", headers=AUTH).json()["requests"] == []
        latest = client.get("/v1/debtors/D-INS-1/decision", headers=AUTH).json()
        assert latest["insured_limit"] == 350_000.0
        # every state is kept (append-only), the latest is the limit's state
        history = store.insurer_limit_history("D-INS-1")
        assert [(h["status"], h["granted_amount"], h["source"]) for h in history] == [
            ("partial", 300_000.0, "http"), ("granted", 400_000.0, "http")]
        # a new decision of the debtor is made with the register's insurer limit
        again = client.post("/v1/decisions", json=_payload("D-INS-1"), headers=AUTH).json()
        assert again["insured_limit"] == 350_000.0 and again["insurer_status"] == "granted"


def test_a_bad_answer_refuses_the_whole_set_without_echoing_values(
        engine: Any, store_url: str) -> None:
    """A cover percentage of 1.5, an unknown debtor, an unknown insurance policy, a pair
    the register does not hold: 422 naming each answer's position and field; the good
    answer sent with them is not applied either. Then a limit in USD on EUR pairs."""
    with DecisionStore(store_url) as store:
        client = TestClient(create_app(engine, store, [TOKEN], ui=False))
        assert client.post("/v1/decisions", json=_payload("D-INS-2"),
                           headers=AUTH).status_code == 201
        answers = [_answer("D-INS-2"), _answer("D-INS-2", cover_pct=1.5, supplier_id=SUPPLIER),
                   _answer("D-SECRET-404"), _answer("D-INS-2", policy_id="CI-SECRET-9"),
                   _answer("D-INS-2", currency="USD", insurer_id="INS00",
                           supplier_id="S-OTHER")]
        r = client.post("/v1/insurer-responses", json=answers, headers=AUTH)
        assert r.status_code == 422
        detail = r.json()["errors"]
        assert [(x["loc"], x["type"]) for x in detail] == [
            (["body", 1, "cover_pct"], "out_of_range"),
            (["body", 2, "debtor_id"], "unknown_debtor"),
            (["body", 3, "policy_id"], "unknown_policy"),
            (["body", 4, "supplier_id"], "unknown_supplier")]
        assert "SECRET" not in r.text and "1.5" not in r.text
        assert store.insurer_limit_history("D-INS-2") == []
        # a limit in another currency than the debtor's pairs, with no rate in the store
        r = client.post("/v1/insurer-responses", json=[_answer("D-INS-2", currency="USD")],
                        headers=AUTH)
        assert r.status_code == 422
        assert [(x["loc"], x["type"]) for x in r.json()["errors"]] == [
            (["body", 0, "currency"], "missing_fx_rate")]
        # not a list, an item that is not an object, a missing field
        assert client.post("/v1/insurer-responses", json={"a": 1},
                           headers=AUTH).status_code == 422
        r = client.post("/v1/insurer-responses", json=[_answer("D-INS-2"), 5], headers=AUTH)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", 1]
        bad = _answer("D-INS-2")
        del bad["status"]
        r = client.post("/v1/insurer-responses", json=[bad], headers=AUTH)
        assert r.status_code == 422
        assert r.json()["errors"][0]["type"] == "missing_column"
        assert store.insurer_limit_history("D-INS-2") == []
        assert client.get("/v1/insurer-requests").status_code == 401


def test_answers_from_a_file_on_the_command_line(engine: Any, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with DecisionStore(url) as store:
        client = TestClient(create_app(engine, store, [TOKEN], ui=False))
        assert client.post("/v1/decisions", json=_payload("D-INS-3"),
                           headers=AUTH).status_code == 201
    header = ",".join(_answer("x"))
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "\n" + ",".join(
        str(v) if v is not None else "" for v in _answer("D-INS-3", cover_pct=0.0).values())
        + "\n")
    assert main(["insurer-responses", "load", str(bad), "--store", url]) == 2
    err = capsys.readouterr()
    assert "row 0: cover_pct: out_of_range" in err.out
    good = tmp_path / "answers.json"
    good.write_text(json.dumps([_answer("D-INS-3", supplier_id=SUPPLIER)]))
    assert main(["insurer-responses", "load", str(good), "--store", url]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["recorded"], out["redecided"]) == (1, ["D-INS-3"])
    with DecisionStore(url) as store:
        latest = store.latest_decision("D-INS-3")
        assert latest["insured_limit"] == 300_000.0
        assert store.insurer_limit_history("D-INS-3")[0]["source"] == "response:answers.json"
        # the same file again: no new state, the debtor decided again all the same
        assert main(["insurer-responses", "load", str(good), "--store", url]) == 0
        assert json.loads(capsys.readouterr().out)["recorded"] == 0
        assert len(store.insurer_limit_history("D-INS-3")) == 1


def test_an_answer_in_another_currency_is_converted_at_the_stores_rate(
        engine: Any, store_url: str) -> None:
    """An insurer grants 400,000 USD at 90 % on the example's EUR pair; the store holds
    1 USD = 0.75 EUR from 2026-06-01: the answer is accepted and the debtor decided again
    insured up to 300,000 EUR (hand calculation 400,000 x 0.75), 270,000 paid on a loss."""
    import pandas as pd

    with DecisionStore(store_url) as store:
        client = TestClient(create_app(engine, store, [TOKEN], ui=False))
        assert client.post("/v1/decisions", json=_payload("D-INS-FX"),
                           headers=AUTH).status_code == 201
        store.load_fx_rates(pd.DataFrame({"date": ["2026-06-01"], "currency": ["USD"],
                                          "rate": [0.75]}), base="EUR")
        r = client.post("/v1/insurer-responses", headers=AUTH, json=[_answer(
            "D-INS-FX", currency="USD", granted_amount=400_000.0, status="granted")])
        assert r.status_code == 200, r.text
        again = client.post("/v1/decisions", json=_payload("D-INS-FX"), headers=AUTH).json()
        assert (again["cover_basis"], again["currency"]) == ("insurer_limit", "EUR")
        assert again["insured_limit"] == 300_000.0
        assert again["insured_amount"] == pytest.approx(270_000.0)
