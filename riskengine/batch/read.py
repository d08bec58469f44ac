"""What a rerate run reads: the driver's tables, a chunk's records by debtor-id range
(Parquet row groups by their statistics), the worker-read tables and their stamps,
the first chunks prefetched while the engine loads, the input hash and the previous
run's decisions.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskengine.batch import migration as mig
from riskengine.batch.dataset import DIRNAME, decisions_path
from riskengine.batch.options import RerateOptions
from riskengine.batch.plan import plan_chunks
from riskengine.contracts.arrowtext import text_member
from riskengine.contracts.dates import batch_as_of
from riskengine.contracts.schemas import CONTRACTS
from riskengine.errors import RerateError

_DEBTOR_TABLES = ("debtors", "statements", "adverse_records", "invoices", "exposures",
                  "relations", "insurer_limits")  # fmt: skip

_DATE_COLUMNS = {"debtors": ("incorporation_date",), "statements": ("period_end",),
                 "adverse_records": ("event_date", "settlement_date"),
                 "invoices": ("issue_date", "paid_date"),
                 "insurer_limits": ("decision_date", "effective_date")}  # fmt: skip


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
    :meth:`riskengine.batch.plan.ChunkPlan.chunk_of`. Only the row groups that may
    hold records of the range are decoded (by their ``debtor_id`` statistics), in one thread (the
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
    fx = portfolio_io.read_fx_rates(portfolio, _manifest(portfolio))  # whole, as the driver's
    if fx is not None:
        frames["fx_rates"] = fx
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
            mask &= text_member(ids, keep_ids)
        out[name] = frame if mask.all() else frame[mask].reset_index(drop=True)
    return out


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
    from riskengine.io.portfolio import _coerce, read_fx_rates, read_portfolio, read_table

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
        fx = read_fx_rates(root, manifest)  # no debtor id: every chunk gets it whole
        if fx is not None:
            out["fx_rates"] = fx
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
