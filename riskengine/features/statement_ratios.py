"""Statement features: their definitions and their one computation (compiled).

:data:`FEATURE_SPECS` declares every statement feature (name, ratio family,
credit-logic direction); :func:`statement_rows` computes them for target
statements of 1..n debtors in one compiled pass (numba, ``njit(cache=True,
nogil=True)``, compiled lazily or by :func:`warm_up`). Its callers are the
pandas edges of :mod:`riskengine.features.statements` (a book's frame columns,
no copy) and the single-debtor path (one payload's statements as a 2-D array).
The definitions (denominators, identities, comparators) are in the Notes of
:func:`riskengine.features.statements.statement_panel_features`. Pure: no I/O.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riskengine.contracts.schemas import LINE_ITEMS

__all__ = [
    "FeatureSpec",
    "FEATURE_SPECS",
    "PANEL_FEATURE_NAMES",
    "FEATURE_NAMES",
    "SIZE_FEATURES",
    "statement_rows",
    "warm_up",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Days in an average year, and the tolerance around 1 and 2 years within which
#: an earlier statement counts as "one / two years before" (a quarter).
_YEAR_DAYS = 365.25
_LAG_TOLERANCE_DAYS = 92.0


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
def _column(a: FloatArray) -> FloatArray:
    """A contiguous read-only view of ``a`` (a copy only if strided): one numba type
    for every column, so a frame's columns make one typed tuple."""
    out = np.ascontiguousarray(a).view()
    out.flags.writeable = False
    return out


# --- the computation: one compiled kernel for 1..n rows - ------------------------------

#: Rows of the kernel's items (:data:`LINE_ITEMS` order), then two derived items.
_REV, _COS, _GP, _EBITDA, _DA, _EBIT, _INT, _INV, _CA, _TA, _CL, _TL, _EQ = (
    LINE_ITEMS.index(k) for k in ("revenue", "cost_of_sales", "gross_profit", "ebitda",
                                  "depreciation_amortization", "ebit", "interest_expense",
                                  "inventory", "current_assets", "total_assets",
                                  "current_liabilities", "total_liabilities", "equity"))
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
#: Items of the earlier statements compared (rows of the kernel's lag buffer).
_TREND_NAMES = ("revenue", "total_assets", "total_liabilities", "net_income", "current_assets",
                "current_liabilities", "ebitda", "ebit", "depreciation_amortization")
_TREND_ITEMS = np.array([LINE_ITEMS.index(k) for k in _TREND_NAMES])
_P_REV, _P_TA, _P_TL, _P_NI, _P_CA, _P_CL, _P_EBITDA, _P_EBIT, _P_DA = range(len(_TREND_NAMES))
#: Target rows per block of the kernel (its buffers stay in cache).
_BLOCK = 256


def _statement_rows(items: Any, days: Any, tier: Any, links: Any, t: int
                    ) -> Any:  # pragma: no cover - compiled
    """Kernel of :func:`statement_rows`, block by block of target rows: the
    comparators (from the days), the gathers (one tight loop per item), the identity
    fallbacks, the ratios ratio by ratio (loops the compiler vectorises), then the
    rest row by row; the arithmetic is that of the Notes of
    :func:`statement_panel_features`, in that order.

    ``items[i][r]`` reads item ``i`` of statement ``r`` from a 2-D array (one payload)
    and from a tuple of column arrays (a book's frame, no copy) alike: numba compiles
    this one source for each.
    """
    m = links.shape[1]
    out, size = np.empty((_N_OUT, m)), max(min(m, _BLOCK), 1)
    c = np.empty((len(items) + 2, size))  # the rows' items, then identity fallbacks
    pv = np.empty((2, _TREND_ITEMS.shape[0], size))  # trend items 1 and 2 years back
    q = np.empty((2, size), dtype=np.int64)  # the comparators (-1: none)
    prev = np.empty((2, 6))  # the bases compared, 1 and 2 years back
    for j0 in range(0, m, size):
        nb = min(size, m - j0)
        # lag 1 must lie ~1 year back; the 2-year comparator is lag 2 if ~2 years
        # back, else lag 1 if it is ~2 years back (a missing year)
        for jj in range(nb):
            r, lag1, lag2 = links[0, j0 + jj], links[1, j0 + jj], links[2, j0 + jj]
            d = float(days[r])
            gap1 = d - float(days[lag1]) if lag1 >= 0 else np.nan
            gap2 = d - float(days[lag2]) if lag2 >= 0 else np.nan
            q[0, jj] = lag1 if abs(gap1 - _Y1) <= _TOL else -1
            q[1, jj] = lag2 if abs(gap2 - _Y2) <= _TOL else (
                lag1 if abs(gap1 - _Y2) <= _TOL else -1)
        for i in range(len(items)):
            col = items[i]
            for jj in range(nb):
                c[i, jj] = col[links[0, j0 + jj]]
        for k in range(_TREND_ITEMS.shape[0]):
            col = items[_TREND_ITEMS[k]]
            for b in range(2):
                for jj in range(nb):
                    v = col[max(q[b, jj], 0)]
                    pv[b, k, jj] = v if q[b, jj] >= 0 else np.nan
        for jj in range(nb):
            j = j0 + jj
            if np.isnan(c[_GP, jj]):
                c[_GP, jj] = c[_REV, jj] - c[_COS, jj]
            ebitda, ebit = c[_EBITDA, jj], c[_EBIT, jj]
            if np.isnan(ebitda):
                c[_EBITDA, jj] = ebit + c[_DA, jj]
            if np.isnan(ebit):
                c[_EBIT, jj] = ebitda - c[_DA, jj]
            if np.isnan(c[_EQ, jj]):
                c[_EQ, jj] = c[_TA, jj] - c[_TL, jj]
            c[_WC, jj] = c[_CA, jj] - c[_CL, jj]
            c[_QA, jj] = c[_CA, jj] - c[_INV, jj]
        for k in range(_RATIO_OUT.shape[0]):  # ratio by ratio over the block (SIMD)
            num, den, dst = c[_RATIO_NUM[k]], c[_RATIO_DEN[k]], out[_RATIO_OUT[k]]
            scale = _RATIO_SCALE[k]
            for jj in range(nb):
                dst[j0 + jj] = num[jj] / den[jj] * scale if den[jj] > 0 else np.nan
        for jj in range(nb):
            j = j0 + jj
            eq, interest, ta, rev = c[_EQ, jj], c[_INT, jj], c[_TA, jj], c[_REV, jj]
            out[_NEG_EQ, j] = np.nan if np.isnan(eq) else (1.0 if eq <= 0 else 0.0)
            out[_NO_INT, j] = np.nan if np.isnan(interest) else (1.0 if interest == 0 else 0.0)
            out[_LOG_TA, j] = np.log(ta) if ta > 0 else np.nan
            out[_LOG_REV, j] = np.log(rev) if rev > 0 else np.nan
            for b in range(2):  # revenue, TA, TL/TA, ROA, current ratio, EBITDA margin
                p_rev, p_ta, p_cl = pv[b, _P_REV, jj], pv[b, _P_TA, jj], pv[b, _P_CL, jj]
                p_ebitda = pv[b, _P_EBITDA, jj]
                if np.isnan(p_ebitda):
                    p_ebitda = pv[b, _P_EBIT, jj] + pv[b, _P_DA, jj]
                prev[b, 0], prev[b, 1] = p_rev, p_ta
                prev[b, 2] = pv[b, _P_TL, jj] / p_ta if p_ta > 0 else np.nan
                prev[b, 3] = pv[b, _P_NI, jj] / p_ta if p_ta > 0 else np.nan
                prev[b, 4] = pv[b, _P_CA, jj] / p_cl if p_cl > 0 else np.nan
                prev[b, 5] = p_ebitda / p_rev if p_rev > 0 else np.nan
            out[_GROWTH_1Y, j] = (rev / prev[0, 0] if prev[0, 0] > 0 else np.nan) - 1.0
            out[_GROWTH_2Y, j] = (rev / prev[1, 0] if prev[1, 0] > 0 else np.nan) - 1.0
            out[_TA_GROWTH, j] = (ta / prev[0, 1] if prev[0, 1] > 0 else np.nan) - 1.0
            for k in range(_TREND_OUT.shape[0]):
                now = out[_TREND_OUT[k, 0], j]
                out[_TREND_OUT[k, 1], j] = now - prev[0, 2 + k]
                out[_TREND_OUT[k, 2], j] = now - prev[1, 2 + k]
            # Altman Z'' (DOMAIN.md §4), added in this order
            tl = c[_TL, jj]
            z2 = eq / tl * 1.05 if tl > 0 else np.nan
            z2 += 6.56 * out[_WC_TA, j]
            z2 += 3.26 * out[_RE_TA, j]
            z2 += 6.72 * out[_EBIT_TA, j]
            out[_Z2, j] = z2
            r = links[0, j]
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
    """Compile (or load from the disk cache) the kernel for 2-D items and for columns."""
    items = np.zeros((len(LINE_ITEMS), 1))
    args = (np.zeros(1, dtype=np.int64), np.ones(1), np.zeros((4, 1), dtype=np.int64), 0)
    statement_rows(items, *args)
    statement_rows(tuple(_column(a) for a in items), *args)


def statement_rows(items: FloatArray | tuple[FloatArray, ...], days: IntArray,
                   tier: FloatArray, links: IntArray, t: int) -> FloatArray:
    """Features of target statements of 1..n debtors: the array core of
    :func:`statement_panel_features`, :func:`statement_features` and ``decide_one``.

    Parameters
    ----------
    items : ndarray of float64, shape (len(LINE_ITEMS), n), or tuple of such 1-D arrays
        Line items (:data:`LINE_ITEMS` order; NaN missing) of ``n`` statements: a 2-D
        array (a payload) or a tuple of a frame's columns (read-only views, no copy).
    days : ndarray of int64, shape (n,)
        Each statement's ``period_end`` as days since 1970-01-01.
    tier : ndarray of float64, shape (n,)
        Each statement's quality tier (``STATEMENT_QUALITY_TIER`` of its type).
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
    >>> items[LINE_ITEMS.index("current_assets")] = 50.0
    >>> items[LINE_ITEMS.index("current_liabilities")] = 25.0
    >>> links = np.array([[0], [-1], [-1], [1]])  # statement 0, no earlier one
    >>> f = statement_rows(items, np.array([20088]), np.array([1.0]), links, 20088)
    >>> float(f[FEATURE_NAMES.index("st_current_ratio"), 0])
    2.0
    """
    out: FloatArray = _kernel()(items, days, tier, links, t)
    return out
