"""One debtor decided alone over HTTP shares its connected group's cap with the rest of the
book, read from the limit register (issue 15 point 2): CRR art. 395, 25 % of capital."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from riskengine.api import load_engine
from riskengine.serve.api import create_app
from riskengine.store import DecisionStore

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "examples" / "debtor.json").read_text())
TOKEN = "b" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CAPITAL = 1_000_000.0  # group cap 25 % = 250,000


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine(factor_capital=CAPITAL)


def _member(debtor_id: str, group: str | None = "G-1") -> dict[str, Any]:
    p = copy.deepcopy(EXAMPLE)
    p["debtor"]["debtor_id"] = debtor_id
    p["debtor"]["group_id"] = group
    for rec in p["adverse_records"]:
        rec["record_id"] = f"{debtor_id}-{rec['record_id']}"
    for inv in p["invoices"]:
        inv["invoice_id"] = f"{debtor_id}-{inv['invoice_id']}"
    return p


def _group_total(store: DecisionStore, members: list[str]) -> float:
    return sum(e["limit"] for d in members for e in store.limits_of_debtor(d, "2026-06-30"))


def test_members_of_a_group_decided_one_by_one_share_its_cap(engine: Any,
                                                             tmp_path: Path) -> None:
    """Three members each asking 350,000 (the example's request, within its capacity):
    the first gets the group's 250,000, the others only what is left (0); before the
    register was read, each got 250,000 (75 % of the capital)."""
    with DecisionStore(f"sqlite:///{tmp_path / 's.db'}") as store:
        client = TestClient(create_app(engine, store, [TOKEN], ui=False))
        got = []
        for d in ("D-G1", "D-G2", "D-G3"):
            r = client.post("/v1/decisions", json=_member(d), headers=AUTH)
            assert r.status_code == 200, r.text
            got.append(r.json())
        assert [g["approved_limit"] for g in got] == [250_000.0, 0.0, 0.0]
        assert all("group_cap" in g["binding_constraints"] for g in got)
        assert _group_total(store, ["D-G1", "D-G2", "D-G3"]) <= 0.25 * CAPITAL
        # a debtor outside the group is not touched by it
        alone = client.post("/v1/decisions", json=_member("D-X", None), headers=AUTH).json()
        assert alone["approved_limit"] == 250_000.0  # only its own 25 % as a group of one


def test_members_in_one_request_share_the_cap_too(engine: Any, tmp_path: Path) -> None:
    with DecisionStore(f"sqlite:///{tmp_path / 's.db'}") as store:
        client = TestClient(create_app(engine, store, [TOKEN], ui=False))
        r = client.post("/v1/decisions", json=[_member("D-A"), _member("D-B")], headers=AUTH)
        assert r.status_code == 200, r.text
        assert sum(d["approved_limit"] for d in r.json()) <= 0.25 * CAPITAL
