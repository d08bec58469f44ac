"""Financial statements → ratio features (functional core, no I/O).

One statement is one row of the ``statements`` table
(:data:`riskengine.contracts.schemas.STATEMENTS`): a debtor's 12-month accounts ending at
``period_end``. The features cover the seven ratio families of private-firm
PD models (Moody's RiskCalc: profitability, leverage, debt coverage, growth,
liquidity, activity, size), the seed's named ratios (liabilities / equity,
gross margin, current ratio, quick ratio), Altman Z'' (DOMAIN.md §4),
multi-year trends and the quality and age of the latest statement.

Two entry points share one computation:

- :func:`statement_panel_features` — one row per statement, computed from that
  statement and the same debtor's *earlier* statements only (a firm-year panel
  for training; point-in-time by construction).
- :func:`statement_features` — one row per debtor as of a date: the panel row
  of its latest statement with ``period_end <= as_of``, plus the statement's
  age.

:class:`StatementFeatures` wraps both as a scikit-learn transformer, and
:func:`feature_directions` gives the credit-logic sign of every feature for
monotonic constraints in the PD model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from riskengine.contracts.dates import as_of_day
from riskengine.contracts.schemas import LINE_ITEMS, STATEMENT_QUALITY_TIER
from riskengine.errors import InvalidInputError
from riskengine.features.adverse import _sorted_codes

__all__ = [
    "FeatureSpec",
    "FEATURE_SPECS",
    "PANEL_FEATURE_NAMES",
    "FEATURE_NAMES",
    "SIZE_FEATURES",
    "REQUIRED_COLUMNS",
    "statement_panel_features",
    "statement_features",
    "feature_directions",
    "StatementFeatures",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Days in an average year, and the tolerance around 1 and 2 years within which
#: an earlier statement counts as "one / two years before" (a quarter).
_YEAR_DAYS = 365.25
_LAG_TOLERANCE_DAYS = 92.0
#: From this many rows on, the kernel works row by row (no stacked temporaries);
#: below it (one debtor), it stacks the items to make few numpy calls.
_BATCH_ROWS = 4096


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One statement feature.

    Parameters
    ----------
    name : str
        Column name (prefix ``st_``).
    family : str
        Ratio family: profitability, leverage, coverage, liquidity, activity,
        size, growth, trend, composite or quality.
    direction : {-1, 0, 1}
        Credit-logic direction for the PD: +1 higher raises the PD, -1 higher
        lowers it, 0 non-monotone or no prior (leave unconstrained).
    reason : str
        One line justifying ``direction``.
    """

    name: str
    family: str
    direction: int
    reason: str

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"FeatureSpec {self.name!r}: direction must be -1, 0 or 1.")


_S = FeatureSpec
#: Every feature, in output order (the as-of frame's columns).
FEATURE_SPECS: tuple[FeatureSpec, ...] = (
    # profitability
    _S("st_ebitda_to_assets", "profitability", -1, "cash earnings per unit of assets repay debt"),
    _S("st_ebit_to_assets", "profitability", -1, "operating return on assets (Altman X3)"),
    _S("st_roa", "profitability", -1, "net income / assets: losses erode equity"),
    _S("st_gross_margin", "profitability", -1, "thin gross margins leave no room for shocks (seed)"),
    _S("st_ebitda_margin", "profitability", -1, "cash margin on sales"),
    _S("st_ebit_margin", "profitability", -1, "operating margin on sales"),
    _S("st_net_margin", "profitability", -1, "bottom-line margin on sales"),
    _S("st_retained_earnings_to_assets", "profitability", -1,
       "accumulated profits: age and past profitability (Altman X2)"),
    # leverage
    _S("st_liabilities_to_assets", "leverage", 1, "more debt per unit of assets, less cushion"),
    _S("st_liabilities_to_equity", "leverage", 1, "the seed's gearing ratio; NaN when equity <= 0"),
    _S("st_long_term_debt_to_assets", "leverage", 1, "funded debt burden"),
    _S("st_equity_to_assets", "leverage", -1, "book equity cushion"),
    _S("st_negative_equity", "leverage", 1, "equity <= 0: technically insolvent on the books"),
    # debt coverage
    _S("st_interest_coverage", "coverage", -1, "EBITDA covering interest many times over"),
    _S("st_no_interest", "coverage", 0,
       "no interest-bearing debt: safe, but also typical of micro firms; no prior"),
    _S("st_ebitda_to_liabilities", "coverage", -1, "years of cash earnings to repay all debt"),
    _S("st_ebit_to_current_liabilities", "coverage", -1, "operating profit against short-term debt"),
    # liquidity
    _S("st_current_ratio", "liquidity", -1, "short-term assets covering short-term debts (seed)"),
    _S("st_quick_ratio", "liquidity", -1, "liquid assets excluding stock covering short-term debts (seed)"),
    _S("st_cash_to_assets", "liquidity", -1, "cash buffer"),
    _S("st_working_capital_to_assets", "liquidity", -1, "net liquid assets (Altman X1)"),
    # activity
    _S("st_receivable_days", "activity", 1, "slow collection ties up cash, may hide bad debts"),
    _S("st_inventory_days", "activity", 1, "slow-moving stock ties up cash"),
    _S("st_asset_turnover", "activity", 0, "sector-dependent (asset-heavy vs light); no prior"),
    _S("st_current_liabilities_days", "activity", 1,
       "payables proxy: short-term debts in days of cost of sales; stretching suppliers"),
    # size
    _S("st_log_total_assets", "size", -1, "larger firms default less (RiskCalc size family)"),
    _S("st_log_revenue", "size", -1, "larger turnover, more diversified and resilient"),
    # growth
    _S("st_revenue_growth_1y", "growth", 0, "non-monotone: fast growth and fast decline both raise PD"),
    _S("st_revenue_growth_2y", "growth", 0, "non-monotone: fast growth and fast decline both raise PD"),
    _S("st_total_assets_growth_1y", "growth", 0, "non-monotone: expansion and shrinkage both risky"),
    # trends
    _S("st_liabilities_to_assets_delta_1y", "trend", 1, "rising leverage"),
    _S("st_liabilities_to_assets_delta_2y", "trend", 1, "rising leverage over two years"),
    _S("st_roa_delta_1y", "trend", -1, "improving profitability"),
    _S("st_roa_delta_2y", "trend", -1, "improving profitability over two years"),
    _S("st_current_ratio_delta_1y", "trend", -1, "improving liquidity"),
    _S("st_current_ratio_delta_2y", "trend", -1, "improving liquidity over two years"),
    _S("st_ebitda_margin_delta_1y", "trend", -1, "improving cash margin"),
    _S("st_ebitda_margin_delta_2y", "trend", -1, "improving cash margin over two years"),
    # composite
    _S("st_altman_z2", "composite", -1, "Altman Z'': safe > 2.60, distress < 1.10 (DOMAIN.md §4)"),
    # quality
    _S("st_quality_tier", "quality", 1, "1 audited … 4 tax return only: less reliable figures"),
    _S("st_n_statements", "quality", -1, "a longer filing history: an established firm"),
    _S("st_statement_age_days", "quality", 1,
       "stale accounts: less current information, late filing is a warning sign"),
)  # fmt: skip
del _S

#: Columns of :func:`statement_panel_features` (no age: a panel row has no as-of date).
PANEL_FEATURE_NAMES: tuple[str, ...] = tuple(
    s.name for s in FEATURE_SPECS if s.name != "st_statement_age_days"
)
#: Columns of :func:`statement_features`.
FEATURE_NAMES: tuple[str, ...] = tuple(s.name for s in FEATURE_SPECS)
#: Features in the currency's units (log of an amount): not unit-invariant.
SIZE_FEATURES: tuple[str, ...] = ("st_log_total_assets", "st_log_revenue")
#: Columns the input must have (``market_value`` and ``currency`` are not used).
REQUIRED_COLUMNS: tuple[str, ...] = ("debtor_id", "period_end", "statement_type", *LINE_ITEMS)


def feature_directions() -> dict[str, int]:
    """The credit-logic direction of every statement feature for the PD.

    Returns
    -------
    dict of str to int
        ``+1``: a higher value raises the PD; ``-1``: lowers it; ``0``:
        non-monotone or no prior (growth, asset turnover), leave unconstrained.
        The one-line reason of each is in :data:`FEATURE_SPECS`.

    Examples
    --------
    >>> feature_directions()["st_current_ratio"], feature_directions()["st_revenue_growth_1y"]
    (-1, 0)
    """
    return {s.name: s.direction for s in FEATURE_SPECS}


# --- input checks ------------------------------------------------------------------


def _check_columns(statements: pd.DataFrame) -> None:
    if not isinstance(statements, pd.DataFrame):
        raise InvalidInputError(
            f"statements must be a pandas DataFrame with the columns of the statements "
            f"contract, got {type(statements).__name__}. Pass the validated statements table."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in statements.columns]
    if missing:
        problems = [
            {"table": "statements", "record": None, "debtor_id": None, "column": c,
             "value": None, "reason": "missing_column",
             "message": f"statements: column {c!r} is missing"}
            for c in missing
        ]  # fmt: skip
        raise InvalidInputError(
            f"statements: column {missing[0]!r} is missing (all missing: {missing}). "
            "Add it (all-NaN if the item is not reported) so the frame follows the "
            "statements contract.",
            problems,
        )


def _money(statements: pd.DataFrame, col: str) -> FloatArray:
    try:
        s = statements[col]
        # float64 already: a view (NaN is NaN; the kernel never writes to its inputs)
        arr = (s.to_numpy() if s.dtype == np.float64
               else s.to_numpy(dtype=np.float64, na_value=np.nan))  # fmt: skip
    except (TypeError, ValueError) as exc:
        bad = pd.to_numeric(statements[col], errors="coerce").isna() & statements[col].notna()
        row = statements.index[bad.to_numpy()][0] if bad.any() else None
        value = statements[col].loc[row] if row is not None else None
        raise InvalidInputError(
            f"statements: column {col!r} is not numeric (record {row!r} has {value!r}). "
            "Money items must be floats in the statement currency.",
        ) from exc
    if np.isinf(arr).any():
        i = int(np.flatnonzero(np.isinf(arr))[0])
        raise InvalidInputError(
            f"statements: {col} is {arr[i]} for record {statements.index[i]!r} "
            f"(debtor {statements['debtor_id'].iloc[i]!r}). Amounts must be finite; "
            "fix the statement or leave the item missing (NaN)."
        )
    return arr


def _days(statements: pd.DataFrame) -> IntArray:
    pe = pd.to_datetime(statements["period_end"])
    if pe.isna().any():
        i = int(np.flatnonzero(pe.isna().to_numpy())[0])
        raise InvalidInputError(
            f"statements: period_end is missing for record {statements.index[i]!r} "
            f"(debtor {statements['debtor_id'].iloc[i]!r}). Every statement needs the "
            "last day of its fiscal year."
        )
    return pe.to_numpy().astype("datetime64[D]").astype(np.int64)


def _quality_tier(statements: pd.DataFrame) -> FloatArray:
    codes, uniques = pd.factorize(statements["statement_type"], use_na_sentinel=True)
    tiers = np.array([float(STATEMENT_QUALITY_TIER.get(str(u), np.nan)) for u in uniques])
    code_tier = np.append(tiers, np.nan)  # code -1 (missing) -> NaN
    tier = code_tier[codes]
    if np.isnan(tier).any():
        i = int(np.flatnonzero(np.isnan(tier))[0])
        raise InvalidInputError(
            f"statements: statement_type {statements['statement_type'].iloc[i]!r} of record "
            f"{statements.index[i]!r} (debtor {statements['debtor_id'].iloc[i]!r}) is not one "
            f"of {tuple(STATEMENT_QUALITY_TIER)}. Use the statements contract's vocabulary."
        )
    return tier


# --- the computation ----------------------------------------------------------------


def _take(a: FloatArray, idx: IntArray) -> FloatArray:
    """``a[idx]`` with NaN where ``idx < 0`` (no such earlier statement)."""
    out: FloatArray = np.where(idx < 0, np.nan, a[idx])
    return out


def _items(
    cols: dict[str, FloatArray], idx: IntArray | None = None, names: tuple[str, ...] = LINE_ITEMS
) -> dict[str, FloatArray]:
    """Line items ``names`` at rows ``idx`` (all rows if None), with identity fallbacks."""
    if idx is None:
        c = {k: cols[k] for k in names}
    elif cols[names[0]].shape[0] < _BATCH_ROWS:  # one gather for all items (few numpy calls)
        rows = np.array([cols[k] for k in names], dtype=np.float64)[:, idx]
        rows[:, idx < 0] = np.nan
        c = dict(zip(names, rows, strict=True))
    else:  # a batch: gather item by item (no stacked copy of every input row)
        rows = np.empty((len(names), idx.shape[0]), dtype=np.float64)
        for j, k in enumerate(names):
            np.take(cols[k], idx, out=rows[j])
        rows[:, idx < 0] = np.nan
        c = dict(zip(names, rows, strict=True))
    # Fallbacks through accounting identities, never through a zero:
    # gross profit = revenue - cost of sales; EBITDA = EBIT + D&A; EBIT = EBITDA - D&A;
    # equity = total assets - total liabilities.
    if "gross_profit" in c:
        c["gross_profit"] = _fill(c["gross_profit"], lambda: c["revenue"] - c["cost_of_sales"])
    if "ebitda" in c:
        ebitda = _fill(c["ebitda"], lambda: c["ebit"] + c["depreciation_amortization"])
        if "ebit" in c:
            c["ebit"] = _fill(c["ebit"], lambda: c["ebitda"] - c["depreciation_amortization"])
        c["ebitda"] = ebitda
    if "equity" in c:
        c["equity"] = _fill(c["equity"], lambda: c["total_assets"] - c["total_liabilities"])
    return c


def _fill(a: FloatArray, derive: Callable[[], FloatArray]) -> FloatArray:
    """``a`` with its NaNs replaced by ``derive()`` (computed only if needed)."""
    miss = np.isnan(a)
    if not miss.any():
        return a
    return np.where(miss, derive(), a)


#: Items the year-on-year comparisons need.
_TREND_ITEMS: tuple[str, ...] = ("revenue", "total_assets", "total_liabilities", "net_income",
                                 "current_assets", "current_liabilities", "ebitda", "ebit",
                                 "depreciation_amortization")  # fmt: skip


def _flag(cond: NDArray[np.bool_], defined: NDArray[np.bool_]) -> FloatArray:
    return np.where(defined, cond.astype(np.float64), np.nan)


def _near(gap: FloatArray, years: float) -> NDArray[np.bool_]:
    return np.abs(gap - years * _YEAR_DAYS) <= _LAG_TOLERANCE_DAYS


def _compute(
    cols: dict[str, FloatArray],
    days: IntArray,
    rows: IntArray | None,
    lag1: IntArray,
    lag2: IntArray,
    n_statements: FloatArray,
    tier: FloatArray,
) -> dict[str, FloatArray]:
    """Features at ``rows`` (all if None); ``lag1``/``lag2`` index the earlier statements."""
    with np.errstate(divide="ignore", invalid="ignore"):  # once for the whole kernel
        return _compute_kernel(cols, days, rows, lag1, lag2, n_statements, tier)


def _ratios(pairs: list[tuple[FloatArray, FloatArray, float]]) -> FloatArray:
    """``scale * num / den`` where ``den > 0`` (NaN where ``den`` is 0, negative or
    NaN) of each ``(num, den, scale)``; row ``i`` of the result is pair ``i``.

    One stacked computation: few numpy calls whatever the number of ratios
    (the kernel also serves one debtor at a time). The caller
    (:func:`_compute`) holds one ``np.errstate`` for the kernel.
    """
    if pairs[0][0].shape[0] >= _BATCH_ROWS:  # a batch: row by row, no stacked copies
        res: FloatArray = np.empty((len(pairs), pairs[0][0].shape[0]), dtype=np.float64)
        for i, (n_i, d_i, sc_i) in enumerate(pairs):
            row = np.divide(n_i, d_i, out=res[i])
            if sc_i != 1.0:
                row *= sc_i
            row[~(d_i > 0)] = np.nan
        return res
    num = np.array([p[0] for p in pairs], dtype=np.float64)
    den = np.array([p[1] for p in pairs], dtype=np.float64)
    q = num / den
    scale = [p[2] for p in pairs]
    if any(sc != 1.0 for sc in scale):
        q *= np.array(scale)[:, None]  # x * 1.0 == x exactly
    out: FloatArray = np.where(den > 0, q, np.nan)
    return out  # row i is ratio i


def _trend_bases(c: dict[str, FloatArray]) -> dict[str, FloatArray]:
    """The amounts and ratios compared across years."""
    ta = c["total_assets"]
    r = _ratios([(c["total_liabilities"], ta, 1.0), (c["net_income"], ta, 1.0),
                 (c["current_assets"], c["current_liabilities"], 1.0),
                 (c["ebitda"], c["revenue"], 1.0)])
    return {"revenue": c["revenue"], "total_assets": ta, "liabilities_to_assets": r[0],
            "roa": r[1], "current_ratio": r[2], "ebitda_margin": r[3]}


#: Ratio features of the kernel: (feature, numerator, denominator, scale).
_RATIO_SPECS: tuple[tuple[str, str, str, float], ...] = (
    ("st_ebitda_to_assets", "ebitda", "total_assets", 1.0),
    ("st_ebit_to_assets", "ebit", "total_assets", 1.0),
    ("st_roa", "net_income", "total_assets", 1.0),
    ("st_gross_margin", "gross_profit", "revenue", 1.0),
    ("st_ebitda_margin", "ebitda", "revenue", 1.0),
    ("st_ebit_margin", "ebit", "revenue", 1.0),
    ("st_net_margin", "net_income", "revenue", 1.0),
    ("st_retained_earnings_to_assets", "retained_earnings", "total_assets", 1.0),
    ("st_liabilities_to_assets", "total_liabilities", "total_assets", 1.0),
    ("st_liabilities_to_equity", "total_liabilities", "equity", 1.0),
    ("st_long_term_debt_to_assets", "long_term_debt", "total_assets", 1.0),
    ("st_equity_to_assets", "equity", "total_assets", 1.0),
    ("st_interest_coverage", "ebitda", "interest_expense", 1.0),
    ("st_ebitda_to_liabilities", "ebitda", "total_liabilities", 1.0),
    ("st_ebit_to_current_liabilities", "ebit", "current_liabilities", 1.0),
    ("st_current_ratio", "current_assets", "current_liabilities", 1.0),
    ("st_quick_ratio", "_quick_assets", "current_liabilities", 1.0),
    ("st_cash_to_assets", "cash", "total_assets", 1.0),
    ("st_working_capital_to_assets", "_working_capital", "total_assets", 1.0),
    ("st_receivable_days", "receivables", "revenue", 365.0),
    ("st_inventory_days", "inventory", "cost_of_sales", 365.0),
    ("st_asset_turnover", "revenue", "total_assets", 1.0),
    ("st_current_liabilities_days", "current_liabilities", "cost_of_sales", 365.0),
    ("_z2_equity_to_liabilities", "equity", "total_liabilities", 1.05),
)


def _compute_kernel(
    cols: dict[str, FloatArray],
    days: IntArray,
    rows: IntArray | None,
    lag1: IntArray,
    lag2: IntArray,
    n_statements: FloatArray,
    tier: FloatArray,
) -> dict[str, FloatArray]:
    c = _items(cols, rows)
    days_f = days.astype(np.float64)
    d = days_f if rows is None else days_f[rows]
    ta, eq, rev = c["total_assets"], c["equity"], c["revenue"]
    ca, cl, inv = c["current_assets"], c["current_liabilities"], c["inventory"]
    interest = c["interest_expense"]
    c["_working_capital"] = ca - cl
    c["_quick_assets"] = ca - inv
    ratios = _ratios([(c[a], c[b], sc) for _, a, b, sc in _RATIO_SPECS])
    r = dict(zip([name for name, *_ in _RATIO_SPECS], ratios, strict=True))
    f: dict[str, FloatArray] = {}
    for name, *_ in _RATIO_SPECS[:12]:
        f[name] = r[name]
    f["st_negative_equity"] = _flag(eq <= 0, ~np.isnan(eq))
    f["st_interest_coverage"] = r["st_interest_coverage"]
    f["st_no_interest"] = _flag(interest == 0, ~np.isnan(interest))
    for name, *_ in _RATIO_SPECS[13:23]:
        f[name] = r[name]
    f["st_log_total_assets"] = np.log(ta, out=np.full(ta.shape, np.nan), where=ta > 0)
    f["st_log_revenue"] = np.log(rev, out=np.full(rev.shape, np.nan), where=rev > 0)

    # earlier statements: lag 1 must lie ~1 year back; the 2-year comparator is
    # lag 2 if ~2 years back, else lag 1 if it is ~2 years back (a missing year).
    gap1 = d - _take(days_f, lag1)
    gap2 = d - _take(days_f, lag2)
    ok1 = _near(gap1, 1.0)
    idx1 = np.where(ok1, lag1, -1)
    idx2 = np.where(_near(gap2, 2.0), lag2, np.where(_near(gap1, 2.0), lag1, -1))
    cur = {"revenue": rev, "total_assets": ta,
           "liabilities_to_assets": f["st_liabilities_to_assets"], "roa": f["st_roa"],
           "current_ratio": f["st_current_ratio"], "ebitda_margin": f["st_ebitda_margin"]}  # fmt: skip
    if rows is None:  # every row is computed: gather the comparisons from them
        prev1 = {k: _take(v, idx1) for k, v in cur.items()}
        prev2 = {k: _take(v, idx2) for k, v in cur.items()}
    else:  # a few rows: compute the comparisons at the earlier rows only (both lags at once)
        m = idx1.shape[0]
        both = _trend_bases(_items(cols, np.concatenate([idx1, idx2]), _TREND_ITEMS))
        prev1 = {k: v[:m] for k, v in both.items()}
        prev2 = {k: v[m:] for k, v in both.items()}
    growth = _ratios([(rev, prev1["revenue"], 1.0), (rev, prev2["revenue"], 1.0),
                      (ta, prev1["total_assets"], 1.0)])
    growth -= 1.0
    f["st_revenue_growth_1y"] = growth[0]
    f["st_revenue_growth_2y"] = growth[1]
    f["st_total_assets_growth_1y"] = growth[2]
    keys = ("liabilities_to_assets", "roa", "current_ratio", "ebitda_margin")
    delta = np.array([cur[k] for k in keys] * 2) - np.array(
        [prev1[k] for k in keys] + [prev2[k] for k in keys])
    for i, key in enumerate(keys):
        f[f"st_{key}_delta_1y"] = delta[i]
        f[f"st_{key}_delta_2y"] = delta[len(keys) + i]

    z2 = r["_z2_equity_to_liabilities"].copy()
    for coef, term in (
        (6.56, "st_working_capital_to_assets"),
        (3.26, "st_retained_earnings_to_assets"),
        (6.72, "st_ebit_to_assets"),
    ):
        z2 += coef * f[term]
    f["st_altman_z2"] = z2
    f["st_quality_tier"] = tier if rows is None else tier[rows]
    f["st_n_statements"] = n_statements
    return f


def _prepare(
    statements: pd.DataFrame, sort_ids: bool
) -> tuple[dict[str, FloatArray], IntArray, FloatArray, IntArray, IntArray, IntArray, Any]:
    """Checked arrays plus the (debtor, period_end) sort order.

    Returns ``cols, days, tier, codes, order, pos`` and the debtor uniques, where
    ``order`` sorts rows by debtor then period and ``pos`` is each sorted row's
    position within its debtor (0 = earliest).
    """
    _check_columns(statements)
    ids = statements["debtor_id"]
    fast = _sorted_codes(ids) if len(ids) >= _BATCH_ROWS else None
    if fast is not None:  # sorted by debtor (as riskengine writes it): no hashing
        codes, uniques = fast
    else:
        codes, uniques = pd.factorize(ids, use_na_sentinel=True)
        uniques = pd.Index(uniques)
    if sort_ids and fast is None and not uniques.is_monotonic_increasing:
        sorter = uniques.argsort()
        rank = np.empty(len(sorter), dtype=codes.dtype)
        rank[sorter] = np.arange(len(sorter), dtype=codes.dtype)
        codes = np.where(codes < 0, codes, rank[codes])
        uniques = uniques[sorter]
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise InvalidInputError(
            f"statements: debtor_id is missing for record {statements.index[i]!r}. "
            "Every statement must name its debtor."
        )
    days = _days(statements)
    tier = _quality_tier(statements)
    cols = {item: _money(statements, item) for item in LINE_ITEMS}
    codes64 = codes.astype(np.int64)
    span = int(days.max() - days.min()) + 1 if len(days) else 1
    key = codes64 * span + (days - (days.min() if len(days) else 0))
    order = np.argsort(key)  # keys are unique once duplicates are refused
    skey = key[order]
    dup = np.flatnonzero(skey[1:] == skey[:-1])
    if dup.size:
        i = int(order[dup[0] + 1])
        raise InvalidInputError(
            f"statements: debtor {ids.iloc[i]!r} has two statements for period_end "
            f"{pd.Timestamp(statements['period_end'].iloc[i]).date()} (records "
            f"{statements.index[int(order[dup[0]])]!r} and {statements.index[i]!r}). "
            "Keep one statement per debtor and period."
        )
    scodes = codes64[order]
    n = len(order)
    start = np.ones(n, dtype=bool)
    start[1:] = scodes[1:] != scodes[:-1]
    ar = np.arange(n, dtype=np.int64)
    pos = ar - np.maximum.accumulate(np.where(start, ar, 0))
    return cols, days, tier, scodes, order, pos, uniques


def _lag_sorted(order: IntArray, pos: IntArray, k: int) -> IntArray:
    """For each sorted position, the original row of the k-th earlier statement, or -1."""
    lag = np.full(order.shape, -1, dtype=np.int64)
    lag[k:] = order[:-k] if k < len(order) else lag[k:]
    lag[pos < k] = -1
    return lag


def statement_panel_features(statements: pd.DataFrame, *, max_years: int = 5) -> pd.DataFrame:
    """Features of every statement from it and the same debtor's earlier ones.

    Parameters
    ----------
    statements : pandas.DataFrame
        The statements table (:data:`riskengine.contracts.schemas.STATEMENTS` columns; at
        least :data:`REQUIRED_COLUMNS`), one row per ``debtor_id`` ×
        ``period_end``, in any order. Not modified.
    max_years : int, default 5
        Cap of ``st_n_statements``.

    Returns
    -------
    pandas.DataFrame
        One row per input row, same index and order, float64 columns
        :data:`PANEL_FEATURE_NAMES`. A row uses its own statement and the
        debtor's earlier statements only, so the panel is point-in-time by
        construction: appending later statements never changes it.

    Raises
    ------
    InvalidInputError
        A required column is missing, a money item is not numeric or infinite,
        a ``debtor_id`` or ``period_end`` is missing, a ``statement_type`` is
        unknown, or a debtor has two statements for one period.

    Notes
    -----
    *Denominators.* Every ratio's denominator is an amount that is >= 0 by
    contract (total assets, revenue, liabilities, cost of sales, interest) or
    book equity. A ratio whose denominator is 0, negative or missing is NaN —
    never inf and never 0; a missing numerator gives NaN. Specifically:

    - ``st_liabilities_to_equity`` is NaN when equity <= 0, and
      ``st_negative_equity`` is 1 then (0 when equity > 0, NaN when unknown),
      so the model sees the worst case through the flag, not a huge or
      negative ratio.
    - ``st_interest_coverage`` (EBITDA / interest expense) is NaN when interest
      is 0, and ``st_no_interest`` is 1 then (0 when interest > 0, NaN when
      interest is not reported).
    - Altman Z'' = 6.56·WC/TA + 3.26·RE/TA + 6.72·EBIT/TA + 1.05·equity/TL
      (DOMAIN.md §4) is NaN when any term is NaN (TA or TL not > 0, or an
      item missing).
    - Growth (``x / x_prior - 1``) is NaN without a prior statement or when the
      prior amount is not > 0.

    *Missing items* are never read as 0. Identities fill an item only when
    it can be derived exactly: gross profit = revenue − cost of sales,
    EBITDA = EBIT + D&A, EBIT = EBITDA − D&A, equity = total assets − total
    liabilities. The quick ratio needs inventory (NaN when unknown).

    *Units.* All ratios, days, growth rates, deltas and Z'' are invariant to
    the currency unit (×1000). The size features ``st_log_total_assets`` and
    ``st_log_revenue`` are the natural log of the amount in the statement
    currency's units and are **not** unit-invariant; feed amounts in one unit
    (and one currency) to a model that uses them. Days use 365 days a year.

    *Earlier statements.* The 1-year comparator is the previous statement if
    its ``period_end`` lies 1 year (±92 days) earlier; the 2-year comparator
    is the statement two back if it lies 2 years (±92 days) earlier, else the
    previous one if it does (a missing year). Otherwise growth and deltas are
    NaN. ``st_revenue_growth_2y`` is the total two-year growth, not
    annualised. ``st_n_statements`` counts the debtor's statements up to and
    including this one, capped at ``max_years``.

    Nothing is winsorised here; the model may.

    Examples
    --------
    >>> import pandas as pd
    >>> from riskengine.contracts.schemas import LINE_ITEMS
    >>> row = {k: float("nan") for k in LINE_ITEMS}
    >>> row.update(revenue=100.0, current_assets=50.0, inventory=20.0, current_liabilities=25.0)
    >>> st = pd.DataFrame([{"debtor_id": "D1", "period_end": pd.Timestamp("2024-12-31"),
    ...                     "statement_type": "audited", "currency": "EUR", **row}])
    >>> statement_panel_features(st)[["st_current_ratio", "st_quick_ratio"]]
       st_current_ratio  st_quick_ratio
    0               2.0             1.2
    """
    cols, days, tier, _scodes, order, pos, _ = _prepare(statements, sort_ids=False)
    n = len(order)
    lag1 = np.empty(n, dtype=np.int64)
    lag2 = np.empty(n, dtype=np.int64)
    n_st = np.empty(n, dtype=np.float64)
    lag1[order] = _lag_sorted(order, pos, 1)
    lag2[order] = _lag_sorted(order, pos, 2)
    n_st[order] = np.minimum(pos + 1, max_years)
    f = _compute(cols, days, None, lag1, lag2, n_st, tier)
    return _frame(f, PANEL_FEATURE_NAMES, statements.index)


def _frame(f: dict[str, FloatArray], names: tuple[str, ...], index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame({name: f[name] for name in names}, index=index, copy=False)


def statement_features(statements: pd.DataFrame, as_of: Any, *, max_years: int = 5) -> pd.DataFrame:
    """Statement features of every debtor as of a date.

    Parameters
    ----------
    statements : pandas.DataFrame
        The statements table, as for :func:`statement_panel_features`. Not
        modified.
    as_of : date-like
        Statements with ``period_end <= as_of`` are used; later ones are
        ignored.
    max_years : int, default 5
        At most the last ``max_years`` statements count (``st_n_statements``
        is capped there; the features use the latest three at most).

    Returns
    -------
    pandas.DataFrame
        Index ``debtor_id`` (sorted), float64 columns :data:`FEATURE_NAMES`:
        the panel row of the debtor's latest statement up to ``as_of`` plus
        ``st_statement_age_days`` (``as_of`` − its ``period_end``, days).
        Debtors with no statement up to ``as_of`` are **absent**: the caller
        reindexes on its debtor list (their features are then NaN, i.e. "no
        statement", never imputed here).

    Raises
    ------
    InvalidInputError
        As :func:`statement_panel_features`, or ``as_of`` is not a date.

    Notes
    -----
    See :func:`statement_panel_features` for denominators, units and the
    choice of earlier statements. A stale latest statement is still used; its
    age says how stale.

    Examples
    --------
    >>> import pandas as pd
    >>> from riskengine.contracts.schemas import LINE_ITEMS
    >>> row = {k: 1.0 for k in LINE_ITEMS}
    >>> st = pd.DataFrame([{"debtor_id": "D1", "period_end": pd.Timestamp(p),
    ...                     "statement_type": "audited", "currency": "EUR", **row}
    ...                    for p in ("2022-12-31", "2023-12-31")])
    >>> out = statement_features(st, "2023-06-30")
    >>> out.index.tolist(), out["st_statement_age_days"].tolist(), out["st_n_statements"].tolist()
    (['D1'], [181.0], [1.0])
    """
    t = as_of_day(as_of)
    cols, days, tier, scodes, order, pos, uniques = _prepare(statements, sort_ids=True)
    sdays = days[order]
    eligible = sdays <= t
    last = eligible.copy()
    # the last eligible statement of a debtor: eligible, and the next row is
    # another debtor or not eligible (rows are sorted by debtor, then date)
    last[:-1] &= (scodes[1:] != scodes[:-1]) | ~eligible[1:]
    p = np.flatnonzero(last)
    rows = order[p]
    lag1 = _lag_sorted(order, pos, 1)[p]
    lag2 = _lag_sorted(order, pos, 2)[p]
    n_st = np.minimum(pos[p] + 1, max_years).astype(np.float64)
    f = _compute(cols, days, rows, lag1, lag2, n_st, tier)
    f["st_statement_age_days"] = (t - days[rows]).astype(np.float64)
    index = uniques.take(scodes[p]).rename("debtor_id")
    return _frame(f, FEATURE_NAMES, index)


class StatementFeatures(TransformerMixin, BaseEstimator):
    """Statements → ratio features as a scikit-learn transformer.

    Parameters
    ----------
    as_of : date-like or None, default None
        None: :func:`statement_panel_features` (one row per statement, for
        training on a firm-year panel). A date: :func:`statement_features`
        (one row per debtor, index ``debtor_id``).
    max_years : int, default 5
        Cap of ``st_n_statements`` (at most the last ``max_years`` statements).

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        Columns of the frame seen in ``fit``.
    n_features_in_ : int
        Their number.

    Notes
    -----
    Stateless: ``fit`` checks the columns and learns nothing, so fitting on a
    training panel and transforming a scoring frame cannot leak. The input is
    a typed record table with named columns (the statements contract), not a
    numeric matrix.

    Examples
    --------
    >>> import pandas as pd
    >>> from riskengine.contracts.schemas import LINE_ITEMS
    >>> row = {k: 2.0 for k in LINE_ITEMS}
    >>> st = pd.DataFrame([{"debtor_id": "D1", "period_end": pd.Timestamp("2024-12-31"),
    ...                     "statement_type": "unaudited", "currency": "EUR", **row}])
    >>> StatementFeatures().fit_transform(st)["st_quality_tier"].tolist()
    [2.0]
    """

    def __init__(self, as_of: Any = None, max_years: int = 5) -> None:
        self.as_of = as_of
        self.max_years = max_years

    def fit(self, X: pd.DataFrame, y: Any = None) -> StatementFeatures:
        """Check the columns of ``X`` and record them; learns nothing else."""
        self._check_params()
        _check_columns(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """The panel features (``as_of`` None) or the as-of features per debtor."""
        check_is_fitted(self, "feature_names_in_")
        _check_columns(X)
        if list(X.columns) != list(self.feature_names_in_):
            raise InvalidInputError(
                "StatementFeatures: the columns of X differ from those seen in fit "
                f"(fit: {list(self.feature_names_in_)}, now: {list(X.columns)}). "
                "Transform frames with the columns the transformer was fitted on."
            )
        if self.as_of is None:
            return statement_panel_features(X, max_years=self.max_years)
        return statement_features(X, self.as_of, max_years=self.max_years)

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """Output column names: :data:`PANEL_FEATURE_NAMES` or :data:`FEATURE_NAMES`."""
        check_is_fitted(self, "feature_names_in_")
        names = PANEL_FEATURE_NAMES if self.as_of is None else FEATURE_NAMES
        return np.asarray(names, dtype=object)

    def _check_params(self) -> None:
        if not isinstance(self.max_years, (int, np.integer)) or self.max_years < 1:
            raise InvalidInputError(
                f"StatementFeatures: max_years must be a positive integer, got {self.max_years!r}."
            )
        if self.as_of is not None:
            as_of_day(self.as_of)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags
