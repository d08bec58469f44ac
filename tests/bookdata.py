"""A small SYNTHETIC book with outcomes, for the tests of ``train --portfolio``.

Today's generator writes 12 months of invoices before its as-of. The book here is
generated at 2024-06-30 (statements, adverse records and invoices up to then) and
extracted at 2026-06-30, with outcomes drawn from the generator's latent 12-month PD
(:func:`riskengine.synthetic.latent_pd`): each debtor alive defaults in 2024, then in
2025, with probability ``scale x latent_pd``, on a uniform day of the year. Its
eligible year-ends (snapshots.snapshot_dates, first invoice 2023-07) are 2023-12-31
(training) and 2024-12-31 (held out).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskengine.io.portfolio import write_portfolio
from riskengine.synthetic import generate_portfolio, latent_pd, synthetic_manifest

GENERATED_AT = "2024-06-30"
BOOK_AS_OF = "2026-06-30"


def draw_outcomes(ids: np.ndarray, pd_: np.ndarray, seed: int, scale: float = 1.0
                  ) -> pd.DataFrame:
    """One default at most per debtor, in 2024 or 2025 (see the module notes)."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    p = np.clip(pd_ * scale, 0.0, 0.9)
    alive = np.ones(n, dtype=bool)
    parts = []
    for year in (2024, 2025):
        hit = alive & (rng.random(n) < p)
        day = np.datetime64(f"{year}-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]")
        parts.append(pd.DataFrame({"debtor_id": ids[hit], "default_date": day[hit]}))
        alive &= ~hit
    out = pd.concat(parts, ignore_index=True)
    out["default_date"] = out["default_date"].astype("datetime64[ns]")
    out["default_type"] = "past_due_90"
    return out


def make_book(path: Path, n: int, seed: int, *, scale: float = 1.0,
              outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Write the book to ``path``; return its outcomes."""
    frames = generate_portfolio(n, seed, GENERATED_AT)
    ids = np.sort(frames["debtors"]["debtor_id"].astype(str).to_numpy())
    if outcomes is None:
        outcomes = draw_outcomes(ids, latent_pd(n, seed), seed + 1, scale)
    frames["outcomes"] = outcomes
    write_portfolio(frames, path, manifest=synthetic_manifest(n, seed, BOOK_AS_OF))
    return outcomes
