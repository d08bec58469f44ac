"""The batch job's Arrow path: the same decisions as the pandas path, and the shortcuts
(sorted chunk ranges, reconciliation, ratings, concentration codes) equal to the
general computations they stand for.

Data are SYNTHETIC (``riskengine.synthetic``, seed 5) or built by hand here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.api import load_engine
from riskengine.batch import migration as mig
from riskengine.batch.chunk import (
    RATING_ROW_COLUMNS,
    chunk_decisions,
    decisions_schema,
    decisions_table,
)
from riskengine.batch.migration import herfindahl
from riskengine.batch.plan import _sorted_offsets, plan_chunks
from riskengine.scoring.engine import Engine
from riskengine.scoring.table import decision_schema
from riskengine.synthetic import generate_portfolio

AS_OF = "2026-06-30"
STAMP = f"{AS_OF}T00:00:00Z"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return load_engine()


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    """400 SYNTHETIC debtors; one gets an open insolvency declaration (a D grade with its
    flag reason), so that every kind of reason code occurs."""
    fr = generate_portfolio(400, 5, AS_OF)
    adv = fr["adverse_records"]
    victim = str(fr["exposures"]["debtor_id"].iloc[0])
    row = pd.DataFrame({"record_id": ["R-ARROW-1"], "debtor_id": [victim],
                        "event_type": ["insolvency_declared"],
                        "event_date": [pd.Timestamp("2026-06-15")], "amount": [250_000.0],
                        "currency": ["EUR"], "status": ["open"],
                        "settlement_date": [pd.NaT]}).astype(adv.dtypes.to_dict())
    fr["adverse_records"] = pd.concat([adv, row], ignore_index=True)
    return fr


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def test_decide_table_equals_decide(engine: Engine, frames: dict[str, pd.DataFrame]) -> None:
    """Same rows, values and reason codes as :meth:`Engine.decide` (pandas -> Arrow)."""
    batch = engine.decide(frames, AS_OF, decided_at=STAMP)
    table = engine.decide_table(frames, AS_OF, decided_at=STAMP)
    assert table.table.schema == decision_schema()
    assert _rows(table.table) == _rows(decisions_table(batch.decisions))
    assert (table.pairs_in, table.pairs_rejected, table.debtors_in) == (
        batch.pairs_in, batch.pairs_rejected, batch.debtors_in)
    codes = table.table["reason_codes"].to_pylist()
    assert any(c and c[0]["feature"] == "adv_insolvency" for c in codes)
    assert any(c and c[0]["feature"] == "rating_basis" for c in codes)


class _GappyScorer:
    """The engine's scorer through ``__call__`` only (no ``explain``), with no valid PD
    for every 7th row: the fallback that flattens reason dicts, and unrated debtors."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, A: np.ndarray) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        pds, codes = self.inner(A)
        pds = np.array(pds, dtype=np.float64)
        pds[::7] = np.nan
        return pds, codes


def test_decide_table_equals_decide_with_unrated_debtors(
        engine: Engine, frames: dict[str, pd.DataFrame]) -> None:
    scorer = _GappyScorer(engine._scorer)
    batch = engine.decide(frames, AS_OF, decided_at=STAMP, scorer=scorer)
    table = engine.decide_table(frames, AS_OF, decided_at=STAMP, scorer=scorer).table
    assert _rows(table) == _rows(decisions_table(batch.decisions))
    unrated = [r for r in _rows(table) if r["decision_type"] == "unrated"]
    assert unrated and all(r["grade"] is None and r["pd"] is None for r in unrated)
    assert all(r["reason_codes"][0]["feature"] == "pd" for r in unrated)


def test_chunk_decisions_adds_one_rating_row_per_debtor(
        engine: Engine, frames: dict[str, pd.DataFrame]) -> None:
    pairs = engine.decide_table(frames, AS_OF, decided_at=STAMP).table
    out = chunk_decisions(pairs)
    assert out.schema == decisions_schema()
    frame = out.to_pandas()
    rating = frame[frame["row_type"] == "rating"]
    assert rating["debtor_id"].tolist() == sorted(set(pairs["debtor_id"].to_pylist()))
    assert rating["supplier_id"].isna().all() and rating["approved_limit"].isna().all()
    keys = list(zip(frame["debtor_id"], frame["supplier_id"].fillna(""), strict=True))
    assert keys == sorted(keys)  # by debtor, its rating row first, then by supplier
    assert (frame["row_type"] == "pair").sum() == pairs.num_rows


def _chunk_reference(pairs: pa.Table) -> pa.Table:
    """:func:`chunk_decisions` by its definition: each debtor's first pair row as
    its rating row (pair-level columns empty), appended to the pairs, stable-sorted."""
    schema = decisions_schema()
    rows = pairs.to_pylist()
    seen: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen.setdefault(r["debtor_id"], r)
    rating = [{f: (r[f] if f in RATING_ROW_COLUMNS else None) for f in pairs.column_names}
              | {"row_type": "rating"} for r in seen.values()]
    both = rating + [r | {"row_type": "pair"} for r in rows]
    both.sort(key=lambda r: (r["debtor_id"], r["supplier_id"] is not None,
                             r["supplier_id"] or ""))
    return pa.Table.from_pylist(both, schema=schema)


def test_chunk_decisions_sorted_and_unsorted_pairs_agree(
        engine: Engine, frames: dict[str, pd.DataFrame]) -> None:
    """Sorted pairs (interleaved without a sort) and the same pairs shuffled, with a
    missing supplier id or a duplicate pair (sorted), give the rows of the definition."""
    pairs = engine.decide_table(frames, AS_OF, decided_at=STAMP).table
    keys = list(zip(pairs["debtor_id"].to_pylist(), pairs["supplier_id"].to_pylist(),
                    strict=True))
    assert keys == sorted(keys)  # the engine keeps the sorted portfolio's order
    shuffled = pairs.take(pa.array(np.random.default_rng(3).permutation(pairs.num_rows)))
    no_supplier = pairs.set_column(
        pairs.schema.get_field_index("supplier_id"), "supplier_id",
        pa.array([None] + [k[1] for k in keys[1:]], pa.large_string()))
    duplicate = pa.concat_tables([pairs.slice(0, 3), pairs.slice(2, 1), pairs.slice(3)])
    for table in (pairs, shuffled, no_supplier, duplicate, pairs.slice(7, 1)):
        assert chunk_decisions(table).equals(_chunk_reference(table))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([f"d{i:02d}" for i in range(12)]), min_size=1, max_size=30),
       st.integers(min_value=1, max_value=5))
def test_sorted_chunk_ranges_equal_chunk_of(ids: list[str], size: int) -> None:
    """On sorted ids the binary-searched row ranges are the chunks of ``chunk_of``."""
    plan = plan_chunks(pd.Series(ids[::2] or ids, dtype="str"), size)
    column = pd.Series(sorted(ids), dtype="str")
    fast = _sorted_offsets(column, plan)
    assert fast is not None
    c = plan.chunk_of(column)
    assert fast.tolist() == np.searchsorted(c, np.arange(plan.n_chunks + 1)).tolist()


def test_unsorted_or_missing_ids_take_the_general_path() -> None:
    plan = plan_chunks(pd.Series(["a", "b", "c"]), 2)
    assert _sorted_offsets(pd.Series(["b", "a"], dtype="str"), plan) is None
    assert _sorted_offsets(pd.Series(["a", None], dtype="str"), plan) is None


def _reference(ins: list[str], dec: list[str], err: list[str]) -> tuple[Any, ...]:
    """Reconciliation by Python sets (the definition in :func:`migration.reconcile`)."""
    i, d, e = set(ins), set(dec), set(err)
    only = (e & i) - d
    return (len(i), len(d), len(only), len((e & i) & d), tuple(sorted(i - (d | only))),
            tuple(sorted(d - i)))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from("abcdefgh"), max_size=8),
       st.lists(st.sampled_from("abcdefghij"), max_size=8),
       st.lists(st.sampled_from("abcdefghij"), max_size=8))
def test_reconcile_equals_set_arithmetic(ins: list[str], dec: list[str], err: list[str]) -> None:
    r = mig.reconcile(ins, dec, err)
    assert (r.debtors_in, r.decided, r.errored, r.partial, r.missing, r.unexpected) == \
        _reference(ins, dec, err)


def test_reconcile_of_a_complete_run_takes_arrow_arrays() -> None:
    ids = pa.array([f"d{i:05d}" for i in range(1000)], pa.large_string())
    r = mig.reconcile(ids, ids, pa.array([], pa.large_string()))
    assert r.ok and r.decided == 1000 and r.missing == () and r.unexpected == ()


def test_debtor_ratings_rating_rows_equal_the_sorted_choice() -> None:
    """Hand-built: rating rows (supplier missing) for a, b, c plus pair rows."""
    d = pd.DataFrame({"debtor_id": ["a", "b", "c", "a", "c", "b"],
                      "supplier_id": [None, None, None, "s", "t", "s"],
                      "grade": ["3", "5", "D", "3", "D", "5"],
                      "pd": [0.004, 0.02, 1.0, 0.004, 1.0, 0.02]})
    fast = mig.debtor_ratings(d)
    general = mig.debtor_ratings(d.iloc[::-1].reset_index(drop=True))  # unsorted: sorts
    pd.testing.assert_frame_equal(fast, general)
    assert fast["grade"].tolist() == ["3", "5", "D"]


def test_concentration_by_codes_equals_the_merge() -> None:
    """HHIs from integer key codes equal the text-key merge (missing group: the debtor;
    missing sector: the key "nan")."""
    rng = np.random.default_rng(3)
    n = 500
    ids = np.array([f"d{i:03d}" for i in rng.integers(0, 120, n)], dtype=object)
    pairs = pd.DataFrame({"debtor_id": pd.array(ids, dtype="str"),
                          "supplier_id": pd.array([f"s{i}" for i in range(n)], dtype="str"),
                          "approved_limit": rng.uniform(0, 1e5, n).round(-2)})
    book_ids = [f"d{i:03d}" for i in range(120)]
    book = pd.DataFrame({
        "debtor_id": pd.array(book_ids, dtype="str"),
        "group_id": pd.array([None if i % 3 else f"g{i % 7}" for i in range(120)], dtype="str"),
        "sector": pd.array([None if i % 11 == 0 else "CDE"[i % 3] for i in range(120)],
                           dtype="str"),
        "country": pd.array(["DE", "FR", "NL"] * 40, dtype="str")})
    limits = pairs["approved_limit"].to_numpy()
    fast = herfindahl._hhis(pairs, book, limits)
    slow = herfindahl._hhis_merge(pairs, book, limits, {"name": fast["name"]})
    assert fast == slow
    assert set(fast) == {"name", "group", "sector", "country"}
