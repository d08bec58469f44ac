"""The chunks of a rerate run: debtor-id ranges (:class:`ChunkPlan`), a frame's rows by
chunk, and the run's scope (``--debtors``, ``--changed-since``).

Chunk boundaries are debtor ids (the sorted ids of the debtors table, every
``chunk_size``-th id starts a chunk): every record of a debtor lands in the chunk of
its id, records naming an unknown debtor in the chunk whose id range holds it (so
validation reports them), records without a debtor id in chunk 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from riskengine.batch.options import RerateOptions
from riskengine.contracts.arrowtext import large_text, strictly_increasing, text_member
from riskengine.contracts.dates import parse_date
from riskengine.contracts.schemas import ERROR_COLUMNS


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """Chunks of debtors: chunk ``k`` holds the debtor ids in ``[bounds[k], bounds[k+1])``.

    Attributes
    ----------
    ids : pandas.Index of str
        Sorted distinct debtor ids of the run.
    chunk_size : int
    bounds : tuple of str
        First debtor id of each chunk.
    """

    ids: pd.Index
    chunk_size: int
    bounds: tuple[str, ...]

    @property
    def n_chunks(self) -> int:
        """Number of chunks (at least 1, even for an empty portfolio)."""
        return max(len(self.bounds), 1)

    def range_of(self, k: int) -> tuple[str | None, str | None]:
        """``(lo, hi)`` of chunk ``k``: ids ``lo <= id < hi``; None is unbounded."""
        lo = None if k == 0 else self.bounds[k]
        hi = self.bounds[k + 1] if k + 1 < len(self.bounds) else None
        return lo, hi

    def chunk_of(self, debtor_ids: pd.Series) -> np.ndarray:
        """Chunk number of each record's debtor id (int64; a missing id: chunk 0)."""
        pos = self.ids.get_indexer(debtor_ids)
        out = np.where(pos >= 0, pos // self.chunk_size, 0).astype(np.int64)
        lost = pos < 0
        if lost.any() and len(self.bounds):
            values = debtor_ids.to_numpy(dtype=object)[lost]
            present = pd.notna(values)
            where = np.zeros(len(values), dtype=np.int64)
            keys = np.asarray(self.bounds, dtype=object)
            where[present] = np.searchsorted(keys, values[present].astype(str), side="right") - 1
            out[lost] = np.clip(where, 0, None)
        return out


def plan_chunks(debtor_ids: pd.Series, chunk_size: int) -> ChunkPlan:
    """Chunk boundaries on the sorted distinct debtor ids.

    Examples
    --------
    >>> p = plan_chunks(pd.Series(["d3", "d1", "d2", "d1", "d5"]), 2)
    >>> p.bounds, p.range_of(0), p.range_of(1)
    (('d1', 'd3'), (None, 'd3'), ('d3', None))
    >>> p.chunk_of(pd.Series(["d2", "d4", "d0", None])).tolist()
    [0, 1, 0, 0]
    """
    if isinstance(debtor_ids.dtype, pd.StringDtype) and debtor_ids.dtype.storage == "pyarrow":
        arr = large_text(debtor_ids)  # Arrow text: sorted and distinct ids need no sort
        arr = arr.drop_null() if arr.null_count else arr
        if not strictly_increasing(arr):
            arr = pc.unique(arr)
            arr = arr.take(pc.sort_indices(arr))
        ids = pd.Index(pd.array(arr, dtype="str"))
    else:
        ids = pd.Index(pd.Series(pd.unique(debtor_ids.dropna().astype(str))).sort_values(),
                       dtype="str")
    bounds = tuple(str(x) for x in ids[::chunk_size])
    return ChunkPlan(ids, chunk_size, bounds)


@dataclass(frozen=True, slots=True)
class _Slices:
    """Per table: row order and chunk offsets, so chunk ``k`` is ``order[off[k]:off[k+1]]``."""

    order: dict[str, np.ndarray | None]
    offsets: dict[str, np.ndarray]


def _slices(frames: Mapping[str, pd.DataFrame], plan: ChunkPlan) -> _Slices:
    order: dict[str, np.ndarray | None] = {}
    offsets: dict[str, np.ndarray] = {}
    edges = np.arange(plan.n_chunks + 1)
    for name, frame in frames.items():
        if "debtor_id" not in frame.columns:
            continue
        fast = _sorted_offsets(frame["debtor_id"], plan)
        if fast is not None:  # sorted ids, none missing: chunks are row ranges
            order[name], offsets[name] = None, fast
            continue
        c = plan.chunk_of(frame["debtor_id"])
        if c.size and (np.diff(c) < 0).any():
            o = np.argsort(c, kind="stable")
            order[name], c = o, c[o]
        else:
            order[name] = None
        offsets[name] = np.searchsorted(c, edges, side="left")
    return _Slices(order, offsets)


def _sorted_offsets(ids: pd.Series, plan: ChunkPlan) -> np.ndarray | None:
    """Chunk offsets of a table whose debtor ids are sorted and present, else None.

    Chunk ``k`` holds the ids in ``[bounds[k], bounds[k+1])`` (ids below the first
    bound in chunk 0), so on sorted ids each chunk is one range of rows, found by
    binary search (:meth:`ChunkPlan.chunk_of` gives the same chunks).
    """
    if not (isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow"):
        return None
    arr = large_text(ids)
    n = len(arr)
    if arr.null_count:
        return None
    if n > 1 and not pc.all(pc.less_equal(arr.slice(0, n - 1), arr.slice(1))).as_py():
        return None

    def lower(key: str) -> int:  # first row with id >= key
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            if arr[mid].as_py() < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    return np.asarray([0] + [lower(b) for b in plan.bounds[1:]] + [n], dtype=np.int64)


def _chunk(frames: Mapping[str, pd.DataFrame], sl: _Slices, k: int) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    for name, frame in frames.items():
        if name not in sl.offsets:
            out[name] = frame
            continue
        a, b = int(sl.offsets[name][k]), int(sl.offsets[name][k + 1])
        o = sl.order[name]
        part = frame.iloc[a:b] if o is None else frame.iloc[o[a:b]]
        out[name] = part.reset_index(drop=True)
    return out


def changed_debtors(frames: Mapping[str, pd.DataFrame], since: Any) -> pd.Index:
    """Debtors with a record dated after ``since`` (their inputs changed).

    A debtor changed when any of its records is dated strictly after ``since``:
    a statement's ``period_end``, an adverse record's ``event_date`` or
    ``settlement_date``, an invoice's ``issue_date`` or ``paid_date``, an insurer
    limit's ``decision_date`` or ``effective_date`` (a new answer, a reduction taking
    effect), or its own ``incorporation_date``. Exposures and relations carry no dates:
    a changed limit request is re-rated with ``--debtors``.

    Returns
    -------
    pandas.Index of str
        Sorted distinct debtor ids.

    Examples
    --------
    >>> st = pd.DataFrame({"debtor_id": ["a", "b"],
    ...                    "period_end": pd.to_datetime(["2025-12-31", "2024-12-31"])})
    >>> changed_debtors({"statements": st}, "2025-06-30").tolist()
    ['a']
    """
    day = pd.Timestamp(parse_date(since, "changed_since"))
    columns = {"debtors": ("incorporation_date",), "statements": ("period_end",),
               "adverse_records": ("event_date", "settlement_date"),
               "invoices": ("issue_date", "paid_date"),
               "insurer_limits": ("decision_date", "effective_date")}  # fmt: skip
    hits: list[pd.Series] = []
    for table, cols in columns.items():
        frame = frames.get(table)
        if frame is None or "debtor_id" not in frame.columns:
            continue
        for col in cols:
            if col not in frame.columns:
                continue
            dates = pd.to_datetime(frame[col], errors="coerce")
            hits.append(frame.loc[(dates > day).to_numpy(), "debtor_id"])
    if not hits:
        return pd.Index([], dtype="str")
    ids = pd.concat(hits).dropna().astype("str")
    return pd.Index(pd.unique(ids), dtype="str").sort_values()


def _scope(opts: RerateOptions, frames: Mapping[str, pd.DataFrame],
           previous: pd.DataFrame | None) -> tuple[list[str] | None, list[str]]:
    """(scope ids or None for the whole book, requested ids that are not in the portfolio)."""
    if opts.debtors is None and opts.changed_since is None:
        return None, []
    known = pd.Index(frames["debtors"]["debtor_id"].dropna().astype("str").unique())
    if opts.debtors is not None:
        wanted = pd.Index(sorted(set(opts.debtors)), dtype="str")
        hit = text_member(wanted, known)
        return wanted[hit].tolist(), wanted[~hit].tolist()
    if opts.changed_since is not None:
        ids = changed_debtors(frames, opts.changed_since)
        if previous is not None and len(previous):
            ids = ids.union(known[~text_member(known, previous["debtor_id"])])
        return ids[text_member(ids, known)].sort_values().tolist(), []
    return None, []


def _not_in_portfolio(ids: Sequence[str]) -> pd.DataFrame:
    rows = [{"table": "debtors", "record": i, "debtor_id": i, "column": "debtor_id",
             "value": i, "reason": "not_in_portfolio",
             "message": f"Debtor {i!r} was asked for with --debtors but is not in the "
                        "portfolio's debtors table; check the id or the portfolio."}
            for i in ids]  # fmt: skip
    return pd.DataFrame(rows, columns=list(ERROR_COLUMNS))
