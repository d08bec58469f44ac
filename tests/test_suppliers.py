"""The pairs' suppliers in the engine (riskengine.scoring.suppliers, issue 16): their rating
(rated in the same call, from their own records in a payload, or given from the register),
their assessment, both paths alike, and bad input.

Figures are the shipped policy's (riskengine/config/policy.toml [supplier]); the example
payload (examples/debtor.json: debtor grade 5 with models/pd_model.skops retrained 2026-12-07, bench_us_protocol,
request 350,000, capacity 846,400) is the debtor throughout.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskengine.api import load_engine
from riskengine.contracts.payload import payload_to_frames
from riskengine.errors import InvalidInputError
from riskengine.policy.supplier import supplier_advance_rate
from riskengine.scoring.suppliers import SupplierBook

EXAMPLE = json.loads((Path(__file__).parent.parent / "examples" / "debtor.json").read_text())
KW = {"decided_at": "2026-06-30T00:00:00Z", "reference_date": "2026-06-30"}
SID = EXAMPLE["exposure"]["supplier_id"]


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


def _recourse(**supplier: Any) -> dict[str, Any]:
    p = copy.deepcopy(EXAMPLE)
    p["exposure"]["product"] = "recourse"
    p["exposure"]["supplier"].update(supplier)
    return p


def _weak_statements() -> list[dict[str, Any]]:
    """The example's statements made loss-making with negative equity (a weak firm)."""
    out = copy.deepcopy(EXAMPLE["statements"])
    for st in out:
        ta, rev = st["total_assets"], st["revenue"]
        st["ebitda"] = -0.04 * rev
        st["ebit"] = st["ebitda"] - st["depreciation_amortization"]
        st["operating_expenses"] = rev - st["ebitda"]
        st["net_income"] = st["ebit"] - st["interest_expense"]
        st["retained_earnings"] = -0.3 * ta
        st["equity"] = -0.1 * ta
        st["total_liabilities"] = 1.1 * ta
    return out


#: Recent, serious adverse records of the supplier (a payment order, a seizure).
ADVERSE = [{"record_id": "A1", "event_type": "payment_order", "event_date": "2026-03-01",
            "amount": 60000.0, "currency": "EUR", "status": "open", "settlement_date": None},
           {"record_id": "A2", "event_type": "seizure", "event_date": "2026-01-10",
            "amount": 90000.0, "currency": "EUR", "status": "open", "settlement_date": None}]


def _supplier_alone(statements: list[dict[str, Any]],
                    adverse: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The supplier as a debtor of another client, with these records."""
    p = copy.deepcopy(EXAMPLE)
    p["debtor"].update(debtor_id=SID, name="The supplier itself", legal_form="private_limited")
    p["statements"] = statements
    p["adverse_records"], p["invoices"] = adverse or [], []
    p["exposure"]["supplier_id"] = "OTHER-CLIENT"
    return p


# --- recourse: the supplier's grade caps the pair ----------------------------------------


@pytest.mark.parametrize(("grade", "approved", "decision", "binding", "cap"), [
    ("3", 350_000.0, "full", ["requested"], None),
    ("6", 262_000.0, "partial", ["supplier"], 262_500.0),  # 0.75 x 350,000, down to 1,000s
    ("8", 87_000.0, "partial", ["supplier"], 87_500.0),    # 0.25 x 350,000
    ("10", 0.0, "refused", ["supplier"], 0.0),
])
def test_the_registers_supplier_grade_caps_a_recourse_pair(
        engine: Any, grade: str, approved: float, decision: str, binding: list[str],
        cap: float | None) -> None:
    d = engine.decide_payload(_recourse(), supplier_book=SupplierBook({SID: grade}), **KW)[0]
    assert (d["supplier_grade"], d["approved_limit"], d["decision_type"],
            d["binding_constraints"], d["supplier_cap"]) == (grade, approved, decision,
                                                             binding, cap)
    assert "supplier_not_rated" not in d["limit_notes"]


def test_a_grade_ten_supplier_no_longer_gets_the_debtors_full_limit(engine: Any) -> None:
    """Without a rating of the supplier the debtor's grade decides (full 350,000, note
    supplier_not_rated, as before issue 16); with the supplier at 10 the pair is refused."""
    alone = engine.decide_one(_recourse(), **KW)
    rated = engine.decide_payload(
        _recourse(), supplier_book=SupplierBook({SID: "10"}), **KW)[0]
    assert (alone["approved_limit"], alone["decision_type"]) == (350_000.0, "full")
    assert alone["limit_notes"] == ["supplier_not_rated"] and alone["supplier_grade"] is None
    assert (rated["approved_limit"], rated["decision_type"]) == (0.0, "refused")
    assert rated["input_hash"] != alone["input_hash"]  # the supplier's rating is an input


def test_the_assessment_moves_the_suppliers_grade(engine: Any) -> None:
    """Register grade 4; negative outlook (2) + services (1) + credit notes 8 % (1) = 4
    notches, capped at 3: grade 7 -> the pair keeps 0.5 x 350,000; recourse advance at
    grade 7 (80 %) less the 8 % credit notes: 72 %."""
    p = _recourse(sector_outlook="negative", goods_or_services="services",
                  credit_note_share=0.08)
    d = engine.decide_payload(p, supplier_book=SupplierBook({SID: "4"}), **KW)[0]
    assert (d["supplier_grade"], d["approved_limit"], d["binding_constraints"]) == (
        "7", 175_000.0, ["supplier"])
    assert d["limit_notes"] == ["supplier_outlook_negative", "supplier_services",
                                "supplier_credit_notes"]
    assert d["advance_rate"] == pytest.approx(0.72)


def test_a_supplier_is_rated_from_its_own_records_in_the_payload(engine: Any) -> None:
    """The supplier's statements given with it: the engine rates it as it rates the same
    records decided as a debtor, on both paths, and the rating drives the recourse pair."""
    weak = _weak_statements()
    as_debtor = engine.score_payloads([_supplier_alone(weak, ADVERSE)], **KW)[0]["grade"]
    p = _recourse(statements=weak, adverse_records=ADVERSE, legal_form="private_limited")
    single = engine.decide_payload(p, **KW)[0]
    batch = engine.score_payloads([p], **KW)[0]
    assert single == batch
    assert single["supplier_grade"] == as_debtor == "9"  # the records' grade, no notch
    assert "supplier_not_rated" not in single["limit_notes"]
    assert (single["approved_limit"], single["binding_constraints"]) == (0.0, ["supplier"])
    # the records beat the register's rating (they are the fresher evidence)
    given = engine.decide_payload(p, supplier_book=SupplierBook({SID: "1"}), **KW)[0]
    assert given["supplier_grade"] == as_debtor


# --- non-recourse: the advance rate ----------------------------------------------------


def test_the_non_recourse_advance_moves_with_the_credit_note_share(engine: Any) -> None:
    """Debtor grade 5 non-recourse (85 %, policy products.non_recourse.advance_rate): the reserve is the larger of the debtor's own
    dilution and the supplier's credit notes; above 5 % a notch takes 2.5 points more;
    the limit does not move."""
    shares = [None, 0.0, 0.02, 0.05, 0.06, 0.10, 0.30]
    got = []
    for c in shares:
        p = copy.deepcopy(EXAMPLE)
        p["exposure"]["supplier"]["credit_note_share"] = c
        got.append(engine.decide_one(p, **KW))
    adv = [d["advance_rate"] for d in got]
    assert all(a >= b for a, b in zip(adv, adv[1:], strict=False))
    assert adv[0] == adv[1] > adv[2]  # not known = no credit notes beyond the debtor's own
    dilution = 0.85 - adv[0]  # the debtor's own dilution (the example's invoices)
    assert 0 < dilution < 0.02
    assert adv[3] == pytest.approx(0.80) and adv[4] == pytest.approx(0.85 - 0.06 - 0.025)
    assert {d["approved_limit"] for d in got} == {350_000.0}
    assert adv == pytest.approx(supplier_advance_rate(
        ["5"] * 7, "non_recourse", engine.policy, dilution=dilution,
        credit_note_share=[np.nan if c is None else c for c in shares],
        notches=[0, 0, 0, 0, 1, 1, 1]).tolist())


def test_consignment_sales_are_not_eligible(engine: Any) -> None:
    """25 % on consignment (above 10 %: one notch, -2.5 points): the advance applies to
    the other 75 %."""
    base = engine.decide_one(EXAMPLE, **KW)["advance_rate"]
    p = copy.deepcopy(EXAMPLE)
    p["exposure"]["supplier"]["consignment_share"] = 0.25
    assert engine.decide_one(p, **KW)["advance_rate"] == pytest.approx((base - 0.025) * 0.75)


# --- both paths alike --------------------------------------------------------------------


def test_batch_equals_single_for_the_same_pair(engine: Any) -> None:
    """The portfolio frames of the payload with the register's knowledge as their
    supplier book, the payload through the batch path and the single path: one decision
    (the input hash included)."""
    p = _recourse(sector_outlook="stable", goods_or_services="goods", perishable=True,
                  standardised_goods=False, consignment_share=0.05, credit_note_share=0.03)
    book = SupplierBook({SID: "5"}, {SID: 0.31})
    single = engine.decide_payload(p, supplier_book=book, **KW)
    batch = engine.score_payloads([p], supplier_book=book, **KW)
    frames = payload_to_frames([p])
    frames["supplier_book"] = pd.DataFrame({"supplier_id": [SID], "debtor_hhi": [0.31],
                                            "rating": ["5"]})
    table = engine.decide(frames, "2026-06-30", decided_at=KW["decided_at"],
                          reference_date=KW["reference_date"]).to_dicts()
    assert single == batch == table
    d = single[0]
    # perishable 1 + not standardised 1 + HHI 0.31 > 0.25 1 = 3 notches: 5 -> 8
    assert d["supplier_grade"] == "8" and d["binding_constraints"] == ["supplier"]


def test_every_assessment_field_is_an_input(engine: Any) -> None:
    """A missing flag and a false one differ in the input hash (standardised_goods false
    is a weak factor, missing is not assessed), as do 0 and a missing share."""
    def hash_of(**kw: Any) -> str:
        p = copy.deepcopy(EXAMPLE)
        p["exposure"]["supplier"].update(kw)
        return str(engine.decide_one(p, **KW)["input_hash"])

    hashes = {hash_of(standardised_goods=None), hash_of(standardised_goods=False),
              hash_of(standardised_goods=True), hash_of(credit_note_share=0.0),
              hash_of(debtor_hhi=0.2), hash_of(sector_outlook="stable")}
    assert len(hashes) == 6


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [
    ("credit_note_share", 1.5), ("consignment_share", -0.1), ("sector_outlook", "gloomy"),
    ("perishable", "yes"), ("debtor_hhi", 2.0),
])
def test_a_bad_supplier_field_is_refused_naming_it(engine: Any, field: str, value: Any
                                                  ) -> None:
    p = copy.deepcopy(EXAMPLE)
    p["exposure"]["supplier"][field] = value
    with pytest.raises(InvalidInputError, match=rf"'exposure\.supplier\.{field}'") as info:
        engine.decide_one(p, **KW)
    assert str(value) not in str(info.value).replace("exposure", "")
    assert info.value.problems[0]["column"] == f"exposure.supplier.{field}"


def test_a_bad_supplier_record_in_a_book_is_an_error_row_the_rest_decided(
        engine: Any) -> None:
    """A suppliers row with credit_note_share 1.2: an error row naming the record and the
    field (above_maximum); the debtors of its pairs are rejected whole, the others are
    decided, and nothing of the bad supplier is applied."""
    from riskengine.synthetic import generate_portfolio

    fr = generate_portfolio(120, 3, "2026-06-30")
    sup = fr["suppliers"].copy()
    bad = str(sup["supplier_id"].iloc[0])
    sup["credit_note_share"] = np.where(np.arange(len(sup)) == 0, 1.2, 0.01)
    batch = engine.decide({**fr, "suppliers": sup}, "2026-06-30", decided_at=KW["decided_at"])
    rows = batch.errors[batch.errors["table"] == "suppliers"]
    assert rows[["record", "column", "reason"]].values.tolist() == [
        [bad, "credit_note_share", "above_maximum"]]
    assert "must be <= 1" in rows["message"].iloc[0]
    touched = set(fr["exposures"].loc[fr["exposures"]["supplier_id"] == bad, "debtor_id"])
    decided = set(batch.decisions["debtor_id"])
    assert not (touched & decided) and decided
    assert bad not in set(batch.decisions["supplier_id"])
    assert batch.summary()["pairs_in"] == len(batch.decisions) + batch.pairs_rejected


def test_a_supplier_given_records_twice_is_refused(engine: Any) -> None:
    """The supplier is also the debtor of another payload of the request: its records
    are given once, there."""
    p = _recourse(statements=_weak_statements())
    with pytest.raises(InvalidInputError, match="supplier.statements") as info:
        engine.score_payloads([p, _supplier_alone(EXAMPLE["statements"])], **KW)
    assert info.value.problems[0]["reason"] == "duplicate_key"


def test_the_suppliers_own_records_are_checked(engine: Any) -> None:
    """A supplier's statement whose identities do not hold refuses the payload, naming the
    statements table and the field (nothing decided on a wrong rating)."""
    weak = _weak_statements()
    weak[0]["gross_profit"] += 1_000_000.0
    with pytest.raises(InvalidInputError, match="statements") as info:
        engine.decide_payload(_recourse(statements=weak), **KW)
    assert {r["reason"] for r in info.value.problems} == {"identity_broken"}
    assert {r["debtor_id"] for r in info.value.problems} == {SID}


# --- with the other parts of issues 15 and 16: currencies and the book's caps -------------


def _in_bgn(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The statements in BGN: every amount x 1.95583 (the currency board's rate)."""
    out = copy.deepcopy(statements)
    for st in out:
        st["currency"] = "BGN"
        for k, v in st.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                st[k] = v * 1.95583
    return out


def test_supplier_in_another_currency_capped_then_the_book_caps(engine: Any) -> None:
    """The supplier rated from its own statements in BGN (converted at the payload's
    rate), notched by the register's dispersion, caps the recourse pair; then the rest
    of the book's sector cap cuts it further (the book's caps come after the policy's,
    as in the core): both paths alike.

    Hand calculation: the supplier's BGN figures are the example's EUR ones, so it
    rates as those statements alone do (4 with the champion of issue 17); credit notes
    6 % > 5 % and HHI 0.31 > 0.25 are a notch each: grade 6, share 0.75 of
    350,000 = 262,500 (supplier_cap), 262,000 after rounding. The rest of the book holds
    2,500,000 in the debtor's section G and 7,500,000 elsewhere: the sector cap is
    0.25 x (10,000,000 + 262,000) = 2,565,500, leaving 65,500 -> 65,000 (sector_cap
    binds alone: a cut pair is bound by the cap that cut it)."""
    from riskengine.policy.book import BookRest, book_sector

    eur = _recourse(statements=EXAMPLE["statements"], legal_form="private_limited",
                    credit_note_share=0.06)
    p = _recourse(statements=_in_bgn(EXAMPLE["statements"]), legal_form="private_limited",
                  credit_note_share=0.06)
    p["fx_rates"] = [{"date": "2026-01-01", "currency": "BGN", "rate": round(1 / 1.95583, 10)}]
    assert engine.decide_payload(eur, **KW)[0]["supplier_grade"] == "5"  # 4 + credit notes
    book = SupplierBook({}, {SID: 0.31})
    rest = BookRest(("G-OTHER", None), (book_sector(EXAMPLE["debtor"]["nace"]), "K"),
                    ("GR", "GR"), (2_500_000.0, 7_500_000.0))
    single = engine.decide_payload(p, book_rest=rest, supplier_book=book, **KW)
    batch = engine.score_payloads([p], book_rest=rest, supplier_book=book, **KW)
    assert single == batch
    d = single[0]
    assert (d["supplier_grade"], d["supplier_cap"], d["approved_limit"],
            d["binding_constraints"], d["decision_type"]) == (
        "6", 262_500.0, 65_000.0, ["sector_cap"], "partial")
    assert (d["fx_rate"], d["approved_limit_base"]) == (1.0, 65_000.0)
    # without the rest of the book the supplier alone binds
    alone = engine.decide_payload(p, supplier_book=book, **KW)[0]
    assert (alone["approved_limit"], alone["binding_constraints"]) == (262_000.0, ["supplier"])
    # without a BGN rate the supplier's own records cannot be read: refused, naming them
    q = copy.deepcopy(p)
    del q["fx_rates"]
    with pytest.raises(InvalidInputError, match="BGN"):
        engine.decide_payload(q, supplier_book=book, **KW)


def test_book_dispersion_converts_every_pair_into_the_reporting_currency() -> None:
    """S1 (ledger EUR) lends 100 EUR to D1 and 100 GBP to D2, 1 GBP = 1.25 EUR: in EUR 100
    and 125, HHI (100/225)^2 + (125/225)^2 = 25,625 / 50,625 (hand calculation), where
    counting its ledger currency alone gave 1. S2 has a CHF pair and no CHF rate: no
    dispersion (unknown, not the HHI of its EUR pairs)."""
    from riskengine.features.fx import FxRates
    from riskengine.scoring.suppliers import book_dispersion

    ex = pd.DataFrame({"supplier_id": ["S1", "S1", "S2", "S2"],
                       "debtor_id": ["D1", "D2", "D1", "D3"],
                       "currency": ["EUR", "GBP", "EUR", "CHF"],
                       "approved_limit": [100.0, 100.0, 50.0, 50.0]})
    sup = pd.DataFrame({"supplier_id": ["S1", "S2"], "currency": ["EUR", "EUR"]})
    rates = FxRates.from_rows([("2026-01-01", "GBP", 1.25)], "EUR").at("2026-06-30")
    got = book_dispersion(ex, sup, rates)
    assert got.index.tolist() == ["S1"]
    assert got["S1"] == pytest.approx(25_625 / 50_625)
    assert book_dispersion(ex, sup).to_dict() == {"S1": 1.0, "S2": 1.0}
