"""The supplier's own risk (riskengine.policy.supplier, the [supplier] policy section, and the
recourse cap of riskengine.policy.limits.decide_limits).

Golden values are hand calculations on the shipped policy (riskengine/config/policy.toml
[supplier], [capacity], [products]); each test names the figures it uses.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.config import load_policy
from riskengine.errors import InvalidInputError, PolicyError
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.policy.limits import decide_limit, decide_limits
from riskengine.policy.supplier import (
    SUPPLIER_FACTORS,
    assess_suppliers,
    assessed_grade,
    debtor_hhi,
    debtor_hhi_arrays,
    factor_names,
    supplier_advance_rate,
)

POLICY = load_policy()

# capacity of the D&B example (DOMAIN.md §4): grade 4, TNW 80k, turnover 700k ->
# min(35 % x 80k, 5 % x 700k) = 28,000
DEBTOR = {"grade": "4", "tnw": 80_000.0, "revenue": 700_000.0}


# --- the assessment ----------------------------------------------------------------------


def test_each_weak_factor_counts_its_notches() -> None:
    """Shipped policy: negative outlook 2, services 1, mixed 0, perishable 1, not
    standardised 1, consignment > 10 % 1, credit notes > 5 % 1, debtors' HHI > 0.25 1."""
    a = assess_suppliers({
        "sector_outlook": ["negative", "stable", "positive", None, None, None, None, None],
        "goods_or_services": [None, "services", "mixed", None, None, None, None, None],
        "perishable": [None, None, None, True, False, None, None, None],
        "standardised_goods": [None, None, None, None, False, True, None, None],
        "consignment_share": [np.nan, np.nan, np.nan, np.nan, np.nan, 0.11, 0.10, np.nan],
        "credit_note_share": [np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, 0.05, 0.051],
        "debtor_hhi": [np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, 0.25, 0.30],
    }, POLICY)
    assert a.notches.tolist() == [2, 1, 0, 1, 1, 1, 0, 2]
    assert [factor_names(f) for f in a.flags.tolist()] == [
        ("supplier_outlook_negative",), ("supplier_services",), (),  # mixed: 0 notches
        ("supplier_perishable",), ("supplier_not_standardised",), ("supplier_consignment",),
        (),  # exactly at the thresholds: not above them
        ("supplier_credit_notes", "supplier_concentrated")]


def test_notches_are_capped_and_missing_is_not_assessed() -> None:
    """Every factor weak: 2+1+1+1+1+1+1 = 8 notches, capped at max_notches = 3; nothing
    given: 0 (a missing value is not a weak one)."""
    a = assess_suppliers({"sector_outlook": ["negative", None], "goods_or_services":
                          ["services", None], "perishable": [True, None],
                          "standardised_goods": [False, None], "consignment_share": [0.5, None],
                          "credit_note_share": [0.5, None], "debtor_hhi": [1.0, None]}, POLICY)
    assert a.notches.tolist() == [3, 0]
    assert len(factor_names(int(a.flags[0]))) == len(SUPPLIER_FACTORS) - 1  # not mixed
    assert assess_suppliers({}, POLICY).notches.tolist() == [0]


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("sector_outlook", "gloomy", "unknown_category"),
    ("goods_or_services", "Goods", "unknown_category"),
    ("credit_note_share", 1.2, "above_maximum"),
    ("consignment_share", -0.1, "negative"),
    ("debtor_hhi", 1.5, "above_maximum"),
])
def test_bad_assessment_values_are_refused_naming_the_row_and_column(
        column: str, value: Any, reason: str) -> None:
    values: list[Any] = [None, value]
    with pytest.raises(InvalidInputError, match=rf"suppliers row 1: {column} = ") as info:
        assess_suppliers({column: values}, POLICY)
    assert info.value.problems[0]["reason"] == reason
    assert info.value.problems[0]["column"] == column


def test_the_assessed_grade_moves_down_to_ten_at_most() -> None:
    """4 + 2 = 6; 9 + 3 capped at 10 (a notch is not a default); D and unrated unchanged."""
    assert assessed_grade([4, 9, 10, 11, 0, 1], [2, 3, 1, 3, 3, 0]).tolist() == [
        6, 10, 10, 11, 0, 1]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 11), st.integers(0, 10), st.integers(0, 10))
def test_more_notches_never_improve_the_grade(g: int, k1: int, k2: int) -> None:
    lo, hi = sorted((k1, k2))
    a, b = assessed_grade([g], [lo])[0], assessed_grade([g], [hi])[0]
    assert b >= a and (g == 0) == (a == 0) == (b == 0)


# --- the dispersion of the supplier's debtors ---------------------------------------------


def test_debtor_hhi_is_the_sum_of_squared_shares() -> None:
    """S1: limits 60, 20, 20 -> 0.36 + 0.04 + 0.04 = 0.44; S2: one pair given twice
    (summed): one debtor -> 1; S3: nothing to spread -> NaN."""
    got = debtor_hhi(["S1", "S1", "S1", "S2", "S2", "S3"], ["a", "b", "c", "a", "a", "a"],
                     [60.0, 20.0, 20.0, 5.0, 5.0, 0.0])
    assert got["S1"] == pytest.approx(0.44)
    assert got["S2"] == pytest.approx(1.0)
    assert np.isnan(got["S3"])


def test_debtor_hhi_arrays_are_the_series() -> None:
    """The service's form (sorted ids and values, no Series) holds the same figures:
    suppliers given out of order come back sorted, S1 0.44, S2 1, S3 NaN as above."""
    ids, hhi = debtor_hhi_arrays(["S3", "S1", "S2", "S1", "S2", "S1"],
                                 ["a", "a", "a", "b", "a", "c"],
                                 [0.0, 60.0, 5.0, 20.0, 5.0, 20.0])
    assert ids.tolist() == ["S1", "S2", "S3"]
    assert hhi[:2].tolist() == pytest.approx([0.44, 1.0])
    assert np.isnan(hhi[2])
    series = debtor_hhi(["S3", "S1", "S2", "S1", "S2", "S1"], ["a", "a", "a", "b", "a", "c"],
                        [0.0, 60.0, 5.0, 20.0, 5.0, 20.0])
    assert series.index.tolist() == ids.tolist()
    np.testing.assert_array_equal(series.to_numpy(), hhi)


# --- the advance rate --------------------------------------------------------------------


def test_the_advance_rate_with_the_suppliers_dilution_and_eligibility() -> None:
    """Non-recourse grade 5 (85 %): reserve max(2 %, 6 %) = 6 % -> 79 %; one notch -2.5
    points -> 76.5 %; 10 % consignment: x 0.9 -> 68.85 %. Recourse grade 7 (80 %) with the
    notches in the grade: 80 - 6 = 74 %, no notch deduction, x 0.9 = 66.6 %."""
    got = supplier_advance_rate(["5", "7"], ["non_recourse", "recourse"], POLICY,
                                dilution=[0.02, 0.02], credit_note_share=[0.06, 0.06],
                                consignment_share=[0.10, 0.10], notches=[1, 1],
                                notched=[False, True])
    assert got.tolist() == pytest.approx([0.6885, 0.666])


def test_the_advance_falls_as_the_credit_note_share_rises() -> None:
    """Non-recourse grade 5 (85 %), debtor dilution 1 %: the reserve is the larger of the
    two, so below 1 % the credit notes change nothing."""
    shares = np.array([0.0, 0.005, 0.01, 0.03, 0.05, 0.2, 0.9])
    got = supplier_advance_rate(["5"] * 7, "non_recourse", POLICY, dilution=0.01,
                                credit_note_share=shares)
    assert got.tolist() == pytest.approx([0.84, 0.84, 0.84, 0.82, 0.80, 0.65, 0.0])
    assert (np.diff(got) <= 0).all()


# --- the recourse cap --------------------------------------------------------------------


@pytest.mark.parametrize(("supplier_grade", "approved", "decision", "binding", "cap"), [
    ("3", 28_000.0, "partial", ("capacity",), np.inf),      # share 1: no cap
    ("6", 21_000.0, "partial", ("supplier",), 21_000.0),    # 0.75 x 28,000
    ("7", 14_000.0, "partial", ("supplier",), 14_000.0),    # 0.50 x 28,000
    ("8", 7_000.0, "partial", ("supplier",), 7_000.0),      # 0.25 x 28,000
    ("9", 0.0, "refused", ("supplier",), 0.0),              # 0: refused, reason named
    ("10", 0.0, "refused", ("supplier",), 0.0),
])
def test_recourse_caps_by_the_suppliers_grade(supplier_grade: str, approved: float,
                                              decision: str, binding: tuple[str, ...],
                                              cap: float) -> None:
    """Debtor grade 4, capacity 28,000 (D&B example), request 40,000, recourse: the pair
    keeps recourse_limit_share[supplier grade] of the debtor-level 28,000."""
    d = decide_limit(POLICY, requested=40_000.0, product="recourse",
                     supplier_grade=supplier_grade, **DEBTOR)
    assert (d.approved, d.decision, d.reasons, d.supplier_cap) == (
        approved, decision, binding, cap)


def test_a_grade_ten_supplier_no_longer_gets_the_debtors_full_limit() -> None:
    """The issue's case: recourse, supplier grade 10, the debtor's limit 28,000 -> 0
    (before issue 16 the supplier only changed the advance and fees)."""
    without = decide_limit(POLICY, requested=28_000.0, product="recourse", **DEBTOR)
    with_10 = decide_limit(POLICY, requested=28_000.0, product="recourse",
                           supplier_grade="10", **DEBTOR)
    assert (without.approved, without.decision) == (28_000.0, "full")
    assert (with_10.approved, with_10.decision, with_10.reasons) == (0.0, "refused",
                                                                     ("supplier",))


def test_the_cap_is_for_rated_suppliers_under_recourse_only() -> None:
    """Non-recourse: the supplier's grade caps nothing; a row whose supplier is not rated
    (supplier_rated false) neither caps nor knocks out; D knocks out (supplier_default)."""
    d = decide_limits({"requested": 40_000.0, **DEBTOR,
                       "product": ["non_recourse", "recourse", "recourse"],
                       "supplier_grade": ["10", "10", "D"],
                       "supplier_rated": [True, False, True], "insurer_limit": np.nan,
                       "insurer_limit_given": False}, POLICY)
    assert d.approved.tolist() == [28_000.0, 28_000.0, 0.0]
    assert d.reason_lists() == [("capacity",), ("capacity",), ("supplier_default",)]


def test_the_cap_is_a_share_of_the_debtors_shared_capacity() -> None:
    """One debtor (capacity 28,000) with two recourse pairs asking 20,000 each: pro rata
    14,000 each; the grade-7 supplier's pair keeps half of its 14,000 (7,000), the
    grade-2 one all of it; the capacity freed is not handed to the other pair."""
    d = decide_limits({"requested": 20_000.0, **DEBTOR, "product": "recourse",
                       "supplier_grade": ["7", "2"], "debtor": [0, 0]}, POLICY)
    assert d.approved.tolist() == [7_000.0, 14_000.0]
    assert d.reason_lists() == [("supplier",), ("capacity",)]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]),
       st.integers(1, 9), st.floats(0, 2e6))
def test_a_worse_supplier_never_raises_a_recourse_limit(debtor: str, worse: int,
                                                        req: float) -> None:
    grades = [str(g) for g in range(1, 11)]
    g1 = grades[worse - 1]
    g2 = grades[worse]
    a, b = (decide_limit(POLICY, grade=debtor, requested=req, product="recourse",
                         tnw=5e6, revenue=3e7, supplier_grade=g).approved for g in (g1, g2))
    assert b <= a


# --- the policy section ------------------------------------------------------------------


def test_the_section_round_trips() -> None:
    assert CreditPolicy.from_dict(POLICY.to_dict()) == POLICY
    assert POLICY.supplier.notch("negative_outlook") == 2
    assert POLICY.supplier.recourse_limit_share[-3:] == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(("path", "value", "key", "words"), [
    (("supplier", "services_notches"), None, "supplier.services_notches", "missing"),
    (("supplier", "max_notches"), 11, "supplier.max_notches", "outside"),
    (("supplier", "credit_note_share_limit"), 1.5, "supplier.credit_note_share_limit",
     "outside"),
    (("supplier", "recourse_limit_share", "7"), 0.9, "supplier.recourse_limit_share.7",
     "non-increasing"),
    (("supplier", "recourse_limit_share", "D"), 0.1, "supplier.recourse_limit_share.",
     "rises|default"),
    (("supplier", "perishable"), 1, "supplier.perishable", "unknown key"),
    (("supplier",), None, "supplier", "missing"),
])
def test_a_bad_supplier_section_is_refused_naming_the_key(
        path: tuple[str, ...], value: Any, key: str, words: str) -> None:
    d = copy.deepcopy(POLICY.to_dict())
    node = d
    for p in path[:-1]:
        node = node[p]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    with pytest.raises(PolicyError, match=words) as info:
        CreditPolicy.from_dict(d)
    assert str(info.value.key).startswith(key), info.value.key
    assert re.search(re.escape(key), str(info.value))


def test_the_supplier_binds_when_it_cuts_or_refuses() -> None:
    """A pair whose debtor-level limit is already 0 (capacity 0: negative equity) is not
    cut by a grade-7 supplier (binding: capacity only); a grade-9 supplier refuses it
    whatever else binds (share 0: both named)."""
    d = decide_limits({"grade": "4", "tnw": -1.0, "revenue": 700_000.0,
                       "requested": 40_000.0, "product": "recourse",
                       "supplier_grade": ["7", "9"]}, POLICY)
    assert d.approved.tolist() == [0.0, 0.0]
    assert [tuple(r for r in rs if r != "negative_equity") for rs in d.reason_lists()] == [
        ("capacity",), ("capacity", "supplier")]


def test_the_modules_examples_hold() -> None:
    """The docstring examples of riskengine.policy.supplier (the worked 68.85 % advance,
    the HHI of four equal debtors, the capped notches) run as doctests."""
    import doctest

    from riskengine.policy import supplier

    result = doctest.testmod(supplier)
    assert result.failed == 0 and result.attempted >= 8
