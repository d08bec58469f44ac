"""Migration matrix, limit actions against the previous run, reconciliation, run figures.

Golden values are hand calculations on hand-built two-run cases (written out in
each docstring); the notice period is the shipped policy's ``limits.notice_days``
= 30 days (riskengine/config/policy.toml; Atradius / FCI GRIF art. 18).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.batch.migration import (
    EXIT,
    FROM_STATES,
    LIMIT_ACTION_COLUMNS,
    NEW,
    TO_STATES,
    debtor_ratings,
    limit_actions,
    migration_matrix,
    reconcile,
    run_summary,
)
from riskengine.config import load_policy
from riskengine.model.master_scale import GRADES

AS_OF = "2026-06-30"
POLICY = load_policy()


def _run(rows: list[tuple[str, str, str, float, float]], **extra: list) -> pd.DataFrame:
    """Decisions frame from (debtor, supplier, grade, pd, approved_limit) rows."""
    d, s, g, p, lim = zip(*rows, strict=True)
    return pd.DataFrame({"debtor_id": d, "supplier_id": s, "grade": g, "pd": p,
                         "approved_limit": lim, **extra})


def test_matrix_hand_built_counts_and_rates() -> None:
    """Previous: a=3, b=3, c=3, d=5, e=D. Current: a=3, b=4, c=6, d=NR, f=1 (e left the book).

    Row 3 holds 3 debtors: 1 stays (rate 1/3), 1 to grade 4, 1 to grade 6.
    d is in the run but unrated (NR); e exits; f is new.
    """
    prev = pd.Series({"a": "3", "b": "3", "c": "3", "d": "5", "e": "D"})
    cur = pd.Series({"a": "3", "b": "4", "c": "6", "d": None, "f": "1"})
    m = migration_matrix(prev, cur)
    assert list(m.counts.index) == list(FROM_STATES)
    assert list(m.counts.columns) == list(TO_STATES)
    assert m.counts.loc["3", "3"] == 1 and m.counts.loc["3", "4"] == 1
    assert m.counts.loc["3", "6"] == 1
    assert m.rates.loc["3", "3"] == pytest.approx(1 / 3)
    assert m.counts.loc["5", "NR"] == 1
    assert m.counts.loc["D", EXIT] == 1
    assert m.counts.loc[NEW, "1"] == 1
    assert int(m.counts.to_numpy().sum()) == 6
    assert np.isnan(m.rates.loc["7"]).all()  # empty row: no rate
    f = m.figures()
    assert f == {"debtors_compared": 6, "unchanged": 1, "upgrades": 0, "downgrades": 2,
                 "downgrades_2plus": 1, "new_defaults": 0, "new": 1, "exits": 1,
                 "newly_unrated": 1}
    long = m.to_long()
    assert len(long) == len(FROM_STATES) * len(TO_STATES)
    assert long.loc[(long.from_grade == "3") & (long.to_grade == "6"), "count"].item() == 1


def test_matrix_scope_compares_only_rerated_debtors() -> None:
    """A partial run re-rates b only: a keeps its rating and is neither compared nor an exit."""
    prev = pd.Series({"a": "3", "b": "3"})
    m = migration_matrix(prev, pd.Series({"b": "D"}), scope=["b"])
    assert int(m.counts.to_numpy().sum()) == 1
    assert m.counts.loc["3", "D"] == 1 and m.counts[EXIT].sum() == 0
    assert m.figures()["new_defaults"] == 1


def test_matrix_rejects_unknown_grade_and_duplicates() -> None:
    with pytest.raises(ValueError, match="debtor 'a' has grade 'AAA'"):
        migration_matrix(pd.Series({"a": "AAA"}), pd.Series({"a": "3"}))
    dup = pd.Series(["3", "4"], index=["a", "a"])
    with pytest.raises(ValueError, match="debtor 'a' appears more than once"):
        migration_matrix(dup, pd.Series({"a": "3"}))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(GRADES), st.sampled_from(GRADES)), min_size=1,
                max_size=40))
def test_matrix_rows_sum_to_one_and_counts_to_debtors(pairs: list[tuple[str, str]]) -> None:
    ids = [f"d{i}" for i in range(len(pairs))]
    prev = pd.Series([p for p, _ in pairs], index=ids)
    cur = pd.Series([c for _, c in pairs], index=ids)
    m = migration_matrix(prev, cur)
    assert int(m.counts.to_numpy().sum()) == len(pairs)
    sums = m.rates.sum(axis=1, min_count=1).dropna()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    f = m.figures()
    assert f["upgrades"] + f["downgrades"] + f["unchanged"] == len(pairs)


def test_limit_actions_two_run_case() -> None:
    """Two runs, as of 2026-06-30, notice 30 days (policy.toml limits.notice_days):

    - a/S1 50,000 -> 80,000: increase, effective at once (2026-06-30);
    - a/S2 40,000 -> 40,000: unchanged, not listed;
    - b/S1 50,000 -> 20,000: decrease on notice, effective 2026-07-30; the 30,000
      approved outstanding stays protected, nothing available after;
    - c/S1 30,000 -> 0 with a bounced-cheque knock-out: cancel, effective at once;
    - d/S1 10,000, no pair now but d decided (pair withdrawn): cancel on notice;
    - e/S1 new pair 5,000: increase from 0;
    - f/S1 15,000, f errored now: no action (bad input is not a credit event).
    """
    prev = _run([("a", "S1", "4", 0.01, 50_000.0), ("a", "S2", "4", 0.01, 40_000.0),
                 ("b", "S1", "5", 0.02, 50_000.0), ("c", "S1", "5", 0.02, 30_000.0),
                 ("d", "S1", "3", 0.005, 10_000.0), ("f", "S1", "6", 0.03, 15_000.0)])
    cur = _run([("a", "S1", "3", 0.005, 80_000.0), ("a", "S2", "3", 0.005, 40_000.0),
                ("b", "S1", "7", 0.06, 20_000.0), ("c", "S1", "D", 1.0, 0.0),
                ("d", "S3", "3", 0.005, 12_000.0), ("e", "S1", "6", 0.03, 5_000.0)],
               knockouts=[(), (), (), ("adverse_record",), (), ()],
               approved_outstanding=[10_000.0, 0.0, 30_000.0, 8_000.0, 0.0, 0.0])
    out = limit_actions(prev, cur, AS_OF, POLICY, errored=["f"])
    assert list(out.columns) == list(LIMIT_ACTION_COLUMNS)
    got = {(r.debtor_id, r.supplier_id): r for r in out.itertuples()}
    assert set(got) == {("a", "S1"), ("b", "S1"), ("c", "S1"), ("d", "S1"), ("d", "S3"),
                        ("e", "S1")}
    day = pd.Timestamp(AS_OF)
    notice = day + pd.Timedelta(days=30)
    a = got[("a", "S1")]
    assert (a.action, a.cause, a.effective_date) == ("increase", "rerated", day)
    b = got[("b", "S1")]
    assert (b.action, b.effective_date, b.knockout) == ("decrease", notice, False)
    assert (b.protected_outstanding, b.available_after) == (30_000.0, 0.0)
    c = got[("c", "S1")]
    assert (c.action, c.effective_date, c.knockout) == ("cancel", day, True)
    d = got[("d", "S1")]
    assert (d.action, d.cause, d.new_limit, d.effective_date) == (
        "cancel", "pair_withdrawn", 0.0, notice)
    e = got[("e", "S1")]
    assert (e.action, e.cause, e.previous_limit, e.new_limit) == ("increase", "new_pair",
                                                                  0.0, 5_000.0)
    with_unchanged = limit_actions(prev, cur, AS_OF, POLICY, errored=["f"],
                                   include_unchanged=True)
    assert with_unchanged.set_index(["debtor_id", "supplier_id"]).loc[
        ("a", "S2"), "action"] == "unchanged"


def test_limit_actions_partial_run_and_reason_text() -> None:
    """Scope b only: a's previous pair is not withdrawn; knock-outs also read from text."""
    prev = _run([("a", "S1", "4", 0.01, 50_000.0), ("b", "S1", "4", 0.01, 50_000.0)])
    cur = _run([("b", "S1", "D", 1.0, 0.0)], reasons=["insolvency,grade_default"])
    out = limit_actions(prev, cur, AS_OF, POLICY, scope=["b"])
    assert out[["debtor_id", "action", "knockout"]].values.tolist() == [["b", "cancel", True]]
    assert out["effective_date"].iloc[0] == pd.Timestamp(AS_OF)


def test_limit_actions_rejects_duplicate_pairs() -> None:
    prev = _run([("a", "S1", "4", 0.01, 1.0), ("a", "S1", "4", 0.01, 2.0)])
    with pytest.raises(ValueError, match=r"pair \('a', 'S1'\) appears more than once"):
        limit_actions(prev, prev.iloc[:1], AS_OF, POLICY)


def test_debtor_ratings_prefer_rating_rows() -> None:
    d = pd.DataFrame({"debtor_id": ["a", "a", "b"], "supplier_id": ["S", None, "S"],
                      "grade": ["3", "3", None], "pd": [0.004, 0.004, np.nan]})
    r = debtor_ratings(d)
    assert r.index.tolist() == ["a", "b"]
    assert r.loc["a", "grade"] == "3" and pd.isna(r.loc["b", "grade"])


def test_reconcile_cases() -> None:
    ok = reconcile(["a", "b", "c"], ["a", "b"], ["c", "b", "zz"])  # zz: record of unknown debtor
    assert ok.ok and (ok.decided, ok.errored, ok.partial) == (2, 1, 1)
    lost = reconcile(["a", "b", "c"], ["a"], ["b"])
    assert not lost.ok and lost.missing == ("c",)
    assert "1 neither decided nor errored (e.g. c)" in lost.message()
    extra = reconcile(["a"], ["a", "q"], [])
    assert not extra.ok and extra.unexpected == ("q",)


def test_run_summary_figures() -> None:
    """Totals by hand: limits 30,000 + 10,000 = 40,000; cover 27,000 + 0; retained
    3,000 + 10,000 = 13,000; expected loss 13.5 + 135 = 148.5.

    HHI by name of limits a 30,000, b 10,000: 0.75^2 + 0.25^2 = 0.625. PSI of a run
    against itself is 0 (green); against a run whose PDs are all 20x larger it is red.
    """
    cur = _run([("a", "S", "4", 0.01, 30_000.0), ("b", "S", "6", 0.03, 10_000.0)],
               insured_limit=[27_000.0, 0.0], retained_exposure=[3_000.0, 10_000.0],
               expected_loss=[13.5, 135.0], decision_type=["full", "partial"])
    errors = pd.DataFrame({"debtor_id": ["c"], "reason": ["negative"]})
    rec = reconcile(["a", "b", "c"], ["a", "b"], ["c"])
    s = run_summary(cur, errors, rec, previous=cur,
                    book=pd.DataFrame({"debtor_id": ["a", "b"], "group_id": ["G", "G"],
                                       "sector": ["G", "C"], "country": ["GR", "GR"]}))
    assert (s["debtors_in"], s["debtors_decided"], s["debtors_errored"]) == (3, 2, 1)
    assert s["reconciled"] is True
    assert s["totals"] == {"approved_limit": 40_000.0, "cover": 27_000.0,
                           "retained_exposure": 13_000.0, "expected_loss": 148.5}
    assert s["hhi"]["name"] == pytest.approx(0.625)
    assert s["hhi"]["group"] == pytest.approx(1.0)
    assert s["grade_distribution"]["4"] == 1 and s["grade_distribution"]["NR"] == 0
    assert s["psi"]["value"] == pytest.approx(0.0) and s["psi"]["light"] == "green"
    assert s["decision_types"] == {"full": 1, "partial": 1}
    assert s["error_reasons"] == {"negative": 1}
    rng = np.random.default_rng(0)
    ids = [f"d{i}" for i in range(200)]
    p0 = rng.uniform(0.001, 0.02, 200)
    base = pd.DataFrame({"debtor_id": ids, "supplier_id": "S", "grade": "5", "pd": p0,
                         "approved_limit": 1.0})
    shifted = base.assign(pd=np.minimum(p0 * 20, 0.9))
    s2 = run_summary(shifted, errors.iloc[:0], reconcile(ids, ids, []), previous=base)
    assert s2["psi"]["light"] == "red"
