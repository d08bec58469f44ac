"""Who decides a rerate run's chunks: forked pandas workers (:func:`_run_pandas`) or
Spark executors (:func:`_spark_task`, run by :mod:`riskengine.batch.spark`), and the
progress they report.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from riskengine.batch.checkpoints import _Checkpoints
from riskengine.batch.chunk import (
    decide_chunk,
    decided_at_for,
    engine_versions,
    table_bytes,
    table_from_bytes,
)
from riskengine.batch.options import THROTTLE_ENV, RerateOptions
from riskengine.batch.plan import ChunkPlan, _chunk, _slices
from riskengine.batch.read import _restrict, _stamp, _unchanged, read_chunk, read_range
from riskengine.contracts.schemas import CONTRACTS
from riskengine.errors import RerateError


class _Progress:
    """tqdm on a terminal, plain log lines on stderr otherwise; counted in debtors when
    ``sizes`` (the debtors of each chunk) is given, else in chunks."""

    def __init__(self, total: int, done: int, enabled: bool | None,
                 sizes: Sequence[int] | None = None) -> None:
        self.total, self.done = total, done
        self.sizes = list(sizes) if sizes is not None else None
        self.debtors_total = sum(self.sizes) if self.sizes is not None else 0
        self.debtors_done = 0
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self.bar: Any = None
        self.t0 = time.perf_counter()
        if self.tty:
            from tqdm import tqdm

            if self.sizes is not None:
                self.bar = tqdm(total=self.debtors_total, unit=" debtors", desc="rerate",
                                file=sys.stderr, unit_scale=True)
            else:
                self.bar = tqdm(total=total, initial=done, unit="chunk", desc="rerate",
                                file=sys.stderr)
        elif done:
            self.log(f"resuming: {done} of {total} chunks already checkpointed")

    def resumed(self, chunks: Sequence[int]) -> None:
        """Chunks done by an earlier, interrupted run (their debtors count as done)."""
        self.done = len(chunks)
        if self.sizes is not None:
            n = sum(self.sizes[k] for k in chunks)
            self.debtors_done = n
            if self.bar is not None:
                self.bar.update(n)

    def log(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(f"riskengine rerate: {text}", file=sys.stderr, flush=True)

    def step(self, k: int, n_decisions: int, n_errors: int) -> None:
        self.done += 1
        n = self.sizes[k] if self.sizes is not None and k < len(self.sizes) else 0
        self.debtors_done += n
        if self.bar is not None:
            self.bar.update(n if self.sizes is not None else 1)
        elif self.sizes is not None:
            self.log(f"{self.debtors_done:,}/{self.debtors_total:,} debtors decided (chunk "
                     f"{k + 1} of {self.total}: {n:,} debtors, {n_decisions:,} decisions, "
                     f"{n_errors:,} error rows; {time.perf_counter() - self.t0:.1f} s)")
        else:
            self.log(f"chunk {k + 1}/{self.total} done ({self.done}/{self.total}; "
                     f"{n_decisions:,} decisions, {n_errors:,} error rows; "
                     f"{time.perf_counter() - self.t0:.1f} s)")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _load_engine(model_dir: str | None = None, policy_path: str | None = None,
                 factor_capital: float | None = None) -> Any:
    from riskengine.api import load_engine

    return load_engine(model_dir=model_dir, policy_path=policy_path,
                       factor_capital=factor_capital)


def _spark_task(*, portfolio: str, checkpoints: str, model_dir: str | None,
                policy_path: str | None, model_version: str, as_of: str, decided_at: str,
                scope: Sequence[str] | None, suppliers: bytes | None = None
                ) -> Callable[[int, str | None, str | None], tuple[int, int]]:
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
    book = None if suppliers is None else table_from_bytes(suppliers).to_pandas()

    def decide(k: int, lo: str | None, hi: str | None) -> tuple[int, int]:
        frames = read_chunk(root, (lo, hi), scope)
        if book is not None:
            frames["supplier_book"] = book
        res = decide_chunk(engine, frames, as_of, decided_at, model_version)
        ckpt.write(k, res)
        return res.decisions.num_rows, res.errors.num_rows

    return decide


def _run_spark(opts: RerateOptions, plan: ChunkPlan, pending: list[int],
               scope: Sequence[str] | None, ckpt: _Checkpoints, as_of: str,
               model_version: str, progress: _Progress,
               suppliers: pd.DataFrame | None = None) -> None:
    """Decide the ``pending`` chunks on Spark: each executor task runs :func:`_spark_task`
    (with the run's ``supplier_book``, :mod:`riskengine.batch.suppliers`)."""
    from functools import partial

    from riskengine.batch.spark import run_spark_chunks

    def absolute(p: Any) -> str | None:
        return None if p is None else str(Path(p).resolve())

    open_task = partial(_spark_task, portfolio=str(Path(opts.portfolio).resolve()),
                        checkpoints=str(ckpt.root.resolve()), model_dir=absolute(opts.model_dir),
                        policy_path=absolute(opts.policy_path), model_version=model_version,
                        as_of=as_of, decided_at=decided_at_for(as_of),
                        scope=None if scope is None else list(scope),
                        suppliers=None if suppliers is None else table_bytes(
                            pa.Table.from_pandas(suppliers, preserve_index=False))
                        )  # fmt: skip
    run_spark_chunks(opts.spark_master, [(k, *plan.range_of(k)) for k in pending], open_task,
                     ckpt, progress)  # fmt: skip


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


def _with_reads(frames: Mapping[str, pd.DataFrame], reads: Mapping[str, Path],
                rng: tuple[str | None, str | None], scope: Sequence[str] | None,
                done: Mapping[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """A chunk's frames from the driver's slices plus the worker-read tables (read
    here, or ``done``: read before by :class:`~riskengine.batch.read._Prefetch`), in
    contract order (the frames slicing the whole portfolio gives)."""
    lo, hi = rng
    read = dict(done) if done is not None else {
        name: read_range(file, name, lo, hi) for name, file in reads.items()}
    if scope is not None:  # the row filter already kept exactly the range
        read = _restrict(read, None, None, scope)
    out = {name: read[name] if name in read else frames[name]
           for name in CONTRACTS if name in read or name in frames}
    out.update((name, f) for name, f in frames.items() if name not in CONTRACTS)  # fx_rates, supplier_book
    return out


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
