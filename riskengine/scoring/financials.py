"""A debtor's latest financials, rating basis and past-due default, from validated frames.

Rating basis
------------
``statements``: the latest statement up to ``as_of`` is not a tax return, has
total assets > 0 and a revenue, and is at most ``overlay.max_statement_age_days``
old: the PD model scores it. ``tax_return`` / ``no_financials``: the PD is the
basis prior of the overlay config (3 % / 5 % shipped: unknown risk is not
priced as average risk), then the same overlay; the policy uses the tax-return
capacity rule or the predetermined minimum limit of the grade (seed 003).

Past-due default: an amount open more than ``overlay.days_past_due`` days past due
that exceeds both materiality thresholds (:func:`default_past_due`). Invoices in several
currencies are added in the reporting currency (policy ``[book] currency``), each at the
rate in force on the decision date, and the thresholds are read in it. Pure: no I/O.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.features import latest_of_runs
from riskengine.features.fx import currency_codes
from riskengine.scoring.frames import _positions
from riskengine.scoring.overlay import Overlay

__all__ = ["BASES", "LATEST_ROWS", "latest_financials", "financial_inputs", "past_due",
           "default_past_due"]

FloatArray = npt.NDArray[np.float64]

#: Rating bases; code ``i`` is ``BASES[i]``.
BASES: tuple[str, ...] = ("statements", "tax_return", "no_financials")


#: Rows of the latest-statement array :func:`financial_inputs` reads: the statement's
#: items as reported, its age in days and whether it is a tax return (1.0 / 0.0);
#: all NaN for a debtor without a statement up to the day.
LATEST_ROWS: tuple[str, ...] = ("equity", "total_assets", "total_liabilities", "revenue",
                                "net_income", "age_days", "tax_return")


def latest_financials(statements: pd.DataFrame, day: str, ids: pd.Index) -> dict[str, Any]:
    """Latest statement up to ``day`` per debtor of ``ids`` (the edge of :func:`financial_inputs`).

    Returns ``{"latest": (len(LATEST_ROWS), n) float64 array, "currency": object array}``
    (the statement currency, ``""`` without a statement).
    """
    n = len(ids)
    latest = np.full((len(LATEST_ROWS), n), np.nan)
    out: dict[str, Any] = {"latest": latest, "currency": np.full(n, "", dtype=object)}
    if statements.empty:
        return out
    t = np.datetime64(day, "D")
    pe = statements["period_end"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    rows, pos = _latest_statements(statements["debtor_id"], pe, t, ids)
    for i, name in enumerate(LATEST_ROWS[:5]):
        latest[i, pos] = statements[name].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    latest[5, pos] = (t - pe[rows]).astype(np.int64)
    latest[6, pos] = _objects_at(statements["statement_type"], rows) == "tax_return"
    out["currency"][pos] = _objects_at(statements["currency"], rows)
    return out


def _latest_statements(debtor_id: pd.Series, pe: npt.NDArray[np.datetime64], t: np.datetime64,
                       ids: pd.Index) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Row of each debtor's latest statement up to ``t`` and the debtor's position in
    ``ids``, in ascending position (a debtor absent from ``ids`` has position -1, and
    the latest of all such statements comes first).

    Statements sorted by debtor and period (as riskengine writes them) are taken from
    their runs (:func:`riskengine.features.latest_of_runs`) and only their distinct
    debtors are looked up in ``ids``; otherwise every row is looked up and sorted.
    """
    eligible = pe <= t
    latest = latest_of_runs(debtor_id, eligible, pe)
    if latest is not None:
        rows, debtors = latest
        pos = _positions(debtors, ids)
        if len(pos) == 0 or pos.min() >= 0:  # every debtor known: one row each
            return rows, pos
    sel = np.flatnonzero(eligible)
    codes = _positions(debtor_id, ids)[sel]
    order = np.lexsort((pe[sel].astype(np.int64), codes))
    sc = codes[order]
    last = np.ones(sc.size, dtype=bool)
    last[:-1] = sc[1:] != sc[:-1]
    return sel[order[last]], sc[last]


def _objects_at(values: pd.Series, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """``values.iloc[rows].astype(object)`` as an array: arrow-backed text without
    missing values is converted once per distinct value (a dictionary encoding)."""
    arr = getattr(values.array, "_pa_array", None)
    if arr is not None:
        taken = arr.take(rows)
        taken = taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken
        if not taken.null_count:
            enc = pc.dictionary_encode(taken)
            words = enc.dictionary.to_numpy(zero_copy_only=False)
            out: npt.NDArray[np.object_] = words[enc.indices.to_numpy()]
            return out
    return values.iloc[rows].astype(object).to_numpy()


def financial_inputs(latest: FloatArray, max_age: int
                     ) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """The policy's financials and the rating basis of 1..n debtors' latest statements.

    Parameters
    ----------
    latest : ndarray of float64, shape (len(LATEST_ROWS), n)
        Rows :data:`LATEST_ROWS` (:func:`latest_financials` for a book; the single
        path builds the one column from its payload).
    max_age : int
        ``overlay.max_statement_age_days``.

    Returns
    -------
    money : ndarray of float64, shape (3, n)
        Tangible net worth (equity, else total assets - total liabilities, the
        statement pipeline's identity; the contract carries no intangibles),
        revenue and net income.
    basis : ndarray of int64, shape (n,)
        Code into :data:`BASES` (see the module docstring).

    Examples
    --------
    >>> latest = np.array([[np.nan], [100.0], [60.0], [500.0], [5.0], [200.0], [0.0]])
    >>> money, basis = financial_inputs(latest, 540)
    >>> money[:, 0].tolist(), BASES[basis[0]]
    ([40.0, 500.0, 5.0], 'statements')
    """
    out: tuple[FloatArray, npt.NDArray[np.int64]] = _financials_kernel()(latest, max_age)
    return out


def _financial_rows(latest: Any, max_age: int) -> Any:  # pragma: no cover - compiled
    """Kernel of :func:`financial_inputs`: one pass over the debtors."""
    n = latest.shape[1]
    money = np.empty((3, n))
    basis = np.empty(n, dtype=np.int64)
    for j in range(n):
        eq, ta, tl, rev = latest[0, j], latest[1, j], latest[2, j], latest[3, j]
        money[0, j] = ta - tl if np.isnan(eq) else eq
        money[1, j] = rev
        money[2, j] = latest[4, j]
        usable = latest[5, j] <= max_age and not np.isnan(rev)  # fresh, with a revenue
        tax = latest[6, j]
        if usable and tax == 0.0 and ta > 0:
            basis[j] = 0
        elif usable and tax == 1.0:
            basis[j] = 1
        else:
            basis[j] = 2
    return money, basis


@functools.cache
def _financials_kernel() -> Any:
    """:func:`_financial_rows` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_financial_rows)


def past_due(invoices: pd.DataFrame, day: str, days_past_due: int, ids: pd.Index,
             rates: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
    """Per debtor: amount open more than ``days_past_due`` past due, and the open balance,
    in the reporting currency: each invoice's amount times the rate of its currency in
    ``rates`` (:meth:`riskengine.features.fx.FxRates.at` of the decision date; 1 for the
    reporting currency, so its amounts add exactly). ``rates`` None: amounts as they are.
    An open invoice in a currency without a rate is NaN here: validation rejects its
    debtor first (:func:`riskengine.validation.fx.reject_missing_rates`)."""
    n = len(ids)
    if invoices.empty:
        return np.zeros(n), np.zeros(n)
    t = int(np.datetime64(day, "D").astype(np.int64))

    def ns(name: str) -> npt.NDArray[np.int64]:
        return invoices[name].to_numpy(dtype="datetime64[ns]").view(np.int64)

    amount = invoices["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    codes = _positions(invoices["debtor_id"], ids)
    out: tuple[FloatArray, FloatArray] = _past_due_kernel()(
        codes, ns("issue_date"), ns("due_date"), ns("paid_date"), amount, t, days_past_due, n,
        _DAY_NS, invoice_rates(invoices["currency"], rates, len(invoices)))
    return out


def invoice_rates(currency: Any, rates: FloatArray | None, n: int) -> FloatArray:
    """Units of the reporting currency per unit of each invoice's currency (NaN: no rate;
    ones without ``rates``)."""
    if rates is None:
        return np.ones(n)
    ext = np.append(np.asarray(rates, dtype=np.float64), np.nan)
    out: FloatArray = ext[currency_codes(currency)]
    return out


_DAY_NS = 86_400_000_000_000


def _past_due_sums(codes: Any, issue: Any, due: Any, paid: Any, amount: Any, t: int,
                   days_past_due: int, n: int, unit: int,
                   fx: Any) -> Any:  # pragma: no cover - compiled
    """Kernel of :func:`past_due` (and of the single-debtor path), dates as int64 counts
    of ``unit`` (nanoseconds: ``_DAY_NS``; day numbers: 1), NaT the int64 minimum.

    A date is its day number (floored, as numpy's cast to ``datetime64[D]``), NaT
    a day after every other. An invoice of a debtor of ``ids`` (code >= 0) issued by
    day ``t`` and not paid by then is open; it is past due when ``t - due`` exceeds
    ``days_past_due``. An amount counts times its ``fx`` (the rate of its currency into
    the reporting currency). Each sum adds its invoices' amounts in row order from 0.0, as
    ``numpy.bincount`` does with zero weights elsewhere (a zero adds nothing to a
    sum that is never -0.0).
    """
    nat = np.iinfo(np.int64).min
    never = np.iinfo(np.int64).max
    pdue = np.zeros(n)
    bal = np.zeros(n)
    for i in range(codes.shape[0]):
        c = codes[i]
        if c < 0 or issue[i] == nat or issue[i] // unit > t:
            continue
        if paid[i] != nat and paid[i] // unit <= t:
            continue
        a = amount[i] * fx[i]
        bal[c] += a
        due_day = never if due[i] == nat else due[i] // unit
        if t - due_day > days_past_due:
            pdue[c] += a
    return pdue, bal


@functools.cache
def _past_due_kernel() -> Any:
    """:func:`_past_due_sums` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_past_due_sums)


def default_past_due(pdue: FloatArray, open_balance: FloatArray, ov: Overlay
                     ) -> npt.NDArray[np.bool_]:
    """Material past-due default: above the absolute and the relative threshold (the
    amounts and ``materiality_absolute`` in the reporting currency)."""
    out: npt.NDArray[np.bool_] = (pdue > ov.materiality_absolute) & (
        pdue > ov.materiality_relative * open_balance)
    return out
