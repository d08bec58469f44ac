"""Speed of a rerate's write into the limit register (prints figures).

``riskengine.store.runs.apply_run`` on a SYNTHETIC book of ``--pairs`` pairs (seeded
ids, limits, grades and terms shaped like a run's ``final_pairs``) into a fresh SQLite
store (or ``--store URL``): a first run (every pair seeded from its limit in force and
inserted, one history row each) and a second run a day later (every pair updated, history
rows for the changed ones only); then the aggregate query a debtor decided alone pays to
read the rest of the book (``DecisionStore.book_rest``); and, with ``--floor``, the
SQLite floor of the first run: the very rows it handed the driver, written again into a
fresh store of the same schema by ``executemany`` alone (no Python building rows), wall
and CPU seconds. Run::

    .venv/bin/python benchmarks/bench_register.py [--pairs 1450000] [--store URL] [--floor]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def synthetic_pairs(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` pairs of about ``n / 1.45`` debtors and 25,000 suppliers, with a run's columns."""
    rng = np.random.default_rng(seed)
    n_debtors = max(1, int(n / 1.45))
    debtor = np.sort(rng.integers(0, n_debtors, n))
    supplier = rng.integers(0, 25_000, n)
    frame = pd.DataFrame({"debtor_id": [f"D{d:07d}" for d in debtor],
                          "supplier_id": [f"S{s:05d}" for s in supplier]})
    frame = frame.drop_duplicates(["supplier_id", "debtor_id"]).reset_index(drop=True)
    m = len(frame)
    current = np.round(rng.lognormal(10.5, 1.0, m), -3) * (rng.random(m) < 0.8)
    grades = np.array([str(g) for g in range(1, 11)], dtype=object)
    return frame.assign(
        approved_limit=np.round(current * rng.uniform(0.5, 1.3, m), -3),
        knockout=rng.random(m) < 0.01, approved_outstanding=current * rng.uniform(0, 0.6, m),
        current_limit=current, currency="EUR", grade=grades[rng.integers(0, 10, m)],
        pd=rng.uniform(0.001, 0.2, m), product="recourse", advance_rate=0.8,
        decided_at="2026-06-30T00:00:00+00:00", model_version="bench", policy_version="bench",
        decision_type="full", group_id=None,
        sector=np.array(list("ABCDEFGHIJ"), dtype=object)[rng.integers(0, 10, m)],
        country="GR")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=1_450_000)
    p.add_argument("--store", default=None, help="store URL (default: a fresh SQLite file)")
    p.add_argument("--floor", action="store_true",
                   help="also replay the first run's driver rows with executemany alone")
    args = p.parse_args()
    from riskengine.config import load_policy
    from riskengine.store import DecisionStore, runs
    from riskengine.store.runs import apply_run

    captured: list[tuple[str, list[str], list[tuple[object, ...]]]] = []
    if args.floor:
        insert = runs._insert

        def keep(conn: object, table: str, columns: list[str], rows: list) -> None:
            if not captured or captured[-1][0] != "done":
                captured.append((table, columns, rows))
            insert(conn, table, columns, rows)

        runs._insert = keep

    pairs = synthetic_pairs(args.pairs)
    policy = load_policy()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or f"sqlite:///{Path(tmp) / 'register.db'}"
        with DecisionStore(url) as store:
            for label, day, frame in (
                    ("first run", dt.date(2026, 6, 30), pairs),
                    ("second run", dt.date(2026, 7, 1), pairs.assign(
                        approved_limit=pairs["approved_limit"] * 0.9))):
                t0 = time.perf_counter()
                counts = apply_run(store, frame, as_of=day, run=label.replace(" ", "-"),
                                   policy=policy)
                took = time.perf_counter() - t0
                print(f"register {label}: {len(frame):,} pairs in {took:.1f} s "
                      f"({len(frame) / took:,.0f} pairs/s); {counts}")
                if args.floor and label == "first run":
                    captured.append(("done", [], []))
            times = []
            for _ in range(5):  # what one decision alone pays to read the rest of the book
                t0 = time.perf_counter()
                store.book_rest(excluding=["D0000001"], groups=["G1"], as_of=day,
                                currency="EUR")
                times.append(time.perf_counter() - t0)
            print(f"book_rest over {len(pairs):,} register rows: median "
                  f"{sorted(times)[2] * 1e3:.0f} ms")
    if args.floor:
        _floor(captured[:-1])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak RSS {rss:.2f} GB")


def _floor(captured: list[tuple[str, list[str], list[tuple[object, ...]]]]) -> None:
    """Replay the captured inserts (register rows only: the first run updates nothing)
    through the driver into a fresh SQLite store of the same schema, in one transaction."""
    import sqlite3

    from riskengine.store import DecisionStore

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "floor.db"
        with DecisionStore(f"sqlite:///{path}"):
            pass  # the schema, as the store creates it
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-262144"):
            conn.execute(f"PRAGMA {pragma}")  # the store's settings during a run
        wall, cpu = time.perf_counter(), time.process_time()
        conn.execute("BEGIN")
        for table, columns, rows in captured:
            marks = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                             rows)
        conn.execute("COMMIT")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        conn.close()
    n = {t: sum(len(r) for tt, _, r in captured if tt == t) for t, _, _ in captured}
    print(f"SQLite floor of the first run: {n} rows by executemany alone in {wall:.1f} s "
          f"wall, {cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
