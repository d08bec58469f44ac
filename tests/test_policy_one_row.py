"""The policy functions give each row the same answer alone as in a batch.

:func:`~riskengine.policy.limits.decide_limits`,
:func:`~riskengine.policy.cover.insurance_cover` and
:func:`~riskengine.policy.pricing.advance_rate` have one array path for 1 ... n
rows (the single-debtor path calls them with one pair, the batch with many).
Each row of a batch of generated rows must hold the same bytes as that row
decided alone (signed zeros, ties between constraints, NaN, infinities of
absent caps): no row depends on its neighbours or on the batch size.
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


_OPTIONAL = ("adverse_knockout", "insolvency", "related", "supplier_ledger",
             "supplier_grade", "group", "sector", "insurer_limit")


@st.composite
def _row(draw: st.DrawFn, policy: CreditPolicy, shape: frozenset[str]) -> dict[str, Any]:
    """One pair's columns (one-element arrays); the optional ones named in ``shape``."""
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
        if flag in shape:
            cols[flag] = np.array([draw(st.integers(0, 5)) == 0])
    if "supplier_ledger" in shape:
        cols["supplier_ledger"] = np.array([draw(_money)])
    if "supplier_grade" in shape:
        cols["supplier_grade"] = np.array([draw(_grade)])
    if "group" in shape:
        cols["factor_capital"] = np.array([draw(_money)])
        cols["group_exposure"] = np.array([draw(st.one_of(st.just(0.0), _money))])
    if "sector" in shape:
        cols["sector_exposure"] = np.array([draw(_money)])
        cols["book_total"] = np.array([draw(_money)])
    if "insurer_limit" in shape:
        cols["insurer_limit"] = np.array([draw(st.one_of(_money, st.just(req)))])
    if draw(st.booleans()):  # ties: the request equal to another constraint
        cols["requested"] = np.array([draw(st.sampled_from([0.0, -0.0, 1000.0]))])
    return cols


@st.composite
def _batches(draw: st.DrawFn) -> tuple[list[dict[str, Any]], CreditPolicy]:
    """1 ... 6 pairs with the same optional columns, and a policy."""
    policy = draw(st.sampled_from(POLICIES))
    shape = frozenset(draw(st.sets(st.sampled_from(_OPTIONAL))))
    return draw(st.lists(_row(policy, shape), min_size=1, max_size=6)), policy


def _stack(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def _row_of(a: Any, i: int) -> Any:
    return None if a is None else np.asarray(a)[i:i + 1]


@settings(max_examples=600, deadline=None)
@given(_batches())
def test_limit_of_each_pair_alone_equals_its_row_in_a_batch(
        case: tuple[list[dict[str, Any]], CreditPolicy]) -> None:
    rows, policy = case
    note(f"{rows!r} {policy.capacity.negative_equity} {policy.limits.rounding_unit}")
    with np.errstate(invalid="ignore"):
        batch = _limits.decide_limits(_stack(rows), policy)
        for i, row in enumerate(rows):
            one = _limits.decide_limits(row, policy)
            for name in ("requested", "capacity", "concentration_headroom", "insurer_cap",
                         "approved", "decision", "reasons"):
                _same(getattr(one, name), _row_of(getattr(batch, name), i))
            assert one.policy_version == batch.policy_version


def test_one_pair_limit_covers_every_outcome() -> None:
    """One-row calls reach full, partial and refused decisions (a fixed set, so the
    property test above is not vacuous on its outcomes)."""
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


def test_one_pair_refuses_bad_input() -> None:
    """A one-row call is checked as a batch is: the error names the column."""
    with pytest.raises(InvalidInputError, match="requested"):
        _limits.decide_limits({"grade": [4], "requested": [-1.0], "product": [0]}, POLICY)
    with pytest.raises(InvalidInputError, match="supplier_ledger"):
        _limits.decide_limits({"grade": [4], "requested": [1.0], "product": [0],
                               "supplier_ledger": [math.inf]}, POLICY)


_cover_row = st.tuples(_grade, _money.filter(lambda v: v == v), st.floats(0.0, 1.0), _money,
                       _money, _money.filter(lambda v: v == v), st.integers(0, 2))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(POLICIES), st.lists(_cover_row, min_size=1, max_size=6),
       st.sets(st.sampled_from(("exposure", "covered", "annual_sales", "product"))))
def test_cover_of_each_row_alone_equals_its_row_in_a_batch(
        policy: CreditPolicy, rows: list[tuple[Any, ...]], given_: set[str]) -> None:
    g, lim, pd_, exposure, insurer, sales, product = (list(c) for c in zip(*rows, strict=True))
    exposure = [e if e == e else 0.0 for e in exposure]  # a NaN exposure is refused
    product = [min(p, len(policy.products) - 1) for p in product]
    opt = {"exposure": exposure, "covered": insurer, "annual_sales": sales,
           "product": product}

    def kw(sel: slice) -> dict[str, Any]:
        return {k: (np.asarray(v)[sel] if k in given_ else None) for k, v in opt.items()}

    with np.errstate(invalid="ignore"):
        batch = _cover.insurance_cover(g, lim, pd_, policy, **kw(slice(None)))
        for i in range(len(rows)):
            one = _cover.insurance_cover(g[i:i + 1], lim[i:i + 1], pd_[i:i + 1], policy,
                                         **kw(slice(i, i + 1)))
            for name in ("insured_limit", "uninsured_limit", "indemnity", "insured_amount",
                         "exposure",
                         "insured_exposure", "retained", "expected_loss_uninsured",
                         "expected_loss_insured", "premium"):
                _same(getattr(one, name), _row_of(getattr(batch, name), i))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(POLICIES), st.lists(st.tuples(_grade, st.integers(0, 2), st.one_of(
    st.just(math.nan), st.just(0.0), st.just(-0.0), st.floats(0.0, 2.0))), min_size=1,
    max_size=6))
def test_advance_rate_of_each_row_alone_equals_its_row_in_a_batch(
        policy: CreditPolicy, rows: list[tuple[int, int, float]]) -> None:
    g = [r[0] for r in rows]
    product = [min(r[1], len(policy.products) - 1) for r in rows]
    dilution = [r[2] for r in rows]
    batch = _pricing.advance_rate(g, product, policy, dilution)
    for i in range(len(rows)):
        _same(_pricing.advance_rate(g[i:i + 1], product[i:i + 1], policy, dilution[i:i + 1]),
              batch[i:i + 1])
