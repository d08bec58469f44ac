"""Data-contract validation: every bad-input case of issue 2 and the batch rule.

Frames are built here by ``make_portfolio`` (hand-written, internally consistent:
the statements satisfy the accounting identities). Each test breaks one thing and
asserts the error row (reason, record, value, message) or the raised error.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskengine.contracts import schemas
from riskengine.errors import InvalidInputError
from riskengine.validation import (
    ValidatedPortfolio,
    check_identities,
    raise_if_errors,
    validate_portfolio,
    validate_table,
)

# Hand-made balanced statement (assets = liabilities + equity: 800 = 500 + 300;
# ebit = ebitda - D&A: 120 = 150 - 30; gross profit = revenue - cost: 400 = 1000 - 600).
ITEMS = {
    "revenue": 1000.0, "cost_of_sales": 600.0, "gross_profit": 400.0,
    "operating_expenses": 250.0, "ebitda": 150.0, "depreciation_amortization": 30.0,
    "ebit": 120.0, "interest_expense": 10.0, "net_income": 80.0, "cash": 50.0,
    "receivables": 200.0, "inventory": 100.0, "current_assets": 350.0,
    "total_assets": 800.0, "current_liabilities": 300.0, "long_term_debt": 200.0,
    "total_liabilities": 500.0, "equity": 300.0, "retained_earnings": 150.0,
}  # fmt: skip
REF = "2025-01-01"


def make_portfolio(n: int = 4) -> dict[str, pd.DataFrame]:
    """A small valid portfolio of ``n`` debtors D-100 … (dates as ISO strings, as from CSV)."""
    ids = [f"D-{100 + i}" for i in range(n)]
    debtors = pd.DataFrame({
        "debtor_id": ids,
        "name": [f"Debtor {i} SA" for i in range(n)],
        "tax_id": [f"EL{99000000 + i}" for i in range(n)],
        "country": "GR",
        "nace": "46.90",
        "legal_form": "private_limited",
        "incorporation_date": "2005-03-01",
        "group_id": [None] * n,
        "listed": False,
    })  # fmt: skip
    suppliers = pd.DataFrame({
        "supplier_id": ["S-1", "S-2"], "name": ["Supplier One", "Supplier Two"],
        "country": "GR", "nace": "10.11", "group_id": [None, "G-9"],
        "ledger_total": [1_000_000.0, 2_000_000.0], "currency": "EUR",
    })  # fmt: skip
    statements = pd.DataFrame({
        "debtor_id": np.repeat(ids, 2),
        "period_end": ["2022-12-31", "2023-12-31"] * n,
        "statement_type": "audited",
        "currency": "EUR",
        **ITEMS,
    })  # fmt: skip
    adverse = pd.DataFrame({
        "record_id": ["A-1", "A-2"], "debtor_id": [ids[0], ids[-1]],
        "event_type": ["bounced_cheque", "mortgage_prenotation"],
        "event_date": ["2022-05-01", "2023-02-01"], "amount": [1000.0, 50_000.0],
        "currency": "EUR", "status": ["settled", "open"],
        "settlement_date": ["2022-06-01", None],
    })  # fmt: skip
    invoices = pd.DataFrame({
        "invoice_id": [f"I-{i}-{k}" for i in range(n) for k in (1, 2)],
        "supplier_id": "S-1",
        "debtor_id": np.repeat(ids, 2),
        "amount": 5000.0,
        "currency": "EUR",
        "issue_date": "2024-01-10",
        "due_date": "2024-03-10",
        "paid_date": ["2024-03-20", None] * n,
        "credit_note_amount": 0.0,
        "disputed_amount": 0.0,
    })  # fmt: skip
    exposures = pd.DataFrame({
        "supplier_id": "S-1", "debtor_id": ids, "currency": "EUR",
        "requested_limit": 60_000.0, "approved_limit": 50_000.0,
        "approved_outstanding": 20_000.0, "unapproved_outstanding": 0.0,
        "annual_sales": 200_000.0, "credit_days": 60,
    })  # fmt: skip
    relations = pd.DataFrame({"supplier_id": ["S-2"], "debtor_id": [ids[0]],
                              "relation_type": ["same_group"]})  # fmt: skip
    insurer_limits = pd.DataFrame({  # issue 16: one on a pair, one on a debtor
        "insurer_id": "INS-1", "policy_id": "CI-1", "debtor_id": [ids[0], ids[-1]],
        "supplier_id": ["S-1", None], "currency": "EUR",
        "requested_amount": [60_000.0, 80_000.0], "granted_amount": [50_000.0, None],
        "cover_pct": [0.9, 0.85], "status": ["granted", "pending"],
        "decision_date": ["2024-06-01", None], "effective_date": [None, None],
    })  # fmt: skip
    return {
        "debtors": debtors, "suppliers": suppliers, "statements": statements,
        "adverse_records": adverse, "invoices": invoices, "exposures": exposures,
        "relations": relations, "insurer_limits": insurer_limits,
    }  # fmt: skip


def only(errors: pd.DataFrame, reason: str) -> pd.DataFrame:
    """The error rows with ``reason`` (asserting the frame has the error-row columns)."""
    assert tuple(errors.columns) == schemas.ERROR_COLUMNS
    return errors[errors["reason"] == reason].reset_index(drop=True)


def check(table: str, df: pd.DataFrame, **kw: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    return validate_table(df, schemas.CONTRACTS[table], **kw)


# --- a clean table --------------------------------------------------------------------


def test_valid_tables_come_back_whole_with_canonical_dtypes() -> None:
    p = make_portfolio()
    out = validate_portfolio(p, reference_date=REF)
    assert out.errors.empty and out.rejected_debtors == ()
    for name, frame in out.frames.items():
        assert tuple(frame.columns) == schemas.CONTRACTS[name].names
        assert len(frame) == (len(p[name]) if name in p else 0)  # outcomes: not given
        assert isinstance(frame.index, pd.RangeIndex)
    st_ = out.frames["statements"]
    assert st_["debtor_id"].dtype == "str" and st_["statement_type"].dtype == "str"
    assert st_["period_end"].dtype == "datetime64[ns]"
    assert st_["total_assets"].dtype == "float64"
    assert st_["market_value"].isna().all()  # optional column, absent: all missing
    deb = out.frames["debtors"]
    assert deb["listed"].dtype == bool and deb["incorporation_date"].dtype == "datetime64[ns]"
    assert deb["group_id"].isna().all()
    assert out.frames["exposures"]["credit_days"].dtype == "Int64"
    assert out.frames["statements"].loc[0, "period_end"] == pd.Timestamp("2022-12-31")


def test_validate_table_keeps_valid_rows_and_reports_the_others() -> None:
    df = make_portfolio()["statements"]
    df.loc[3, "total_assets"] = -5.0
    clean, errors = check("statements", df)
    assert len(clean) == len(df) - 1 and len(errors) == 1
    assert clean["total_assets"].ge(0).all()


def test_flags_given_as_text_are_parsed_and_nonsense_is_not_bool() -> None:
    df = make_portfolio()["debtors"].assign(listed=["yes", "no", "True", "maybe"])
    clean, errors = check("debtors", df)
    assert clean["listed"].tolist() == [True, False, True]
    row = only(errors, "not_bool").iloc[0]
    assert (row["debtor_id"], row["value"]) == ("D-103", "maybe")


# --- table-level problems -----------------------------------------------------------


def test_missing_column_is_a_table_error_and_no_row_is_valid() -> None:
    df = make_portfolio()["statements"].drop(columns="total_assets")
    clean, errors = check("statements", df)
    assert clean.empty and tuple(clean.columns) == schemas.STATEMENTS.names
    row = only(errors, "missing_column").iloc[0]
    assert row["column"] == "total_assets" and pd.isna(row["record"])
    assert "required column 'total_assets' is missing" in row["message"]


def test_missing_column_in_strict_portfolio_raises() -> None:
    p = make_portfolio()
    p["statements"] = p["statements"].drop(columns="total_assets")
    with pytest.raises(InvalidInputError, match=r"required column 'total_assets' is missing"):
        validate_portfolio(p, strict=True)


def test_missing_optional_column_is_fine() -> None:
    df = make_portfolio()["statements"]
    assert "market_value" not in df.columns
    assert check("statements", df)[1].empty


def test_extra_column_rejects_the_table() -> None:
    df = make_portfolio()["invoices"].assign(discount=0.0)
    clean, errors = check("invoices", df)
    assert clean.empty
    row = only(errors, "extra_column").iloc[0]
    assert row["column"] == "discount"
    assert "column 'discount' is not in the contract" in row["message"]


def test_column_given_twice_is_an_extra_column() -> None:
    df = make_portfolio()["relations"]
    df = pd.concat([df, df[["relation_type"]]], axis=1)
    clean, errors = check("relations", df)
    assert clean.empty
    assert "appears 2 times" in only(errors, "extra_column").loc[0, "message"]


def test_table_level_error_rejects_every_debtor_with_records_there() -> None:
    p = make_portfolio()
    p["adverse_records"] = p["adverse_records"].assign(note="x")  # D-100, A-2: D-103
    out = validate_portfolio(p)
    assert out.rejected_debtors == ("D-100", "D-103")
    assert out.frames["debtors"]["debtor_id"].tolist() == ["D-101", "D-102"]
    summary = only(out.errors, "debtor_rejected")
    assert summary["message"].str.contains("table 'adverse_records' was rejected").all()


# --- row-level problems -------------------------------------------------------------


def test_string_in_numeric_field_names_the_value() -> None:
    df = make_portfolio()["statements"]
    df["total_assets"] = df["total_assets"].astype(object)
    df.loc[1, "total_assets"] = "abc"
    _, errors = check("statements", df)
    row = only(errors, "not_numeric").iloc[0]
    assert (row["record"], row["debtor_id"], row["column"], row["value"]) == (
        "D-100 2023-12-31", "D-100", "total_assets", "abc")  # fmt: skip
    assert row["message"] == (
        "Debtor 'D-100': total_assets is 'abc' in the 2023-12-31 statement; it must be a finite "
        "number. Correct the statement or remove it."
    )


def test_string_in_numeric_field_strict_raises() -> None:
    p = make_portfolio()
    p["invoices"] = p["invoices"].assign(amount=["12,5"] + [100.0] * 7)
    with pytest.raises(InvalidInputError, match=r"amount is '12,5' in invoice 'I-0-1'"):
        validate_portfolio(p, strict=True)


def test_negative_total_assets_house_style_message() -> None:
    """Golden message: the house style sentence of the task brief, word for word."""
    df = make_portfolio(3)["statements"]
    df.loc[5, "total_assets"] = -5.0  # D-102, 2023-12-31
    _, errors = check("statements", df)
    row = only(errors, "negative").iloc[0]
    assert row["message"] == (
        "Debtor 'D-102': total_assets is -5.0 in the 2023-12-31 statement; it must be >= 0. "
        "Correct the statement or remove it."
    )
    assert (row["record"], row["value"]) == ("D-102 2023-12-31", "-5.0")


def test_missing_required_value() -> None:
    df = make_portfolio()["statements"]
    df.loc[0, "revenue"] = np.nan
    df.loc[0, "cash"] = np.nan  # nullable: fine
    _, errors = check("statements", df)
    assert errors["reason"].tolist() == ["missing_value"]
    assert errors.loc[0, "message"].startswith(
        "Debtor 'D-100': revenue is missing in the 2022-12-31"
    )


def test_blank_identifier_is_missing() -> None:
    df = make_portfolio()["debtors"]
    df.loc[2, "name"] = "   "
    _, errors = check("debtors", df)
    row = only(errors, "missing_value").iloc[0]
    assert (row["debtor_id"], row["column"]) == ("D-102", "name")


def test_unparseable_date() -> None:
    df = make_portfolio()["invoices"]
    df.loc[2, "issue_date"] = "2024-13-45"
    _, errors = check("invoices", df)
    row = only(errors, "not_date").iloc[0]
    assert (row["record"], row["value"]) == ("S-1 I-1-1", "2024-13-45")  # key (supplier, invoice)
    assert "issue_date is '2024-13-45' in invoice 'I-1-1'; it must be a date" in row["message"]


def test_only_iso_date_text_is_read() -> None:
    """Issue 13 point 3: '01/06/2026', 'June 2026', month 13 and a timestamp written as
    text are not_date (named by record and field), never reinterpreted; a date object
    in an object column (a Python caller's frame) is its day."""
    import datetime as dt

    df = make_portfolio()["invoices"].astype({"issue_date": object})
    df.loc[0, "issue_date"] = "01/06/2024"
    df.loc[1, "issue_date"] = "June 2024"
    df.loc[2, "issue_date"] = "2024-13-01"
    df.loc[3, "issue_date"] = "2024-01-05T00:00:00"
    clean, errors = check("invoices", df)
    bad = only(errors, "not_date")
    assert bad["value"].tolist() == ["01/06/2024", "June 2024", "2024-13-01",
                                     "2024-01-05T00:00:00"]
    assert set(bad["column"]) == {"issue_date"}
    assert not set(bad["record"]) & set(clean["invoice_id"])
    assert "issue_date is '01/06/2024' in invoice" in bad.loc[0, "message"]
    ok = make_portfolio()["invoices"].astype({"issue_date": object})
    ok.loc[0, "issue_date"] = dt.date(2024, 1, 5)
    ok.loc[1, "issue_date"] = pd.Timestamp("2024-01-05 10:30")
    clean, errors = check("invoices", ok)
    assert errors.empty
    assert clean["issue_date"].iloc[:2].tolist() == [pd.Timestamp("2024-01-05")] * 2


def test_fractional_integer() -> None:
    df = make_portfolio()["exposures"].assign(credit_days=[60, 2.5, 30, None])
    clean, errors = check("exposures", df)
    assert only(errors, "not_integer")["debtor_id"].tolist() == ["D-101"]
    assert clean["credit_days"].tolist()[:2] == [60, 30] and pd.isna(clean["credit_days"].iloc[2])


def test_future_dated_record() -> None:
    df = make_portfolio()["statements"]
    df.loc[1, "period_end"] = "2031-12-31"
    _, errors = check("statements", df, reference_date=REF)
    row = only(errors, "future_date").iloc[0]
    assert row["value"] == "2031-12-31" and row["record"] == "D-100 2031-12-31"
    assert "after the reference date 2025-01-01" in row["message"]
    assert check("statements", df)[1].empty  # no reference date: no future check


def test_future_dated_record_strict_raises() -> None:
    p = make_portfolio()
    p["adverse_records"].loc[1, "event_date"] = "2030-01-01"
    with pytest.raises(
        InvalidInputError, match=r"event_date is 2030-01-01 in adverse record 'A-2'"
    ):
        validate_portfolio(p, reference_date=REF, strict=True)


def test_duplicate_statement_periods_flag_every_row_of_the_key() -> None:
    df = make_portfolio()["statements"]
    df.loc[3, "period_end"] = "2022-12-31"  # D-101 now has two 2022 statements
    clean, errors = check("statements", df)
    dup = only(errors, "duplicate_key")
    assert dup["record"].tolist() == ["D-101 2022-12-31"] * 2
    assert dup["column"].tolist() == ["debtor_id,period_end"] * 2
    assert "2 records of table 'statements' share the key" in dup.loc[0, "message"]
    assert len(clean) == len(df) - 2


def test_unknown_event_type() -> None:
    p = make_portfolio()
    p["adverse_records"].loc[0, "event_type"] = "fraud"
    with pytest.raises(InvalidInputError, match=r"event_type is 'fraud' in adverse record 'A-1'"):
        validate_portfolio(p, strict=True)


def test_unknown_currency_and_a_hint_for_lower_case() -> None:
    df = make_portfolio()["statements"]
    df.loc[0, "currency"] = "XXX"
    df.loc[2, "currency"] = "eur"
    _, errors = check("statements", df)
    rows = only(errors, "unknown_currency")
    assert rows["value"].tolist() == ["XXX", "eur"]
    assert "did you mean 'EUR'?" in rows.loc[1, "message"]
    assert "did you mean" not in rows.loc[0, "message"]


def test_date_order_rules() -> None:
    p = make_portfolio()
    inv = p["invoices"]
    inv.loc[0, "due_date"] = "2024-01-01"  # before issue 2024-01-10
    inv.loc[2, "paid_date"] = "2023-12-01"
    adv = p["adverse_records"]
    adv.loc[0, "settlement_date"] = "2022-04-01"  # before the event 2022-05-01
    _, inv_err = check("invoices", inv)
    assert only(inv_err, "date_order")[["record", "column"]].values.tolist() == [
        ["S-1 I-0-1", "due_date"], ["S-1 I-1-1", "paid_date"]]  # fmt: skip
    assert (
        "Debtor 'D-100': due_date 2024-01-01 is before issue_date 2024-01-10 in invoice 'I-0-1'"
        in inv_err.loc[0, "message"]
    )
    _, adv_err = check("adverse_records", adv)
    assert only(adv_err, "date_order")["record"].tolist() == ["D-100 A-1"]


def test_settlement_status_must_match_settlement_date() -> None:
    adv = make_portfolio()["adverse_records"]
    adv["settlement_date"] = [None, "2023-03-01"]  # A-1 settled without a date, A-2 open with one
    _, errors = check("adverse_records", adv)
    rows = only(errors, "date_order")
    assert rows["record"].tolist() == ["D-100 A-1", "D-103 A-2"]
    assert "status is 'settled' but settlement_date is missing" in rows.loc[0, "message"]
    assert "status is 'open' but settlement_date is 2023-03-01" in rows.loc[1, "message"]


# --- accounting identities ----------------------------------------------------------


def test_broken_identity_names_debtor_period_and_amounts() -> None:
    df = make_portfolio()["statements"]
    df.loc[2, "total_assets"] = 1000.0  # D-101 2022: 1000 vs 500 + 300 = 800
    errors = check_identities(check("statements", df)[0])
    row = only(errors, "identity_broken").iloc[0]
    assert (row["record"], row["column"], row["value"]) == (
        "D-101 2022-12-31", "total_assets", "1000.0 vs 800.0")  # fmt: skip
    assert row["message"].startswith(
        "Debtor 'D-101': total_assets is 1,000.00 in the 2022-12-31 statement, but "
        "total_liabilities + equity is 800.00 (500.00 + 300.00); the gap of 200.00 exceeds the "
        "tolerance of 21.00 (2% of the larger side plus 1)."
    )  # tolerance by hand: 0.02 * max(1000, 800) + 1 = 21


def test_identities_within_tolerance_or_with_missing_items_pass() -> None:
    df = make_portfolio()["statements"]
    df.loc[0, "total_assets"] = 815.0  # gap 15 <= 0.02 * 815 + 1 = 17.3
    df.loc[1, "ebit"] = 110.0  # gap 10 > 0.02 * 120 + 1 = 3.4: broken
    df.loc[2, ["total_assets", "total_liabilities", "equity"]] = np.nan  # tax return style
    df.loc[2, "statement_type"] = "tax_return"
    errors = check_identities(check("statements", df)[0])
    assert errors[["record", "column"]].values.tolist() == [["D-100 2023-12-31", "ebit"]]
    assert (
        "ebitda - depreciation_amortization is 120.00 (150.00 - 30.00)" in errors.loc[0, "message"]
    )


def test_broken_identity_rejects_the_debtor_in_a_portfolio() -> None:
    p = make_portfolio()
    p["statements"].loc[7, "gross_profit"] = 100.0  # D-103 2023: 1000 - 600 = 400
    out = validate_portfolio(p)
    assert out.rejected_debtors == ("D-103",)
    with pytest.raises(InvalidInputError, match=r"gross_profit is 100\.00 in the 2023-12-31"):
        validate_portfolio(p, strict=True)


def test_identity_tolerances_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        check_identities(make_portfolio()["statements"], rel_tol=-0.1)


# --- cross-table checks -------------------------------------------------------------


def test_unknown_debtor() -> None:
    p = make_portfolio()
    p["statements"].loc[0, "debtor_id"] = "D-999"
    out = validate_portfolio(p)
    row = only(out.errors, "unknown_debtor").iloc[0]
    assert (row["table"], row["record"], row["debtor_id"]) == (
        "statements", "D-999 2022-12-31", "D-999")  # fmt: skip
    assert "Debtor 'D-999': the debtor is not in the debtors table" in row["message"]
    assert "D-999" not in out.rejected_debtors and out.rejected_debtors == ()
    assert "D-999" not in set(out.frames["statements"]["debtor_id"])
    assert len(out.frames["statements"]) == len(p["statements"]) - 1


def test_unknown_or_rejected_supplier() -> None:
    p = make_portfolio()
    p["exposures"].loc[1, "supplier_id"] = "S-404"
    p["suppliers"].loc[1, "ledger_total"] = -1.0  # S-2 invalid: its relation is not usable
    out = validate_portfolio(p)
    rows = only(out.errors, "unknown_supplier")
    assert rows[["table", "debtor_id"]].values.tolist() == [
        ["exposures", "D-101"], ["relations", "D-100"]]  # fmt: skip
    assert (
        "supplier 'S-404' in the exposure to supplier 'S-404' is not in the suppliers"
        in rows.loc[0, "message"]
    )
    assert "was rejected in the suppliers table" in rows.loc[1, "message"]
    assert out.rejected_debtors == ("D-100", "D-101")
    assert out.frames["suppliers"]["supplier_id"].tolist() == ["S-1"]


def test_supplier_check_is_skipped_without_a_suppliers_table() -> None:
    p = make_portfolio()
    del p["suppliers"]
    out = validate_portfolio(p)
    assert out.errors.empty and len(out.frames["suppliers"]) == 0


def test_portfolio_needs_debtors_and_ignores_unknown_tables() -> None:
    p = make_portfolio()
    debtors = p.pop("debtors")
    with pytest.raises(InvalidInputError, match=r"no 'debtors' table"):
        validate_portfolio(p)
    out = validate_portfolio({"debtors": debtors, "ratings": pd.DataFrame({"x": [1]})})
    assert only(out.errors, "unknown_table")["column"].tolist() == ["ratings"]
    assert len(out.frames["debtors"]) == len(debtors)  # absent tables are empty, not errors
    assert all(len(out.frames[t]) == 0 for t in ("statements", "invoices", "exposures"))


# --- the batch rule -----------------------------------------------------------------


def test_batch_of_50_with_3_bad_debtors() -> None:
    p = make_portfolio(50)
    p["statements"].loc[10, "total_assets"] = -1.0  # D-105
    p["invoices"].loc[41, "currency"] = "ZZZ"  # D-120
    p["debtors"].loc[33, "legal_form"] = "llc"  # D-133
    out = validate_portfolio(p, reference_date=REF)
    assert out.rejected_debtors == ("D-105", "D-120", "D-133")
    clean_ids = set(out.frames["debtors"]["debtor_id"])
    assert len(clean_ids) == 47 and not clean_ids & set(out.rejected_debtors)
    s = out.summary()
    assert s["debtors_in"] == 50 == s["debtors_clean"] + s["debtors_rejected"]
    # -1 total assets also breaks assets = liabilities + equity: both are reported
    assert (s["problems"], s["reason_identity_broken"], s["reason_debtor_rejected"]) == (4, 1, 3)
    # a rejected debtor keeps no record anywhere; a clean debtor keeps all of them
    for name in ("statements", "invoices", "exposures", "adverse_records", "relations"):
        kept = out.frames[name]["debtor_id"]
        assert not kept.isin(out.rejected_debtors).any()
        assert len(kept) == p[name]["debtor_id"].isin(list(clean_ids)).sum()
        assert s[f"{name}_in"] == len(p[name])
    assert s["statements_clean"] == 2 * 47
    summary = only(out.errors, "debtor_rejected")
    assert summary["debtor_id"].tolist() == ["D-105", "D-120", "D-133"]
    assert summary.loc[0, "message"] == (
        "Debtor 'D-105' is rejected whole: 2 problems in its records (first: negative in "
        "statements.total_assets). It is not rated on partial data; correct its records and send "
        "the debtor again."
    )


def test_strict_lists_every_problem() -> None:
    p = make_portfolio(50)
    p["statements"].loc[10, "inventory"] = -1.0  # in no identity: one problem
    p["invoices"].loc[41, "currency"] = "ZZZ"
    p["debtors"].loc[33, "legal_form"] = "llc"
    p["exposures"].loc[7, "approved_limit"] = -3.0
    with pytest.raises(
        InvalidInputError, match=r"^4 problems in the input: \(1\) Debtor 'D-133'"
    ) as ei:
        validate_portfolio(p, strict=True)
    assert len(ei.value.problems) == 4
    assert {q["reason"] for q in ei.value.problems} == {
        "negative",
        "unknown_currency",
        "unknown_category",
    }
    assert "and 1 more" in str(ei.value)
    assert ei.value.first["debtor_id"] == "D-133" and ei.value.first["table"] == "debtors"


def test_raise_if_errors() -> None:
    raise_if_errors(check("relations", make_portfolio()["relations"])[1])  # nothing to raise
    df = make_portfolio()["relations"].assign(relation_type="cousin")
    errors = check("relations", df)[1]
    with pytest.raises(InvalidInputError, match=r"^1 problem in the input: \(1\) Debtor 'D-100'"):
        raise_if_errors(errors)


def test_result_is_frozen() -> None:
    out = validate_portfolio(make_portfolio())
    assert isinstance(out, ValidatedPortfolio)
    with pytest.raises(AttributeError, match="cannot assign to field 'errors'"):
        out.errors = pd.DataFrame()  # type: ignore[misc]


CORRUPTIONS = {
    "negative": ("statements", "total_assets", -1.0),
    "not_numeric": ("statements", "ebitda", "n/a"),
    "future": ("statements", "period_end", "2099-12-31"),
    "event": ("adverse_records", "event_type", "fraud"),
    "currency": ("invoices", "currency", "DOGE"),
    "order": ("invoices", "due_date", "2020-01-01"),
    "legal_form": ("debtors", "legal_form", "llc"),
    "limit": ("exposures", "approved_limit", -5.0),
}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(picks=st.dictionaries(st.integers(0, 11), st.sampled_from(sorted(CORRUPTIONS)), max_size=6))
def test_property_rejects_exactly_the_corrupted_debtors_and_never_mutates(
    picks: dict[int, str],
) -> None:
    p = make_portfolio(12)
    adv = p["adverse_records"]  # give every debtor an adverse record to corrupt
    p["adverse_records"] = pd.DataFrame({
        "record_id": [f"A-{i}" for i in range(12)], "debtor_id": p["debtors"]["debtor_id"],
        "event_type": "tax_debt", "event_date": "2021-01-01", "amount": 10.0,
        "currency": "EUR", "status": "open", "settlement_date": None,
    }) if len(adv) else adv  # fmt: skip
    for i, kind in picks.items():
        table, column, value = CORRUPTIONS[kind]
        df = p[table]
        row = int(np.flatnonzero(df["debtor_id"].to_numpy() == f"D-{100 + i}")[0])
        df[column] = df[column].astype(object)
        df.loc[row, column] = value
    before = {k: v.copy(deep=True) for k, v in p.items()}
    out = validate_portfolio(p, reference_date=REF)
    for k in p:
        pd.testing.assert_frame_equal(p[k], before[k])
    expected = tuple(sorted(f"D-{100 + i}" for i in picks))
    assert out.rejected_debtors == expected
    s = out.summary()
    assert s["debtors_in"] == 12 == s["debtors_clean"] + s["debtors_rejected"]
    assert set(out.problems["debtor_id"]) == set(expected)


def test_inputs_with_odd_index_and_dtypes_are_not_mutated() -> None:
    p = make_portfolio()
    p["statements"].index = pd.Index(range(100, 100 + len(p["statements"])))
    p["statements"]["period_end"] = pd.to_datetime(p["statements"]["period_end"])
    p["debtors"]["legal_form"] = p["debtors"]["legal_form"].astype("category")
    before = {k: v.copy(deep=True) for k, v in p.items()}
    out = validate_portfolio(p, reference_date=REF)
    assert out.errors.empty
    for k in p:
        pd.testing.assert_frame_equal(p[k], before[k])
    assert out.frames["debtors"]["legal_form"].dtype == "str"


def test_every_message_is_a_sentence_naming_what_to_do() -> None:
    p = make_portfolio(10)
    p["adverse_records"] = pd.DataFrame({  # one record per debtor: every corruption applies
        "record_id": [f"A-{i}" for i in range(10)], "debtor_id": p["debtors"]["debtor_id"],
        "event_type": "tax_debt", "event_date": "2021-01-01", "amount": 10.0,
        "currency": "EUR", "status": "open", "settlement_date": None,
    })  # fmt: skip
    for kind, (table, column, value) in CORRUPTIONS.items():
        i = sorted(CORRUPTIONS).index(kind)
        df = p[table]
        rows = np.flatnonzero(df["debtor_id"].to_numpy() == f"D-{100 + i}")
        assert len(rows), kind
        df[column] = df[column].astype(object)
        df.loc[int(rows[0]), column] = value
    out = validate_portfolio(p, reference_date=REF)
    # one problem per corruption, plus the identity the negative total_assets breaks
    assert len(out.problems) == len(CORRUPTIONS) + 1
    assert set(out.problems["reason"]) >= {"unknown_category", "identity_broken"}
    for msg in out.errors["message"]:
        assert re.match(r"^(Debtor|Table|Supplier) '", msg) and msg.endswith(".")
        assert re.search(r"(Correct|Fill|Keep|Add|Remove|fix|correct)", msg)


def test_generated_portfolio_validates_clean() -> None:
    from riskengine.synthetic import generate_portfolio

    p = generate_portfolio(300, seed=7, as_of="2026-06-30")
    out = validate_portfolio(p, reference_date="2026-06-30")
    assert out.errors.empty, out.errors["message"].head().tolist()
    assert {k: len(v) for k, v in out.frames.items()} == {
        **{k: len(v) for k, v in p.items()}, "outcomes": 0}  # outcomes: not generated


def test_debtors_without_an_id_column_leave_no_clean_record() -> None:
    p = make_portfolio()
    p["debtors"] = p["debtors"].drop(columns="debtor_id")
    out = validate_portfolio(p)
    assert only(out.errors, "missing_column")["table"].tolist() == ["debtors"]
    assert all(len(out.frames[t]) == 0 for t in schemas.CONTRACTS if t != "suppliers")
    assert len(out.frames["suppliers"]) == 2


def test_debtors_rows_without_an_id_are_counted_in_and_rejected() -> None:
    """50 rows, one with a missing and one with a blank id: 50 in = 48 clean + 2 rejected."""
    p = make_portfolio(50)
    p["debtors"].loc[7, "debtor_id"] = None
    p["debtors"].loc[8, "debtor_id"] = " "
    s = validate_portfolio(p, reference_date=REF).summary()
    assert (s["debtors_in"], s["debtors_clean"], s["debtors_rejected"]) == (50, 48, 2)
    assert s["reason_missing_value"] == 2
