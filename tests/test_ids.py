"""Ids are one grammar everywhere (issue 13, point 7).

The batch contracts refuse the ids the HTTP API refuses (``D,5``, ``D\\n6``,
`` D000008 ``: the issue's three examples, decided in batch before), each as an
error row naming table, record, column and value, its debtor rejected whole.
Invoice ids are keyed per supplier and adverse-record ids per debtor, so two
suppliers both numbering an invoice ``INV-0001`` do not collide; a true
duplicate (same supplier, same invoice id) is still refused.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pydantic import TypeAdapter, ValidationError
from test_validation import REF, make_portfolio, only

from riskengine.contracts import schemas
from riskengine.contracts.ids import ID_MAX_LENGTH, ID_PATTERN, is_identifier
from riskengine.contracts.payload import Identifier, payload_to_frames
from riskengine.validation import keys, validate_portfolio

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "examples" / "debtor.json").read_text())

GOOD = ["D-1", "D000008", "S/7:2023.1", "a_b", "9", "x" * ID_MAX_LENGTH]
BAD = ["D,5", "D\n6", " D000008 ", "D\n", "\nD", "-D", "_D", "/D", "D 1", "D'1", "é",
       "D\t", "x" * (ID_MAX_LENGTH + 1), ""]  # fmt: skip


# --- the grammar ---------------------------------------------------------------------


@pytest.mark.parametrize("value", GOOD + BAD)
def test_python_pydantic_and_arrow_agree_on_the_grammar(value: str) -> None:
    """Three regex engines read ID_PATTERN; ``$`` before a final newline is the trap."""
    expected = value in GOOD
    assert is_identifier(value) is expected
    try:
        TypeAdapter(Identifier).validate_python(value)
        pydantic_ok = True
    except ValidationError:
        pydantic_ok = False
    assert pydantic_ok is expected
    arrow_ok = pc.match_substring_regex(pa.array([value]), ID_PATTERN)[0].as_py()
    assert arrow_ok is expected


def test_every_id_column_is_declared_and_keys_are_per_owner() -> None:
    ids = {(t.name, c.name) for t in schemas.CONTRACTS.values() for c in t.columns
           if c.identifier}
    for t in schemas.CONTRACTS.values():
        for c in t.columns:
            if c.name.endswith("_id") and c.name != "tax_id":
                assert (t.name, c.name) in ids
    assert schemas.INVOICES.key == ("supplier_id", "invoice_id")
    assert schemas.ADVERSE_RECORDS.key == ("debtor_id", "record_id")
    with pytest.raises(ValueError, match="identifier column is a str column"):
        schemas.Column("x_id", "int", identifier=True)


# --- batch: bad ids are error rows -----------------------------------------------------


@pytest.mark.parametrize("bad", ["D,5", "D\n6", " D000008 "])
def test_bad_debtor_id_is_an_error_row_and_the_debtor_is_rejected(bad: str) -> None:
    p = make_portfolio()
    old = p["debtors"].loc[1, "debtor_id"]
    for name in ("debtors", "statements", "invoices", "exposures"):
        df = p[name]
        df["debtor_id"] = df["debtor_id"].where(df["debtor_id"] != old, bad)
    out = validate_portfolio(p, reference_date=REF)
    rows = only(out.errors, "bad_id")
    assert set(rows["table"]) == {"debtors", "statements", "invoices", "exposures"}
    assert set(rows["column"]) == {"debtor_id"} and set(rows["value"]) == {bad}
    first = rows[rows["table"] == "debtors"].iloc[0]
    assert first["record"] == bad
    assert first["message"].startswith(f"Debtor {bad!r}: debtor_id is {bad!r} in the debtors")
    assert "an identifier of 1 to 64 characters" in first["message"]
    assert out.rejected_debtors == (bad,)
    assert all("\n" not in m for m in out.errors["message"])  # one line each
    for frame in out.frames.values():
        if "debtor_id" in frame:
            assert bad not in set(frame["debtor_id"])
    assert len(out.frames["debtors"]) == 3  # the others are clean


@pytest.mark.parametrize("table,column", sorted(
    (t.name, c.name) for t in schemas.CONTRACTS.values() for c in t.columns if c.identifier))
def test_every_id_column_refuses_a_bad_id(table: str, column: str) -> None:
    p = make_portfolio()
    # the optional table the plain portfolio leaves out: one default of its first debtor
    p.setdefault("outcomes", pd.DataFrame({
        "debtor_id": [p["debtors"]["debtor_id"].iloc[0]], "default_date": ["2024-03-31"],
        "default_type": ["insolvency"]}))
    p[table] = p[table].astype({column: object})
    p[table].loc[0, column] = "X,1"
    out = validate_portfolio(p, reference_date=REF)
    row = only(out.errors, "bad_id")
    row = row[row["table"] == table].iloc[0]
    assert (row["column"], row["value"]) == (column, "X,1")
    assert f"{column} is 'X,1'" in row["message"]
    assert len(out.frames[table]) < len(p[table])  # the row is not clean
    if column != "debtor_id" or table == "debtors":  # (else the row's debtor is unknown)
        assert out.rejected_debtors


def test_missing_nullable_id_is_not_a_bad_id() -> None:
    out = validate_portfolio(make_portfolio(), reference_date=REF)  # group_id None, 'G-9'
    assert out.errors.empty


# --- keys per owner ---------------------------------------------------------------------


def _second_supplier_reuses_invoice_ids(p: dict[str, pd.DataFrame]) -> None:
    """Debtor D-101's invoices come from S-2, numbered as S-1 numbers D-100's."""
    inv = p["invoices"]
    d101 = inv["debtor_id"] == "D-101"
    inv.loc[d101, "supplier_id"] = "S-2"
    inv.loc[d101, "invoice_id"] = inv.loc[inv["debtor_id"] == "D-100", "invoice_id"].to_numpy()


def test_same_invoice_id_under_two_suppliers_is_not_a_duplicate() -> None:
    p = make_portfolio()
    _second_supplier_reuses_invoice_ids(p)
    out = validate_portfolio(p, reference_date=REF)
    assert out.errors.empty and out.rejected_debtors == ()
    assert len(out.frames["invoices"]) == len(p["invoices"])


def test_same_supplier_same_invoice_id_is_still_a_duplicate() -> None:
    p = make_portfolio()
    inv = p["invoices"]
    inv.loc[2, "invoice_id"] = inv.loc[0, "invoice_id"]  # S-1 numbers two invoices I-0-1
    out = validate_portfolio(p, reference_date=REF)
    dup = only(out.errors, "duplicate_key")
    assert dup["record"].tolist() == ["S-1 I-0-1"] * 2
    assert dup["column"].tolist() == ["supplier_id,invoice_id"] * 2
    assert "share the key (supplier_id, invoice_id) = (S-1 I-0-1)" in dup.loc[0, "message"]
    assert out.rejected_debtors == ("D-100", "D-101")


def test_adverse_record_ids_are_per_debtor() -> None:
    p = make_portfolio()
    adv = p["adverse_records"]
    adv.loc[1, "record_id"] = adv.loc[0, "record_id"]  # A-1 of D-100 and A-1 of D-103
    assert validate_portfolio(p, reference_date=REF).errors.empty
    adv.loc[1, "debtor_id"] = adv.loc[0, "debtor_id"]  # now D-100 has A-1 twice
    dup = only(validate_portfolio(p, reference_date=REF).errors, "duplicate_key")
    assert dup["record"].tolist() == ["D-100 A-1"] * 2


def test_one_increasing_key_column_proves_the_key_unique() -> None:
    frame = pd.DataFrame({"supplier_id": pd.array(["S-2", "S-1", "S-2"], dtype="str"),
                          "invoice_id": pd.array(["I-1", "I-2", "I-3"], dtype="str")})
    assert keys._unique_rows(frame, ("supplier_id", "invoice_id"))
    frame["invoice_id"] = pd.array(["I-1", "I-2", "I-2"], dtype="str")
    assert not keys._unique_rows(frame, ("supplier_id", "invoice_id"))


def test_composite_keys_shortcut_same_as_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_portfolio()
    _second_supplier_reuses_invoice_ids(p)
    p["invoices"].loc[7, "invoice_id"] = p["invoices"].loc[6, "invoice_id"]  # a real duplicate
    for name in ("invoices", "adverse_records"):
        p[name] = p[name].astype({c: "str" for c in p[name].columns if c.endswith("_id")})
    fast = validate_portfolio(p, reference_date=REF)
    monkeypatch.setattr(keys, "_steps", lambda s: None)
    slow = validate_portfolio(p, reference_date=REF)
    pd.testing.assert_frame_equal(fast.errors, slow.errors)
    assert fast.rejected_debtors == slow.rejected_debtors == ("D-103",)


# --- the engine decides both ----------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> Any:
    from riskengine.api import load_engine

    return load_engine()


def _pair(debtor_id: str, supplier_id: str) -> dict[str, Any]:
    p = copy.deepcopy(EXAMPLE)
    p["debtor"]["debtor_id"] = debtor_id
    p["exposure"]["supplier_id"] = supplier_id
    return p


def test_two_suppliers_numbering_invoices_alike_are_both_decided(engine: Any) -> None:
    frames = payload_to_frames([_pair("D-1", "S-1"), _pair("D-2", "S-2")])
    assert frames["invoices"]["invoice_id"].duplicated().any()  # the same numbers
    batch = engine.decide(frames, EXAMPLE["as_of"])
    assert sorted(batch.decisions["debtor_id"]) == ["D-1", "D-2"]
    assert batch.errors.empty


def test_a_true_duplicate_invoice_still_rejects_its_debtors(engine: Any) -> None:
    frames = payload_to_frames([_pair("D-1", "S-1"), _pair("D-2", "S-1")])
    batch = engine.decide(frames, EXAMPLE["as_of"])
    assert batch.decisions.empty
    assert set(batch.errors.loc[batch.errors["reason"] == "duplicate_key", "table"]) == {
        "invoices"}


def test_bad_ids_are_error_rows_and_the_rest_is_decided(engine: Any) -> None:
    frames = payload_to_frames([_pair("D-1", "S-1"), _pair("D-2", "S-2")])
    for name in ("debtors", "statements", "adverse_records", "invoices", "exposures"):
        f = frames[name]
        f["debtor_id"] = f["debtor_id"].where(f["debtor_id"] != "D-2", "D,5")
    batch = engine.decide(frames, EXAMPLE["as_of"])
    assert batch.decisions["debtor_id"].tolist() == ["D-1"]
    assert "D,5" in set(batch.errors.loc[batch.errors["reason"] == "bad_id", "value"])


def test_input_hash_does_not_depend_on_the_order_of_reused_invoice_ids(engine: Any) -> None:
    """One debtor, invoices numbered alike by two suppliers: rows shuffled, same hash."""
    frames = payload_to_frames([_pair("D-1", "S-1"), _pair("D-2", "S-2")])
    inv = frames["invoices"][frames["invoices"]["debtor_id"] == "D-1"]
    other = inv.assign(supplier_id="S-2", amount=123.0)
    frames["invoices"] = pd.concat([inv, other], ignore_index=True)
    first = engine.decide(frames, EXAMPLE["as_of"])
    shuffled = dict(frames)
    order = np.random.default_rng(0).permutation(len(frames["invoices"]))
    shuffled["invoices"] = frames["invoices"].iloc[order].reset_index(drop=True)
    second = engine.decide(shuffled, EXAMPLE["as_of"])
    assert first.errors.empty and len(first.decisions) == 2
    pd.testing.assert_frame_equal(first.decisions, second.decisions)


# --- the command line -----------------------------------------------------------------------


def test_features_command_reports_the_issue_ids_from_a_csv_portfolio(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's three ids, written to CSV and read back, are error rows, not decided."""
    from riskengine.cli import main
    from riskengine.io.portfolio import write_portfolio

    p = make_portfolio()
    renamed = {"D-101": "D,5", "D-102": "D\n6", "D-103": " D000008 "}
    for frame in p.values():
        if "debtor_id" in frame:
            frame["debtor_id"] = frame["debtor_id"].replace(renamed)
    write_portfolio(p, tmp_path / "p", manifest={"as_of": "2024-12-31"}, fmt="csv")
    assert main(["features", "--portfolio", str(tmp_path / "p"), "--out",
                 str(tmp_path / "f")]) == 0
    assert "debtors in 4: clean 1, rejected 3" in capsys.readouterr().out
    errors = pd.read_parquet(tmp_path / "f" / "errors.parquet")
    bad = errors[(errors["reason"] == "bad_id") & (errors["table"] == "debtors")]
    assert sorted(bad["value"]) == sorted(renamed.values())
    assert set(bad["column"]) == {"debtor_id"}
    assert len(pd.read_parquet(tmp_path / "f" / "features.parquet")) == 1
