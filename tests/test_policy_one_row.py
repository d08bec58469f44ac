"""The one-row branches of the policy functions equal their array paths bit for bit.

:func:`~riskengine.policy.limits.decide_limits`,
:func:`~riskengine.policy.cover.insurance_cover` and
:func:`~riskengine.policy.pricing.advance_rate` compute a single row on Python
floats (the single-debtor path calls them with one pair). Every output array of
the branch must hold the same bytes as the array path on that row (signed zeros,
ties between constraints, NaN, infinities of absent caps), on generated rows.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from riskengine.config import load_policy
from riskengine.errors import InvalidInputError
from riskengine.policy import _inputs as inp
from riskengine.policy import cover as _cover
from riskengine.policy import limits as _limits
from riskengine.policy import pricing as _pricing
from riskengine.policy.credit_policy import GRADES, CreditPolicy

POLICY = load_policy()


def _variant() -> CreditPolicy:
    """The shipped policy with the other negative-equity rule and a unit of 1."""
    d = copy.deepcopy(POLICY.to_dict())
    d["capacity"]["negative_equity"] = "minimum_limit"
    d["limits"]["rounding_unit"] = 1.0
    return CreditPolicy.from_dict(d)


POLICIES = (POLICY, _variant())

_money = st.one_of(st.just(0.0), st.just(-0.0), st.just(math.nan), st.just(1000.0),
                   st.just(25_000.0), st.floats(0.0, 1e8, allow_nan=False))
_signed = st.one_of(_money, st.floats(-1e8, 0.0, allow_nan=False), st.just(-1000.0))
_grade = st.integers(1, len(GRADES))


def _same(a: Any, b: Any) -> None:
    """Equal arrays, byte for byte (dtype, signed zeros; NaN bit patterns aside)."""
    if a is None or b is None:
        assert a is None and b is None
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a, b)
    if a.dtype.kind == "f":
        nan = np.isnan(a)
        assert np.array_equal(nan, np.isnan(b)), (a, b)
        a, b = np.where(nan, 0.0, a), np.where(nan, 0.0, b)
    assert a.tobytes() == b.tobytes(), (a, b)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[dict[str, Any], CreditPolicy]:
    policy = draw(st.sampled_from(POLICIES))
    req = draw(_money)
    cols: dict[str, Any] = {
        "grade": np.array([draw(_grade)]),
        "requested": np.array([req]),
        "product": np.array([draw(st.integers(0, len(policy.products) - 1))]),
        "basis": np.array([draw(st.integers(0, 2))]),
        "tnw": np.array([draw(_signed)]),
        "revenue": np.array([draw(_money)]),
        "profit": np.array([draw(_signed)]),
    }
    for flag in ("adverse_knockout", "insolvency", "related"):
        if draw(st.booleans()):
            cols[flag] = np.array([draw(st.integers(0, 5)) == 0])
    if draw(st.booleans()):
        cols["supplier_ledger"] = np.array([draw(_money)])
    if draw(st.booleans()):
        cols["supplier_grade"] = np.array([draw(_grade)])
    if draw(st.booleans()):
        cols["factor_capital"] = draw(_money)
        cols["group_exposure"] = draw(st.one_of(st.just(0.0), _money))
    if draw(st.booleans()):
        cols["sector_exposure"] = draw(_money)
        cols["book_total"] = draw(_money)
    if draw(st.booleans()):
        cols["insurer_limit"] = np.array([draw(st.one_of(_money, st.just(req)))])
    if draw(st.booleans()):  # ties: the request equal to another constraint
        cols["requested"] = np.array([draw(st.sampled_from([0.0, -0.0, 1000.0]))])
    return cols, policy


def _array_path(cols: dict[str, Any], policy: CreditPolicy) -> _limits.LimitDecisions:
    """decide_limits' array path on the same row (its checks, then _decide_arrays)."""
    n = 1
    return _limits._decide_arrays(
        cols, policy, n, inp.grades(cols["grade"], n),
        inp.floats(cols["requested"], n, "requested", "pairs"),
        inp.products(cols["product"], n, policy), _limits._basis(cols.get("basis", 0), n),
        inp.floats(cols.get("tnw", np.nan), n, "tnw", "pairs", negative=True),
        inp.floats(cols.get("revenue", np.nan), n, "revenue", "pairs"),
        inp.floats(cols.get("profit", np.nan), n, "profit", "pairs", negative=True))


@settings(max_examples=600, deadline=None)
@given(_pairs())
def test_one_pair_limit_equals_the_array_path(case: tuple[dict[str, Any], CreditPolicy]
                                              ) -> None:
    cols, policy = case
    note(f"{cols!r} {policy.capacity.negative_equity} {policy.limits.rounding_unit}")
    with np.errstate(invalid="ignore"):
        want = _array_path(cols, policy)
    got = _limits.decide_limits(cols, policy)
    for name in ("requested", "capacity", "concentration_headroom", "insurer_cap",
                 "approved", "decision", "reasons"):
        _same(getattr(got, name), getattr(want, name))
    assert got.policy_version == want.policy_version


def test_one_pair_limit_covers_every_outcome() -> None:
    """The generated rows above reach full, partial and refused decisions and knock-outs
    (a fixed set, so the property test is not vacuous)."""
    rows = [
        {"grade": np.array([4]), "requested": np.array([25_000.0]), "product": np.array([0]),
         "tnw": np.array([8e6]), "revenue": np.array([2e7])},
        {"grade": np.array([4]), "requested": np.array([9e9]), "product": np.array([0]),
         "tnw": np.array([8e4]), "revenue": np.array([7e5])},
        {"grade": np.array([len(GRADES)]), "requested": np.array([1e4]),
         "product": np.array([1]), "tnw": np.array([8e4]), "revenue": np.array([7e5])},
    ]
    got = {int(_limits.decide_limits(r, POLICY).decision[0]) for r in rows}
    assert got == {0, 1, 2}


def test_one_pair_refuses_bad_input_as_the_array_path() -> None:
    """The checks run before the branch: the same error, naming the column."""
    with pytest.raises(InvalidInputError, match="requested"):
        _limits.decide_limits({"grade": [4], "requested": [-1.0], "product": [0]}, POLICY)
    with pytest.raises(InvalidInputError, match="supplier_ledger"):
        _limits.decide_limits({"grade": [4], "requested": [1.0], "product": [0],
                               "supplier_ledger": [math.inf]}, POLICY)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(POLICIES), _grade, _money, st.floats(0.0, 1.0),
       st.one_of(st.none(), _money), st.one_of(st.none(), _money),
       st.one_of(st.none(), _money), st.one_of(st.none(), st.integers(0, 2)))
def test_one_row_cover_equals_the_array_path(
        policy: CreditPolicy, g: int, lim: float, pd_: float, exposure: float | None,
        insurer: float | None, sales: float | None, product: int | None) -> None:
    if lim != lim:
        return  # a NaN limit is refused by both paths
    product = None if product is None else min(product, len(policy.products) - 1)
    kw = {"exposure": None if exposure is None or exposure != exposure else [exposure],
          "insurer_limit": None if insurer is None else [insurer],
          "annual_sales": None if sales is None or sales != sales else [sales],
          "product": None if product is None else [product]}
    got = _cover.insurance_cover([g], [lim], [pd_], policy, **kw)  # type: ignore[arg-type]
    n = 1
    with np.errstate(invalid="ignore"):
        want = _cover._cover_arrays(
            n, inp.grades([g], n), inp.floats([lim], n, "limit", "cover"),
            inp.floats([pd_], n, "pd", "cover"), policy, policy.cover.indemnity, **kw)
    for name in ("insured_limit", "uninsured_limit", "indemnity", "exposure",
                 "insured_exposure", "retained", "expected_loss_uninsured",
                 "expected_loss_insured", "premium"):
        _same(getattr(got, name), getattr(want, name))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(POLICIES), _grade, st.integers(0, 2),
       st.one_of(st.just(math.nan), st.just(0.0), st.just(-0.0), st.floats(0.0, 2.0)))
def test_one_row_advance_rate_equals_the_array_path(
        policy: CreditPolicy, g: int, product: int, dilution: float) -> None:
    product = min(product, len(policy.products) - 1)
    got = _pricing.advance_rate([g], [product], policy, [dilution])
    want = _pricing._advance_arrays(inp.grades([g], 1), inp.products([product], 1, policy),
                                    inp.floats([dilution], 1, "dilution", "pricing"), policy)
    _same(got, want)
