"""The Spark path of ``riskengine rerate --engine spark`` (shell).

The driver plans the chunks (debtor-id ranges, :func:`riskengine.rerate.plan_chunks`)
and resolves the model version once; a Spark DataFrame holds one row per chunk
to decide. ``mapInPandas`` runs :func:`decide_partition` on the executors: each
task loads the engine **once** (:func:`riskengine.api.load_engine` from the
same model directory and policy), checks that its model version is the one the
driver resolved, reads its chunks' records straight from the portfolio
directory (a Parquet row filter on the debtor-id range), decides them with the
same :func:`riskengine.rerate.decide_chunk` as the pandas path and writes each
chunk's checkpoint (atomically) into ``OUT/_checkpoints``; only counts travel
back to the driver, which assembles the outputs from the checkpoints exactly
as the pandas path does. The outputs are byte-identical to the pandas path's,
and a killed Spark run resumes from its checkpoints like a pandas run.

Any master URL works unchanged (``local[*]`` by default; ``spark://host:7077``,
``yarn``, ``k8s://...``): the executors need the ``riskengine`` package, Java,
read access to the portfolio and model directories and write access to the
output directory, at the same paths as the driver (a shared file system;
docs/BATCH.md).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from riskengine.rerate import ChunkPlan, RerateOptions, _Checkpoints, _Progress

__all__ = ["OUTPUT_SCHEMA", "spark_session", "decide_partition", "run_spark_chunks"]

#: Schema of the rows ``mapInPandas`` returns: one per decided chunk.
OUTPUT_SCHEMA = "chunk int, decision_rows long, error_rows long"


def spark_session(master: str = "local[*]", app_name: str = "riskengine-rerate") -> Any:
    """A Spark session on ``master`` with Arrow enabled and the UI off.

    The Python of the executors defaults to this interpreter (``PYSPARK_PYTHON``
    overrides it), so a local run uses the project's ``.venv``.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(master).appName(app_name)
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.python.worker.reuse", "true")
            .getOrCreate())  # fmt: skip


def _none(x: Any) -> str | None:
    return None if x is None or (isinstance(x, float) and x != x) else str(x)


def decide_partition(
    batches: Iterator[pd.DataFrame], *, portfolio: str, checkpoints: str,
    model_dir: str | None, policy_path: str | None, model_version: str, as_of: str,
    decided_at: str, scope: Sequence[str] | None,
) -> Iterator[pd.DataFrame]:
    """Decide and checkpoint the chunks of one Spark partition (the ``mapInPandas`` function).

    Parameters
    ----------
    batches : iterator of DataFrame
        Rows ``chunk, lo, hi``: chunk number and its debtor-id range.
    portfolio, checkpoints, model_dir, policy_path : str or None
        Paths the executor reads (portfolio, model, policy) and writes (checkpoints).
    model_version : str
        Resolved once on the driver; an engine with another version is refused.
    as_of, decided_at : str
    scope : sequence of str or None
        Debtors to re-rate (None: all).

    Yields
    ------
    DataFrame
        :data:`OUTPUT_SCHEMA` rows, one per chunk decided and checkpointed.
    """
    from riskengine.rerate import (
        RerateError,
        _Checkpoints,
        _load_engine,
        decide_chunk,
        engine_versions,
        read_chunk,
    )

    engine = None
    root = Path(portfolio)
    ckpt = _Checkpoints(Path(checkpoints))
    for batch in batches:
        rows: list[dict[str, Any]] = []
        for k, lo, hi in batch[["chunk", "lo", "hi"]].itertuples(index=False):
            if engine is None:  # once per task
                engine = _load_engine(model_dir, policy_path)
                seen = engine_versions(engine)[0]
                if seen != model_version:
                    raise RerateError(f"Executor loaded model {seen!r} but the driver resolved "
                                      f"{model_version!r}; point --model-dir at one artifact "
                                      "that every executor reads.")
            frames = read_chunk(root, (_none(lo), _none(hi)), scope)
            res = decide_chunk(engine, frames, as_of, decided_at, model_version)
            ckpt.write(int(k), res)
            rows.append({"chunk": int(k), "decision_rows": res.decisions.num_rows,
                         "error_rows": res.errors.num_rows})  # fmt: skip
        yield pd.DataFrame(rows, columns=["chunk", "decision_rows", "error_rows"])


def _watch(ckpt: _Checkpoints, pending: list[int], progress: _Progress,
           stop: threading.Event) -> None:
    """Report chunks as their checkpoints appear (the executors write them)."""
    left = list(pending)
    while left:
        stopping = stop.wait(0.5)
        done = [k for k in left if ckpt.is_done(k)]
        for k in done:
            c = ckpt.counts(k)
            progress.step(k, c.get("decision_rows", 0), c.get("error_rows", 0))
        left = [k for k in left if k not in done]
        if stopping:
            return


def run_spark_chunks(opts: RerateOptions, plan: ChunkPlan, pending: list[int],
                     scope: Sequence[str] | None, ckpt: _Checkpoints, as_of: str,
                     model_version: str, progress: _Progress) -> None:
    """Decide the ``pending`` chunks on Spark; the executors checkpoint each chunk."""
    if not pending:
        return
    from pyspark.sql import SparkSession

    ours = SparkSession.getActiveSession() is None  # stop only a session we started
    spark = spark_session(opts.spark_master)
    try:
        _run_job(spark, opts, plan, pending, scope, ckpt, as_of, model_version, progress)
    finally:
        if ours:
            spark.stop()


def _run_job(spark: Any, opts: RerateOptions, plan: ChunkPlan, pending: list[int],
             scope: Sequence[str] | None, ckpt: _Checkpoints, as_of: str,
             model_version: str, progress: _Progress) -> None:
    from functools import partial

    from riskengine.rerate import RerateError, decided_at_for

    sc = spark.sparkContext
    rows = [(k, *plan.range_of(k)) for k in pending]
    n_parts = max(1, min(len(rows), sc.defaultParallelism))
    chunks = spark.createDataFrame(sc.parallelize(rows, n_parts), "chunk int, lo string, hi string")

    def absolute(p: Any) -> str | None:
        return None if p is None else str(Path(p).resolve())

    func = partial(decide_partition, portfolio=str(Path(opts.portfolio).resolve()),
                   checkpoints=str(ckpt.root.resolve()), model_dir=absolute(opts.model_dir),
                   policy_path=absolute(opts.policy_path), model_version=model_version,
                   as_of=as_of, decided_at=decided_at_for(as_of),
                   scope=None if scope is None else list(scope))  # fmt: skip
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(ckpt, pending, progress, stop), daemon=True)
    watcher.start()
    try:
        result = chunks.mapInPandas(func, schema=OUTPUT_SCHEMA).collect()
    finally:
        stop.set()
        watcher.join()
    got = sorted(int(r["chunk"]) for r in result)
    if got != sorted(pending):
        raise RerateError(f"Spark returned chunks {got[:5]}... for {len(pending)} pending chunks; "
                          "run again to resume.")
