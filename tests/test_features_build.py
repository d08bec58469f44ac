"""build_features: the four families on one row per debtor, with each family's fill values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskengine.features import (
    FAMILIES,
    adverse,
    build_features,
    concentration,
    latest_revenue,
    payments,
)
from riskengine.synthetic import generate_portfolio

AS_OF = "2026-06-30"


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return generate_portfolio(120, seed=9, as_of=AS_OF)


def test_one_row_per_debtor_sorted_with_all_families(frames: dict[str, pd.DataFrame]) -> None:
    f = build_features(frames, AS_OF)
    assert f.index.tolist() == sorted(frames["debtors"]["debtor_id"])
    assert f.index.name == "debtor_id"
    prefixes = {c.split("_", 1)[0] for c in f.columns}
    assert prefixes == {"st", "adv", "pay", "conc"}
    assert set(adverse.ADVERSE_FEATURES) <= set(f.columns)
    assert set(payments.PAYMENT_FEATURES) <= set(f.columns)
    assert set(concentration.CONCENTRATION_FEATURES) <= set(f.columns)
    assert all(f[c].dtype == np.float64 for c in f.columns)


def test_debtors_without_records_get_the_fill_values(frames: dict[str, pd.DataFrame]) -> None:
    """FILL_VALUES: 0 for counts and flags; NaN where no record is not a number."""
    f = build_features(frames, AS_OF)
    no_adv = sorted(set(frames["debtors"]["debtor_id"]) - set(
        frames["adverse_records"]["debtor_id"]))
    assert no_adv
    row = f.loc[no_adv[0]]
    assert row["adv_n_adverse"] == 0.0 and row["adv_knockout"] == 0.0
    assert np.isnan(row["adv_days_since_serious"])
    empty = {**frames, "invoices": frames["invoices"].iloc[0:0]}
    g = build_features(empty, AS_OF, families=("payments",))
    assert (g["pay_n_invoices"] == 0).all() and g["pay_dbt_mean"].isna().all()


def test_no_statement_up_to_as_of_stays_nan(frames: dict[str, pd.DataFrame]) -> None:
    f = build_features(frames, "1990-01-01", families=("statements",))
    assert f.isna().all().all() and len(f) == len(frames["debtors"])


def test_records_after_as_of_are_not_used(frames: dict[str, pd.DataFrame]) -> None:
    """No look-ahead: a future insolvency does not change today's features."""
    base = build_features(frames, AS_OF, families=("statements", "adverse", "payments"))
    did = frames["debtors"]["debtor_id"].iloc[0]
    extra = pd.DataFrame({
        "record_id": ["FUTURE-1"], "debtor_id": [did], "event_type": ["insolvency_declared"],
        "event_date": pd.to_datetime(["2026-08-01"]), "amount": [1e6], "currency": ["EUR"],
        "status": ["open"], "settlement_date": pd.to_datetime([None])})
    more = {**frames, "adverse_records": pd.concat([frames["adverse_records"], extra],
                                                   ignore_index=True)}
    again = build_features(more, AS_OF, families=("statements", "adverse", "payments"))
    pd.testing.assert_frame_equal(base, again)


def test_families_subset_and_unknown_family(frames: dict[str, pd.DataFrame]) -> None:
    f = build_features(frames, AS_OF, families=("adverse",))
    assert all(c.startswith("adv_") for c in f.columns)
    assert FAMILIES == ("statements", "adverse", "payments", "concentration")
    with pytest.raises(ValueError, match="unknown families"):
        build_features(frames, AS_OF, families=("gossip",))


def test_adverse_amount_to_revenue_uses_the_latest_revenue(
    frames: dict[str, pd.DataFrame]
) -> None:
    f = build_features(frames, AS_OF, families=("adverse",))
    rev = latest_revenue(frames["statements"], AS_OF)
    has = f.index[f["adv_amount_adverse"] > 0].intersection(rev.index[rev > 0])
    assert len(has)
    expected = f.loc[has, "adv_amount_adverse"] / rev.loc[has]
    np.testing.assert_allclose(f.loc[has, "adv_amount_to_revenue"], expected)


def test_inputs_are_not_mutated(frames: dict[str, pd.DataFrame]) -> None:
    before = {k: v.copy() for k, v in frames.items()}
    build_features(frames, AS_OF)
    for k, v in frames.items():
        pd.testing.assert_frame_equal(v, before[k])



def test_large_sorted_and_shuffled_inputs_give_identical_features() -> None:
    """Tables of 4,096 rows and more take the sorted fast paths (sortedness detected in one
    pass, per-column gathers); shuffled rows take the general path. Both must agree."""
    from riskengine.synthetic import generate_portfolio

    frames = generate_portfolio(2500, seed=21)
    assert len(frames["statements"]) > 4096 and len(frames["invoices"]) > 4096
    assert frames["statements"]["debtor_id"].is_monotonic_increasing
    fx = {"EUR": 1.0, "USD": 0.93, "GBP": 1.17, "BGN": 0.51, "RON": 0.2}
    sorted_out = build_features(frames, "2026-06-30", fx_rates=fx)
    shuffled = {name: frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
                for name, frame in frames.items()}
    shuffled_out = build_features(shuffled, "2026-06-30", fx_rates=fx)
    # equal up to the order of floating-point sums (amounts are added in row order)
    pd.testing.assert_frame_equal(sorted_out, shuffled_out, check_exact=False, rtol=1e-12,
                                  atol=0.0)
    assert sorted_out.shape == (2500, 94)
