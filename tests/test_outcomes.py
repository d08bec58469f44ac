"""Tests of the ``outcomes`` table (issue 17, point 1): the contract, its checks, its files.

The checks are those of the issue's shared decisions: an outcome of a debtor not in the
debtors table (``unknown_debtor``), dated after the book's as_of (``after_as_of``) or after
the extraction date (``future_date``), of a type outside CRR art. 178's triggers
(``unknown_category``), or repeating a (debtor_id, default_date) key (``duplicate_key``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from riskengine.contracts.schemas import CONTRACTS, DEFAULT_TYPES, OPTIONAL_TABLES, OUTCOMES
from riskengine.errors import InvalidInputError
from riskengine.io.portfolio import MANIFEST_NAME, read_portfolio, write_portfolio
from riskengine.synthetic import contract_dtypes, generate_portfolio, synthetic_manifest
from riskengine.validation import validate_portfolio

N, SEED, AS_OF = 40, 5, "2026-06-30"


@pytest.fixture(scope="module")
def book() -> dict[str, pd.DataFrame]:
    return generate_portfolio(N, seed=SEED, as_of=AS_OF)


def _with(book: dict[str, pd.DataFrame], rows: list[tuple[str, str, str]]
          ) -> dict[str, pd.DataFrame]:
    out = dict(book)
    out["outcomes"] = pd.DataFrame(rows, columns=["debtor_id", "default_date", "default_type"])
    return out


def _ids(book: dict[str, pd.DataFrame]) -> list[str]:
    return book["debtors"]["debtor_id"].tolist()


def test_the_contract_is_optional_and_keyed_by_debtor_and_date() -> None:
    assert CONTRACTS["outcomes"] is OUTCOMES and "outcomes" in OPTIONAL_TABLES
    assert OUTCOMES.names == ("debtor_id", "default_date", "default_type")
    assert OUTCOMES.key == ("debtor_id", "default_date")
    # CRR art. 178(1)(b), 178(3)(e)-(f), 178(3)(d)
    assert DEFAULT_TYPES == ("past_due_90", "insolvency", "distressed_restructuring")
    assert {c: str(t) for c, t in contract_dtypes("outcomes").items()} == {
        "debtor_id": "str", "default_date": "datetime64[ns]", "default_type": "str"}


def test_good_outcomes_come_back_with_canonical_dtypes(book) -> None:
    ids = _ids(book)
    vp = validate_portfolio(_with(book, [(ids[0], "2025-03-01", "insolvency"),
                                         (ids[1], "2024-12-31", "past_due_90"),
                                         (ids[2], "2026-06-30", "distressed_restructuring")]),
                            reference_date=AS_OF, book_as_of=AS_OF)
    assert vp.errors.empty, vp.errors["message"].tolist()
    out = vp.frames["outcomes"]
    assert out["debtor_id"].tolist() == ids[:3]
    assert out["default_date"].dtype == "datetime64[ns]"
    assert out["default_date"].tolist() == [pd.Timestamp("2025-03-01"),
                                            pd.Timestamp("2024-12-31"), pd.Timestamp(AS_OF)]


def test_without_outcomes_the_frame_is_empty_and_nothing_is_refused(book) -> None:
    vp = validate_portfolio(book, reference_date=AS_OF, book_as_of=AS_OF)
    assert vp.errors.empty
    assert len(vp.frames["outcomes"]) == 0
    assert tuple(vp.frames["outcomes"].columns) == OUTCOMES.names


def _problem(vp, reason: str) -> pd.Series:
    rows = vp.errors[(vp.errors["table"] == "outcomes") & (vp.errors["reason"] == reason)]
    assert len(rows) == 1, vp.errors[["table", "reason", "message"]].to_string()
    return rows.iloc[0]


def test_an_unknown_debtor_is_named_and_rejects_no_one(book) -> None:
    ids = _ids(book)
    vp = validate_portfolio(_with(book, [("D-GHOST", "2025-01-15", "insolvency"),
                                         (ids[0], "2025-01-15", "insolvency")]),
                            reference_date=AS_OF, book_as_of=AS_OF)
    row = _problem(vp, "unknown_debtor")
    assert (row["debtor_id"], row["column"], row["value"]) == ("D-GHOST", "debtor_id", "D-GHOST")
    assert "D-GHOST" in row["message"] and "2025-01-15" in row["message"]
    assert vp.rejected_debtors == ()
    assert vp.frames["outcomes"]["debtor_id"].tolist() == [ids[0]]


def test_a_default_after_the_books_as_of_is_refused_and_its_debtor_rejected(book) -> None:
    ids = _ids(book)
    vp = validate_portfolio(_with(book, [(ids[3], "2026-07-01", "past_due_90")]),
                            reference_date="2026-12-31", book_as_of=AS_OF)
    row = _problem(vp, "after_as_of")
    assert (row["debtor_id"], row["column"], row["value"]) == (ids[3], "default_date",
                                                                "2026-07-01")
    assert "after the portfolio's as_of 2026-06-30" in row["message"]
    # the batch rule: a debtor with a bad record is rejected whole, never half-labelled
    assert vp.rejected_debtors == (ids[3],)
    assert ids[3] not in set(vp.frames["debtors"]["debtor_id"])
    assert len(vp.frames["outcomes"]) == 0


def test_the_books_as_of_check_needs_the_books_date(book) -> None:
    """A book is decided as of past dates with later outcomes in it: without book_as_of
    only the extraction date bounds them."""
    ids = _ids(book)
    frames = _with(book, [(ids[3], "2026-07-01", "past_due_90")])
    assert validate_portfolio(frames, reference_date="2026-12-31").errors.empty
    vp = validate_portfolio(frames, reference_date="2026-06-30")
    assert _problem(vp, "future_date")["value"] == "2026-07-01"


def test_an_unknown_default_type_is_named(book) -> None:
    ids = _ids(book)
    vp = validate_portfolio(_with(book, [(ids[4], "2025-05-05", "bankrupt")]),
                            reference_date=AS_OF, book_as_of=AS_OF)
    row = _problem(vp, "unknown_category")
    assert (row["debtor_id"], row["column"], row["value"]) == (ids[4], "default_type",
                                                                "bankrupt")
    assert "past_due_90, insolvency, distressed_restructuring" in row["message"]
    assert vp.rejected_debtors == (ids[4],)


def test_a_repeated_key_is_a_duplicate(book) -> None:
    ids = _ids(book)
    vp = validate_portfolio(_with(book, [(ids[5], "2025-02-02", "past_due_90"),
                                         (ids[5], "2025-02-02", "insolvency"),
                                         (ids[6], "2025-02-02", "insolvency")]),
                            reference_date=AS_OF, book_as_of=AS_OF)
    dup = vp.errors[vp.errors["reason"] == "duplicate_key"]
    assert dup["table"].tolist() == ["outcomes", "outcomes"]
    assert set(dup["record"]) == {f"{ids[5]} 2025-02-02"}
    assert vp.rejected_debtors == (ids[5],)
    assert vp.frames["outcomes"]["debtor_id"].tolist() == [ids[6]]


def test_a_bad_date_is_named_and_strict_mode_refuses_the_book(book) -> None:
    ids = _ids(book)
    frames = _with(book, [(ids[7], "31/12/2025", "insolvency")])
    vp = validate_portfolio(frames, reference_date=AS_OF, book_as_of=AS_OF)
    row = _problem(vp, "not_date")
    assert (row["column"], row["value"]) == ("default_date", "31/12/2025")
    with pytest.raises(InvalidInputError, match="default_date is '31/12/2025'"):
        validate_portfolio(frames, reference_date=AS_OF, book_as_of=AS_OF, strict=True)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_outcomes_are_written_and_read_back(book, tmp_path: Path, fmt: str) -> None:
    ids = _ids(book)
    frames = _with(book, [(ids[0], "2025-03-01", "insolvency")])
    frames["outcomes"] = frames["outcomes"].astype({"default_date": "datetime64[ns]"})
    out = write_portfolio(frames, tmp_path / "pf", manifest=synthetic_manifest(N, SEED),
                          fmt=fmt)
    assert json.loads((out / MANIFEST_NAME).read_text())["tables"]["outcomes"] == 1
    back, _ = read_portfolio(out)
    assert back["outcomes"]["debtor_id"].tolist() == [ids[0]]
    assert back["outcomes"]["default_date"].tolist() == [pd.Timestamp("2025-03-01")]
    assert back["outcomes"]["default_type"].tolist() == ["insolvency"]


def test_an_old_portfolio_without_outcomes_reads_unchanged(book, tmp_path: Path) -> None:
    out = write_portfolio(book, tmp_path / "old", manifest=synthetic_manifest(N, SEED))
    assert not (out / "outcomes.parquet").exists()
    assert "outcomes" not in json.loads((out / MANIFEST_NAME).read_text())["tables"]
    back, _ = read_portfolio(out)
    assert len(back["outcomes"]) == 0 and tuple(back["outcomes"].columns) == OUTCOMES.names
