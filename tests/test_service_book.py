"""One debtor decided alone over HTTP shares its connected group's cap with the rest of the
book, read from the limit register (issue 15 point 2): CRR art. 395, 25 % of capital."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from riskengine.api import load_engine
from riskengine.contracts.payload import parse_payload
from riskengine.serve.api import create_app
from riskengine.serve.common import decide_payloads
from riskengine.store import DecisionStore
from riskengine.store.runs import apply_run

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
            assert r.status_code == 201, r.text
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
        assert r.status_code == 201, r.text
        assert sum(d["approved_limit"] for d in r.json()) <= 0.25 * CAPITAL


# --- sectors and countries of the book, for a debtor decided alone ------------------------

def _book_engine(tmp_path: Path, **book: Any) -> Any:
    """The shipped engine with some ``[book]`` keys of the shipped policy replaced."""
    text = (ROOT / "riskengine" / "config" / "policy.toml").read_text()
    for key, value in book.items():
        text, n = re.subn(rf"^{key} = \S+", f"{key} = {value}", text, flags=re.M)
        assert n == 1, key
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return load_engine(policy_path=path)


def _run_pairs(rows: list[tuple[str, float, str, str]], current: list[float]) -> pd.DataFrame:
    """A rerate's pairs (debtor id, new limit, sector, country) with the terms it writes."""
    return pd.DataFrame({
        "supplier_id": "S-REST", "debtor_id": [r[0] for r in rows],
        "approved_limit": [r[1] for r in rows], "current_limit": current,
        "knockout": False, "approved_outstanding": 0.0, "currency": "EUR",
        "sector": [r[2] for r in rows], "country": [r[3] for r in rows], "grade": "5",
        "pd": 0.02, "product": "non_recourse", "advance_rate": 0.8,
        "decided_at": "2026-06-01T00:00:00Z", "model_version": "test",
        "policy_version": "test", "decision_type": "full", "group_id": None})


def _seed(store: DecisionStore, engine: Any, rows: list[tuple[str, float, str, str]],
          as_of: str = "2026-06-01") -> None:
    """Register rows of other debtors (debtor id, limit, sector, country) as a rerate writes
    them (seeded from their limit in force and confirmed)."""
    apply_run(store, _run_pairs(rows, [r[1] for r in rows]), as_of=as_of, run="seed-test",
              policy=engine.policy)


def _alone(engine: Any, store: DecisionStore | None) -> dict[str, Any]:
    p = parse_payload(copy.deepcopy(EXAMPLE))
    return decide_payloads(engine, [p], store)[0]


def test_a_sector_full_in_the_register_leaves_nothing(tmp_path: Path) -> None:
    """The example debtor (NACE 46.39: section G) against a register whose G pairs hold
    600,000 of a 1,000,000 book: G's cap is 25 % of (1,000,000 + its own amount), less
    than the 600,000 already there, so it gets 0 and names the sector cap."""
    engine = _book_engine(tmp_path, group_capital_share=1.0, share_base_min=0)
    with DecisionStore(f"sqlite:///{tmp_path / 's.db'}") as store:
        _seed(store, engine, [("R-1", 600_000.0, "G", "GR"), ("R-2", 400_000.0, "C", "GR")])
        d = _alone(engine, store)
    assert d["approved_limit"] == 0.0
    assert d["decision_type"] == "refused"
    assert d["binding_constraints"] == ["sector_cap"]


def test_a_sector_with_room_gives_what_is_left(tmp_path: Path) -> None:
    """Hand calculation: alone the pair gets a0; with 100,000 in G and 900,000 elsewhere
    G's cap is 0.25 x (1,000,000 + a0), of which 100,000 is used: the pair keeps the rest,
    rounded down to the policy's unit (the batch's rule, policy.book.book_caps)."""
    engine = _book_engine(tmp_path, group_capital_share=1.0, share_base_min=0)
    a0 = _alone(engine, None)["approved_limit"]
    unit = engine.policy.limits.rounding_unit
    room = 0.25 * (1_000_000 + a0) - 100_000
    assert 0 < room < a0  # the case is the one it says
    with DecisionStore(f"sqlite:///{tmp_path / 's.db'}") as store:
        _seed(store, engine, [("R-1", 100_000.0, "G", "GR"), ("R-2", 900_000.0, "C", "GR")])
        d = _alone(engine, store)
    assert d["approved_limit"] == math.floor(room / unit) * unit
    assert d["decision_type"] == "partial" and d["binding_constraints"] == ["sector_cap"]


def test_a_country_cap_for_a_debtor_alone(tmp_path: Path) -> None:
    """Country share 50 %: Greece holds 900,000 of a 1,000,000 book, more than half of the
    book with the pair in it, so a Greek debtor gets 0 (country_cap)."""
    engine = _book_engine(tmp_path, group_capital_share=1.0, sector_book_share=1.0,
                          country_book_share=0.5, share_base_min=0)
    with DecisionStore(f"sqlite:///{tmp_path / 's.db'}") as store:
        _seed(store, engine, [("R-1", 900_000.0, "C", "GR"), ("R-2", 100_000.0, "C", "CY")])
        d = _alone(engine, store)
    assert d["approved_limit"] == 0.0 and d["binding_constraints"] == ["country_cap"]


def test_a_small_book_is_measured_against_share_base_min(tmp_path: Path) -> None:
    """With the shipped floor (10,000,000) a first decision in an empty register keeps
    what it gets alone; with no floor it would be the whole of its sector and be cut."""
    floor = _book_engine(tmp_path, group_capital_share=1.0)
    a0 = _alone(floor, None)["approved_limit"]
    with DecisionStore(f"sqlite:///{tmp_path / 's.db'}") as store:
        assert _alone(floor, store)["approved_limit"] == a0
    bare = _book_engine(tmp_path, group_capital_share=1.0, share_base_min=0)
    with DecisionStore(f"sqlite:///{tmp_path / 't.db'}") as store:
        assert _alone(bare, store)["approved_limit"] < a0


def test_book_rest_counts_the_limits_in_force(store_url: str, tmp_path: Path) -> None:
    """The register's aggregate query follows the register rule: a cut under notice counts
    at the old limit until its effective date, at the new one from then on; the decided
    debtor's own pairs are left out; groups at stake are kept apart."""
    engine = _book_engine(tmp_path, group_capital_share=1.0, share_base_min=0)
    notice = engine.policy.limits.notice_days
    with DecisionStore(store_url) as store:
        _seed(store, engine, [("R-1", 600_000.0, "G", "GR"), ("R-2", 400_000.0, "C", "GR"),
                              ("ME", 50_000.0, "G", "GR")])
        cut = _run_pairs([("R-1", 200_000.0, "G", "GR")], [600_000.0])
        apply_run(store, cut, as_of="2026-06-10", run="cut-test", policy=engine.policy)

        def by_sector(day: dt.date) -> dict[str, float]:
            rest = store.book_rest(excluding=["ME"], groups=[], as_of=day, currency="EUR")
            out: dict[str, float] = {}
            for s, a in zip(rest.sector, rest.amount, strict=True):
                out[s] = out.get(s, 0.0) + a
            return out

        start = dt.date(2026, 6, 10)
        assert by_sector(start) == {"G": 600_000.0, "C": 400_000.0}
        assert by_sector(start + dt.timedelta(days=notice)) == {"G": 200_000.0, "C": 400_000.0}
        assert store.book_rest(excluding=["ME"], groups=[], as_of=start,
                               currency="USD").amount == ()


def test_book_totals_snapshot_and_exact_groups(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A costly snapshot of the book's sector totals is reused for a while (documented:
    BOOK_SNAPSHOT_SECONDS), but the groups at stake are always read as they are now."""
    from riskengine.store import register

    monkeypatch.setattr(register, "BOOK_FRESH_SECONDS", -1.0)  # every snapshot is "costly"
    engine = _book_engine(tmp_path, group_capital_share=1.0, share_base_min=0)
    day = dt.date(2026, 6, 10)
    with DecisionStore(f"sqlite:///{tmp_path / 's.db'}") as store:
        _seed(store, engine, [("R-1", 600_000.0, "G", "GR")])
        first = store.book_rest(excluding=["ME"], groups=["G-9"], as_of=day, currency="EUR")
        assert first.amount == (600_000.0,)
        late = _run_pairs([("R-2", 100_000.0, "G", "GR")], [100_000.0]).assign(group_id="G-9")
        apply_run(store, late, as_of="2026-06-02", run="late-test", policy=engine.policy)
        again = store.book_rest(excluding=["ME"], groups=["G-9"], as_of=day, currency="EUR")
        # the group member is read now and taken out of the (stale) sector total
        assert dict(zip(again.group, again.amount, strict=True)) == {"G-9": 100_000.0,
                                                                     None: 500_000.0}
        monkeypatch.setattr(register, "BOOK_SNAPSHOT_SECONDS", 0.0)  # expired: recomputed
        fresh = store.book_rest(excluding=["ME"], groups=["G-9"], as_of=day, currency="EUR")
        assert dict(zip(fresh.group, fresh.amount, strict=True)) == {"G-9": 100_000.0,
                                                                     None: 600_000.0}
