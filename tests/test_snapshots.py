"""Snapshots of a book at past dates: the dates, the labels and the point-in-time reading
(riskengine.modeldev.snapshots, riskengine.scoring.debtor_inputs.inputs_at)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskengine.api import load_engine
from riskengine.errors import InvalidInputError
from riskengine.modeldev.snapshots import book_snapshots, labels_at, snapshot_dates
from riskengine.scoring.debtor_inputs import inputs_at
from riskengine.synthetic import generate_portfolio
from riskengine.validation import validate_portfolio

T = "2023-12-31"


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


@pytest.fixture(scope="module")
def clean() -> dict[str, pd.DataFrame]:
    vp = validate_portfolio(generate_portfolio(400, 3, "2024-06-30"), reference_date="2024-06-30")
    return dict(vp.frames)


def test_dates_are_year_ends_whose_year_the_book_covers() -> None:
    """Hand check: first invoice 2021-07-01, as_of 2026-06-30: 2025-12-31 + 12 months is
    after the as_of, 2020-12-31 before the first invoice."""
    assert snapshot_dates("2021-07-01", "2026-06-30") == (
        ["2021-12-31", "2022-12-31", "2023-12-31"], "2024-12-31")
    # a year-end whose 12 months end exactly on the as_of is in
    assert snapshot_dates("2021-12-31", "2023-12-31") == (["2021-12-31"], "2022-12-31")
    train, oot = snapshot_dates("2021-07-01", "2024-06-30", "quarterly")
    assert oot == "2022-12-31"
    assert train == ["2021-09-30", "2021-12-31"]  # windows end by the held-out date


def test_one_year_end_is_not_enough() -> None:
    with pytest.raises(InvalidInputError, match="1 year-end.*at least two"):
        snapshot_dates("2024-07-01", "2026-06-30")
    with pytest.raises(InvalidInputError, match="frequency 'monthly'"):
        snapshot_dates("2020-01-01", "2026-06-30", "monthly")


def test_labels_window_is_after_t_up_to_twelve_months() -> None:
    """Hand cases at t = 2023-12-31: a default on t is already defaulted; on 2024-12-31
    (t + 12 months) is a 1; on 2025-01-01 a 0; a debtor's first default counts."""
    o = pd.DataFrame({"debtor_id": ["on_t", "end", "after", "twice", "twice"],
                      "default_date": pd.to_datetime(["2023-12-31", "2024-12-31",
                                                      "2025-01-01", "2022-05-01",
                                                      "2024-02-01"])})
    lab, gone = labels_at(["on_t", "end", "after", "twice", "none"], o, T)
    assert lab.tolist() == [0, 1, 0, 0, 0]
    assert gone.tolist() == [True, False, False, True, False]
    lab, gone = labels_at(["x"], o.iloc[0:0], T)
    assert lab.tolist() == [0] and gone.tolist() == [False]


def _as_at(frames: dict[str, pd.DataFrame], t: str) -> dict[str, pd.DataFrame]:
    """The book as it stood at ``t``: later records removed, later settlements and
    payments undone (open at t)."""
    day = pd.Timestamp(t)
    out = dict(frames)
    st = frames["statements"]
    out["statements"] = st[st["period_end"] <= day].reset_index(drop=True)
    adv = frames["adverse_records"]
    adv = adv[adv["event_date"] <= day].copy()
    later = adv["settlement_date"] > day
    adv.loc[later, "status"] = "open"
    adv.loc[later, "settlement_date"] = pd.NaT
    out["adverse_records"] = adv.reset_index(drop=True)
    inv = frames["invoices"]
    inv = inv[inv["issue_date"] <= day].copy()
    inv.loc[inv["paid_date"] > day, "paid_date"] = pd.NaT
    out["invoices"] = inv.reset_index(drop=True)
    return out


def test_snapshot_reads_only_what_was_known_at_t(engine: Any,
                                                 clean: dict[str, pd.DataFrame]) -> None:
    """The inputs at t of the whole book equal the inputs at t of the book as it stood at
    t (later statements, adverse events, settlements, invoices and payments removed)."""
    full = inputs_at(engine, clean, T)
    past = inputs_at(engine, _as_at(clean, T), T)
    # the truncation changes the book (else the test proves nothing)
    assert len(_as_at(clean, T)["invoices"]) < len(clean["invoices"])
    assert (_as_at(clean, T)["invoices"]["paid_date"].isna().sum()
            > clean["invoices"].loc[clean["invoices"]["issue_date"] <= T, "paid_date"]
            .isna().sum())
    np.testing.assert_array_equal(full.debtor_id, past.debtor_id)
    np.testing.assert_array_equal(full.basis, past.basis)
    np.testing.assert_allclose(full.st_X, past.st_X, equal_nan=True)
    np.testing.assert_allclose(full.overlay_X, past.overlay_X, equal_nan=True)
    np.testing.assert_array_equal(full.insolvency | full.past_due_default,
                                  past.insolvency | past.past_due_default)
    # and the book today is read differently (the snapshot is not today's view)
    today = inputs_at(engine, clean, "2024-06-30")
    assert not np.allclose(np.nan_to_num(today.overlay_X), np.nan_to_num(full.overlay_X))


def test_snapshot_leaves_out_defaulted_and_unborn_debtors(engine: Any,
                                                          clean: dict[str, pd.DataFrame]
                                                          ) -> None:
    ids = np.sort(clean["debtors"]["debtor_id"].astype(str).to_numpy())
    outcomes = pd.DataFrame({"debtor_id": [ids[0], ids[1]],
                             "default_date": pd.to_datetime(["2023-06-01", "2024-03-01"])})
    frames = dict(clean)
    deb = clean["debtors"].copy()
    deb.loc[deb["debtor_id"] == ids[2], "incorporation_date"] = pd.Timestamp("2024-01-15")
    frames["debtors"] = deb
    (snap,) = book_snapshots(engine, frames, outcomes, [T])
    kept = snap.inputs.debtor_id.astype(str)
    assert ids[0] not in kept and ids[2] not in kept
    assert snap.label[kept.tolist().index(ids[1])] == 1
    assert snap.n_events == 1
    assert snap.excluded["defaulted"] == 1 and snap.excluded["not_incorporated"] == 1
    assert not (snap.inputs.insolvency | snap.inputs.past_due_default).any()
    assert len(kept) + sum(snap.excluded.values()) == len(ids)
