"""SYNTHETIC insurer limits for a generated book (issue 16): the tests' and benchmarks'
``insurer_limits`` table. A generated portfolio holds no insurer data (its
``insurer_limits`` is empty); this adds a seeded one, separate from
:func:`riskengine.synthetic.generate_portfolio` so that the generator's books do not
change.

About ``share`` of the debtors get limits under one insurance policy: a debtor whose
pairs are all in one currency mostly one limit for all of them (``supplier_id``
missing), the others one per pair. Statuses: granted 45 %, partial 20 %, pending 10 %,
refused 5 %, reduced 12 % (a third of them still within the 30-day notice),
cancelled 8 %; granted amounts 30-120 % of the pair's (or the debtor's) approved
limit; cover 70-90 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts.dates import as_of_day
from riskengine.synthetic.frames import contract_dtypes

__all__ = ["synthetic_insurer_limits"]

_STATUSES = np.array(["granted", "partial", "pending", "refused", "reduced", "cancelled"])
_WEIGHTS = np.array([0.45, 0.20, 0.10, 0.05, 0.12, 0.08])
_COVER = np.array([0.70, 0.75, 0.85, 0.90])


def synthetic_insurer_limits(frames: Mapping[str, pd.DataFrame], seed: int, *,
                             as_of: Any = "2026-06-30", share: float = 0.3,
                             insurer_id: str = "INS-DEMO", policy_id: str = "CI-DEMO-1"
                             ) -> pd.DataFrame:
    """A seeded ``insurer_limits`` table for the book ``frames`` (module docstring).

    Returns
    -------
    pandas.DataFrame
        The contract's columns and dtypes, sorted by debtor id.

    Examples
    --------
    >>> from riskengine.synthetic import generate_portfolio
    >>> lim = synthetic_insurer_limits(generate_portfolio(200, seed=1), seed=1)
    >>> sorted(set(lim["status"])) == sorted(_STATUSES)
    True
    """
    rng = np.random.default_rng(seed)
    day = np.datetime64(as_of_day(as_of), "D")
    ex = frames["exposures"]
    did = ex["debtor_id"].astype(str).to_numpy()
    codes, debtors = pd.factorize(did)
    chosen = rng.random(len(debtors)) < share
    one_cur = ex.groupby(codes)["currency"].nunique().to_numpy() == 1
    whole = chosen & one_cur & (rng.random(len(debtors)) < 0.6)  # one limit for the debtor
    limit = ex["approved_limit"].to_numpy(dtype=np.float64, na_value=0.0)
    asked = ex["requested_limit"].to_numpy(dtype=np.float64, na_value=np.nan)
    asked = np.where(np.isnan(asked), limit, asked)
    # debtor-level rows: the first pair of each debtor stands for it
    first = np.zeros(len(debtors), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    deb_sum = np.bincount(codes, asked, minlength=len(debtors))
    pair_rows = np.flatnonzero(chosen[codes] & ~whole[codes])
    deb_rows = first[np.flatnonzero(whole)]
    at = np.concatenate([deb_rows, pair_rows])
    n = at.size
    base = np.concatenate([deb_sum[whole], asked[pair_rows]])
    status = rng.choice(_STATUSES, size=n, p=_WEIGHTS)
    granted = np.round(base * rng.uniform(0.3, 1.2, n), -3)
    granted = np.where(status == "granted", np.round(base * rng.uniform(0.9, 1.2, n), -3),
                       granted)
    previous = np.where(np.isin(status, ["reduced", "cancelled"]),
                        np.maximum(granted, np.round(base * rng.uniform(0.8, 1.5, n), -3)),
                        np.nan)
    granted = np.where(np.isin(status, ["pending", "refused"]), np.nan, granted)
    granted = np.where(status == "reduced", np.round(previous * rng.uniform(0.2, 0.7, n), -3),
                       granted)
    granted = np.where(status == "cancelled", 0.0, granted)
    age = rng.integers(1, 300, n).astype("timedelta64[D]")
    recent = rng.integers(1, 60, n).astype("timedelta64[D]")  # cuts: within the notice or not
    decided = np.where(np.isin(status, ["reduced", "cancelled"]), day - recent, day - age)
    decided = np.where(status == "pending", np.datetime64("NaT", "D"), decided)
    supplier = ex["supplier_id"].astype(str).to_numpy(dtype=object)[at]
    supplier[:deb_rows.size] = None  # the debtor-level rows
    out = pd.DataFrame({
        "insurer_id": insurer_id, "policy_id": policy_id,
        "debtor_id": did[at],
        "supplier_id": supplier,
        "currency": ex["currency"].astype(str).to_numpy()[at],
        "requested_amount": base, "granted_amount": granted,
        "cover_pct": rng.choice(_COVER, size=n), "status": status,
        "decision_date": decided.astype("datetime64[ns]"),
        "effective_date": np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"),
        "previous_granted_amount": previous,
    })
    dtypes = contract_dtypes("insurer_limits")
    out = out.astype({c: d for c, d in dtypes.items() if c != "supplier_id"})
    out["supplier_id"] = out["supplier_id"].astype("str").where(out["supplier_id"].notna(), None)
    return out.sort_values(["debtor_id", "supplier_id"], na_position="first",
                           kind="stable").reset_index(drop=True)[list(dtypes)]
