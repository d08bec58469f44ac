"""The batch path's latest financials, past-due sums and revenue alignment: the
shortcuts (sorted runs, the compiled past-due pass, an Arrow lookup of revenue)
against the general code on the same records, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskengine.features import adverse, latest_revenue
from riskengine.scoring.financials import (
    BASES,
    LATEST_ROWS,
    _objects_at,
    financial_inputs,
    latest_financials,
    past_due,
)
from riskengine.synthetic import generate_portfolio

AS_OF = "2026-06-30"


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    frames = generate_portfolio(2500, seed=5, as_of=AS_OF)
    assert len(frames["statements"]) >= 4096  # the sorted-runs shortcut applies
    return frames


def _ids(frames: dict[str, pd.DataFrame]) -> pd.Index:
    return pd.Index(frames["debtors"]["debtor_id"].astype("str"), name="debtor_id").sort_values()


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        if v.dtype == np.float64:
            assert np.array_equal(v.view(np.uint64), b[k].view(np.uint64)), k
        else:
            assert v.tolist() == b[k].tolist(), k


def _shuffled(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    return frame.sample(frac=1.0, random_state=seed)


def test_latest_financials_of_sorted_runs_equal_the_sorted_lookup(frames) -> None:
    st, ids = frames["statements"], _ids(frames)
    fast = latest_financials(st, AS_OF, ids)
    assert (~np.isnan(fast["latest"][5])).sum() > 1000  # debtors with a statement
    _same(fast, latest_financials(_shuffled(st), AS_OF, ids))
    # an earlier as_of leaves out later statements the same way
    _same(latest_financials(st, "2024-03-31", ids),
          latest_financials(_shuffled(st, 1), "2024-03-31", ids))


def test_latest_financials_with_a_debtor_outside_ids_take_the_general_path(frames) -> None:
    st, ids = frames["statements"], _ids(frames)
    known = ids[ids != st["debtor_id"].iloc[-1]]  # the last statements' debtor is unknown
    out = latest_financials(st, AS_OF, known)
    _same(out, latest_financials(_shuffled(st), AS_OF, known))


def test_financial_inputs_golden() -> None:
    """One debtor per rule of the rating basis (module docstring of
    riskengine.scoring.financials; max age 540 days) and the equity identity."""
    nan = np.nan
    cols = {  # equity, TA, TL, revenue, net income, age, tax return
        "statements": (nan, 100.0, 60.0, 500.0, 5.0, 540.0, 0.0),
        "tax_return": (nan, nan, nan, 80.0, nan, 10.0, 1.0),
        "stale": (30.0, 100.0, 60.0, 500.0, 5.0, 541.0, 0.0),
        "no_assets": (0.0, 0.0, 0.0, 500.0, 5.0, 10.0, 0.0),
        "no_revenue": (40.0, 100.0, 60.0, nan, 5.0, 10.0, 0.0),
        "no_statement": (nan,) * len(LATEST_ROWS),
    }
    money, basis = financial_inputs(np.array(list(cols.values())).T.copy(), 540)
    assert [BASES[b] for b in basis] == ["statements", "tax_return", "no_financials",
                                         "no_financials", "no_financials", "no_financials"]
    assert money[0, 0] == 40.0 and money[0, 2] == 30.0  # TA - TL, else equity as reported
    assert np.isnan(money[0, 1]) and np.isnan(money[:, 5]).all()
    assert money[1:, 0].tolist() == [500.0, 5.0]  # revenue, net income


def test_financial_inputs_of_one_debtor_alone_equal_its_column_in_the_book(frames) -> None:
    """The same function with 1 and with n debtors (the single path calls it with one)."""
    st = frames["statements"].copy()
    rng = np.random.default_rng(2)
    st.loc[rng.random(len(st)) < 0.2, "equity"] = np.nan  # the identity fallback
    st.loc[rng.random(len(st)) < 0.1, "statement_type"] = "tax_return"
    latest = latest_financials(st, AS_OF, _ids(frames))["latest"]
    money, basis = financial_inputs(latest, 540)
    assert len(set(basis.tolist())) == 3
    for j in range(latest.shape[1]):
        m1, b1 = financial_inputs(latest[:, [j]], 540)
        assert np.array_equal(m1.view(np.uint64), money[:, [j]].view(np.uint64))
        assert b1[0] == basis[j]


def test_objects_at_equals_pandas_with_and_without_missing_text(frames) -> None:
    cur = frames["statements"]["currency"].astype("str")
    rows = np.arange(0, len(cur), 3)
    assert _objects_at(cur, rows).tolist() == cur.iloc[rows].astype(object).tolist()
    holed = cur.where(np.arange(len(cur)) % 7 != 0)
    got = _objects_at(holed, rows)
    want = holed.iloc[rows].astype(object).to_numpy()
    assert [x if isinstance(x, str) else "nan" for x in got] == \
        [x if isinstance(x, str) else "nan" for x in want]


def _past_due_numpy(invoices: pd.DataFrame, day: str, days_past_due: int, ids: pd.Index
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The definition with numpy: day numbers, masks and one bincount per sum."""
    t = int(np.datetime64(day, "D").astype(np.int64))

    def d(name: str) -> np.ndarray:
        a = invoices[name].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        return np.where(np.isnat(a), np.iinfo(np.int64).max, a.astype(np.int64))

    issue, due, paid = d("issue_date"), d("due_date"), d("paid_date")
    amount = invoices["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    codes = ids.get_indexer(invoices["debtor_id"].astype(object))
    open_ = (issue <= t) & (paid > t) & (codes >= 0)
    late = open_ & (t - due > days_past_due)
    c = np.where(codes >= 0, codes, 0)
    n = len(ids)
    return (np.bincount(c, weights=np.where(late, amount, 0.0), minlength=n),
            np.bincount(c, weights=np.where(open_, amount, 0.0), minlength=n))


def test_past_due_equals_the_numpy_definition(frames) -> None:
    inv = frames["invoices"].copy()
    rng = np.random.default_rng(3)
    k = len(inv)
    # missing payment and due dates, dates before 1970 and times within a day
    inv.loc[rng.random(k) < 0.05, "paid_date"] = pd.NaT
    inv.loc[rng.random(k) < 0.02, "due_date"] = pd.NaT
    early = rng.random(k) < 0.02
    inv.loc[early, "issue_date"] = pd.Timestamp("1969-12-31 18:00")
    inv.loc[early, "due_date"] = pd.Timestamp("1969-12-31 23:00")
    inv.loc[rng.random(k) < 0.01, "amount"] = np.nan
    ids = _ids(frames)
    ids = ids[np.arange(len(ids)) % 5 != 0]  # some invoices of unknown debtors
    for days in (0, 30, 90):
        got = past_due(inv, AS_OF, days, ids)
        want = _past_due_numpy(inv, AS_OF, days, ids)
        assert (got[0] > 0).sum() > 10
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g.view(np.uint64), w.view(np.uint64))


def test_revenue_alignment_by_arrow_equals_pandas_reindex(frames) -> None:
    rev = latest_revenue(frames["statements"], AS_OF)
    recs = frames["adverse_records"]
    fast = adverse.adverse_features(recs, AS_OF, revenue=rev)
    as_objects = rev.set_axis(pd.Index(rev.index.astype(object), dtype=object))
    unsorted = as_objects.iloc[::-1]
    for other in (as_objects, unsorted):
        slow = adverse.adverse_features(recs, AS_OF, revenue=other)
        assert np.array_equal(fast.to_numpy().view(np.uint64), slow.to_numpy().view(np.uint64))
    assert fast["adv_amount_to_revenue"].notna().sum() > 10
    with pytest.raises(ValueError, match="duplicates"):
        adverse.adverse_features(recs, AS_OF, revenue=pd.concat([rev, rev.iloc[:1]]))


def test_past_due_converts_each_invoice_at_its_rate(frames) -> None:
    """With the rates of the decision date each amount counts times its currency's rate
    (the numpy definition on converted amounts, bit for bit); the reporting currency's
    amounts are unchanged (rate 1)."""
    from riskengine.features.fx import FxRates

    inv = frames["invoices"].copy()
    rng = np.random.default_rng(5)
    inv["currency"] = np.where(rng.random(len(inv)) < 0.4, "GBP", "EUR")
    rates = FxRates.from_rows([("2026-01-01", "GBP", 1.25)], "EUR").at(AS_OF)
    ids = _ids(frames)
    got = past_due(inv, AS_OF, 30, ids, rates)
    conv = inv.assign(amount=inv["amount"] * np.where(inv["currency"] == "GBP", 1.25, 1.0))
    want = _past_due_numpy(conv, AS_OF, 30, ids)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g.view(np.uint64), w.view(np.uint64))
    assert not np.array_equal(got[1], past_due(inv, AS_OF, 30, ids)[1])
