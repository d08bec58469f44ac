"""Advance rate, fees and settlement."""

from __future__ import annotations

import numpy as np
import pytest

from riskengine.config import load_policy
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.policy.pricing import advance_rate, fee_rates, fees, pricing_grade, settlement

POLICY = load_policy()


def test_settlement_seed_001() -> None:
    """Seed 001 (recourse example): invoice Rs 10,000; advance Rs 8,500; factor fee 10 %
    of the advance = Rs 850; balance returned = 10,000 - (8,500 + 850) = Rs 650."""
    s = settlement(10_000, 0.85, 0.10)
    assert s.advance == pytest.approx(8_500)
    assert s.fee == pytest.approx(850)
    assert s.balance == pytest.approx(650)
    arr = settlement(np.array([10_000.0, 20_000.0]), 0.85, 0.10)
    np.testing.assert_allclose(arr.balance, [650, 1_300])


def test_advance_rate_by_grade_product_less_dilution() -> None:
    """Policy tables: grade 5 recourse 85 % (seed 003), non-recourse 85 %; grade 1 recourse
    95 % (seed 003 'up to 95 %'); dilution 3 % deducted; floored at 0; 0 at D."""
    r = advance_rate(["5", "1", "1", "D", "8"], ["recourse", "recourse", "non_recourse",
                                                "recourse", "non_recourse"],
                     POLICY, [0.03, 0.0, 0.0, 0.0, 0.9])
    np.testing.assert_allclose(r, [0.82, 0.95, 0.90, 0.0, 0.0])


def test_advance_rate_non_increasing_in_grade() -> None:
    for product in POLICY.product_names:
        r = advance_rate(np.arange(1, 12), product, POLICY)
        assert np.all(np.diff(r) <= 0) and r[-1] == 0


def test_fees_act_360_hand_calculation() -> None:
    """Grade 5: commission 1.75 % x 10,000 = 175; discount 10 %/yr x 8,500 x 90 / 360 = 212.50."""
    f = fees(10_000, 8_500, 90, "5", POLICY)
    assert f.service_commission == pytest.approx(175.0)
    assert f.discount_interest == pytest.approx(212.5)
    assert f.total == pytest.approx(387.5)
    nr = fees(10_000, 8_500, 90, "5", POLICY, product="non_recourse")
    assert nr.service_commission == pytest.approx(225.0)  # + 0.5 % surcharge (seed 001)
    neg = fees(10_000, 8_500, -5, "5", POLICY)
    assert neg.discount_interest == 0.0


def test_fees_act_365_option() -> None:
    raw = POLICY.to_dict()
    raw["fees"]["day_count"] = 365
    p365 = CreditPolicy.from_dict(raw)
    f = fees(10_000, 8_500, 365, "5", p365)
    assert f.discount_interest == pytest.approx(850.0)


def test_fees_rise_with_risk() -> None:
    """Seed 001: the fee rises with the debtor's risk."""
    f = fees(np.full(11, 10_000.0), np.full(11, 8_000.0), 60, np.arange(1, 12), POLICY)
    assert np.all(np.diff(f.total) >= 0)


def test_recourse_prices_on_supplier_grade() -> None:
    g = pricing_grade(["2", "2"], ["recourse", "non_recourse"], POLICY, ["6", "6"])
    assert g.tolist() == [6, 2]
    assert pricing_grade(["2"], ["recourse"], POLICY).tolist() == [2]


def test_a_refused_pair_gets_no_advance_and_no_fees() -> None:
    """Issue 16: a pair with no approved limit is not financed, so its advance rate and
    fee rates are 0; a pair with a limit keeps the policy's rates (grade 5 non-recourse:
    advance 85 %, commission 1.75 % + 0.5 % surcharge = 2.25 %, discount 10 %)."""
    approved = np.array([25_000.0, 0.0, np.nan])
    r = advance_rate(["5", "5", "5"], "non_recourse", POLICY, 0.0, approved=approved)
    np.testing.assert_allclose(r, [0.85, 0.0, 0.0])
    comm, disc = fee_rates(["5", "5", "5"], "non_recourse", POLICY, approved=approved)
    np.testing.assert_allclose(comm, [0.0225, 0.0, 0.0])
    np.testing.assert_allclose(disc, [0.10, 0.0, 0.0])
    # without limits: the rates of the grade and product, the ones fees() charges
    comm, disc = fee_rates(["5", "1"], ["non_recourse", "recourse"], POLICY)
    np.testing.assert_allclose(comm, [0.0225, 0.01])
    np.testing.assert_allclose(disc, [0.10, 0.08])
    f = fees(10_000, 8_500, 360, "5", POLICY, product="non_recourse")
    assert f.service_commission == pytest.approx(comm[0] * 10_000)
    assert f.discount_interest == pytest.approx(disc[0] * 8_500)


def test_decisions_of_refused_pairs_show_no_advance_and_no_fees() -> None:
    """The engine's decisions (the core calls advance_rate and fee_rates with the
    approved limits): refused pairs 0, approved pairs the policy's positive rates."""
    from riskengine.api import load_engine
    from riskengine.synthetic import generate_portfolio

    d = load_engine().decide(generate_portfolio(200, seed=8), "2026-06-30",
                             decided_at="2026-06-30T00:00:00Z",
                             reference_date="2026-06-30").decisions
    refused = d[d["decision_type"] == "refused"]
    approved = d[d["approved_limit"].astype(float) > 0]
    assert len(refused) > 5 and len(approved) > 5
    for col in ("advance_rate", "service_commission_rate", "discount_rate"):
        assert (refused[col].astype(float) == 0).all(), col
        assert (approved[col].astype(float) > 0).all(), col
