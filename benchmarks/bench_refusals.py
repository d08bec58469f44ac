"""Refused pairs by cause on the demo book (issue 16; prints figures, asserts nothing).

Usage::

    python benchmarks/bench_refusals.py [--debtors 20000] [--portfolio DIR] [--run OUT]

Writes the demo's SYNTHETIC book (``riskengine demo-data``, seed 42; not real data; or
reads ``--portfolio``), re-rates it (``rerate --no-store --no-tracking``) and prints the
share of pairs refused, by cause (:func:`riskengine.commands.refusal_causes`: the first
knock-out, note or binding constraint of the cause list), with the advance and fees the
refused pairs show. ``--run OUT`` reads an existing run's output instead (e.g. one made
by an older checkout, to compare before and after with the same classification).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debtors", type=int, default=20_000)
    ap.add_argument("--portfolio", default=None, help="an existing portfolio directory")
    ap.add_argument("--run", default=None, help="an existing rerate output directory")
    a = ap.parse_args()
    from riskengine.commands import refusal_causes

    cli = [sys.executable, "-m", "riskengine.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(a.run) if a.run else Path(tmp) / "out"
        if a.run is None:
            book = Path(a.portfolio) if a.portfolio else Path(tmp) / "book"
            if a.portfolio is None:
                subprocess.run([*cli, "demo-data", "--debtors", str(a.debtors), "--out",
                                str(book)], check=True, capture_output=True)
            subprocess.run([*cli, "rerate", "--portfolio", str(book), "--out", str(out),
                            "--no-tracking", "--no-store"], check=True, capture_output=True)
        dec = pd.read_parquet(out / "decisions")
    pairs = dec[dec["row_type"] == "pair"]
    causes = refusal_causes(pairs)
    n = len(pairs)
    print(f"SYNTHETIC demo book: {n:,} pairs of {pairs['debtor_id'].nunique():,} debtors; "
          f"refused {len(causes):,} ({len(causes) / n:.1%})")
    for cause, k in causes.value_counts().items():
        print(f"  {cause:<40} {k:>7,}  {k / n:6.1%}")
    refused = pairs.loc[causes.index]
    for rate in ("advance_rate", "service_commission_rate", "discount_rate"):
        if rate in refused.columns:
            shown = int((refused[rate].fillna(0.0) != 0.0).sum())
            print(f"  refused pairs showing a {rate:<24} {shown:>7,}")


if __name__ == "__main__":
    main()
