"""Payment experience (invoices) -> payment-behaviour features, as of a date.

The input is the ``invoices`` table of :mod:`riskengine.contracts.schemas`: one row per
invoice a supplier issued to a debtor, with its due date, the date it was paid
(missing while open), credit notes and disputed amounts.

Point in time
-------------
An invoice exists from its ``issue_date``; one issued after ``as_of`` is
ignored. It is *paid* at ``as_of`` only if ``paid_date <= as_of``; an invoice
paid later is still open at ``as_of``. Credit notes and disputes carry no date
in the contract, so they are taken as known from the invoice's issue date (a
limitation of the data, not a choice).

Days beyond terms (DBT)
-----------------------
For an invoice paid at ``as_of``: ``paid_date - due_date``. For an invoice
still open and overdue at ``as_of``: ``as_of - due_date``, a lower bound (it is
*at least* that late; counting it avoids rewarding a debtor for not paying).
Open invoices not yet due say nothing about lateness and are left out.
Paying early is not "negative lateness": DBT is clipped at 0, as in the bureau
definition of days beyond terms. The DBT sample is the invoices paid within
the look-back ``(as_of - lookback_days, as_of]`` plus every invoice open and
overdue at ``as_of`` (whatever its issue date).

Balances and cross-aging (DOMAIN.md §4)
---------------------------------------
Balances are gross invoice amounts of the invoices open at ``as_of``. An
invoice is *over 90 days* when ``as_of - issue_date > 90`` (eligibility counts
from the invoice date). ``pay_cross_aging`` is 1 when more than 10% of the
debtor's open balance is over 90 days: the whole balance is then ineligible.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts.schemas import CURRENCIES
from riskengine.features.adverse import (
    _NAT,
    RecordTableTransformer,
    _as_day,
    _day_numbers,
    _mixed_per_group,
    _require_columns,
    _Rows,
    _table,
)

__all__ = [
    "PAYMENT_FEATURES",
    "FILL_VALUES",
    "PaymentFeatures",
    "feature_directions",
    "payment_features",
]

_COLUMNS = ("invoice_id", "supplier_id", "debtor_id", "amount", "currency", "issue_date",
            "due_date", "paid_date", "credit_note_amount", "disputed_amount")  # fmt: skip
#: Lateness thresholds, in days beyond terms, of the ``pay_share_late_*`` features.
LATE_DAYS: tuple[int, ...] = (30, 60, 90)
#: Age from invoice date after which a receivable is ineligible (DOMAIN.md §4).
AGED_DAYS = 90
#: Share of the open balance over 90 days above which cross-aging applies.
CROSS_AGING_SHARE = 0.10

#: Output columns, in order.
PAYMENT_FEATURES: tuple[str, ...] = (
    "pay_n_invoices",
    "pay_n_observed",
    "pay_dbt_mean",
    "pay_dbt_wmean",
    "pay_dbt_p90",
    *(f"pay_share_late_{d}" for d in LATE_DAYS),
    "pay_dilution",
    "pay_dbt_trend",
    "pay_open_balance",
    "pay_overdue_balance",
    "pay_balance_over_90",
    "pay_overdue_share",
    "pay_share_over_90",
    "pay_cross_aging",
    "pay_mixed_currency",
)

_ZERO_FILL = {"pay_n_invoices", "pay_n_observed", "pay_open_balance", "pay_overdue_balance",
              "pay_balance_over_90", "pay_cross_aging", "pay_mixed_currency"}  # fmt: skip
#: Value of each feature for a debtor without invoices: 0 for counts, balances
#: and flags; NaN for DBT statistics, shares, dilution and trend (no payment
#: experience is not the same as paying on time).
FILL_VALUES: dict[str, float] = {
    name: (0.0 if name in _ZERO_FILL else np.nan) for name in PAYMENT_FEATURES
}
_MONEY = ("pay_dbt_wmean", "pay_dilution", "pay_open_balance", "pay_overdue_balance",
          "pay_balance_over_90", "pay_overdue_share", "pay_share_over_90", "pay_cross_aging")  # fmt: skip


def feature_directions() -> dict[str, int]:
    """Expected sign of each feature's effect on the PD.

    Returns
    -------
    dict of str to int
        ``+1`` raises the PD, ``-1`` lowers it, ``0`` no expected effect
        (volumes, the open balance, the mixed-currency marker).
    """
    out = {name: 1 for name in PAYMENT_FEATURES}
    out.update(pay_n_invoices=0, pay_n_observed=0, pay_open_balance=0, pay_mixed_currency=0)
    return out


def _group_quantile(codes: np.ndarray, values: np.ndarray, n: int, q: float) -> np.ndarray:
    """Per-group ``q``-quantile of non-negative integers (linear interpolation).

    Only the positive values are sorted (by group, then value): in a group of
    ``m`` values with ``z`` zeros, the ``k``-th smallest is 0 for ``k < z`` and
    the ``(k - z)``-th smallest positive value otherwise. Same result as
    :func:`numpy.quantile` (method ``linear``) per group; NaN for empty groups.
    """
    if len(codes) and bool((codes[1:] >= codes[:-1]).all()):  # groups in runs
        out: np.ndarray = _quantile_kernel()(codes.astype(np.int64, copy=False),
                                             values.astype(np.int64, copy=False), n, q)
        return out
    m = np.bincount(codes, minlength=n)
    pos = values > 0
    cp, vp = codes[pos], values[pos]
    m_pos = np.bincount(cp, minlength=n)
    width = int(vp.max()) + 1 if len(vp) else 1
    # int32 keys sort about twice as fast; use them when (group, value) fits.
    dtype: type[np.signedinteger[Any]] = (
        np.int32 if n * width < np.iinfo(np.int32).max else np.int64
    )
    key = np.sort(cp.astype(dtype) * np.asarray(width, dtype=dtype) + vp.astype(dtype))
    vals = (key % width).astype(np.float64) if len(key) else np.zeros(1)
    start = np.cumsum(m_pos) - m_pos
    zeros = m - m_pos
    h = q * np.maximum(m - 1, 0)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(m - 1, 0))

    def kth(k: np.ndarray) -> np.ndarray:
        at = np.clip(start + k - zeros, 0, len(vals) - 1)
        return np.where(k < zeros, 0.0, vals[at])

    v_lo = kth(lo)
    out = v_lo + (h - lo) * (kth(hi) - v_lo)
    return np.where(m > 0, out, np.nan)


def _run_quantiles(codes: Any, values: Any, n: int, q: float) -> Any:  # pragma: no cover - compiled
    """:func:`_group_quantile` of groups in runs (``codes`` non-decreasing): each run's
    values sorted (by insertion when a run is short: a debtor's few invoices), then the
    same interpolation in the same float operations."""
    out = np.full(n, np.nan)
    vals = np.empty_like(values)
    start = 0
    while start < codes.shape[0]:
        end = start + 1
        while end < codes.shape[0] and codes[end] == codes[start]:
            end += 1
        if end - start > 32:
            vals[: end - start] = np.sort(values[start:end])
        else:  # insertion
            for i in range(start, end):
                v = values[i]
                k = i - start
                while k > 0 and vals[k - 1] > v:
                    vals[k] = vals[k - 1]
                    k -= 1
                vals[k] = v
        m1 = end - start - 1
        h = q * m1
        lo = int(np.floor(h))
        hi = min(lo + 1, m1)
        v_lo = float(vals[lo])
        out[codes[start]] = v_lo + (h - lo) * (float(vals[hi]) - v_lo)
        start = end
    return out


@functools.cache
def _quantile_kernel() -> Any:
    """:func:`_run_quantiles` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_run_quantiles)


# rows of the per-debtor sums of :func:`_payment_sums`
(_S_N_ISSUED, _S_INVOICED, _S_DILUTED, _S_N_OBS, _S_DBT, _S_DBT_AMOUNT, _S_SAMPLE_AMOUNT,
 _S_RECENT_DBT, _S_RECENT_N, _S_EARLIER_DBT, _S_EARLIER_N, _S_OPEN, _S_OVERDUE, _S_AGED,
 _S_LATE) = range(15)  # fmt: skip


def _payment_sums(code: Any, n: int, issued: Any, sample: Any, recent: Any, open_: Any,
                  overdue: Any, aged: Any, dbt: Any, amount: Any, diluted: Any, late: Any
                  ) -> Any:  # pragma: no cover - compiled
    """Every per-debtor sum of :func:`payment_features` in one pass over the invoices.

    Row ``_S_*`` of the result (``(_S_LATE + len(late), n)`` floats, the transpose of
    a debtor-major table so that a row's sums share a cache line) is the sum over a
    debtor's invoices (``code``) of: invoices issued in the window, their amounts and
    diluted amounts; invoices in the DBT sample, their DBT, DBT times amount and
    amounts; DBT and count of the sample observed recently and earlier; the open,
    overdue and aged open amounts; and the sample's invoices later than each of
    ``late`` days. Each sum adds its rows in row order, as ``numpy.bincount`` with
    those weights does (a row outside a sum adds nothing where bincount adds a
    zero weight: the same double, as no sum is ever -0.0), so the features are
    bit for bit those of one bincount per sum.
    """
    out = np.zeros((n, _S_LATE + late.shape[0]))
    for i in range(code.shape[0]):
        g = code[i]
        a = amount[i]
        if issued[i]:
            out[g, _S_N_ISSUED] += 1.0
            out[g, _S_INVOICED] += a
            out[g, _S_DILUTED] += diluted[i]
        if sample[i]:
            d = dbt[i]
            df = float(d)
            out[g, _S_N_OBS] += 1.0
            out[g, _S_DBT] += df
            out[g, _S_DBT_AMOUNT] += df * a
            out[g, _S_SAMPLE_AMOUNT] += a
            if recent[i]:
                out[g, _S_RECENT_DBT] += df
                out[g, _S_RECENT_N] += 1.0
            else:
                out[g, _S_EARLIER_DBT] += df
                out[g, _S_EARLIER_N] += 1.0
            for j in range(late.shape[0]):
                if d > late[j]:
                    out[g, _S_LATE + j] += 1.0
        if open_[i]:
            out[g, _S_OPEN] += a
            if overdue[i]:
                out[g, _S_OVERDUE] += a
            if aged[i]:
                out[g, _S_AGED] += a
    return out.T


@functools.cache
def _sums_kernel() -> Any:
    """:func:`_payment_sums` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_payment_sums)


def warm_up() -> None:
    """Compile (or load from the disk cache) the payment kernel now (the batch job
    does it before forking its workers)."""
    z = np.zeros(1, dtype=np.int64)
    b = np.zeros(1, dtype=bool)
    f = np.zeros(1)
    _sums_kernel()(z, 1, b, b, b, b, b, b, z, f, f, z)
    _quantile_kernel()(z, z, 1, 0.9)


def payment_features(
    invoices: pd.DataFrame,
    as_of: Any,
    *,
    lookback_days: int = 365,
    trend_recent_days: int = 90,
) -> pd.DataFrame:
    """Payment-behaviour features of each debtor, as of a date.

    Parameters
    ----------
    invoices : pandas.DataFrame
        The ``invoices`` table (columns of :data:`riskengine.contracts.schemas.INVOICES`).
        Not modified. A ``category`` ``debtor_id`` skips string hashing.
    as_of : date-like
        The date of the assessment; invoices issued after it are ignored and
        payments after it are not yet made.
    lookback_days : int, default 365
        Window of payment experience for DBT statistics, shares late,
        dilution, the trend and the invoice count.
    trend_recent_days : int, default 90
        The trend compares the last ``trend_recent_days`` of the window with
        the rest of it.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``debtor_id`` (sorted), one row per debtor with an invoice
        issued in the window, paid in the window or open at ``as_of``; columns
        :data:`PAYMENT_FEATURES` (float). Reindex with :data:`FILL_VALUES`.

    Raises
    ------
    InvalidInputError
        Missing columns, undated invoices, a due date before the issue date,
        unknown currency, negative or missing amounts.

    Notes
    -----
    - DBT, its sample and the balances: see the module docstring.
    - ``pay_dbt_mean``, ``pay_dbt_wmean`` (weighted by invoice amount) and
      ``pay_dbt_p90`` (linear interpolation) over the DBT sample; NaN when it
      is empty. ``pay_share_late_{30,60,90}``: share of the sample with DBT
      strictly above 30/60/90 days.
    - ``pay_dilution`` = (credit notes + disputed) / invoiced amount, over the
      invoices issued in the window; NaN when nothing was invoiced.
    - ``pay_dbt_trend`` = mean DBT of the sample observed (paid, or ``as_of``
      for open invoices) in the last ``trend_recent_days`` minus that of the
      earlier part of the window; positive = paying later. NaN when either
      part is empty.
    - ``pay_overdue_share`` and ``pay_share_over_90`` are shares of the open
      balance (NaN when it is 0); ``pay_cross_aging`` is 0 without an open
      balance.
    - Money features (``pay_dbt_wmean``, dilution, balances, their shares and
      cross-aging) are NaN for a debtor whose invoices are in more than one
      currency (``pay_mixed_currency = 1``): amounts in different currencies do
      not add. Ratios are invariant to the currency unit.

    Examples
    --------
    >>> import pandas as pd
    >>> inv = pd.DataFrame({
    ...     "invoice_id": ["i1", "i2"], "supplier_id": ["S1", "S1"],
    ...     "debtor_id": ["D1", "D1"], "amount": [100.0, 300.0],
    ...     "currency": ["EUR", "EUR"],
    ...     "issue_date": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...     "due_date": pd.to_datetime(["2024-03-01", "2024-04-01"]),
    ...     "paid_date": pd.to_datetime(["2024-03-21", None]),
    ...     "credit_note_amount": [0.0, 0.0], "disputed_amount": [0.0, 0.0]})
    >>> f = payment_features(inv, "2024-06-30")
    >>> f.loc["D1", ["pay_dbt_mean", "pay_cross_aging"]].tolist()
    [55.0, 1.0]
    """
    if not lookback_days > 0 or not 0 < trend_recent_days < lookback_days:
        raise ValueError("need lookback_days > 0 and 0 < trend_recent_days < lookback_days, got "
                         f"{lookback_days!r} and {trend_recent_days!r}.")  # fmt: skip
    table = "invoices"
    _require_columns(invoices, _COLUMNS, table)
    day = _as_day(as_of)
    issue_all = _day_numbers(invoices, "issue_date", table)
    if (issue_all == _NAT).any():
        i = int(np.flatnonzero(issue_all == _NAT)[0])
        raise _Rows(invoices, np.arange(len(invoices)), table, "invoice_id").error(
            i, "issue_date", None, "missing_value", "no issue_date; every invoice is dated.")
    paid_all = _day_numbers(invoices, "paid_date", table)
    start = day - lookback_days
    known = issue_all <= day
    paid_all_ok = (paid_all != _NAT) & (paid_all <= day)
    relevant = known & ((issue_all > start) | ~paid_all_ok | (paid_all > start))
    keep = np.flatnonzero(relevant)
    rows = _Rows(invoices, keep, table, "invoice_id")
    issue, paid_d, paid = issue_all[keep], paid_all[keep], paid_all_ok[keep]
    del issue_all, paid_all, paid_all_ok, known, relevant  # full-length: free them early
    due = rows.days("due_date")
    bad_due = (due == _NAT) | (due < issue)
    if bad_due.any():
        i = int(np.flatnonzero(bad_due)[0])
        v = invoices["due_date"].iloc[int(keep[i])]
        raise rows.error(i, "due_date", v, "date_order", f"due_date {v!r} is missing or before "
                         "issue_date; correct the invoice terms.")  # fmt: skip
    amount = rows.numbers("amount")
    diluted = rows.numbers("credit_note_amount") + rows.numbers("disputed_amount")
    cur = rows.vocab("currency", CURRENCIES)
    code, index = rows.ids()
    n = len(index)

    open_ = ~paid
    overdue = open_ & (due < day)
    obs = np.where(paid, paid_d, day)
    sample = (paid & (paid_d > start)) | overdue
    dbt = np.maximum(obs - due, 0)
    issued = issue > start
    recent = sample & (obs > day - trend_recent_days)
    aged = open_ & (day - issue > AGED_DAYS)
    sums = _sums_kernel()(code.astype(np.int64, copy=False), n, issued, sample, recent, open_,
                          overdue, aged, dbt.astype(np.int64, copy=False), amount, diluted,
                          np.asarray(LATE_DAYS, dtype=np.int64))

    with np.errstate(divide="ignore", invalid="ignore"):
        n_obs = sums[_S_N_OBS]
        feats: dict[str, np.ndarray] = {
            "pay_n_invoices": sums[_S_N_ISSUED],
            "pay_n_observed": n_obs,
            "pay_dbt_mean": sums[_S_DBT] / n_obs,
            "pay_dbt_wmean": sums[_S_DBT_AMOUNT] / sums[_S_SAMPLE_AMOUNT],
            "pay_dbt_p90": _group_quantile(code[sample], dbt[sample], n, 0.9),
        }
        for j, d in enumerate(LATE_DAYS):
            feats[f"pay_share_late_{d}"] = sums[_S_LATE + j] / n_obs
        invoiced = sums[_S_INVOICED]
        feats["pay_dilution"] = np.where(invoiced > 0, sums[_S_DILUTED] / invoiced, np.nan)
        feats["pay_dbt_trend"] = (sums[_S_RECENT_DBT] / sums[_S_RECENT_N]) - (
            sums[_S_EARLIER_DBT] / sums[_S_EARLIER_N]
        )
        bal = sums[_S_OPEN]
        feats["pay_open_balance"] = bal
        feats["pay_overdue_balance"] = sums[_S_OVERDUE]
        feats["pay_balance_over_90"] = sums[_S_AGED]
        feats["pay_overdue_share"] = np.where(bal > 0, feats["pay_overdue_balance"] / bal, np.nan)
        share90 = np.where(bal > 0, feats["pay_balance_over_90"] / bal, np.nan)
        feats["pay_share_over_90"] = share90
        feats["pay_cross_aging"] = (share90 > CROSS_AGING_SHARE).astype(np.float64)
    mixed = _mixed_per_group(code, cur, n)
    feats["pay_mixed_currency"] = mixed.astype(np.float64)
    out = np.empty((len(PAYMENT_FEATURES), n), dtype=np.float64)
    for j, name in enumerate(PAYMENT_FEATURES):
        out[j] = feats[name]
        if name in _MONEY:
            out[j, mixed] = np.nan
    return pd.DataFrame(out.T, index=index, columns=list(PAYMENT_FEATURES), copy=False)


class PaymentFeatures(RecordTableTransformer):
    """scikit-learn transformer around :func:`payment_features`.

    Stateless: ``fit`` learns nothing and returns ``self``; ``transform``
    takes the ``invoices`` frame (or a portfolio mapping holding it) and
    returns one row per debtor.

    Parameters
    ----------
    as_of : date-like
        Assessment date (required at transform time; no clock is read).
    lookback_days, trend_recent_days
        As in :func:`payment_features`.
    """

    feature_names = PAYMENT_FEATURES

    def __init__(self, as_of: Any = None, *, lookback_days: int = 365,
                 trend_recent_days: int = 90) -> None:  # fmt: skip
        self.as_of = as_of
        self.lookback_days = lookback_days
        self.trend_recent_days = trend_recent_days

    def transform(self, X: Any) -> pd.DataFrame:
        """Compute the features (see :func:`payment_features`)."""
        return payment_features(_table(X, "invoices"), self.as_of,
                                lookback_days=self.lookback_days,
                                trend_recent_days=self.trend_recent_days)  # fmt: skip

