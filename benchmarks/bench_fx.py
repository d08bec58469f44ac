"""Currencies on the demo book (issue 16 point 3; prints figures, asserts nothing).

Usage::

    python benchmarks/bench_fx.py [--debtors 20000] [--portfolio DIR]

Writes the demo's SYNTHETIC book (``riskengine demo-data``, seed 42; not real data; or
reads ``--portfolio``), re-rates it (``rerate --no-store --no-tracking``, the manifest's
``fx_rates`` standing for an ``fx_rates`` table) and prints, from the decisions and the
error rows: the pairs hit by a currency mismatch (a pair left without capacity or cap
for its currency: the notes ``currency_mismatch``, ``ledger_currency_mismatch`` and
``book_currency_mismatch`` of the engine before issue 16, and ``missing_fx_rate`` error
rows), the pairs whose statements or ledger were converted instead, the pairs per
currency, and the run's totals in the reporting currency. Then the conversions that
close issue 16's currency gaps: pairs covered by an insurer limit in another currency
(converted, not refused), pairs with discretionary cover outside the cap's currency (the
cap converted), debtors whose open invoices are not all in the reporting currency (the
past-due default adds them converted) and suppliers with pairs in more than one
currency (their debtors' dispersion counts them all, converted).
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

_MISMATCH = ("currency_mismatch", "ledger_currency_mismatch", "book_currency_mismatch")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debtors", type=int, default=20_000)
    ap.add_argument("--portfolio", default=None, help="an existing portfolio directory")
    a = ap.parse_args()
    cli = [sys.executable, "-m", "riskengine.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(a.portfolio) if a.portfolio else Path(tmp) / "book"
        out = Path(tmp) / "out"
        if a.portfolio is None:
            subprocess.run([*cli, "demo-data", "--debtors", str(a.debtors), "--out", str(book)],
                           check=True, capture_output=True)
        t0 = time.perf_counter()
        subprocess.run([*cli, "rerate", "--portfolio", str(book), "--out", str(out),
                        "--no-tracking", "--no-store"], check=True, capture_output=True)
        wall = time.perf_counter() - t0
        dec = pd.read_parquet(out / "decisions")
        err = pd.read_parquet(out / "errors.parquet")
        summary = json.loads((out / "summary.json").read_text())
        from riskengine.io.portfolio import read_portfolio

        frames, _ = read_portfolio(book)
    pairs = dec[dec["row_type"] == "pair"]
    notes = pairs["limit_notes"].map(lambda v: set(v) if v is not None else set())
    hit = notes.map(lambda n: bool(n & set(_MISMATCH)))
    missing = err[err["reason"] == "missing_fx_rate"]
    missing_pairs = int(pairs["debtor_id"].isin(missing["debtor_id"]).sum())
    print(f"SYNTHETIC demo book: {len(pairs):,} pairs of "
          f"{pairs['debtor_id'].nunique():,} debtors; rerate {wall:.1f} s")
    print(f"  pairs hit by a currency mismatch      {int(hit.sum()) + missing_pairs:>8,}")
    print(f"    of which mismatch notes             {int(hit.sum()):>8,}")
    print(f"    missing_fx_rate error rows          {len(missing):>8,}")
    print(f"  pairs with statements converted       "
          f"{int(notes.map(lambda n: 'statements_converted' in n).sum()):>8,}")
    print(f"  pairs with the ledger converted       "
          f"{int(notes.map(lambda n: 'ledger_converted' in n).sum()):>8,}")
    by_cur = pairs["currency"].value_counts().sort_index()
    print("  pairs by currency                     " + ", ".join(
        f"{c} {n:,}" for c, n in by_cur.items()))
    cur = summary.get("totals_currency")
    for k, v in summary.get("totals", {}).items():
        print(f"  total {k:<31} {v:>18,.0f} {cur}")
    print(f"  pairs outside the book's currency     "
          f"{summary.get('book', {}).get('pairs_outside_book_currency', 0):>8,}")
    _gaps(pairs, frames, summary.get("totals_currency") or "EUR")


def _gaps(pairs: pd.DataFrame, frames: dict[str, pd.DataFrame], base: str) -> None:
    """The conversions of issue 16's currency gaps, counted on the run's pairs and book."""
    from riskengine.config import load_policy

    policy = load_policy()
    lim = frames.get("insurer_limits")
    converted_limit = 0
    if lim is not None and len(lim):
        on = pairs[pairs["cover_basis"] == "insurer_limit"]
        own = lim[lim["supplier_id"].notna()].drop_duplicates(["debtor_id", "supplier_id"])
        deb = lim[lim["supplier_id"].isna()].drop_duplicates("debtor_id")
        cur = on.merge(own[["debtor_id", "supplier_id", "currency"]], how="left",
                       on=["debtor_id", "supplier_id"], suffixes=("", "_limit"))
        by_debtor = deb.set_index("debtor_id")["currency"]
        lc = cur["currency_limit"].astype(object).where(
            cur["currency_limit"].notna(), cur["debtor_id"].map(by_debtor))
        converted_limit = int((lc.notna() & (lc.astype(str) != cur["currency"].astype(str))).sum())
    print(f"  pairs on a converted insurer limit    {converted_limit:>8,}")
    disc = pairs[(pairs["cover_basis"] == "discretionary")
                 & (pairs["currency"] != policy.insurance.discretionary_currency)]
    print(f"  pairs on a converted discretion. cap  {len(disc):>8,}")
    inv = frames["invoices"]
    as_of = pd.Timestamp(str(pairs["as_of"].iloc[0])) if len(pairs) else pd.Timestamp.max
    open_ = inv[(inv["issue_date"] <= as_of)
                & (inv["paid_date"].isna() | (inv["paid_date"] > as_of))]
    foreign = open_[open_["currency"].astype(str) != base]["debtor_id"].nunique()
    print(f"  debtors with open invoices not in {base} {foreign:>7,} (past-due sums converted)")
    ex = frames["exposures"]
    mixed = int((ex.groupby("supplier_id")["currency"].nunique() > 1).sum())
    print(f"  suppliers with pairs in 2+ currencies {mixed:>8,} (dispersion converted)")


if __name__ == "__main__":
    main()
