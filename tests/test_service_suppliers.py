"""The supplier over HTTP (issue 16 point 4): a recourse pair decided alone takes its
supplier's rating from the limit register (the supplier's latest rating as a debtor, in
force and not stale) and the dispersion of its debtors from the register's limits; bad
supplier fields are 422 naming the field, nothing stored.

The example payload (examples/debtor.json: debtor grade 6, request 350,000) is the pair;
the supplier's own records are the example's statements made loss-making, with recent
serious adverse records (it rates 9: tests/test_suppliers.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_suppliers import _weak_statements  # the same weak firm's statements

from riskengine.api import load_engine
from riskengine.serve.api import create_app
from riskengine.store import DecisionStore

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "examples" / "debtor.json").read_text())
SID = EXAMPLE["exposure"]["supplier_id"]
TOKEN = "c" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with DecisionStore(f"sqlite:///{tmp_path / 's.db'}") as s:
        yield s


@pytest.fixture
def client(engine: Any, store: DecisionStore) -> TestClient:
    return TestClient(create_app(engine, store, [TOKEN], ui=False))


def _pair(debtor_id: str = "GR-D-004711", **supplier: Any) -> dict[str, Any]:
    p = copy.deepcopy(EXAMPLE)
    p["debtor"]["debtor_id"] = debtor_id
    p["exposure"]["product"] = "recourse"
    p["exposure"]["supplier"].update(supplier)
    return p


def _supplier_as_debtor(as_of: str = "2026-06-30") -> dict[str, Any]:
    """The supplier's own records, decided as a debtor of another client (grade 8 with
    models/pd_model.skops retrained 2026-12-07, bench_us_protocol; 9 before)."""
    p = copy.deepcopy(EXAMPLE)
    p["as_of"] = as_of
    p["debtor"].update(debtor_id=SID, name="Thessaly Dairy Products S.A.")
    p["statements"] = [s for s in _weak_statements() if s["period_end"] <= as_of]
    p["adverse_records"] = [
        {"record_id": "A1", "event_type": "payment_order", "event_date": "2024-12-01",
         "amount": 60000.0, "currency": "EUR", "status": "open", "settlement_date": None},
        {"record_id": "A2", "event_type": "seizure", "event_date": "2024-11-10",
         "amount": 90000.0, "currency": "EUR", "status": "open", "settlement_date": None}]
    p["invoices"] = []
    p["exposure"]["supplier_id"] = "OTHER-CLIENT"
    return p


def test_without_the_supplier_in_the_store_the_debtors_grade_decides(
        client: TestClient) -> None:
    r = client.post("/v1/decisions", json=_pair(), headers=AUTH)
    assert r.status_code == 201, r.text
    d = r.json()
    assert (d["approved_limit"], d["decision_type"], d["supplier_grade"]) == (
        350_000.0, "full", None)
    assert d["limit_notes"] == ["supplier_not_rated"]


def test_the_suppliers_rating_in_the_store_drives_the_recourse_pair(
        client: TestClient, store: DecisionStore) -> None:
    """The supplier decided as a debtor first (grade 8): the pair decided alone over HTTP
    keeps policy [supplier.recourse_limit_share] 8 = 0.25 of its 350,000, 87,500 rounded
    down to 87,000 (as in tests/test_suppliers.py); the register keeps the supplier's
    grade with the pair's terms, for its funding checks."""
    first = client.post("/v1/decisions", json=_supplier_as_debtor(), headers=AUTH)
    assert first.status_code == 201, first.text
    assert first.json()["grade"] == "8"
    r = client.post("/v1/decisions", json=_pair(), headers=AUTH)
    assert r.status_code == 201, r.text
    d = r.json()
    assert (d["supplier_grade"], d["approved_limit"], d["decision_type"],
            d["binding_constraints"]) == ("8", 87_000.0, "partial", ["supplier"])
    assert "supplier_not_rated" not in d["limit_notes"]
    entry = store.current_limit(SID, "GR-D-004711", "2026-06-30")
    assert entry is not None and entry["terms"]["supplier_grade"] == "8"


def test_a_stale_rating_of_the_supplier_is_not_used(client: TestClient) -> None:
    """Rated as of 2025-01-31, more than funding.max_rating_age_months (12) before the
    pair's 2026-06-30: not a rating to decide on (CRR art. 173(1)(b))."""
    old = client.post("/v1/decisions", json=_supplier_as_debtor("2025-01-31"), headers=AUTH)
    assert old.status_code == 201, old.text
    d = client.post("/v1/decisions", json=_pair(), headers=AUTH).json()
    assert d["supplier_grade"] is None and d["limit_notes"] == ["supplier_not_rated"]


def test_the_dispersion_of_the_suppliers_debtors_comes_from_the_register(
        client: TestClient, store: DecisionStore) -> None:
    """Two debtors of the supplier in the register (350,000 and 100,000 approved): HHI
    (350/450)^2 + (100/450)^2 = 0.654 > 0.25, one notch; the same pair decided with the
    payload's own dispersion 0.1 has none."""
    small = _pair("D-SMALL")
    small["exposure"]["requested_limit"] = 100_000.0
    for p in (_pair("D-BIG"), small):
        assert client.post("/v1/decisions", json=p, headers=AUTH).status_code == 201
    book = store.supplier_book({SID: "EUR"}, as_of="2026-06-30")
    assert book.debtor_hhi[SID] == pytest.approx((350 / 450) ** 2 + (100 / 450) ** 2)
    d = client.post("/v1/decisions", json=_pair("D-THIRD"), headers=AUTH).json()
    assert "supplier_concentrated" in d["limit_notes"]
    own = client.post("/v1/decisions", json=_pair("D-FOURTH", debtor_hhi=0.1),
                      headers=AUTH).json()
    assert "supplier_concentrated" not in own["limit_notes"]


def test_a_bad_supplier_field_is_422_naming_it_and_nothing_is_stored(
        client: TestClient, store: DecisionStore) -> None:
    r = client.post("/v1/decisions", json=_pair(credit_note_share=1.7), headers=AUTH)
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["errors"]] == [
        ["body", "exposure", "supplier", "credit_note_share"]]
    assert "1.7" not in r.text
    r = client.post("/v1/decisions", json=[_pair("D-OK"), _pair("D-BAD", sector_outlook="x")],
                    headers=AUTH)
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["errors"]] == [
        ["body", 1, "exposure", "supplier", "sector_outlook"]]
    assert store.count("decisions") == 0 and store.count("limit_register") == 0


def test_a_bad_record_of_the_supplier_is_422_under_the_supplier(
        client: TestClient, store: DecisionStore) -> None:
    """The supplier's own statement (rated from the payload) breaks an identity: the 422
    names it under the supplier object, not the debtor's statements; nothing stored."""
    own = _supplier_as_debtor()["statements"]
    own[1]["gross_profit"] += 1_000_000.0
    r = client.post("/v1/decisions", json=_pair(statements=own), headers=AUTH)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"loc": ["body", "exposure", "supplier", "statements", 1,
                                           "gross_profit"],
                                   "type": "identity_broken",
                                   "msg": "accounting identity broken",
                                   "record": "exposure.supplier.statements[1]"}]  # own[1]
    r = client.post("/v1/decisions", json=[_pair("D-1"), _pair("D-2", statements=own)],
                    headers=AUTH)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"][:5] == ["body", 1, "exposure", "supplier",
                                                "statements"]
    assert store.count("decisions") == 0


def test_the_registers_dispersion_counts_limits_in_other_currencies_converted(
        client: TestClient, store: DecisionStore) -> None:
    """The supplier's debtors: D-BIG approved 350,000 EUR and D-GBP approved 100,000 GBP
    at 1 GBP = 1.25 EUR (the store's rate): in EUR 350,000 and 125,000, HHI (350/475)^2 +
    (125/475)^2 = 0.612 (hand calculation); counting the EUR limits only it was 1. A
    decision over HTTP reads the converted one (> 0.25: one notch)."""
    import pandas as pd

    store.load_fx_rates(pd.DataFrame({"date": ["2026-01-01"], "currency": ["GBP"],
                                      "rate": [1.25]}), base="EUR")
    gbp = _pair("D-GBP")
    gbp["exposure"]["currency"] = "GBP"
    gbp["exposure"]["requested_limit"] = 100_000.0
    del gbp["fx_rates"]  # no rates of its own: the store's GBP rate
    big = client.post("/v1/decisions", json=_pair("D-BIG"), headers=AUTH).json()
    small = client.post("/v1/decisions", json=gbp, headers=AUTH).json()
    assert (big["approved_limit"], small["approved_limit"], small["currency"]) == (
        350_000.0, 100_000.0, "GBP")
    book = store.supplier_book({SID: "EUR"}, as_of="2026-06-30",
                               rates={"EUR": 1.0, "GBP": 1.25})
    assert book.debtor_hhi[SID] == pytest.approx((350 / 475) ** 2 + (125 / 475) ** 2)
    assert store.supplier_book({SID: "EUR"}, as_of="2026-06-30").debtor_hhi[SID] == 1.0
    assert store.supplier_book({SID: "EUR"}, as_of="2026-06-30",
                               rates={"EUR": 1.0}).debtor_hhi[SID] is None  # no GBP rate
    d = client.post("/v1/decisions", json=_pair("D-THIRD"), headers=AUTH).json()
    assert "supplier_concentrated" in d["limit_notes"]
