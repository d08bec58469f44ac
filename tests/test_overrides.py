"""Override rules (issue 7 §2) and the append-only ``overrides`` table.

Source of the rules: issue 7 §2 ("downgrades are free; upgrades are limited by
policy (default at most 2 notches) and flagged"), the brief's additions (never
out of D by override: a default is a fact, CRR art. 178; a limit increase is an
upgrade-type override and flagged; reason and officer mandatory).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.errors import InvalidInputError, PolicyError
from riskengine.model.master_scale import GRADES
from riskengine.policy.overrides import (
    DEFAULT_MAX_UPGRADE_NOTCHES,
    MIN_REASON_LENGTH,
    OverrideRefusedError,
    apply_override,
    check_override,
    check_review,
    max_upgrade_notches,
)
from riskengine.store import DecisionStore

REASON = "Audited H1 2026 accounts show equity restored after the capital increase"


@pytest.fixture
def store(tmp_path: Path) -> DecisionStore:
    s = DecisionStore(f"sqlite:///{tmp_path / 'o.db'}")
    yield s
    s.close()


def _decision(store: DecisionStore, grade: str = "6", limit: float = 100_000.0) -> dict:
    store.record_decisions([{
        "debtor_id": "D-1", "supplier_id": "S-1", "as_of": "2026-06-30", "grade": grade,
        "pd": 0.02, "approved_limit": limit, "currency": "EUR", "model_version": "m@1",
        "policy_version": "2026.1", "input_hash": "h" * 64}])
    d = store.latest_decision("D-1")
    assert d is not None
    return d


# --- the rules ---------------------------------------------------------------------


def test_two_notch_upgrade_is_allowed_and_flagged() -> None:
    c = check_override("6", "4", 100_000.0, None, REASON, "officer.k")
    assert (c.allowed, c.notches, c.direction, c.flagged) == (True, 2, "upgrade", True)
    assert c.limit_change == "none" and c.reasons == ()
    assert c.flag_reasons == ("upgrade of 2 notches",)


def test_three_notch_upgrade_is_refused_naming_the_policy_bound(store: DecisionStore) -> None:
    c = check_override("6", "3", 100_000.0, None, REASON, "officer.k")
    assert not c.allowed and c.notches == 3
    assert c.reasons == ("upgrade of 3 notches exceeds the policy bound of 2 notches "
                         "([overrides] max_upgrade_notches)",)
    d = _decision(store)
    with pytest.raises(OverrideRefusedError, match=r"exceeds the policy bound of 2 notches"):
        apply_override(store, d, new_grade="3", reason=REASON, officer="officer.k")
    assert store.overrides() == []


def test_the_bound_comes_from_the_policy() -> None:
    assert max_upgrade_notches(None) == DEFAULT_MAX_UPGRADE_NOTCHES == 2
    from riskengine.config import load_policy
    from riskengine.policy.credit_policy import CreditPolicy

    assert max_upgrade_notches(load_policy()) == 2  # shipped policy.toml [overrides]
    raw = load_policy().to_dict()
    raw["overrides"] = {"max_upgrade_notches": 1}
    assert max_upgrade_notches(CreditPolicy.from_dict(raw)) == 1  # read from the policy object
    one = max_upgrade_notches({"overrides": {"max_upgrade_notches": 1}})
    c = check_override("6", "4", 1.0, None, REASON, "k", policy_max_upgrade_notches=one)
    assert not c.allowed and "policy bound of 1 notches" in c.reasons[0]
    with pytest.raises(PolicyError, match=r"overrides.max_upgrade_notches = -1"):
        max_upgrade_notches({"overrides": {"max_upgrade_notches": -1}})


@pytest.mark.parametrize(("old", "new"), [("4", "7"), ("1", "10"), ("9", "D")])
def test_downgrades_are_free(old: str, new: str) -> None:
    c = check_override(old, new, 50_000.0, 10_000.0, REASON, "officer.k")
    assert c.allowed and not c.flagged and c.direction == "downgrade" and c.notches < 0


def test_limit_only_overrides() -> None:
    down = check_override("5", None, 50_000.0, 20_000.0, REASON, "k")
    assert (down.allowed, down.direction, down.limit_change, down.flagged) == (
        True, "limit_only", "decrease", False)
    up = check_override("5", "5", 50_000.0, 80_000.0, REASON, "k")
    assert (up.allowed, up.direction, up.limit_change, up.flagged) == (
        True, "limit_only", "increase", True)
    assert up.flag_reasons == ("limit above what the policy grants (50,000)",)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_missing_reason_is_refused(reason: str | None) -> None:
    c = check_override("6", "7", 1.0, None, reason, "officer.k")
    assert not c.allowed and c.reasons == ("a reason is mandatory",)


@pytest.mark.parametrize("reason", ["bad numbers", "x" * 40, "see file 2026/118 4471"])
def test_short_or_meaningless_reason_is_refused(reason: str, store: DecisionStore) -> None:
    """Fewer than 20 characters, or fewer than 3 words, says nothing."""
    c = check_override("6", "7", 1.0, None, reason, "officer.k")
    assert not c.allowed and c.reasons[0].startswith("the reason is too short")
    with pytest.raises(OverrideRefusedError, match=rf"at least {MIN_REASON_LENGTH} characters"):
        apply_override(store, _decision(store), new_grade="7", reason=reason, officer="k")


@pytest.mark.parametrize("officer", [None, "", "  "])
def test_missing_officer_is_refused(officer: str | None, store: DecisionStore) -> None:
    c = check_override("6", "7", 1.0, None, REASON, officer)
    assert not c.allowed and c.reasons == ("the officer's identity is mandatory",)
    d = _decision(store)
    with pytest.raises(OverrideRefusedError, match=r"officer's identity is mandatory"):
        apply_override(store, d, new_grade="7", reason=REASON, officer=officer)  # type: ignore[arg-type]


def test_default_cannot_be_upgraded_nor_its_limit_raised() -> None:
    c = check_override("D", "10", 0.0, None, REASON, "officer.k")
    assert not c.allowed and c.notches == 1
    assert c.reasons == ("grade D cannot be upgraded by override: a default is a fact "
                         "(CRR art. 178), not an opinion",)
    lim = check_override("D", None, 0.0, 5_000.0, REASON, "officer.k")
    assert not lim.allowed and "grade D (default) cannot be raised" in lim.reasons[0]
    assert check_override("D", None, 1_000.0, 0.0, REASON, "k").allowed  # cutting is free


def test_unrated_and_no_change_are_refused() -> None:
    assert "unrated" in check_override(None, "5", 0.0, None, REASON, "k").reasons[0]
    assert check_override("5", "5", 1.0, 1.0, REASON, "k").reasons == (
        "nothing to override: the new grade and limit equal the decision's",)


def test_malformed_input_raises() -> None:
    with pytest.raises(InvalidInputError, match=r"new_grade 'AAA' is not a master-scale grade"):
        check_override("5", "AAA", 1.0, None, REASON, "k")
    with pytest.raises(InvalidInputError, match=r"new_limit -5.0 must be a finite amount"):
        check_override("5", None, 1.0, -5.0, REASON, "k")


@settings(max_examples=200, deadline=None)
@given(old=st.sampled_from(GRADES), new=st.sampled_from(GRADES),
       old_lim=st.sampled_from([0.0, 10_000.0, 50_000.0]),
       new_lim=st.sampled_from([None, 0.0, 10_000.0, 90_000.0]), bound=st.integers(0, 4))
def test_rules_hold_for_every_grade_pair(old: str, new: str, old_lim: float,
                                         new_lim: float | None, bound: int) -> None:
    """Property: allowed iff no rule is broken; flagged iff upgrade or limit increase."""
    c = check_override(old, new, old_lim, new_lim, REASON, "k",
                       policy_max_upgrade_notches=bound)
    notches = GRADES.index(old) - GRADES.index(new)
    target = old_lim if new_lim is None else new_lim
    increase = target > old_lim
    expected = not (
        (notches > 0 and (old == "D" or notches > bound))
        or ("D" in (old, new) and increase)
        or (notches == 0 and target == old_lim))
    assert c.notches == notches and c.allowed == expected
    assert c.flagged == (notches > 0 or increase)
    if notches < 0 and not increase:
        assert c.allowed and not c.flagged  # downgrades are free


# --- recording ----------------------------------------------------------------------


def _policy_rerun(grant: dict[str, float], cap: float):
    """A re-run standing in for the engine's core: the grade's grant (``grant``) at the
    decision's own request, the request itself up to ``cap`` otherwise (the real core's
    re-run is tested in test_real_rerun_decides_the_policy_at_the_new_grade)."""
    calls: list[tuple[str, float | None]] = []

    def rerun(grade: str, requested: float | None) -> dict:
        calls.append((grade, requested))
        limit = grant[grade] if requested is None else min(requested, cap)
        return {"grade": grade, "approved_limit": limit, "advance_rate": 0.8}

    rerun.calls = calls  # type: ignore[attr-defined]
    return rerun


def test_a_flagged_override_is_pending_until_a_second_approver(store: DecisionStore) -> None:
    """Four eyes (issue 18 point 2): an upgrade with a limit above the grant waits; the
    register keeps the limit in force until an approver (not the author) approves it."""
    d = _decision(store, grade="6", limit=100_000.0)
    rerun = _policy_rerun({"5": 120_000.0}, cap=200_000.0)
    row = apply_override(store, d, new_grade="5", new_limit=150_000.0, reason=REASON,
                         officer=" officer.k ", effective_date="2026-07-01", rerun=rerun)
    assert (row["original_grade"], row["new_grade"], row["notches"], row["direction"]) == (
        "6", "5", 1, "upgrade")
    assert (row["original_limit"], row["new_limit"], row["flagged"], row["status"]) == (
        100_000.0, 150_000.0, True, "pending")
    assert (row["policy_limit"], row["policy_cap"]) == (120_000.0, 200_000.0)
    assert row["terms"]["approved_limit"] == 150_000.0  # re-run at the new limit
    assert row["officer"] == "officer.k" and row["decision_id"] == d["decision_id"]
    assert (row["model_version"], row["policy_version"], row["input_hash"]) == (
        "m@1", "2026.1", "h" * 64)
    assert row["register_change"] is None
    assert store.current_limit("S-1", "D-1", "2026-07-01")["limit"] == 100_000.0
    (stored,) = store.overrides("D-1")
    assert stored["flag_reasons"] == ["upgrade of 1 notch",
                                      "limit above what the policy grants (120,000)"]
    assert check_review(stored, "officer.k", "approver", "approved") == [
        "the author of an override cannot review it: a second approver must"]
    assert check_review(stored, "other", "officer", "approved") == [
        "only an account with the approver role may review overrides"]
    assert check_review(stored, "ana", "approver", "approved") == []
    review = store.review_override(row["id"], verdict="approved", approver="ana")
    assert review["register_change"]["action"] == "increase"
    assert review["register_change"]["changed_by"] == "officer.k"
    assert "(approved by ana)" in review["register_change"]["reason"]
    assert store.current_limit("S-1", "D-1", dt.date.today())["limit"] == 150_000.0
    (after,) = store.overrides("D-1")
    assert (after["status"], after["approver"]) == ("approved", "ana")
    assert check_review(after, "bob", "approver", "approved") == [
        "the override is approved, not pending"]
    with pytest.raises(InvalidInputError, match=r"the override is approved, not pending"):
        store.review_override(row["id"], verdict="rejected", approver="bob")


def test_a_rejected_override_never_moves_the_register(store: DecisionStore) -> None:
    d = _decision(store, grade="6", limit=100_000.0)
    row = apply_override(store, d, new_limit=130_000.0, reason=REASON, officer="k",
                         rerun=_policy_rerun({"6": 100_000.0}, cap=200_000.0))
    assert row["status"] == "pending" and row["flag_reasons"] == [
        "limit above what the policy grants (100,000)"]
    assert store.review_override(row["id"], verdict="rejected",
                                 approver="ana")["register_change"] is None
    assert store.current_limit("S-1", "D-1", dt.date.today())["limit"] == 100_000.0
    assert store.overrides("D-1")[0]["status"] == "rejected"


def test_no_override_exceeds_the_policy_cap(store: DecisionStore) -> None:
    """Issue 18: one officer raised a limit to 10,000,000,000,000; the cap refuses it."""
    d = _decision(store, grade="6", limit=100_000.0)
    with pytest.raises(OverrideRefusedError, match=r"a limit of 10,000,000,000,000 exceeds "
                       r"the largest limit the policy allows this debtor at grade 6 "
                       r"\(200,000\)"):
        apply_override(store, d, new_limit=1e13, reason=REASON, officer="k",
                       rerun=_policy_rerun({"6": 100_000.0}, cap=200_000.0))
    with pytest.raises(OverrideRefusedError, match=r"the decision.s inputs were not kept"):
        apply_override(store, d, new_limit=120_000.0, reason=REASON, officer="k")
    assert store.overrides("D-1") == []


def test_a_grade_override_takes_the_policy_limit_of_its_grade(store: DecisionStore) -> None:
    d = _decision(store, grade="6", limit=100_000.0)
    rerun = _policy_rerun({"8": 60_000.0}, cap=90_000.0)
    row = apply_override(store, d, new_grade="8", reason=REASON, officer="k", rerun=rerun)
    assert (row["new_limit"], row["limit_change"], row["status"], row["flagged"]) == (
        60_000.0, "decrease", "applied", False)
    assert row["register_change"]["register"]["status"] == "pending_cut"  # notice period
    assert rerun.calls == [("8", None), ("8", 1e12)]  # type: ignore[attr-defined]


def test_real_rerun_decides_the_policy_at_the_new_grade(tmp_path: Path) -> None:
    """The shell's re-run is the engine's core on the kept inputs: at the decision's own
    grade it gives what deciding the inputs again gives (the register as it is now: the
    supplier's debtors now include this one); the example (grade 6, 350,000 EUR;
    docs/SERVICE.md) at grade 5 keeps 350,000 with a higher advance rate and lower fees,
    and a cap of 846,000 (capacity binds; measured with Engine.decide_payload(grades=...))."""
    import json

    from riskengine.api import load_engine
    from riskengine.contracts.payload import parse_payload
    from riskengine.serve.common import decide_and_store, decide_payloads, override_rerun

    engine = load_engine()
    store = DecisionStore(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        payload = json.loads((Path(__file__).resolve().parents[1] / "examples"
                              / "debtor.json").read_text())
        decide_and_store(engine, store, [parse_payload(payload)])
        d = store.latest_decision("GR-D-004711")
        rerun = override_rerun(engine, store, d)
        assert rerun is not None
        same = rerun("6", None)
        (again,) = decide_payloads(engine, [parse_payload(payload)], store)
        for k in ("grade", "approved_limit", "insured_limit", "advance_rate",
                  "service_commission_rate", "discount_rate"):
            assert same[k] == again[k], k
        up = rerun("5", None)
        assert (up["grade"], up["approved_limit"]) == ("5", 350_000.0)
        assert up["advance_rate"] > again["advance_rate"]
        assert up["service_commission_rate"] < again["service_commission_rate"]
        assert rerun("5", 1e12)["approved_limit"] == 846_000.0
        with pytest.raises(OverrideRefusedError, match=r"allows this debtor at grade 5 "
                           r"\(846,000\)"):
            apply_override(store, d, new_grade="5", new_limit=900_000.0, reason=REASON,
                           officer="k", rerun=rerun)
        row = apply_override(store, d, new_grade="5", new_limit=500_000.0, reason=REASON,
                             officer="k", rerun=rerun)
        assert row["status"] == "pending" and row["terms"]["approved_limit"] == 500_000.0
        assert row["terms"]["grade"] == "5"
    finally:
        store.close()


def test_grade_only_override_leaves_the_register(store: DecisionStore) -> None:
    d = _decision(store)
    row = apply_override(store, d, new_grade="8", reason=REASON, officer="k")
    assert row["register_change"] is None and len(store.history("S-1", "D-1")) == 1


def test_store_refuses_an_override_without_officer_or_reason(store: DecisionStore) -> None:
    with pytest.raises(InvalidInputError, match=r"the officer's identity is missing"):
        store.record_override(debtor_id="D-1", reason=REASON, officer="", direction="upgrade",
                              notches=1, flagged=True)
    with pytest.raises(InvalidInputError, match=r"the reason is shorter than 20 characters"):
        store.record_override(debtor_id="D-1", reason="short", officer="k",
                              direction="upgrade", notches=1, flagged=True)
    with pytest.raises(sa.exc.IntegrityError, match=r"ck_overrides_officer"):
        with store.engine.begin() as conn:  # the SQL CHECK holds even past the Python API
            conn.exec_driver_sql(
                "INSERT INTO overrides (debtor_id, notches, direction, limit_change, reason, "
                "officer, flagged, flag_reasons, created_at) VALUES ('D-1', 1, 'upgrade', "
                f"'none', '{REASON}', ' ', 1, '[]', '2026-01-01')")


@pytest.mark.parametrize("table", ["overrides", "inputs"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}"])
def test_audit_tables_are_append_only(store: DecisionStore, table: str,
                                      statement: str) -> None:
    apply_override(store, _decision(store), new_grade="7", reason=REASON, officer="k")
    store.record_inputs("h" * 64, {"debtor": {"debtor_id": "D-1"}})
    col = "officer" if table == "overrides" else "payload"
    with pytest.raises(sa.exc.IntegrityError, match=rf"{table} is append-only"):
        with store.engine.begin() as conn:
            conn.exec_driver_sql(statement.format(t=table, c=col))
    assert store.count(table) == 1


def test_inputs_are_kept_once_per_hash(store: DecisionStore) -> None:
    assert store.record_inputs("abc", {"b": 1, "a": [1.5, None]}) is True
    assert store.record_inputs("abc", '{"other": true}') is False  # first payload kept
    assert store.inputs_for("abc") == {"a": [1.5, None], "b": 1}
    assert store.inputs_for("nope") is None
    with pytest.raises(InvalidInputError, match=r"not a JSON object"):
        store.record_inputs("def", "[1, 2]")
    with pytest.raises(InvalidInputError, match=r"input_hash is empty"):
        store.record_inputs(" ", {})


def test_an_override_cut_goes_through_the_register_with_its_notice(store: DecisionStore
                                                                    ) -> None:
    """Issue 15 point 7: an officer's cut is applied by the register's one rule (source
    override:<id>, the policy's 30 days' notice), and a decision older than the override
    posted afterwards does not undo it."""
    d = _decision(store, limit=100_000.0)
    row = apply_override(store, d, new_limit=60_000.0, reason=REASON, officer="k")
    today = dt.date.today()
    due = today + dt.timedelta(days=30)
    entry = store.current_limit("S-1", "D-1", today)
    assert (entry["limit"], entry["status"], entry["source"]) == (
        100_000.0, "pending_cut", f"override:{row['id']}")
    assert entry["pending"] == {"limit": 60_000.0, "effective_date": due.isoformat()}
    assert row["register_change"]["register"]["status"] == "pending_cut"
    assert store.current_limit("S-1", "D-1", due)["limit"] == 60_000.0
    _decision(store, limit=100_000.0)  # as of 2026-06-30, before the override
    assert store.history("S-1", "D-1")[-1]["action"] == "not_applied"
    assert store.current_limit("S-1", "D-1", due)["limit"] == 60_000.0
