"""Benchmark: generate and write a SYNTHETIC portfolio of N debtors.

Prints the seconds to generate (riskengine.synthetic.generate_portfolio), to
write (riskengine.io.portfolio.write_portfolio) and to read back, the rows per
table, the bytes on disk and the peak resident memory of the process.

Usage::

    .venv/bin/python benchmarks/bench_synthetic.py              # 1,000,000 debtors
    .venv/bin/python benchmarks/bench_synthetic.py --debtors 200000 --format csv
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from riskengine.io.portfolio import read_portfolio, write_portfolio
from riskengine.synthetic import generate_portfolio, synthetic_manifest


def _peak_rss_gb() -> float:
    """Peak resident set size of this process, in GB (ru_maxrss is KiB on Linux)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--out", default=None, help="directory to keep (default: a temp dir)")
    parser.add_argument("--no-read", action="store_true", help="skip reading the files back")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-synthetic-") as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "portfolio"
        t0 = time.perf_counter()
        frames = generate_portfolio(args.debtors, seed=args.seed)
        t_gen = time.perf_counter() - t0
        rss_gen = _peak_rss_gb()

        t0 = time.perf_counter()
        write_portfolio(
            frames, out, manifest=synthetic_manifest(args.debtors, args.seed), fmt=args.format
        )
        t_write = time.perf_counter() - t0
        rss_write = _peak_rss_gb()
        disk = sum(p.stat().st_size for p in out.iterdir())
        rows = {name: len(f) for name, f in frames.items()}
        mem = sum(int(f.memory_usage(deep=True).sum()) for f in frames.values())
        del frames

        t_read = float("nan")
        if not args.no_read:
            t0 = time.perf_counter()
            read_portfolio(out)
            t_read = time.perf_counter() - t0

    print(f"SYNTHETIC portfolio: {args.debtors:,} debtors, seed {args.seed}, {args.format}")
    for name, n in rows.items():
        print(f"  {name:<16} {n:>12,} rows")
    print(f"  {'total':<16} {sum(rows.values()):>12,} rows, {mem / 1e9:.2f} GB in memory")
    print(
        f"generate: {t_gen:7.2f} s  ({args.debtors / t_gen:,.0f} debtors/s), "
        f"peak RSS {rss_gen:.2f} GB"
    )
    print(
        f"write:    {t_write:7.2f} s  ({disk / 1e6:,.0f} MB on disk), peak RSS {rss_write:.2f} GB"
    )
    if not args.no_read:
        print(f"read:     {t_read:7.2f} s")
    print(f"peak RSS of the run: {_peak_rss_gb():.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
