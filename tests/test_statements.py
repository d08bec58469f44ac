"""Tests of riskengine.features.statements: statements → ratio features."""

from __future__ import annotations

import pickle
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from riskengine.contracts.schemas import LINE_ITEMS, STATEMENT_QUALITY_TIER
from riskengine.errors import InvalidInputError
from riskengine.features.statements import (
    FEATURE_NAMES,
    FEATURE_SPECS,
    MAX_YEARS,
    PANEL_FEATURE_NAMES,
    SIZE_FEATURES,
    StatementFeatures,
    feature_directions,
    statement_features,
    statement_panel_features,
    statement_rows,
)

NAN = float("nan")


def _row(debtor: str, period: str, kind: str = "audited", **items: float) -> dict[str, Any]:
    row: dict[str, Any] = {"debtor_id": debtor, "period_end": pd.Timestamp(period),
                           "statement_type": kind, "currency": "EUR"}  # fmt: skip
    row.update({k: NAN for k in LINE_ITEMS})
    row.update(items)
    return row


def _frame(*rows: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows))
    df["debtor_id"] = df["debtor_id"].astype("str")
    return df


#: A small, consistent statement used by the golden cases.
SMALL = {
    "revenue": 250.0, "cost_of_sales": 175.0, "gross_profit": 75.0, "operating_expenses": 215.0,
    "ebitda": 35.0, "depreciation_amortization": 15.0, "ebit": 20.0, "interest_expense": 5.0,
    "net_income": 10.0, "cash": 10.0, "receivables": 25.0, "inventory": 15.0,
    "current_assets": 60.0, "total_assets": 200.0, "current_liabilities": 40.0,
    "long_term_debt": 50.0, "total_liabilities": 120.0, "equity": 80.0, "retained_earnings": 30.0,
}  # fmt: skip


# --- golden hand-computed cases ----------------------------------------------------------


def test_altman_z2_golden() -> None:
    """Altman Z'' of SMALL, by hand (formula: DOMAIN.md §4, non-manufacturers/private).

    WC = CA − CL = 60 − 40 = 20;  WC/TA = 20/200 = 0.10
    RE/TA = 30/200 = 0.15;  EBIT/TA = 20/200 = 0.10;  BookEquity/TL = 80/120 = 2/3
    Z'' = 6.56·0.10 + 3.26·0.15 + 6.72·0.10 + 1.05·(2/3)
        = 0.656 + 0.489 + 0.672 + 0.700 = 2.517  (between distress 1.10 and safe 2.60)
    """
    out = statement_panel_features(_frame(_row("D1", "2024-12-31", **SMALL)))
    assert out["st_altman_z2"].iloc[0] == pytest.approx(2.517, abs=1e-12)


def test_quick_and_seed_ratios_golden() -> None:
    """The seed's named ratios of SMALL, by hand (seed: liabilities/equity, gross margin,
    current ratio, quick ratio).

    quick ratio = (CA − inventory) / CL = (60 − 15) / 40 = 45 / 40 = 1.125
    current ratio = 60 / 40 = 1.5;  liabilities / equity = 120 / 80 = 1.5
    gross margin = 75 / 250 = 0.30;  receivable days = 25 / 250 · 365 = 36.5
    inventory days = 15 / 175 · 365 = 31.2857…;  interest coverage = 35 / 5 = 7
    """
    out = statement_panel_features(_frame(_row("D1", "2024-12-31", **SMALL))).iloc[0]
    assert out["st_quick_ratio"] == pytest.approx(1.125)
    assert out["st_current_ratio"] == pytest.approx(1.5)
    assert out["st_liabilities_to_equity"] == pytest.approx(1.5)
    assert out["st_gross_margin"] == pytest.approx(0.30)
    assert out["st_receivable_days"] == pytest.approx(36.5)
    assert out["st_inventory_days"] == pytest.approx(15 / 175 * 365)
    assert out["st_interest_coverage"] == pytest.approx(7.0)
    assert out["st_no_interest"] == 0.0
    assert out["st_negative_equity"] == 0.0
    assert out["st_log_total_assets"] == pytest.approx(np.log(200.0))
    assert out["st_quality_tier"] == 1.0
    assert out["st_n_statements"] == 1.0
    # a single statement has no history: growth and trends are NaN, not 0
    assert np.isnan(out["st_revenue_growth_1y"]) and np.isnan(out["st_roa_delta_1y"])


def test_growth_and_trends_golden() -> None:
    """Three consecutive years, by hand.

    revenue 200 → 250 → 300: growth 1y = 300/250 − 1 = 0.2; 2y = 300/200 − 1 = 0.5
    TL/TA 0.5 → 0.6 → 0.7 (TA 100): Δ1y = 0.1, Δ2y = 0.2
    """
    rows = [
        _row("D1", f"{y}-12-31", revenue=r, total_assets=100.0, total_liabilities=tl)
        for y, r, tl in ((2021, 200.0, 50.0), (2022, 250.0, 60.0), (2023, 300.0, 70.0))
    ]
    out = statement_panel_features(_frame(*rows[::-1]))  # any input order
    last = out.iloc[0]
    assert last["st_revenue_growth_1y"] == pytest.approx(0.2)
    assert last["st_revenue_growth_2y"] == pytest.approx(0.5)
    assert last["st_liabilities_to_assets_delta_1y"] == pytest.approx(0.1)
    assert last["st_liabilities_to_assets_delta_2y"] == pytest.approx(0.2)
    assert last["st_total_assets_growth_1y"] == pytest.approx(0.0)
    assert out["st_n_statements"].tolist() == [3.0, 2.0, 1.0]
    assert out["st_revenue_growth_1y"].iloc[1] == pytest.approx(0.25)


def test_missing_year_gives_no_one_year_comparison() -> None:
    """2021 and 2023 only: no statement one year before 2023 (1y NaN); the 2021 one is the
    2-year comparator (revenue 100 → 150: 2y growth 0.5)."""
    out = statement_panel_features(
        _frame(_row("D1", "2021-12-31", revenue=100.0), _row("D1", "2023-12-31", revenue=150.0))
    ).iloc[1]
    assert np.isnan(out["st_revenue_growth_1y"])
    assert out["st_revenue_growth_2y"] == pytest.approx(0.5)


def test_identity_fallbacks_fill_missing_items() -> None:
    """Missing items come from accounting identities, never from 0 (DESIGN.md: missing stays
    NaN): gross profit = 250 − 175 = 75; equity = 200 − 120 = 80."""
    items = {**SMALL, "gross_profit": NAN, "equity": NAN, "inventory": NAN}
    out = statement_panel_features(_frame(_row("D1", "2024-12-31", **items))).iloc[0]
    assert out["st_gross_margin"] == pytest.approx(0.30)
    assert out["st_liabilities_to_equity"] == pytest.approx(1.5)
    assert np.isnan(out["st_quick_ratio"])  # inventory unknown: not read as 0


# --- zero and negative denominators -------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "nan_features"),
    [
        ({"total_assets": 0.0}, ["st_roa", "st_ebit_to_assets", "st_liabilities_to_assets",
                                 "st_cash_to_assets", "st_log_total_assets", "st_altman_z2"]),
        ({"current_liabilities": 0.0}, ["st_current_ratio", "st_quick_ratio",
                                        "st_ebit_to_current_liabilities"]),
        ({"revenue": 0.0}, ["st_gross_margin", "st_net_margin", "st_receivable_days",
                            "st_log_revenue"]),
        ({"total_liabilities": 0.0, "equity": 200.0}, ["st_ebitda_to_liabilities",
                                                         "st_altman_z2"]),
        ({"cost_of_sales": 0.0}, ["st_inventory_days", "st_current_liabilities_days"]),
    ],
)  # fmt: skip
def test_zero_denominator_is_nan_never_inf_nor_zero(
    items: dict[str, float], nan_features: list[str]
) -> None:
    out = statement_panel_features(_frame(_row("D1", "2024-12-31", **{**SMALL, **items})))
    assert np.isfinite(out.to_numpy()[~np.isnan(out.to_numpy())]).all()
    for name in nan_features:
        assert np.isnan(out[name].iloc[0]), name


@pytest.mark.parametrize("equity", [0.0, -30.0])
def test_non_positive_equity_gives_nan_gearing_and_flag(equity: float) -> None:
    out = statement_panel_features(_frame(_row("D1", "2024-12-31", **{**SMALL, "equity": equity})))
    assert np.isnan(out["st_liabilities_to_equity"].iloc[0])
    assert out["st_negative_equity"].iloc[0] == 1.0
    assert out["st_equity_to_assets"].iloc[0] == pytest.approx(equity / 200.0)


def test_zero_interest_gives_nan_coverage_and_flag() -> None:
    out = statement_panel_features(
        _frame(_row("D1", "2024-12-31", **{**SMALL, "interest_expense": 0.0}),
               _row("D2", "2024-12-31", **{**SMALL, "interest_expense": NAN}))
    )  # fmt: skip
    assert np.isnan(out["st_interest_coverage"]).all()
    assert out["st_no_interest"].iloc[0] == 1.0
    assert np.isnan(out["st_no_interest"].iloc[1])  # not reported: unknown, not "no interest"


def test_zero_prior_revenue_gives_nan_growth() -> None:
    out = statement_panel_features(
        _frame(_row("D1", "2023-12-31", revenue=0.0), _row("D1", "2024-12-31", revenue=10.0))
    )
    assert np.isnan(out["st_revenue_growth_1y"].iloc[1])


# --- as of a date ---------------------------------------------------------------------------


def _history() -> pd.DataFrame:
    return _frame(
        _row("D2", "2022-12-31", **SMALL),
        _row("D1", "2021-12-31", **SMALL),
        _row("D1", "2022-12-31", "unaudited", **{**SMALL, "revenue": 300.0}),
        _row("D1", "2023-12-31", "tax_return", revenue=330.0),
        _row("D3", "2025-12-31", **SMALL),
    )


def test_statement_features_as_of() -> None:
    out = statement_features(_history(), "2023-06-30")
    assert out.index.tolist() == ["D1", "D2"]  # D3 has no statement yet: absent
    assert out.index.name == "debtor_id"
    assert list(out.columns) == list(FEATURE_NAMES)
    d1 = out.loc["D1"]
    assert d1["st_quality_tier"] == 2.0  # the 2022 unaudited statement is the latest
    assert d1["st_statement_age_days"] == 181.0  # 2022-12-31 → 2023-06-30
    assert d1["st_n_statements"] == 2.0
    assert d1["st_revenue_growth_1y"] == pytest.approx(0.2)  # 300 / 250 − 1


def test_statement_features_equal_the_latest_panel_row() -> None:
    hist = _history()
    panel = statement_panel_features(hist)
    out = statement_features(hist, "2024-01-01")
    pd.testing.assert_series_equal(
        out.loc["D1", list(PANEL_FEATURE_NAMES)], panel.iloc[3], check_names=False
    )


def test_empty_input_gives_empty_frames() -> None:
    empty = _frame(_row("D1", "2024-12-31", **SMALL)).iloc[:0]
    assert statement_panel_features(empty).shape == (0, len(PANEL_FEATURE_NAMES))
    assert statement_features(empty, "2024-12-31").shape == (0, len(FEATURE_NAMES))
    assert statement_features(_history(), "2000-01-01").empty  # nothing filed yet


def test_max_years_caps_n_statements() -> None:
    rows = [_row("D1", f"{y}-12-31", **SMALL) for y in range(2015, 2024)]
    assert statement_features(_frame(*rows), "2024-01-01")["st_n_statements"].iloc[0] == 5.0
    assert (
        statement_features(_frame(*rows), "2024-01-01", max_years=3)["st_n_statements"].iloc[0]
        == 3.0
    )


# --- bad input ----------------------------------------------------------------------------


def test_missing_column_is_named() -> None:
    df = _frame(_row("D1", "2024-12-31", **SMALL)).drop(columns="inventory")
    with pytest.raises(InvalidInputError, match="'inventory' is missing") as err:
        statement_panel_features(df)
    assert err.value.first["reason"] == "missing_column"


def test_duplicate_period_is_named() -> None:
    df = _frame(_row("D7", "2024-12-31", **SMALL), _row("D7", "2024-12-31", **SMALL))
    with pytest.raises(InvalidInputError, match="debtor 'D7' has two statements.*2024-12-31"):
        statement_panel_features(df)


def test_unknown_statement_type_is_named() -> None:
    df = _frame(_row("D1", "2024-12-31", "management_accounts", **SMALL))
    with pytest.raises(InvalidInputError, match="statement_type 'management_accounts'.*'D1'"):
        statement_panel_features(df)


def test_non_numeric_and_infinite_amounts_are_named() -> None:
    df = _frame(_row("D1", "2024-12-31", **SMALL))
    df["revenue"] = df["revenue"].astype(object)
    df.loc[0, "revenue"] = "12k"
    with pytest.raises(InvalidInputError, match="'revenue' is not numeric.*'12k'"):
        statement_panel_features(df)
    df2 = _frame(_row("D1", "2024-12-31", **{**SMALL, "cash": np.inf}))
    with pytest.raises(InvalidInputError, match="cash is inf .*'D1'"):
        statement_panel_features(df2)


def test_bad_as_of_is_named() -> None:
    df = _frame(_row("D1", "2024-12-31", **SMALL))
    with pytest.raises(InvalidInputError, match="as_of 'yesterday' is not a date"):
        statement_features(df, "yesterday")


# --- properties -----------------------------------------------------------------------------

_SIGNED = {"gross_profit", "ebitda", "ebit", "net_income", "equity", "retained_earnings"}


@st.composite
def statements_frames(draw: st.DrawFn) -> pd.DataFrame:
    """1–3 debtors with 1–4 statements each, some years missing; amounts 0, NaN or in
    [1, 1e7] (signed items may be negative)."""
    rows = []
    for d in range(draw(st.integers(1, 3))):
        years = draw(st.lists(st.integers(2015, 2023), min_size=1, max_size=4, unique=True))
        for y in years:
            items = {}
            for item in LINE_ITEMS:
                v = draw(st.one_of(st.just(0.0), st.just(NAN),
                                   st.floats(1.0, 1e7, allow_nan=False)))  # fmt: skip
                if item in _SIGNED and draw(st.booleans()):
                    v = -v
                items[item] = v
            kind = draw(st.sampled_from(["audited", "unaudited", "abbreviated", "tax_return"]))
            rows.append(_row(f"D{d}", f"{y}-12-31", kind, **items))
    order = draw(st.permutations(range(len(rows))))
    return _frame(*[rows[i] for i in order])


_PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPS
@given(statements_frames())
def test_ratios_are_unit_invariant(df: pd.DataFrame) -> None:
    """×1000 on every money item leaves every feature but the size ones unchanged
    (STYLE.md: ratios are invariant to the currency unit)."""
    scaled = df.copy()
    scaled[list(LINE_ITEMS)] = scaled[list(LINE_ITEMS)] * 1000.0
    a = statement_panel_features(df).drop(columns=list(SIZE_FEATURES))
    b = statement_panel_features(scaled).drop(columns=list(SIZE_FEATURES))
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-9, atol=1e-6)
    sizes = statement_panel_features(scaled)[list(SIZE_FEATURES)]
    base = statement_panel_features(df)[list(SIZE_FEATURES)]
    np.testing.assert_allclose(sizes.to_numpy(), base.to_numpy() + np.log(1000.0), rtol=1e-12)


@_PROPS
@given(statements_frames(), st.integers(2015, 2024))
def test_no_look_ahead_as_of(df: pd.DataFrame, year: int) -> None:
    """Statements dated after as_of change nothing."""
    as_of = pd.Timestamp(f"{year}-06-30")
    before = df[df["period_end"] <= as_of]
    pd.testing.assert_frame_equal(statement_features(df, as_of), statement_features(before, as_of))


@_PROPS
@given(statements_frames())
def test_panel_rows_unchanged_by_later_statements(df: pd.DataFrame) -> None:
    """Appending a later statement to each debtor leaves the existing panel rows unchanged."""
    later = [_row(d, "2024-12-31", **SMALL) for d in df["debtor_id"].unique()]
    grown = pd.concat([df, _frame(*later)], ignore_index=True)
    pd.testing.assert_frame_equal(
        statement_panel_features(grown).iloc[: len(df)], statement_panel_features(df)
    )


@_PROPS
@given(statements_frames())
def test_inputs_not_mutated_and_no_inf(df: pd.DataFrame) -> None:
    copy = df.copy(deep=True)
    panel = statement_panel_features(df)
    feats = statement_features(df, "2024-01-01")
    pd.testing.assert_frame_equal(df, copy)
    assert not np.isinf(panel.to_numpy()).any()
    assert not np.isinf(feats.to_numpy()).any()
    assert panel.index.equals(df.index)


@_PROPS
@given(statements_frames(), st.randoms(use_true_random=False))
def test_panel_is_row_order_equivariant(df: pd.DataFrame, rnd: Any) -> None:
    perm = list(range(len(df)))
    rnd.shuffle(perm)
    shuffled = df.iloc[perm]
    pd.testing.assert_frame_equal(
        statement_panel_features(shuffled), statement_panel_features(df).iloc[perm]
    )


# --- one kernel for 1..n debtors ----------------------------------------------------------


def _book_arrays(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kernel's inputs for a whole book sorted by debtor and period, and each row's
    position within its debtor (0 = earliest)."""
    srt = df.sort_values(["debtor_id", "period_end"], ignore_index=True)
    items = srt[list(LINE_ITEMS)].to_numpy(dtype=np.float64).T.copy()
    days = srt["period_end"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    tier = srt["statement_type"].map(STATEMENT_QUALITY_TIER).to_numpy(dtype=np.float64)
    pos = srt.groupby("debtor_id", sort=False).cumcount().to_numpy()
    return items, days, tier, pos


def _links(pos: np.ndarray, base: int = 0) -> np.ndarray:
    """Every row as a target: itself, the statements 1 and 2 back in its debtor, the count."""
    rows = np.arange(len(pos)) + base
    return np.stack([rows, np.where(pos >= 1, rows - 1, -1), np.where(pos >= 2, rows - 2, -1),
                     np.minimum(pos + 1, MAX_YEARS)]).astype(np.int64)


def _alone_equals_in_book(df: pd.DataFrame, t: int = 20000) -> int:
    """statement_rows on each debtor's own arrays (n = 1 debtor, as the single path calls
    it) gives the bits it gives inside the book (n debtors)."""
    items, days, tier, pos = _book_arrays(df)
    book = statement_rows(items, days, tier, _links(pos), t)
    starts = np.flatnonzero(pos == 0)
    for a, b in zip(starts, [*starts[1:], len(pos)], strict=True):
        alone = statement_rows(items[:, a:b].copy(), days[a:b].copy(), tier[a:b].copy(),
                               _links(pos[a:b]), t)
        np.testing.assert_array_equal(alone.view(np.uint64), book[:, a:b].view(np.uint64))
    return len(starts)


def test_kernel_gives_one_debtor_alone_what_it_gives_in_a_book() -> None:
    """The synthetic book, with items knocked out (identity fallbacks, NaN ratios), zero
    denominators and a dropped middle year (a 2-year gap through lag 1)."""
    from riskengine.synthetic import generate_portfolio

    df = generate_portfolio(300, seed=11, as_of="2026-06-30")["statements"].copy()
    rng = np.random.default_rng(3)
    for item in ("gross_profit", "ebitda", "ebit", "equity", "total_assets", "revenue",
                 "interest_expense", "current_liabilities", "cost_of_sales", "inventory"):
        u = rng.random(len(df))
        df.loc[u < 0.1, item] = NAN
        df.loc[(u >= 0.1) & (u < 0.15), item] = 0.0
    df = df.drop(index=df.index[rng.random(len(df)) < 0.15])
    assert _alone_equals_in_book(df) > 250


@_PROPS
@given(statements_frames())
def test_kernel_alone_equals_in_book_on_generated_statements(df: pd.DataFrame) -> None:
    _alone_equals_in_book(df)


def test_kernel_rows_are_the_frames_columns() -> None:
    """statement_features is statement_rows on the book's arrays (same bits), and its
    output rows are FEATURE_NAMES (age last)."""
    hist = _history()
    items, days, tier, pos = _book_arrays(hist)
    t = 19722  # 2023-12-31
    out = statement_rows(items, days, tier, _links(pos), t)[:, [2, 3]]  # D1 2023, D2 2022
    got = statement_features(hist, "2023-12-31").to_numpy().T
    np.testing.assert_array_equal(got.view(np.uint64), out.view(np.uint64))
    assert FEATURE_NAMES[-1] == "st_statement_age_days" and out[-1].tolist() == [0.0, 365.0]


def test_engine_single_path_covers_the_shipped_model() -> None:
    """The shipped model reads only features the kernel gives, so decide_one takes the
    array path (not the batch fallback)."""
    from riskengine.api import load_engine

    engine = load_engine()
    assert set(engine.feature_names) <= set(FEATURE_NAMES)
    assert engine._fast.supported


# --- directions -------------------------------------------------------------------------------


def test_feature_directions_cover_every_feature() -> None:
    dirs = feature_directions()
    assert set(dirs) == set(FEATURE_NAMES)
    assert set(dirs.values()) <= {-1, 0, 1}
    assert all(s.reason for s in FEATURE_SPECS)
    # RiskCalc: growth is non-monotone (DOMAIN.md §4); the seed's gearing raises the PD
    assert dirs["st_revenue_growth_1y"] == 0
    assert dirs["st_liabilities_to_equity"] == 1
    assert dirs["st_altman_z2"] == -1


# --- scikit-learn contract -------------------------------------------------------------------

#: Why each exempted check does not apply. The transformer's input is a typed record table
#: (the statements contract: debtor_id, period_end, statement_type and named line items),
#: and these checks feed random numeric arrays, which are not valid input: the transformer
#: raises InvalidInputError saying a statements DataFrame is expected. Each check's intent
#: is tested on valid input below (test_transformer_contract_on_statements and others).
_NOT_A_RECORD_TABLE = (
    "feeds a random numeric array; the input must be a statements table with named columns "
    "(intent tested on statements in test_transformer_contract_on_statements)"
)
_SPECIFIC = {
    "check_estimator_sparse_tag": "a sparse matrix is not a statements table",
    "check_estimator_sparse_array": "a sparse matrix is not a statements table",
    "check_estimator_sparse_matrix": "a sparse matrix is not a statements table",
    "check_complex_data": "expects sklearn's numeric-array wording; ours names the expected table",
    "check_estimators_empty_data_messages": "expects sklearn's numeric-array wording; ours "
    "names the expected table",
    "check_fit2d_1sample": "expects sklearn's numeric-array wording; one statement is valid input",
    "check_fit2d_1feature": "expects sklearn's numeric-array wording; ours names missing columns",
    "check_positive_only_tag_during_fit": "random array; signed items (equity, profits) may be "
    "negative in a valid statements table",
    "check_methods_subset_invariance": "random array; and rows are not independent: a "
    "statement's growth and trends use the debtor's earlier statements, and as_of mode "
    "returns one row per debtor",
    "check_methods_sample_order_invariance": "random array; panel mode is order-equivariant "
    "(test_panel_is_row_order_equivariant), as_of mode returns one row per debtor",
    "check_transformer_general": "random array; and as_of mode returns one row per debtor, "
    "not one per input row",
    "check_pipeline_consistency": "random array; pipeline use tested in "
    "test_pipeline_trains_on_the_panel",
}
_EXPECTED_FAILED = {
    name: _SPECIFIC.get(name, _NOT_A_RECORD_TABLE)
    for name in (
        "check_fit_score_takes_y", "check_estimators_overwrite_params",
        "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
        "check_readonly_memmap_input", "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_complex_data",
        "check_dtype_object", "check_estimators_empty_data_messages",
        "check_pipeline_consistency", "check_estimator_sparse_tag",
        "check_estimator_sparse_array", "check_estimator_sparse_matrix",
        "check_estimators_pickle", "check_f_contiguous_array_estimator",
        "check_transformer_data_not_an_array", "check_transformer_general",
        "check_transformer_preserve_dtypes", "check_methods_sample_order_invariance",
        "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature",
        "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
        "check_n_features_in", "check_fit2d_predict1d",
    )
}  # fmt: skip


@parametrize_with_checks(
    [StatementFeatures(), StatementFeatures(as_of="2024-12-31")],
    expected_failed_checks=lambda est: _EXPECTED_FAILED,
)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


# The exempted checks' intent, on valid input:


@pytest.mark.parametrize("as_of", [None, "2023-06-30"])
def test_transformer_contract_on_statements(as_of: str | None) -> None:
    hist = _history()
    est = StatementFeatures(as_of=as_of)
    assert est.fit(hist) is est  # fit returns self
    assert est.n_features_in_ == hist.shape[1]
    assert list(est.feature_names_in_) == list(hist.columns)
    out = est.transform(hist)
    assert list(out.columns) == list(est.get_feature_names_out())
    # idempotent and picklable
    pd.testing.assert_frame_equal(clone(est).fit(hist).transform(hist), out)
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(est)).transform(hist), out)
    # parameters untouched by fit
    assert est.get_params() == {"as_of": as_of, "max_years": 5}


def test_transform_before_fit_and_other_columns_raise() -> None:
    from sklearn.exceptions import NotFittedError

    hist = _history()
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        StatementFeatures().transform(hist)
    est = StatementFeatures().fit(hist)
    with pytest.raises(InvalidInputError, match="differ from those seen in fit"):
        est.transform(hist.assign(extra=1))
    with pytest.raises(InvalidInputError, match="must be a pandas DataFrame"):
        StatementFeatures().fit(np.zeros((3, 4)))


def test_pipeline_trains_on_the_panel() -> None:
    rng = np.random.default_rng(0)
    rows, y = [], []
    for d in range(40):
        for year in (2021, 2022, 2023):
            items = {k: float(rng.uniform(1, 100)) for k in LINE_ITEMS}
            rows.append(_row(f"D{d:02d}", f"{year}-12-31", **items))
            y.append(int(items["total_liabilities"] > 60))
    panel = _frame(*rows)
    pipe: Pipeline = make_pipeline(
        StatementFeatures(),
        SimpleImputer(keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(),
    )
    pipe.fit(panel, y)
    pd_ = pipe.predict_proba(panel)[:, 1]
    assert pd_.shape == (len(panel),) and np.all((pd_ > 0) & (pd_ < 1))
    assert list(pipe[:-1].get_feature_names_out()) == list(PANEL_FEATURE_NAMES)
