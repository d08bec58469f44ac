"""The pandas path's worker reads: each forked worker reads its chunk's rows of a
Parquet table sorted by debtor id instead of the driver reading every table whole.

The outputs must be byte-identical to the whole-read path (the tables sliced in
memory), bad records included; a table that is not sorted by debtor id, or whose
dtypes could depend on rows outside a chunk, is read whole (fallback).
SYNTHETIC data only (``riskengine.synthetic``, seed 11).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from riskengine.api import load_engine
from riskengine.batch import read as batch_read
from riskengine.batch import rerate
from riskengine.batch import workers as batch_workers
from riskengine.batch.chunk import decide_chunk
from riskengine.batch.dataset import DIRNAME, part_files
from riskengine.batch.options import OUTPUT_FILES, RerateOptions
from riskengine.batch.plan import _chunk, _slices, plan_chunks
from riskengine.batch.read import (
    _Prefetch,
    _range_groups,
    _read_inputs,
    _restrict,
    _stamp,
    _unchanged,
    read_range,
    worker_tables,
)
from riskengine.batch.rerate import run_rerate
from riskengine.batch.workers import _with_reads
from riskengine.errors import RerateError
from riskengine.io import portfolio as portfolio_io
from riskengine.io.portfolio import chunk_readable, read_portfolio, write_portfolio
from riskengine.synthetic import generate_portfolio, synthetic_manifest

AS_OF = "2026-06-30"
N, SEED, CHUNK = 120, 11, 30
ROWS_PER_GROUP = 2  # tiny row groups: even 2-debtor chunks read a few of them


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    if "debtor_id" not in frame.columns:
        return frame
    return frame.sort_values("debtor_id", kind="stable", na_position="last",
                             ignore_index=True)


def _bad_frames() -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The SYNTHETIC portfolio plus bad records, each table sorted by debtor id.

    Bad records: statements, invoices and exposures of unknown debtors (below the
    first id, inside a chunk, above the last id), records without a debtor id,
    a duplicated debtor, statement and exposure at the first chunk boundary, a
    negative revenue, a negative invoice amount and a negative requested limit.
    """
    frames = generate_portfolio(N, SEED, AS_OF)
    manifest = synthetic_manifest(N, SEED, AS_OF)
    ids = sorted(frames["debtors"]["debtor_id"].astype(str))
    edge = ids[CHUNK]  # first debtor of chunk 1
    deb = frames["debtors"]
    frames["debtors"] = pd.concat([deb, deb[deb["debtor_id"] == edge]], ignore_index=True)
    st = frames["statements"]
    unknown = st.iloc[[0, 1, 2, 3]].copy()
    unknown["debtor_id"] = ["A-UNKNOWN", f"{ids[50]}-X", "Z-UNKNOWN", None]
    dup = st[st["debtor_id"] == edge].iloc[[0]]
    neg = st[st["debtor_id"] == ids[70]].iloc[[0]].assign(revenue=-5.0)
    rest = st[st["debtor_id"] != ids[70]]
    frames["statements"] = pd.concat([rest, unknown, dup, neg], ignore_index=True)
    inv = frames["invoices"]
    odd = inv.iloc[[0, 1]].copy()
    odd["debtor_id"] = [None, "Z-UNKNOWN"]
    negi = inv[inv["debtor_id"] == ids[95]].iloc[[0]].assign(amount=-100.0)
    frames["invoices"] = pd.concat([inv, odd, negi], ignore_index=True)
    ex = frames["exposures"]
    dupx = ex[ex["debtor_id"] == edge].iloc[[0]]
    negx = ex[ex["debtor_id"] == ids[100]].iloc[[0]].assign(requested_limit=-1.0)
    nullx = ex.iloc[[5]].assign(debtor_id=None)
    frames["exposures"] = pd.concat([ex, dupx, negx, nullx], ignore_index=True)
    return {k: _sorted(v) for k, v in frames.items()}, manifest


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad")
    frames, manifest = _bad_frames()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(portfolio_io, "ROW_GROUP_ROWS", ROWS_PER_GROUP)
        write_portfolio(frames, path, manifest=manifest)
    return path


def _opts(portfolio: Path, out: Path, **kw: Any) -> RerateOptions:
    kw.setdefault("tracking", False)
    kw.setdefault("progress", False)
    kw.setdefault("chunk_size", CHUNK)
    return RerateOptions(portfolio=portfolio, out=out, as_of=AS_OF, **kw)


def _bytes(out: Path) -> dict[str, bytes]:
    """Every deterministic output file by its path in ``out`` (each part of the dataset)."""
    files = [out / n for n in OUTPUT_FILES if n != DIRNAME] + part_files(out / DIRNAME)
    return {str(f.relative_to(out)): f.read_bytes() for f in files}


def _whole_read(portfolio: Path, out: Path, engine: Any, **kw: Any) -> Path:
    """The same run with every table read whole by the driver (the reference path)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch_read, "worker_tables", lambda *a, **k: {})
        run_rerate(_opts(portfolio, out, **kw), engine=engine)
    return out


def test_fixture_takes_the_worker_read_path(bad: Path) -> None:
    reads = worker_tables(bad, {"format": "parquet"}, CHUNK)
    assert {"statements", "invoices", "exposures"} <= set(reads)
    assert "debtors" not in reads  # the driver reads the debtors (plan, book)
    assert pq.ParquetFile(bad / "statements.parquet").metadata.num_row_groups > N


def test_read_range_equals_slicing_the_whole_read(bad: Path) -> None:
    """Every chunk's rows and dtypes, nulls to chunk 0, unknown ids by their range."""
    frames, _ = read_portfolio(bad)
    plan = plan_chunks(frames["debtors"]["debtor_id"], CHUNK)
    sl = _slices(frames, plan)
    for k in range(plan.n_chunks):
        lo, hi = plan.range_of(k)
        want = _chunk(frames, sl, k)
        for name in ("statements", "invoices", "exposures", "adverse_records"):
            got = read_range(bad / f"{name}.parquet", name, lo, hi)
            pd.testing.assert_frame_equal(got, want[name])
    first = read_range(bad / "statements.parquet", "statements", *plan.range_of(0))
    assert first["debtor_id"].isna().sum() == 1
    assert "A-UNKNOWN" in set(first["debtor_id"].dropna())


@pytest.mark.parametrize("workers", [1, 2])
def test_worker_read_outputs_byte_identical_with_bad_records(
        bad: Path, engine: Any, tmp_path: Path, workers: int) -> None:
    ref = _whole_read(bad, tmp_path / "whole", engine)
    res = run_rerate(_opts(bad, tmp_path / "worker", workers=workers), engine=engine)
    assert _bytes(tmp_path / "worker") == _bytes(ref)
    s = res.summary
    assert s["reconciled"] and s["debtors_errored"] >= 3
    err = pd.read_parquet(tmp_path / "worker" / "errors.parquet")
    assert err["debtor_id"].isin(["A-UNKNOWN", "Z-UNKNOWN"]).any()
    assert err["debtor_id"].isna().any()  # records without a debtor id are reported


def test_partial_runs_match_the_whole_read(bad: Path, engine: Any, tmp_path: Path) -> None:
    frames, _ = read_portfolio(bad)
    ids = sorted(frames["debtors"]["debtor_id"].astype(str))
    pick = (ids[0], ids[CHUNK], ids[70], ids[95], ids[-1], "NOT-THERE")
    assert {"statements", "exposures"} <= set(worker_tables(bad, {}, 2))
    ref = _whole_read(bad, tmp_path / "w1", engine, debtors=pick, chunk_size=2)
    run_rerate(_opts(bad, tmp_path / "r1", debtors=pick, chunk_size=2), engine=engine)
    assert _bytes(tmp_path / "r1") == _bytes(ref)
    ref = _whole_read(bad, tmp_path / "w2", engine, changed_since="2026-03-31")
    run_rerate(_opts(bad, tmp_path / "r2", changed_since="2026-03-31"), engine=engine)
    assert _bytes(tmp_path / "r2") == _bytes(ref)


def test_interrupted_worker_read_run_resumes_byte_identical(
        bad: Path, engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = _whole_read(bad, tmp_path / "whole", engine)
    out = tmp_path / "out"
    real = decide_chunk
    calls: list[int] = []

    def dies_on_third(*a: Any, **k: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return real(*a, **k)

    monkeypatch.setattr(batch_workers, "decide_chunk", dies_on_third)
    with pytest.raises(KeyboardInterrupt, match="killed"):
        run_rerate(_opts(bad, out), engine=engine)
    monkeypatch.setattr(batch_workers, "decide_chunk", real)
    res = run_rerate(_opts(bad, out), engine=engine)
    assert res.chunks_resumed == 2
    assert _bytes(out) == _bytes(ref)


def _shuffled(bad: Path, dest: Path) -> None:
    """The bad portfolio with its statements in a shuffled row order (seeded)."""
    frames, manifest = read_portfolio(bad)
    st = frames["statements"]
    order = np.random.default_rng(5).permutation(len(st))
    frames["statements"] = st.iloc[order].reset_index(drop=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(portfolio_io, "ROW_GROUP_ROWS", ROWS_PER_GROUP)
        write_portfolio(frames, dest, manifest=manifest)


def test_unsorted_table_falls_back_to_the_whole_read(bad: Path, engine: Any,
                                                     tmp_path: Path) -> None:
    src = tmp_path / "shuffled"
    _shuffled(bad, src)
    assert not chunk_readable(src / "statements.parquet", "statements")
    reads = worker_tables(src, {"format": "parquet"}, CHUNK)
    assert "statements" not in reads and "invoices" in reads
    ref = _whole_read(src, tmp_path / "whole", engine)
    run_rerate(_opts(src, tmp_path / "mixed", workers=2), engine=engine)
    assert _bytes(tmp_path / "mixed") == _bytes(ref)


def test_chunk_readable_refuses_what_would_read_differently(tmp_path: Path) -> None:
    ids = pa.array([f"D{i:03d}" for i in range(40)], pa.large_string())
    exp = pa.table({"supplier_id": pa.array(["S1"] * 40, pa.large_string()),
                    "debtor_id": ids, "credit_days": pa.array(range(40), pa.int64())})
    ok = tmp_path / "ok.parquet"
    pq.write_table(exp, ok, row_group_size=8)
    assert chunk_readable(ok, "exposures", min_row_groups=5)
    assert not chunk_readable(ok, "exposures", min_row_groups=6)  # too few row groups
    as_float = tmp_path / "float.parquet"  # Int64 from floats depends on every value
    pq.write_table(exp.set_column(2, "credit_days", pa.array(np.arange(40.0))), as_float,
                   row_group_size=8)
    assert not chunk_readable(as_float, "exposures")
    deb = pa.table({"debtor_id": ids, "listed": pa.array([True] * 39 + [None], pa.bool_())})
    flags = tmp_path / "flags.parquet"  # a missing flag keeps the whole column as text
    pq.write_table(deb, flags, row_group_size=8)
    assert not chunk_readable(flags, "debtors")
    nostats = tmp_path / "nostats.parquet"
    pq.write_table(exp, nostats, row_group_size=8, write_statistics=False)
    assert not chunk_readable(nostats, "exposures")
    assert not chunk_readable(tmp_path / "missing.parquet", "exposures")


def test_a_table_changed_during_the_run_stops_it(tmp_path: Path) -> None:
    """A worker-read file rewritten after the run started (other size or modification
    time) raises RerateError naming the file instead of mixing two versions."""
    file = tmp_path / "statements.parquet"
    pq.write_table(pa.table({"debtor_id": ["a", "b"]}), file)
    reads = {"statements": file}
    stamps = {"statements": _stamp(file)}
    _unchanged(reads, stamps)  # as at the start: no error
    pq.write_table(pa.table({"debtor_id": ["a", "b", "c"]}), file)
    with pytest.raises(RerateError, match="statements.parquet changed while"):
        _unchanged(reads, stamps)


@pytest.mark.parametrize("workers", [1, 2])
def test_prefetched_first_chunks_give_the_same_outputs(
        bad: Path, engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        workers: int) -> None:
    """The driver's prefetch of the first chunks (_Prefetch) reads what the
    workers would (bad records and null ids in chunk 0 included), and a run whose
    first chunks were all prefetched is byte-identical to the whole-read path."""
    from concurrent.futures import Future

    reading: Future[Any] = Future()
    reading.set_result(_read_inputs(_opts(bad, tmp_path / "x")))
    pre = _Prefetch()
    pre.start(reading, _opts(bad, tmp_path / "x", workers=workers))
    assert pre.thread is not None
    pre.thread.join(60)
    chunks = pre.take()
    assert sorted(chunks) == list(range(workers))
    frames, _ = read_portfolio(bad)
    plan = plan_chunks(frames["debtors"]["debtor_id"], CHUNK)
    want = _chunk(frames, _slices(frames, plan), 0)
    for name, got in chunks[0].items():
        pd.testing.assert_frame_equal(got, want[name])
    assert chunks[0]["statements"]["debtor_id"].isna().sum() == 1

    class Done(_Prefetch):  # the run's own prefetch, waited for before the fork
        def take(self) -> dict[int, dict[str, pd.DataFrame]]:
            assert self.thread is not None
            self.thread.join(60)
            return super().take()

    monkeypatch.setattr(rerate, "_Prefetch", Done)
    used: list[bool] = []
    real = _with_reads
    monkeypatch.setattr(batch_workers, "_with_reads", lambda *a: used.append(a[4] is not None)
                        or real(*a))
    run_rerate(_opts(bad, tmp_path / "pre", workers=workers), engine=engine)
    monkeypatch.undo()
    if workers == 1:  # in this process: the prefetched chunk was used, the others read
        assert used[:1] == [True] and not any(used[1:])
    assert _bytes(tmp_path / "pre") == _bytes(_whole_read(bad, tmp_path / "whole", engine))


def test_no_prefetch_for_partial_or_spark_runs(bad: Path, tmp_path: Path) -> None:
    from concurrent.futures import Future

    reading: Future[Any] = Future()
    for kw in ({"debtors": ("x",)}, {"changed_since": "2026-01-01"}, {"engine": "spark"}):
        pre = _Prefetch()
        pre.start(reading, _opts(bad, tmp_path / "x", **kw))
        assert pre.thread is None and pre.take() == {}


# Row-group reads (read_range): 4 rows a row group; "b" fills row group 0's tail and all
# of row group 1 and spills into row group 2; missing ids inside row groups 3 and 5.
_GROUP = 4
_IDS = ["a", "a", "b", "b", "b", "b", "b", "b", "b", "c", "d", "d",
        "e", None, "f", "g", "h", "i", "j", "k", "l", None, "m", "n", "o"]


def _group_file(path: Path, ids: list[str | None], **kw: Any) -> Path:
    n = len(ids)
    table = pa.table({
        "supplier_id": pa.array([f"S{i % 3}" for i in range(n)], pa.large_string()),
        "debtor_id": pa.array(ids, pa.large_string()),
        "requested_limit": pa.array([float(i) if i % 5 else None for i in range(n)]),
        "credit_days": pa.array(range(n), pa.int64()),
    })
    pq.write_table(table, path, row_group_size=_GROUP, **kw)
    return path


def _sliced_whole(file: Path, lo: str | None, hi: str | None) -> pd.DataFrame:
    """The reference: the whole file read, then the range's rows kept in memory."""
    whole = portfolio_io._coerce("exposures", pq.read_table(file).to_pandas())
    return _restrict({"exposures": whole}, lo, hi, None)["exposures"]


_RANGES = [
    (None, None),  # one chunk: everything
    (None, "b"),  # first chunk ending inside row group 0, missing ids included
    (None, "e"),  # first chunk ending on a row group's first id
    ("b", "c"),  # one debtor across three row groups
    ("b", "e"),  # starting inside a row group, ending on a row group's first row
    ("c", "h"),  # across a missing id and a row group boundary
    ("h", "l"),  # one row group exactly, from its first row to the next one's first
    ("e", "e0"),  # ending between two ids
    ("d0", "d1"),  # no id in the range, inside a row group: empty
    ("o", None),  # last chunk: the last row only
    ("p", None),  # past every id: empty
    ("0", "a"),  # before every id, not the first chunk: empty
]


@pytest.mark.parametrize(("lo", "hi"), _RANGES)
def test_read_range_of_row_groups_equals_the_sliced_whole_read(
        tmp_path: Path, lo: str | None, hi: str | None) -> None:
    file = _group_file(tmp_path / "exposures.parquet", _IDS)
    assert chunk_readable(file, "exposures")
    got = read_range(file, "exposures", lo, hi)
    want = _sliced_whole(file, lo, hi)
    pd.testing.assert_frame_equal(got, want)
    assert got["debtor_id"].isna().sum() == (2 if lo is None else 0)


@pytest.mark.parametrize(("lo", "hi"), _RANGES)
def test_read_range_cuts_unsorted_row_groups_and_ones_without_statistics(
        tmp_path: Path, lo: str | None, hi: str | None) -> None:
    """Rows out of order inside their row groups (the row groups' ranges still ordered,
    as chunk_readable allows), and no statistics: the same rows in file order."""
    order = np.random.default_rng(3).permutation(_GROUP)
    shuffled = [_IDS[g + i] for g in range(0, len(_IDS), _GROUP) for i in order
                if g + i < len(_IDS)]
    unsorted = _group_file(tmp_path / "unsorted.parquet", shuffled)
    assert chunk_readable(unsorted, "exposures")
    nostats = _group_file(tmp_path / "nostats.parquet", _IDS, write_statistics=False)
    for file in (unsorted, nostats):
        pd.testing.assert_frame_equal(read_range(file, "exposures", lo, hi),
                                      _sliced_whole(file, lo, hi))


def test_range_groups_skip_row_groups_by_their_statistics(tmp_path: Path) -> None:
    """Only row groups that may hold the range are decoded; one whose id range lies in
    the chunk and that has no missing id (or is in the first chunk) is kept whole."""
    ids = [*_IDS, *[None] * 7]  # row group 6: "o" and missing ids; 7: missing ids only
    meta = pq.ParquetFile(_group_file(tmp_path / "e.parquet", ids)).metadata
    assert meta.num_row_groups == 8
    assert _range_groups(meta, "b", "c") == [(0, False), (1, True), (2, False)]
    assert _range_groups(meta, "c", "h") == [(2, False), (3, False)]  # 3: a null
    assert _range_groups(meta, "h", "l") == [(4, True)]
    assert _range_groups(meta, None, "b") == [(0, False), (3, False), (5, False),
                                                     (6, False), (7, True)]
    assert _range_groups(meta, "p", None) == []
    assert _range_groups(meta, None, None) == [(g, True) for g in range(8)]
    nostats = pq.ParquetFile(_group_file(tmp_path / "n.parquet", ids,
                                         write_statistics=False)).metadata
    assert _range_groups(nostats, "p", None) == [(g, False) for g in range(8)]
