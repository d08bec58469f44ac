"""Shortcuts of validation on sorted text against the general path.

Ids sorted without missing values are numbered by their runs and a key strictly
increasing has no duplicates (both read from one comparison of the ids with
themselves shifted by one, :func:`riskengine.validation.keys._steps`). Each shortcut must
give exactly what the general path (hashing every value) gives: checked here on
clean sorted portfolios and on corrupted, unsorted ones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from riskengine import validation
from riskengine.contracts import schemas
from riskengine.synthetic import generate_portfolio
from riskengine.validation import columns, keys, table

AS_OF = "2026-06-30"
TEXTS = ["", " ", "\t", "\u00a0", "\u2003x", "\u3000", "\x1c", "a", "a ", " a", "é", "D-1",
         "D-10", "D-2", "D-2", "Z", "~", "!"]  # fmt: skip


def _general(monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch every shortcut off: factorize and full-key counts."""
    monkeypatch.setattr(keys, "_steps", lambda s: None)


def _both(monkeypatch: pytest.MonkeyPatch, run: Callable[[], object]) -> tuple[object, object]:
    fast = run()
    with monkeypatch.context() as m:
        _general(m)
        slow = run()
    return fast, slow


def _same_portfolio(a: validation.ValidatedPortfolio, b: validation.ValidatedPortfolio) -> None:
    assert a.frames.keys() == b.frames.keys()
    for name in a.frames:
        pd.testing.assert_frame_equal(a.frames[name], b.frames[name], check_exact=True)
    pd.testing.assert_frame_equal(a.errors, b.errors, check_exact=True)
    assert a.rejected_debtors == b.rejected_debtors
    assert a.rows_in == b.rows_in and a.debtors_in == b.debtors_in


def _text_series(values: list[str | None], chunks: int = 1) -> pd.Series:
    """A ``str`` column (Arrow-backed) held in ``chunks`` chunks."""
    parts = np.array_split(np.arange(len(values)), chunks)
    arr = pa.chunked_array([pa.array([values[i] for i in p], pa.large_string()) for p in parts],
                           pa.large_string())  # fmt: skip
    s = pd.Series(arr, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    assert s.dtype == "str" and s.array._pa_array.num_chunks == chunks
    return s


@pytest.fixture(scope="module")
def portfolio() -> dict[str, pd.DataFrame]:
    return generate_portfolio(400, seed=11, as_of=AS_OF)


def test_generated_portfolio_is_in_the_sorted_layout(portfolio: dict[str, pd.DataFrame]) -> None:
    for name in ("debtors", "statements", "invoices", "exposures"):
        ids = portfolio[name]["debtor_id"]
        assert ids.is_monotonic_increasing, name  # the shortcuts are exercised below
    assert keys._unique_rows(table._check_table(
        portfolio["statements"], schemas.STATEMENTS, None).frame,
        ("debtor_id", "period_end"))


def test_clean_sorted_portfolio_same_as_general_path(
    portfolio: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = _both(monkeypatch, lambda: validation.validate_portfolio(portfolio))
    assert isinstance(fast, validation.ValidatedPortfolio)
    assert isinstance(slow, validation.ValidatedPortfolio)
    assert fast.errors.empty
    _same_portfolio(fast, slow)


def _corrupt(p: dict[str, pd.DataFrame], rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    p = {k: v.copy() for k, v in p.items()}
    st, inv, exp = p["statements"], p["invoices"], p["exposures"]
    # adjacent duplicate statement period (still sorted), duplicate invoice id far away
    st = pd.concat([st.iloc[:5], st.iloc[4:5], st.iloc[5:]], ignore_index=True)
    inv = inv.astype({"invoice_id": object, "debtor_id": object, "supplier_id": object})
    inv.loc[len(inv) // 2, "invoice_id"] = inv.loc[3, "invoice_id"]
    inv.loc[7, "debtor_id"] = None  # missing debtor id
    inv.loc[9, "debtor_id"] = "  "  # blank
    inv.loc[11, "supplier_id"] = "\u00a0"  # blank in Unicode only
    inv.loc[13, "debtor_id"] = str(inv.loc[13, "debtor_id"]) + "x"  # unknown, sorted place
    inv.loc[15, "supplier_id"] = "S-nobody"
    inv = inv.astype({"invoice_id": "str", "debtor_id": "str", "supplier_id": "str"})
    exp = exp.iloc[rng.permutation(len(exp))].reset_index(drop=True)  # unsorted
    exp = pd.concat([exp, exp.iloc[[0]]], ignore_index=True)  # duplicate pair
    deb = p["debtors"].astype({"name": object})
    deb.loc[2, "name"] = "\t"
    deb.loc[3, "name"] = "\u00e9l\u00e8ve SA"
    p.update(statements=st, invoices=inv, exposures=exp, debtors=deb.astype({"name": "str"}))
    return p


@pytest.mark.parametrize("seed", [0, 1])
def test_corrupted_portfolio_same_as_general_path(
    portfolio: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    p = _corrupt(portfolio, np.random.default_rng(seed))
    fast, slow = _both(monkeypatch, lambda: validation.validate_portfolio(p, reference_date=AS_OF))
    assert isinstance(fast, validation.ValidatedPortfolio)
    assert isinstance(slow, validation.ValidatedPortfolio)
    reasons = set(fast.problems["reason"])
    assert {"duplicate_key", "missing_value", "unknown_debtor", "unknown_supplier"} <= reasons
    assert len(fast.rejected_debtors) > 0
    _same_portfolio(fast, slow)


def test_unsorted_rows_give_the_same_errors_as_sorted_ones(
    portfolio: dict[str, pd.DataFrame],
) -> None:
    p = _corrupt(portfolio, np.random.default_rng(2))
    shuffled = {k: v.iloc[np.random.default_rng(3).permutation(len(v))].reset_index(drop=True)
                for k, v in p.items()}  # fmt: skip
    a = validation.validate_portfolio(p)
    b = validation.validate_portfolio(shuffled)
    assert a.rejected_debtors == b.rejected_debtors
    cols = list(a.errors.columns)
    pd.testing.assert_frame_equal(a.errors.sort_values(cols).reset_index(drop=True),
                                  b.errors.sort_values(cols).reset_index(drop=True))


@pytest.mark.parametrize("chunks", [1, 3])
@pytest.mark.parametrize("values", [
    sorted(set(TEXTS)), sorted(TEXTS), TEXTS, sorted(TEXTS) + [None], ["x"], [], ["b", "a"],
])  # fmt: skip
def test_codes_match_factorize(values: list[str | None], chunks: int) -> None:
    s = _text_series(values, max(1, min(chunks, len(values))))
    codes, uniques = keys._codes(s)
    want_codes, want_uniques = pd.factorize(s)
    np.testing.assert_array_equal(codes, want_codes)
    pd.testing.assert_series_equal(uniques, pd.Series(want_uniques))


@pytest.mark.parametrize("values", [sorted(TEXTS), sorted(set(TEXTS)), TEXTS, TEXTS + [None]])
def test_blank_is_missing_or_only_whitespace_as_python_strips_it(
        values: list[str | None]) -> None:
    s = _text_series(values, chunks=2)
    want = [v is None or v.strip() == "" for v in values]
    assert columns._blank(s).tolist() == want
    assert want[values.index("\u00a0")] and not want[values.index("\u2003x")]


@pytest.mark.parametrize("typ", [pa.large_string(), pa.string()])
def test_text_steps_compare_as_python_strings(typ: pa.DataType) -> None:
    vals = sorted(TEXTS) + TEXTS + ["ab", "a", "abc", "\U0001f600", "\uffff"]
    want = [(b > a) - (b < a) for a, b in zip(vals, vals[1:], strict=False)]
    arr = pa.array(["pad"] + vals, typ)[1:]  # a slice: offsets start past 0
    assert keys._text_steps(arr).tolist() == want
    assert keys._text_steps(pa.chunked_array([arr[:5], arr[5:]])).tolist() == want


@pytest.mark.parametrize("seed", range(4))
def test_isin_same_as_set_membership(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = [f"D{i:03d}" for i in range(60)] + ["", "é", "D0"]
    a = sorted(rng.choice(pool, 80).tolist())
    b = rng.choice(pool, 30).tolist()
    for values in (pd.Index(sorted(b), dtype="str"), pd.Index(b, dtype="str"),
                   pd.Series(sorted(b) + [None], dtype="str")):  # fmt: skip
        for s in (_text_series(a), _text_series(a[::-1]), _text_series(a + [None])):
            want = [x is not None and x in set(b) for x in s.tolist()]
            assert keys._isin(s, values).tolist() == want


def test_unique_rows_only_when_strictly_increasing() -> None:
    ids = ["D1", "D1", "D2", "D3"]
    days = pd.to_datetime(["2024-12-31", "2025-12-31", "2024-12-31", "2024-12-31"])
    frame = pd.DataFrame({"debtor_id": pd.Series(ids, dtype="str"), "period_end": days})
    key = ("debtor_id", "period_end")
    assert keys._unique_rows(frame, key)
    assert keys._unique_rows(frame, key[::-1])  # debtor_id is compared first
    dup = frame.assign(period_end=days[[0, 0, 2, 3]])
    assert not keys._unique_rows(dup, key)
    assert not keys._unique_rows(frame.iloc[::-1].reset_index(drop=True), key)
    assert not keys._unique_rows(frame.assign(period_end=days.insert(0, pd.NaT)[:4]), key)
    assert not keys._unique_rows(frame.iloc[:1], key)


def test_float_columns_flag_infinities_as_text_columns_do() -> None:
    from riskengine.contracts.schemas import STATEMENTS

    st = generate_portfolio(5, seed=3, as_of=AS_OF)["statements"].head(4).copy()
    st["cash"] = [np.inf, -np.inf, np.nan, 5.0]
    as_text = st.astype({"cash": object})
    as_text["cash"] = ["inf", "-inf", "", "5.0"]
    clean_f, errors_f = validation.validate_table(st, STATEMENTS)
    clean_t, errors_t = validation.validate_table(as_text, STATEMENTS)
    assert errors_f["reason"].tolist() == ["not_numeric", "not_numeric"]
    assert errors_f["record"].tolist() == errors_t["record"].tolist()
    pd.testing.assert_frame_equal(clean_f, clean_t, check_exact=True)
    assert clean_f["cash"].isna().tolist() == [True, False]
