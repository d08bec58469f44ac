"""Currencies (issue 16 points 3 and 5): dated rates, conversion for capacity, a missing rate
as an error row, money thresholds with a currency, totals in the reporting currency, and
adverse significance absolute or relative (auctions and seizures knock out).

Golden values are hand calculations from the shipped policy (riskengine/config/policy.toml)
and examples/debtor.json, written out in each test: grade 5 (models/pd_model.skops retrained
2026-12-07, bench_us_protocol: 300 trees of 8 leaves; sizes in USD millions since issue 16/17
(tests/test_units.py): model PD 0.66 %, 1.21 % after the overlay) gives capacity
min(0.25 x TNW, 0.04 x revenue) (policy [capacity]) = min(0.25 x 4,620,000,
0.04 x 21,160,000) = min(1,155,000, 846,400) = EUR 846,400 (the 2025 statement).
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskengine.api import load_engine
from riskengine.contracts.payload import payload_to_frames
from riskengine.contracts.schemas import CURRENCIES
from riskengine.errors import InvalidInputError
from riskengine.features.adverse import adverse_features
from riskengine.features.fx import CURRENCY_CODE, FxRates, convert, pair_rates
from riskengine.features.significance import knockout_mask, significance_thresholds
from riskengine.io.portfolio import read_portfolio, write_portfolio
from riskengine.serve.api import create_app
from riskengine.store import DecisionStore
from riskengine.synthetic import generate_portfolio, synthetic_manifest
from riskengine.validation.fx import validate_fx_rates

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "examples" / "debtor.json").read_text())
AS_OF = "2026-06-30"
STAMP = "2026-06-30T12:00:00Z"
TOKEN = "fx-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: EUR per unit (round figures for hand calculations)
RATES = [{"date": "2026-01-02", "currency": "GBP", "rate": 1.25},
         {"date": "2026-06-01", "currency": "GBP", "rate": 1.20},
         {"date": "2026-06-01", "currency": "JPY", "rate": 0.0058},
         {"date": "2026-06-01", "currency": "USD", "rate": 0.92}]
CAPACITY_EUR = 846_400.0  # module docstring


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


def _payload(currency: str = "EUR", *, rates: list[dict[str, Any]] | None = None,
             requested: float = 350_000.0, adverse: list[dict[str, Any]] | None = None,
             store_rates: bool = False) -> dict[str, Any]:
    p = copy.deepcopy(EXAMPLE)
    if store_rates:  # no rates of its own: the service's fx_rates table decides
        del p["fx_rates"]
    p["exposure"]["currency"] = currency
    p["exposure"]["requested_limit"] = requested
    p["exposure"]["insurer_limit"] = 1_000_000.0  # no insurer cap below the capacity
    if rates is not None:
        p["fx_rates"] = rates
    if adverse is not None:
        p["adverse_records"] = [*p["adverse_records"], *adverse]
    return p


def _record(rid: str, kind: str, amount: float, currency: str) -> dict[str, Any]:
    return {"record_id": rid, "event_type": kind, "event_date": "2026-03-02", "amount": amount,
            "currency": currency, "status": "open", "settlement_date": None}


# --- the rates -------------------------------------------------------------------------


def test_rate_in_force_is_the_latest_dated_on_or_before_the_day() -> None:
    fx = FxRates.from_rows([(r["date"], r["currency"], r["rate"]) for r in RATES], "EUR")
    gbp = CURRENCY_CODE["GBP"]
    got = fx.in_force([gbp] * 4, [np.datetime64(d, "D").astype(np.int64) for d in (
        "2026-01-01", "2026-01-02", "2026-05-31", "2026-06-30")])
    assert np.isnan(got[0]) and got[1:].tolist() == [1.25, 1.25, 1.20]  # none before Jan 2
    vec = fx.at(AS_OF)
    assert vec[CURRENCY_CODE["EUR"]] == 1.0 and np.isnan(vec[CURRENCY_CODE["CHF"]])
    # hand calculation: 120,000 EUR = 100,000 GBP; 1,000 USD = 920 EUR = 766.67 GBP
    out = convert([120_000.0, 1_000.0, 7.0], [0, CURRENCY_CODE["USD"], gbp], [gbp, gbp, gbp],
                  vec)
    assert out[0] == pytest.approx(100_000.0) and out[1] == pytest.approx(920 / 1.2)
    assert out[2] == 7.0  # already in GBP: exact, no round trip
    base, fin, led, cap = pair_rates(vec, ["GBP", "EUR"], ["EUR", ""], ["USD", "EUR"], "EUR")
    assert base.tolist() == [1.2, 1.0] and fin[0] == pytest.approx(1 / 1.2) and fin[1] == 1.0
    assert led[0] == pytest.approx(0.92 / 1.2) and cap[0] == pytest.approx(1 / 1.2)


@pytest.mark.parametrize(("row", "reason", "column"), [
    ({"rate": 0.0}, "not_positive", "rate"),
    ({"rate": -1.2}, "not_positive", "rate"),
    ({"currency": "XXX"}, "unknown_currency", "currency"),
    ({"date": "30/06/2026"}, "not_date", "date"),
])
def test_a_bad_rate_row_is_an_error_row_and_its_currency_gets_no_rate(
        row: dict[str, Any], reason: str, column: str) -> None:
    bad = {"date": "2026-06-30", "currency": "GBP", "rate": 1.2, **row}
    table = pd.DataFrame([{"date": "2026-05-31", "currency": "GBP", "rate": 1.19},
                          {"date": "2026-05-31", "currency": "USD", "rate": 0.92}, bad])
    clean, errors = validate_fx_rates(table)
    first = errors.iloc[0]
    assert (first["table"], first["column"], first["reason"]) == ("fx_rates", column, reason)
    if row.get("currency") != "XXX":  # GBP's good row goes too: nothing applied partially
        assert clean["currency"].tolist() == ["USD"]
        assert errors["reason"].tolist()[-1] == "currency_rejected"


# --- the decision -----------------------------------------------------------------------


def test_a_gbp_pair_on_eur_statements_gets_capacity_converted(engine: Any) -> None:
    """Capacity EUR 846,400 at 1.20 EUR per GBP is GBP 705,333.33: a request of 800,000 gets
    705,000 (rounded down to 1,000), bound by capacity; in EUR 705,000 x 1.20 = 846,000."""
    d = engine.decide_one(_payload("GBP", rates=RATES, requested=800_000.0),
                          decided_at=STAMP)
    assert d["grade"] == "5" and d["currency"] == "GBP"
    assert d["debtor_capacity"] == pytest.approx(CAPACITY_EUR / 1.20)
    assert d["approved_limit"] == 705_000.0 and d["binding_constraints"] == ["capacity"]
    assert d["fx_rate"] == 1.20 and d["approved_limit_base"] == pytest.approx(846_000.0)
    assert "statements_converted" in d["limit_notes"]
    assert not {"currency_mismatch", "missing_data"} & set(d["limit_notes"])
    eur = engine.decide_one(_payload("EUR", requested=900_000.0), decided_at=STAMP)
    assert eur["approved_limit"] == 846_000.0 and eur["approved_limit_base"] == 846_000.0
    assert eur["fx_rate"] == 1.0 and eur["limit_notes"] == []


def test_batch_equals_single_for_a_foreign_currency_debtor(engine: Any) -> None:
    """The single path (numpy fast path) and the batch path give the same decision for a GBP
    pair on EUR statements with a JPY adverse record and a USD-ledger-free payload."""
    p = _payload("GBP", rates=RATES, requested=800_000.0,
                 adverse=[_record("J-1", "bounced_cheque", 5_000.0, "JPY")])
    single = engine.decide_one(p, decided_at=STAMP)
    batch = engine.score_payloads([p], decided_at=STAMP)[0]
    clean = engine.decide_one(_payload("GBP", rates=RATES, requested=800_000.0), decided_at=STAMP)
    # the bounced cheque's overlay lifts the PD (1.21 % -> 1.88 %, models/pd_model.skops
    # retrained 2026-12-07) within grade 5: capacity EUR 846,400 = GBP 705,333 at 1.20,
    # limit rounded down to GBP 705,000 (as in the test above)
    assert single == batch and single["grade"] == "5" and single["pd"] > clean["pd"]
    assert single["approved_limit"] == 705_000.0


def test_a_missing_rate_is_an_error_row_and_the_rest_is_decided(engine: Any) -> None:
    other = _payload("EUR")
    other["debtor"]["debtor_id"] = "GR-D-000777"
    other["exposure"]["supplier_id"] = "GR-S-000999"
    frames = payload_to_frames([_payload("GBP"), other])  # no rates at all: GBP has none
    batch = engine.decide(frames, AS_OF, decided_at=STAMP)
    assert batch.decisions["debtor_id"].tolist() == ["GR-D-000777"]
    row = batch.errors.iloc[0]
    assert (row["table"], row["debtor_id"], row["column"], row["value"], row["reason"]) == (
        "exposures", "GR-D-004711", "currency", "GBP", "missing_fx_rate")
    assert "no GBP rate is in force on 2026-06-30" in row["message"]
    assert batch.errors["reason"].tolist() == ["missing_fx_rate", "debtor_rejected"]
    s = batch.summary()
    assert (s["pairs_in"], s["decided"], s["pairs_rejected"], s["debtors_rejected"]) == (
        2, 1, 1, 1)
    with pytest.raises(InvalidInputError, match="no GBP rate is in force") as err:
        engine.decide_one(_payload("GBP"))  # the single path: the same rule, refused
    assert err.value.problems[0]["reason"] == "missing_fx_rate"


def test_a_rate_dated_after_the_decision_is_not_in_force(engine: Any) -> None:
    late = [{"date": "2026-07-01", "currency": "GBP", "rate": 1.2}]
    with pytest.raises(InvalidInputError, match="no GBP rate is in force on 2026-06-30"):
        engine.decide_one(_payload("GBP", rates=late))


def test_pairs_in_two_currencies_share_one_capacity(engine: Any) -> None:
    """One debtor, a EUR and a GBP pair each asking its whole capacity: together they keep
    EUR 846,400 (DOMAIN.md §6: one debtor, one capacity), shared pro rata to the requests
    beyond the approved outstanding (policy.book.allocate), in the reporting currency."""
    p = _payload("EUR", rates=RATES)
    gbp = copy.deepcopy(p["exposure"])
    gbp.update(supplier_id="UK-S-000001", currency="GBP", requested_limit=705_000.0,
               approved_outstanding=0.0, approved_limit=0.0)
    eur = copy.deepcopy(p["exposure"])
    eur.update(requested_limit=846_000.0, approved_outstanding=0.0)
    del p["exposure"]
    p["exposures"] = [eur, gbp]
    for inv in p["invoices"]:
        inv["supplier_id"] = eur["supplier_id"]
    got = engine.decide_payload(p, decided_at=STAMP)
    base = sum(d["approved_limit_base"] for d in got)
    assert base <= CAPACITY_EUR and base > CAPACITY_EUR - 2 * 1_000 * 1.2
    assert all(d["binding_constraints"] == ["capacity"] for d in got)
    # each asks EUR 846,000 (GBP 705,000 x 1.20): half each, EUR 423,200 = GBP 352,666.67,
    # rounded down
    assert [d["approved_limit"] for d in got] == [423_000.0, 352_000.0]
    assert got == engine.score_payloads([p], decided_at=STAMP)


# --- adverse significance ----------------------------------------------------------------


def test_a_5000_jpy_cheque_is_not_significant_a_5000_eur_one_is(engine: Any) -> None:
    """EUR 1,000 at 0.0058 EUR per JPY is JPY 172,413.79: a JPY 5,000 cheque (EUR 29) is
    far below it; EUR 5,000 is above EUR 1,000 (seed 003: 1,000 is not serious)."""
    jpy = engine.decide_one(_payload(rates=RATES, adverse=[
        _record("J-1", "bounced_cheque", 5_000.0, "JPY")]), decided_at=STAMP)
    assert jpy["knockouts"] == [] and jpy["approved_limit"] == 350_000.0
    eur = engine.decide_one(_payload(rates=RATES, adverse=[
        _record("E-1", "bounced_cheque", 5_000.0, "EUR")]), decided_at=STAMP)
    assert eur["knockouts"] == ["adverse_record"] and eur["approved_limit"] == 0.0


def test_a_50k_seizure_knocks_out_the_350k_limit(engine: Any) -> None:
    """Issue 16 point 5: a recent seizure of 50,000 left the full 350,000 (auctions and
    seizures were not knock-out types); now it refuses the pair with the reason named."""
    before = engine.decide_one(_payload(), decided_at=STAMP)
    assert before["approved_limit"] == 350_000.0
    d = engine.decide_one(_payload(adverse=[_record("S-1", "seizure", 50_000.0, "EUR")]),
                          decided_at=STAMP)
    assert d["approved_limit"] == 0.0 and d["decision_type"] == "refused"
    assert d["knockouts"] == ["adverse_record"]
    auction = engine.decide_one(_payload(adverse=[_record("A-1", "auction", 50_000.0, "EUR")]),
                                decided_at=STAMP)
    assert auction["knockouts"] == ["adverse_record"]


def test_significance_is_absolute_or_relative_to_revenue() -> None:
    """Absolute EUR 1,000 or 1 % of the latest revenue, whichever is lower (policy
    [knockouts]): against a revenue of EUR 50,000 the relative threshold is EUR 500, so an
    800 cheque is significant; against EUR 1,000,000 it is EUR 10,000 and the absolute
    1,000 applies; with the revenue in GBP (1.20) 1 % of GBP 50,000 is EUR 600."""
    rates = FxRates.from_rows([(r["date"], r["currency"], r["rate"]) for r in RATES],
                              "EUR").at(AS_OF)
    eur, gbp = CURRENCY_CODE["EUR"], CURRENCY_CODE["GBP"]
    thr = significance_thresholds(
        [0, 0, 0, 5], [eur, eur, eur, eur], [0, 1, 2, 0],
        knockout=knockout_mask(["bounced_cheque"]), absolute=1_000.0, share=0.01,
        revenue=[50_000.0, 1_000_000.0, 50_000.0], revenue_cur=[eur, eur, gbp], rates=rates,
        currency="EUR")
    assert thr[:3].tolist() == pytest.approx([500.0, 1_000.0, 600.0])
    assert np.isinf(thr[3])  # an auction is not in this knock-out mask
    recs = pd.DataFrame({
        "record_id": ["r1", "r2"], "debtor_id": ["small", "large"],
        "event_type": ["bounced_cheque"] * 2,
        "event_date": pd.to_datetime(["2026-03-01"] * 2), "amount": [800.0, 800.0],
        "currency": ["EUR", "EUR"], "status": ["open", "open"],
        "settlement_date": pd.to_datetime([None, None])})
    revenue = pd.Series([50_000.0, 1_000_000.0], index=pd.Index(["small", "large"], dtype="str"))
    f = adverse_features(recs, AS_OF, revenue=revenue, revenue_share=0.01, rates=rates,
                         revenue_currency=pd.Series(["EUR", "EUR"], index=revenue.index),
                         threshold_currency="EUR")
    assert f["adv_knockout"].to_dict() == {"large": 0.0, "small": 1.0}


# --- totals in the reporting currency ------------------------------------------------------


def test_portfolio_rates_come_from_the_table_or_the_manifest(tmp_path: Path) -> None:
    frames = generate_portfolio(40, 3, AS_OF)
    manifest = synthetic_manifest(40, 3, AS_OF)
    write_portfolio({k: v for k, v in frames.items() if k != "fx_rates"}, tmp_path / "m",
                    manifest=manifest)
    back, _ = read_portfolio(tmp_path / "m")
    fx = back["fx_rates"]
    assert set(fx["date"]) == {pd.Timestamp(AS_OF)} and len(fx) == len(manifest["fx_rates"])
    table = pd.DataFrame({"date": pd.to_datetime(["2026-01-01", "2026-01-01"]).astype(
        "datetime64[ns]"), "currency": ["GBP", "USD"], "rate": [1.2, 0.92]})
    write_portfolio({**frames, "fx_rates": table}, tmp_path / "t", manifest=manifest)
    back, m = read_portfolio(tmp_path / "t")
    assert m["tables"]["fx_rates"] == 2  # the table wins over the manifest's mapping
    pd.testing.assert_frame_equal(back["fx_rates"], table)


def test_rerate_decides_every_currency_and_totals_in_eur(tmp_path: Path, engine: Any) -> None:
    """A synthetic book with GBP and USD pairs and BGN / RON statements: no pair is left
    without capacity for its currency, the book's caps count every pair, and the run's
    totals are the sum of approved_limit x fx_rate, labelled EUR."""
    from riskengine.batch.dataset import DIRNAME
    from riskengine.batch.options import RerateOptions
    from riskengine.batch.rerate import run_rerate

    frames = generate_portfolio(300, 7, AS_OF)
    sup, ex = frames["suppliers"].copy(), frames["exposures"].copy()
    # two suppliers invoicing in GBP and USD (the generator's 3 % of foreign suppliers)
    for sid, cur in zip(sup["supplier_id"].iloc[:2], ("GBP", "USD"), strict=True):
        sup.loc[sup["supplier_id"] == sid, "currency"] = cur
        ex.loc[ex["supplier_id"] == sid, "currency"] = cur
    write_portfolio({**frames, "suppliers": sup, "exposures": ex}, tmp_path / "pf",
                    manifest=synthetic_manifest(300, 7, AS_OF))
    res = run_rerate(RerateOptions(portfolio=tmp_path / "pf", out=tmp_path / "out",
                                   tracking=False, progress=False), engine=engine)
    dec = pd.read_parquet(tmp_path / "out" / DIRNAME)
    pairs = dec[dec["row_type"] == "pair"]
    notes = {n for lst in pairs["limit_notes"] for n in lst}
    assert "currency_mismatch" not in notes and "book_currency_mismatch" not in notes
    assert (pairs["currency"] != "EUR").any() and "statements_converted" in notes
    s = res.summary
    assert s["totals_currency"] == "EUR" and s["pairs_without_rate"] == 0
    assert s["book"]["pairs_outside_book_currency"] == 0
    assert s["totals"]["approved_limit"] == pytest.approx(
        float((pairs["approved_limit"] * pairs["fx_rate"]).sum()))
    assert np.allclose(pairs["approved_limit_base"], pairs["approved_limit"] * pairs["fx_rate"])
    assert "missing_fx_rate" not in set(pd.read_parquet(tmp_path / "out" / "errors.parquet")[
        "reason"])


# --- the store and the service ------------------------------------------------------------


def test_store_rates_load_whole_or_not_at_all(tmp_path: Path) -> None:
    with DecisionStore(f"sqlite:///{tmp_path / 's.db'}") as store:
        assert store.load_fx_rates(pd.DataFrame(RATES), base="EUR") == 4
        fx = store.fx_rates_on(AS_OF, "EUR")
        assert fx.mapping_at(AS_OF) == {"EUR": 1.0, "USD": 0.92, "GBP": 1.2, "JPY": 0.0058}
        assert store.fx_rates_on("2026-03-01", "EUR").mapping_at("2026-03-01") == {
            "EUR": 1.0, "GBP": 1.25}
        bad = pd.DataFrame([{"date": "2026-06-30", "currency": "USD", "rate": 0.93},
                            {"date": "2026-06-30", "currency": "GBP", "rate": -1.0}])
        with pytest.raises(InvalidInputError, match="rate is -1.0"):
            store.load_fx_rates(bad, base="EUR")
        assert len(store.fx_rate_rows()) == 4  # USD's good row was not stored either
        with pytest.raises(InvalidInputError, match="reporting currency"):
            store.load_fx_rates(pd.DataFrame([{"date": "2026-06-30", "currency": "EUR",
                                               "rate": 1.1}]), base="EUR")


def test_http_rates_then_a_gbp_decision_with_the_store_rates(tmp_path: Path,
                                                             engine: Any) -> None:
    store = DecisionStore(f"sqlite:///{tmp_path / 'svc.db'}")
    client = TestClient(create_app(engine, store, [TOKEN]), raise_server_exceptions=False)
    r = client.post("/v1/decisions", json=_payload("GBP", requested=600_000.0, store_rates=True),
                    headers=AUTH)
    assert r.status_code == 422  # no rate yet: named, never a silent refusal
    item = r.json()["errors"][0]
    assert item["type"] == "missing_fx_rate" and item["loc"][-1] == "currency"
    assert "GBP" not in r.text
    r = client.put("/v1/fx-rates", json={"rates": RATES}, headers=AUTH)
    assert r.status_code == 200 and r.json() == {"stored": 4, "currency": "EUR"}
    r = client.post("/v1/decisions", json=_payload("GBP", requested=800_000.0, store_rates=True),
                    headers=AUTH)
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["approved_limit"] == 705_000.0 and d["fx_rate"] == 1.2
    assert d["approved_limit_base"] == pytest.approx(846_000.0)
    store.close()


@pytest.mark.parametrize(("row", "loc", "kind"), [
    ({"rate": -1.5}, ["body", "rates", 1, "rate"], "greater_than"),
    ({"rate": 0}, ["body", "rates", 1, "rate"], "greater_than"),
    ({"currency": "XXQ"}, ["body", "rates", 1, "currency"], "literal_error"),
    ({"currency": "EUR", "rate": 1.07}, ["body", "rates", 1, "rate"], "base_rate_not_one"),
])
def test_http_bad_rates_are_422_naming_the_field_without_the_value(
        tmp_path: Path, engine: Any, row: dict[str, Any], loc: list[Any], kind: str) -> None:
    store = DecisionStore(f"sqlite:///{tmp_path / 'svc.db'}")
    client = TestClient(create_app(engine, store, [TOKEN]), raise_server_exceptions=False)
    rows = [RATES[0], {**RATES[1], **row}]
    r = client.put("/v1/fx-rates", json={"rates": rows}, headers=AUTH)
    assert r.status_code == 422
    item = r.json()["errors"][0]
    assert item["loc"] == loc and item["type"] == kind
    # no input, no ctx: never the value; the record is named by its position
    assert set(item) == {"loc", "type", "msg", "record"} and item["record"] == "rates[1]"
    for value in row.values():
        if len(str(value)) >= 3:
            assert str(value) not in json.dumps(item)
    assert store.fx_rate_rows() == []  # nothing applied partially
    bad = _payload("GBP", rates=rows)  # the same rows in a payload: 422 as well
    r = client.post("/v1/decisions", json=bad, headers=AUTH)
    assert r.status_code == 422
    assert all(len(str(v)) < 3 or str(v) not in r.text for v in row.values())
    store.close()


def test_cli_loads_a_rates_file(tmp_path: Path, capsys: Any) -> None:
    from riskengine.cli import main

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    pd.DataFrame(RATES).to_csv(tmp_path / "rates.csv", index=False)
    assert main(["fx-rates", "load", str(tmp_path / "rates.csv"), "--store", url]) == 0
    assert "stored 4 rate(s) into EUR" in capsys.readouterr().out
    (tmp_path / "bad.csv").write_text("date,currency,rate\n2026-06-30,GBP,abc\n")
    assert main(["fx-rates", "load", str(tmp_path / "bad.csv"), "--store", url]) == 2
    err = capsys.readouterr().err
    assert "rate is 'abc'" in err and len(err.strip().splitlines()) == 1
    assert main(["fx-rates", "list", "--store", url]) == 0
    assert capsys.readouterr().out.count("\n") == 5


def test_every_contract_currency_has_a_code() -> None:
    assert "JPY" in CURRENCIES and CURRENCY_CODE["JPY"] == CURRENCIES.index("JPY")


def test_the_book_behind_one_debtor_counts_other_currencies(tmp_path: Path) -> None:
    """Group cap 25 % of a capital of 1,000,000 = EUR 250,000 (CRR art. 395). A member's
    GBP 100,000 in the register is EUR 120,000 at 1.20: the next member gets EUR 130,000,
    not the whole 250,000 (a limit in another currency used to be left out)."""
    eng = load_engine(factor_capital=1_000_000.0)
    store = DecisionStore(f"sqlite:///{tmp_path / 'book.db'}")
    client = TestClient(create_app(eng, store, [TOKEN], ui=False),
                        raise_server_exceptions=False)
    assert client.put("/v1/fx-rates", json={"rates": RATES}, headers=AUTH).status_code == 200

    def member(debtor_id: str, currency: str, requested: float) -> dict[str, Any]:
        p = _payload(currency, requested=requested, store_rates=True)
        p["debtor"].update(debtor_id=debtor_id, group_id="G-FX")
        p["exposure"]["supplier_id"] = f"S-{currency}"
        for rec in p["adverse_records"]:
            rec["record_id"] = f"{debtor_id}-{rec['record_id']}"
        return p

    first = client.post("/v1/decisions", json=member("D-1", "GBP", 100_000.0), headers=AUTH)
    assert first.status_code == 201, first.text
    assert first.json()["approved_limit"] == 100_000.0
    second = client.post("/v1/decisions", json=member("D-2", "EUR", 350_000.0), headers=AUTH)
    assert second.status_code == 201, second.text
    d = second.json()
    assert d["approved_limit"] == 130_000.0 and d["binding_constraints"] == ["group_cap"]
    store.close()


# --- the past-due default adds invoices in the reporting currency (issue 16 point 3) ------


def _late(rid: str, amount: float, currency: str) -> dict[str, Any]:
    """An invoice due 2026-02-27, unpaid on 2026-06-30: 123 days past due (> 90)."""
    return {"invoice_id": rid, "amount": amount, "currency": currency,
            "issue_date": "2025-12-29", "due_date": "2026-02-27", "paid_date": None,
            "credit_note_amount": 0.0, "disputed_amount": 0.0}


@pytest.mark.parametrize(("other", "amount", "default"), [
    # 300 EUR + 200 GBP x 1.20 = 540 EUR > 500 (overlay materiality_absolute): grade D,
    # where adding the amounts as they are (500) would not default
    ("GBP", 200.0, True),
    # 300 EUR + 30,000 JPY x 0.0058 = 474 EUR <= 500: no default, where 30,300 "units"
    # would have defaulted the debtor
    ("JPY", 30_000.0, False)])
def test_the_past_due_default_adds_invoices_in_the_reporting_currency(
        engine: Any, other: str, amount: float, default: bool) -> None:
    p = _payload("EUR", rates=RATES)
    paid = [v for v in p["invoices"] if v["paid_date"] is not None]
    p["invoices"] = [*paid, _late("L-EUR", 300.0, "EUR"), _late("L-X", amount, other)]
    single = engine.decide_one(p, decided_at=STAMP)
    assert single == engine.score_payloads([p], decided_at=STAMP)[0]
    assert (single["grade"] == "D") is default
    if default:  # the reason states the converted amount
        due = [r for r in single["reason_codes"] if r["feature"] == "past_due_amount"]
        assert due and due[0]["value"] == pytest.approx(300.0 + 200.0 * 1.20)


def test_an_open_invoice_without_a_rate_is_an_error_row(engine: Any) -> None:
    """An open CHF invoice and no CHF rate in force: the past-due sums cannot convert it, so
    the debtor is refused (missing_fx_rate on the invoice's currency), on the batch path and
    through the single path; a paid CHF invoice needs no rate."""
    p = _payload("EUR", rates=RATES)
    p["invoices"] = [*p["invoices"], _late("L-CHF", 100.0, "CHF")]
    frames = payload_to_frames([p])
    batch = engine.decide(frames, AS_OF, decided_at=STAMP)
    assert not len(batch.decisions)
    row = batch.errors.iloc[0]
    assert (row["table"], row["column"], row["value"], row["reason"]) == (
        "invoices", "currency", "CHF", "missing_fx_rate")
    with pytest.raises(InvalidInputError, match="no CHF rate is in force"):
        engine.decide_one(p, decided_at=STAMP)
    p["invoices"][-1]["paid_date"] = "2026-03-01"
    assert engine.decide_one(p, decided_at=STAMP)["grade"] != "D"
