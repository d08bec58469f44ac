"""Re-rating outcomes against the previous run: migrations, limit actions, run figures.

Pure functions over decision frames (no I/O, no clock): the batch job
(:mod:`riskengine.batch.rerate`, its tail in :mod:`riskengine.batch.assemble`) calls them
after it has decided every chunk.

Frames
------
A *decisions* frame has one row per supplier–debtor pair and may also hold one
row per debtor rating (``supplier_id`` missing). The columns read here are
``debtor_id``, ``supplier_id``, ``pd``, ``grade``, ``approved_limit`` and, when
present, ``cover``, ``retained_exposure``, ``expected_loss``,
``approved_outstanding``, ``knockout`` (bool) or ``reasons`` (comma-separated
reason codes of :data:`riskengine.policy.limits.REASONS`). Other columns are
ignored.

States of the migration matrix
------------------------------
Rows (``from_grade``) are the previous run's state of a debtor, columns
(``to_grade``) the current one: the master-scale grades ``1`` … ``10``, ``D``,
plus ``NR`` (in the run but not rated: its records could not be decided),
``new`` (a row only: the debtor was not in the previous run) and ``exit`` (a
column only: the debtor is no longer in the portfolio). Rates are shares of
the row (a previous state's debtors), NaN for an empty row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.contracts.arrowtext import strictly_increasing
from riskengine.model.master_scale import GRADES, UNRATED
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.policy.limits import LIMIT_ACTIONS, limit_change
from riskengine.policy.portfolio import hhi

__all__ = [
    "NEW",
    "EXIT",
    "FROM_STATES",
    "TO_STATES",
    "KNOCKOUT_REASONS",
    "LIMIT_ACTION_COLUMNS",
    "PREVIOUS_COLUMNS",
    "MigrationMatrix",
    "Reconciliation",
    "pair_rows",
    "debtor_ratings",
    "migration_matrix",
    "limit_actions",
    "reconcile",
    "run_summary",
    "concentration",
]

NEW = "new"
EXIT = "exit"
#: Row states of the migration matrix (previous run).
FROM_STATES: tuple[str, ...] = (*GRADES, UNRATED, NEW)
#: Column states of the migration matrix (current run).
TO_STATES: tuple[str, ...] = (*GRADES, UNRATED, EXIT)
#: Reason codes that make a limit reduction effective at once (knock-out events,
#: :mod:`riskengine.policy.limits`).
KNOCKOUT_REASONS: tuple[str, ...] = (
    "adverse_record", "insolvency", "related_party", "grade_default", "supplier_default",
)  # fmt: skip
#: Columns of the limit-actions frame, in order.
LIMIT_ACTION_COLUMNS: tuple[str, ...] = (
    "debtor_id", "supplier_id", "action", "cause", "previous_limit", "new_limit",
    "effective_date", "knockout", "protected_outstanding", "available_after",
)  # fmt: skip

#: Columns of the previous run's decisions read by the comparison with it
#: (:func:`debtor_ratings`, :func:`limit_actions`, the PSI of :func:`run_summary`).
PREVIOUS_COLUMNS: tuple[str, ...] = ("debtor_id", "supplier_id", "grade", "pd", "approved_limit")

_ORDER = {g: i for i, g in enumerate(GRADES)}


def pair_rows(decisions: pd.DataFrame) -> pd.DataFrame:
    """The supplier–debtor pair rows of a decisions frame (``supplier_id`` present)."""
    if "supplier_id" not in decisions.columns:
        return decisions.iloc[:0]
    pair = decisions["supplier_id"].notna().to_numpy(dtype=bool)
    return decisions if pair.all() else decisions[pair]  # (all pairs: no copy)


def debtor_ratings(decisions: pd.DataFrame) -> pd.DataFrame:
    """One rating per debtor: ``grade`` and ``pd``, indexed by ``debtor_id`` (sorted).

    A debtor's rating row (``supplier_id`` missing) is preferred; without one the
    first of its pair rows is taken (every pair of a debtor carries the debtor's
    rating).

    Examples
    --------
    >>> d = pd.DataFrame({"debtor_id": ["b", "a", "a"], "supplier_id": ["s", "s", "t"],
    ...                   "grade": ["3", "5", "5"], "pd": [0.004, 0.02, 0.02]})
    >>> debtor_ratings(d)["grade"].tolist()
    ['5', '3']
    """
    cols = ["debtor_id", "grade", "pd"]
    if decisions.empty:
        return pd.DataFrame({"grade": pd.Series([], dtype="str"),
                             "pd": pd.Series([], dtype="float64")},
                            index=pd.Index([], dtype="str", name="debtor_id"))  # fmt: skip
    if "supplier_id" in decisions.columns:
        rank = decisions["supplier_id"].notna().to_numpy().astype(np.int8)
    else:
        rank = np.zeros(len(decisions), dtype=np.int8)
    rated = decisions[rank == 0] if rank.any() else decisions
    if len(rated) and _strictly_increasing(rated["debtor_id"]) and (
            len(rated) == len(decisions) or _rated_before(decisions["debtor_id"], rank)
            or bool(pc.all(pc.is_in(_text(decisions.loc[rank == 1, "debtor_id"]),
                                    value_set=_text(rated["debtor_id"]))).as_py())):
        # one rating row per debtor, in id order, and every pair's debtor has one:
        # those rows are the ratings (nothing to choose or sort)
        out = rated[["grade", "pd"]].set_axis(
            pd.Index(rated["debtor_id"].astype("str"), name="debtor_id"), axis=0)
        out = out.assign(grade=out["grade"].astype("str"), pd=out["pd"].astype("float64"))
        out.index = out.index.astype("str")
        return out
    frame = decisions[cols].assign(_rank=rank)
    frame = frame.sort_values(["debtor_id", "_rank"], kind="stable")
    first = frame.drop_duplicates("debtor_id", keep="first")
    out = first.set_index("debtor_id")[["grade", "pd"]]
    out = out.assign(grade=out["grade"].astype("str"), pd=out["pd"].astype("float64"))
    out.index = out.index.astype("str")
    return out


def _rated_before(ids: pd.Series, rank: np.ndarray) -> bool:
    """Whether each pair row (``rank`` 1) comes after a rating row (``rank`` 0) of its
    debtor with only that debtor's pair rows between them (the layout of
    decisions.parquet): then every pair's debtor has a rating row. One comparison of
    each row with the row before it tells (no hash table of the ids)."""
    n = len(rank)
    if n == 0 or rank[0] == 1:
        return n == 0
    arr = _text(ids)
    same = np.asarray(pc.equal(arr.slice(1), arr.slice(0, n - 1)).fill_null(False))
    return bool(same[rank[1:] == 1].all())


def _strictly_increasing(ids: Any) -> bool:
    """Whether the ids are present, distinct and sorted (one Arrow pass)."""
    return strictly_increasing(_text(ids))


@dataclass(frozen=True, slots=True)
class MigrationMatrix:
    """Rating migration between two runs.

    Attributes
    ----------
    counts : pandas.DataFrame
        Debtors moving from each state (rows, :data:`FROM_STATES`) to each
        state (columns, :data:`TO_STATES`); int64.
    rates : pandas.DataFrame
        ``counts`` divided by their row total; NaN in an empty row.
    """

    counts: pd.DataFrame
    rates: pd.DataFrame

    def to_long(self) -> pd.DataFrame:
        """Long form: ``from_grade, to_grade, count, rate``, every cell, state order."""
        n_from, n_to = self.counts.shape
        return pd.DataFrame({
            "from_grade": pd.array(np.repeat(self.counts.index.to_numpy(), n_to), dtype="str"),
            "to_grade": pd.array(np.tile(self.counts.columns.to_numpy(), n_from), dtype="str"),
            "count": self.counts.to_numpy().ravel().astype(np.int64),
            "rate": self.rates.to_numpy().ravel().astype(np.float64),
        })

    def figures(self) -> dict[str, int]:
        """Counts of upgrades, downgrades, unchanged, new, exits, defaults, newly unrated.

        Upgrades and downgrades are moves between rated states (``1`` … ``D``);
        ``downgrades_2plus`` counts moves of two notches or more; ``new_defaults``
        counts moves into ``D`` from a non-default grade.
        """
        c = self.counts
        rated = list(GRADES)
        block = c.loc[rated, rated].to_numpy()
        idx = np.arange(len(rated))
        diff = idx[None, :] - idx[:, None]  # > 0: worse grade now
        return {
            "debtors_compared": int(c.to_numpy().sum()),
            "unchanged": int(block[diff == 0].sum()),
            "upgrades": int(block[diff < 0].sum()),
            "downgrades": int(block[diff > 0].sum()),
            "downgrades_2plus": int(block[diff >= 2].sum()),
            "new_defaults": int(c.loc[list(GRADES[:-1]), "D"].sum()),
            "new": int(c.loc[NEW].sum()),
            "exits": int(c[EXIT].sum()),
            "newly_unrated": int(c.loc[rated, UNRATED].sum()),
        }


def migration_matrix(previous: pd.Series, current: pd.Series,
                     scope: Iterable[str] | None = None) -> MigrationMatrix:
    """Migration matrix between two runs' grades.

    Parameters
    ----------
    previous, current : pandas.Series
        Grade per debtor (index ``debtor_id``) of the previous and the current
        run; ``NR`` (or a missing value) for a debtor in the run but unrated.
    scope : iterable of str, optional
        Debtors re-rated by the current run (a partial run, ``--debtors``):
        only they are compared. None: the whole book, and a previous debtor
        absent from the current run is an ``exit``.

    Returns
    -------
    MigrationMatrix

    Raises
    ------
    ValueError
        A grade outside :data:`GRADES` and ``NR``, or a duplicated debtor.

    Examples
    --------
    >>> prev = pd.Series({"a": "3", "b": "3", "c": "5"})
    >>> cur = pd.Series({"a": "3", "b": "4", "d": "1"})
    >>> m = migration_matrix(prev, cur)
    >>> int(m.counts.loc["3", "4"]), float(m.rates.loc["3", "3"]), int(m.counts.loc["5", "exit"])
    (1, 0.5, 1)
    >>> int(m.counts.loc["new", "1"])
    1
    """
    prev = _states(previous, "previous")
    cur = _states(current, "current")
    if scope is not None:
        keep = pd.Index(list(scope), dtype="str")
        prev = prev[_member_np(prev.index, keep)]
        cur = cur[_member_np(cur.index, keep)]
    fi, ti = _state_codes(prev, cur)
    cells = np.bincount(fi * len(TO_STATES) + ti, minlength=len(FROM_STATES) * len(TO_STATES))
    counts = pd.DataFrame(cells.reshape(len(FROM_STATES), len(TO_STATES)).astype(np.int64),
                          index=pd.Index(FROM_STATES, name="from_grade"),
                          columns=pd.Index(TO_STATES, name="to_grade"))  # fmt: skip
    totals = counts.sum(axis=1).to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = counts.to_numpy(dtype=np.float64) / totals[:, None]
    rates = pd.DataFrame(np.where(totals[:, None] > 0, share, np.nan), index=counts.index,
                         columns=counts.columns)  # fmt: skip
    return MigrationMatrix(counts, rates)


def _state_codes(prev: pd.Series, cur: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Position in :data:`FROM_STATES` / :data:`TO_STATES` of each debtor's previous and
    current state, over the union of the debtors (the cells counted, in any order).

    The states are looked up on the grades as they are (one Arrow hash lookup each),
    the debtors of the two runs matched by one more (the ids are distinct, see
    :func:`_states`): without previous grades, or with the same debtors in the same
    order in both runs (a full re-rating), not even that one.
    """
    ti = _positions(cur, TO_STATES)
    if len(prev) == 0:
        return np.full(len(cur), FROM_STATES.index(NEW), dtype=np.int64), ti
    fi = _positions(prev, FROM_STATES)
    cur_ids, prev_ids = _text(cur.index), _text(prev.index)
    if len(prev) == len(cur) and bool(pc.all(pc.equal(prev_ids, cur_ids)).as_py()):
        return fi, ti
    at = np.asarray(pc.index_in(cur_ids, value_set=prev_ids).fill_null(-1), dtype=np.int64)
    kept = np.zeros(len(prev), dtype=bool)
    kept[at[at >= 0]] = True
    gone = fi[~kept]  # previous debtors not in the current run: exits
    return (np.concatenate((np.append(fi, FROM_STATES.index(NEW))[at], gone)),
            np.concatenate((ti, np.full(len(gone), TO_STATES.index(EXIT), dtype=np.int64))))


def _positions(states: pd.Series, among: tuple[str, ...]) -> np.ndarray:
    """Position of each (valid, see :func:`_states`) state in ``among``."""
    pos = pc.index_in(_text(states), value_set=pa.array(among, pa.large_string()))
    return np.asarray(pos.fill_null(-1), dtype=np.int64)


def _states(grades: pd.Series, which: str) -> pd.Series:
    s = pd.Series(grades, copy=False)
    if _arrow_text(s):  # text already: only the missing grades to fill (no Python strings)
        s = s.fillna(UNRATED)
    else:
        s = s.astype(object).where(s.notna(), UNRATED).astype(str)
    s.index = pd.Index(s.index.astype(str), dtype="str")
    # (distinct ids in order need no hash table to tell that none comes back)
    if not _strictly_increasing(s.index.to_series()) and \
            len(pc.unique(_text(s.index))) < len(s):  # (an Arrow hash: no Python strings)
        dup = s.index[s.index.duplicated()][0]
        raise ValueError(f"{which} grades: debtor {dup!r} appears more than once; give one "
                         "grade per debtor (see debtor_ratings).")
    bad = ~_member_np(s, pd.Index([*GRADES, UNRATED], dtype="str"))
    if bad.any():
        raise ValueError(f"{which} grades: debtor {s.index[bad][0]!r} has grade "
                         f"{s[bad].iloc[0]!r}; expected one of {', '.join(GRADES)} or "
                         f"{UNRATED}.")
    return s


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
    stay approved up to the old limit. The pairs are joined by Arrow
    (:meth:`pyarrow.Table.join`).

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
    :func:`_compared`) with every current pair (Arrow's full outer join, then sorted
    by key); either side's pairs must be distinct."""
    prev = pair_rows(previous)[[*_KEY, "approved_limit"]]
    cur = cur[[*_KEY, "approved_limit"]]
    for name, frame in (("previous", prev), ("current", cur)):
        dup = frame.duplicated(_KEY)
        if dup.any():
            row = frame[dup].iloc[0]
            raise ValueError(f"{name} decisions: pair ({row['debtor_id']!r}, "
                             f"{row['supplier_id']!r}) appears more than once.")
    ip = np.flatnonzero(previous["supplier_id"].notna().to_numpy(dtype=bool))  # of pair_rows
    keep = _compared(prev["debtor_id"], scope, errored_ids)
    left = pa.table({"debtor_id": _text(prev["debtor_id"]).filter(pa.array(keep)),
                     "supplier_id": _text(prev["supplier_id"]).filter(pa.array(keep)),
                     "_ip": pa.array(ip[keep], pa.int64())})
    right = pa.table({"debtor_id": _text(cur["debtor_id"]),
                      "supplier_id": _text(cur["supplier_id"]),
                      "_ic": pa.array(np.arange(len(cur)), pa.int64())})
    merged = left.join(right, keys=_KEY, join_type="full outer", coalesce_keys=True).sort_by(
        [(k, "ascending") for k in _KEY])
    keys = tuple(merged[c].combine_chunks() for c in _KEY)
    return _Join((keys[0], keys[1]), np.arange(merged.num_rows),
                 np.asarray(merged["_ip"].fill_null(-1), dtype=np.int64),
                 np.asarray(merged["_ic"].fill_null(-1), dtype=np.int64))


def _compared(ids: Any, scope: Iterable[str] | None, errored_ids: pd.Index) -> np.ndarray:
    """Whether each previous pair's debtor is compared: re-rated (in ``scope``, when
    given) and not errored (its previous limits stand)."""
    keep = np.ones(len(ids), dtype=bool)
    if scope is not None:
        keep &= _member_np(ids, pd.Index(list(scope), dtype="str"))
    if len(errored_ids):
        keep &= ~_member_np(ids, errored_ids)
    return keep


def _limits(frame: pd.DataFrame) -> np.ndarray:
    """Approved limits of a decisions frame's rows (missing: 0)."""
    return frame["approved_limit"].fillna(0.0).to_numpy(dtype=np.float64)


def _gather(values: np.ndarray, rows: np.ndarray, absent: Any) -> np.ndarray:
    """``values[rows]``, ``absent`` where a row is -1."""
    return np.append(values, np.array([absent], dtype=values.dtype))[rows]


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Debtors in against debtors out of a run.

    ``ok`` holds when every input debtor came out decided or errored and no
    debtor came out that did not go in. A debtor is *decided* when it has a
    decision row and *errored* when it has error rows and no decision row;
    ``partial`` counts decided debtors that also have error rows (e.g. one of
    their pairs could not be decided): they are decided, not lost.
    ``unidentified`` rows of the debtors table without a debtor id are counted in
    ``debtors_in``, and among the errored when each has its error row
    (``unidentified_errored``).
    """

    debtors_in: int
    decided: int
    errored: int
    partial: int = 0
    missing: tuple[str, ...] = field(default=())
    unexpected: tuple[str, ...] = field(default=())
    unidentified: int = 0
    unidentified_errored: int = 0

    @property
    def ok(self) -> bool:
        """``debtors_in == decided + errored`` with no missing or unexpected id."""
        return (not self.missing and not self.unexpected
                and self.unidentified == self.unidentified_errored
                and self.debtors_in == self.decided + self.errored)  # fmt: skip

    def message(self, shown: int = 5) -> str:
        """What does not add up, naming up to ``shown`` debtors per problem."""
        parts = [f"debtors in {self.debtors_in:,} vs decided {self.decided:,} + errored "
                 f"{self.errored:,} = {self.decided + self.errored:,}"]
        for name, ids in (("neither decided nor errored", self.missing),
                          ("decided but never in", self.unexpected)):
            if ids:
                parts.append(f"{len(ids):,} {name} (e.g. {', '.join(ids[:shown])})")
        if self.unidentified != self.unidentified_errored:
            parts.append(f"{self.unidentified:,} debtors rows without a debtor_id but "
                         f"{self.unidentified_errored:,} error rows for them")
        return "; ".join(parts)


def reconcile(debtors_in: Iterable[str], decided: Iterable[str],
              errored: Iterable[str], *, unidentified: int = 0,
              unidentified_errored: int = 0) -> Reconciliation:
    """Check that every debtor that went in came out, decided or errored.

    Parameters
    ----------
    debtors_in : iterable of str
        Debtor ids of the run's input (distinct ids of the debtors table in scope).
    decided, errored : iterable of str
        Debtor ids with a decision, and debtor ids named by an error row.
    unidentified, unidentified_errored : int, default 0
        Rows of the input debtors table without a debtor id, and the error rows
        naming such a row (its ``missing_value`` of ``debtor_id``): each is one
        debtor in, errored.

    Returns
    -------
    Reconciliation

    Notes
    -----
    Error rows naming a debtor id that is not an input debtor (a record of an
    unknown debtor) are record errors, not debtors out, and are not counted.

    Examples
    --------
    >>> r = reconcile(["a", "b", "c"], ["a", "b"], ["c", "b"])
    >>> r.ok, r.debtors_in, r.decided, r.errored, r.partial
    (True, 3, 2, 1, 1)
    >>> reconcile(["a", "b"], ["a"], []).missing
    ('b',)
    >>> r = reconcile(["a"], ["a"], [], unidentified=1, unidentified_errored=1)
    >>> r.ok, r.debtors_in, r.errored
    (True, 2, 1)
    """
    ins, dec, err = _distinct(debtors_in), _distinct(decided), _distinct(errored)
    # (no error rows: nothing to look up; a lookup builds a hash table of its value set)
    err_in = err.filter(_member(err, ins)) if len(err) else err
    err_dec = _member(err_in, dec) if len(err_in) else pa.array([], pa.bool_())
    only_err = err_in.filter(pc.invert(err_dec))
    if len(only_err) == 0 and len(dec) == len(ins) and (
            len(ins) == 0 or bool(pc.all(pc.equal(dec, ins)).as_py())):
        # every debtor decided, in the same order: nothing missing or unexpected
        missing = unexpected = pa.array([], pa.large_string())
    else:
        out_ = pa.chunked_array([dec, only_err], pa.large_string()).combine_chunks()
        missing = ins.filter(pc.invert(_member(ins, out_)))
        unexpected = dec.filter(pc.invert(_member(dec, ins)))
    return Reconciliation(
        debtors_in=len(ins) + unidentified, decided=len(dec),
        errored=len(only_err) + unidentified_errored,
        partial=int(pc.sum(err_dec).as_py() or 0),
        missing=tuple(sorted(missing.to_pylist())),
        unexpected=tuple(sorted(unexpected.to_pylist())),
        unidentified=unidentified, unidentified_errored=unidentified_errored,
    )


def _distinct(values: Iterable[str]) -> pa.Array:
    """Distinct non-missing ids as Arrow text (pandas, numpy, Arrow or any iterable)."""
    if isinstance(values, pa.ChunkedArray):
        arr: Any = values.combine_chunks()
    elif isinstance(values, pa.Array):
        arr = values
    elif isinstance(values, (pd.Series, pd.Index, np.ndarray)):
        arr = pa.array(pd.Series(values, copy=False).astype("str"), from_pandas=True)
    else:
        arr = pa.array(pd.Series(list(values), dtype="str"), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    if strictly_increasing(arr):
        return arr  # sorted and distinct already (pc.unique would give it back as it is)
    return pc.unique(arr.drop_null())


def _member_np(values: Any, among: Any) -> np.ndarray:
    """``values.isin(among)`` for text ids (one Arrow hash lookup; missing: False)."""
    found = pc.is_in(_text(values), value_set=_text(among), skip_nulls=True)
    return np.asarray(found.fill_null(False), dtype=bool)


def _member(values: pa.Array, among: pa.Array) -> pa.Array:
    """Whether each value is one of ``among`` (hash lookups, no Python loop)."""
    return pc.is_in(values, value_set=among)


def _total(frame: pd.DataFrame, column: str) -> float | None:
    if column not in frame.columns:
        return None
    return float(np.nansum(frame[column].to_numpy(dtype=np.float64)))


def concentration(decisions: pd.DataFrame, book: pd.DataFrame | None = None
                  ) -> dict[str, float]:
    """HHI of the pair rows' approved limits (missing: 0) by debtor name, and with a
    ``book`` (see :func:`run_summary`) by group, sector and country.

    Examples
    --------
    >>> d = pd.DataFrame({"debtor_id": ["a", "a", "b"], "supplier_id": ["s", "t", "s"],
    ...                   "approved_limit": [30.0, 20.0, 50.0]})
    >>> concentration(d)
    {'name': 0.5}
    """
    pairs = pair_rows(decisions)
    limits = pairs["approved_limit"].fillna(0.0).to_numpy(dtype=np.float64) if len(pairs) else (
        np.zeros(0))
    return _hhis(pairs, book, limits)


def _hhis(pairs: pd.DataFrame, book: pd.DataFrame | None, limits: np.ndarray
          ) -> dict[str, float]:
    """HHI of the approved limits by debtor name, and by group, sector and country.

    A missing group is the debtor itself; a pair with a missing sector or country is
    left out of that dimension (as missing text keys are). The keys are passed to :func:`~riskengine.policy.portfolio.hhi` as
    integer codes in order of first appearance: the same groups, summed in the
    same order, as the text keys, without hashing a million Python strings.
    """
    ids = _text(pairs["debtor_id"])
    book_ids = _text(book["debtor_id"]) if book is not None and "debtor_id" in book.columns \
        else None
    runs = _runs_over(ids, book_ids)
    if runs is not None and book is not None:
        # pairs sorted by debtor, every book debtor has pairs, in book order: a pair's
        # book row is its run number, and a key's code (order of first appearance) is
        # the code of its book row
        hhis = {"name": hhi(runs, limits)}
        for dim, col in (("group", "group_id"), ("sector", "sector"), ("country", "country")):
            if col in book.columns:
                keys = _text(book[col])
                codes = _group_codes(keys, book_ids) if dim == "group" else _codes(keys)
                hhis[dim] = hhi(codes[runs], limits)
        return hhis
    hhis = {"name": hhi(_codes(ids), limits)}
    if book is None or not len(pairs):
        return hhis
    pos = None
    if book_ids is not None and book_ids.null_count == 0 and \
            len(pc.unique(book_ids)) == len(book_ids):
        pos = pc.index_in(ids, value_set=book_ids)
    if pos is None or pos.null_count:  # a debtor outside the book, or a book with duplicates
        return _hhis_merge(pairs, book, limits, hhis)
    for dim, col in (("group", "group_id"), ("sector", "sector"), ("country", "country")):
        if col in book.columns:
            keys = _text(book[col]).take(pos)
            if dim == "group":
                keys = pc.coalesce(keys, ids)
            hhis[dim] = hhi(_codes(keys), limits)
    return hhis


def _runs_over(ids: pa.Array, book_ids: pa.Array | None) -> np.ndarray | None:
    """Run number of each id when ``ids`` are sorted and their distinct values are
    exactly ``book_ids`` in the same order (int64), else None."""
    n = len(ids)
    if book_ids is None or n == 0 or ids.null_count or book_ids.null_count:
        return None
    starts = np.flatnonzero(np.concatenate((
        [True], np.asarray(pc.not_equal(ids.slice(1), ids.slice(0, n - 1))))))
    firsts = ids.take(pa.array(starts))
    if len(firsts) != len(book_ids) or not bool(pc.all(pc.equal(firsts, book_ids)).as_py()):
        return None
    if not strictly_increasing(firsts):
        return None  # an id that comes back later: not sorted
    lengths = np.diff(np.append(starts, n))
    return np.repeat(np.arange(len(starts), dtype=np.int64), lengths)


def _hhis_merge(pairs: pd.DataFrame, book: pd.DataFrame, limits: np.ndarray,
                hhis: dict[str, float]) -> dict[str, float]:
    joined = pairs[["debtor_id"]].merge(book, on="debtor_id", how="left")
    for dim, col in (("group", "group_id"), ("sector", "sector"), ("country", "country")):
        if col in joined.columns:
            keys = joined[col].astype(object)
            if dim == "group":
                keys = keys.where(keys.notna(), joined["debtor_id"].astype(object))
            hhis[dim] = hhi(keys.astype(str).to_numpy(), limits)
    return hhis


def _arrow_text(s: pd.Series) -> bool:
    """Whether a series holds Arrow-backed text (pandas' ``str``)."""
    return isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"


def _text(values: Any) -> pa.Array:
    """A column as one Arrow ``large_string`` array (missing values null)."""
    if isinstance(values, pa.Array) and values.type == pa.large_string():
        return values
    s = pd.Series(values, copy=False)
    if not _arrow_text(s):
        s = s.astype(object).where(s.notna(), None).map(
            lambda v: v if v is None else str(v)).astype("str")
    arr = pa.array(s.array, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


def _codes(keys: pa.Array) -> np.ndarray:
    """Code of each key in order of first appearance; NaN for a missing key (which
    :func:`~riskengine.policy.portfolio.hhi` leaves out, as it leaves out missing text)."""
    enc = pc.dictionary_encode(keys)
    codes = enc.indices.cast(pa.float64()).fill_null(np.nan) if enc.null_count else \
        enc.indices
    return np.asarray(codes, dtype=np.float64 if enc.null_count else np.int64)


def _group_codes(groups: pa.Array, ids: pa.Array) -> np.ndarray:
    """``_codes(pc.coalesce(groups, ids))`` for distinct, present ``ids`` (a debtor
    without a group is its own group).

    Only the groups are hashed (a few, mostly missing), not a million debtor ids: each
    debtor without a group opens a key of its own unless its id is also a group's.
    """
    enc = pc.dictionary_encode(groups)
    own = pc.is_null(groups)
    if enc.null_count == 0 or len(enc.dictionary) == 0 or bool(pc.any(pc.is_in(
            ids.filter(own), value_set=enc.dictionary)).as_py()):
        return _codes(pc.coalesce(groups, ids))
    group = np.asarray(enc.indices.fill_null(-1), dtype=np.int64)
    # the groups' codes count in order of first appearance: a row whose group code
    # passes every code before it is that group's first row
    highest = np.maximum.accumulate(group)
    opens = group > np.concatenate(([-1], highest[:-1]))
    opens |= group < 0
    code = np.cumsum(opens, dtype=np.int64) - 1  # a key's code, on the row that opens it
    return np.where(group < 0, code, code[opens & (group >= 0)][np.maximum(group, 0)])


def run_summary(
    decisions: pd.DataFrame,
    errors: pd.DataFrame,
    reconciliation: Reconciliation,
    *,
    previous: pd.DataFrame | None = None,
    book: pd.DataFrame | None = None,
    migration: MigrationMatrix | None = None,
    actions: pd.DataFrame | None = None,
    psi_bins: int = 10,
    ratings: pd.DataFrame | None = None,
    decision_rows: int | None = None,
    hhis: Mapping[str, float] | None = None,
    previous_ratings: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Figures of a run: counts, grade distribution, PSI, totals, concentration.

    Parameters
    ----------
    decisions, errors : pandas.DataFrame
        The run's decisions and error rows.
    reconciliation : Reconciliation
        From :func:`reconcile`.
    previous : pandas.DataFrame, optional
        The previous run's decisions: PSI of the debtors' PDs against it
        (quantile bins of the previous PDs), with the 0.10 / 0.25 light of
        :func:`riskengine.model.metrics.psi_light`.
    book : pandas.DataFrame, optional
        Per debtor (``debtor_id``) its ``group_id``, ``sector`` and ``country``
        for the HHI by those dimensions; without it only the HHI by name.
    migration, actions : optional
        The migration matrix and limit actions, summarised.
    psi_bins : int, default 10
    ratings : pandas.DataFrame, optional
        ``debtor_ratings(decisions)`` when the caller already has it (then
        ``decisions`` may hold the pair rows only).
    decision_rows : int, optional
        Rows of the run's decisions (default ``len(decisions)``).
    hhis : mapping of str to float, optional
        ``concentration(decisions, book)`` when the caller already has it (then
        ``book`` is not read).
    previous_ratings : pandas.DataFrame, optional
        ``debtor_ratings(previous)`` when the caller already has it.

    Returns
    -------
    dict
        JSON-ready (floats, ints, strings, dicts; NaN where undefined).

    Notes
    -----
    Totals and HHIs are over the pair rows; HHIs are of the approved limits
    (the book the factor commits to), summed over currencies as they are.
    """
    pairs = pair_rows(decisions)
    if ratings is None:
        ratings = debtor_ratings(decisions)
    dist = ratings["grade"].fillna(UNRATED).value_counts()
    grades = {g: int(dist.get(g, 0)) for g in (*GRADES, UNRATED)}
    out: dict[str, Any] = {
        "debtors_in": reconciliation.debtors_in,
        "debtors_decided": reconciliation.decided,
        "debtors_errored": reconciliation.errored,
        "debtors_decided_with_errors": reconciliation.partial,
        "reconciled": reconciliation.ok,
        "decision_rows": len(decisions) if decision_rows is None else int(decision_rows),
        "pair_decisions": len(pairs),
        "error_rows": len(errors),
        "grade_distribution": grades,
    }
    if "decision_type" in pairs.columns:
        types = pairs["decision_type"].astype("str").value_counts().sort_index()
        out["decision_types"] = {str(k): int(v) for k, v in types.items()}
    if "reason" in errors.columns and len(errors):
        reasons = errors["reason"].astype("str").value_counts().sort_index()
        out["error_reasons"] = {str(k): int(v) for k, v in reasons.items()}
    totals = {name: _total(pairs, col) for name, col in (
        ("approved_limit", "approved_limit"),
        ("cover", "insured_limit" if "insured_limit" in pairs.columns else "cover"),
        ("retained_exposure", "retained_exposure"), ("expected_loss", "expected_loss"))}
    out["totals"] = {k: v for k, v in totals.items() if v is not None}
    out["hhi"] = dict(concentration(pairs, book) if hhis is None else hhis)
    if previous is not None:
        from riskengine.model.metrics import psi, psi_light  # scipy: only when compared

        if previous_ratings is None:
            previous_ratings = debtor_ratings(previous)
        prev_pd = previous_ratings["pd"].to_numpy(dtype=np.float64)
        cur_pd = ratings["pd"].to_numpy(dtype=np.float64)
        ok = np.isfinite(prev_pd).any() and np.isfinite(cur_pd).any()
        value = psi(prev_pd, cur_pd, bins=psi_bins) if ok else float("nan")
        out["psi"] = {"value": value, "light": psi_light(value), "bins": psi_bins,
                      "previous_debtors": int(prev_pd.size)}  # fmt: skip
    if migration is not None:
        out["migration"] = migration.figures()
    if actions is not None:
        counts = actions["action"].value_counts() if len(actions) else pd.Series(dtype=int)
        out["limit_actions"] = {a: int(counts.get(a, 0)) for a in LIMIT_ACTIONS[1:]}
    return out

