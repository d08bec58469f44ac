"""Throughput of the vectorised credit policy (prints figures; no assertions).

Run: ``.venv/bin/python benchmarks/bench_policy.py [n_pairs]`` (default 1,000,000).
The issue's target: >= 1,000,000 supplier-debtor limit decisions per second.
Inputs are random but seeded; every optional rule is switched on (financial
bases, knock-outs, ledger / group / sector caps, insurer limits), so this is
the slowest path of :func:`riskengine.policy.decide_limits`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

try:
    import riskengine  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from riskengine.config import load_policy
from riskengine.policy import decide_limits, fund_invoices, insurance_cover


def _pairs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "grade": rng.integers(1, 12, n), "requested": rng.uniform(0, 200_000, n),
        "product": rng.integers(0, 2, n), "basis": rng.choice(3, n, p=[0.7, 0.2, 0.1]),
        "tnw": rng.normal(500_000, 400_000, n), "revenue": rng.uniform(1e5, 1e7, n),
        "profit": rng.normal(50_000, 50_000, n),
        "adverse_knockout": rng.random(n) < 0.02, "insolvency": rng.random(n) < 0.005,
        "related": rng.random(n) < 0.01, "supplier_grade": rng.integers(1, 12, n),
        "supplier_ledger": rng.uniform(1e5, 5e6, n), "group_exposure": rng.uniform(0, 2e6, n),
        "factor_capital": 1e7, "sector_exposure": rng.uniform(0, 3e7, n), "book_total": 1e8,
        "insurer_limit": rng.uniform(0, 300_000, n),
    }


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(n: int = 1_000_000) -> None:
    policy = load_policy()
    rng = np.random.default_rng(7)
    pairs = _pairs(n, rng)
    t = _best(lambda: decide_limits(pairs, policy))
    print(f"decide_limits:   {n:,} pairs in {t * 1e3:7.1f} ms -> {n / t:,.0f} pair decisions/s")
    dec = decide_limits(pairs, policy)
    pd_ = rng.uniform(0, 0.2, n)
    covered = np.minimum(pairs["insurer_limit"], dec.approved)  # a granted limit per pair
    t = _best(lambda: insurance_cover(pairs["grade"], dec.approved, pd_, policy,
                                      covered=covered, cover_pct=0.9,
                                      product=pairs["product"], annual_sales=4 * dec.approved))
    print(f"insurance_cover: {n:,} rows  in {t * 1e3:7.1f} ms -> {n / t:,.0f} rows/s")
    issued = np.datetime64("2026-01-01") + rng.integers(0, 120, n).astype("timedelta64[D]")
    invoices = {
        "limit": dec.approved, "approved_outstanding": rng.uniform(0, 1, n) * dec.approved,
        "amount": rng.uniform(100, 50_000, n), "invoice_date": issued,
        "due_date": issued + np.timedelta64(60, "D"), "as_of": np.datetime64("2026-05-01"),
        "grade": pairs["grade"], "product": pairs["product"],
        "cross_aged": rng.random(n) < 0.05, "contras": 0.0, "related": pairs["related"],
    }
    t = _best(lambda: fund_invoices(invoices, policy))
    print(f"fund_invoices:   {n:,} invoices in {t * 1e3:7.1f} ms -> {n / t:,.0f} invoices/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
