"""Insurer limits as state on the demo book (issue 16; prints figures, asserts nothing).

Usage::

    python benchmarks/bench_insurer.py [--debtors 20000]

Writes the demo's SYNTHETIC book (``riskengine demo-data``, seed 42; not real data) to a
temporary directory and re-rates it twice with ``riskengine rerate``: without its
``insurer_limits`` table (a book holding no insurer data, as before issue 16), and as
generated (the partner insurers' answers, :mod:`riskengine.synthetic.insurers`).
For each run it prints, from the decisions and the insurer limits
(:func:`riskengine.batch.insurance.insurance_invariants`): the insured share of the
approved amount for pairs without an insurer limit (before issue 16: 98 % on the demo
book, the cover assumed), pairs insured above min(approved, granted) (must be 0),
limits whose pairs together exceed them (0), the discretionary cap's checks (0), the
requests to the insurer, and the rerate's wall time.
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


def _rerate(cli: list[str], book: Path, out: Path, tmp: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([*cli, "rerate", "--portfolio", str(book), "--out", str(out),
                    "--no-tracking", "--no-store"], check=True, capture_output=True, cwd=tmp)
    return time.perf_counter() - t0


def _report(label: str, out: Path, limits: pd.DataFrame | None, wall: float) -> None:
    from riskengine.batch.insurance import insurance_invariants
    from riskengine.config import load_policy

    dec = pd.read_parquet(out / "decisions")
    inv = insurance_invariants(dec, limits, load_policy())
    req = pd.read_parquet(out / "insurer_requests.parquet")
    summary = json.loads((out / "summary.json").read_text())
    print(f"{label}: rerate {wall:.1f} s")
    for k, v in inv.items():
        print(f"  {k:42s} {v:>16,.4f}" if isinstance(v, float) else f"  {k:42s} {v:>16,}")
    print(f"  {'insurer_requests rows':42s} {len(req):>16,}")
    print(f"  {'amount_requested':42s} {req['amount_requested'].sum():>16,.0f}")
    print("  requests by reason:", json.dumps(req["reason"].value_counts().to_dict(),
                                              sort_keys=True))
    print("  summary.insurance:", json.dumps(summary.get("insurance", {}), sort_keys=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debtors", type=int, default=20_000)
    a = ap.parse_args()
    from riskengine.io.portfolio import read_manifest, read_portfolio, write_portfolio

    cli = [sys.executable, "-m", "riskengine.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        ins_book, book = Path(tmp) / "book_ins", Path(tmp) / "book"
        subprocess.run([*cli, "demo-data", "--debtors", str(a.debtors), "--out",
                        str(ins_book)], check=True, capture_output=True)
        frames, _ = read_portfolio(ins_book)
        limits = frames["insurer_limits"]
        meta = {k: v for k, v in read_manifest(ins_book).items()
                if k not in ("tables", "format")}
        write_portfolio({k: v for k, v in frames.items() if k != "insurer_limits"}, book,
                        manifest=meta)
        print(f"SYNTHETIC demo book: {a.debtors:,} debtors; {len(limits):,} insurer limits "
              f"on {limits['debtor_id'].nunique():,} debtors")
        print("  insurer limits by status:", json.dumps(
            limits["status"].value_counts().to_dict(), sort_keys=True))
        wall = _rerate(cli, book, Path(tmp) / "out", tmp)
        _report("no insurer data", Path(tmp) / "out", None, wall)
        wall = _rerate(cli, ins_book, Path(tmp) / "out_ins", tmp)
        _report("with insurer limits", Path(tmp) / "out_ins", limits, wall)


if __name__ == "__main__":
    main()
