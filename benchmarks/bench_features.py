"""Throughput and peak memory of the four feature pipelines (issue 2 §5).

Usage::

    .venv/bin/python benchmarks/bench_features.py [--debtors 1000000] [--seed 7] [--repeat 3]

Data: a SYNTHETIC portfolio from ``riskengine.synthetic`` (seeded; about 3
statements, 6.5 invoices and 1.45 supplier pairs per debtor, adverse records
for ~14 % of debtors), written once to Parquet under the system temp directory
and read back in a fresh process, so the figure covers what a job sees: the
validated frames in memory, then statements → ratios, adverse → severity,
invoices → behaviour and exposures → concentration, combined into one row per
debtor by ``riskengine.features.build_features``.

Prints debtors/s of the pipelines (best and median of ``--repeat`` runs), the
seconds of each family, and the process's peak RSS (read + features).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _ensure_portfolio(n: int, seed: int) -> Path:
    path = Path(tempfile.gettempdir()) / f"riskengine-bench-{n}-{seed}"
    if not (path / "manifest.json").exists():
        print(f"generating {n:,} synthetic debtors into {path} (once) ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "riskengine.cli", "demo-data", "--debtors", str(n),
             "--seed", str(seed), "--out", str(path)],
            check=True, stdout=subprocess.DEVNULL,
        )
    return path


def _measure(path: Path, repeat: int, breakdown: bool) -> None:
    import pandas as pd

    from riskengine.features import build_features
    from riskengine.features.adverse import adverse_features
    from riskengine.features.concentration import concentration_features
    from riskengine.features.payments import payment_features
    from riskengine.features.statements import statement_features
    from riskengine.io.portfolio import read_portfolio

    t0 = time.perf_counter()
    frames, manifest = read_portfolio(path)
    t_read = time.perf_counter() - t0
    as_of = pd.Timestamp(manifest["as_of"])
    fx = manifest.get("fx_rates")
    n = len(frames["debtors"])
    rows = {k: len(v) for k, v in frames.items()}
    print(f"portfolio: SYNTHETIC, {n:,} debtors, rows {rows}")
    print(f"read Parquet: {t_read:.2f} s")

    family = {
        "statements": lambda: statement_features(frames["statements"], as_of),
        "adverse": lambda: adverse_features(frames["adverse_records"], as_of),
        "payments": lambda: payment_features(frames["invoices"], as_of),
        "concentration": lambda: concentration_features(
            frames["exposures"], frames["debtors"], frames["suppliers"],
            relations=frames["relations"], fx_rates=fx),
    }
    if breakdown:  # in its own process: the one-call family runs would inflate peak RSS
        for name, fn in family.items():
            t = time.perf_counter()
            fn()
            print(f"  {name:<14} {time.perf_counter() - t:6.2f} s (one call, whole table)")
        return

    times = []
    n_features = 0
    for _ in range(repeat):
        t = time.perf_counter()
        feats = build_features(frames, as_of, fx_rates=fx)
        times.append(time.perf_counter() - t)
        n_features = feats.shape[1]
        del feats  # the previous result must not stay alive during the next run
    best, med = min(times), statistics.median(times)
    print(f"build_features (all four, one row per debtor, {n_features} features): "
          f"best {best:.2f} s = {n / best:,.0f} debtors/s; median {med:.2f} s = {n / med:,.0f} debtors/s")
    print(f"peak RSS (read + features): {_peak_rss_gb():.2f} GB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debtors", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--breakdown", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    ap_breakdown = args.breakdown
    if args.child:
        _measure(Path(args.child), args.repeat, ap_breakdown)
        return
    path = _ensure_portfolio(args.debtors, args.seed)
    # fresh processes, so that peak RSS is that of reading + build_features only
    base = [sys.executable, __file__, "--child", str(path), "--repeat", str(args.repeat)]
    subprocess.run(base, check=True)
    print("seconds per family, each alone on the whole table:")
    subprocess.run([*base, "--breakdown"], check=True)


if __name__ == "__main__":
    main()
