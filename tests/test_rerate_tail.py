"""The run's tail on sorted ids: the shortcuts of migration/ and rerate.py give
exactly what the general code gives (same counts, the same HHI floats, the same ids)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.batch import migration as mig
from riskengine.batch.assemble import _among, _book
from riskengine.batch.migration import herfindahl, matrix
from riskengine.contracts.arrowtext import large_text
from riskengine.model.master_scale import GRADES, UNRATED

_STATES = [*GRADES, UNRATED]


def _ids(n: int) -> list[str]:
    return [f"d{i:05d}" for i in range(n)]


def test_runs_over_sorted_ids_are_run_numbers() -> None:
    """Hand calculation: a a b c c c over books a b c -> runs 0 0 1 2 2 2."""
    ids = pa.array(["a", "a", "b", "c", "c", "c"], pa.large_string())
    book = pa.array(["a", "b", "c"], pa.large_string())
    assert herfindahl._runs_over(ids, book).tolist() == [0, 0, 1, 2, 2, 2]


@pytest.mark.parametrize("ids, book", [
    (["a", "b", "a"], ["a", "b"]),       # an id that comes back: not sorted
    (["a", "c"], ["a", "b", "c"]),       # a book debtor without pairs
    (["a", None], ["a"]),                # a missing id
    (["b", "a"], ["b", "a"]),            # the same order but not sorted
    ([], ["a"]),
])  # fmt: skip
def test_runs_over_refuses_what_it_cannot_shortcut(ids: list[str | None],
                                                   book: list[str]) -> None:
    assert herfindahl._runs_over(pa.array(ids, pa.large_string()),
                                 pa.array(book, pa.large_string())) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_STATES), min_size=0, max_size=40),
       st.lists(st.sampled_from(_STATES), min_size=0, max_size=40),
       st.booleans())
def test_migration_matrix_shortcut_equals_general(prev: list[str], cur: list[str],
                                                  same: bool) -> None:
    """Same debtors in both runs (or none before): the shortcut counts what aligning
    the union of the two indexes counts."""
    if same:
        prev = (prev + cur)[: len(cur)]
        prev += [UNRATED] * (len(cur) - len(prev))
    p = pd.Series(prev, index=pd.Index(_ids(len(prev)), dtype="str"), dtype="str")
    c = pd.Series(cur, index=pd.Index(_ids(len(cur)), dtype="str"), dtype="str")
    got = mig.migration_matrix(p, c)
    # the general path: a reversed previous index is never the same order
    want = mig.migration_matrix(p.iloc[::-1], c)
    pd.testing.assert_frame_equal(got.counts, want.counts)
    pd.testing.assert_frame_equal(got.rates, want.rates)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=30),
       st.lists(st.sampled_from(["g1", "g2", None]), min_size=30, max_size=30),
       st.lists(st.sampled_from(["DE", "FR", None]), min_size=30, max_size=30),
       st.lists(st.floats(0, 1e6, allow_nan=False), min_size=120, max_size=120))
def test_hhi_shortcut_equals_lookup(pairs_per: list[int], groups: list[str | None],
                                    countries: list[str | None], limits: list[float]) -> None:
    """HHIs on sorted pairs over a sorted book are bit-identical to the lookup path."""
    n = len(pairs_per)
    book = pd.DataFrame({"debtor_id": pd.array(_ids(n), dtype="str"),
                         "group_id": pd.array(groups[:n], dtype="str"),
                         "country": pd.array(countries[:n], dtype="str"),
                         "sector": pd.array(["C" if i % 3 else "J" for i in range(n)],
                                            dtype="str")})  # fmt: skip
    ids = np.repeat(np.asarray(_ids(n), dtype=object), pairs_per)
    lim = np.asarray(limits[: len(ids)], dtype=np.float64)
    pairs = pd.DataFrame({"debtor_id": pd.array(ids, dtype="str")})
    got = herfindahl._hhis(pairs, book, lim)
    # the same book with one extra debtor without pairs takes the lookup path
    extra = pd.concat([book, pd.DataFrame({"debtor_id": pd.array(["zz"], dtype="str")})],
                      ignore_index=True)
    assert herfindahl._runs_over(large_text(pairs["debtor_id"]),
                                 large_text(extra["debtor_id"])) is None
    want = herfindahl._hhis(pairs, extra, lim)
    assert got == want


def test_reconcile_on_sorted_ids_as_on_unsorted() -> None:
    """Hand calculation: 4 in, 3 decided, 1 errored (d00001 also decided: partial)."""
    ins, dec, err = _ids(4), ["d00000", "d00001", "d00002"], ["d00003", "d00001"]
    got = mig.reconcile(ins, dec, err)
    want = mig.reconcile(ins[::-1], dec[::-1], err)
    assert (got.ok, got.debtors_in, got.decided, got.errored, got.partial) == (
        True, 4, 3, 1, 1)
    assert got == want


def test_book_sorted_and_unsorted_agree() -> None:
    """A book with sorted distinct ids skips drop_duplicates; sectors per NACE section."""
    deb = pd.DataFrame({"debtor_id": pd.array(["a", "b", "c"], dtype="str"),
                        "nace": pd.array(["62.01", None, "xx"], dtype="str"),
                        "country": pd.array(["DE", "FR", "DE"], dtype="str")})
    book = _book(deb)
    assert book["sector"].tolist()[0] == "J" and pd.isna(book["sector"].tolist()[1])
    assert book["sector"].tolist()[2] == "unknown"
    dup = _book(pd.concat([deb, deb.iloc[[0]]], ignore_index=True))
    pd.testing.assert_frame_equal(book, dup)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["g1", "g2", "d00003", None]), min_size=0, max_size=30))
def test_group_codes_equal_codes_of_coalesced_keys(groups: list[str | None]) -> None:
    """The group codes hash only the groups; they number the keys as coalescing the
    debtor ids in and encoding every key does (a group named like a debtor included)."""
    ids = pa.array(_ids(len(groups)), pa.large_string())
    keys = pa.array(groups, pa.large_string())
    want = herfindahl._codes(pa.compute.coalesce(keys, ids))
    got = herfindahl._group_codes(keys, ids)
    assert got.dtype == want.dtype and got.tolist() == want.tolist()


def test_group_codes_by_hand() -> None:
    """Keys g, d1, g, h, d4, h -> codes 0 1 0 2 3 2 (order of first appearance)."""
    ids = pa.array(_ids(6), pa.large_string())
    keys = pa.array(["g", None, "g", "h", None, "h"], pa.large_string())
    assert herfindahl._group_codes(keys, ids).tolist() == [0, 1, 0, 2, 3, 2]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([*_STATES, None]), min_size=0, max_size=30),
       st.booleans())
def test_states_of_arrow_text_as_of_python_objects(grades: list[str | None],
                                                    shuffled: bool) -> None:
    """Arrow-backed grades (missing ones NR) give the states Python objects give,
    on sorted and unsorted ids."""
    ids = _ids(len(grades))[::-1] if shuffled else _ids(len(grades))
    text = pd.Series(grades, index=pd.Index(ids, dtype="str"), dtype="str")
    objects = pd.Series(grades, index=ids, dtype=object)
    got, want = matrix._states(text, "current"), matrix._states(objects, "current")
    pd.testing.assert_series_equal(got, want)
    assert got.isna().sum() == 0 and (got[pd.isna(text)] == UNRATED).all()


@pytest.mark.parametrize("dtype", ["str", object])
def test_states_refuse_duplicates_and_bad_grades_of_any_dtype(dtype: object) -> None:
    dup = pd.Series(["3", "4"], index=pd.Index(["a", "a"], dtype="str"), dtype=dtype)
    with pytest.raises(ValueError, match="debtor 'a' appears more than once"):
        matrix._states(dup, "previous")
    bad = pd.Series(["3", "AAA"], index=pd.Index(["a", "b"], dtype="str"), dtype=dtype)
    with pytest.raises(ValueError, match="debtor 'b' has grade 'AAA'"):
        matrix._states(bad, "previous")


def test_pair_rows_keep_a_frame_of_pairs_whole() -> None:
    d = pd.DataFrame({"debtor_id": ["a", "a"], "supplier_id": ["s", None]})
    assert mig.pair_rows(d)["supplier_id"].tolist() == ["s"]
    pairs = d.iloc[:1]
    assert mig.pair_rows(pairs) is pairs


def test_run_summary_with_given_hhis_as_without() -> None:
    """The HHIs the caller figured (on another thread, as the batch job does) are the
    ones run_summary figures itself."""
    d = pd.DataFrame({"debtor_id": ["a", "a", "b"], "supplier_id": ["s", "t", "s"],
                      "grade": ["3", "3", "5"], "pd": [0.01, 0.01, 0.05],
                      "approved_limit": [30.0, None, 50.0]})
    book = pd.DataFrame({"debtor_id": ["a", "b"], "group_id": ["G", None],
                         "country": ["DE", "FR"]})
    rec = mig.reconcile(["a", "b"], ["a", "b"], [])
    errors = pd.DataFrame({"debtor_id": []})
    want = mig.run_summary(d, errors, rec, book=book)
    got = mig.run_summary(d, errors, rec, hhis=mig.concentration(d, book))
    assert got == want
    # by hand: a 30 (the missing limit counts 0), b 50 -> (3/8)^2 + (5/8)^2
    assert want["hhi"]["name"] == pytest.approx(34 / 64)


def test_among_keeps_or_drops_ids() -> None:
    ids = pa.array(["a", "c"], pa.large_string())
    among = pa.array(["a", "b"], pa.large_string())
    assert _among(ids, among, True).to_pylist() == ["a"]
    assert _among(ids, among, False).to_pylist() == ["c"]
    empty = pa.array([], pa.large_string())
    assert _among(empty, among, True) is empty


def test_strictly_increasing_text() -> None:
    """riskengine.contracts.arrowtext.strictly_increasing, the sortedness check of the chunk plan,
    the comparison of runs and the revenue alignment: Python's order of the text, on
    plain, chunked and sliced arrays; a repeat, a step down or a missing id is not."""
    import doctest

    import pyarrow as pa

    from riskengine.contracts import arrowtext as _arrowtext
    from riskengine.contracts.arrowtext import strictly_increasing

    assert doctest.testmod(_arrowtext).failed == 0
    ids = sorted(["D10", "D2", "e", "é", "z", "ä", ""])
    assert ids == sorted(set(ids))
    assert strictly_increasing(pa.array(ids, pa.large_string()))
    assert strictly_increasing(pa.chunked_array([ids[:3], ids[3:]]))
    assert strictly_increasing(pa.array(["zz", *ids])[1:])  # a slice
    for bad in (ids[:2] + ids[1:], ids[::-1], [*ids, None]):
        assert not strictly_increasing(pa.array(bad, pa.string()))
