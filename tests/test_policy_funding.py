"""The funding check for assigned invoices (seed 003: over-limit invoices are unfunded)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.config import load_policy
from riskengine.errors import InvalidInputError
from riskengine.policy import CreditPolicy
from riskengine.policy.funding import cross_aged, fund_invoice, fund_invoices, rating_stale

POLICY = load_policy()
BASE = {"limit": 25_000.0, "approved_outstanding": 0.0, "amount": 10_000.0,
        "invoice_date": "2026-01-01", "due_date": "2026-03-02", "as_of": "2026-01-01",
        "grade": "5", "product": "recourse"}


def test_plain_invoice_hand_calculation() -> None:
    """Grade 5 recourse (policy: advance 85 %, commission 1.75 %, discount 10 %/yr act/360),
    invoice 10,000 due in 60 days, room 25,000:
    advance 8,500; fees 175 + 0.10 x 8,500 x 60 / 360 = 316.67; balance 1,183.33."""
    r = fund_invoice(POLICY, **BASE)
    assert r.eligible and r.approved == 10_000 and r.unapproved == 0
    assert r.advance == pytest.approx(8_500)
    assert r.fees == pytest.approx(316.6667, abs=1e-3)
    assert r.balance_on_collection == pytest.approx(1_183.3333, abs=1e-3)
    assert r.reasons == ()


def test_over_limit_part_is_unapproved_and_unfunded() -> None:
    """Seed 003: invoices above the limit are unapproved and unfunded; available =
    limit - approved outstanding = 25,000 - 20,000 = 5,000 of a 10,000 invoice."""
    r = fund_invoice(POLICY, **{**BASE, "approved_outstanding": 20_000})
    assert r.approved == 5_000 and r.unapproved == 5_000 and r.over_limit == 5_000
    assert r.advance == pytest.approx(0.85 * 5_000)
    assert "over_limit" in r.reasons
    full = fund_invoice(POLICY, **{**BASE, "approved_outstanding": 30_000})
    assert full.approved == 0 and set(full.reasons) == {"over_limit", "no_limit_available"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"as_of": "2026-04-02"}, "invoice_aged"),  # 91 days after the invoice date
     ({"cross_aged": True}, "cross_aged"),
     ({"related": True}, "related_party"),
     ({"grade": "D"}, "grade_default")],
)
def test_ineligible_invoices(change: dict, reason: str) -> None:
    """DOMAIN.md §4: > 90 days from invoice, cross-aged debtor, affiliates; default."""
    r = fund_invoice(POLICY, **{**BASE, **change})
    assert not r.eligible and r.approved == 0 and r.advance == 0
    assert r.ineligible == r.unapproved == 10_000
    assert reason in r.reasons


def test_ninety_days_is_still_eligible() -> None:
    assert fund_invoice(POLICY, **{**BASE, "as_of": "2026-04-01"}).eligible


def test_related_party_is_not_accepted() -> None:
    r = fund_invoice(POLICY, **{**BASE, "related": True})
    assert r.fees == 0 and r.balance_on_collection == 0


def test_contras_are_deducted() -> None:
    """Contras (what the supplier owes the debtor) are deducted: 10,000 - 3,000 = 7,000."""
    r = fund_invoice(POLICY, **{**BASE, "contras": 3_000})
    assert r.eligible and r.eligible_amount == 7_000 and r.approved == 7_000
    assert r.ineligible == 3_000 and "contra_deducted" in r.reasons
    assert r.balance_on_collection == pytest.approx(7_000 - r.advance - r.fees)


def test_cross_aged_helper() -> None:
    """More than 10 % of the balance over 90 days -> the whole balance is ineligible."""
    assert cross_aged([10_000, 10_001, 1], [100_000, 100_000, 0], POLICY).tolist() == [
        False, True, False]


def test_sequential_invoices_share_the_limit() -> None:
    b = fund_invoices({**BASE, "amount": [10_000, 10_000, 10_000, 4_000],
                       "debtor": ["A", "B", "A", "A"], "limit": [15_000, 5_000, 15_000, 15_000]},
                      POLICY)
    assert b.approved.tolist() == [10_000, 5_000, 5_000, 0]
    assert b.over_limit.tolist() == [0, 5_000, 5_000, 4_000]


def test_bad_dates_and_amounts_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="due_date .*before the invoice date"):
        fund_invoices({**BASE, "due_date": ["2025-12-01"]}, POLICY)
    with pytest.raises(InvalidInputError, match="invoice_date .*after as_of"):
        fund_invoices({**BASE, "invoice_date": ["2026-02-01"]}, POLICY)
    with pytest.raises(InvalidInputError, match=r"row 0: amount = -1\.0"):
        fund_invoices({**BASE, "amount": [-1.0]}, POLICY)
    with pytest.raises(InvalidInputError, match="required column 'grade'"):
        fund_invoices({k: v for k, v in BASE.items() if k != "grade"}, POLICY)


def test_single_equals_batch() -> None:
    rng = np.random.default_rng(5)
    n = 50
    batch_in = {**BASE, "amount": rng.uniform(0, 30_000, n),
                "approved_outstanding": rng.uniform(0, 30_000, n),
                "grade": rng.integers(1, 12, n), "product": rng.integers(0, 2, n),
                "contras": rng.uniform(0, 2_000, n)}
    b = fund_invoices(batch_in, POLICY)
    for i in range(0, n, 7):
        one = fund_invoice(POLICY, **{k: (v[i] if np.ndim(v) else v) for k, v in batch_in.items()})
        assert one.approved == b.approved[i] and one.fees == b.fees[i]


@settings(max_examples=150, deadline=None)
@given(
    limit=st.floats(0, 1e6), outstanding=st.floats(0, 1e6),
    amounts=st.lists(st.floats(0, 5e5), min_size=1, max_size=30),
    contras=st.floats(0, 1e4), grade=st.integers(1, 11),
    product=st.sampled_from(POLICY.product_names), crossed=st.booleans(),
)
def test_funded_within_invoice_and_limit(limit, outstanding, amounts, contras, grade, product,
                                         crossed) -> None:
    """Issue 4 §7: funded <= invoice; the sum funded over a sequence of invoices never
    exceeds the room left under the limit; advance <= funded."""
    n = len(amounts)
    b = fund_invoices({**BASE, "limit": limit, "approved_outstanding": outstanding,
                       "amount": amounts, "contras": contras, "grade": np.full(n, grade),
                       "product": product, "cross_aged": crossed, "debtor": ["X"] * n}, POLICY)
    amt = np.asarray(amounts)
    assert np.all(b.approved <= amt) and np.all(b.approved >= 0)
    assert b.approved.sum() <= max(limit - outstanding, 0) * (1 + 1e-12) + 1e-6
    assert np.all(b.advance <= b.approved * (1 + 1e-12))
    np.testing.assert_allclose(b.unapproved, b.over_limit + b.ineligible, atol=1e-6)
    # the same invoices one call at a time, carrying the outstanding forward
    running = outstanding
    for a in amounts:
        r = fund_invoice(POLICY, **{**BASE, "limit": limit, "approved_outstanding": running,
                                    "amount": a, "contras": contras, "grade": grade,
                                    "product": product, "cross_aged": crossed})
        assert r.approved <= a
        running += r.approved
    assert running - outstanding == pytest.approx(b.approved.sum(), rel=1e-9, abs=1e-6)


def test_rating_stale_counts_calendar_months() -> None:
    """[funding] max_rating_age_months = 12 (CRR art. 173(1)(b)): a rating of 2025-01-31
    is current up to 2026-01-31; one of 2024-02-29 up to 2025-02-28 (no 29th); an
    unknown date is stale."""
    got = rating_stale(["2025-01-31", "2025-01-31", "2024-02-29", "2024-02-29", None],
                       ["2026-01-31", "2026-02-01", "2025-02-28", "2025-03-01", "2026-01-01"],
                       POLICY)
    assert got.tolist() == [False, True, False, True, True]


def test_a_stale_rating_makes_the_invoice_ineligible() -> None:
    r = fund_invoice(POLICY, limit=25_000, approved_outstanding=0, amount=10_000,
                     invoice_date="2026-07-01", due_date="2026-08-30", as_of="2026-07-02",
                     grade="5", product="recourse", rating_date="2025-06-30")
    assert (r.eligible, r.approved, r.advance, r.reasons) == (False, 0.0, 0.0, ("rating_stale",))


def test_the_decision_advance_rate_replaces_the_policy_table() -> None:
    """The funding check advances at the decision's own rate (its dilution included); the
    grade-D rule still advances nothing."""
    r = fund_invoice(POLICY, limit=25_000, approved_outstanding=0, amount=10_000,
                     invoice_date="2026-07-01", due_date="2026-08-30", as_of="2026-07-02",
                     grade="5", product="recourse", advance_rate=0.6)
    assert (r.advance_rate, r.advance) == (0.6, 6_000.0)
    d = fund_invoice(POLICY, limit=25_000, approved_outstanding=0, amount=10_000,
                     invoice_date="2026-07-01", due_date="2026-08-30", as_of="2026-07-02",
                     grade="D", product="recourse", advance_rate=0.6)
    assert d.advance == 0.0


def test_funding_max_rating_age_defaults_and_is_checked() -> None:
    from riskengine.errors import PolicyError

    d = POLICY.to_dict()
    assert d["funding"] == {"max_rating_age_months": 12}
    del d["funding"]
    assert CreditPolicy.from_dict(d).funding.max_rating_age_months == 12
    d["funding"] = {"max_rating_age_months": 0}
    with pytest.raises(PolicyError, match="funding.max_rating_age_months"):
        CreditPolicy.from_dict(d)
