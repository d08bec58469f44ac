"""The book's invariants after a rerate run (issue 15; prints figures, asserts nothing).

Usage::

    python benchmarks/bench_book.py [--debtors 2000] [--factor-capital 5000000]
                                    [--chunk-size 250]

Writes the demo's SYNTHETIC book (``riskengine demo-data``, seed 42; not real data) to
a temporary directory, re-rates it with ``--factor-capital`` (a small capital, so that
the connected-group cap binds) in chunks smaller than the book (groups span chunks),
and prints, from the decisions dataset (:func:`riskengine.batch.book.book_invariants`):
debtors whose pairs exceed the debtor's capacity, groups above
``group_capital_share x factor_capital``, debtors with several suppliers, and the pairs
bound by the debtor's capacity and by each of the book's caps; then the run summary's
``book`` figures (caps in money, pairs left out of the book's currency).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debtors", type=int, default=2000)
    ap.add_argument("--factor-capital", type=float, default=5_000_000.0)
    ap.add_argument("--chunk-size", type=int, default=250)
    a = ap.parse_args()
    from riskengine.batch.book import book_invariants
    from riskengine.config import load_policy

    cli = [sys.executable, "-m", "riskengine.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        book, out = Path(tmp) / "book", Path(tmp) / "out"
        subprocess.run([*cli, "demo-data", "--debtors", str(a.debtors), "--out", str(book)],
                       check=True, capture_output=True)
        t0 = time.perf_counter()
        subprocess.run([*cli, "rerate", "--portfolio", str(book), "--out", str(out),
                        "--no-tracking", "--chunk-size", str(a.chunk_size),
                        "--factor-capital", str(a.factor_capital)], check=True,
                       capture_output=True, cwd=tmp)  # its default store: tmp/riskengine.db
        wall = time.perf_counter() - t0
        dec = pd.read_parquet(out / "decisions")
        inv = book_invariants(dec, load_policy().with_factor_capital(a.factor_capital))
        summary = json.loads((out / "summary.json").read_text())
    print(f"SYNTHETIC demo book: {a.debtors:,} debtors, factor capital "
          f"{a.factor_capital:,.0f}, chunks of {a.chunk_size}; rerate {wall:.1f} s")
    for k, v in inv.items():
        print(f"  {k:28s} {v:>8,}")
    print("  summary.book:", json.dumps(summary.get("book", {}), sort_keys=True))


if __name__ == "__main__":
    main()
