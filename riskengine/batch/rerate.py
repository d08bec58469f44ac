"""``riskengine rerate``: re-rate a whole portfolio (or the debtors whose inputs changed).

Shell layer: reads the portfolio, splits it into chunks of debtors, decides every
chunk with the :class:`~riskengine.scoring.engine.Engine`, checkpoints each chunk's output
atomically, then assembles the outputs, compares them with the previous run and
logs the run to MLflow. docs/BATCH.md is the operator's guide.

Outputs (in ``--out``)
----------------------
``decisions/`` (a Parquet dataset: ``part-00000.parquet``, ... one file per
chunk, :mod:`riskengine.batch.dataset`), ``errors.parquet``,
``limit_actions.parquet``, ``migration.parquet`` (long form: from_grade,
to_grade, count, rate), ``summary.parquet`` (figure, value, text) and
``summary.json``: all byte-identical for the same inputs, model, policy, as-of date, scope and chunk
size. ``run.json`` holds what differs from run to run (wall-clock start, elapsed
seconds, chunks resumed, MLflow run id, paths).

Determinism
-----------
``decided_at`` of every decision is the as-of date at midnight UTC
(``YYYY-MM-DDT00:00:00Z``): a decision is dated by the information it used, not
by the wall clock. The wall-clock start of the run is in ``run.json`` and in
MLflow, never in the decision files. Parquet files are written by pyarrow with a
fixed writer, no index and no timestamps in their metadata; rows are sorted by
``debtor_id`` (then ``supplier_id``, a debtor's rating row first) within a chunk,
and the parts' names follow the chunks' order.

Reliability
-----------
- Chunk boundaries are debtor ids (the sorted ids of the debtors table, every
  ``chunk_size``-th id starts a chunk): every record of a debtor lands in the
  chunk of its id, records naming an unknown debtor in the chunk whose id range
  holds it (so validation reports them), records without a debtor id in chunk 0.
- Every file is written to a temporary file in its directory and moved
  into place with :func:`os.replace`. Each chunk's decisions (its part of the
  ``decisions`` dataset), summary columns and errors (Arrow IPC) are
  checkpointed under ``OUT/_checkpoints`` followed by a ``.done`` marker; a run
  killed at any point (SIGKILL included) and started again with the same
  command skips the chunks it finds done. A checkpoint directory written for
  other inputs, model, policy or options (its ``run_key``) is discarded.
- The parts are moved into ``OUT/decisions`` only after the run reconciles
  (:func:`riskengine.batch.dataset.publish`: renamed, no byte copied). The
  decisions travel as Arrow from the engine
  (:meth:`riskengine.scoring.engine.Engine.decide_table`) to the workers' Parquet
  encoder: no Python object per decision or reason code.
- Debtors in = decided + errored, checked before the outputs are written; a run
  that does not reconcile raises :class:`RerateError` and writes no outputs.
- One run per output directory at a time (an ``flock`` on ``OUT/.lock``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import hashlib
import io
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from riskengine.batch import migration as mig
from riskengine.batch.dataset import DIRNAME, decisions_path, part_files, publish
from riskengine.batch.migration.herfindahl import _runs_over
from riskengine.batch.migration.matrix import _strictly_increasing
from riskengine.contracts.arrowtext import strictly_increasing
from riskengine.contracts.dates import batch_as_of, parse_date
from riskengine.contracts.schemas import CONTRACTS, ERROR_COLUMNS
from riskengine.errors import RerateError, RiskEngineError
from riskengine.io.outputs import claim_rerate_out
from riskengine.io.portfolio import atomic_write, check_portfolio
from riskengine.validation.columns import _blank

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "OUTPUT_FILES",
    "RerateError",
    "RerateOptions",
    "RerateResult",
    "ChunkPlan",
    "plan_chunks",
    "changed_debtors",
    "run_rerate",
    "rerate_command",
    "add_rerate_arguments",
    "default_workers",
    "main",
]

DEFAULT_CHUNK_SIZE = 100_000
CHECKPOINTS = "_checkpoints"
#: Deterministic outputs of a run (``run.json`` is written beside them).
OUTPUT_FILES: tuple[str, ...] = (
    DIRNAME, "errors.parquet", "limit_actions.parquet", "migration.parquet",
    "summary.parquet", "summary.json",
)  # fmt: skip
RUN_INFO = "run.json"
#: Exit status of ``riskengine rerate`` when the run finished but failed (:func:`run_failure`).
FAILED_RUN_EXIT = 3
EXPERIMENT = "riskengine-rerate"
#: Bump when the layout of checkpoints or outputs changes: old checkpoints are discarded.
#: 5: decisions as a Parquet dataset, one part per chunk; 4: reason codes as fields
FORMAT_VERSION = 5
#: Seconds to sleep after each chunk (debugging and the kill-and-resume test only).
THROTTLE_ENV = "RISKENGINE_RERATE_THROTTLE"
_DEBTOR_TABLES = ("debtors", "statements", "adverse_records", "invoices", "exposures",
                  "relations")  # fmt: skip


# --------------------------------------------------------------------------- options


@dataclass(frozen=True, slots=True)
class RerateOptions:
    """Options of one run (the command's flags).

    Attributes
    ----------
    portfolio, out : Path
        Portfolio directory (docs/DATA_LAYOUT.md) and output directory.
    as_of : str or None
        As-of date ``YYYY-MM-DD``; None: the portfolio manifest's ``as_of``
        (the extract date). A date after the extract date is refused unless
        ``allow_as_of_after_extract`` (:func:`riskengine.contracts.dates.batch_as_of`).
    allow_as_of_after_extract : bool
        Accept an ``as_of`` after the manifest's ``as_of``.
    previous : Path or None
        Output directory of the previous run (its ``decisions`` dataset, or the
        ``decisions.parquet`` of a run before the dataset layout).
    engine : {"pandas", "spark"}
    debtors : tuple of str or None
        Re-rate only these debtors.
    changed_since : str or None
        Re-rate only debtors with a record dated after this date (see
        :func:`changed_debtors`), and debtors absent from ``previous``.
    chunk_size : int
        Debtors per chunk.
    workers : int
        Processes deciding chunks in parallel (pandas engine); 1 here, the machine's
        cores for the command (:func:`default_workers`).
    spark_master : str
        Spark master URL (``local[*]`` by default).
    model_dir, policy_path : str or None
        Engine artifacts; None: the shipped champion and policy.
    tracking_uri : str or None
        MLflow tracking URI (None: :func:`riskengine.tracking.runs.default_tracking_uri`).
    tracking : bool
        Log the run to MLflow.
    progress : bool or None
        Progress bar; None: only when stderr is a terminal.
    max_error_share : float
        The command fails (:func:`run_failure`) when more than this share of the
        debtors in errored (default 0.5), or when none was decided.
    """

    portfolio: Path
    out: Path
    as_of: str | None = None
    previous: Path | None = None
    engine: str = "pandas"
    debtors: tuple[str, ...] | None = None
    changed_since: str | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    workers: int = 1
    spark_master: str = "local[*]"
    model_dir: str | None = None
    policy_path: str | None = None
    tracking_uri: str | None = None
    tracking: bool = True
    progress: bool | None = None
    max_error_share: float = 0.5
    allow_as_of_after_extract: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_error_share <= 1.0:  # NaN fails too
            raise RerateError("--max-error-share must be a share between 0 and 1, got "
                              f"{self.max_error_share}.")
        if self.as_of is not None:
            parse_date(self.as_of, "--as-of")
        if self.changed_since is not None:
            parse_date(self.changed_since, "--changed-since")
        if self.engine not in ("pandas", "spark"):
            raise RerateError(f"--engine must be 'pandas' or 'spark', got {self.engine!r}.")
        if self.chunk_size < 1:
            raise RerateError(f"--chunk-size must be at least 1, got {self.chunk_size}.")
        if self.workers < 1:
            raise RerateError(f"--workers must be at least 1, got {self.workers}.")
        if self.debtors is not None and self.changed_since is not None:
            raise RerateError("Give --debtors or --changed-since, not both.")


@dataclass(frozen=True, slots=True)
class RerateResult:
    """Outcome of :func:`run_rerate`."""

    out: Path
    summary: dict[str, Any]
    chunks: int
    chunks_resumed: int
    run_key: str
    run_id: str | None = None
    elapsed_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- chunking


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
        arr = _text_array(debtor_ids)  # Arrow text: sorted and distinct ids need no sort
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


def _text_array(values: Any) -> pa.Array:
    """Values (pandas, numpy, Arrow or a list) as one Arrow ``large_string`` array."""
    if isinstance(values, pa.ChunkedArray):
        arr: Any = values.combine_chunks()
    elif isinstance(values, pa.Array):
        arr = values
    else:
        arr = pa.array(pd.Series(values, copy=False), from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    return arr


def _member(values: Any, among: Any) -> np.ndarray:
    """``values.isin(among)`` for text ids as one Arrow hash lookup (missing: False).

    (pandas' ``isin`` on Arrow-backed text walks ``among`` value by value in Python.)
    """
    arr = _text_array(values)
    found = pc.is_in(arr, value_set=_text_array(among), skip_nulls=True)
    return np.asarray(found.fill_null(False), dtype=bool)


def _sorted_offsets(ids: pd.Series, plan: ChunkPlan) -> np.ndarray | None:
    """Chunk offsets of a table whose debtor ids are sorted and present, else None.

    Chunk ``k`` holds the ids in ``[bounds[k], bounds[k+1])`` (ids below the first
    bound in chunk 0), so on sorted ids each chunk is one range of rows, found by
    binary search (:meth:`ChunkPlan.chunk_of` gives the same chunks).
    """
    if not (isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow"):
        return None
    arr = _text_array(ids)
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


def read_chunk(portfolio: Path, plan_range: tuple[str | None, str | None],
               scope: Sequence[str] | None) -> dict[str, pd.DataFrame]:
    """Read one chunk of a portfolio directory: the records whose debtor id is in range.

    Used by the Spark executors (the pandas path's workers read only the tables of
    :func:`worker_tables`, with :func:`read_range`, and slice the others in memory).
    Parquet tables are read with a row filter; CSV tables are read whole.
    Gives the same frames as slicing :func:`riskengine.io.portfolio.read_portfolio`.
    """
    from riskengine.io.portfolio import read_portfolio

    lo, hi = plan_range
    manifest_fmt = _manifest(portfolio).get("format", "parquet")
    if manifest_fmt != "parquet":
        frames, _ = read_portfolio(portfolio, check=False)  # the driver checked it
        return _restrict(frames, lo, hi, scope)
    frames = _read_filtered(portfolio, _range_filter(lo, hi))
    return _restrict(frames, lo, hi, scope)


def _range_filter(lo: str | None, hi: str | None) -> Any:
    """The Arrow filter of a chunk's records: ``lo <= debtor_id < hi``, and for the
    first chunk also the records without a debtor id (None: every record)."""
    expr: Any = None
    if hi is not None:
        expr = pc.field("debtor_id") < hi
    if lo is not None:
        low = pc.field("debtor_id") >= lo
        expr = low if expr is None else (low & expr)
    elif expr is not None:
        expr = expr | pc.field("debtor_id").is_null()
    return expr


def read_range(file: Path, table: str, lo: str | None, hi: str | None) -> pd.DataFrame:
    """Chunk ``[lo, hi)`` of one Parquet table, as slicing the whole read gives it.

    Only for a file that :func:`riskengine.io.portfolio.chunk_readable` accepts:
    its dtypes then do not depend on the rows outside the range. Records without
    a debtor id belong to the first chunk (``lo`` None), as in
    :meth:`ChunkPlan.chunk_of`. Only the row groups that may hold records of the
    range are decoded (by their ``debtor_id`` statistics), in one thread (the
    workers already use every core); of those, a row group whose statistics do
    not place all its records in the range is cut to its records in the range
    (a slice when they are contiguous, as in a sorted table).
    """
    from riskengine.io import portfolio as portfolio_io

    try:
        pf = pq.ParquetFile(file)
        meta = pf.metadata
        groups = _range_groups(meta, lo, hi)
        data = pf.read_row_groups([g for g, _ in groups], use_threads=False)
    except (OSError, ValueError, pa.ArrowException) as exc:  # garbled pages
        raise portfolio_io.unreadable(file, "Parquet", exc) from None
    keep = np.ones(data.num_rows, dtype=bool)
    start = 0
    for g, whole in groups:
        n = meta.row_group(g).num_rows
        if not whole:
            keep[start:start + n] = _in_range(data.column("debtor_id").slice(start, n), lo, hi)
        start += n
    return portfolio_io._coerce(table, _rows(data, keep).to_pandas(split_blocks=True))


def _range_groups(meta: pq.FileMetaData, lo: str | None, hi: str | None
                  ) -> list[tuple[int, bool]]:
    """The row groups that may hold records of chunk ``[lo, hi)``, in file order, each
    with whether its ``debtor_id`` statistics place all of its records in the chunk
    (a row group without statistics may hold any)."""
    col = meta.schema.names.index("debtor_id")
    out: list[tuple[int, bool]] = []
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        st = rg.column(col).statistics
        nulls = st.null_count if st is not None and st.has_null_count else None
        has_nulls = nulls != 0  # unknown: may have
        if nulls == rg.num_rows:  # missing ids only
            touches, inside = False, True
        elif st is not None and st.has_min_max:
            low, high = str(st.min), str(st.max)
            touches = (lo is None or high >= lo) and (hi is None or low < hi)
            inside = (lo is None or low >= lo) and (hi is None or high < hi)
        else:
            touches, inside = True, False
        if touches or (lo is None and has_nulls):
            out.append((g, inside and (lo is None or not has_nulls)))
    return out


def _in_range(ids: pa.ChunkedArray, lo: str | None, hi: str | None) -> np.ndarray:
    """Which of ``ids`` are in chunk ``[lo, hi)`` (a missing id: in the first chunk)."""
    keep = np.ones(len(ids), dtype=bool)
    if lo is not None:  # a missing id is not >= lo
        keep &= pc.greater_equal(ids, lo).fill_null(False).to_numpy()
    if hi is not None:
        keep &= pc.less(ids, hi).fill_null(True).to_numpy()
    return keep


def _rows(data: pa.Table, keep: np.ndarray) -> pa.Table:
    """The rows of ``data`` that ``keep`` marks, in order: a zero-copy slice when they
    are contiguous (a sorted table), else a copy."""
    count = int(keep.sum())
    first = int(keep.argmax()) if count else 0
    if keep[first:first + count].all():
        return data.slice(first, count)
    return data.filter(pa.array(keep))


def _read_filtered(portfolio: Path, expr: Any) -> dict[str, pd.DataFrame]:
    from riskengine.io import portfolio as portfolio_io

    frames: dict[str, pd.DataFrame] = {}
    for name in portfolio_io.CONTRACTS:
        file = portfolio / f"{name}.parquet"
        if not file.is_file():
            frames[name] = portfolio_io._empty(name)  # the same empty frame as read_portfolio
            continue
        use = expr if name in _DEBTOR_TABLES and "debtor_id" in pq.read_schema(file).names \
            else None
        table = pq.read_table(file, filters=use) if use is not None else pq.read_table(file)
        frames[name] = portfolio_io._coerce(name, table.to_pandas())
    return frames


def _restrict(frames: Mapping[str, pd.DataFrame], lo: str | None, hi: str | None,
              scope: Sequence[str] | None) -> dict[str, pd.DataFrame]:
    keep_ids = None if scope is None else pd.Index(list(scope), dtype="str")
    out: dict[str, pd.DataFrame] = {}
    for name, frame in frames.items():
        if "debtor_id" not in frame.columns:
            out[name] = frame
            continue
        ids = frame["debtor_id"]
        text = ids.astype(object)
        mask = np.ones(len(frame), dtype=bool)
        present = ids.notna().to_numpy()
        if lo is not None:
            mask &= present & (text.where(present, "").to_numpy(dtype=object) >= lo)
        if hi is not None:
            mask &= ~present | (text.where(present, "").to_numpy(dtype=object) < hi)
        if keep_ids is not None:
            mask &= _member(ids, keep_ids)
        out[name] = frame if mask.all() else frame[mask].reset_index(drop=True)
    return out


# --------------------------------------------------------------------------- scope


def changed_debtors(frames: Mapping[str, pd.DataFrame], since: Any) -> pd.Index:
    """Debtors with a record dated after ``since`` (their inputs changed).

    A debtor changed when any of its records is dated strictly after ``since``:
    a statement's ``period_end``, an adverse record's ``event_date`` or
    ``settlement_date``, an invoice's ``issue_date`` or ``paid_date``, or its own
    ``incorporation_date``. Exposures and relations carry no dates: a changed
    limit request is re-rated with ``--debtors``.

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
               "invoices": ("issue_date", "paid_date")}  # fmt: skip
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
        hit = _member(wanted, known)
        return wanted[hit].tolist(), wanted[~hit].tolist()
    if opts.changed_since is not None:
        ids = changed_debtors(frames, opts.changed_since)
        if previous is not None and len(previous):
            ids = ids.union(known[~_member(known, previous["debtor_id"])])
        return ids[_member(ids, known)].sort_values().tolist(), []
    return None, []


def _not_in_portfolio(ids: Sequence[str]) -> pd.DataFrame:
    rows = [{"table": "debtors", "record": i, "debtor_id": i, "column": "debtor_id",
             "value": i, "reason": "not_in_portfolio",
             "message": f"Debtor {i!r} was asked for with --debtors but is not in the "
                        "portfolio's debtors table; check the id or the portfolio."}
            for i in ids]  # fmt: skip
    return pd.DataFrame(rows, columns=list(ERROR_COLUMNS))


# --------------------------------------------------------------------------- files




def write_parquet(table: pa.Table, path: Path) -> None:
    """Write an Arrow table atomically and deterministically (no index, no timestamps)."""
    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def write_arrow(table: pa.Table, path: Path) -> None:
    """Write an Arrow table atomically as an (uncompressed) Arrow IPC file: the small
    checkpoint tables, written by a worker and read back once by the driver."""

    def write(tmp: Path) -> None:
        with ipc.new_file(str(tmp), table.schema) as writer:
            writer.write_table(table)

    atomic_write(path, write)


def read_arrow(path: Path) -> pa.Table:
    """Read an Arrow IPC file written by :func:`write_arrow` (memory-mapped)."""
    return ipc.open_file(pa.memory_map(str(path))).read_all()


def write_json(data: Any, path: Path) -> None:
    """Write JSON atomically (sorted keys, 2-space indent, trailing newline)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, (np.ndarray, tuple)):
        return list(x)
    if isinstance(x, (pd.Timestamp, dt.date)):
        return x.isoformat()
    return str(x)


def _clean_json(x: Any) -> Any:
    """NaN/inf -> None so that summary.json is strict JSON."""
    if isinstance(x, dict):
        return {str(k): _clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean_json(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _manifest(portfolio: Path) -> dict[str, Any]:
    from riskengine.io.portfolio import read_manifest

    return read_manifest(Path(portfolio))


def _as_of(opts: RerateOptions) -> str:
    """The run's as-of date: ``--as-of`` or the manifest's, never after the extract date
    unless allowed (:func:`riskengine.contracts.dates.batch_as_of`)."""
    return batch_as_of(opts.as_of, _manifest(opts.portfolio).get("as_of"),
                       allow_after_extract=opts.allow_as_of_after_extract).isoformat()


def input_hash(portfolio: Path) -> str:
    """sha256 over the portfolio's table files and manifest (names and contents)."""
    h = hashlib.sha256()
    for file in sorted(portfolio.iterdir()):
        if file.is_file() and not file.name.startswith(".") and file.suffix in (
                ".parquet", ".csv", ".json"):
            h.update(file.name.encode())
            with file.open("rb") as fh:
                h.update(hashlib.file_digest(fh, "sha256").digest())
    return h.hexdigest()


def _unify(tables: Sequence[pa.Schema]) -> pa.Schema:
    if not tables:
        return pa.schema([])
    return pa.unify_schemas(list(tables), promote_options="permissive").remove_metadata()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    cols = []
    for f in schema:
        if f.name in table.column_names:
            col = table[f.name]
            cols.append(col if col.type == f.type else col.cast(f.type))
        else:
            cols.append(pa.nulls(len(table), f.type))
    return pa.Table.from_arrays(cols, schema=schema)


# --------------------------------------------------------------------------- frames <-> arrow


def decisions_schema() -> pa.Schema:
    """The Arrow schema of the ``decisions`` dataset: the engine's decision columns
    (:func:`riskengine.scoring.table.decision_schema`) and ``row_type``."""
    from riskengine.scoring.table import decision_schema

    return decision_schema().append(pa.field("row_type", pa.large_string()))


def decisions_table(decisions: pd.DataFrame) -> pa.Table:
    """An engine's decisions frame (:attr:`~riskengine.scoring.engine.DecisionBatch.decisions`)
    as Arrow in the decision columns' types, rows in the frame's order."""
    from riskengine.scoring.table import decision_schema

    df = decisions.reset_index(drop=True)
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    return _conform(table, decision_schema())


def chunk_decisions(pairs: pa.Table) -> pa.Table:
    """A chunk's decision rows: the pair rows plus one rating row per debtor.

    The rating row keeps the debtor-level columns (:data:`RATING_ROW_COLUMNS`) of
    the debtor's first pair row and leaves the pair-level ones empty. Rows are
    sorted by ``debtor_id``, the rating row first, then by ``supplier_id``.

    Each column is one take from the pair rows: a rating row reads its debtor's
    first pair, through a null index in the pair-level columns. Pairs already in
    that order (the engine keeps the exposures' order; a sorted portfolio gives
    them sorted) are interleaved without a sort.
    """
    schema = decisions_schema()
    pairs = _conform(pairs, schema.remove(schema.get_field_index("row_type")))
    n = pairs.num_rows
    if n == 0:
        return schema.empty_table()
    codes = np.asarray(pc.dictionary_encode(pairs["debtor_id"]).combine_chunks().indices)
    _, first = np.unique(codes, return_index=True)
    k = len(first)

    def columns(src: np.ndarray, rating: np.ndarray, names: list[str]) -> list[pa.ChunkedArray]:
        whole, pair_level = pa.array(src), pa.array(src, mask=rating)
        return [pairs[c].take(whole if c in RATING_ROW_COLUMNS else pair_level) for c in names]

    debtor, supplier = pairs["debtor_id"], pairs["supplier_id"]
    d0, d1, s0, s1 = (c.slice(a, n - 1) for c in (debtor, supplier) for a in (0, 1))
    if debtor.null_count == 0 and supplier.null_count == 0 and pc.all(pc.or_(
            pc.less(d0, d1), pc.and_(pc.equal(d0, d1), pc.less_equal(s0, s1)))).as_py():
        # sorted: debtor j's rating row just before its first pair, at first[j] + j
        at = first + np.arange(k)
        src = np.empty(n + k, dtype=np.int64)
        src[at] = first
        src[np.arange(n) + codes + 1] = np.arange(n)
        rating = np.zeros(n + k, dtype=bool)
        rating[at] = True
    else:  # the rating rows, then the pair rows, sorted (stable)
        src = np.concatenate([first, np.arange(n)])
        rating = np.arange(n + k) < k
        names = ["debtor_id", "supplier_id"]
        keys = pa.Table.from_arrays(columns(src, rating, names), names=names)
        order = np.asarray(pc.sort_indices(keys, sort_keys=[
            ("debtor_id", "ascending", "at_start"), ("supplier_id", "ascending", "at_start")]))
        src, rating = src[order], rating[order]
    text = pa.large_string()
    row_type = pa.array(["pair", "rating"], text).take(pa.array(rating.astype(np.int8)))
    return pa.Table.from_arrays([*columns(src, rating, pairs.column_names), row_type],
                                schema=schema).combine_chunks()


def errors_table(errors: pd.DataFrame) -> pa.Table:
    """A chunk's error rows as Arrow: :data:`~riskengine.contracts.schemas.ERROR_COLUMNS` as text."""
    df = errors.reset_index(drop=True)
    data = {}
    for col in ERROR_COLUMNS:
        values = df[col] if col in df.columns else pd.Series([None] * len(df), dtype=object)
        # a list, not Series.map: pandas 3's map turns a returned None into NaN
        missing = values.isna().to_numpy()
        data[col] = pa.array([None if m else str(v) for v, m in
                              zip(values.astype(object).tolist(), missing, strict=True)],
                             type=pa.string())
    extra = [c for c in df.columns if c not in ERROR_COLUMNS]
    table = pa.table(data)
    for c in extra:
        table = table.append_column(c, pa.array(df[c].astype(object).map(
            lambda v: None if v is None or (isinstance(v, float) and math.isnan(v))
            else str(v)).tolist(), type=pa.string()))
    return table


def table_bytes(table: pa.Table) -> bytes:
    """Arrow IPC stream bytes of a table (the Spark executors' payload)."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def table_from_bytes(data: bytes) -> pa.Table:
    """Inverse of :func:`table_bytes`."""
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


# --------------------------------------------------------------------------- engine


def decided_at_for(as_of: str) -> str:
    """The fixed decision timestamp of a run: the as-of date at midnight UTC."""
    return f"{as_of}T00:00:00Z"


def engine_versions(engine: Any) -> tuple[str, str]:
    """(model version, policy version) of a loaded engine."""
    model = getattr(engine, "model_version", None)
    policy = getattr(engine, "policy_version", None)
    if policy is None and getattr(engine, "policy", None) is not None:
        policy = getattr(engine.policy, "version", None)
    return str(model or "unknown"), str(policy or "unknown")


#: Debtor-level columns kept on a rating row; the pair-level ones are empty there.
RATING_ROW_COLUMNS: tuple[str, ...] = (
    "debtor_id", "as_of", "pd", "pd_model", "grade", "rating_basis", "reason_codes",
    "model_version", "policy_version", "master_scale_version", "overlay_version", "decided_at",
)  # fmt: skip


def _no_exposure_rows(ids: Sequence[str]) -> pd.DataFrame:
    rows = [{"table": "exposures", "record": i, "debtor_id": i, "column": "debtor_id",
             "value": i, "reason": "no_exposure",
             "message": f"Debtor {i!r} is valid but has no supplier-debtor exposure, so there "
                        "is no limit to decide; add its exposure or remove it from the "
                        "portfolio."} for i in ids]  # fmt: skip
    return pd.DataFrame(rows, columns=list(ERROR_COLUMNS))


@dataclass(frozen=True, slots=True)
class ChunkOutput:
    """A decided chunk: decisions and error rows as Arrow, and its pair counts."""

    decisions: pa.Table
    errors: pa.Table
    pairs_in: int
    pairs_decided: int
    pairs_rejected: int


def _distinct_ids(values: Any) -> pa.Array:
    """Distinct non-missing ids, as Arrow text (order of first appearance)."""
    arr = _text_array(values)
    return pc.unique(arr.drop_null() if arr.null_count else arr)


def decide_chunk(engine: Any, frames: Mapping[str, pd.DataFrame], as_of: str,
                 decided_at: str, model_version: str) -> ChunkOutput:
    """Decide one chunk: pair rows plus one rating row per decided debtor, and error rows.

    A valid debtor without any exposure gets a ``no_exposure`` error row (the
    engine decides pairs; with no pair there is nothing to decide), so that
    every debtor of the chunk comes out decided or errored. An engine with
    ``decide_table`` (:meth:`riskengine.scoring.engine.Engine.decide_table`) gives its
    decisions as Arrow; any other engine's ``decide`` frame is converted.

    Raises
    ------
    RerateError
        A decision carries another model version than the one resolved at the
        start of the run, or the engine's pair counts do not add up.
    """
    if hasattr(engine, "decide_table"):
        batch: Any = engine.decide_table(dict(frames), as_of, decided_at=decided_at)
        pairs = batch.table
    else:
        batch = engine.decide(dict(frames), as_of, decided_at=decided_at)
        pairs = decisions_table(batch.decisions)
    errors = batch.errors
    n_dec = pairs.num_rows
    if n_dec:
        seen = pc.unique(pairs["model_version"].cast(pa.large_string())).to_pylist()
        if len(seen) != 1 or seen[0] != model_version:
            raise RerateError(
                f"The engine decided with model version(s) {sorted(map(str, seen))} but the run "
                f"resolved {model_version!r} at its start; the model changed during the run. "
                "Run again.")
    pairs_in = int(getattr(batch, "pairs_in", len(frames.get("exposures", ()))))
    pairs_rejected = int(getattr(batch, "pairs_rejected", 0))
    if pairs_in != n_dec + pairs_rejected:
        raise RerateError(f"Pairs do not reconcile in a chunk: {pairs_in} in, {n_dec} "
                          f"decided, {pairs_rejected} rejected.")
    deb = frames["debtors"]
    ids = _distinct_ids(deb["debtor_id"]) if "debtor_id" in deb.columns \
        else pa.array([], pa.large_string())
    if len(ids):  # a blank id is a missing one: its record has its missing_value row
        ids = ids.filter(pc.not_equal(pc.utf8_trim_whitespace(ids), ""))
    out_ids = [pairs["debtor_id"]]
    if len(errors):
        out_ids.append(_text_array(errors["debtor_id"]))
    exp = frames.get("exposures")
    if exp is not None and "debtor_id" in exp.columns:
        out_ids.append(_text_array(exp["debtor_id"]))
    # valid debtors with no exposure at all; a debtor *with* exposures that comes out
    # neither decided nor errored is lost, and the run's reconciliation fails on it
    seen_ids = pa.chunked_array([_text_array(x) for x in out_ids], pa.large_string())
    lone = pc.invert(pc.is_in(ids, value_set=seen_ids.combine_chunks()))
    lonely = sorted(ids.filter(lone).to_pylist()) if len(ids) else []
    if lonely:
        extra = _no_exposure_rows(lonely)
        errors = extra if not len(errors) else pd.concat(
            [errors.astype(object), extra.astype(object)], ignore_index=True)
    return ChunkOutput(chunk_decisions(pairs), errors_table(errors), pairs_in,
                       pairs_in - pairs_rejected, pairs_rejected)


def _load_engine(model_dir: str | None = None, policy_path: str | None = None) -> Any:
    from riskengine.api import load_engine

    return load_engine(model_dir=model_dir, policy_path=policy_path)


def _spark_task(*, portfolio: str, checkpoints: str, model_dir: str | None,
                policy_path: str | None, model_version: str, as_of: str, decided_at: str,
                scope: Sequence[str] | None) -> Callable[[int, str | None, str | None],
                                                         tuple[int, int]]:
    """One Spark task's chunk decider (run on an executor, :mod:`riskengine.batch.spark`).

    Loads the engine **once**, refuses one whose model version is not the one the
    driver resolved, and returns ``decide(k, lo, hi)``: read chunk ``k``'s records
    (debtor ids in ``[lo, hi]``), decide them with :func:`decide_chunk` as the
    pandas path does, checkpoint them, and return (decision rows, error rows).
    """
    engine = _load_engine(model_dir, policy_path)
    seen = engine_versions(engine)[0]
    if seen != model_version:
        raise RerateError(f"Executor loaded model {seen!r} but the driver resolved "
                          f"{model_version!r}; point --model-dir at one artifact "
                          "that every executor reads.")
    root, ckpt = Path(portfolio), _Checkpoints(Path(checkpoints))

    def decide(k: int, lo: str | None, hi: str | None) -> tuple[int, int]:
        res = decide_chunk(engine, read_chunk(root, (lo, hi), scope), as_of, decided_at,
                           model_version)  # fmt: skip
        ckpt.write(k, res)
        return res.decisions.num_rows, res.errors.num_rows

    return decide


def _run_spark(opts: RerateOptions, plan: ChunkPlan, pending: list[int],
               scope: Sequence[str] | None, ckpt: _Checkpoints, as_of: str,
               model_version: str, progress: _Progress) -> None:
    """Decide the ``pending`` chunks on Spark: each executor task runs :func:`_spark_task`."""
    from functools import partial

    from riskengine.batch.spark import run_spark_chunks

    def absolute(p: Any) -> str | None:
        return None if p is None else str(Path(p).resolve())

    open_task = partial(_spark_task, portfolio=str(Path(opts.portfolio).resolve()),
                        checkpoints=str(ckpt.root.resolve()), model_dir=absolute(opts.model_dir),
                        policy_path=absolute(opts.policy_path), model_version=model_version,
                        as_of=as_of, decided_at=decided_at_for(as_of),
                        scope=None if scope is None else list(scope))  # fmt: skip
    run_spark_chunks(opts.spark_master, [(k, *plan.range_of(k)) for k in pending], open_task,
                     ckpt, progress)  # fmt: skip


_DATE_COLUMNS = {"debtors": ("incorporation_date",), "statements": ("period_end",),
                 "adverse_records": ("event_date", "settlement_date"),
                 "invoices": ("issue_date", "paid_date")}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Inputs:
    """What the driver reads at the start: its frames, the manifest, the tables the
    workers read chunk by chunk with their size and modification time (taken before
    any of their rows is read), and the seconds it took."""

    frames: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    reads: dict[str, Path]
    stamps: dict[str, tuple[int, int]]
    seconds: float


def _read_inputs(opts: RerateOptions) -> _Inputs:
    """The driver's frames and what the workers read (:class:`_Inputs`)."""
    tick = time.perf_counter()
    frames, manifest, reads = _driver_frames(opts)
    stamps = {name: _stamp(f) for name, f in reads.items()}
    return _Inputs(frames, manifest, reads, stamps, time.perf_counter() - tick)


class _Prefetch:
    """The worker-read tables of the first chunks, read by a thread of the driver while
    the engine loads (a thread that would otherwise wait), so that the first chunk
    of each worker starts deciding at once.

    Only for a whole-book run of the pandas engine, and only what is read before
    :meth:`take` (it stops the thread): a chunk not read by then is read by its
    worker as usual. The chunks are those of the plan the run makes from the same
    debtors (:func:`plan_chunks`); the rows are those :func:`read_range` gives the
    worker, and the workers' checks against the stamps taken before the first read
    (:func:`_unchanged`) cover them too.
    """

    def __init__(self) -> None:
        import threading

        self.chunks: dict[int, dict[str, pd.DataFrame]] = {}
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, reading: Any, opts: RerateOptions) -> None:
        """Read the first ``opts.workers`` chunks once ``reading`` (the future of
        :func:`_read_inputs`) is done, on a daemon thread."""
        import threading

        if opts.engine != "pandas" or opts.debtors is not None or \
                opts.changed_since is not None:
            return
        self.thread = threading.Thread(target=self._run, args=(reading, opts),
                                       name="rerate-prefetch", daemon=True)
        self.thread.start()

    def _run(self, reading: Any, opts: RerateOptions) -> None:
        try:
            got: _Inputs = reading.result()
            deb = got.frames.get("debtors")
            if not got.reads or deb is None or "debtor_id" not in deb.columns:
                return
            plan = plan_chunks(deb["debtor_id"], opts.chunk_size)
            for k in range(min(opts.workers, plan.n_chunks)):
                lo, hi = plan.range_of(k)
                tables = {}
                for name, file in got.reads.items():
                    if self.stop.is_set():
                        return
                    tables[name] = read_range(file, name, lo, hi)
                self.chunks[k] = tables
        except Exception:  # the chunk's worker reads it again and reports what fails
            return

    def take(self) -> dict[int, dict[str, pd.DataFrame]]:
        """Stop reading; the chunks read completely so far."""
        self.stop.set()
        return dict(self.chunks)


def worker_tables(portfolio: Path, manifest: Mapping[str, Any], chunk_size: int
                  ) -> dict[str, Path]:
    """The tables the pandas path's workers read chunk by chunk, by name.

    A debtor table other than ``debtors`` qualifies when :func:`read_portfolio
    <riskengine.io.portfolio.read_portfolio>` would read it from Parquet and
    :func:`riskengine.io.portfolio.chunk_readable` accepts it with at least one
    row group per chunk (fewer, and each chunk would decode most of the table:
    the driver reads it whole once instead). Any other table is read whole by the
    driver; either way a chunk's frames are the same.
    """
    from riskengine.io.portfolio import chunk_readable, table_file

    root = Path(portfolio)
    deb = table_file(root, "debtors", manifest)
    if deb is None or deb.suffix != ".parquet":
        return {}
    try:
        n_chunks = -(-pq.ParquetFile(deb).metadata.num_rows // chunk_size)
    except (OSError, ValueError, pa.ArrowException):
        return {}
    reads: dict[str, Path] = {}
    for name in _DEBTOR_TABLES:
        file = table_file(root, name, manifest)
        if name != "debtors" and file is not None and file.suffix == ".parquet" and \
                chunk_readable(file, name, min_row_groups=max(n_chunks, 1)):
            reads[name] = file
    return reads


def _driver_frames(opts: RerateOptions
                   ) -> tuple[dict[str, pd.DataFrame], dict[str, Any], dict[str, Path]]:
    """The tables the driver needs and the tables the pandas workers read themselves.

    Pandas path: every table, except those of :func:`worker_tables` (for
    ``--changed-since``, only their ids and record dates). Spark on Parquet: only
    the debtors and, for ``--changed-since``, the record dates. Either way the
    whole portfolio is first checked (:func:`riskengine.io.portfolio.check_portfolio`):
    a missing, unreadable or short table stops the run before any chunk is decided.
    """
    from riskengine.io.portfolio import _coerce, read_portfolio, read_table

    manifest = _manifest(Path(opts.portfolio))
    if opts.engine != "spark":
        reads = worker_tables(Path(opts.portfolio), manifest, opts.chunk_size)
        if not reads:
            return (*read_portfolio(opts.portfolio, check=False), {})
        root = Path(opts.portfolio)
        out: dict[str, pd.DataFrame] = {}
        for name in CONTRACTS:
            if name not in reads:
                out[name] = read_table(root, name, manifest)
            elif opts.changed_since is not None and name in _DATE_COLUMNS:
                present = pq.read_schema(reads[name]).names
                keep = [c for c in ("debtor_id", *_DATE_COLUMNS[name]) if c in present]
                out[name] = _coerce(name, pq.read_table(reads[name], columns=keep).to_pandas())
        return out, manifest, reads
    if manifest.get("format", "parquet") != "parquet" or not (
            Path(opts.portfolio) / "debtors.parquet").is_file():
        return (*read_portfolio(opts.portfolio, check=False), {})
    frames = {"debtors": pd.read_parquet(Path(opts.portfolio) / "debtors.parquet")}
    if opts.changed_since is not None:
        for table, cols in _DATE_COLUMNS.items():
            file = Path(opts.portfolio) / f"{table}.parquet"
            if table == "debtors" or not file.is_file():
                continue
            names = pq.read_schema(file).names
            frames[table] = pd.read_parquet(file, columns=[c for c in ("debtor_id", *cols)
                                                           if c in names])  # fmt: skip
    return frames, manifest, {}


# --------------------------------------------------------------------------- progress


class _Progress:
    """tqdm on a terminal, plain log lines on stderr otherwise."""

    def __init__(self, total: int, done: int, enabled: bool | None) -> None:
        self.total, self.done = total, done
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self.bar: Any = None
        self.t0 = time.perf_counter()
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="chunk", desc="rerate",
                            file=sys.stderr)
        elif done:
            self.log(f"resuming: {done} of {total} chunks already checkpointed")

    def log(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(f"riskengine rerate: {text}", file=sys.stderr, flush=True)

    def step(self, k: int, n_decisions: int, n_errors: int) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        else:
            self.log(f"chunk {k + 1}/{self.total} done ({self.done}/{self.total}; "
                     f"{n_decisions:,} decisions, {n_errors:,} error rows; "
                     f"{time.perf_counter() - self.t0:.1f} s)")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True, slots=True)
class _Checkpoints:
    """A run's checkpoints: per chunk its decisions as a Parquet file (its part of the
    ``decisions`` dataset, moved there once the run reconciles), the columns the
    summary reads (Arrow IPC), its error rows (Arrow IPC) and a ``.done`` marker
    with its counts, written last."""

    root: Path

    def paths(self, k: int) -> tuple[Path, Path, Path, Path, Path]:
        """Decisions, ratings, pairs, errors and marker of chunk ``k``."""
        stem = self.root / f"chunk-{k:06d}"
        return (Path(f"{stem}.decisions.parquet"), Path(f"{stem}.ratings.arrow"),
                Path(f"{stem}.pairs.arrow"), Path(f"{stem}.errors.arrow"),
                Path(f"{stem}.done"))  # fmt: skip

    def is_done(self, k: int) -> bool:
        return all(p.is_file() for p in self.paths(k))

    def write(self, k: int, result: ChunkOutput) -> None:
        d, r, p, e, done = self.paths(k)
        schema = decisions_schema()
        dec = result.decisions if result.decisions.schema == schema else _conform(
            result.decisions, schema)
        write_decisions(dec, d)
        ratings, pairs = summary_tables(dec)
        write_arrow(ratings, r)
        write_arrow(pairs, p)
        write_arrow(result.errors, e)
        write_json({"chunk": k, "decision_rows": dec.num_rows,
                    "error_rows": result.errors.num_rows, "pairs_in": result.pairs_in,
                    "pairs_decided": result.pairs_decided,
                    "pairs_rejected": result.pairs_rejected}, done)  # fmt: skip

    def read(self, k: int) -> tuple[Path, pa.Table, pa.Table, pa.Table]:
        """Chunk ``k``'s decisions file, and its ratings, pairs and errors (memory-mapped)."""
        d, r, p, e, _ = self.paths(k)
        return d, read_arrow(r), read_arrow(p), read_arrow(e)

    def counts(self, k: int) -> dict[str, int]:
        """The counts recorded in chunk ``k``'s marker."""
        data = json.loads(self.paths(k)[-1].read_text(encoding="utf-8"))
        return {str(a): int(b) for a, b in data.items()}

    def prepare(self, run_key: str, log: Callable[[str], None]) -> None:
        """Keep checkpoints of the same run key, discard any other; drop stale temp files."""
        state = self.root / "state.json"
        if self.root.is_dir():
            old = None
            with contextlib.suppress(OSError, ValueError):
                old = json.loads(state.read_text(encoding="utf-8")).get("run_key")
            if old != run_key:
                log("discarding checkpoints of a different run (inputs, model, policy or "
                    "options changed)")
                shutil.rmtree(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        for tmp in self.root.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        if not state.is_file():
            write_json({"run_key": run_key}, state)


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    out.mkdir(parents=True, exist_ok=True)
    fh = (out / ".lock").open("a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise RerateError(f"Another rerate run is writing to {str(out)!r}; wait for it to "
                              "finish or give another --out.") from exc
        yield
    finally:
        fh.close()


# --------------------------------------------------------------------------- pandas path

_FORK_STATE: dict[str, Any] = {}


def _fork_chunk(k: int) -> tuple[int, int, int]:
    s = _FORK_STATE
    frames = _chunk(s["frames"], s["slices"], k)
    if s["reads"]:
        _unchanged(s["reads"], s["stamps"])
        frames = _with_reads(frames, s["reads"], s["plan"].range_of(k), s["scope"],
                             s["prefetched"].get(k))
        _unchanged(s["reads"], s["stamps"])
    res = decide_chunk(s["engine"], frames, s["as_of"], s["decided_at"], s["model_version"])
    s["checkpoints"].write(k, res)
    return k, res.decisions.num_rows, res.errors.num_rows


def _stamp(file: Path) -> tuple[int, int]:
    st = os.stat(file)
    return st.st_size, st.st_mtime_ns


def _unchanged(reads: Mapping[str, Path], stamps: Mapping[str, tuple[int, int]]) -> None:
    """Raise :class:`RerateError` when a worker-read table changed during the run: its
    chunks would mix two versions of the portfolio under one input hash."""
    for name, file in reads.items():
        if _stamp(file) != stamps[name]:
            raise RerateError(
                f"{file} changed while the run was reading it chunk by chunk (size or "
                "modification time differ from the start of the run); the outputs would mix "
                "two versions of the portfolio. Run again once the portfolio is complete; "
                "checkpointed chunks of the old version are discarded, as the input hash "
                "differs.")


def _with_reads(frames: Mapping[str, pd.DataFrame], reads: Mapping[str, Path],
                rng: tuple[str | None, str | None], scope: Sequence[str] | None,
                done: Mapping[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """A chunk's frames from the driver's slices plus the worker-read tables (read
    here, or ``done``: read before by :class:`_Prefetch`), in contract order (the
    frames slicing the whole portfolio gives)."""
    lo, hi = rng
    read = dict(done) if done is not None else {
        name: read_range(file, name, lo, hi) for name, file in reads.items()}
    if scope is not None:  # the row filter already kept exactly the range
        read = _restrict(read, None, None, scope)
    return {name: read[name] if name in read else frames[name]
            for name in CONTRACTS if name in read or name in frames}


def _run_pandas(frames: Mapping[str, pd.DataFrame], plan: ChunkPlan, pending: list[int],
                engine: Any, ckpt: _Checkpoints, as_of: str, model_version: str,
                workers: int, progress: _Progress,
                on_chunk: Callable[[], None] | None = None,
                reads: Mapping[str, Path] | None = None,
                scope: Sequence[str] | None = None,
                stamps: Mapping[str, tuple[int, int]] | None = None,
                prefetched: Mapping[int, Mapping[str, pd.DataFrame]] | None = None) -> None:
    """Decide the pending chunks (forked workers when ``workers > 1``); ``on_chunk`` is
    called in this process after each chunk is checkpointed. The tables of ``reads``
    are not in ``frames``: each chunk reads its range of them (:func:`read_range`),
    restricted to ``scope``, unless ``prefetched`` holds them already (by chunk);
    ``stamps`` are their size and modification time when the run started reading
    them (default: now)."""
    slices = _slices(frames, plan)
    throttle = float(os.environ.get(THROTTLE_ENV, "0") or 0)
    warm = getattr(sys.modules.get("riskengine.scoring.engine"), "warm_up", None)
    if warm is not None:  # compile/load the batch kernels once, before forking
        warm()
    _FORK_STATE.update(frames=frames, slices=slices, engine=engine, as_of=as_of,
                       decided_at=decided_at_for(as_of), model_version=model_version,
                       checkpoints=ckpt, reads=dict(reads or {}), plan=plan,
                       scope=scope, prefetched=dict(prefetched or {}),
                       stamps=dict(stamps) if stamps is not None else {
                           name: _stamp(f) for name, f in (reads or {}).items()})  # fmt: skip

    def done(k: int, nd: int, ne: int) -> None:
        progress.step(k, nd, ne)
        if on_chunk is not None:
            on_chunk()
        if throttle:
            time.sleep(throttle)

    try:
        if workers == 1 or len(pending) < 2:
            for k in pending:
                done(*_fork_chunk(k))
            return
        import multiprocessing as mp

        with mp.get_context("fork").Pool(min(workers, len(pending))) as pool:
            for k, nd, ne in pool.imap_unordered(_fork_chunk, pending):
                done(k, nd, ne)
    finally:
        _FORK_STATE.clear()


# --------------------------------------------------------------------------- the run


def _previous(opts: RerateOptions) -> pd.DataFrame | None:
    if opts.previous is None:
        return None
    path = decisions_path(opts.previous)
    if path is None:
        raise RerateError(f"--previous {str(opts.previous)!r} has no decisions (no {DIRNAME}/ "
                          "dataset); give the --out directory of an earlier rerate run.")
    import pyarrow.dataset as pds

    try:
        data = pds.dataset(path, format="parquet")
        names = data.schema.names
        return data.to_table(columns=[c for c in mig.PREVIOUS_COLUMNS if c in names]
                             ).to_pandas(split_blocks=True)
    except (OSError, ValueError, pa.ArrowException) as exc:
        from riskengine.io.portfolio import unreadable

        raise unreadable(path, "Parquet", exc) from None


def _book(debtors: pd.DataFrame) -> pd.DataFrame:
    from riskengine.features.concentration import nace_section

    book = debtors[[c for c in ("debtor_id", "group_id", "country", "nace")
                    if c in debtors.columns]]  # fmt: skip
    if "debtor_id" in book.columns:
        if not _strictly_increasing(book["debtor_id"]):  # not distinct and sorted already
            book = book.drop_duplicates("debtor_id")
    if "nace" in book.columns:
        codes = book["nace"].astype("str")
        enc = pc.dictionary_encode(_text_array(codes))
        sections: list[str] = []
        for code in enc.dictionary.to_pylist():
            try:
                sections.append(nace_section(str(code)))
            except ValueError:
                sections.append("unknown")
        sector = pc.take(pa.array(sections, pa.large_string()), enc.indices)
        book = book.assign(sector=pd.Series(pd.array(sector, dtype="str"), index=book.index)
                           ).drop(columns="nace")
    return book


def _summary_table(summary: Mapping[str, Any]) -> pa.Table:
    names: list[str] = []
    values: list[float | None] = []
    texts: list[str | None] = []

    def walk(prefix: str, x: Any) -> None:
        if isinstance(x, Mapping):
            for k in x:
                walk(f"{prefix}.{k}" if prefix else str(k), x[k])
        elif isinstance(x, bool):
            names.append(prefix)
            values.append(float(x))
            texts.append(None)
        elif isinstance(x, (int, float)):
            names.append(prefix)
            values.append(float(x))
            texts.append(None)
        elif x is None:
            names.append(prefix)
            values.append(None)
            texts.append(None)
        else:
            names.append(prefix)
            values.append(None)
            texts.append(str(x))

    walk("", summary)
    return pa.table({"figure": pa.array(names, pa.string()),
                     "value": pa.array(values, pa.float64()),
                     "text": pa.array(texts, pa.string())})  # fmt: skip


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (restored after it).

    Loading the engine imports scikit-learn, SciPy and skops and builds the model:
    hundreds of thousands of long-lived objects, whose allocation would otherwise
    set off a collection every 700 of them, each walking the young ones again
    (about a fifth of the load's CPU). Nothing of it is garbage.
    """
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def run_key(parts: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of what makes a run's outputs."""
    text = json.dumps(dict(parts), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_rerate(opts: RerateOptions, *, engine: Any = None) -> RerateResult:
    """Run the re-rating job.

    Parameters
    ----------
    opts : RerateOptions
    engine : Engine, optional
        An already loaded engine (tests); default :func:`riskengine.api.load_engine`
        with ``opts.model_dir`` and ``opts.policy_path``. The Spark path always
        loads the engine on the executors from ``opts.model_dir``.

    Returns
    -------
    RerateResult

    Raises
    ------
    RerateError
        Debtors do not reconcile, the model version changed during the run,
        another run holds the output directory, or bad options.
    riskengine.errors.InvalidInputError
        The portfolio cannot be read.
    """
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    out = Path(opts.out)
    as_of = _as_of(opts)  # before anything is written
    # the whole portfolio, once, before --out is claimed or any chunk is decided
    check_portfolio(opts.portfolio, _manifest(Path(opts.portfolio)))
    claim_rerate_out(out, Path(opts.portfolio), opts.previous)
    with _lock(out):
        for tmp in out.glob(".*.tmp"):  # files, and directories of publish()
            if tmp.is_dir():
                shutil.rmtree(tmp)
            else:
                tmp.unlink(missing_ok=True)
        # read the portfolio and hash it on two threads while the engine loads: they wait
        # mostly on I/O, decompression and hashing, which release the interpreter lock
        from concurrent.futures import ThreadPoolExecutor

        prefetch = _Prefetch()
        with _gc_paused(), ThreadPoolExecutor(2, thread_name_prefix="rerate-read") as pool:
            reading = pool.submit(_read_inputs, opts)
            hashing = pool.submit(input_hash, opts.portfolio)  # hashlib frees the GIL
            prefetch.start(reading, opts)
            tick = time.perf_counter()
            if engine is None:
                engine = _load_engine(opts.model_dir, opts.policy_path)
            timings["engine_s"] = time.perf_counter() - tick
            model_version, policy_version = engine_versions(engine)  # resolved once, here
            inputs = reading.result()
            portfolio_hash = hashing.result()
        frames, reads = inputs.frames, inputs.reads
        timings["read_s"] = inputs.seconds
        previous = _previous(opts)
        scope, unknown = _scope(opts, frames, previous)
        frames = {name: f for name, f in frames.items() if name not in reads}
        if scope is not None:
            frames = _restrict(frames, None, None, scope)
        plan = plan_chunks(frames["debtors"]["debtor_id"] if "debtor_id" in
                           frames["debtors"].columns else pd.Series([], dtype="str"),
                           opts.chunk_size)  # fmt: skip
        key_parts = {
            "format_version": FORMAT_VERSION, "input_hash": portfolio_hash,
            "as_of": as_of, "model_version": model_version, "policy_version": policy_version,
            "scope": None if scope is None else hashlib.sha256(
                "\n".join(scope).encode()).hexdigest(),
            "chunk_size": opts.chunk_size,
            "riskengine": _riskengine_version(),
        }  # fmt: skip
        key = run_key(key_parts)
        ckpt = _Checkpoints(out / CHECKPOINTS)
        progress = _Progress(plan.n_chunks, 0, opts.progress)
        ckpt.prepare(key, progress.log)
        pending = [k for k in range(plan.n_chunks) if not ckpt.is_done(k)]
        resumed = plan.n_chunks - len(pending)
        progress.done = resumed
        if resumed:
            progress.log(f"resuming: {resumed} of {plan.n_chunks} chunks already checkpointed")
        tick = time.perf_counter()
        asm = _Assembler(out, ckpt, plan.n_chunks)
        try:
            if opts.engine == "spark":
                _run_spark(opts, plan, pending, scope, ckpt, as_of, model_version, progress)
            else:
                asm.feed()  # chunks resumed from checkpoints
                _run_pandas(frames, plan, pending, engine, ckpt, as_of, model_version,
                            opts.workers, progress, on_chunk=asm.feed, reads=reads,
                            scope=scope, stamps=inputs.stamps, prefetched=prefetch.take())
        finally:
            progress.close()
        timings["decide_s"] = time.perf_counter() - tick
        debtors_in = plan.ids
        if len(debtors_in):  # blank ids are missing ones (counted in asm.unidentified)
            debtors_in = debtors_in[~_blank(pd.Series(debtors_in))]
        asm.unidentified = _unidentified(frames["debtors"], plan)
        tick = time.perf_counter()
        summary, n_rows = _assemble(opts, out, ckpt, plan, debtors_in, unknown, previous,
                                    scope, as_of, engine, frames, asm)  # fmt: skip
        timings["assemble_s"] = time.perf_counter() - tick
        summary = {"as_of": as_of, "model_version": model_version,
                   "policy_version": policy_version, "input_hash": key_parts["input_hash"],
                   "scope": "all" if scope is None else (
                       "debtors" if opts.debtors is not None else "changed_since"),
                   "changed_since": opts.changed_since, "chunks": plan.n_chunks,
                   "chunk_size": opts.chunk_size, **summary}  # fmt: skip
        summary = _clean_json(summary)
        write_parquet(_summary_table(summary), out / "summary.parquet")
        write_json(summary, out / "summary.json")
        elapsed = time.perf_counter() - t0
        run_id = None
        if opts.tracking:
            tick = time.perf_counter()
            run_id = _log_mlflow(opts, summary, key_parts, out, started, elapsed)
            timings["mlflow_s"] = time.perf_counter() - tick
        info = {"started_at": started.isoformat(), "elapsed_s": round(elapsed, 3),
                "timings_s": {k: round(v, 3) for k, v in timings.items()},
                "run_key": key, "chunks": plan.n_chunks, "chunks_resumed": resumed,
                "mlflow_run_id": run_id, "portfolio": str(opts.portfolio),
                "options": {k: v for k, v in asdict(opts).items()
                            if k not in ("debtors",)}}  # fmt: skip
        write_json(info, out / RUN_INFO)
        shutil.rmtree(ckpt.root, ignore_errors=True)
    return RerateResult(out, summary, plan.n_chunks, resumed, key, run_id, elapsed, timings)


def _riskengine_version() -> str:
    from riskengine import __version__

    return __version__


#: Pair-row columns the run summary and the limit actions read.
_PAIR_SUMMARY = ("debtor_id", "supplier_id", "approved_limit", "insured_limit",
                 "retained_exposure", "expected_loss", "decision_type")  # fmt: skip
#: Text columns of the decisions with (nearly) one value per row.
_UNIQUE_TEXT = ("debtor_id", "input_hash")


def _decisions_writer_options(schema: pa.Schema) -> dict[str, Any]:
    """ParquetWriter options of the decisions' parts (deterministic: no clock, fixed codec).

    Min/max statistics on the keys a reader filters on (debtor, supplier, row type,
    grade) and on the numbers; dictionary pages on the text columns with few
    distinct values (a dictionary tried on unique texts is work thrown away).
    """
    text = [f.name for f in schema if f.type == pa.large_string()]
    numbers = [f.name for f in schema if pa.types.is_floating(f.type)]
    stats = [c for c in ("debtor_id", "supplier_id", "row_type", "grade") if c in text]
    few = [c for c in text if c not in _UNIQUE_TEXT]
    nested = [f"{f.name}.list.element" for f in schema
              if pa.types.is_list(f.type) and f.type.value_type == pa.string()]
    if "reason_codes" in schema.names:
        nested += [f"reason_codes.list.element.{k}" for k in ("code", "feature", "direction")]
    return {"compression": "zstd", "write_statistics": stats + numbers,
            "use_dictionary": few + nested}


def write_decisions(table: pa.Table, path: Path) -> None:
    """Write a chunk's decisions atomically as its part of the ``decisions`` dataset
    (:func:`_decisions_writer_options`; no row group when empty)."""

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, table.schema,
                              **_decisions_writer_options(table.schema)) as writer:
            if table.num_rows:
                writer.write_table(table)

    atomic_write(path, write)


def summary_tables(decisions: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The columns of a chunk's decisions that the reconciliation, the migration and the
    summary read: the rating rows' ``debtor_id, grade, pd``, and the pair rows'
    :data:`_PAIR_SUMMARY` columns with ``knockout`` (any knock-out)."""
    rating = pc.fill_null(pc.equal(decisions["row_type"], "rating"), False)
    ratings = decisions.select(["debtor_id", "grade", "pd"]).filter(rating)
    pair = pc.invert(rating)
    ko = pc.fill_null(pc.greater(pc.list_value_length(decisions["knockouts"]), 0), False)
    pairs = decisions.select(list(_PAIR_SUMMARY)).append_column("knockout", ko)
    return ratings, pairs.filter(pair)


class _Assembler:
    """Reads each chunk's summary columns and error rows, in chunk order, as soon as its
    checkpoint is done (while later chunks are being decided), and at the end moves
    the chunks' decisions parts into ``OUT/decisions`` (:meth:`commit`)."""

    def __init__(self, out: Path, ckpt: _Checkpoints, n_chunks: int) -> None:
        self.out, self.ckpt, self.n_chunks = out, ckpt, n_chunks
        self.next = 0
        self.rows = 0
        self.ratings: list[pa.Table] = []
        self.pairs: list[pa.Table] = []
        self.errors: list[pa.Table] = []
        #: rows of the debtors table without a debtor id (:func:`_unidentified`)
        self.unidentified: np.ndarray = np.zeros(0, dtype=np.int64)

    def feed(self) -> None:
        """Read every chunk, from the next one on, whose checkpoint is done."""
        while self.next < self.n_chunks and self.ckpt.is_done(self.next):
            _, ratings, pairs, err = self.ckpt.read(self.next)
            self.rows += self.ckpt.counts(self.next)["decision_rows"]
            self.ratings.append(ratings)
            self.pairs.append(pairs)
            self.errors.append(err)
            self.next += 1

    def commit(self) -> None:
        """Move the parts into place as the ``decisions`` dataset (every chunk fed)."""
        publish([self.ckpt.paths(k)[0] for k in range(self.n_chunks)], self.out)

    def ratings_frame(self) -> pd.DataFrame:
        """One row per decided debtor: ``grade`` and ``pd``, indexed by ``debtor_id``."""
        t = pa.concat_tables(self.ratings) if self.ratings else pa.table(
            {"debtor_id": pa.array([], pa.large_string()),
             "grade": pa.array([], pa.large_string()), "pd": pa.array([], pa.float64())})
        return t.to_pandas(split_blocks=True)

    def pairs_frame(self) -> pd.DataFrame:
        """The pair rows' :data:`_PAIR_SUMMARY` columns and ``knockout``, in file order."""
        return pa.concat_tables(self.pairs).to_pandas(split_blocks=True)


def _among(ids: pa.Array, among: pa.Array, inside: bool) -> pa.Array:
    """The ``ids`` that are (``inside``) or are not in ``among`` (no lookup table is
    built for no ids)."""
    if not len(ids):
        return ids
    found = pc.is_in(ids, value_set=among)
    return ids.filter(found if inside else pc.invert(found))


def _assemble(opts: RerateOptions, out: Path, ckpt: _Checkpoints, plan: ChunkPlan,
              debtors_in: pd.Index, unknown: list[str], previous: pd.DataFrame | None,
              scope: list[str] | None, as_of: str, engine: Any,
              frames: Mapping[str, pd.DataFrame], asm: _Assembler) -> tuple[dict[str, Any], int]:
    """Reconcile, then write decisions, errors, migration and limit actions."""
    chunks = range(plan.n_chunks)
    missing = [k for k in chunks if not ckpt.is_done(k)]
    if missing:
        raise RerateError(f"Chunks {missing[:5]} have no checkpoint after the run; run again.")
    asm.feed()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="rerate-hhi") as pool:
        pairs = asm.pairs_frame()
        # the HHIs read only the pairs and the debtors: figured on the other core meanwhile
        # (Arrow's hashing and numpy's passes release the interpreter lock)
        hhis = pool.submit(_concentration, pairs, frames.get("debtors"))
        return _reconciled(opts, out, ckpt, plan, debtors_in, unknown, previous, scope, as_of,
                           engine, asm, pairs, hhis)


def _unidentified(debtors: pd.DataFrame, plan: ChunkPlan) -> np.ndarray:
    """Positions of the debtors rows without a debtor id (missing or blank): each is a
    debtor in, errored by its ``missing_value`` row. All are in chunk 0 unless an
    id of other white space sorts after the first bound; then -1 (no row numbers)."""
    if "debtor_id" not in debtors.columns or not len(debtors):
        return np.zeros(0, dtype=np.int64)
    ids = debtors["debtor_id"]
    rows = np.flatnonzero(_blank(ids))
    if rows.size and plan.chunk_of(ids.iloc[rows].reset_index(drop=True)).any():
        return np.full(rows.size, -1, dtype=np.int64)
    return rows


def _label_unidentified(errors: pa.Table, rows: np.ndarray) -> tuple[pa.Table, int]:
    """The error rows of debtors rows without a debtor id, and their number.

    The engine names such a row ``row N`` by its position in its chunk; these rows
    are all in chunk 0, in file order, so the k-th is at ``rows[k]`` of the file:
    its record is relabelled so (when the counts agree and the positions are known).
    """
    if not errors.num_rows or "record" not in errors.column_names:
        return errors, 0
    mask = pc.and_(pc.and_(pc.equal(errors["table"], "debtors"),
                           pc.equal(errors["column"], "debtor_id")),
                   pc.and_(pc.equal(errors["reason"], "missing_value"),
                           pc.is_null(errors["debtor_id"])))
    hits = np.flatnonzero(np.asarray(mask.combine_chunks().fill_null(False), dtype=bool))
    if hits.size == 0 or hits.size != rows.size or (rows < 0).any():
        return errors, int(hits.size)
    record = np.asarray(errors["record"].to_pylist(), dtype=object)
    record[hits] = [f"row {r}" for r in rows.tolist()]
    i = errors.column_names.index("record")
    column = pa.array(record.tolist(), errors.schema.field(i).type)
    return errors.set_column(i, errors.schema.field(i), column), int(hits.size)


def _concentration(pairs: pd.DataFrame, debtors: pd.DataFrame | None) -> dict[str, float]:
    """The run's HHIs (:func:`riskengine.batch.migration.concentration`) over the book of
    ``debtors``."""
    return mig.concentration(pairs, None if debtors is None else _book(debtors))


def _reconciled(opts: RerateOptions, out: Path, ckpt: _Checkpoints, plan: ChunkPlan,
                debtors_in: pd.Index, unknown: list[str], previous: pd.DataFrame | None,
                scope: list[str] | None, as_of: str, engine: Any, asm: _Assembler,
                pairs: pd.DataFrame, hhis: Future[dict[str, float]]
                ) -> tuple[dict[str, Any], int]:
    """:func:`_assemble` once the pair rows are read and their HHIs are under way."""
    chunks = range(plan.n_chunks)
    ratings = asm.ratings_frame()
    err_tables = list(asm.errors)
    extra = _not_in_portfolio(unknown)
    if len(extra):
        err_tables.append(errors_table(extra))
    err_schema = _unify([t.schema for t in err_tables])
    err_all = pa.concat_tables([_conform(t.replace_schema_metadata(None), err_schema)
                                for t in err_tables])
    ins = _text_array(debtors_in.append(pd.Index(unknown, dtype="str")))
    rating_ids, pair_ids = _text_array(ratings["debtor_id"]), _text_array(pairs["debtor_id"])
    if _runs_over(pair_ids, rating_ids) is not None:
        decided = rating_ids  # one rating per debtor, in id order, the pairs' debtors
    else:
        decided = pc.unique(pa.chunked_array([rating_ids, pair_ids], pa.large_string())
                            .combine_chunks().drop_null())
    errored = _distinct_ids(err_all["debtor_id"]) if err_all.num_rows else \
        pa.array([], pa.large_string())
    err_all, unidentified_errored = _label_unidentified(err_all, asm.unidentified)
    rec = mig.reconcile(ins, decided, errored, unidentified=len(asm.unidentified),
                        unidentified_errored=unidentified_errored)
    if not rec.ok:
        raise RerateError(f"The run does not reconcile: {rec.message()}. Nothing was written to "
                          f"{str(out)!r}; the checkpoints are kept for inspection.")
    asm.commit()
    n = asm.rows
    write_parquet(err_all, out / "errors.parquet")
    errors = err_all.to_pandas()
    errored_only = _among(errored, decided, False)
    errored_ids = pd.Index(errored_only.to_pylist(), dtype="str")
    rated = mig.debtor_ratings(ratings.assign(supplier_id=None))
    nr = _among(errored_only, ins, True).to_pylist()
    current = pd.concat([rated["grade"], pd.Series("NR", index=pd.Index(nr, dtype="str"))])
    policy = getattr(engine, "policy", None)
    if policy is None:
        from riskengine.config import load_policy

        policy = load_policy(opts.policy_path)
    matrix = actions = prev_ratings = None
    if previous is not None:
        prev_ratings = mig.debtor_ratings(previous)
        matrix = mig.migration_matrix(prev_ratings["grade"], current, scope)
        actions = mig.limit_actions(previous, pairs, as_of, policy, scope=scope,
                                    errored=errored_ids)
    else:  # nothing to compare with: every debtor is new, no limit action
        matrix = mig.migration_matrix(pd.Series([], dtype="str"), current, scope)
        actions = mig.limit_actions(pairs.iloc[:0], pairs.iloc[:0], as_of, policy)
    write_parquet(pa.Table.from_pandas(matrix.to_long(), preserve_index=False)
                  .replace_schema_metadata(None), out / "migration.parquet")
    write_parquet(pa.Table.from_pandas(actions, preserve_index=False)
                  .replace_schema_metadata(None), out / "limit_actions.parquet")
    summary = mig.run_summary(pairs, errors, rec, previous=previous, migration=matrix,
                              actions=actions, ratings=rated, decision_rows=n,
                              hhis=hhis.result(), previous_ratings=prev_ratings)  # fmt: skip
    counts = [ckpt.counts(k) for k in chunks]
    for name in ("pairs_in", "pairs_decided", "pairs_rejected"):
        summary[name] = int(sum(c.get(name, 0) for c in counts))
    summary["previous_run"] = previous is not None
    return summary, n


# --------------------------------------------------------------------------- MLflow


def _log_mlflow(opts: RerateOptions, summary: Mapping[str, Any], key_parts: Mapping[str, Any],
                out: Path, started: dt.datetime, elapsed: float) -> str:
    from mlflow.entities import Metric, Param, RunTag

    from riskengine.tracking import runs as tracking

    uri = tracking.resolve_tracking_uri(opts.tracking_uri)
    client = tracking.get_client(uri)
    exp = tracking.get_or_create_experiment(EXPERIMENT, tracking_uri=uri)
    run = client.create_run(exp, run_name=f"rerate {summary['as_of']}",
                            start_time=int(started.timestamp() * 1000))  # fmt: skip
    rid = run.info.run_id
    try:
        params = {"as_of": summary["as_of"], "engine": opts.engine,
                  "chunk_size": opts.chunk_size, "workers": opts.workers,
                  "portfolio": str(opts.portfolio), "previous": str(opts.previous or ""),
                  "scope": summary["scope"], "changed_since": opts.changed_since or "",
                  "debtors": ",".join(opts.debtors or ())[:5000],
                  "model_version": key_parts["model_version"],
                  "policy_version": key_parts["policy_version"],
                  "input_hash": key_parts["input_hash"]}  # fmt: skip
        metrics: dict[str, float] = {"elapsed_s": elapsed}
        flat = _summary_table(summary).to_pydict()
        for name, value in zip(flat["figure"], flat["value"], strict=True):
            if value is not None and math.isfinite(value):
                metrics[name.replace("grade_distribution.", "grade_")] = value
        now = int(time.time() * 1000)
        client.log_batch(rid, metrics=[Metric(k[:250], float(v), now, 0)
                                       for k, v in metrics.items()],
                         params=[Param(k, str(v)) for k, v in params.items()],
                         tags=[RunTag("riskengine.job", "rerate"),
                               RunTag("outputs_dir", str(out.resolve())),
                               RunTag("psi_light", str(summary.get("psi", {}).get("light",
                                                                                  "n/a")))])
        for name in OUTPUT_FILES:
            path = out / name
            if path.is_file():
                client.log_artifact(rid, str(path), "rerate")
        parts = part_files(out / DIRNAME)
        # the decisions of a large book stay in --out (tagged above), not copied
        if sum(f.stat().st_size for f in parts) < 50e6:
            client.log_artifacts(rid, str(out / DIRNAME), f"rerate/{DIRNAME}")
        client.set_terminated(rid, "FINISHED")
    except BaseException:
        client.set_terminated(rid, "FAILED")
        raise
    return str(rid)


# --------------------------------------------------------------------------- command line


def add_rerate_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``riskengine rerate`` flags to a parser."""
    p.add_argument("--portfolio", required=True, help="portfolio directory (docs/DATA_LAYOUT.md)")
    p.add_argument("--as-of", default=None, help="as-of date YYYY-MM-DD (default: the manifest's)")
    p.add_argument("--allow-as-of-after-extract", action="store_true",
                   help="accept an --as-of after the manifest's as_of (open invoices then age "
                        "past their due dates unseen)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--previous", default=None, help="output directory of the previous run")
    p.add_argument("--engine", choices=("pandas", "spark"), default="pandas")
    p.add_argument("--debtors", default=None, help="re-rate only these debtor ids (ID,ID,...)")
    p.add_argument("--changed-since", default=None,
                   help="re-rate only debtors with records dated after DATE")
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE,
                   help=f"debtors per chunk (default {DEFAULT_CHUNK_SIZE:,})")
    p.add_argument("--workers", type=int, default=None,
                   help="processes deciding chunks in parallel (pandas engine; default: the "
                        f"cores this process may use, here {default_workers()})")
    p.add_argument("--spark-master", default="local[*]", help="Spark master URL")
    p.add_argument("--model-dir", default=None, help="model directory (default models/)")
    p.add_argument("--policy", dest="policy_path", default=None, help="policy TOML")
    p.add_argument("--tracking-uri", default=None, help="MLflow tracking URI")
    p.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    p.add_argument("--max-error-share", type=float, default=0.5,
                   help="fail (exit 3) when more than this share of the debtors errored "
                        "(default 0.5); a run that decided no debtor always fails")
    return p


def _given(value: Any, default: int) -> int:
    """A numeric flag as given (0 included, which the options then refuse), else the default."""
    return default if value is None else int(value)


def default_workers() -> int:
    """The command's ``--workers`` default: the cores this process may run on (its CPU
    affinity, e.g. a container's share), else the machine's cores."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def options_from_args(args: argparse.Namespace) -> RerateOptions:
    """:class:`RerateOptions` from the parsed flags (missing optional flags: defaults)."""
    debtors = getattr(args, "debtors", None)
    ids = None
    if debtors:
        ids = tuple(x.strip() for x in str(debtors).split(",") if x.strip())
    previous = getattr(args, "previous", None)
    share = getattr(args, "max_error_share", None)
    return RerateOptions(
        portfolio=Path(args.portfolio), out=Path(args.out), as_of=getattr(args, "as_of", None),
        previous=Path(previous) if previous else None,
        engine=getattr(args, "engine", "pandas") or "pandas", debtors=ids,
        changed_since=getattr(args, "changed_since", None),
        chunk_size=_given(getattr(args, "chunk_size", None), DEFAULT_CHUNK_SIZE),
        workers=_given(getattr(args, "workers", None), default_workers()),
        spark_master=getattr(args, "spark_master", None) or "local[*]",
        model_dir=getattr(args, "model_dir", None),
        policy_path=getattr(args, "policy_path", None) or getattr(args, "policy", None),
        tracking_uri=getattr(args, "tracking_uri", None),
        tracking=not getattr(args, "no_tracking", False),
        max_error_share=0.5 if share is None else float(share),
        allow_as_of_after_extract=bool(getattr(args, "allow_as_of_after_extract", False)),
    )


def tune_allocators() -> bool:
    """Keep freed memory for reuse in this process and the workers it forks.

    Each chunk allocates and frees a few hundred MB; by default glibc returns
    freed memory to the system and Arrow's mimalloc pool purges it, so the next
    chunk faults in fresh pages that the kernel must zero (about a fifth of the
    job's CPU at 1M debtors). Here glibc keeps up to 1 GiB of freed memory
    (``mallopt`` trim threshold, a 256 MiB top pad, and every allocation from the
    heap: no block gets its own ``mmap``, which large ones otherwise do, however
    high the threshold, past 32 MiB) and Arrow allocates through the same system
    allocator. Peak RSS grows a little (about 2 GB at 1M debtors); the outputs do
    not change. Called by the command only (a process-wide setting is the
    command's to make, not the library's); Linux with glibc only. Returns whether
    the settings were applied.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4  # glibc's malloc.h
    ok = all(mallopt(opt, value) == 1 for opt, value in (
        (m_mmap_max, 0), (m_trim_threshold, 1 << 30), (m_top_pad, 256 << 20)))
    pa.set_memory_pool(pa.system_memory_pool())
    return ok


def rerate_command(args: argparse.Namespace) -> int:
    """``riskengine rerate``: run the job and print its summary line by line."""
    opts = options_from_args(args)
    if opts.engine == "pandas":
        tune_allocators()
    result = run_rerate(opts)
    s = result.summary
    print(f"riskengine rerate: as of {s['as_of']}, model {s['model_version']}, "
          f"policy {s['policy_version']}")
    print(f"  debtors in {s['debtors_in']:,} = decided {s['debtors_decided']:,} + errored "
          f"{s['debtors_errored']:,} (reconciled)")
    print(f"  {s['pair_decisions']:,} pair decisions, {s['error_rows']:,} error rows, "
          f"{result.chunks} chunks ({result.chunks_resumed} resumed)")
    if "psi" in s:
        value = s["psi"]["value"]  # None when undefined (no PD on one side)
        shown = "undefined" if value is None else f"{value:.4f}"
        print(f"  PSI vs previous run {shown} ({s['psi']['light']})")
    if "limit_actions" in s and s.get("previous_run"):
        print(f"  limit actions: {s['limit_actions']}")
    print(f"  outputs in {result.out} ({result.elapsed_s:.1f} s)"
          + (f"; MLflow run {result.run_id}" if result.run_id else ""))
    failure = run_failure(s, opts.max_error_share)
    if failure is not None:
        print(f"riskengine rerate: failed: {failure}; outputs written to {result.out}, see "
              "errors.parquet", file=sys.stderr)
        return FAILED_RUN_EXIT
    return 0


def run_failure(summary: Mapping[str, Any], max_error_share: float) -> str | None:
    """Why a finished run has failed, or None: no debtor decided, or more than
    ``max_error_share`` of the debtors in errored (errored over debtors in).

    Examples
    --------
    >>> run_failure({"debtors_in": 4, "debtors_decided": 2, "debtors_errored": 2}, 0.5) is None
    True
    >>> run_failure({"debtors_in": 4, "debtors_decided": 1, "debtors_errored": 3}, 0.5)
    '3 of 4 debtors errored (75.0% > --max-error-share 50%)'
    >>> run_failure({"debtors_in": 2, "debtors_decided": 0, "debtors_errored": 2}, 1.0)
    '2 of 2 debtors errored (no debtor was decided)'
    >>> run_failure({"debtors_in": 0, "debtors_decided": 0, "debtors_errored": 0}, 0.5)
    'no debtor was decided (0 debtors in)'
    """
    n_in, errored = int(summary["debtors_in"]), int(summary["debtors_errored"])
    if n_in == 0 or int(summary["debtors_decided"]) == 0 and not errored:
        return f"no debtor was decided ({n_in:,} debtors in)"
    share = errored / n_in
    if share > max_error_share:
        return (f"{errored:,} of {n_in:,} debtors errored ({share:.1%} > --max-error-share "
                f"{max_error_share * 100:g}%)")
    if int(summary["debtors_decided"]) == 0:
        return f"{errored:,} of {n_in:,} debtors errored (no debtor was decided)"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m riskengine.batch.rerate`` (the same flags as ``riskengine rerate``)."""
    parser = add_rerate_arguments(argparse.ArgumentParser(prog="riskengine rerate"))
    args = parser.parse_args(argv)
    try:
        return rerate_command(args)
    except RiskEngineError as exc:
        print(f"riskengine rerate: error: {exc}", file=sys.stderr)
        return 2


def end_process(code: int) -> NoReturn:
    """End the process now with ``code``, without the interpreter's teardown.

    For the command line only, once a run has returned: every output is then on
    disk (each file synced and moved into place), the MLflow run is terminated
    and the workers have exited, so nothing is left to do but free memory, which
    the system does at once. Python's own teardown would first release every
    object of the run one by one (about 0.4 s for 1,000,000 debtors). Standard
    streams and logging handlers are flushed first.
    """
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    end_process(main())
