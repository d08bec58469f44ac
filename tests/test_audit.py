"""Override report, portfolio overview and audit trail (issue 7 §3).

Golden figures are hand-computed from the hand-built sets below (each test's
docstring shows the arithmetic).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from riskengine.policy.overrides import apply_override
from riskengine.serve.audit import (
    audit_trail,
    migration_heatmap_svg,
    override_report,
    portfolio_overview,
)
from riskengine.store import DecisionStore

REASON = "Payment record with the supplier is clean for three years"


@pytest.fixture
def store(tmp_path: Path) -> DecisionStore:
    s = DecisionStore(f"sqlite:///{tmp_path / 'a.db'}")
    yield s
    s.close()


def _dec(debtor: str, grade: str, limit: float, supplier: str = "S-1",
         h: str | None = None) -> dict:
    return {"debtor_id": debtor, "supplier_id": supplier, "as_of": "2026-06-30",
            "grade": grade, "pd": 0.01, "approved_limit": limit, "currency": "EUR",
            "decision_type": "full", "model_version": "pd_model@abc", "policy_version": "2026.1",
            "input_hash": h or f"hash-{debtor}-{grade}"}


def _days() -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=1), today + dt.timedelta(days=1)


def test_override_report_on_a_hand_built_set(store: DecisionStore) -> None:
    """8 decisions, 3 overrides -> rate 3 / 8 = 0.375.

    Officer A: D-1 6 -> 4 (+2, flagged), D-2 5 -> 6 (-1). Officer B: D-3 limit
    40,000 -> 30,000 (limit only, 0 notches, not flagged). Flagged 1 of 3.
    """
    store.record_decisions([_dec(f"D-{i}", g, 40_000.0) for i, g in
                            enumerate(["6", "5", "4", "3", "7", "2", "8", "5"], start=1)])
    apply_override(store, store.latest_decision("D-1"), new_grade="4", reason=REASON,
                   officer="officer.a")
    apply_override(store, store.latest_decision("D-2"), new_grade="6", reason=REASON,
                   officer="officer.a")
    apply_override(store, store.latest_decision("D-3"), new_limit=30_000.0, reason=REASON,
                   officer="officer.b")
    since, until = _days()
    r = override_report(store, since, until)
    assert (r["decisions"], r["overrides"], r["overridden_decisions"]) == (8, 3, 3)
    assert r["rate"] == pytest.approx(0.375)
    assert r["by_direction"] == {"upgrade": 1, "downgrade": 1, "limit_only": 1}
    assert r["limit_changes"] == {"increase": 0, "decrease": 1, "none": 2}
    assert r["notches"] == {"-1": 1, "0": 1, "+2": 1}
    assert r["mean_notches"] == pytest.approx(1 / 3)
    assert (r["flagged"], r["flagged_share"], r["upgrade_share"]) == (1, 1 / 3, 1 / 3)
    assert r["by_officer"] == [
        {"officer": "officer.a", "overrides": 2, "upgrades": 1, "downgrades": 1,
         "limit_only": 0, "flagged": 1, "mean_notches": 0.5},
        {"officer": "officer.b", "overrides": 1, "upgrades": 0, "downgrades": 0,
         "limit_only": 1, "flagged": 0, "mean_notches": 0.0}]
    assert r["by_original_grade"] == {"4": 1, "5": 1, "6": 1}
    assert r["by_policy_version"] == {"2026.1": 3}


def test_override_report_of_an_empty_period(store: DecisionStore) -> None:
    store.record_decisions([_dec("D-1", "5", 1.0)])
    apply_override(store, store.latest_decision("D-1"), new_grade="6", reason=REASON,
                   officer="officer.a")
    r = override_report(store, "2000-01-01", "2000-12-31")
    assert (r["decisions"], r["overrides"], r["rate"], r["flagged_share"]) == (0, 0, None, None)
    assert r["by_direction"] == {"upgrade": 0, "downgrade": 0, "limit_only": 0}
    assert r["by_officer"] == [] and r["notches"] == {}


def test_audit_trail_lists_everything_in_order(store: DecisionStore) -> None:
    """decision 1 -> its register change -> override -> its register change -> decision 2."""
    store.record_decisions([_dec("D-1", "6", 40_000.0, h="h1")])
    store.record_inputs("h1", {"debtor": {"debtor_id": "D-1"}})
    apply_override(store, store.latest_decision("D-1"), new_grade="7", new_limit=20_000.0,
                   reason=REASON, officer="officer.a")
    store.record_decisions([_dec("D-1", "5", 50_000.0, h="h2")])
    store.record_decisions([_dec("D-9", "5", 1.0)])  # another debtor: not in the trail
    trail = audit_trail(store, "D-1")
    assert [e["kind"] for e in trail] == ["decision", "limit_change", "override",
                                          "limit_change", "decision", "limit_change"]
    assert [e["at"] for e in trail] == sorted(e["at"] for e in trail)
    first, reg1, ovr, reg2, second, reg3 = trail
    assert (first["input_hash"], first["inputs_recorded"], first["officer"]) == (
        "h1", True, "engine")
    assert (second["input_hash"], second["inputs_recorded"]) == ("h2", False)
    assert first["model_version"] == "pd_model@abc" and first["policy_version"] == "2026.1"
    assert (reg1["officer"], reg1["decision_id"], reg1["input_hash"]) == (
        "engine", first["id"], "h1")
    assert (ovr["officer"], ovr["grade"], ovr["limit"], ovr["reason"]) == (
        "officer.a", "7", 20_000.0, REASON)
    assert ovr["input_hash"] == "h1" and ovr["model_version"] == "pd_model@abc"
    assert (reg2["officer"], reg2["limit"]) == ("officer.a", 20_000.0)
    assert reg2["reason"].startswith(f"override {ovr['id']}: ")
    assert reg3["decision_id"] == second["id"] and reg3["limit"] == 50_000.0


def _book(rows: list[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["debtor_id", "supplier_id", "grade", "pd",
                                       "approved_limit"]).assign(
        insured_limit=lambda f: f["approved_limit"] * 0.5,
        retained_exposure=lambda f: f["approved_limit"] * 0.55,
        expected_loss=lambda f: f["pd"] * 0.4 * f["approved_limit"] * 0.55,
        decision_type="full", currency="EUR")


def test_portfolio_overview_on_a_hand_built_book() -> None:
    """Three debtors, four pairs; limits a 60k (2 pairs), b 30k, c 10k: total 100k.

    Top debtor a: share 0.6. HHI by name 0.36 + 0.09 + 0.01 = 0.46. Expected loss
    = sum pd x 0.4 x 0.55 x limit = 0.01*0.22*60k + 0.05*0.22*30k + 0.2*0.22*10k
    = 132 + 330 + 440 = 902. Migration: a 3 -> 3, b 4 -> 6, c new -> D, d 5 -> exit.
    """
    cur = _book([("a", "S-1", "3", 0.01, 40_000.0), ("a", "S-2", "3", 0.01, 20_000.0),
                 ("b", "S-1", "6", 0.05, 30_000.0), ("c", "S-2", "D", 0.2, 10_000.0)])
    prev = _book([("a", "S-1", "3", 0.01, 1.0), ("b", "S-1", "4", 0.01, 1.0),
                  ("d", "S-1", "5", 0.01, 1.0)])
    debtors = pd.DataFrame({"debtor_id": ["a", "b", "c"], "nace": ["46.39", "10.51", "46.90"],
                            "group_id": ["G1", None, "G1"], "country": ["GR", "GR", "BG"]})
    o = portfolio_overview(cur, prev, debtors=debtors)
    assert (o["n_debtors"], o["n_pairs"]) == (3, 4)
    dist = {g["grade"]: g for g in o["grade_distribution"]}
    assert (dist["3"]["debtors"], dist["6"]["debtors"], dist["D"]["debtors"]) == (1, 1, 1)
    assert dist["3"]["approved_limit"] == 60_000.0 and dist["5"]["debtors"] == 0
    assert o["totals"]["approved_limit"] == 100_000.0
    assert o["totals"]["expected_loss"] == pytest.approx(902.0)
    assert o["totals_by_currency"]["EUR"]["insured_limit"] == 50_000.0
    assert o["top"]["debtor"][0] == {"key": "a", "amount": 60_000.0, "share": 0.6,
                                     "cumulative_share": 0.6}
    assert o["hhi"]["debtor"] == pytest.approx(0.46)
    assert o["top"]["group"][0]["key"] == "G1" and o["top"]["group"][0]["share"] == 0.7
    assert o["top"]["sector"][0] == {"key": "G", "amount": 70_000.0, "share": 0.7,
                                     "cumulative_share": 0.7}
    assert o["decision_types"] == {"full": 4}
    m = o["migration"]
    counts = pd.DataFrame(m["counts"], index=m["states_from"], columns=m["states_to"])
    assert (counts.loc["3", "3"], counts.loc["4", "6"], counts.loc["new", "D"],
            counts.loc["5", "exit"]) == (1, 1, 1, 1)
    assert int(counts.to_numpy().sum()) == 4
    assert m["figures"]["downgrades"] == 1 and m["figures"]["new"] == 1
    svg = migration_heatmap_svg(m)
    assert svg.startswith("<svg") and "4 → 6: 1" in svg and "new → D: 1" in svg


def test_portfolio_overview_without_previous_run() -> None:
    o = portfolio_overview(_book([("a", "S-1", "3", 0.01, 1_000.0)]))
    assert o["migration"] is None and set(o["top"]) == {"debtor", "supplier"}
