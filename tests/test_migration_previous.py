"""The comparison with the previous run: limit_actions on Arrow text or Python-object
keys, sorted or shuffled rows, the rating-row layout of debtor_ratings and the id lookup
of migration_matrix give exactly what the general code (or a hand count) gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.batch import migration as mig
from riskengine.batch import read as batch_read
from riskengine.batch.migration import matrix
from riskengine.batch.options import RerateOptions
from riskengine.config import load_policy
from riskengine.model.master_scale import GRADES, UNRATED

AS_OF = "2026-06-30"
POLICY = load_policy()
_KEYS = ["debtor_id", "supplier_id"]


def _previous(rows: list[tuple[str, str | None, float | None]]) -> pd.DataFrame:
    """Previous decisions (Arrow text keys) from (debtor, supplier or None, limit) rows."""
    d, s, lim = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame({"debtor_id": pd.array(d, dtype="str"),
                         "supplier_id": pd.array(s, dtype="str"),
                         "grade": pd.array(["3"] * len(d), dtype="str"),
                         "pd": np.full(len(d), 0.004),
                         "approved_limit": np.array(lim, dtype=np.float64)})


def _current(keys: list[tuple[str, str]], rng: np.random.Generator) -> pd.DataFrame:
    n = len(keys)
    d, s = zip(*keys, strict=True) if keys else ((), ())
    return pd.DataFrame({
        "debtor_id": pd.array(d, dtype="str"), "supplier_id": pd.array(s, dtype="str"),
        "approved_limit": rng.choice([0.0, 10_000.0, 20_000.0, np.nan], n),
        "knockout": rng.random(n) < 0.3,
        "approved_outstanding": rng.choice([0.0, 5_000.0, np.nan], n),
    })


def _general(frame: pd.DataFrame) -> pd.DataFrame:
    """The same frame with Python-object keys: limit_actions then takes its general way."""
    return frame.astype({k: object for k in _KEYS})


def _case(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A previous run (a rating row before each debtor's pairs, as decisions.parquet
    lays them out) and a current one over overlapping debtors and suppliers, both in
    key order; ids of different lengths and non-ASCII text (code-point order)."""
    rng = np.random.default_rng(seed)
    debtors = sorted({f"d{rng.integers(0, 40)}" for _ in range(25)} | {"dé", "d", "e\u20ac"})
    suppliers = ["S1", "S10", "S2", "Sä", "T"]
    prev_rows: list[tuple[str, str | None, float | None]] = []
    cur_keys: list[tuple[str, str]] = []
    for debtor in debtors:
        if rng.random() < 0.8:
            prev_rows.append((debtor, None, None))  # its rating row
            for sup in sorted(rng.choice(suppliers, rng.integers(0, 4), replace=False)):
                prev_rows.append((debtor, str(sup), float(rng.choice([0, 10_000, 20_000]))))
        if rng.random() < 0.8:
            cur_keys += [(debtor, str(s)) for s in
                         sorted(rng.choice(suppliers, rng.integers(1, 4), replace=False))]
    return _previous(prev_rows), _current(cur_keys, rng)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.booleans(), st.booleans(), st.booleans())
def test_limit_actions_of_any_key_dtype_and_row_order_are_the_same(
        seed: int, scoped: bool, with_errors: bool, unchanged: bool) -> None:
    """Sorted Arrow keys (the batch job's pairs), Python-object keys and shuffled rows:
    the same frame, row for row, in key order."""
    prev, cur = _case(seed)
    ids = sorted(set(prev["debtor_id"]) | set(cur["debtor_id"]))
    scope = ids[::2] if scoped else None
    errored = ids[1::3] if with_errors else []
    kw = {"scope": scope, "errored": errored, "include_unchanged": unchanged}
    got = mig.limit_actions(prev, cur, AS_OF, POLICY, **kw)
    want = mig.limit_actions(_general(prev), _general(cur), AS_OF, POLICY, **kw)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    order = np.random.default_rng(seed).permutation(len(cur))
    shuffled = cur.iloc[order].reset_index(drop=True)
    pd.testing.assert_frame_equal(mig.limit_actions(prev, shuffled, AS_OF, POLICY, **kw), want,
                                  check_exact=True)
    assert list(got.columns) == list(mig.LIMIT_ACTION_COLUMNS)


def test_limit_actions_sorted_join_by_hand() -> None:
    """a/S1 50k -> 80k increase; a/S2 withdrawn (cancel on notice); b/S1 new pair; the
    rating rows (no supplier) are not pairs; 'ab' sorts after 'a' and before 'b'."""
    prev = _previous([("a", None, None), ("a", "S1", 50_000.0), ("a", "S2", 10_000.0),
                      ("ab", None, None), ("ab", "S1", 5_000.0)])
    cur = _current([("a", "S1"), ("ab", "S1"), ("b", "S1")], np.random.default_rng(0))
    cur["approved_limit"] = [80_000.0, 5_000.0, 7_000.0]
    cur["knockout"] = False
    out = mig.limit_actions(prev, cur, AS_OF, POLICY)
    assert out[[*_KEYS, "action", "cause"]].values.tolist() == [
        ["a", "S1", "increase", "rerated"], ["a", "S2", "cancel", "pair_withdrawn"],
        ["b", "S1", "increase", "new_pair"]]
    assert out["previous_limit"].tolist() == [50_000.0, 10_000.0, 0.0]
    assert out["effective_date"].tolist() == [pd.Timestamp(AS_OF), pd.Timestamp("2026-07-30"),
                                              pd.Timestamp(AS_OF)]
    assert str(out["debtor_id"].dtype) == "str" and str(out["action"].dtype) == "str"


@pytest.mark.parametrize("side", ["previous", "current"])
def test_limit_actions_refuses_duplicate_pairs_of_sorted_text(side: str) -> None:
    """A repeated pair is named."""
    prev = _previous([("a", None, None), ("a", "S1", 1.0), ("b", "S1", 2.0)])
    cur = _current([("a", "S1"), ("b", "S1")], np.random.default_rng(0))
    if side == "previous":
        prev = _previous([("a", None, None), ("a", "S1", 1.0), ("a", "S1", 2.0)])
    else:
        cur = pd.concat([cur, cur.iloc[1:]], ignore_index=True)
    pair = "'a', 'S1'" if side == "previous" else "'b', 'S1'"
    with pytest.raises(ValueError, match=rf"{side} decisions: pair \({pair}\) appears more"):
        mig.limit_actions(prev, cur, AS_OF, POLICY)


def test_limit_actions_missing_previous_columns_fail_as_before() -> None:
    prev = _previous([("a", "S1", 1.0)])
    cur = _current([("a", "S1")], np.random.default_rng(0))
    for col in ("approved_limit", "supplier_id"):
        with pytest.raises(KeyError, match=col):
            mig.limit_actions(prev.drop(columns=col), cur, AS_OF, POLICY)


def test_limit_actions_empty_previous_makes_every_pair_new() -> None:
    cur = _current([("a", "S1"), ("b", "S2")], np.random.default_rng(0))
    cur["approved_limit"] = [10.0, 0.0]
    for prev in (_previous([]), cur.iloc[:0]):
        out = mig.limit_actions(prev, cur, AS_OF, POLICY, include_unchanged=True)
        want = mig.limit_actions(_general(prev), _general(cur), AS_OF, POLICY,
                                 include_unchanged=True)
        pd.testing.assert_frame_equal(out, want, check_exact=True)
        assert out["cause"].tolist() == ["new_pair", "new_pair"]
        assert out["action"].tolist() == ["increase", "unchanged"]
    none = mig.limit_actions(cur.iloc[:0], cur.iloc[:0], AS_OF, POLICY)
    assert len(none) == 0 and list(none.columns) == list(mig.LIMIT_ACTION_COLUMNS)


def _layout(seed: int) -> pd.DataFrame:
    """decisions.parquet's layout: each debtor's rating row, then its pair rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(20):
        grade = str(rng.choice(GRADES))
        rows.append((f"d{i:02d}", None, grade, float(rng.random())))
        rows += [(f"d{i:02d}", f"S{j}", grade, float(rng.random()))
                 for j in range(rng.integers(0, 3))]
    d, s, g, p = zip(*rows, strict=True)
    return pd.DataFrame({"debtor_id": pd.array(d, dtype="str"),
                         "supplier_id": pd.array(s, dtype="str"),
                         "grade": pd.array(g, dtype="str"), "pd": p})


@pytest.mark.parametrize("seed", range(5))
def test_debtor_ratings_of_the_file_layout_equal_the_sorted_choice(seed: int) -> None:
    """Rating rows first in each debtor's block: the rating rows as they are; shuffled
    rows take the general sort and choose the same ratings."""
    d = _layout(seed)
    assert matrix._rated_before(d["debtor_id"], d["supplier_id"].notna().to_numpy().astype(int))
    got = mig.debtor_ratings(d)
    want = mig.debtor_ratings(d.sample(frac=1.0, random_state=seed))
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got["pd"].tolist() == d.loc[d["supplier_id"].isna(), "pd"].tolist()


@pytest.mark.parametrize("ids, suppliers, ok", [
    (["a", "a", "b"], [None, "S", "S"], False),    # b's pair after a's rating row
    (["a", "b", "b"], ["S", None, "S"], False),    # a pair before any rating row
    (["a", "a", "b", "b"], [None, "S", None, "S"], True),
    (["a", None, "b"], [None, "S", None], False),  # a pair without a debtor id
])  # fmt: skip
def test_rated_before_tells_the_layout(ids: list[str | None], suppliers: list[str | None],
                                       ok: bool) -> None:
    rank = np.array([s is not None for s in suppliers], dtype=np.int8)
    assert matrix._rated_before(pd.Series(ids, dtype="str"), rank) is ok


def test_debtor_ratings_pair_without_rating_row_takes_its_pair() -> None:
    d = pd.DataFrame({"debtor_id": pd.array(["a", "a", "b"], dtype="str"),
                      "supplier_id": pd.array([None, "S", "S"], dtype="str"),
                      "grade": pd.array(["3", "3", "5"], dtype="str"), "pd": [0.1, 0.1, 0.2]})
    r = mig.debtor_ratings(d)
    assert r.index.tolist() == ["a", "b"] and r["grade"].tolist() == ["3", "5"]


def _hand_counts(prev: dict[str, str], cur: dict[str, str]) -> pd.DataFrame:
    counts = pd.DataFrame(0, index=pd.Index(mig.FROM_STATES, name="from_grade"),
                          columns=pd.Index(mig.TO_STATES, name="to_grade"), dtype=np.int64)
    for debtor in set(prev) | set(cur):
        counts.loc[prev.get(debtor, mig.NEW), cur.get(debtor, mig.EXIT)] += 1
    return counts


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from([f"d{i}" for i in range(30)]),
                       st.sampled_from([*GRADES, UNRATED]), max_size=30),
       st.dictionaries(st.sampled_from([f"d{i}" for i in range(30)]),
                       st.sampled_from([*GRADES, UNRATED]), max_size=30),
       st.booleans())
def test_migration_matrix_of_different_debtors_counts_by_hand(
        prev: dict[str, str], cur: dict[str, str], text: bool) -> None:
    """New debtors, exits and movers, ids in any order: the hand count of the union."""
    dtype = "str" if text else object
    p = pd.Series(list(prev.values()), index=list(prev), dtype=dtype)
    c = pd.Series(list(cur.values()), index=list(cur), dtype=dtype)
    m = mig.migration_matrix(p, c)
    pd.testing.assert_frame_equal(m.counts, _hand_counts(prev, cur))


def test_migration_matrix_refuses_duplicates_in_unsorted_current() -> None:
    cur = pd.Series(["3", "4", "5"], index=pd.Index(["b", "a", "b"], dtype="str"),
                    dtype="str")
    with pytest.raises(ValueError, match="current grades: debtor 'b' appears more than once"):
        mig.migration_matrix(pd.Series({"a": "3"}), cur)


def test_run_summary_with_given_previous_ratings_as_without() -> None:
    prev = _layout(1)
    cur = _layout(2).assign(approved_limit=1.0)
    rec = mig.reconcile(cur["debtor_id"], cur["debtor_id"], [])
    errors = pd.DataFrame({"debtor_id": []})
    want = mig.run_summary(cur, errors, rec, previous=prev)
    got = mig.run_summary(cur, errors, rec, previous=prev,
                          previous_ratings=mig.debtor_ratings(prev))
    assert got == want and want["psi"]["previous_debtors"] == 20


def test_previous_reads_only_the_compared_columns(tmp_path: Path) -> None:
    d = _layout(3).assign(approved_limit=1.0, model_version="m", insured_limit=2.0,
                          currency="USD", approved_limit_base=0.9)
    pq.write_table(pa.Table.from_pandas(d, preserve_index=False), tmp_path / "decisions.parquet")
    opts = RerateOptions(portfolio=tmp_path, out=tmp_path / "out", previous=tmp_path)
    got = batch_read._previous(opts)
    assert got is not None and list(got.columns) == list(mig.PREVIOUS_COLUMNS)
    pd.testing.assert_frame_equal(got, d[list(mig.PREVIOUS_COLUMNS)])
    # an older file without some columns: those there are read
    pq.write_table(pa.Table.from_pandas(d.drop(columns="pd"), preserve_index=False),
                   tmp_path / "decisions.parquet")
    got = batch_read._previous(opts)
    assert got is not None and "pd" not in got.columns and "grade" in got.columns
