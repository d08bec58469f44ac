"""``riskengine rerate``: re-rate a whole portfolio (or the debtors whose inputs changed).

Shell layer: reads the portfolio, splits it into chunks of debtors, decides every
chunk with the :class:`~riskengine.scoring.engine.Engine`, checkpoints each chunk's output
atomically, then assembles the outputs, compares them with the previous run and
logs the run to MLflow. docs/BATCH.md is the operator's guide.

Outputs (in ``--out``)
----------------------
``decisions/`` (a Parquet dataset: ``part-00000.parquet``, ... one file per
chunk, :mod:`riskengine.batch.dataset`), ``errors.parquet``,
``limit_actions.parquet``, ``insurer_requests.parquet`` (what to ask the insurer for,
:func:`riskengine.policy.insurer.insurer_requests`), ``migration.parquet`` (long form: from_grade,
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
import hashlib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskengine.batch.assemble import _assemble, _Assembler, _summary_table, _unidentified
from riskengine.batch.book import sectors_and_countries
from riskengine.batch.checkpoints import (
    _Checkpoints,
    _clean_json,
    _lock,
    summary_cents,
    write_json,
    write_parquet,
)
from riskengine.batch.chunk import engine_versions
from riskengine.batch.dataset import DIRNAME, part_files
from riskengine.batch.options import (
    CHECKPOINTS,
    DEFAULT_CHUNK_SIZE,
    EXPERIMENT,
    FAILED_RUN_EXIT,
    FORMAT_VERSION,
    OUTPUT_FILES,
    RUN_INFO,
    RerateOptions,
    RerateResult,
)
from riskengine.batch.plan import ChunkPlan, _scope, changed_debtors, plan_chunks
from riskengine.batch.read import (
    _as_of,
    _manifest,
    _Prefetch,
    _previous,
    _read_inputs,
    _restrict,
    input_hash,
)
from riskengine.batch.suppliers import supplier_book
from riskengine.batch.workers import _load_engine, _Progress, _run_pandas, _run_spark
from riskengine.contracts.arrowtext import large_text, text_member
from riskengine.errors import RerateError, RiskEngineError
from riskengine.io.console import progress as phase
from riskengine.io.console import rfc3339, set_result
from riskengine.io.outputs import claim_rerate_out
from riskengine.io.portfolio import check_portfolio
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


def run_key(parts: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of what makes a run's outputs."""
    text = json.dumps(dict(parts), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


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


def _same_reporting_currency(manifest: Any, engine: Any) -> None:
    """Refuse a portfolio whose rates are into another currency than the policy reports
    in (the manifest's ``reporting_currency``): every conversion would be off by a rate."""
    declared = manifest.get("reporting_currency") if isinstance(manifest, dict) else None
    policy = getattr(engine, "policy", None)
    base = None if policy is None else policy.book.currency
    if declared is not None and base is not None and declared != base:
        raise RerateError(
            f"the portfolio's rates are into {declared} (manifest reporting_currency), the "
            f"policy reports in {base} ([book] currency); give rates into {base} or the "
            "policy of that currency.")


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
                with phase(None, "riskengine rerate: loading the engine", unit=""):
                    engine = _load_engine(opts.model_dir, opts.policy_path,
                                          opts.factor_capital)
            timings["engine_s"] = time.perf_counter() - tick
            model_version, policy_version = engine_versions(engine)  # resolved once, here
            inputs = reading.result()
            portfolio_hash = hashing.result()
        frames, reads = inputs.frames, inputs.reads
        timings["read_s"] = inputs.seconds
        _same_reporting_currency(inputs.manifest, engine)
        previous = _previous(opts)
        scope, unknown = _scope(opts, frames, previous)
        frames = {name: f for name, f in frames.items() if name not in reads}
        book_debtors = frames.get("debtors")  # the whole book's, for its caps (batch.book)
        # the suppliers over the whole book (their debtors' dispersion, the ratings of
        # those that are debtors), given to every chunk (batch.suppliers)
        tick = time.perf_counter()
        suppliers = supplier_book(Path(opts.portfolio), frames, reads, engine, as_of)
        timings["suppliers_s"] = time.perf_counter() - tick
        if scope is not None:
            frames = _restrict(frames, None, None, scope)
        frames["supplier_book"] = suppliers
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
        n_ids = len(plan.ids)
        sizes = [max(0, min(plan.chunk_size, n_ids - k * plan.chunk_size))
                 for k in range(plan.n_chunks)]  # chunk k: ids k*size ... (plan.chunk_of)
        progress = _Progress(plan.n_chunks, 0, opts.progress, sizes)
        ckpt.prepare(key, progress.log)
        pending = [k for k in range(plan.n_chunks) if not ckpt.is_done(k)]
        resumed = plan.n_chunks - len(pending)
        left = set(pending)
        progress.resumed([k for k in range(plan.n_chunks) if k not in left])
        if resumed:
            progress.log(f"resuming: {resumed} of {plan.n_chunks} chunks already checkpointed")
        tick = time.perf_counter()
        asm = _Assembler(out, ckpt, plan.n_chunks)
        try:
            if opts.engine == "spark":
                _run_spark(opts, plan, pending, scope, ckpt, as_of, model_version, progress,
                           suppliers)
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
                                    scope, as_of, engine, {**frames, "book_debtors": book_debtors},
                                    asm)  # fmt: skip
        timings["assemble_s"] = time.perf_counter() - tick
        if opts.store_url and asm.final_pairs is not None:
            tick = time.perf_counter()
            summary["register"] = _write_register(opts.store_url, asm, as_of, key, scope,
                                                  frames.get("insurer_limits"), opts)
            timings["register_s"] = time.perf_counter() - tick
        summary = {"as_of": as_of, "model_version": model_version,
                   "policy_version": policy_version, "input_hash": key_parts["input_hash"],
                   "scope": "all" if scope is None else (
                       "debtors" if opts.debtors is not None else "changed_since"),
                   "changed_since": opts.changed_since, "chunks": plan.n_chunks,
                   "chunk_size": opts.chunk_size, **summary}  # fmt: skip
        summary = _clean_json(summary_cents(summary))
        write_parquet(_summary_table(summary), out / "summary.parquet")
        write_json(summary, out / "summary.json")
        elapsed = time.perf_counter() - t0
        run_id = None
        if opts.tracking:
            tick = time.perf_counter()
            with phase(None, "riskengine rerate: MLflow logging", unit=""):
                run_id = _log_mlflow(opts, summary, key_parts, out, started, elapsed)
            timings["mlflow_s"] = time.perf_counter() - tick
        info = {"started_at": rfc3339(started), "elapsed_s": round(elapsed, 3),
                "timings_s": {k: round(v, 3) for k, v in timings.items()},
                "run_key": key, "chunks": plan.n_chunks, "chunks_resumed": resumed,
                "mlflow_run_id": run_id, "portfolio": str(opts.portfolio),
                "options": {k: v for k, v in asdict(opts).items()
                            if k not in ("debtors",)}}  # fmt: skip
        write_json(info, out / RUN_INFO)
        shutil.rmtree(ckpt.root, ignore_errors=True)
    return RerateResult(out, summary, plan.n_chunks, resumed, key, run_id, elapsed, timings)


def _write_register(url: str, asm: Any, as_of: str, key: str, scope: Sequence[str] | None,
                    insurer: pd.DataFrame | None, opts: RerateOptions) -> dict[str, Any]:
    """The run's pairs into the store's limit register (:func:`riskengine.store.runs.apply_run`),
    its requests to the insurer (those of its debtors replaced: every debtor's for a whole
    book) and the insurer limits of its decided debtors (the states that are new)."""
    from riskengine.store import DecisionStore
    from riskengine.store.runs import apply_run

    sector, country = sectors_and_countries(asm.final_pairs, asm.debtors)
    pairs = asm.final_pairs.assign(sector=sector, country=country)
    with DecisionStore(url) as store:
        counts = apply_run(store, pairs, as_of=as_of, run=key[:16], policy=asm.policy,
                           adverse=_decided_adverse(asm.final_pairs, as_of, opts))
        source = f"rerate:{key[:16]}"
        if asm.requests is not None:
            counts["insurer_requests"] = store.replace_insurer_requests(
                asm.requests, debtors=None if scope is None else list(scope), source=source,
                as_of=as_of)
        counts["insurer_limits_recorded"] = store.record_insurer_limits(
            _decided_insurer_limits(insurer, asm.final_pairs, opts), source=source)
        return {**counts, "store": store.engine.url.render_as_string(hide_password=True)}


def _decided_adverse(pairs: pd.DataFrame, as_of: str, opts: RerateOptions) -> pd.DataFrame:
    """The adverse records the run decided on: those of its decided debtors dated up to
    ``as_of`` (a decided debtor's records all passed validation), as the store keeps them
    (:data:`riskengine.store.adverse.KEY`). Read whole here: the workers read the table
    chunk by chunk."""
    from riskengine.io.portfolio import read_table, table_file
    from riskengine.store.adverse import KEY

    port = Path(opts.portfolio)
    manifest = _manifest(port)
    file = table_file(port, "adverse_records", manifest)  # the run read it already
    cols = ["debtor_id", "event_type", "event_date", "amount", "currency"]
    adv = (pq.read_table(file, columns=cols).to_pandas() if file is not None
           and file.suffix == ".parquet" else read_table(port, "adverse_records", manifest))
    if not len(adv):
        return pd.DataFrame(columns=list(KEY))
    day = pd.to_datetime(adv["event_date"], errors="coerce")
    keep = text_member(adv["debtor_id"], pc.unique(large_text(pairs["debtor_id"]))) & (
        day <= pd.Timestamp(as_of)).to_numpy()
    out = adv.loc[keep, ["debtor_id", "event_type", "event_date", "amount", "currency"]]
    out.columns = list(KEY)
    return out


def _decided_insurer_limits(insurer: pd.DataFrame | None, pairs: pd.DataFrame,
                            opts: RerateOptions) -> pd.DataFrame:
    """The portfolio's valid insurer limits of the debtors the run decided (the service
    then decides those debtors with the limits the run used)."""
    from riskengine.contracts.schemas import INSURER_LIMITS
    from riskengine.io.portfolio import _empty, read_table
    from riskengine.validation import validate_table

    if insurer is None or "status" not in insurer.columns:
        # read by the workers chunk by chunk, or by Spark's executors: read it whole here
        insurer = read_table(Path(opts.portfolio), "insurer_limits",
                             _manifest(Path(opts.portfolio)))
    if not len(insurer):
        return _empty("insurer_limits")
    clean, _ = validate_table(insurer, INSURER_LIMITS)
    decided = pd.Index(pd.unique(pairs["debtor_id"].astype(str)), dtype="str")
    return clean[text_member(clean["debtor_id"], decided)]


def _riskengine_version() -> str:
    from riskengine import __version__

    return __version__


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
                  "portfolio": tracking.path_param(opts.portfolio),
                  "previous": tracking.path_param(opts.previous),
                  "model_dir": tracking.path_param(opts.model_dir) or "(shipped model)",
                  "policy": tracking.path_param(opts.policy_path) or "(shipped policy)",
                  "out": tracking.path_param(out),
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
    p.add_argument("--store", dest="store_url", default=None,
                   help="SQLAlchemy URL of the store whose limit register the run writes (default: "
                        "the service's, $RISKENGINE_STORE_URL or ./riskengine.db)")
    p.add_argument("--no-store", action="store_true",
                   help="do not write the limit register (the run's files only)")
    p.add_argument("--factor-capital", type=float, default=None,
                   help="the factor's eligible capital in the policy's book currency (the "
                        "connected-group cap is its book.group_capital_share; default: the "
                        "policy's book.factor_capital)")
    p.add_argument("--tracking-uri", default=None, help="MLflow tracking URI")
    p.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    p.add_argument("--max-error-share", type=float, default=0.5,
                   help="fail (exit 3) when more than this share of the debtors errored "
                        "(default 0.5); a run that decided no debtor always fails")
    return p


def _given(value: Any, default: int) -> int:
    """A numeric flag as given (0 included, which the options then refuse), else the default."""
    return default if value is None else int(value)


def _default_store() -> str:
    from riskengine.store.database import default_store_url

    return default_store_url()


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
        factor_capital=getattr(args, "factor_capital", None),
        store_url=None if getattr(args, "no_store", False) else (
            getattr(args, "store_url", None) or _default_store()),
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
    set_result(args, {"summary": s, "out": str(result.out), "chunks": result.chunks,
                      "chunks_resumed": result.chunks_resumed, "mlflow_run_id": result.run_id,
                      "elapsed_s": round(result.elapsed_s, 3)})
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
