"""Speed of the officer's book pages on a large register (prints figures).

A SYNTHETIC register of ``--pairs`` pairs (``bench_register.synthetic_pairs``: seeded ids,
limits, grades, sectors) written by two rerate runs (the second with other grades and
limits 10 % lower, so that the register holds migrations, pending cuts and history
rows), plus insurer answers on 2 % of the debtors (half of them reductions); then what
the pages pay (``riskengine.store.desk``): a page with its count, unfiltered and with
each filter, a deep page, the alerts' first page and count, and the CSV export of the
whole book (rows per second, the peak memory of the process). Run::

    .venv/bin/python benchmarks/bench_desk.py [--pairs 200000] [--store URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_register import synthetic_pairs


def _insurer_rows(pairs: pd.DataFrame, seed: int = 1) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    debtors = pd.unique(pairs["debtor_id"])
    chosen = rng.choice(debtors, size=max(1, len(debtors) // 50), replace=False)
    out: list[dict[str, object]] = []
    for k, did in enumerate(sorted(chosen)):
        reduced = k % 2 == 0
        out.append({"insurer_id": "INS-1", "policy_id": "P-1", "debtor_id": str(did),
                    "supplier_id": None, "currency": "EUR", "requested_amount": None,
                    "granted_amount": 40_000.0 if reduced else 80_000.0,
                    "previous_granted_amount": 80_000.0 if reduced else None,
                    "cover_pct": 0.9, "status": "reduced" if reduced else "granted",
                    "decision_date": dt.date(2026, 6, 15), "effective_date": None,
                    "source": "bench", "recorded_at": "2026-06-15T00:00:00Z"})
    return out


def _median_ms(fn: object, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2] * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=200_000)
    p.add_argument("--store", default=None, help="store URL (default: a fresh SQLite file)")
    args = p.parse_args()
    from riskengine.config import load_policy
    from riskengine.serve.ui.book import csv_lines
    from riskengine.store import DecisionStore
    from riskengine.store.desk import (
        BOOK_COLUMNS,
        AlertFilter,
        BookFilter,
        alerts_page,
        book_chunks,
        book_page,
    )
    from riskengine.store.runs import apply_run
    from riskengine.store.tables import insurer_limits

    pairs = synthetic_pairs(args.pairs)
    rng = np.random.default_rng(2)
    grades = np.array([str(g) for g in range(1, 11)], dtype=object)
    second = pairs.assign(approved_limit=pairs["approved_limit"] * 0.9,
                          grade=grades[rng.integers(0, 10, len(pairs))])
    policy = load_policy()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or f"sqlite:///{Path(tmp) / 'desk.db'}"
        with DecisionStore(url) as store:
            t0 = time.perf_counter()
            apply_run(store, pairs, as_of=dt.date(2026, 3, 31), run="r1", policy=policy)
            apply_run(store, second, as_of=dt.date(2026, 6, 30), run="r2", policy=policy)
            ins = _insurer_rows(pairs)
            with store._write() as conn:
                conn.execute(insurer_limits.insert(), ins)
            print(f"register: {len(pairs):,} pairs, two runs and {len(ins):,} insurer answers "
                  f"written in {time.perf_counter() - t0:.1f} s")
            cases = [("no filter", BookFilter()), ("grade 7", BookFilter(grade="7")),
                     ("migration downgrade", BookFilter(migration="downgrade")),
                     ("last change decrease", BookFilter(action="decrease")),
                     ("sector C", BookFilter(sector="C")),
                     ("insurer reduced", BookFilter(insurer="reduced")),
                     ("insurer none", BookFilter(insurer="none")),
                     ("debtor id contains 'D00012'", BookFilter(q="D00012")),
                     ("grade 7, downgrade, sector C", BookFilter(grade="7",
                                                                 migration="downgrade",
                                                                 sector="C"))]
            for label, f in cases:
                _, total = book_page(store, f, page=1, size=50)
                ms = _median_ms(lambda f=f: book_page(store, f, page=1, size=50))
                print(f"page 1 of 50 + count, {label}: {total:,} rows, median {ms:.0f} ms")
            deep = max(1, len(pairs) // 50 - 1)
            ms = _median_ms(lambda: book_page(store, BookFilter(), page=deep, size=50))
            print(f"page {deep:,} of 50 (the last pages), no filter: median {ms:.0f} ms")
            _, total = alerts_page(store, AlertFilter())
            ms = _median_ms(lambda: alerts_page(store, AlertFilter(), page=1, size=50))
            print(f"alerts page 1 of 50 + count: {total:,} alerts, median {ms:.0f} ms")
            t0 = time.perf_counter()
            n_bytes = n_rows = 0
            rows = (r for chunk in book_chunks(store, BookFilter()) for r in chunk)
            for piece in csv_lines(BOOK_COLUMNS, rows):
                n_bytes += len(piece)
                n_rows += piece.count("\n")
            took = time.perf_counter() - t0
            print(f"CSV export of the whole book: {n_rows - 1:,} rows, {n_bytes / 1e6:.1f} MB "
                  f"in {took:.1f} s ({(n_rows - 1) / took:,.0f} rows/s)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB (the book's frames included)")


if __name__ == "__main__":
    main()
