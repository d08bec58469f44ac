"""Time the statement feature pipeline on a synthetic panel (prints figures, asserts nothing).

Usage: ``python benchmarks/bench_statements.py [n_debtors] [statements_per_debtor]``
(default 1,000,000 debtors × 3 statements = 3,000,000 rows). The frame is
random numbers in the statements contract's columns, clearly synthetic; it
measures speed only.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from riskengine.contracts.schemas import LINE_ITEMS
from riskengine.features.statements import statement_features, statement_panel_features


def make_panel(n_debtors: int, per_debtor: int, seed: int = 0) -> pd.DataFrame:
    """A shuffled synthetic statements frame (random amounts; not realistic)."""
    rng = np.random.default_rng(seed)
    n = n_debtors * per_debtor
    ids = np.char.add("D", np.arange(n_debtors).astype(str))
    years = 2024 - per_debtor + 1 + np.tile(np.arange(per_debtor), n_debtors)
    frame: dict[str, object] = {
        "debtor_id": pd.array(np.repeat(ids, per_debtor), dtype="str"),
        "period_end": pd.to_datetime(years.astype(str), format="%Y") + pd.offsets.YearEnd(0),
        "statement_type": pd.array(rng.choice(["audited", "unaudited"], n), dtype="str"),
        "currency": "EUR",
    }
    for item in LINE_ITEMS:
        frame[item] = rng.lognormal(10.0, 1.0, n)
    df = pd.DataFrame(frame)
    return df.iloc[rng.permutation(n)].reset_index(drop=True)


def main() -> None:
    n_debtors = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    df = make_panel(n_debtors, per)
    print(f"rows: {len(df):,} ({n_debtors:,} debtors x {per}), shuffled")
    for label, fn in (
        ("statement_panel_features", lambda: statement_panel_features(df)),
        ("statement_features(as_of)", lambda: statement_features(df, "2024-12-31")),
    ):
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t0)
        print(
            f"{label}: {best:.2f} s best of 2, {len(df) / best:,.0f} rows/s, "
            f"{n_debtors / best:,.0f} debtors/s, output {out.shape}"
        )
    sorted_df = df.sort_values(["debtor_id", "period_end"], ignore_index=True)
    t0 = time.perf_counter()
    statement_panel_features(sorted_df)
    print(f"statement_panel_features on sorted input: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
