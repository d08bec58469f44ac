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
    _require_columns,
    _Rows,
    _table,
)

__all__ = [
    "PAYMENT_FEATURES",
    "FILL_VALUES",
    "PaymentFeatures",
    "payment_arrays",
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


_J = {name: j for j, name in enumerate(PAYMENT_FEATURES)}
_N_FEATURES = len(PAYMENT_FEATURES)
_J_LATE = np.array([_J[f"pay_share_late_{d}"] for d in LATE_DAYS], dtype=np.int64)
_J_MONEY = np.array([_J[name] for name in _MONEY], dtype=np.int64)
_FILL = np.array([FILL_VALUES[name] for name in PAYMENT_FEATURES])
(_J_N_INVOICES, _J_N_OBSERVED, _J_DBT_MEAN, _J_DBT_WMEAN, _J_DBT_P90) = range(5)
(_J_DILUTION, _J_DBT_TREND, _J_OPEN_BALANCE, _J_OVERDUE_BALANCE, _J_BALANCE_OVER_90,
 _J_OVERDUE_SHARE, _J_SHARE_OVER_90, _J_CROSS_AGING, _J_MIXED) = (
    _J[name] for name in PAYMENT_FEATURES[5 + len(LATE_DAYS):])
#: Defaults of :func:`payment_features` (the single-debtor path uses them too).
LOOKBACK_DAYS = 365
TREND_RECENT_DAYS = 90


def payment_arrays(offsets: Any, day: int, issue: Any, due: Any, paid: Any, amount: Any,
                   diluted: Any, cur: Any, lookback_days: int = LOOKBACK_DAYS,
                   trend_recent_days: int = TREND_RECENT_DAYS, rates: Any = None) -> Any:
    """:data:`PAYMENT_FEATURES` of debtors from their invoices' arrays, sorted by debtor.

    The computation of :func:`payment_features` (which checks and extracts the arrays
    of a table) and of the single-debtor path (which builds one debtor's arrays from
    its payload), in one compiled pass over each debtor's run of invoices.

    Parameters
    ----------
    offsets : int64 array of length n + 1
        Debtor ``g``'s invoices are rows ``offsets[g]:offsets[g + 1]``, in row order.
    day : int
        ``as_of`` as a day number (days since 1970-01-01).
    issue, due, paid : int64 arrays
        Issue, due and paid day numbers (paid: int64 minimum while unpaid).
    amount, diluted : float64 arrays
        Gross amount and credit notes plus disputed amount, in the invoice's currency.
    cur : int64 array
        Position of the currency in ``CURRENCIES``.
    lookback_days, trend_recent_days : int
        As in :func:`payment_features`. Invoices outside the window (issued after
        ``day``, or issued and paid before it) are skipped.
    rates : numpy.ndarray, optional
        The rates in force on ``day`` (:meth:`riskengine.features.fx.FxRates.at`). With
        them, a debtor whose invoices are in several currencies (``pay_mixed_currency``
        1) has its money features from its invoices converted into the reporting
        currency (a second pass over those debtors only; a missing rate leaves them
        NaN); without, they are NaN (amounts in different currencies do not add).

    Returns
    -------
    ndarray of shape (len(PAYMENT_FEATURES), n)
        One row per feature; a debtor without an invoice in the window has
        :data:`FILL_VALUES`.
    """
    out: Any = _kernel()(offsets, day, issue, due, paid, amount, diluted, cur, lookback_days,
                         trend_recent_days)
    mixed = np.flatnonzero(out[_J["pay_mixed_currency"]] == 1.0)
    if rates is None or not mixed.size:
        return out
    # the mixed debtors again, every amount in the reporting currency (one currency)
    offsets = np.asarray(offsets, dtype=np.int64)
    lens = offsets[mixed + 1] - offsets[mixed]
    rows = np.repeat(offsets[mixed] - np.cumsum(np.append(0, lens[:-1])), lens) \
        + np.arange(int(lens.sum()), dtype=np.int64)
    rate = np.append(np.asarray(rates, dtype=np.float64), np.nan)[np.asarray(cur)[rows]]
    sub_off = np.append(0, np.cumsum(lens)).astype(np.int64)
    again = _kernel()(sub_off, day, np.asarray(issue)[rows], np.asarray(due)[rows],
                      np.asarray(paid)[rows], np.asarray(amount)[rows] * rate,
                      np.asarray(diluted)[rows] * rate, np.zeros(rows.size, dtype=np.int64),
                      lookback_days, trend_recent_days)
    out[np.ix_(_J_MONEY, mixed)] = again[_J_MONEY]
    return out


def _payment_pass(offsets: Any, day: int, issue: Any, due: Any, paid: Any, amount: Any,
                  diluted: Any, cur: Any, lookback_days: int, trend_recent_days: int
                  ) -> Any:  # pragma: no cover - compiled
    """The kernel of :func:`payment_arrays`: every sum adds its invoices in row order
    from 0.0; quotients are IEEE (0/0 NaN) except where the features say NaN; the p90
    is ``numpy.quantile`` (linear) of the run's DBT sample, sorted by insertion when
    short (a debtor's few invoices)."""
    n = offsets.shape[0] - 1
    out = np.empty((_N_FEATURES, n))
    dbts = np.empty(issue.shape[0], dtype=np.int64)
    start = day - lookback_days
    late = np.array(LATE_DAYS)
    n_late = np.zeros(late.shape[0])
    for g in range(n):
        kept = k = 0
        n_inv = invoiced = dil = n_obs = s_dbt = s_dbt_amt = s_amt = 0.0
        r_dbt = r_n = e_dbt = e_n = bal = over = aged = 0.0
        n_late[:] = 0.0
        lo, hi = np.iinfo(np.int64).max, -1
        for i in range(offsets[g], offsets[g + 1]):
            iss, paid_d = issue[i], paid[i]
            paid_ok = paid_d != _NAT and paid_d <= day
            if iss > day or not (iss > start or not paid_ok or paid_d > start):
                continue
            kept += 1
            a = amount[i]
            overdue = not paid_ok and due[i] < day
            obs = paid_d if paid_ok else day
            if iss > start:
                n_inv += 1.0
                invoiced += a
                dil += diluted[i]
            if (paid_ok and paid_d > start) or overdue:
                dbt = max(obs - due[i], 0)
                df = float(dbt)
                n_obs += 1.0
                s_dbt += df
                s_dbt_amt += df * a
                s_amt += a
                if obs > day - trend_recent_days:
                    r_dbt += df
                    r_n += 1.0
                else:
                    e_dbt += df
                    e_n += 1.0
                for j in range(late.shape[0]):
                    if dbt > late[j]:
                        n_late[j] += 1.0
                dbts[k] = dbt
                k += 1
            if not paid_ok:
                bal += a
                if overdue:
                    over += a
                if day - iss > AGED_DAYS:
                    aged += a
            lo, hi = min(lo, cur[i]), max(hi, cur[i])
        if kept == 0:
            out[:, g] = _FILL
            continue
        out[_J_N_INVOICES, g] = n_inv
        out[_J_N_OBSERVED, g] = n_obs
        out[_J_DBT_MEAN, g] = s_dbt / n_obs
        out[_J_DBT_WMEAN, g] = s_dbt_amt / s_amt
        out[_J_DBT_P90, g] = np.nan
        if k > 32:
            dbts[:k] = np.sort(dbts[:k])
        else:
            for i in range(1, k):
                v, j = dbts[i], i
                while j > 0 and dbts[j - 1] > v:
                    dbts[j] = dbts[j - 1]
                    j -= 1
                dbts[j] = v
        if k > 0:
            h = 0.9 * (k - 1)
            lo_q = int(np.floor(h))
            v_lo = float(dbts[lo_q])
            out[_J_DBT_P90, g] = v_lo + (h - lo_q) * (float(dbts[min(lo_q + 1, k - 1)]) - v_lo)
        for j in range(late.shape[0]):
            out[_J_LATE[j], g] = n_late[j] / n_obs
        out[_J_DILUTION, g] = dil / invoiced if invoiced > 0 else np.nan
        out[_J_DBT_TREND, g] = r_dbt / r_n - e_dbt / e_n
        out[_J_OPEN_BALANCE, g] = bal
        out[_J_OVERDUE_BALANCE, g] = over
        out[_J_BALANCE_OVER_90, g] = aged
        out[_J_OVERDUE_SHARE, g] = over / bal if bal > 0 else np.nan
        share90 = aged / bal if bal > 0 else np.nan
        out[_J_SHARE_OVER_90, g] = share90
        out[_J_CROSS_AGING, g] = 1.0 if share90 > CROSS_AGING_SHARE else 0.0
        out[_J_MIXED, g] = 1.0 if hi > lo else 0.0
        if hi > lo:
            for j in _J_MONEY:
                out[j, g] = np.nan
    return out


@functools.cache
def _kernel() -> Any:
    """:func:`_payment_pass` compiled (numba, cached on disk beside this module), with
    numpy's division semantics (0/0 NaN, no exception)."""
    from numba import njit

    return njit(cache=True, nogil=True, error_model="numpy")(_payment_pass)


def warm_up() -> None:
    """Compile (or load from the disk cache) the payment kernel now (the batch job
    does it before forking its workers)."""
    z = np.zeros(1, dtype=np.int64)
    f = np.zeros(1)
    payment_arrays(np.zeros(2, dtype=np.int64), 0, z, z, z, f, f, z)


def payment_features(
    invoices: pd.DataFrame,
    as_of: Any,
    *,
    lookback_days: int = LOOKBACK_DAYS,
    trend_recent_days: int = TREND_RECENT_DAYS,
    rates: Any = None,
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
    rates : numpy.ndarray, optional
        The rates in force on ``as_of`` (:meth:`riskengine.features.fx.FxRates.at`):
        the money features of a debtor invoiced in several currencies (Notes).

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
      cross-aging) of a debtor whose invoices are in more than one currency
      (``pay_mixed_currency = 1``) are computed from its invoices converted into
      the reporting currency at ``rates`` (the rates in force on ``as_of``; its
      balances are then in the reporting currency); without ``rates``, or a rate
      missing, they are NaN: amounts in different currencies do not add. Ratios
      are invariant to the currency unit.

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
    issue, paid_d = issue_all[keep], paid_all[keep]
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

    if len(code) > 1 and not bool((code[1:] >= code[:-1]).all()):  # runs of debtors
        order = np.argsort(code, kind="stable")  # each debtor's invoices keep their order
        code, issue, due, paid_d = code[order], issue[order], due[order], paid_d[order]
        amount, diluted, cur = amount[order], diluted[order], cur[order]
    offsets = np.searchsorted(code, np.arange(n + 1))
    out = payment_arrays(offsets, int(day), issue, due, paid_d, amount, diluted, cur,
                         lookback_days, trend_recent_days, rates=rates)
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

