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

import functools
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
    "MAX_YEARS",
    "statement_panel_features",
    "statement_features",
    "statement_rows",
    "warm_up",
    "feature_directions",
    "StatementFeatures",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Days in an average year, and the tolerance around 1 and 2 years within which
#: an earlier statement counts as "one / two years before" (a quarter).
_YEAR_DAYS = 365.25
_LAG_TOLERANCE_DAYS = 92.0
#: Default cap of ``st_n_statements`` (the last this many statements count).
MAX_YEARS = 5
#: From this many rows on, ids sorted as riskengine writes them are coded without hashing.
_SORTED_MIN_ROWS = 4096


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


def _column(a: FloatArray) -> FloatArray:
    """A contiguous read-only view of ``a`` (a copy only if ``a`` is strided): every
    column then has one numba type, so the frame's columns make one typed tuple."""
    out = np.ascontiguousarray(a).view()
    out.flags.writeable = False
    return out


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


# --- the computation: one compiled kernel for 1..n rows ------------------------------

#: Rows of the kernel's item matrix (:data:`LINE_ITEMS` order).
_REV, _COS, _GP, _EBITDA, _DA, _EBIT, _INT, _NI, _CASH, _REC, _INV, _CA, _TA, _CL, _LTD, \
    _TL, _EQ, _RE = (LINE_ITEMS.index(k) for k in (
        "revenue", "cost_of_sales", "gross_profit", "ebitda", "depreciation_amortization",
        "ebit", "interest_expense", "net_income", "cash", "receivables", "inventory",
        "current_assets", "total_assets", "current_liabilities", "long_term_debt",
        "total_liabilities", "equity", "retained_earnings"))
#: Two derived items after them in the kernel's scratch row.
_WC, _QA = len(LINE_ITEMS), len(LINE_ITEMS) + 1
_ITEM = {**{k: i for i, k in enumerate(LINE_ITEMS)}, "_working_capital": _WC,
         "_quick_assets": _QA}
#: Rows of the kernel's output: :data:`FEATURE_NAMES` (the age last; the panel drops it).
_OUT = {name: i for i, name in enumerate(FEATURE_NAMES)}
_N_OUT = len(FEATURE_NAMES)
#: Ratio features: (feature, numerator, denominator, scale): ``num / den * scale``
#: where ``den > 0``; NaN where it is 0, negative or missing.
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
)
_RATIO_OUT = np.array([_OUT[f] for f, *_ in _RATIO_SPECS])
_RATIO_NUM = np.array([_ITEM[a] for _, a, _, _ in _RATIO_SPECS])
_RATIO_DEN = np.array([_ITEM[b] for _, _, b, _ in _RATIO_SPECS])
_RATIO_SCALE = np.array([sc for *_, sc in _RATIO_SPECS])
#: Ratios compared across years: output rows of the ratio, its 1-year and 2-year deltas
#: (in the order of the trend bases 2..5 of the kernel).
_TREND_OUT = np.array([[_OUT[f"st_{k}"], _OUT[f"st_{k}_delta_1y"], _OUT[f"st_{k}_delta_2y"]]
                       for k in ("liabilities_to_assets", "roa", "current_ratio",
                                 "ebitda_margin")])
(_GROWTH_1Y, _GROWTH_2Y, _TA_GROWTH, _NEG_EQ, _NO_INT, _LOG_TA, _LOG_REV, _Z2, _WC_TA, _RE_TA,
 _EBIT_TA, _TIER, _N_ST, _AGE) = (_OUT[f"st_{k}"] for k in (
    "revenue_growth_1y", "revenue_growth_2y", "total_assets_growth_1y", "negative_equity",
    "no_interest", "log_total_assets", "log_revenue", "altman_z2",
    "working_capital_to_assets", "retained_earnings_to_assets", "ebit_to_assets",
    "quality_tier", "n_statements", "statement_age_days"))
#: The kernel's constants of a year (days) and the lag tolerance, as floats.
_Y1, _Y2, _TOL = _YEAR_DAYS, 2.0 * _YEAR_DAYS, _LAG_TOLERANCE_DAYS


def _statement_rows(items: Any, days: Any, tier: Any, links: Any, t: int
                    ) -> Any:  # pragma: no cover - compiled
    """Kernel of :func:`statement_rows`: one pass over the target rows, scalar
    arithmetic in the order the Notes of :func:`statement_panel_features` give.

    ``items[i][r]`` reads item ``i`` of statement ``r`` from a 2-D array (one payload)
    and from a tuple of column arrays (a book's frame, no copy) alike: numba compiles
    this one source for each.
    """
    m = links.shape[1]
    out = np.empty((_N_OUT, m))
    c = np.empty(len(items) + 2)  # the row's items with identity fallbacks
    prev = np.full((2, 6), np.nan)  # bases 1 and 2 years back
    for j in range(m):
        r, lag1, lag2 = links[0, j], links[1, j], links[2, j]
        for i in range(len(items)):
            c[i] = items[i][r]
        # identities, never a zero: GP = rev - COS; EBITDA = EBIT + D&A; EBIT =
        # EBITDA - D&A (each from the item as given); equity = TA - TL
        if np.isnan(c[_GP]):
            c[_GP] = c[_REV] - c[_COS]
        ebitda, ebit = c[_EBITDA], c[_EBIT]
        if np.isnan(ebitda):
            c[_EBITDA] = ebit + c[_DA]
        if np.isnan(ebit):
            c[_EBIT] = ebitda - c[_DA]
        if np.isnan(c[_EQ]):
            c[_EQ] = c[_TA] - c[_TL]
        c[_WC] = c[_CA] - c[_CL]
        c[_QA] = c[_CA] - c[_INV]
        for k in range(_RATIO_OUT.shape[0]):
            den = c[_RATIO_DEN[k]]
            out[_RATIO_OUT[k], j] = c[_RATIO_NUM[k]] / den * _RATIO_SCALE[k] if den > 0 else np.nan
        eq, interest, ta, rev = c[_EQ], c[_INT], c[_TA], c[_REV]
        out[_NEG_EQ, j] = np.nan if np.isnan(eq) else (1.0 if eq <= 0 else 0.0)
        out[_NO_INT, j] = np.nan if np.isnan(interest) else (1.0 if interest == 0 else 0.0)
        out[_LOG_TA, j] = np.log(ta) if ta > 0 else np.nan
        out[_LOG_REV, j] = np.log(rev) if rev > 0 else np.nan
        # earlier statements: lag 1 must lie ~1 year back; the 2-year comparator is
        # lag 2 if ~2 years back, else lag 1 if it is ~2 years back (a missing year)
        d = float(days[r])
        gap1 = d - float(days[lag1]) if lag1 >= 0 else np.nan
        gap2 = d - float(days[lag2]) if lag2 >= 0 else np.nan
        q1 = lag1 if abs(gap1 - _Y1) <= _TOL else -1
        q2 = lag2 if abs(gap2 - _Y2) <= _TOL else (lag1 if abs(gap1 - _Y2) <= _TOL else -1)
        for b, q in ((0, q1), (1, q2)):  # revenue, TA, TL/TA, ROA, current ratio, margin
            prev[b, :] = np.nan
            if q >= 0:
                p_rev, p_ta, p_cl = items[_REV][q], items[_TA][q], items[_CL][q]
                p_ebitda = items[_EBITDA][q]
                if np.isnan(p_ebitda):
                    p_ebitda = items[_EBIT][q] + items[_DA][q]
                prev[b, 0], prev[b, 1] = p_rev, p_ta
                if p_ta > 0:
                    prev[b, 2] = items[_TL][q] / p_ta
                    prev[b, 3] = items[_NI][q] / p_ta
                if p_cl > 0:
                    prev[b, 4] = items[_CA][q] / p_cl
                if p_rev > 0:
                    prev[b, 5] = p_ebitda / p_rev
        out[_GROWTH_1Y, j] = (rev / prev[0, 0] if prev[0, 0] > 0 else np.nan) - 1.0
        out[_GROWTH_2Y, j] = (rev / prev[1, 0] if prev[1, 0] > 0 else np.nan) - 1.0
        out[_TA_GROWTH, j] = (ta / prev[0, 1] if prev[0, 1] > 0 else np.nan) - 1.0
        for k in range(_TREND_OUT.shape[0]):
            now = out[_TREND_OUT[k, 0], j]
            out[_TREND_OUT[k, 1], j] = now - prev[0, 2 + k]
            out[_TREND_OUT[k, 2], j] = now - prev[1, 2 + k]
        # Altman Z'' (DOMAIN.md §4), added in this order
        tl = c[_TL]
        z2 = eq / tl * 1.05 if tl > 0 else np.nan
        z2 += 6.56 * out[_WC_TA, j]
        z2 += 3.26 * out[_RE_TA, j]
        z2 += 6.72 * out[_EBIT_TA, j]
        out[_Z2, j] = z2
        out[_TIER, j] = tier[r]
        out[_N_ST, j] = float(links[3, j])
        out[_AGE, j] = float(t - days[r])
    return out


@functools.cache
def _kernel() -> Any:
    """:func:`_statement_rows` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_statement_rows)


def warm_up() -> None:
    """Compile (or load from the disk cache) the statement kernel now, for a payload's
    2-D items and for a frame's columns."""
    items = np.zeros((len(LINE_ITEMS), 1))
    args = (np.zeros(1, dtype=np.int64), np.ones(1), np.zeros((4, 1), dtype=np.int64), 0)
    statement_rows(items, *args)
    statement_rows(tuple(_column(a) for a in items), *args)


def statement_rows(items: FloatArray | tuple[FloatArray, ...], days: IntArray, tier: FloatArray, links: IntArray,
                   t: int) -> FloatArray:
    """Statement features of target rows of one or many debtors' statements (the
    array core of :func:`statement_panel_features` and :func:`statement_features`,
    and the single-debtor path's).

    Parameters
    ----------
    items : ndarray of float64, shape (len(LINE_ITEMS), n), or tuple of such 1-D arrays
        Line items (rows in :data:`LINE_ITEMS` order; NaN missing) of ``n`` statements:
        a 2-D array (one payload's statements) or a tuple of contiguous columns of one
        type (a book's frame columns, read-only views: no copy).
    days : ndarray of int64, shape (n,)
        Each statement's ``period_end`` as days since 1970-01-01.
    tier : ndarray of float64, shape (n,)
        Each statement's quality tier (:data:`~riskengine.contracts.schemas.STATEMENT_QUALITY_TIER`).
    links : ndarray of int64, shape (4, m)
        Per target row: the statement, its debtor's previous and second previous
        statement (negative: none) and ``st_n_statements``.
    t : int
        As-of day (days since 1970-01-01) of ``st_statement_age_days``.

    Returns
    -------
    ndarray of float64, shape (len(FEATURE_NAMES), m)
        Row ``i`` is feature ``FEATURE_NAMES[i]`` of every target row; see
        :func:`statement_panel_features` for the definitions.

    Examples
    --------
    >>> items = np.full((len(LINE_ITEMS), 1), np.nan)
    >>> items[[LINE_ITEMS.index("current_assets"), LINE_ITEMS.index("current_liabilities")]] = [[50.0], [25.0]]
    >>> f = statement_rows(items, np.array([20088]), np.array([1.0]), np.array([[0], [-1], [-1], [1]]), 20088)
    >>> float(f[FEATURE_NAMES.index("st_current_ratio"), 0])
    2.0
    """
    out: FloatArray = _kernel()(items, days, tier, links, t)
    return out


def _prepare(
    statements: pd.DataFrame, sort_ids: bool
) -> tuple[tuple[FloatArray, ...], IntArray, FloatArray, IntArray, IntArray, IntArray, Any]:
    """Checked arrays plus the (debtor, period_end) sort order.

    Returns ``items, days, tier, codes, order, pos`` and the debtor uniques, where
    ``items`` holds the line item columns (views, the input of :func:`statement_rows`),
    ``order`` sorts rows by debtor then period and ``pos`` is each sorted row's
    position within its debtor (0 = earliest).
    """
    _check_columns(statements)
    ids = statements["debtor_id"]
    fast = _sorted_codes(ids) if len(ids) >= _SORTED_MIN_ROWS else None
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
    items = tuple(_column(_money(statements, item)) for item in LINE_ITEMS)
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
    return items, days, tier, scodes, order, pos, uniques


def _lag_sorted(order: IntArray, pos: IntArray, k: int) -> IntArray:
    """For each sorted position, the original row of the k-th earlier statement, or -1."""
    lag = np.full(order.shape, -1, dtype=np.int64)
    lag[k:] = order[:-k] if k < len(order) else lag[k:]
    lag[pos < k] = -1
    return lag


def statement_panel_features(statements: pd.DataFrame, *, max_years: int = MAX_YEARS) -> pd.DataFrame:
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
    items, days, tier, _scodes, order, pos, _ = _prepare(statements, sort_ids=False)
    links = np.empty((4, len(order)), dtype=np.int64)
    links[0] = np.arange(len(order))
    links[1, order] = _lag_sorted(order, pos, 1)
    links[2, order] = _lag_sorted(order, pos, 2)
    links[3, order] = np.minimum(pos + 1, max_years)
    f = statement_rows(items, days, tier, links, 0)
    return _frame(f[:-1], PANEL_FEATURE_NAMES, statements.index)  # no age in a panel


def _frame(f: FloatArray, names: tuple[str, ...], index: pd.Index) -> pd.DataFrame:
    """The kernel's rows as the columns of one float block (no copy)."""
    return pd.DataFrame(f.T, index=index, columns=list(names), copy=False)


def statement_features(statements: pd.DataFrame, as_of: Any, *, max_years: int = MAX_YEARS) -> pd.DataFrame:
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
    items, days, tier, scodes, order, pos, uniques = _prepare(statements, sort_ids=True)
    sdays = days[order]
    eligible = sdays <= t
    last = eligible.copy()
    # the last eligible statement of a debtor: eligible, and the next row is
    # another debtor or not eligible (rows are sorted by debtor, then date)
    last[:-1] &= (scodes[1:] != scodes[:-1]) | ~eligible[1:]
    p = np.flatnonzero(last)
    links = np.stack([order[p], _lag_sorted(order, pos, 1)[p], _lag_sorted(order, pos, 2)[p],
                      np.minimum(pos[p] + 1, max_years)])
    f = statement_rows(items, days, tier, links, t)
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

    def __init__(self, as_of: Any = None, max_years: int = MAX_YEARS) -> None:
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
