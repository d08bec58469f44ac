"""Portfolio figures for a book of limit decisions, and seed 004's receivables arithmetic.

- Totals: limits, cover, retained exposure, expected loss with and without
  insurance (see :mod:`riskengine.policy.cover`).
- Concentration: HHI = sum of squared shares, by name, group, sector and
  country (DOMAIN.md §4), and the top-20 concentrations.
- Seed 004: the doubtful-debt reserve (sum over groups of receivables x
  doubtfulness coefficient), the net realisable value of receivables, the
  average collection period and the capital tied up in receivables
  (credit sales x cost/price x (credit days + delay days) / 360).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskengine.errors import InvalidInputError
from riskengine.policy.credit_policy import CreditPolicy

__all__ = [
    "hhi",
    "top_concentrations",
    "doubtful_debt_reserve",
    "net_realisable_value",
    "average_collection_period",
    "capital_tied_in_receivables",
    "PortfolioFigures",
    "portfolio_figures",
]


def _totals_by_key(keys: Any, amounts: Any) -> pd.Series:
    s = pd.Series(np.asarray(amounts, dtype=np.float64), index=pd.Index(np.asarray(keys)))
    if (s < 0).any() or s.isna().any():
        raise InvalidInputError(
            "concentration: amounts must be non-negative numbers; found "
            f"{s[(s < 0) | s.isna()].iloc[:1].to_dict()}. Correct the book.", [])
    return s.groupby(level=0, sort=False).sum()


def hhi(keys: Any, amounts: Any) -> float:
    """Herfindahl-Hirschman index of the amounts aggregated by key.

    ``HHI = sum_k (amount_k / total)^2``, from ``1 / (number of keys)`` (even)
    to 1 (a single key). An empty or all-zero book has HHI 0.

    Examples
    --------
    >>> hhi(["a", "b", "a", "c"], [30, 20, 20, 30])
    0.38
    """
    totals = _totals_by_key(keys, amounts)
    total = float(totals.sum())
    if total <= 0:
        return 0.0
    return round(float(((totals / total) ** 2).sum()), 12)


def top_concentrations(keys: Any, amounts: Any, n: int = 20) -> pd.DataFrame:
    """The ``n`` largest keys by amount, with share and cumulative share.

    Examples
    --------
    >>> top_concentrations(["a", "b", "a", "c"], [30, 20, 20, 30], n=2)
      key  amount  share  cumulative_share
    0   a    50.0    0.5               0.5
    1   c    30.0    0.3               0.8
    """
    totals = _totals_by_key(keys, amounts)
    total = float(totals.sum())
    top = totals.sort_values(ascending=False, kind="stable").iloc[:n]
    share = top / total if total > 0 else top * 0.0
    return pd.DataFrame({
        "key": top.index.astype(str), "amount": top.to_numpy(),
        "share": share.to_numpy(), "cumulative_share": share.cumsum().to_numpy(),
    })


def doubtful_debt_reserve(receivables: Any, coefficients: Any) -> float:
    """Doubtful-debt reserve = sum over groups of receivables x doubtfulness coefficient.

    Seed 004: the reserve is the sum of products of each group's current
    receivables (e.g. by age band) and the coefficient of doubtful repayment
    of that group.

    Parameters
    ----------
    receivables : array-like
        Receivables per group, money.
    coefficients : array-like
        Doubtfulness coefficient per group, fractions in [0, 1].

    Examples
    --------
    >>> doubtful_debt_reserve([1_000, 500, 200], [0.02, 0.10, 0.50])
    170.0
    """
    r = np.asarray(receivables, dtype=np.float64)
    c = np.asarray(coefficients, dtype=np.float64)
    if r.shape != c.shape:
        raise InvalidInputError(
            f"doubtful_debt_reserve: {r.size} receivable groups but {c.size} coefficients; "
            "give one coefficient per group.", [])
    if ((c < 0) | (c > 1) | np.isnan(c)).any():
        raise InvalidInputError(
            f"doubtful_debt_reserve: coefficients must be fractions in [0, 1], got {c.tolist()}.",
            [])
    return float((r * c).sum())


def net_realisable_value(receivables: Any, coefficients: Any) -> float:
    """Net realisable value = receivables - doubtful-debt reserve (seed 004).

    Examples
    --------
    >>> net_realisable_value([1_000, 500, 200], [0.02, 0.10, 0.50])
    1530.0
    """
    return float(np.asarray(receivables, dtype=np.float64).sum()) - doubtful_debt_reserve(
        receivables, coefficients)


def average_collection_period(average_receivables: float, sales: float,
                              days: int = 360) -> float:
    """Average collection period in days = average receivables / one day's sales (seed 004).

    Examples
    --------
    >>> average_collection_period(400, 3_600)
    40.0
    """
    if sales <= 0:
        raise InvalidInputError(
            f"average_collection_period: sales is {sales!r}; the period is undefined "
            "without positive sales over the period.", [])
    return float(average_receivables) / (float(sales) / days)


def capital_tied_in_receivables(
    credit_sales: float, cost_price_ratio: float, credit_days: float, delay_days: float,
    days_basis: int = 360,
) -> float:
    """Capital tied up in receivables (seed 004).

    ``credit sales x cost/price ratio x (average credit days + average delay days) / days_basis``.

    Examples
    --------
    Seed 004: credit sales 3,200 (thousand units), cost 75 % of price,
    40 credit days, 20 days of delay: 3,200 x 0.75 x 60 / 360 = 400.

    >>> capital_tied_in_receivables(3_200, 0.75, 40, 20)
    400.0
    """
    return float(credit_sales) * float(cost_price_ratio) * (
        float(credit_days) + float(delay_days)) / days_basis


@dataclass(frozen=True, slots=True)
class PortfolioFigures:
    """Figures for a book of decisions (money in the book's currency).

    Attributes
    ----------
    n_debtors, total_limit, total_exposure, total_insured, total_retained : float
    expected_loss_uninsured, expected_loss_insured : float
        Sum of ``PD x LGD x exposure`` and of ``PD x LGD x retained``; NaN
        when the book has no ``pd`` column (the figure is not available).
    hhi : dict of str to float
        HHI of the exposure by ``name``, ``group``, ``sector``, ``country``
        (only the dimensions whose column is in the book).
    top : dict of str to DataFrame
        Top-20 concentrations by the same dimensions.
    """

    n_debtors: int
    total_limit: float
    total_exposure: float
    total_insured: float
    total_retained: float
    expected_loss_uninsured: float
    expected_loss_insured: float
    hhi: Mapping[str, float] = field(default_factory=dict)
    top: Mapping[str, pd.DataFrame] = field(default_factory=dict)


_DIMENSIONS = {"name": "debtor_id", "group": "group_id", "sector": "sector",
               "country": "country"}


def portfolio_figures(book: pd.DataFrame, policy: CreditPolicy, n_top: int = 20
                      ) -> PortfolioFigures:
    """Totals, expected loss and concentration of a book of limit decisions.

    Parameters
    ----------
    book : DataFrame
        One row per supplier-debtor pair: ``debtor_id`` and ``limit``
        (required); optional ``exposure`` (default the limit), ``insured``
        (default 0), ``retained`` (default computed with ``cover.indemnity``),
        ``pd``, ``group_id`` (missing: the debtor is its own group),
        ``sector``, ``country``; ``fx_rate`` (units of the reporting currency per unit
        of the pair's: the decisions' column): every amount is converted by it before
        any sum. Without it the amounts are taken as given, in one currency (a caller
        that converted them, as notebook 02 does with ``approved_limit_base``).
    policy : CreditPolicy
        ``cover.lgd`` and ``cover.indemnity``.
    n_top : int, default 20

    Returns
    -------
    PortfolioFigures

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> book = pd.DataFrame({"debtor_id": ["a", "b"], "limit": [30_000.0, 10_000.0],
    ...                      "insured": [30_000.0, 0.0], "pd": [0.01, 0.05]})
    >>> f = portfolio_figures(book, load_policy())
    >>> f.total_retained, round(f.expected_loss_uninsured, 2), round(f.expected_loss_insured, 2)
    (13000.0, 320.0, 212.0)
    >>> round(f.hhi["name"], 4)
    0.625
    """
    missing = [c for c in ("debtor_id", "limit") if c not in book.columns]
    if missing:
        raise InvalidInputError(f"portfolio book: column {missing[0]!r} is missing; a book "
                                "needs debtor_id and limit.", [])
    limit = book["limit"].to_numpy(dtype=np.float64)
    exposure = book["exposure"].to_numpy(dtype=np.float64) if "exposure" in book else limit
    insured = book["insured"].to_numpy(dtype=np.float64) if "insured" in book else (
        np.zeros(len(book)))
    if "retained" in book:
        retained = book["retained"].to_numpy(dtype=np.float64)
    else:
        covered = np.minimum(exposure, insured)
        retained = exposure - covered + (1.0 - policy.cover.indemnity) * covered
    if "fx_rate" in book:  # every amount into the reporting currency before any sum
        fx = book["fx_rate"].to_numpy(dtype=np.float64)
        if not (np.isfinite(fx) & (fx > 0)).all():
            raise InvalidInputError("portfolio book: fx_rate must be a finite number > 0 on "
                                    "every row (units of the reporting currency per unit).",
                                    [])
        limit, exposure, insured, retained = (limit * fx, exposure * fx, insured * fx,
                                              retained * fx)
    lgd = policy.cover.lgd
    if "pd" in book:
        p = book["pd"].to_numpy(dtype=np.float64)
        el_un, el_in = float((p * lgd * exposure).sum()), float((p * lgd * retained).sum())
    else:
        el_un = el_in = float("nan")
    hhis: dict[str, float] = {}
    tops: dict[str, pd.DataFrame] = {}
    for dim, col in _DIMENSIONS.items():
        if col not in book:
            continue
        keys = book[col]
        if dim == "group":
            keys = keys.fillna(book["debtor_id"])
        keys_arr = keys.astype(str).to_numpy()
        hhis[dim] = hhi(keys_arr, exposure)
        tops[dim] = top_concentrations(keys_arr, exposure, n_top)
    return PortfolioFigures(
        int(book["debtor_id"].nunique()), float(limit.sum()), float(exposure.sum()),
        float(insured.sum()), float(retained.sum()), el_un, el_in, hhis, tops,
    )
