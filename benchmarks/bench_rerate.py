"""Time ``riskengine rerate`` end to end (prints figures, asserts nothing).

Usage::

    python benchmarks/bench_rerate.py [--debtors 1000000] [--chunk-size 100000]
                                      [--workers W] [--engine pandas|spark] [--keep DIR]
                                      [--repeat N]

Writes a SYNTHETIC portfolio (``riskengine.synthetic``, seed 42) to a temporary
directory first (not timed), then runs the job in a fresh child process, exactly as
``python -m riskengine.batch.rerate --portfolio P --out O --no-tracking`` would, and prints:
wall time of the whole command (read, validate, features, PD, grade, policy, write,
reconcile, migration, summary), debtors per second, the job's own stage timings
(``run.json``), the CPU time of all its processes and the peak RSS of the largest.
With ``--repeat N`` the job runs N times on the same portfolio (best, median and worst
wall time at the end: this VM's speed drifts). MLflow logging is off (``--no-tracking``),
as it is a constant few seconds that does not grow with the book.

Stages: ``engine_s`` (load the engine) and ``read_s`` (read the portfolio) run at the
same time, on threads, with the portfolio's hash on a third; ``decide_s`` is the chunks
decided by the forked workers (each writes its chunk's part of the ``decisions``
dataset) while the driver reads their summary columns; ``assemble_s`` the last chunk, reconciliation, migration, limit
actions and summary.
The wall time also holds the interpreter start and imports before the job.

Target (issue 6): 1,000,000 debtors in <= 20 s wall time, peak RSS < 4 GB, on the
2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--debtors", type=int, default=1_000_000)
    p.add_argument("--chunk-size", type=int, default=100_000)
    p.add_argument("--workers", type=int, default=None,
                   help="default: the command's own default (the cores it may use)")
    p.add_argument("--engine", choices=("pandas", "spark"), default="pandas")
    p.add_argument("--keep", default=None, help="reuse/keep the portfolio in this directory")
    p.add_argument("--repeat", type=int, default=1, help="run the job this many times")
    a = p.parse_args()

    from riskengine.io.portfolio import write_portfolio
    from riskengine.synthetic import generate_portfolio, synthetic_manifest

    tmp = tempfile.TemporaryDirectory(prefix="bench_rerate_")
    portfolio = Path(a.keep) if a.keep else Path(tmp.name) / "portfolio"
    if not (portfolio / "manifest.json").is_file():
        t = time.perf_counter()
        frames = generate_portfolio(a.debtors, 42, "2026-06-30")
        write_portfolio(frames, portfolio, manifest=synthetic_manifest(a.debtors, 42,
                                                                       "2026-06-30"))
        del frames
        print(f"portfolio: {a.debtors:,} SYNTHETIC debtors written in "
              f"{time.perf_counter() - t:.1f} s (not timed below)")
    walls = []
    for run in range(1, a.repeat + 1):
        walls.append(_run_once(a, portfolio, Path(tmp.name) / f"out{run}", run))
    if a.repeat > 1:
        walls.sort()
        print(f"{a.repeat} runs: wall time best {walls[0]:.1f} s, median "
              f"{walls[len(walls) // 2]:.1f} s, worst {walls[-1]:.1f} s")
    tmp.cleanup()


def _run_once(a: argparse.Namespace, portfolio: Path, out: Path, run: int) -> float:
    """Run the command once in a child process; print its figures, return its wall time."""
    cmd = [sys.executable, "-m", "riskengine.batch.rerate", "--portfolio", str(portfolio),
           "--out", str(out), "--chunk-size", str(a.chunk_size), "--engine", a.engine,
           "--no-tracking", *(("--workers", str(a.workers)) if a.workers else ())]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(done.returncode)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    info = json.loads((out / "run.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    workers = info["options"]["workers"]
    print(f"run {run}: rerate ({a.engine}, chunk {a.chunk_size:,}, workers {workers}"
          f"{'' if a.workers else ' (default)'}): "
          f"{a.debtors:,} debtors, {summary['pair_decisions']:,} pair decisions")
    print(f"  wall time (whole command)  {wall:8.1f} s   target <= 20 s for 1,000,000")
    print(f"  throughput                 {a.debtors / wall:8,.0f} debtors/s")
    print(f"  CPU (all processes)        {after.ru_utime - before.ru_utime:8.1f} s user "
          f"{after.ru_stime - before.ru_stime:6.1f} s system")
    # ru_maxrss of the children is the largest of any child so far
    print(f"  peak RSS (largest process) {after.ru_maxrss / 1024:8,.0f} MB  target < 4096 MB")
    for name, secs in info["timings_s"].items():
        print(f"  stage {name:<20} {secs:8.1f} s")
    print(f"  reconciled: {summary['reconciled']} (in {summary['debtors_in']:,} = decided "
          f"{summary['debtors_decided']:,} + errored {summary['debtors_errored']:,})")
    shutil.rmtree(out, ignore_errors=True)
    return wall


if __name__ == "__main__":
    main()
