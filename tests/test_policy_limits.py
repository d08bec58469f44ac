"""Limit decisions: requested limit, capacity, knock-outs, caps, rounding, limit changes."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.config import load_policy
from riskengine.errors import InvalidInputError
from riskengine.policy.credit_policy import GRADES, CreditPolicy
from riskengine.policy.limits import (
    DECISIONS,
    REASONS,
    adverse_knockout,
    capacity,
    decide_limit,
    decide_limits,
    limit_change,
    reason_codes,
    reason_mask,
    requested_limit,
)

POLICY = load_policy()


def _test_policy() -> CreditPolicy:
    """A test policy: grade "2" plays D&B's grade B (a = 35 %, b = 5 %), unit 1."""
    d = copy.deepcopy(POLICY.to_dict())
    a = [0.50, 0.35, 0.30, 0.25, 0.20, 0.15, 0.10, 0.05, 0.02, 0.01, 0.0]
    b = [0.09, 0.05, 0.05, 0.04, 0.03, 0.03, 0.02, 0.01, 0.005, 0.0025, 0.0]
    d["capacity"]["tnw_fraction"] = dict(zip(GRADES, a, strict=True))
    d["capacity"]["revenue_fraction"] = dict(zip(GRADES, b, strict=True))
    d["limits"]["rounding_unit"] = 1.0
    return CreditPolicy.from_dict(d)


def test_requested_limit_seed_003() -> None:
    """Seed 003: annual sales 100,000 on 90-day terms -> 360 / 90 = 4 -> limit 25,000."""
    assert requested_limit(100_000, 90) == 25_000.0
    assert requested_limit(100_000, 90, POLICY.limits.credit_days_basis) == 25_000.0
    np.testing.assert_allclose(requested_limit([100_000, 36_000], [90, 30]), [25_000, 3_000])


def test_capacity_dnb_tnw_example() -> None:
    """DOMAIN.md §4 (D&B): grade B, a = 35 %, b = 5 %; TNW 80k, turnover 700k.

    Hand calculation: 35 % x 80,000 = 28,000; 5 % x 700,000 = 35,000;
    capacity = min(28,000, 35,000) = 28,000. Requested 40,000 -> partial 28,000,
    bound by capacity.
    """
    policy = _test_policy()
    cap, reasons = capacity(["2"], policy, tnw=[80_000], revenue=[700_000])
    assert cap[0] == pytest.approx(28_000.0)
    assert reasons[0] == 0
    d = decide_limit(policy, grade="2", requested=40_000, product="recourse",
                     tnw=80_000, revenue=700_000)
    assert d.approved == 28_000.0
    assert d.decision == "partial"
    assert d.reasons == ("capacity",)


def test_capacity_revenue_binds_when_equity_is_large() -> None:
    """Hand calculation: TNW 1,000,000 x 35 % = 350,000 > 700,000 x 5 % = 35,000 -> 35,000."""
    cap, _ = capacity(["2"], _test_policy(), tnw=[1_000_000], revenue=[700_000])
    assert cap[0] == pytest.approx(35_000.0)


def test_negative_equity_is_explicit() -> None:
    d = decide_limit(POLICY, grade="3", requested=20_000, product="recourse",
                     tnw=-10_000, revenue=1_000_000)
    assert d.approved == 0.0 and d.decision == "refused"
    assert "negative_equity" in d.reasons
    raw = POLICY.to_dict()
    raw["capacity"]["negative_equity"] = "minimum_limit"
    lenient = CreditPolicy.from_dict(raw)
    d2 = decide_limit(lenient, grade="3", requested=20_000, product="recourse",
                      tnw=-10_000, revenue=1_000_000)
    assert d2.approved == POLICY.capacity.no_financials_limit["3"] == 10_000.0  # policy.toml
    assert "negative_equity" in d2.reasons


def test_tax_return_capacity_with_haircut() -> None:
    """Policy: haircut 30 %, profit multiple 1; grade 4 b = 5 %.

    Hand calculation: min(5 % x 700,000 = 35,000, 1 x 20,000) x (1 - 0.30) = 14,000.
    """
    d = decide_limit(POLICY, grade="4", requested=50_000, product="recourse",
                     basis="tax_return", revenue=700_000, profit=20_000)
    assert d.capacity == pytest.approx(14_000.0)
    assert d.approved == 14_000.0
    assert set(d.reasons) == {"capacity", "tax_return_haircut"}
    loss = decide_limit(POLICY, grade="4", requested=50_000, product="recourse",
                        basis="tax_return", revenue=700_000, profit=-1)
    assert loss.approved == 0.0 and "non_positive_profit" in loss.reasons


def test_no_financials_gets_predetermined_minimum() -> None:
    """Seed 003: with no financial data at all, a predetermined minimum limit."""
    d = decide_limit(POLICY, grade="6", requested=50_000, product="recourse", basis="none")
    assert d.approved == POLICY.capacity.no_financials_limit["6"] == 5_000.0
    assert "no_financials" in d.reasons and "capacity" in d.reasons


def test_missing_financials_refuse_with_reason() -> None:
    d = decide_limit(POLICY, grade="3", requested=10_000, product="recourse",
                     tnw=float("nan"), revenue=1e6)
    assert d.decision == "refused" and "missing_data" in d.reasons


@pytest.mark.parametrize(
    ("flag", "code"),
    [("adverse_knockout", "adverse_record"), ("insolvency", "insolvency"),
     ("related", "related_party")],
)
def test_knockouts_refuse_with_only_their_reason(flag: str, code: str) -> None:
    d = decide_limit(POLICY, grade="1", requested=10_000, product="recourse", tnw=1e6,
                     revenue=1e7, **{flag: True})
    assert d.approved == 0.0 and d.decision == "refused"
    assert d.reasons == (code,)


def test_grade_d_and_supplier_default_refuse() -> None:
    d = decide_limit(POLICY, grade="D", requested=10_000, product="recourse", tnw=1e6,
                     revenue=1e7)
    assert d.reasons == ("grade_default",)
    s = decide_limit(POLICY, grade="1", supplier_grade="D", requested=10_000,
                     product="recourse", tnw=1e6, revenue=1e7)
    assert s.reasons == ("supplier_default",)
    ok = decide_limit(POLICY, grade="1", supplier_grade="D", requested=10_000,
                      product="non_recourse", tnw=1e6, revenue=1e7)
    assert ok.decision == "full"


def test_adverse_knockout_serious_recent_significant() -> None:
    """Seed 003: rejected for records serious AND recent (4 years) AND significant.

    A bounced cheque of 1,000 is not serious; a mortgage pre-notation never is;
    an old record (5 years) does not count; one dated after as_of is ignored.
    """
    ko = adverse_knockout(
        ["bounced_cheque", "bounced_cheque", "mortgage_prenotation", "payment_order",
         "unpaid_bill_of_exchange", "payment_order"],
        ["2024-01-01", "2024-01-01", "2024-01-01", "2020-01-01", "2025-06-01", "2025-02-01"],
        [5_000, 1_000, 90_000, 50_000, 2_000, 9_000],
        ["open", "open", "open", "open", "settled", "open"], "2025-01-01", POLICY)
    assert ko.tolist() == [True, False, False, False, False, False]
    raw = POLICY.to_dict()
    raw["knockouts"]["adverse_count_settled"] = False
    strict = CreditPolicy.from_dict(raw)
    settled = adverse_knockout(["payment_order"] * 2, "2024-06-01", 5_000,
                               ["settled", "open"], "2025-01-01", strict)
    assert settled.tolist() == [False, True]


def test_concentration_caps_hand_calculation() -> None:
    """Hand calculations with the shipped policy (grade 4: ledger share 25 %).

    - ledger: 25 % x 100,000 = 25,000
    - group: 25 % x capital 1,000,000 - other group exposure 240,000 = 10,000
    - sector: (25 % x 1,000,000 - 230,000) / (1 - 25 %) = 26,666.67
    """
    base = {"grade": "4", "requested": 100_000.0, "product": "recourse", "tnw": 1e7,
            "revenue": 1e8}
    d = decide_limit(POLICY, **base, supplier_ledger=100_000)
    assert d.approved == 25_000.0 and d.reasons == ("ledger_cap",)
    d = decide_limit(POLICY, **base, group_exposure=240_000, factor_capital=1_000_000)
    assert d.approved == 10_000.0 and d.reasons == ("group_cap",)
    d = decide_limit(POLICY, **base, sector_exposure=230_000, book_total=1_000_000)
    assert d.concentration_headroom == pytest.approx(26_666.6667)
    assert d.approved == 26_000.0 and d.reasons == ("sector_cap",)
    full = decide_limit(POLICY, **base, group_exposure=300_000, factor_capital=1_000_000)
    assert full.approved == 0.0 and full.reasons == ("group_cap",)


def test_sector_cap_is_exact_after_adding_the_limit() -> None:
    d = decide_limit(POLICY, grade="4", requested=1e6, product="recourse", tnw=1e9,
                     revenue=1e9, sector_exposure=230_000, book_total=1_000_000)
    share = (230_000 + d.concentration_headroom) / (1_000_000 + d.concentration_headroom)
    assert share == pytest.approx(POLICY.book.sector_book_share)


def test_insurer_cover_caps_insured_products_only() -> None:
    base = {"grade": "4", "requested": 50_000.0, "tnw": 1e7, "revenue": 1e8,
            "insurer_limit": 30_000.0}
    ins = decide_limit(POLICY, product="non_recourse", **base)
    assert ins.approved == 30_000.0 and ins.reasons == ("insurer_cover",)
    rec = decide_limit(POLICY, product="recourse", **base)
    assert rec.approved == 50_000.0 and rec.decision == "full"
    none = decide_limit(POLICY, grade="9", requested=5_000, product="non_recourse", tnw=1e7,
                        revenue=1e8)
    assert none.approved == 0.0 and "no_insurer_appetite" in none.reasons


def test_rounding_down_and_ties() -> None:
    """Requested 25,900 with unit 1,000 -> 25,000 and still 'full' (only the request binds)."""
    d = decide_limit(POLICY, grade="1", requested=25_900, product="recourse", tnw=1e7,
                     revenue=1e8)
    assert d.approved == 25_000.0 and d.decision == "full" and d.reasons == ("requested",)
    tie = decide_limit(POLICY, grade="4", requested=28_000, product="recourse", tnw=80_000,
                       revenue=700_000)
    assert tie.approved == 28_000.0 and tie.reasons == ("requested", "capacity")
    small = decide_limit(POLICY, grade="1", requested=400, product="recourse", tnw=1e7,
                         revenue=1e8)
    assert small.decision == "refused" and "below_rounding_unit" in small.reasons
    zero = decide_limit(POLICY, grade="1", requested=0, product="recourse", tnw=1e7,
                        revenue=1e8)
    assert zero.decision == "refused" and "nothing_requested" in zero.reasons


def test_single_and_batch_agree_and_inputs_not_mutated() -> None:
    rng = np.random.default_rng(3)
    n = 200
    pairs = {"grade": rng.integers(1, 12, n), "requested": rng.uniform(0, 1e5, n),
             "product": rng.integers(0, 2, n), "tnw": rng.normal(2e5, 2e5, n),
             "revenue": rng.uniform(0, 3e6, n), "supplier_ledger": rng.uniform(0, 5e5, n)}
    before = {k: v.copy() for k, v in pairs.items()}
    batch = decide_limits(pairs, POLICY)
    for k in pairs:
        np.testing.assert_array_equal(pairs[k], before[k])
    names = batch.reason_lists()
    for i in range(0, n, 17):
        one = decide_limit(POLICY, **{k: v[i] for k, v in pairs.items()})
        assert one.approved == batch.approved[i]
        assert one.decision == DECISIONS[batch.decision[i]]
        assert one.reasons == names[i]
    frame = batch.to_frame()
    assert len(frame) == n and set(frame["decision"]) <= set(DECISIONS)


def test_reason_codes_round_trip() -> None:
    assert reason_codes(reason_mask(*REASONS)) == REASONS
    assert reason_codes(0) == ()


def test_bad_inputs_name_row_and_column() -> None:
    with pytest.raises(InvalidInputError, match="required column 'product'"):
        decide_limits({"grade": ["1"], "requested": [1.0]}, POLICY)
    with pytest.raises(InvalidInputError, match=r"pairs row 1: requested = -5\.0"):
        decide_limits({"grade": ["1", "2"], "requested": [1.0, -5.0], "product": "recourse"},
                      POLICY)
    with pytest.raises(InvalidInputError, match="'NR' is not a master-scale grade"):
        decide_limits({"grade": ["1", "NR"], "requested": 1.0, "product": "recourse"}, POLICY)
    with pytest.raises(InvalidInputError, match="row 0: grade = 12"):
        decide_limits({"grade": np.array([12]), "requested": 1.0, "product": "recourse"},
                      POLICY)
    with pytest.raises(InvalidInputError, match="product = 'factoring': not a product"):
        decide_limits({"grade": ["1"], "requested": 1.0, "product": "factoring"}, POLICY)
    with pytest.raises(InvalidInputError, match="row 0: basis = 'audited'"):
        decide_limits({"grade": ["1"], "requested": 1.0, "product": "recourse",
                       "basis": "audited"}, POLICY)


# --- properties ----------------------------------------------------------------------

money = st.floats(min_value=0, max_value=1e9, allow_nan=False)
pair_strategy = st.fixed_dictionaries({
    "requested": money,
    "product": st.sampled_from(POLICY.product_names),
    "basis": st.sampled_from(["statements", "tax_return", "none"]),
    "tnw": st.floats(min_value=-1e8, max_value=1e9, allow_nan=False),
    "revenue": money,
    "profit": st.floats(min_value=-1e7, max_value=1e8, allow_nan=False),
    "supplier_ledger": money,
    "group_exposure": money,
    "factor_capital": money,
    "insurer_limit": money,
    "related": st.booleans(),
})


@settings(max_examples=150, deadline=None)
@given(pair=pair_strategy)
def test_limit_never_rises_as_grade_worsens_is_zero_at_d_and_within_request(pair) -> None:
    """STYLE.md / issue 4 §7: monotone in the grade, 0 at D, never above the request."""
    rows = {k: [v] * len(GRADES) for k, v in pair.items()}
    rows["grade"] = list(GRADES)
    d = decide_limits(rows, POLICY)
    approved = d.approved
    assert np.all(np.diff(approved) <= 0), approved
    assert approved[-1] == 0.0
    assert np.all(approved <= pair["requested"])
    assert np.all(approved >= 0)
    assert np.all(np.mod(approved, POLICY.limits.rounding_unit) == 0)
    assert np.all((d.decision == 2) == (approved == 0))


@settings(max_examples=100, deadline=None)
@given(prev=money, new=money, ko=st.booleans(), out_frac=st.floats(0, 1))
def test_limit_change_properties(prev: float, new: float, ko: bool, out_frac: float) -> None:
    ch = limit_change([prev], [new], "2026-01-01", [ko], POLICY, [prev * out_frac])
    action = ch.action_names()[0]
    assert action == ("increase" if new > prev else "unchanged" if new == prev
                      else "cancel" if new == 0 else "decrease")
    delay = 0 if (action in ("increase", "unchanged") or ko) else POLICY.limits.notice_days
    assert ch.effective_date[0] == np.datetime64("2026-01-01") + np.timedelta64(delay, "D")
    assert ch.protected[0] == pytest.approx(prev * out_frac)
    assert 0 <= ch.available_after[0] <= new


def test_limit_change_examples() -> None:
    """Atradius / FCI GRIF art. 18: reduction effective 30 days after notice, at once on
    a knock-out; invoices already assigned stay approved up to the old limit."""
    ch = limit_change([50_000, 50_000, 50_000, 10_000], [20_000, 20_000, 0, 10_000],
                      "2026-03-01", [False, True, False, False], POLICY,
                      [45_000, 45_000, 45_000, 0])
    assert ch.action_names().tolist() == ["decrease", "decrease", "cancel", "unchanged"]
    assert ch.effective_date.astype(str).tolist() == [
        "2026-03-31", "2026-03-01", "2026-03-31", "2026-03-01"]
    assert ch.protected.tolist() == [45_000, 45_000, 45_000, 0]
    assert ch.available_after.tolist() == [0, 0, 0, 10_000]
    default = limit_change(50_000, 20_000, "2026-03-01", False, POLICY)
    assert default.protected.tolist() == [50_000]


# --- one debtor, one capacity (issue 15) ------------------------------------------------


def test_debtor_capacity_is_shared_among_its_suppliers() -> None:
    """Two suppliers each asking 34,000 of a debtor whose capacity is 34,000 (the demo's
    D000119) share it: hand calculation, grade "2" of the test policy, TNW 80,000 and
    turnover 700,000 -> capacity min(0.35 x 80,000, 0.05 x 700,000) = 28,000; the
    supplier with 10,000 outstanding keeps it first, the remaining 18,000 go pro rata
    to what each asks beyond it: 24,000 : 34,000 -> 7,448.28 and 10,551.72."""
    policy = _test_policy()
    pairs = {"grade": ["2", "2", "2"], "requested": [34_000.0, 34_000.0, 5_000.0],
             "product": "recourse", "tnw": 80_000.0, "revenue": 700_000.0,
             "debtor": [0, 0, 1], "protected": [10_000.0, 0.0, 0.0]}
    d = decide_limits(pairs, policy)
    assert d.capacity.tolist() == [28_000.0, 28_000.0, 28_000.0]
    assert d.approved.tolist() == [17_448.0, 10_551.0, 5_000.0]  # rounded down to unit 1
    assert d.approved[:2].sum() <= 28_000.0
    assert [reason_codes(int(m)) for m in d.reasons] == [
        ("capacity",), ("capacity",), ("requested",)]
    assert d.decision_names().tolist() == ["partial", "partial", "full"]
    # alone, each pair would get the whole capacity: the old k x capacity
    alone = decide_limits({k: v for k, v in pairs.items() if k not in ("debtor", "protected")},
                          policy)
    assert alone.approved[:2].tolist() == [28_000.0, 28_000.0]


def test_debtor_allocation_ignores_row_order_and_refused_pairs() -> None:
    """The rule is deterministic: permuting the pairs permutes the answer; a refused pair
    (knock-out) takes nothing, so the other pair keeps the whole capacity."""
    policy = _test_policy()
    pairs = {"grade": ["2"] * 3, "requested": [20_000.0, 30_000.0, 10_000.0],
             "product": "recourse", "tnw": 80_000.0, "revenue": 700_000.0,
             "debtor": [0, 0, 0], "protected": [0.0, 5_000.0, 0.0],
             "related": [False, False, True]}
    d = decide_limits(pairs, policy)
    order = [2, 0, 1]
    p2 = {k: (np.asarray(v)[order] if np.ndim(v) else v) for k, v in pairs.items()}
    d2 = decide_limits(p2, policy)
    assert d2.approved.tolist() == d.approved[order].tolist()
    assert d.approved[2] == 0.0 and reason_codes(int(d.reasons[2])) == ("related_party",)
    # 28,000 for two pairs asking 50,000: 5,000 protected first, then 23,000 pro rata
    # to 20,000 : 25,000 -> 10,222.2 and 5,000 + 12,777.8
    assert d.approved[:2].tolist() == [10_222.0, 17_777.0]


def test_protected_outstanding_beyond_capacity_is_shared_pro_rata() -> None:
    """When the approved outstanding alone exceeds the capacity, the capacity is shared
    pro rata to it (hand calculation: 28,000 x 30/40 and x 10/40)."""
    d = decide_limits({"grade": ["2", "2"], "requested": [50_000.0, 50_000.0],
                       "product": "recourse", "tnw": 80_000.0, "revenue": 700_000.0,
                       "debtor": [0, 0], "protected": [30_000.0, 10_000.0]}, _test_policy())
    assert d.approved.tolist() == [21_000.0, 7_000.0]
