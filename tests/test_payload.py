"""The debtor payload: schema file, the example, rejections naming the field, frames."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from riskengine.contracts.payload import (
    DebtorPayload,
    parse_payload,
    parse_payloads,
    payload_json_schema,
    payload_to_frames,
)
from riskengine.contracts.schemas import CONTRACTS
from riskengine.errors import InvalidInputError
from riskengine.validation import validate_portfolio

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "debtor.json"
SCHEMA = ROOT / "examples" / "debtor.schema.json"


@pytest.fixture()
def example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())


def test_schema_file_is_the_generated_schema() -> None:
    """examples/debtor.schema.json is payload_json_schema() (regenerate it when models change)."""
    assert json.loads(SCHEMA.read_text()) == payload_json_schema()


def test_example_validates_against_the_schema_and_the_models(example: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert validator.is_valid(example)
    broken = json.loads(json.dumps(example))
    broken["statements"][1]["total_assets"] = "lots"
    del broken["debtor"]["debtor_id"]
    paths = {".".join(str(k) for k in e.absolute_path) for e in validator.iter_errors(broken)}
    assert {"statements.1.total_assets", "debtor"} <= paths, paths
    p = parse_payload(example)
    assert p.debtor.debtor_id == "GR-D-004711"
    assert len(p.statements) == 3 and len(p.adverse_records) == 2 and len(p.invoices) == 8
    assert {a.event_type for a in p.adverse_records} == {"bounced_cheque",
                                                          "mortgage_prenotation"}


def _set(d: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for k in keys[:-1]:
        d = d[int(k)] if k.isdigit() else d[k]  # type: ignore[index]
    last = keys[-1]
    if value is _DELETE:
        del d[last]
    else:
        d[last] = value


_DELETE = object()


@pytest.mark.parametrize(("path", "value", "field"), [
    ("statements.1.revenue", "19820000", "statements.1.revenue"),          # string in a number
    ("statements.0.total_assets", -1.0, "statements.0.total_assets"),      # negative
    ("adverse_records.0.event_type", "cheque", "adverse_records.0.event_type"),  # vocabulary
    ("adverse_records.0.settlement_date", None, "adverse_records.0.settlement_date"),  # settled
    ("invoices.2.due_date", "2025-01-01", "invoices.2.due_date"),          # before issue
    ("invoices.0.amount", _DELETE, "invoices.0.amount"),                   # missing
    ("invoices.0.currency", "EURO", "invoices.0.currency"),                # unknown currency
    ("invoices.0.supplier_id", "OTHER-1", "invoices.0.supplier_id"),       # another pair
    ("debtor.legal_form", "llc", "debtor.legal_form"),
    ("debtor.nickname", "x", "debtor.nickname"),                           # extra key
    ("debtor.name", "   ", "debtor.name"),                                 # blank
    ("debtor.listed", "no", "debtor.listed"),
    ("statements.2.period_end", "31/12/2025", "statements.2.period_end"),  # not ISO
    ("statements.2.period_end", "2024-12-31", "statements.2.period_end"),  # duplicate period
    ("exposure.requested_limit", None, "exposure.requested_limit"),        # and no sales/days?
    ("exposure.credit_days", 90.5, "exposure.credit_days"),
    ("exposure.supplier", _DELETE, "exposure.supplier"),
    ("as_of", "yesterday", "as_of"),
])
def test_broken_payload_is_refused_naming_the_field(
    example: dict[str, Any], path: str, value: Any, field: str
) -> None:
    bad = copy.deepcopy(example)
    if path == "exposure.requested_limit":
        bad["exposure"]["annual_sales"] = None
    _set(bad, path, value)
    with pytest.raises(InvalidInputError, match=rf"field '{field}'") as info:
        parse_payload(bad)
    assert info.value.problems[0]["column"] == field
    assert info.value.problems[0]["value"] == ""  # values are never echoed


def test_every_problem_is_reported_at_once(example: dict[str, Any]) -> None:
    bad = copy.deepcopy(example)
    bad["statements"][0]["revenue"] = -5.0
    bad["invoices"][1]["amount"] = "a lot"
    with pytest.raises(InvalidInputError, match="and 1 more") as info:
        parse_payloads([example, bad])
    assert [p["column"] for p in info.value.problems] == [
        "1.statements.0.revenue", "1.invoices.1.amount"]


def test_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="JSON object"):
        parse_payload([1, 2])  # type: ignore[arg-type]


def test_frames_follow_the_contracts_and_validate(example: dict[str, Any]) -> None:
    frames = payload_to_frames([example])
    assert "outcomes" not in frames  # a book's history (issue 17), never a decision's input
    for name, contract in CONTRACTS.items():
        if name != "outcomes":
            assert list(frames[name].columns) == list(contract.names), name
    assert len(frames["statements"]) == 3 and len(frames["invoices"]) == 8
    assert frames["statements"]["period_end"].dtype == np.dtype("datetime64[ns]")
    assert frames["exposures"]["credit_days"].dtype.name == "Int64"
    assert set(frames["invoices"]["supplier_id"]) == {"GR-S-000318"}
    assert frames["pair_terms"].to_dict("records") == [
        {"supplier_id": "GR-S-000318", "debtor_id": "GR-D-004711", "product": "non_recourse",
         "insurer_limit": 400000.0}]
    # the payload gives no dispersion of the supplier's debtors and no rating of it
    assert frames["supplier_book"].to_dict("records") == [
        {"supplier_id": "GR-S-000318", "debtor_hhi": pytest.approx(np.nan, nan_ok=True),
         "rating": None}]
    vp = validate_portfolio({k: v for k, v in frames.items()
                             if k not in ("pair_terms", "supplier_book")},
                            reference_date="2026-06-30")
    assert vp.errors.empty and len(vp.frames["debtors"]) == 1


def test_json_round_trip_with_ints_gives_the_same_frames(example: dict[str, Any]) -> None:
    def ints(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: ints(v) for k, v in o.items()}
        if isinstance(o, list):
            return [ints(v) for v in o]
        return int(o) if isinstance(o, float) and o.is_integer() else o

    a = payload_to_frames([example])
    b = payload_to_frames([json.loads(json.dumps(ints(example)))])
    for name in a:
        assert a[name].equals(b[name]), name


def test_one_debtor_per_payload_list(example: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match=r"1\.debtor\.debtor_id"):
        payload_to_frames([example, example])


def test_payload_models_are_frozen(example: dict[str, Any]) -> None:
    p = DebtorPayload.model_validate(example)
    with pytest.raises(Exception, match="frozen"):
        p.debtor.name = "x"  # type: ignore[misc]
