"""The limit register's rule: a pair's next state from its current one and a proposed limit,
for 1..n pairs at once (pure numpy; the store applies it one pair at a time for the
service, the officer's pages and manual changes, and to a whole book for ``rerate``).

The rule (docs/SERVICE.md "The limit register"):

- updates are ordered by the decision's ``as_of``: a proposal older than the register's
  is not applied (history only);
- the limit in force on ``as_of`` is the one compared (a pending change whose date has
  come is in force);
- the action, its effective date and the protected outstanding are the policy's
  (:func:`riskengine.policy.limits.limit_change`): an increase at once, a cut after the
  notice period, at once on a knock-out;
- a proposal equal to the limit in force confirms it and withdraws a pending change; a
  change effective later stays pending beside the limit in force, and proposing the
  same change again while it waits leaves it as it is (``unchanged``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from riskengine.policy.credit_policy import CreditPolicy
from riskengine.policy.limits import limit_change

__all__ = ["RegisterRows", "NextState", "in_force", "next_state", "ACTIONS"]

FloatArray = npt.NDArray[np.float64]
DayArray = npt.NDArray[np.datetime64]
BoolArray = npt.NDArray[np.bool_]

#: History actions by code.
ACTIONS: tuple[str, ...] = ("new", "unchanged", "increase", "decrease", "cancel", "not_applied")
_NAT = np.datetime64("NaT", "D")


@dataclass(frozen=True)
class RegisterRows:
    """The register rows of n pairs (``has_row`` False: the pair has none; its other
    values are ignored). Missing values: NaN, NaT."""

    has_row: BoolArray
    limit_amount: FloatArray
    previous_limit: FloatArray
    effective_date: DayArray
    pending_limit: FloatArray
    pending_effective_date: DayArray
    as_of: DayArray
    outstanding: FloatArray

    @classmethod
    def empty(cls, n: int) -> RegisterRows:
        """n pairs without a row."""
        nan, nat = np.full(n, np.nan), np.full(n, _NAT)
        return cls(np.zeros(n, dtype=bool), nan, nan, nat, nan, nat, nat, nan)


@dataclass(frozen=True)
class NextState:
    """The pairs' next register state and their history rows.

    ``applied`` False: the proposal is older than the register (history only: action
    ``not_applied``; the state arrays are then the old row's and must not be written).
    """

    applied: BoolArray
    limit_amount: FloatArray
    previous_limit: FloatArray
    effective_date: DayArray
    pending_limit: FloatArray
    pending_effective_date: DayArray
    status: npt.NDArray[np.object_]
    outstanding: FloatArray
    protected: FloatArray
    action: npt.NDArray[np.int8]          # code into ACTIONS
    old_limit: FloatArray                 # the limit in force compared (NaN: new pair)
    history_date: DayArray                # the history row's effective date


def _vec(x: Any, dtype: Any, n: int) -> Any:
    """``x`` as n values of ``dtype`` (a scalar repeated): the array itself when it has
    them, a reshape for one pair (np.broadcast_to costs ~5 us a call, the service's
    single pair pays it five times a decision), a broadcast view otherwise."""
    arr = np.asarray(x, dtype=dtype)
    if arr.shape == (n,):
        return arr
    if arr.ndim == 0 and n == 1:
        return arr.reshape(1)
    return np.broadcast_to(arr, (n,))


def _days(x: Any, n: int) -> DayArray:
    arr = np.asarray(x, dtype="datetime64[D]")
    if arr.ndim:
        return arr
    return arr.reshape(1) if n == 1 else np.broadcast_to(arr, (n,))


def in_force(rows: RegisterRows, day: Any) -> tuple[FloatArray, DayArray, FloatArray]:
    """(limit in force on ``day``, since when, the limit before it) of each row; a pair
    without a row has 0 since NaT."""
    n = rows.has_row.shape[0]
    d = _days(day, n)
    pend_due = (rows.has_row & ~np.isnan(rows.pending_limit)
                & ~np.isnat(rows.pending_effective_date) & (d >= rows.pending_effective_date))
    current = rows.has_row & ~pend_due & (np.isnat(rows.effective_date)
                                          | (d >= rows.effective_date))
    # the three cases exclude each other and a row is in one of them (before its
    # effective date otherwise): nested np.where, not np.select (~45 us a call on the
    # service's one pair, most of this function)
    limit = np.where(pend_due, rows.pending_limit,
                     np.where(current, rows.limit_amount,
                              np.where(rows.has_row, rows.previous_limit, 0.0)))
    since = np.where(pend_due, rows.pending_effective_date,
                     np.where(current, rows.effective_date, _NAT))
    before = np.where(pend_due, rows.limit_amount,
                      np.where(rows.has_row, rows.previous_limit, 0.0))
    return limit, since, before


def next_state(rows: RegisterRows, proposed: Any, as_of: Any, knockout: Any,
               policy: CreditPolicy, *, outstanding: Any = np.nan,
               effective_date: Any = _NAT) -> NextState:
    """The next register state of n pairs (the module's rule).

    Parameters
    ----------
    rows : RegisterRows
    proposed : array-like
        The proposed limits (>= 0; 0 cancels).
    as_of : date-like or array-like
        The decisions' dates.
    knockout : array-like of bool
        The proposal follows a knock-out: a cut takes effect at once.
    policy : CreditPolicy
        ``limits.notice_days``.
    outstanding : array-like, optional
        Approved outstanding reported with each proposal (NaN: not reported; the
        register keeps the one it has).
    effective_date : date-like or array-like, optional
        An explicit effective date instead of the policy's (NaT: the policy's).

    Examples
    --------
    A cut of a 50,000 limit to 20,000 on 2026-07-10 waits 30 days (policy.toml
    ``limits.notice_days``); 30,000 delivered stay protected.

    >>> import datetime as dt
    >>> from riskengine.config import load_policy
    >>> old = RegisterRows(np.array([True]), np.array([50_000.0]), np.array([0.0]),
    ...                    np.array(["2026-06-30"], "M8[D]"), np.array([np.nan]),
    ...                    np.array(["NaT"], "M8[D]"), np.array(["2026-06-30"], "M8[D]"),
    ...                    np.array([np.nan]))
    >>> s = next_state(old, [20_000.0], dt.date(2026, 7, 10), [False], load_policy(),
    ...                outstanding=[30_000.0])
    >>> s.limit_amount.tolist(), s.pending_limit.tolist(), str(s.pending_effective_date[0])
    ([50000.0], [20000.0], '2026-08-09')
    >>> s.status.tolist(), ACTIONS[s.action[0]], s.protected.tolist()
    (['pending_cut'], 'decrease', [30000.0])
    """
    n = rows.has_row.shape[0]
    new = _vec(proposed, np.float64, n)
    day = _days(as_of, n)
    ko = _vec(knockout, bool, n)
    out = _vec(outstanding, np.float64, n)
    explicit = _days(effective_date, n)
    older = rows.has_row & ~np.isnat(rows.as_of) & (day < rows.as_of)
    force, since, before = in_force(rows, day)
    ch = limit_change(force, new, day, ko, policy, np.where(np.isnan(out), force, out))
    eff = np.where(np.isnat(explicit), ch.effective_date, explicit)
    confirmed = rows.has_row & (new == force)
    # the same change again while it waits for its date: it stands as it is
    waiting = (rows.has_row & ~np.isnan(rows.pending_limit)
               & ~np.isnat(rows.pending_effective_date) & (day < rows.pending_effective_date))
    again = ~confirmed & waiting & (new == rows.pending_limit) & ~ko
    eff = np.where(again, rows.pending_effective_date, eff)
    now = ~confirmed & ~again & (eff <= day)
    pending = ~confirmed & ~now
    since_or_day = np.where(np.isnat(since), day, since)
    limit = np.where(now, new, force)
    status = np.where(pending, np.where(new < limit, "pending_cut", "pending_increase"),
                      np.where(limit <= 0, "cancelled", "active")).astype(object)
    # the first that holds: new pair 0, unchanged 1, cancel 4, increase 2, else decrease 3
    action = np.where(~rows.has_row, 0, np.where(
        (new == force) | again, 1, np.where(new == 0, 4, np.where(new > force, 2, 3)))
    ).astype(np.int8)
    action[older] = 5
    return NextState(
        applied=~older, limit_amount=limit,
        previous_limit=np.where(now, force, before),
        effective_date=np.where(now, eff, since_or_day),
        pending_limit=np.where(pending, new, np.nan),
        pending_effective_date=np.where(pending, eff, _NAT),
        status=status,
        outstanding=np.where(np.isnan(out), np.where(rows.has_row, rows.outstanding, np.nan),
                             out),
        protected=ch.protected, action=action,
        old_limit=np.where(rows.has_row, force, np.nan),
        history_date=np.where(older, day, np.where(confirmed, since_or_day, eff)))
