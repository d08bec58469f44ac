"""Time statement validation (prints figures, asserts nothing).

Usage: ``python benchmarks/bench_validation.py [n_rows] [bad_share] [n_debtors]``
(default 1,000,000 statement rows; 0.001 of the rows get one injected problem).
With ``n_debtors`` > 0 it also times ``validate_portfolio`` on a portfolio from
:func:`riskengine.synthetic.generate_portfolio` (all seven tables).
The frame is random numbers in the statements contract's columns, built by its
own seeded numpy code with the balance-sheet and P&L identities holding; it is
synthetic and measures speed only. Prints rows/s of ``validate_table`` and
``check_identities`` (on the clean frame) and the process's peak RSS.
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import pandas as pd

from riskengine.contracts.schemas import LINE_ITEMS, STATEMENTS
from riskengine.validation import check_identities, validate_portfolio, validate_table


def make_statements(n_rows: int, bad_share: float, seed: int = 0) -> pd.DataFrame:
    """``n_rows`` statements (3 periods per debtor, shuffled), a share of them broken."""
    rng = np.random.default_rng(seed)
    per = 3
    n_debtors = -(-n_rows // per)
    ids = np.char.add("D-", np.arange(n_debtors).astype(str))
    years = np.tile(np.arange(2021, 2021 + per), n_debtors)[:n_rows]
    amounts = {item: rng.lognormal(12.0, 1.2, n_rows) for item in LINE_ITEMS}
    amounts["total_assets"] = amounts["total_liabilities"] + amounts["equity"]
    amounts["gross_profit"] = amounts["revenue"] - amounts["cost_of_sales"]
    amounts["ebit"] = amounts["ebitda"] - amounts["depreciation_amortization"]
    df = pd.DataFrame(
        {
            "debtor_id": pd.array(np.repeat(ids, per)[:n_rows], dtype="str"),
            "period_end": pd.to_datetime(years.astype(str), format="%Y") + pd.offsets.YearEnd(0),
            "statement_type": pd.array(
                rng.choice(["audited", "unaudited", "abbreviated"], n_rows), dtype="str"
            ),
            "currency": pd.array(rng.choice(["EUR", "USD", "GBP"], n_rows), dtype="str"),
            **amounts,
        }
    )
    bad = rng.random(n_rows) < bad_share
    df.loc[bad, "total_assets"] = -1.0  # negative, and breaks the balance-sheet identity
    return df.iloc[rng.permutation(n_rows)].reset_index(drop=True)


def main() -> None:
    n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    bad_share = float(sys.argv[2]) if len(sys.argv) > 2 else 0.001
    df = make_statements(n_rows, bad_share)
    print(f"rows: {len(df):,} statements, {bad_share:.2%} with an injected problem")
    t0 = time.perf_counter()
    clean, errors = validate_table(df, STATEMENTS, reference_date="2025-06-30")
    t1 = time.perf_counter()
    broken = check_identities(clean)
    t2 = time.perf_counter()
    total = t2 - t0
    print(f"validate_table: {t1 - t0:.2f} s, {n_rows / (t1 - t0):,.0f} rows/s, "
          f"{len(clean):,} clean, {len(errors):,} error rows")  # fmt: skip
    print(f"check_identities: {t2 - t1:.2f} s, {len(clean) / (t2 - t1):,.0f} rows/s, "
          f"{len(broken):,} broken")  # fmt: skip
    print(f"validate_table + check_identities: {total:.2f} s, {n_rows / total:,.0f} rows/s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak RSS: {peak_mb:,.0f} MB")
    n_debtors = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if n_debtors > 0:
        del df, clean, errors, broken
        from riskengine.synthetic import generate_portfolio

        frames = generate_portfolio(n_debtors, seed=0, as_of="2025-06-30")
        rows = sum(len(f) for f in frames.values())
        t0 = time.perf_counter()
        out = validate_portfolio(frames, reference_date="2025-06-30")
        dt = time.perf_counter() - t0
        print(f"validate_portfolio: {n_debtors:,} debtors, {rows:,} rows in 7 tables: {dt:.2f} s, "
              f"{rows / dt:,.0f} rows/s, {n_debtors / dt:,.0f} debtors/s, "
              f"{out.summary()['problems']} problems")  # fmt: skip
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS (whole run): {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
