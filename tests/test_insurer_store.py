"""The store's insurer-limit states written by a whole book at once (issue 16): a rerate
records every state that is new, compared with the latest held state of its key, by
plain driver reads and one executemany (the service's few debtors are read by index)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskengine.store import DecisionStore


def _book(n: int) -> pd.DataFrame:
    """``n`` debtor-level insurer limits and one pair-level limit per tenth debtor."""
    debtors = [f"D{i:06d}" for i in range(n)]
    pair = debtors[::10]
    return pd.DataFrame({
        "insurer_id": "INS00", "policy_id": "INS00-WT1",
        "debtor_id": debtors + pair,
        "supplier_id": [None] * n + [f"S{i:04d}" for i in range(len(pair))],
        "currency": "EUR", "requested_amount": 50_000.0,
        "granted_amount": np.r_[np.full(n, 40_000.0), np.full(len(pair), 10_000.0)],
        "cover_pct": 0.9, "status": "partial",
        "decision_date": pd.Timestamp("2026-05-01"), "effective_date": pd.NaT,
        "previous_granted_amount": np.nan})


def test_a_book_records_only_new_states(store_url: str) -> None:
    """6,000 debtors (past the indexed-read limit of 5,000): every state is new once,
    none the second time; a changed granted amount, and a new key, are the only states
    recorded the third time, and the held state is the newest."""
    book = _book(6_000)
    with DecisionStore(store_url) as store:
        assert store.record_insurer_limits(book, source="rerate:a") == len(book)
        assert store.record_insurer_limits(book, source="rerate:b") == 0
        changed = book.copy()
        changed.loc[3, ["status", "granted_amount"]] = ["reduced", 20_000.0]
        changed.loc[3, "previous_granted_amount"] = 40_000.0
        extra = book.iloc[[0]].assign(insurer_id="INS01", policy_id="INS01-WT1")
        assert store.record_insurer_limits(pd.concat([changed, extra]),
                                           source="rerate:c") == 2
        held = store.insurer_limits_of(["D000003"])
        row = held[held["supplier_id"].isna()].iloc[0]
        assert (row["status"], row["granted_amount"], row["previous_granted_amount"]) == \
            ("reduced", 20_000.0, 40_000.0)
        assert len(store.insurer_limit_history("D000003")) == 2
