"""The Spark path of ``riskengine rerate --engine spark`` (shell).

The driver (:mod:`riskengine.batch.rerate`) plans the chunks (debtor-id ranges,
:func:`riskengine.batch.plan.plan_chunks`) and resolves the model version once; a
Spark DataFrame holds one row per chunk to decide. ``mapInPandas`` runs
:func:`decide_partition` on the executors: each task calls the driver's
picklable ``open_task`` once (``riskengine.batch.workers._spark_task``: it loads the
engine with :func:`riskengine.api.load_engine` from the same model directory and
policy and checks that its model version is the one the driver resolved), then
decides each chunk with it: the chunk's records read straight from the portfolio
directory (a Parquet row filter on the debtor-id range), decided by the same
:func:`riskengine.batch.chunk.decide_chunk` as the pandas path, its checkpoint
written (atomically) into ``OUT/_checkpoints``; only counts travel back to the
driver, which assembles the outputs from the checkpoints exactly as the pandas
path does. This module never imports :mod:`riskengine.batch.workers` (the driver passes
what runs on the executors in), so the two form no cycle. The outputs are byte-identical to the pandas path's,
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
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import pandas as pd

from riskengine.errors import RerateError

__all__ = ["OUTPUT_SCHEMA", "ChunkTask", "spark_session", "decide_partition", "run_spark_chunks"]

#: Decides and checkpoints one chunk ``(chunk, lo, hi)``; returns (decision rows, error rows).
ChunkTask = Callable[[int, str | None, str | None], tuple[int, int]]


class Checkpoints(Protocol):
    """The checkpoints the driver watches (``riskengine.batch.checkpoints._Checkpoints``)."""

    def is_done(self, k: int) -> bool: ...

    def counts(self, k: int) -> dict[str, int]: ...


class Progress(Protocol):
    """Where finished chunks are reported (``riskengine.batch.workers._Progress``)."""

    def step(self, k: int, n_decisions: int, n_errors: int) -> Any: ...


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


def decide_partition(batches: Iterator[pd.DataFrame], *, open_task: Callable[[], ChunkTask]
                     ) -> Iterator[pd.DataFrame]:
    """Decide and checkpoint the chunks of one Spark partition (the ``mapInPandas`` function).

    Parameters
    ----------
    batches : iterator of DataFrame
        Rows ``chunk, lo, hi``: chunk number and its debtor-id range.
    open_task : callable
        Picklable; called once per task, on the executor, before its first chunk
        (it loads the engine): returns ``decide(chunk, lo, hi)``, which decides and
        checkpoints one chunk and returns its (decision rows, error rows).

    Yields
    ------
    DataFrame
        :data:`OUTPUT_SCHEMA` rows, one per chunk decided and checkpointed.
    """
    task: ChunkTask | None = None
    for batch in batches:
        rows: list[dict[str, Any]] = []
        for k, lo, hi in batch[["chunk", "lo", "hi"]].itertuples(index=False):
            if task is None:  # once per task
                task = open_task()
            n_dec, n_err = task(int(k), _none(lo), _none(hi))
            rows.append({"chunk": int(k), "decision_rows": n_dec, "error_rows": n_err})
        yield pd.DataFrame(rows, columns=["chunk", "decision_rows", "error_rows"])


def _watch(ckpt: Checkpoints, pending: list[int], progress: Progress,
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


def run_spark_chunks(master: str, ranges: Sequence[tuple[int, str | None, str | None]],
                     open_task: Callable[[], ChunkTask], ckpt: Checkpoints,
                     progress: Progress) -> None:
    """Decide the chunks ``ranges`` (chunk, lo, hi) on Spark at ``master``.

    Each executor task calls ``open_task()`` once (:func:`decide_partition`); the
    driver reports chunks as their checkpoints appear in ``ckpt``.
    """
    if not ranges:
        return
    from pyspark.sql import SparkSession

    ours = SparkSession.getActiveSession() is None  # stop only a session we started
    spark = spark_session(master)
    try:
        _run_job(spark, ranges, open_task, ckpt, progress)
    finally:
        if ours:
            spark.stop()


def _run_job(spark: Any, ranges: Sequence[tuple[int, str | None, str | None]],
             open_task: Callable[[], ChunkTask], ckpt: Checkpoints, progress: Progress) -> None:
    from functools import partial

    sc = spark.sparkContext
    rows = list(ranges)
    pending = [k for k, _, _ in rows]
    n_parts = max(1, min(len(rows), sc.defaultParallelism))
    chunks = spark.createDataFrame(sc.parallelize(rows, n_parts), "chunk int, lo string, hi string")
    func = partial(decide_partition, open_task=open_task)
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
