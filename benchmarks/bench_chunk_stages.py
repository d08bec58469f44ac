"""CPU of each stage of deciding one re-rating chunk (prints figures, asserts nothing).

Usage::

    python benchmarks/bench_chunk_stages.py [--debtors 1000000] [--chunk-size 100000]
                                            [--chunks 4] [--keep DIR]

Writes a SYNTHETIC portfolio (``riskengine.synthetic``, seed 42; not timed) unless
``--keep DIR`` holds one, then does in this one process what a forked worker of
``riskengine rerate`` does for each of the first ``--chunks`` chunks (after one
chunk to warm up): read the chunk's rows of the worker-read tables, decide it
(validation, features, digests, pairs, PD, grade, reasons, policy) and write its
checkpoint (the chunk's decisions, summary tables and errors as Arrow IPC; the
Parquet part is written later, by the book's pass). Each stage's process CPU
time (all threads) is summed and printed per chunk; stages nest (``decide_chunk``
holds the engine's stages), so the lines do not add up. The per-chunk total is what
the two workers of a run share: about ten chunks of 100,000 per 1,000,000 debtors.
"""

from __future__ import annotations

import argparse
import collections
import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (module, function) pairs probed where they are looked up (the module that calls them); a
# class method as "Class.method"
_STAGES = (
    # each where it is looked up: read_range by the workers' _with_reads
    ("riskengine.batch.workers", "read_range"), ("riskengine.batch.chunk", "decide_chunk"),
    ("riskengine.batch.chunk", "chunk_decisions"),
    ("riskengine.batch.checkpoints", "write_decisions"),
    ("riskengine.batch.checkpoints", "write_arrow"),
    ("riskengine.batch.checkpoints", "summary_tables"),
    ("riskengine.scoring.engine", "Engine._prepare"),
    ("riskengine.validation", "validate_portfolio"),
    ("riskengine.scoring.debtor_inputs", "build_features"),
    ("riskengine.scoring.debtor_inputs", "debtor_digests"),
    ("riskengine.scoring.debtor_inputs", "latest_financials"),
    ("riskengine.scoring.debtor_inputs", "past_due"),
    ("riskengine.scoring.engine", "Engine._pairs_from_frames"),
    ("riskengine.scoring.engine", "_decide_table"), ("riskengine.scoring.table", "reason_lists"),
    ("riskengine.scoring.table", "_input_hashes"),
)  # fmt: skip


def _probe(totals: dict[str, float], label: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def timed(*args: Any, **kwargs: Any) -> Any:
        tick = time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            totals[label] += time.process_time() - tick

    return timed


def _install(totals: dict[str, float]) -> None:
    import importlib

    for module_name, name in _STAGES:
        owner: Any = importlib.import_module(module_name)
        attr = name
        if "." in name:
            cls, attr = name.split(".")
            owner = getattr(owner, cls)
        setattr(owner, attr, _probe(totals, name, getattr(owner, attr)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--debtors", type=int, default=1_000_000)
    p.add_argument("--chunk-size", type=int, default=100_000)
    p.add_argument("--chunks", type=int, default=4)
    p.add_argument("--keep", default=None, help="reuse/keep the portfolio in this directory")
    a = p.parse_args()

    from riskengine.batch import chunk as chunk_mod
    from riskengine.batch import rerate, workers
    from riskengine.batch.checkpoints import _Checkpoints
    from riskengine.batch.options import RerateOptions
    from riskengine.batch.plan import _chunk, _slices, plan_chunks
    from riskengine.batch.read import _read_inputs
    from riskengine.io.portfolio import write_portfolio
    from riskengine.scoring import engine as eng_mod
    from riskengine.synthetic import generate_portfolio, synthetic_manifest

    tmp = tempfile.TemporaryDirectory(prefix="bench_stages_")
    portfolio = Path(a.keep) if a.keep else Path(tmp.name) / "portfolio"
    if not (portfolio / "manifest.json").is_file():
        frames = generate_portfolio(a.debtors, 42, "2026-06-30")
        write_portfolio(frames, portfolio, manifest=synthetic_manifest(a.debtors, 42,
                                                                       "2026-06-30"))
        del frames
    rerate.tune_allocators()  # as the command does
    engine = workers._load_engine()
    model_version = chunk_mod.engine_versions(engine)[0]
    opts = RerateOptions(portfolio=portfolio, out=Path(tmp.name) / "out",
                         chunk_size=a.chunk_size, tracking=False)
    inputs = _read_inputs(opts)
    frames = {n: f for n, f in inputs.frames.items() if n not in inputs.reads}
    as_of = str(inputs.manifest.get("as_of", "2026-06-30"))
    plan = plan_chunks(frames["debtors"]["debtor_id"], a.chunk_size)
    slices = _slices(frames, plan)
    eng_mod.warm_up()
    ckpt = _Checkpoints(Path(tmp.name) / "ckpt")
    ckpt.root.mkdir(parents=True)

    def chunk(k: int) -> None:
        part = _chunk(frames, slices, k)
        part = workers._with_reads(part, inputs.reads, plan.range_of(k), None)
        ckpt.write(k, chunk_mod.decide_chunk(engine, part, as_of,
                                             chunk_mod.decided_at_for(as_of), model_version))

    n = min(a.chunks, plan.n_chunks - 1)
    chunk(0)  # first chunk: page faults of a fresh heap, lazy imports
    totals: dict[str, float] = collections.defaultdict(float)
    _install(totals)
    tick = time.process_time()
    for k in range(1, n + 1):
        chunk(k)
    total = (time.process_time() - tick) / n
    print(f"chunk stages: {n} chunks of {a.chunk_size:,} debtors (SYNTHETIC, "
          f"{plan.n_chunks} chunks in all), process CPU per chunk")
    print(f"  {'total (read, decide, checkpoint)':<34} {total:6.3f} s")
    for name, secs in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<34} {secs / n:6.3f} s")
    tmp.cleanup()


if __name__ == "__main__":
    main()
