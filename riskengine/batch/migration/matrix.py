"""Debtor ratings of a run and the migration matrix between two runs (states: see
:mod:`riskengine.batch.migration`); the Arrow text helpers the comparisons share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.contracts.arrowtext import large_text, strictly_increasing, text_member
from riskengine.model.master_scale import GRADES, UNRATED

NEW = "new"
EXIT = "exit"
#: Row states of the migration matrix (previous run).
FROM_STATES: tuple[str, ...] = (*GRADES, UNRATED, NEW)
#: Column states of the migration matrix (current run).
TO_STATES: tuple[str, ...] = (*GRADES, UNRATED, EXIT)

#: Columns of the previous run's decisions read by the comparison with it
#: (:func:`debtor_ratings`, :func:`limit_actions`, the PSI of :func:`run_summary`).
PREVIOUS_COLUMNS: tuple[str, ...] = ("debtor_id", "supplier_id", "grade", "pd", "approved_limit",
                                     "currency", "approved_limit_base")

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
            or bool(pc.all(pc.is_in(large_text(decisions.loc[rank == 1, "debtor_id"]),
                                    value_set=large_text(rated["debtor_id"]))).as_py())):
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
    arr = large_text(ids)
    same = np.asarray(pc.equal(arr.slice(1), arr.slice(0, n - 1)).fill_null(False))
    return bool(same[rank[1:] == 1].all())


def _strictly_increasing(ids: Any) -> bool:
    """Whether the ids are present, distinct and sorted (one Arrow pass)."""
    return strictly_increasing(large_text(ids))


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
        prev = prev[text_member(prev.index, keep)]
        cur = cur[text_member(cur.index, keep)]
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
    cur_ids, prev_ids = large_text(cur.index), large_text(prev.index)
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
    pos = pc.index_in(large_text(states), value_set=pa.array(among, pa.large_string()))
    return np.asarray(pos.fill_null(-1), dtype=np.int64)


def _states(grades: pd.Series, which: str) -> pd.Series:
    s = pd.Series(grades, copy=False)
    if _arrowlarge_text(s):  # text already: only the missing grades to fill (no Python strings)
        s = s.fillna(UNRATED)
    else:
        s = s.astype(object).where(s.notna(), UNRATED).astype(str)
    s.index = pd.Index(s.index.astype(str), dtype="str")
    # (distinct ids in order need no hash table to tell that none comes back)
    if not _strictly_increasing(s.index.to_series()) and \
            len(pc.unique(large_text(s.index))) < len(s):  # (an Arrow hash: no Python strings)
        dup = s.index[s.index.duplicated()][0]
        raise ValueError(f"{which} grades: debtor {dup!r} appears more than once; give one "
                         "grade per debtor (see debtor_ratings).")
    bad = ~text_member(s, pd.Index([*GRADES, UNRATED], dtype="str"))
    if bad.any():
        raise ValueError(f"{which} grades: debtor {s.index[bad][0]!r} has grade "
                         f"{s[bad].iloc[0]!r}; expected one of {', '.join(GRADES)} or "
                         f"{UNRATED}.")
    return s


def _arrowlarge_text(s: pd.Series) -> bool:
    """Whether a series holds Arrow-backed text (pandas' ``str``)."""
    return isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"
