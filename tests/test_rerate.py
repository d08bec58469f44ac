"""The batch re-rating job: end to end with the real engine on a small SYNTHETIC portfolio.

Reconciliation, atomic writes, kill-and-resume (a subprocess killed with SIGKILL),
determinism (byte-identical files), the previous-run comparison, partial runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from riskengine.api import load_engine
from riskengine.batch import rerate
from riskengine.batch.checkpoints import write_parquet
from riskengine.batch.dataset import DIRNAME, LEGACY_FILE, part_files
from riskengine.batch.options import (
    CHECKPOINTS,
    FAILED_RUN_EXIT,
    OUTPUT_FILES,
    THROTTLE_ENV,
    RerateOptions,
)
from riskengine.batch.plan import _chunk, _slices, changed_debtors, plan_chunks
from riskengine.batch.rerate import options_from_args, run_rerate
from riskengine.errors import RerateError
from riskengine.io.outputs import RERATE_MARKER
from riskengine.io.portfolio import read_portfolio, write_portfolio
from riskengine.synthetic import generate_portfolio, synthetic_manifest

AS_OF = "2026-06-30"
N, SEED, CHUNK = 120, 11, 30


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("portfolio")
    write_portfolio(generate_portfolio(N, SEED, AS_OF), path,
                    manifest=synthetic_manifest(N, SEED, AS_OF))
    return path


def _opts(portfolio: Path, out: Path, **kw: Any) -> RerateOptions:
    kw.setdefault("tracking", False)
    kw.setdefault("progress", False)
    kw.setdefault("chunk_size", CHUNK)
    return RerateOptions(portfolio=portfolio, out=out, as_of=AS_OF, **kw)


@pytest.fixture(scope="module")
def baseline(portfolio: Path, engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("baseline")
    run_rerate(_opts(portfolio, out), engine=engine)
    return out


def _bytes(out: Path) -> dict[str, bytes]:
    """Every deterministic output file by its path in ``out`` (each part of the dataset)."""
    files = [out / n for n in OUTPUT_FILES if n != DIRNAME] + part_files(out / DIRNAME)
    return {str(f.relative_to(out)): f.read_bytes() for f in files}


def test_end_to_end_outputs_and_reconciliation(portfolio: Path, baseline: Path) -> None:
    frames, _ = read_portfolio(portfolio)
    for name in (*OUTPUT_FILES, "run.json"):
        assert (baseline / name).exists(), name
    assert not (baseline / CHECKPOINTS).exists()  # removed after a successful run
    assert not list(baseline.glob(".*.tmp"))
    assert [f.name for f in (baseline / DIRNAME).iterdir()] and \
        sorted(f.name for f in (baseline / DIRNAME).iterdir()) == [
            f"part-{k:05d}.parquet" for k in range(4)]  # one part per chunk, nothing else
    dec = pd.read_parquet(baseline / DIRNAME)
    pairs = dec[dec["row_type"] == "pair"]
    ratings = dec[dec["row_type"] == "rating"]
    assert len(pairs) == len(frames["exposures"])  # every exposure decided
    assert ratings["debtor_id"].tolist() == sorted(frames["debtors"]["debtor_id"])
    assert ratings["supplier_id"].isna().all() and pairs["supplier_id"].notna().all()
    assert dec["debtor_id"].is_monotonic_increasing
    assert (dec["decided_at"] == f"{AS_OF}T00:00:00Z").all()
    summary = pd.read_json(baseline / "summary.json", typ="series")
    assert summary["reconciled"] and summary["debtors_in"] == N
    assert summary["debtors_decided"] + summary["debtors_errored"] == N
    assert summary["pairs_in"] == summary["pairs_decided"] + summary["pairs_rejected"]
    assert sum(summary["grade_distribution"].values()) == N
    assert summary["totals"]["approved_limit"] == pytest.approx(pairs["approved_limit"].sum())
    assert summary["chunks"] == 4
    mig = pd.read_parquet(baseline / "migration.parquet")
    assert mig["count"].sum() == N and set(mig.loc[mig["count"] > 0, "from_grade"]) == {"new"}
    # no previous run: the limits in force are the exposures' approved limits (issue 15)
    actions = pd.read_parquet(baseline / "limit_actions.parquet")
    changed = pairs["current_limit"].fillna(0.0) != pairs["approved_limit"].fillna(0.0)
    assert len(actions) == int(changed.sum()) > 0


def test_deterministic_and_chunking_does_not_change_decisions(
        portfolio: Path, baseline: Path, engine: Any, tmp_path: Path) -> None:
    run_rerate(_opts(portfolio, tmp_path / "again"), engine=engine)
    assert _bytes(tmp_path / "again") == _bytes(baseline)
    run_rerate(_opts(portfolio, tmp_path / "big", chunk_size=1000), engine=engine)
    a = pd.read_parquet(baseline / DIRNAME)
    b = pd.read_parquet(tmp_path / "big" / DIRNAME)
    assert len(part_files(tmp_path / "big" / DIRNAME)) == 1
    pd.testing.assert_frame_equal(a, b)


def test_parquet_metadata_has_no_clock(baseline: Path) -> None:
    for part in part_files(baseline / DIRNAME):
        meta = pq.ParquetFile(part).metadata
        assert meta.created_by.startswith("parquet-cpp-arrow")
        assert meta.metadata is None or b"pandas" not in meta.metadata


def test_the_dataset_reads_as_one_table_in_debtor_order(baseline: Path) -> None:
    """pyarrow's dataset reader and pandas give the parts' rows in part order: debtor order,
    each debtor's rating row first; and so do the parts read one by one and stacked."""
    import pyarrow as pa
    import pyarrow.dataset as pds

    table = pds.dataset(baseline / DIRNAME, format="parquet").to_table()
    stacked = pa.concat_tables([pq.read_table(f) for f in part_files(baseline / DIRNAME)])
    assert table.equals(stacked)
    dec = table.to_pandas()
    assert dec["debtor_id"].is_monotonic_increasing
    first = dec.groupby("debtor_id", sort=False)["row_type"].first()
    assert (first == "rating").all()
    pd.testing.assert_frame_equal(pd.read_parquet(baseline / DIRNAME), dec)


def test_bad_records_become_errors_and_reconcile(portfolio: Path, engine: Any,
                                                 tmp_path: Path) -> None:
    """A negative revenue rejects its debtor whole; it comes out errored, not lost."""
    frames, manifest = read_portfolio(portfolio)
    st = frames["statements"].copy()
    victim = str(st["debtor_id"].iloc[0])
    st.loc[st.index[0], "revenue"] = -5.0
    frames["statements"] = st
    bad = tmp_path / "bad"
    write_portfolio(frames, bad, manifest=manifest)
    res = run_rerate(_opts(bad, tmp_path / "out"), engine=engine)
    s = res.summary
    assert s["reconciled"] and s["debtors_errored"] == 1 and s["debtors_decided"] == N - 1
    err = pd.read_parquet(tmp_path / "out" / "errors.parquet")
    assert set(err.loc[err["debtor_id"] == victim, "reason"]) >= {"negative", "debtor_rejected"}
    dec = pd.read_parquet(tmp_path / "out" / DIRNAME)
    assert victim not in set(dec["debtor_id"])


class _LosingEngine:
    """The real engine, but one debtor's decisions vanish (a bug the job must catch)."""

    def __init__(self, inner: Any, lose: str) -> None:
        self.inner, self.lose = inner, lose
        self.model_version, self.policy = inner.model_version, inner.policy

    def decide(self, frames: Any, as_of: Any, *, decided_at: str | None = None) -> Any:
        import dataclasses

        batch = self.inner.decide(frames, as_of, decided_at=decided_at)
        keep = batch.decisions["debtor_id"] != self.lose
        return dataclasses.replace(batch, decisions=batch.decisions[keep].reset_index(drop=True),
                                   pairs_rejected=batch.pairs_rejected + int((~keep).sum()))


def test_run_that_cannot_reconcile_fails_loudly(portfolio: Path, engine: Any,
                                                tmp_path: Path) -> None:
    frames, _ = read_portfolio(portfolio)
    lost = str(frames["exposures"]["debtor_id"].iloc[0])
    out = tmp_path / "out"
    with pytest.raises(RerateError, match=rf"does not reconcile: .*neither decided nor errored "
                                          rf"\(e\.g\. {lost}\)"):
        run_rerate(_opts(portfolio, out), engine=_LosingEngine(engine, lost))
    assert not (out / DIRNAME).exists() and not list(out.glob(".*.tmp"))
    assert (out / CHECKPOINTS).is_dir()  # kept for inspection


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.parquet"
    target.write_bytes(b"old content")

    def broken(table: Any, where: Any, **kw: Any) -> None:
        Path(where).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    import pyarrow as pa

    with pytest.raises(OSError, match="disk full"):
        write_parquet(pa.table({"a": [1]}), target)
    assert target.read_bytes() == b"old content"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def _command(portfolio: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "riskengine.batch.rerate", "--portfolio", str(portfolio),
            "--as-of", AS_OF, "--out", str(out), "--chunk-size", str(CHUNK), "--no-tracking", "--no-store",
            *extra]


def test_sigkill_then_resume_gives_identical_outputs(portfolio: Path, baseline: Path,
                                                     tmp_path: Path) -> None:
    """Killed after two chunks (one worker, so that the kill finds chunks left), then
    resumed with the default workers: every part of the dataset and every other output
    file is the one an uninterrupted run writes."""
    out = tmp_path / "killed"
    env = {**os.environ, THROTTLE_ENV: "1.0"}  # widen the window between chunks
    proc = subprocess.Popen(_command(portfolio, out, "--workers", "1"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckpt = out / CHECKPOINTS
    deadline = time.monotonic() + 120
    while len(list(ckpt.glob("*.done"))) < 2:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done_before = len(list(ckpt.glob("*.done")))
    assert 2 <= done_before < 4
    assert not (out / DIRNAME).exists()  # the parts are published once the run reconciles
    again = subprocess.run(_command(portfolio, out), capture_output=True, text=True,
                           check=False, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"resuming: {done_before} of 4 chunks already checkpointed" in again.stderr
    assert _bytes(out) == _bytes(baseline)
    assert len(part_files(out / DIRNAME)) == 4
    info = pd.read_json(out / "run.json", typ="series")
    assert info["chunks_resumed"] == done_before


def test_stale_checkpoints_of_other_inputs_are_discarded(portfolio: Path, baseline: Path,
                                                         engine: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ckpt = out / CHECKPOINTS
    ckpt.mkdir(parents=True)
    (out / RERATE_MARKER).write_text('{"tool": "riskengine rerate"}')  # an earlier run's
    (ckpt / "state.json").write_text('{"run_key": "another run"}')
    (ckpt / "chunk-000000.done").write_text("{}")
    (ckpt / ".chunk-000001.errors.parquet.x.tmp").write_bytes(b"junk")
    res = run_rerate(_opts(portfolio, out), engine=engine)
    assert res.chunks_resumed == 0
    assert _bytes(out) == _bytes(baseline)


def test_a_rerun_into_the_same_out_replaces_the_dataset(portfolio: Path, baseline: Path,
                                                        engine: Any, tmp_path: Path) -> None:
    """A run into the --out of an earlier run with more chunks (and the single
    decisions.parquet of a run before the dataset layout) leaves only its own parts:
    no stale part of the earlier run is read with them."""
    out = tmp_path / "out"
    run_rerate(_opts(portfolio, out, chunk_size=20), engine=engine)
    assert len(part_files(out / DIRNAME)) == 6
    (out / LEGACY_FILE).write_bytes(b"an older layout")
    run_rerate(_opts(portfolio, out), engine=engine)
    assert _bytes(out) == _bytes(baseline)
    assert sorted(f.name for f in (out / DIRNAME).iterdir()) == [
        f"part-{k:05d}.parquet" for k in range(4)]
    assert not (out / LEGACY_FILE).exists() and not list(out.glob(".*.tmp"))


def test_previous_run_of_the_single_file_layout_is_still_compared(
        portfolio: Path, baseline: Path, engine: Any, tmp_path: Path) -> None:
    """--previous of a run written before the dataset layout (one decisions.parquet) gives
    the comparison a dataset gives; a directory with neither is refused by name."""
    old = tmp_path / "old"
    old.mkdir()
    pq.write_table(pq.read_table(baseline / DIRNAME), old / LEGACY_FILE)
    a = run_rerate(_opts(portfolio, tmp_path / "a", previous=baseline), engine=engine)
    b = run_rerate(_opts(portfolio, tmp_path / "b", previous=old), engine=engine)
    assert a.summary["migration"] == b.summary["migration"]
    assert a.summary["migration"]["debtors_compared"] == N
    assert (tmp_path / "a" / "limit_actions.parquet").read_bytes() == \
        (tmp_path / "b" / "limit_actions.parquet").read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RerateError, match=r"--previous '.*empty' has no decisions \(no "
                                          r"decisions/ dataset\)"):
        run_rerate(_opts(portfolio, tmp_path / "c", previous=empty), engine=engine)
    assert not (tmp_path / "c" / DIRNAME).exists()


def test_workers_default_to_the_cores_this_process_may_use(tmp_path: Path) -> None:
    parser = rerate.add_rerate_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--portfolio", str(tmp_path), "--out", str(tmp_path)])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert options_from_args(args).workers == cores == rerate.default_workers()
    given = parser.parse_args(["--portfolio", str(tmp_path), "--out", str(tmp_path),
                               "--workers", "3"])
    assert options_from_args(given).workers == 3
    with pytest.raises(RerateError, match="--workers must be at least 1, got 0"):
        options_from_args(parser.parse_args(["--portfolio", str(tmp_path), "--out",
                                             str(tmp_path), "--workers", "0"]))


def _with_insolvency(portfolio: Path, dest: Path, debtor: str) -> None:
    frames, manifest = read_portfolio(portfolio)
    adv = frames["adverse_records"]
    row = pd.DataFrame({"record_id": ["R-TEST-1"], "debtor_id": [debtor],
                        "event_type": ["insolvency_declared"],
                        "event_date": [pd.Timestamp("2026-06-15")], "amount": [250_000.0],
                        "currency": ["EUR"], "status": ["open"],
                        "settlement_date": [pd.NaT]}).astype(adv.dtypes.to_dict())
    frames["adverse_records"] = pd.concat([adv, row], ignore_index=True)
    write_portfolio(frames, dest, manifest=manifest)


def test_previous_run_migration_and_limit_actions(portfolio: Path, baseline: Path,
                                                  engine: Any, tmp_path: Path) -> None:
    """Run 2 adds an open insolvency declaration for one debtor with approved limits:
    it moves to grade D, every approved limit of it is cancelled *at once* (a
    knock-out: no notice period), and the migration matrix counts the move."""
    dec1 = pd.read_parquet(baseline / DIRNAME)
    pairs1 = dec1[(dec1["row_type"] == "pair") & (dec1["approved_limit"] > 0)]
    victim = str(pairs1["debtor_id"].iloc[0])
    old_grade = dec1.loc[(dec1["row_type"] == "rating") & (dec1["debtor_id"] == victim),
                         "grade"].item()
    p2 = tmp_path / "p2"
    _with_insolvency(portfolio, p2, victim)
    out = tmp_path / "run2"
    res = run_rerate(_opts(p2, out, previous=baseline), engine=engine)
    acts = pd.read_parquet(out / "limit_actions.parquet")
    mine = acts[acts["debtor_id"] == victim]
    assert len(mine) == (pairs1["debtor_id"] == victim).sum()
    assert (mine["action"] == "cancel").all() and mine["knockout"].all()
    assert (mine["effective_date"] == pd.Timestamp(AS_OF)).all()
    # nothing else changed but through the book's caps: the victim's limits left the
    # book, so a sector's share of it moved (policy.book, issue 15)
    dec2 = pd.read_parquet(out / DIRNAME)
    capped = dec2.loc[dec2["binding_constraints"].map(
        lambda b: b is not None and bool({"sector_cap", "country_cap", "group_cap"} & set(b))),
        "debtor_id"]
    assert acts.loc[acts["debtor_id"] != victim, "debtor_id"].isin(capped).all()
    mig = pd.read_parquet(out / "migration.parquet").set_index(["from_grade", "to_grade"])
    assert mig.loc[(old_grade, "D"), "count"] >= 1
    assert int(mig["count"].sum()) == N
    s = res.summary
    assert s["migration"]["new_defaults"] >= 1 and s["migration"]["new"] == 0
    assert s["limit_actions"]["cancel"] == len(mine)
    assert s["psi"]["light"] == "green" and s["psi"]["value"] < 0.10


def test_partial_run_by_debtor_ids(portfolio: Path, baseline: Path, engine: Any,
                                   tmp_path: Path) -> None:
    frames, _ = read_portfolio(portfolio)
    ids = sorted(frames["debtors"]["debtor_id"])[:2]
    res = run_rerate(_opts(portfolio, tmp_path / "o", previous=baseline,
                           debtors=(*ids, "NO-SUCH-DEBTOR")), engine=engine)
    dec = pd.read_parquet(tmp_path / "o" / DIRNAME)
    assert sorted(set(dec["debtor_id"])) == ids
    err = pd.read_parquet(tmp_path / "o" / "errors.parquet")
    assert err.loc[err["reason"] == "not_in_portfolio", "debtor_id"].tolist() == ["NO-SUCH-DEBTOR"]
    s = res.summary
    assert (s["debtors_in"], s["debtors_decided"], s["debtors_errored"]) == (3, 2, 1)
    assert s["migration"]["debtors_compared"] == 2 and s["migration"]["exits"] == 0
    base = pd.read_parquet(baseline / DIRNAME)
    base = base[base["debtor_id"].isin(ids)].reset_index(drop=True)
    # the rest of the book kept its limits and counted in the caps: a pair no book cap
    # binds in either run is decided as in the whole run
    book_caps = {"sector_cap", "country_cap", "group_cap"}
    def capped(frame: pd.DataFrame) -> pd.Series:
        return frame["binding_constraints"].map(lambda b: b is not None
                                                and bool(book_caps & set(b)))

    free = ~(capped(dec) | capped(base))
    assert free.any()
    pd.testing.assert_frame_equal(dec[free], base[free])


def test_changed_since_selects_debtors_with_new_records(portfolio: Path, baseline: Path,
                                                        engine: Any, tmp_path: Path) -> None:
    frames, _ = read_portfolio(portfolio)
    since = "2026-06-01"
    expected = changed_debtors(frames, since)
    assert 0 < len(expected) < N
    res = run_rerate(_opts(portfolio, tmp_path / "o", previous=baseline, changed_since=since),
                     engine=engine)
    dec = pd.read_parquet(tmp_path / "o" / DIRNAME)
    assert sorted(set(dec["debtor_id"])) == expected.tolist()
    assert res.summary["scope"] == "changed_since"


def test_changed_debtors_reads_every_record_date() -> None:
    """Golden: each debtor has exactly one record after 2026-01-31, each of another kind."""
    day = pd.Timestamp
    frames = {
        "debtors": pd.DataFrame({"debtor_id": ["n"], "incorporation_date": [day("2026-03-01")]}),
        "statements": pd.DataFrame({"debtor_id": ["s", "x"],
                                    "period_end": [day("2026-02-28"), day("2025-12-31")]}),
        "adverse_records": pd.DataFrame({"debtor_id": ["a", "b"],
                                         "event_date": [day("2026-02-01"), day("2024-01-01")],
                                         "settlement_date": [pd.NaT, day("2026-04-01")]}),
        "invoices": pd.DataFrame({"debtor_id": ["i", "p", "x"],
                                  "issue_date": [day("2026-05-01"), day("2025-11-01"),
                                                 day("2025-10-01")],
                                  "paid_date": [pd.NaT, day("2026-02-15"), day("2026-01-31")]}),
    }
    assert changed_debtors(frames, "2026-01-31").tolist() == ["a", "b", "i", "n", "p", "s"]


def test_chunk_plan_puts_every_record_in_one_chunk() -> None:
    plan = plan_chunks(pd.Series(["d05", "d01", "d03", "d02", "d04"]), 2)
    assert plan.bounds == ("d01", "d03", "d05") and plan.n_chunks == 3
    ids = pd.Series(["d01", "d02", "d03", "d04", "d05", "d00", "d035", "d99", None])
    assert plan.chunk_of(ids).tolist() == [0, 0, 1, 1, 2, 0, 1, 2, 0]
    frames = {"statements": pd.DataFrame({"debtor_id": ids, "v": np.arange(9)})}
    sl = _slices(frames, plan)
    parts = [_chunk(frames, sl, k)["statements"]["v"].tolist() for k in range(3)]
    assert parts == [[0, 1, 5, 8], [2, 3, 6], [4, 7]]


@pytest.mark.parametrize("ids", [
    ["d05", "d01", "d03", "d02", "d04", "d01", None],  # unsorted, a repeat, a missing id
    ["d01", "d02", "d03", "d04", "d05"],                 # sorted and distinct: no sort
    ["d01", "d01", "d02"],                               # sorted with a repeat
    ["é", "e", "z", "a", "ß"],                           # code-point order of non-ASCII text
    [],
])
def test_chunk_plan_on_arrow_text_equals_the_plan_on_python_strings(ids: list[str | None]
                                                                     ) -> None:
    arrow = plan_chunks(pd.Series(ids, dtype="str"), 2)
    python = plan_chunks(pd.Series(ids, dtype=object), 2)
    expected = sorted({i for i in ids if i is not None})
    assert arrow.ids.tolist() == python.ids.tolist() == expected
    assert arrow.bounds == python.bounds == tuple(expected[::2])


def test_progress_lines_without_terminal(portfolio: Path, engine: Any, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    run_rerate(_opts(portfolio, tmp_path / "o", progress=None), engine=engine)
    err = capsys.readouterr().err
    # counted in debtors (issue 18 point 6): the last line has every debtor of the run
    lines = [x for x in err.splitlines() if "debtors decided (chunk" in x]
    assert len(lines) == 4
    done = [int(x.split("riskengine rerate: ")[1].split("/")[0].replace(",", "")) for x in lines]
    total = int(lines[-1].split("/")[1].split(" ")[0].replace(",", ""))
    assert sorted(done) == done and done[-1] == total
    assert total == len(pd.read_parquet(portfolio / "debtors.parquet"))


def test_mlflow_run_logged_once(portfolio: Path, engine: Any, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = run_rerate(_opts(portfolio, tmp_path / "o", tracking=True, tracking_uri=uri),
                     engine=engine)
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(res.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model_version"] == engine.model_version
    assert run.data.metrics["debtors_in"] == N
    assert run.data.tags["psi_light"] == "n/a"
    names = {a.path for a in client.list_artifacts(res.run_id, "rerate")}
    assert {"rerate/summary.json", f"rerate/{DIRNAME}", "rerate/migration.parquet"} <= names
    parts = {a.path for a in client.list_artifacts(res.run_id, f"rerate/{DIRNAME}")}
    assert parts == {f"rerate/{DIRNAME}/part-{k:05d}.parquet" for k in range(4)}


def test_bad_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RerateError, match="--chunk-size must be at least 1"):
        RerateOptions(portfolio=tmp_path, out=tmp_path, chunk_size=0)
    with pytest.raises(RerateError, match="not both"):
        RerateOptions(portfolio=tmp_path, out=tmp_path, debtors=("a",), changed_since="2026-01-01")


def test_the_command_keeps_freed_memory_for_reuse() -> None:
    """`riskengine rerate` (pandas) tunes the allocators of its own process: on Linux
    glibc accepts the three mallopt settings and Arrow allocates through the system
    allocator. Run in a child process: the setting is process-wide."""
    code = ("import pyarrow as pa, riskengine.batch.rerate as r; ok = r.tune_allocators(); "
            "print(ok, pa.default_memory_pool().backend_name)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    if sys.platform.startswith("linux"):
        assert done.stdout.split() == ["True", "system"]
    else:
        assert done.stdout.split()[0] == "False"


def test_gc_is_paused_only_while_the_engine_loads() -> None:
    """The start of a run (engine load and read) runs without cyclic collections and
    restores the collector's state after it, also when the block raises."""
    import gc

    from riskengine.batch.rerate import _gc_paused

    assert gc.isenabled()
    with _gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError, match="boom"), _gc_paused():
        raise KeyError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with _gc_paused():
            pass
        assert not gc.isenabled()  # a collector switched off by the caller stays off
    finally:
        gc.enable()


def test_command_prints_an_undefined_psi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A PSI that is undefined (summary.json holds null: no finite PD on one side, e.g. a
    --debtors run of unknown ids against a previous run) is printed as such; the
    command used to fail formatting None after writing its outputs."""
    from riskengine.batch.options import RerateResult
    from riskengine.batch.rerate import add_rerate_arguments, rerate_command

    summary = {"as_of": AS_OF, "model_version": "m", "policy_version": "p",
               "debtors_in": 1, "debtors_decided": 0, "debtors_errored": 1,
               "pair_decisions": 0, "error_rows": 1,
               "psi": {"value": None, "light": "n/a"}, "previous_run": True}
    monkeypatch.setattr(rerate, "run_rerate",
                        lambda opts: RerateResult(tmp_path, summary, 1, 0, "key"))
    monkeypatch.setattr(rerate, "tune_allocators", lambda: False)  # process-wide: not here
    args = add_rerate_arguments(argparse.ArgumentParser()).parse_args(
        ["--portfolio", str(tmp_path), "--out", str(tmp_path), "--no-tracking"])
    assert rerate_command(args) == FAILED_RUN_EXIT  # it decided no debtor
    assert "PSI vs previous run undefined (n/a)" in capsys.readouterr().out


def test_as_of_after_the_extract_date_is_refused(portfolio: Path, engine: Any, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13 point 3: open invoices would silently age past 90 days and debtors turn
    to D (2,638 new defaults measured at +92 days); refused before anything is written,
    accepted with --allow-as-of-after-extract."""
    from riskengine.cli import main
    from riskengine.errors import InvalidInputError

    out = tmp_path / "o"
    late = RerateOptions(portfolio=portfolio, out=out, as_of="2026-10-01", tracking=False,
                         progress=False, chunk_size=CHUNK)
    with pytest.raises(InvalidInputError, match="--as-of 2026-10-01 is after the portfolio's "
                       "extract date 2026-06-30 .manifest.json as_of.*--allow-as-of-after"):
        run_rerate(late, engine=engine)
    assert not out.exists()
    assert main(["rerate", "--portfolio", str(portfolio), "--out", str(out), "--as-of",
                 "2026-10-01", "--no-tracking"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--as-of 2026-10-01 is after" in err and len(err.splitlines()) == 1
    assert not out.exists()
    args = argparse.Namespace(portfolio=str(portfolio), out=str(out), as_of="2026-10-01",
                              allow_as_of_after_extract=True, no_tracking=True,
                              chunk_size=CHUNK)
    res = run_rerate(options_from_args(args), engine=engine)
    assert res.summary["as_of"] == "2026-10-01"


def test_bad_dates_in_options_are_refused(tmp_path: Path) -> None:
    from riskengine.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="--as-of '30/06/2026' is not a date"):
        RerateOptions(portfolio=tmp_path, out=tmp_path, as_of="30/06/2026")
    with pytest.raises(InvalidInputError, match="--changed-since 'June 2026' is not a date"):
        RerateOptions(portfolio=tmp_path, out=tmp_path, changed_since="June 2026")


def test_a_book_without_a_usd_rate_counts_the_pairs_rated_without_size(
        portfolio: Path, engine: Any, tmp_path: Path) -> None:
    """The champion learned its size features in USD millions (docs/TRAINING.md "Money
    unit"): a book whose fx_rates have no USD rate rates its debtors without them, each
    such pair says size_not_converted, and the summary counts them (debtors with a USD
    record are refused as before: missing_fx_rate)."""
    frames, manifest = read_portfolio(portfolio)
    frames["fx_rates"] = frames["fx_rates"][frames["fx_rates"]["currency"] != "USD"]
    manifest = {k: v for k, v in manifest.items() if k != "tables"}
    manifest["fx_rates"] = {c: r for c, r in manifest["fx_rates"].items() if c != "USD"}
    book = tmp_path / "no_usd"
    write_portfolio(frames, book, manifest=manifest)
    res = run_rerate(_opts(book, tmp_path / "out"), engine=engine)
    dec = pd.read_parquet(tmp_path / "out" / DIRNAME)
    pairs = dec[dec["row_type"] == "pair"]
    flagged = pairs["limit_notes"].map(lambda n: "size_not_converted" in list(n))
    stmt = pairs["rating_basis"] == "statements"
    assert flagged.sum() > 0 and (flagged == stmt).all()
    assert res.summary["pairs_size_not_converted"] == int(flagged.sum())
