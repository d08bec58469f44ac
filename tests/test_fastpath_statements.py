"""The single-debtor statement features on Python floats equal the pipeline's kernel bit for bit.

:func:`riskengine.scoring.fastpath._statement_row` rewrites
:func:`riskengine.features.statements._compute` for one row on Python floats;
the engine's single path uses it, the batch path uses the kernel. Every feature
must be the same float (same sign of zero; NaN where the kernel has NaN), on the
synthetic portfolio's statements (every statement as the latest one), with items
knocked out (identity fallbacks) and on arbitrary generated statements.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskengine.api import load_engine
from riskengine.contracts import schemas
from riskengine.features import statements as _st
from riskengine.scoring.fastpath import _STATEMENT_ROW_FEATURES, _statement_row
from riskengine.synthetic import generate_portfolio


def _kernel_row(rows: list[dict[str, Any]], days: list[int], last: int) -> dict[str, float]:
    """The kernel on one debtor's sorted rows at ``last`` (the call the fast path made
    before it had its own scalar version)."""
    items = schemas.LINE_ITEMS
    mat = np.array([[math.nan if r[k] is None else float(r[k]) for k in items] for r in rows],
                   dtype=np.float64).T
    tier = np.array([float(schemas.STATEMENT_QUALITY_TIER[r["statement_type"]]) for r in rows])
    with np.errstate(over="ignore"):  # generated extremes: inf, as the kernel gives
        f = _st._compute(dict(zip(items, mat, strict=True)), np.array(days, dtype=np.int64),
                         np.array([last]), np.array([last - 1 if last >= 1 else -1]),
                         np.array([last - 2 if last >= 2 else -1]),
                         np.array([float(min(last + 1, 5))]), tier)
    return {k: float(v[0]) for k, v in f.items()}


def _same(a: float, b: float) -> bool:
    """Same float: equal with the same sign (0.0 vs -0.0), or both NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _check(rows: list[dict[str, Any]], days: list[int]) -> int:
    checked = 0
    for last in range(len(rows)):
        want = _kernel_row(rows, days, last)
        got = _statement_row(rows, days, last)
        assert set(want) <= set(got)
        for k, w in want.items():
            assert _same(got[k], w), (k, last, got[k], w, rows)
            checked += 1
    return checked


def _synthetic_rows(seed: int) -> list[tuple[list[dict[str, Any]], list[int]]]:
    frame = generate_portfolio(250, seed=seed, as_of="2026-06-30")["statements"]
    out = []
    for _, g in frame.sort_values(["debtor_id", "period_end"]).groupby("debtor_id"):
        rows = []
        for rec in g.to_dict("records"):
            rows.append({k: (None if isinstance(v, float) and math.isnan(v) else v)
                         for k, v in rec.items()})
        days = [int(np.datetime64(r["period_end"], "D").astype(np.int64)) for r in rows]
        out.append((rows, days))
    return out


def test_statement_row_equals_the_kernel_on_synthetic_debtors() -> None:
    """Every synthetic debtor's statements, each taken as the latest one."""
    checked = sum(_check(rows, days) for rows, days in _synthetic_rows(seed=7))
    assert checked > 5000


def test_statement_row_equals_the_kernel_with_missing_items_and_zeros() -> None:
    """Items knocked out at random (the identity fallbacks, NaN ratios), zero and
    negative denominators, gaps of a missing year."""
    rng = random.Random(3)
    knock = ("gross_profit", "ebitda", "ebit", "equity", "total_assets", "interest_expense",
             "current_liabilities", "revenue", "depreciation_amortization", "cost_of_sales",
             "total_liabilities", "net_income", "inventory", "retained_earnings")
    checked = 0
    for rows, days in _synthetic_rows(seed=11)[:150]:
        rows = [dict(r) for r in rows]
        for r in rows:
            for k in knock:
                u = rng.random()
                if u < 0.15:
                    r[k] = None
                elif u < 0.2:
                    r[k] = 0.0
                elif u < 0.23 and k in ("equity", "ebitda", "ebit", "net_income"):
                    r[k] = -abs(r[k] or 1.0)
        if len(days) >= 3 and rng.random() < 0.5:  # drop a middle year: 2-year gap via lag 1
            del rows[-2], days[-2]
        checked += _check(rows, days)
    assert checked > 1000


_amount = st.one_of(st.none(), st.just(0.0), st.just(-0.0),
                    st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False))


@st.composite
def _statements(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[int]]:
    n = draw(st.integers(1, 4))
    gaps = draw(st.lists(st.sampled_from([200, 300, 365, 366, 450, 640, 730, 731, 820]),
                         min_size=n - 1, max_size=n - 1))
    days = [19000]
    for g in gaps:
        days.append(days[-1] + g)
    rows = []
    for _ in range(n):
        r: dict[str, Any] = {k: draw(_amount) for k in schemas.LINE_ITEMS}
        r["statement_type"] = draw(st.sampled_from(schemas.STATEMENT_TYPES))
        rows.append(r)
    return rows, days


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_statements())
def test_statement_row_equals_the_kernel_on_generated_statements(
        case: tuple[list[dict[str, Any]], list[int]]) -> None:
    """Arbitrary amounts (None, signed zeros, negatives) and period spacings."""
    rows, days = case
    _check(rows, days)


def test_the_shipped_model_reads_only_features_the_row_gives() -> None:
    """The fast path covers the shipped model (else it would fall back to the batch)."""
    engine = load_engine()
    assert set(engine.feature_names) <= _STATEMENT_ROW_FEATURES
    assert engine._fast.supported
