"""Limit increases, decreases and cancellations against the previous run."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.batch.migration.matrix import pair_rows
from riskengine.contracts.arrowtext import large_text, text_member
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.policy.limits import KNOCKOUT_REASONS, LIMIT_ACTIONS, limit_change

#: Columns of the limit-actions frame, in order.
LIMIT_ACTION_COLUMNS: tuple[str, ...] = (
    "debtor_id", "supplier_id", "action", "cause", "previous_limit", "new_limit",
    "effective_date", "knockout", "protected_outstanding", "available_after",
)  # fmt: skip


def _knockout(frame: pd.DataFrame) -> np.ndarray:
    """Whether each decision follows a knock-out (``knockout``, ``knockouts`` or ``reasons``)."""
    if "knockout" in frame.columns:
        return frame["knockout"].fillna(False).to_numpy(dtype=bool)
    for col in ("knockouts", "reasons"):
        if col not in frame.columns:
            continue
        values = frame[col]
        first = values.dropna().iloc[:1]
        if len(first) and isinstance(first.iloc[0], (list, tuple, np.ndarray)):
            # a list column of reason names: the engine's knock-outs are all knock-outs
            if col == "knockouts":
                return (values.str.len().fillna(0) > 0).to_numpy(dtype=bool)
            values = values.str.join(",")
        names = values.astype("str").fillna("")
        pattern = r"(?:^|,)\s*(?:" + "|".join(KNOCKOUT_REASONS) + r")\s*(?:,|$)"
        return names.str.contains(pattern, regex=True).fillna(False).to_numpy(dtype=bool)
    return np.zeros(len(frame), dtype=bool)


def limit_actions(
    previous: pd.DataFrame,
    current: pd.DataFrame,
    as_of: Any,
    policy: CreditPolicy,
    *,
    scope: Iterable[str] | None = None,
    errored: Iterable[str] = (),
    include_unchanged: bool = False,
) -> pd.DataFrame:
    """Limit increases, decreases and cancellations against the previous run.

    Parameters
    ----------
    previous, current : pandas.DataFrame
        Decisions of the previous and of the current run (pair rows are used:
        ``debtor_id``, ``supplier_id``, ``approved_limit``; from ``current``
        also ``knockout`` or ``reasons`` and ``approved_outstanding`` when
        present).
    as_of : date-like
        Date of the notice (the run's as-of date).
    policy : CreditPolicy
        ``limits.notice_days``: reductions take effect after the notice period,
        at once on a knock-out event (:data:`KNOCKOUT_REASONS`).
    scope : iterable of str, optional
        Debtors re-rated by the current run (partial run); previous pairs of
        other debtors keep their limits and are not compared. None: whole book.
    errored : iterable of str
        Debtors of the run that could not be decided: their previous limits
        stand (an input error is not a credit event) and they get no action.
    include_unchanged : bool, default False
        Keep the ``unchanged`` rows.

    Returns
    -------
    pandas.DataFrame
        :data:`LIMIT_ACTION_COLUMNS`, sorted by ``debtor_id, supplier_id``.
        ``cause`` is ``rerated`` (pair in both runs), ``new_pair`` (no previous
        limit: previous 0) or ``pair_withdrawn`` (in the previous run, not in
        this one, its debtor decided or gone from the book: new limit 0, a
        cancellation with notice).

    Notes
    -----
    Actions, effective dates and protected outstanding come from
    :func:`riskengine.policy.limits.limit_change`: invoices already assigned
    stay approved up to the old limit. The pairs are joined by one Arrow sort of
    both runs' keys (:func:`_merged`).

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> prev = pd.DataFrame({"debtor_id": ["a", "b"], "supplier_id": ["s", "s"],
    ...                      "approved_limit": [50_000.0, 20_000.0]})
    >>> cur = pd.DataFrame({"debtor_id": ["a", "b"], "supplier_id": ["s", "s"],
    ...                     "approved_limit": [30_000.0, 25_000.0], "reasons": ["capacity", ""]})
    >>> out = limit_actions(prev, cur, "2026-06-30", load_policy())
    >>> out["action"].tolist(), [str(d.date()) for d in out["effective_date"]]
    (['decrease', 'increase'], ['2026-07-30', '2026-06-30'])
    """
    cur = pair_rows(current)
    errored_ids = pd.Index(list(errored), dtype="str")
    joined = _join_pairs(previous, cur, scope, errored_ids)
    ip, ic = joined.previous_row, joined.current_row
    previous_limit = _gather(_limits(previous), ip, 0.0)
    new_limit = _gather(_limits(cur), ic, 0.0)
    knockout = _gather(_knockout(cur), ic, False)
    outstanding = _gather(cur["approved_outstanding"].to_numpy(dtype=np.float64)
                          if "approved_outstanding" in cur.columns else
                          np.full(len(cur), np.nan), ic, np.nan)  # fmt: skip
    outstanding = np.where(np.isnan(outstanding), previous_limit, outstanding)
    cause = np.where(ic < 0, 2, np.where(ip < 0, 1, 0))  # index in _CAUSES
    ch = limit_change(previous_limit, new_limit, as_of, knockout, policy, outstanding)
    sel = np.arange(len(ip)) if include_unchanged else np.flatnonzero(ch.action != 0)
    at = pa.array(joined.at[sel])
    return pd.DataFrame({
        "debtor_id": pd.array(joined.keys[0].take(at), dtype="str"),
        "supplier_id": pd.array(joined.keys[1].take(at), dtype="str"),
        "action": pd.array(pa.array(LIMIT_ACTIONS, pa.large_string()).take(ch.action[sel]),
                           dtype="str"),
        "cause": pd.array(pa.array(_CAUSES, pa.large_string()).take(cause[sel]), dtype="str"),
        "previous_limit": previous_limit[sel],
        "new_limit": new_limit[sel],
        "effective_date": ch.effective_date.astype("datetime64[ns]")[sel],
        "knockout": knockout[sel],
        "protected_outstanding": ch.protected[sel],
        "available_after": ch.available_after[sel],
    })


#: ``cause`` of a limit action by code: pair in both runs, only in the current one,
#: only in the previous one.
_CAUSES = ("rerated", "new_pair", "pair_withdrawn")
_KEY = ["debtor_id", "supplier_id"]


class _Join(NamedTuple):
    """Pairs of the previous and current runs joined on ``debtor_id, supplier_id``, in
    key order: each key's text at ``at`` in ``keys`` (debtor ids, supplier ids), its
    row in the previous decisions and in the current pairs (-1: none)."""

    keys: tuple[pa.Array, pa.Array]
    at: np.ndarray
    previous_row: np.ndarray
    current_row: np.ndarray


def _join_pairs(previous: pd.DataFrame, cur: pd.DataFrame, scope: Iterable[str] | None,
                errored_ids: pd.Index) -> _Join:
    """The join of :func:`limit_actions`: previous pairs of the debtors compared (see
    :func:`_compared`) with every current pair, in key order; either side's pairs must
    be distinct (:func:`_merged`, else Arrow's full outer join, then sorted by key)."""
    prev = pair_rows(previous)[[*_KEY, "approved_limit"]]
    cur = cur[[*_KEY, "approved_limit"]]
    ip = np.flatnonzero(previous["supplier_id"].notna().to_numpy(dtype=bool))  # of pair_rows
    keep = _compared(prev["debtor_id"], scope, errored_ids)
    text = [large_text(f[c]) for f in (prev, cur) for c in _KEY]
    merged = _merged(text[0], text[1], text[2], text[3], ip, keep)
    if merged is not None:
        return merged
    for name, frame in (("previous", prev), ("current", cur)):
        dup = frame.duplicated(_KEY)
        if dup.any():
            row = frame[dup].iloc[0]
            raise ValueError(f"{name} decisions: pair ({row['debtor_id']!r}, "
                             f"{row['supplier_id']!r}) appears more than once.")
    left = pa.table({"debtor_id": text[0].filter(pa.array(keep)),
                     "supplier_id": text[1].filter(pa.array(keep)),
                     "_ip": pa.array(ip[keep], pa.int64())})
    right = pa.table({"debtor_id": text[2], "supplier_id": text[3],
                      "_ic": pa.array(np.arange(len(cur)), pa.int64())})
    joined = left.join(right, keys=_KEY, join_type="full outer", coalesce_keys=True).sort_by(
        [(k, "ascending") for k in _KEY])
    keys = tuple(joined[c].combine_chunks() for c in _KEY)
    return _Join((keys[0], keys[1]), np.arange(joined.num_rows),
                 np.asarray(joined["_ip"].fill_null(-1), dtype=np.int64),
                 np.asarray(joined["_ic"].fill_null(-1), dtype=np.int64))


#: Between a pair's debtor and supplier ids in :func:`_merged`'s one sort key: below
#: every other character, so the key sorts as (debtor_id, supplier_id) does.
_SEP = "\x00"


def _merged(prev_d: pa.Array, prev_s: pa.Array, cur_d: pa.Array, cur_s: pa.Array,
            ip: np.ndarray, keep: np.ndarray) -> _Join | None:
    """:func:`_join_pairs` by one sort instead of a hash join and a sort: every previous
    and current pair's key (``debtor_id SEP supplier_id``, one text) sorted together
    (Arrow's sort is stable: a previous pair before the current one of the same key);
    equal neighbours are the pairs in both runs. None when the keys cannot be
    compared so (a missing id, an id holding ``SEP``) or a side repeats a pair (the
    caller names it)."""
    n_prev = len(prev_d)
    parts = (prev_d, prev_s, cur_d, cur_s)
    if any(a.null_count for a in parts) or any(
            pc.any(pc.match_substring(a, _SEP)).as_py() for a in parts if len(a)):
        return None
    sep = pa.scalar(_SEP, pa.large_string())
    keys = pa.chunked_array([pc.binary_join_element_wise(prev_d, prev_s, sep),
                             pc.binary_join_element_wise(cur_d, cur_s, sep)],
                            pa.large_string()).combine_chunks()
    n = len(keys)
    order = np.asarray(pc.sort_indices(keys), dtype=np.int64)
    ordered = keys.take(pa.array(order))
    same = np.asarray(pc.equal(ordered.slice(1), ordered.slice(0, max(n - 1, 0))),
                      dtype=bool) if n > 1 else np.zeros(0, dtype=bool)
    from_prev = order < n_prev
    if (same & (from_prev[1:] == from_prev[:-1])).any():
        return None  # a pair twice on one side
    first = np.concatenate(([True], ~same)) if n else np.zeros(0, dtype=bool)
    group = np.cumsum(first) - 1
    m = int(group[-1]) + 1 if n else 0
    prev_row = np.full(m, -1, dtype=np.int64)
    cur_row = np.full(m, -1, dtype=np.int64)
    src = order[from_prev]
    kept = keep[src]  # a previous pair of a debtor not compared: left out
    prev_row[group[from_prev][kept]] = ip[src[kept]]
    cur_row[group[~from_prev]] = order[~from_prev] - n_prev
    live = np.flatnonzero((prev_row >= 0) | (cur_row >= 0))
    at = pa.array(order[np.flatnonzero(first)[live]])
    debtors = pa.chunked_array([prev_d, cur_d], pa.large_string()).combine_chunks()
    suppliers = pa.chunked_array([prev_s, cur_s], pa.large_string()).combine_chunks()
    return _Join((debtors.take(at), suppliers.take(at)), np.arange(live.size),
                 prev_row[live], cur_row[live])


def _compared(ids: Any, scope: Iterable[str] | None, errored_ids: pd.Index) -> np.ndarray:
    """Whether each previous pair's debtor is compared: re-rated (in ``scope``, when
    given) and not errored (its previous limits stand)."""
    keep = np.ones(len(ids), dtype=bool)
    if scope is not None:
        keep &= text_member(ids, pd.Index(list(scope), dtype="str"))
    if len(errored_ids):
        keep &= ~text_member(ids, errored_ids)
    return keep


def _limits(frame: pd.DataFrame) -> np.ndarray:
    """Approved limits of a decisions frame's rows (missing: 0)."""
    return frame["approved_limit"].fillna(0.0).to_numpy(dtype=np.float64)


def _gather(values: np.ndarray, rows: np.ndarray, absent: Any) -> np.ndarray:
    """``values[rows]``, ``absent`` where a row is -1."""
    return np.append(values, np.array([absent], dtype=values.dtype))[rows]
