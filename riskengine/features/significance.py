"""Significance of an adverse record: the amount above which a serious record knocks out.

Seed 003: a debtor is refused for records that are serious, recent and of significant
amount ("a bounced cheque of 1,000 is not serious"); DOMAIN.md §6: money thresholds
carry a currency. :func:`significance_thresholds` is the one rule, per record, that the
batch (:func:`riskengine.features.adverse.adverse_features`), the single path
(:mod:`riskengine.scoring.fastpath`), the policy's :func:`riskengine.policy.limits.adverse_knockout`
and the memo read: significant when the amount is strictly above the absolute threshold
(in the policy's ``knockouts.currency``, converted into the record's currency at the
rates in force) or above a share of the debtor's latest annual revenue (converted
likewise). Pure numpy: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from riskengine.contracts.schemas import ADVERSE_EVENT_TYPES, CURRENCIES
from riskengine.features.fx import with_missing

__all__ = ["knockout_mask", "significance_thresholds"]


def _thresholds(significant_amount: float | Mapping[str, float]) -> np.ndarray:
    """Threshold per currency code (position in CURRENCIES); NaN when not given."""
    if isinstance(significant_amount, Mapping):
        unknown = sorted(set(significant_amount) - set(CURRENCIES))
        if unknown:
            raise ValueError(f"significant_amount names unknown currencies {unknown}.")
        out = np.array([float(significant_amount.get(c, np.nan)) for c in CURRENCIES])
    else:
        out = np.full(len(CURRENCIES), float(significant_amount))
    if np.any(out[~np.isnan(out)] < 0):
        raise ValueError(f"significant_amount must be >= 0, got {significant_amount!r}.")
    return out


def knockout_mask(types: Sequence[str]) -> np.ndarray:
    """Bool over ``ADVERSE_EVENT_TYPES``: the types whose significant records knock out."""
    unknown = sorted(set(types) - set(ADVERSE_EVENT_TYPES))
    if unknown:
        raise ValueError(f"knockout types {unknown} are not adverse event types "
                         f"({', '.join(ADVERSE_EVENT_TYPES)}).")
    return np.isin(np.asarray(ADVERSE_EVENT_TYPES), np.asarray(list(types), dtype=object))


def significance_thresholds(
    etype: Any, cur: Any, debtor: Any, *, knockout: np.ndarray,
    absolute: float | Mapping[str, float], share: float = 0.0, revenue: Any = None,
    revenue_cur: Any = None, rates: np.ndarray | None = None, currency: str | None = None,
) -> np.ndarray:
    """Per record: the amount, in the record's currency, above which it knocks out.

    ``inf`` for a record whose type is not in ``knockout``; NaN where a rate is
    missing (the caller refuses it: ``missing_fx_rate``). The one rule of both paths
    (:func:`adverse_features`; :mod:`riskengine.scoring.fastpath`).

    Parameters
    ----------
    etype, cur : int64 arrays
        Positions in ``ADVERSE_EVENT_TYPES`` and ``CURRENCIES`` of each record.
    debtor : int64 array
        Each record's debtor, a position in ``revenue`` and ``revenue_cur``.
    knockout : bool array over ``ADVERSE_EVENT_TYPES``
        :func:`knockout_mask`.
    absolute : float or mapping of currency to float
        The absolute threshold: in ``currency`` when ``rates`` are given, else in
        the record's currency (a mapping: one per currency; NaN where absent).
    share : float, default 0
        Relative threshold: the share of the debtor's revenue (0: none).
    revenue, revenue_cur : arrays, optional
        Each debtor's latest annual revenue (NaN: unknown) and its currency position
        (-1: none; ``revenue_cur`` None: the revenue is in each record's currency).
    rates : array over ``CURRENCIES``, optional
        Units of the reporting currency per one unit (:meth:`riskengine.features.fx.FxRates.at`).
    currency : str, optional
        The currency of ``absolute`` (with ``rates``).

    Examples
    --------
    EUR 1,000 against a JPY record at 0.0058 EUR per JPY is JPY 172,413.79 (so a
    5,000 JPY cheque is far below it); 1 % of a revenue of EUR 50,000 is EUR 500.

    >>> from riskengine.features.fx import FxRates
    >>> rates = FxRates.from_rows([("2026-01-01", "JPY", 0.0058)], "EUR").at("2026-06-30")
    >>> thr = significance_thresholds(
    ...     [0, 0], [4, 0], [0, 0], knockout=knockout_mask(["bounced_cheque"]), absolute=1000.0,
    ...     share=0.01, revenue=[50_000.0], revenue_cur=[0], rates=rates, currency="EUR")
    >>> thr.round(2).tolist()
    [86206.9, 500.0]
    """
    e = np.asarray(etype, dtype=np.int64)
    c = np.asarray(cur, dtype=np.int64)
    g = np.asarray(debtor, dtype=np.int64)
    ext = None if rates is None else with_missing(rates)
    with np.errstate(invalid="ignore", divide="ignore"):  # a missing rate: NaN, quietly
        if ext is None:
            thr = _thresholds(absolute)[c]
        else:
            base = ext[CURRENCIES.index(currency)] if currency in CURRENCIES else np.nan
            thr = float(absolute) * base / ext[c]  # type: ignore[arg-type]
        if share > 0 and revenue is not None and g.size:
            rev = np.asarray(revenue, dtype=np.float64)[g]
            rc = c if revenue_cur is None else np.asarray(revenue_cur, dtype=np.int64)[g]
            if ext is None:
                rel = np.where(rc == c, share * rev, np.nan)
            else:
                rel = share * rev * ext[rc] / ext[c]
            rel = np.where(rev > 0, rel, np.nan)  # no revenue: the absolute test only
            thr = np.where(np.isnan(rel), thr, np.fmin(thr, rel))
    out: np.ndarray = np.where(knockout[e], thr, np.inf)
    return out
