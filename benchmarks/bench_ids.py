"""Cost of the id-grammar check of validation (prints figures, asserts nothing).

Usage: ``python benchmarks/bench_ids.py [n_rows]`` (default 1,000,000).

Times, on ``n_rows`` distinct Arrow-backed ids (``I0000000`` ...):

- Arrow's regex kernel (``pyarrow.compute.match_substring_regex``) with
  :data:`riskengine.contracts.ids.ID_PATTERN`, as :func:`riskengine.validation.keys._bad_ids` runs it;
- Python's ``re`` over the same values (:func:`riskengine.contracts.ids.is_identifier`), for scale;
- ``validate_table`` of an invoices table of ``n_rows`` rows (5 id columns: invoice,
  supplier, debtor ids), with the id check and with it switched off.

The table is synthetic (seeded numpy) and measures speed only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.contracts.ids import ID_PATTERN, is_identifier
from riskengine.contracts.schemas import INVOICES
from riskengine.validation import table


def _best(run: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def make_invoices(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    debtor = np.sort(rng.integers(0, max(n // 20, 1), n))
    text = lambda prefix, v: pd.array(np.char.add(prefix, np.char.zfill(v.astype(str), 7)),  # noqa: E731
                                      dtype="str")
    issue = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    return pd.DataFrame({
        "invoice_id": text("I", np.arange(n)), "supplier_id": text("S", rng.integers(0, 500, n)),
        "debtor_id": text("D", debtor), "amount": rng.lognormal(8, 1, n), "currency": "EUR",
        "issue_date": issue, "due_date": issue + pd.Timedelta(days=60), "paid_date": pd.NaT,
        "credit_note_amount": 0.0, "disputed_amount": 0.0,
    })


def main(n: int) -> None:
    df = make_invoices(n)
    arr = pa.array(df["invoice_id"].array)
    values = df["invoice_id"].tolist()
    t_arrow = _best(lambda: pc.match_substring_regex(arr, ID_PATTERN))
    t_python = _best(lambda: [is_identifier(v) for v in values], repeat=1)
    t_with = _best(lambda: table.validate_table(df, INVOICES))
    real = table._check_ids
    table._check_ids = lambda *a: None  # type: ignore[assignment]
    try:
        t_without = _best(lambda: table.validate_table(df, INVOICES))
    finally:
        table._check_ids = real
    print(f"{n:,} distinct ids")
    print(f"  Arrow regex kernel        {t_arrow * 1e3:8.1f} ms  ({n / t_arrow / 1e6:.1f} M ids/s)")
    print(f"  Python re (fullmatch)     {t_python * 1e3:8.1f} ms  ({n / t_python / 1e6:.1f} M ids/s)")
    print(f"validate_table(invoices), {n:,} rows")
    print(f"  with the id check         {t_with * 1e3:8.1f} ms")
    print(f"  without                   {t_without * 1e3:8.1f} ms  "
          f"(check: +{(t_with - t_without) * 1e3:.1f} ms)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
