"""Insurer limits as state (issue 16 points 1-2): which limit covers a pair, the amount in
force, discretionary cover, notice on reductions, the engine's decisions and error rows.

Sources of the golden values: DOMAIN.md §6 (insurer limits are granted, not assumed;
cover = the insured percentage of the loss up to the granted limit; without an assessed
limit only discretionary cover, capped and lower: Allianz Trade Simplicity 60 %);
Atradius / FCI GRIF art. 18 (reductions take effect 30 days after notice; deliveries
before the notice stay covered); the shipped policy.toml ``[insurance]``
(discretionary cap 25,000 EUR at 60 % up to grade 6; policy INS00-WT1 of INS00 on
non_recourse). Hand calculations in each test's docstring.
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
from riskengine.config import load_policy
from riskengine.contracts.payload import parse_payload
from riskengine.errors import InvalidInputError, PolicyError
from riskengine.features.fx import FxRates
from riskengine.policy.cover import insurance_cover
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.policy.insurer import (
    InsurerRows,
    covered,
    insurer_requests,
    match_rows,
    pool_caps,
    request_columns,
)
from riskengine.scoring.engine import Engine
from riskengine.synthetic import generate_portfolio

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "examples" / "debtor.json").read_text())
POLICY = load_policy()
AS_OF = "2026-06-30"
STAMP = "2026-06-30T00:00:00Z"
NR, REC = POLICY.product_names.index("non_recourse"), POLICY.product_names.index("recourse")


def _row(debtor: str, supplier: str | None = None, **kw: Any) -> dict[str, Any]:
    out = {"insurer_id": "INS00", "policy_id": "INS00-WT1", "debtor_id": debtor,
           "supplier_id": supplier, "currency": "EUR", "requested_amount": None,
           "granted_amount": None, "cover_pct": 0.90, "status": "granted",
           "decision_date": None, "effective_date": None, "previous_granted_amount": None}
    out.update(kw)
    return out


def _cover(rows: list[dict[str, Any]], pairs: list[tuple[Any, ...]], *, as_of: str = AS_OF,
           policy: CreditPolicy = POLICY) -> dict[str, np.ndarray]:
    """Cover of pairs (debtor, supplier, product code, grade, approved, outstanding) through
    the core's functions: match_rows -> pool_caps -> covered -> insurance_cover."""
    ins = InsurerRows.from_records(rows)
    d, s, prod, grade, approved, out = (np.array(c) for c in zip(*pairs, strict=True))
    names = np.array([policy.product_names[p] for p in prod], dtype=object)
    cur = np.full(len(pairs), "EUR", dtype=object)
    pair_row, problems = match_rows(ins, d.astype(object), s.astype(object), names, cur,
                                    np.full(len(pairs), np.nan), policy)
    assert problems == []
    pc = pool_caps(ins, pair_row, np.full(len(pairs), np.nan), product=prod.astype(np.int64),
                   currency=cur, debtor=pd.factorize(d)[0].astype(np.int64),
                   grade=grade.astype(np.int64), protected=out.astype(float),
                   as_of=np.datetime64(as_of), policy=policy)
    amount = covered(pc, approved.astype(float), out.astype(float))
    c = insurance_cover(grade, approved.astype(float), 0.02, policy, covered=amount,
                        cover_pct=pc.pct, product=prod)
    return {"basis": pc.basis_names(), "insured_limit": c.insured_limit,
            "insured_amount": c.insured_amount, "retained": c.retained, "pct": pc.pct}


# --- cover per basis ---------------------------------------------------------------------


def test_cover_per_basis_hand_calculation() -> None:
    """Approved 100,000 each (grade 4 unless stated, EUR):

    - D1/S1, granted 60,000 at 90 %: insured limit 60,000, amount 54,000,
      retained 40,000 + 10 % x 60,000 = 46,000 (``insurer_limit``);
    - D2/S1, no limit: discretionary min(100,000, 25,000) x 60 % = 15,000;
    - D3/S1, no limit, grade 7: above discretionary_max_grade 6: none;
    - D4/S1, recourse: not insured: none;
    - D5/S1, refused: no discretionary cover on a refused debtor: none;
    - D6/S1, pending: discretionary 25,000 x 60 % = 15,000.
    """
    rows = [_row("D1", "S1", granted_amount=60_000.0),
            _row("D5", "S1", status="refused", decision_date="2026-05-01"),
            _row("D6", "S1", status="pending")]
    got = _cover(rows, [("D1", "S1", NR, 4, 100_000, 0), ("D2", "S1", NR, 4, 100_000, 0),
                        ("D3", "S1", NR, 7, 100_000, 0), ("D4", "S1", REC, 4, 100_000, 0),
                        ("D5", "S1", NR, 4, 100_000, 0), ("D6", "S1", NR, 4, 100_000, 0)])
    assert got["basis"].tolist() == ["insurer_limit", "discretionary", "none", "none", "none",
                                     "discretionary"]
    assert got["insured_limit"].tolist() == [60_000, 25_000, 0, 0, 0, 25_000]
    assert got["insured_amount"].tolist() == pytest.approx([54_000, 15_000, 0, 0, 0, 15_000])
    assert got["retained"].tolist() == pytest.approx(
        [46_000, 85_000, 100_000, 100_000, 100_000, 85_000])


def test_a_debtor_limit_is_shared_and_a_pair_limit_overrides_it() -> None:
    """A debtor-level limit of 30,000 (at 90 %) over D1's pairs S1 and S2 approved 20,000
    each, S1 with 10,000 delivered and approved: S1 keeps its 10,000 first, the other
    20,000 are shared 10 : 20 -> S1 16,666.67, S2 13,333.33 (together 30,000, never
    20,000 + 20,000). S3 has a pair-level limit of 5,000 of its own."""
    rows = [_row("D1", None, granted_amount=30_000.0),
            _row("D1", "S3", granted_amount=5_000.0, cover_pct=0.8)]
    got = _cover(rows, [("D1", "S1", NR, 4, 20_000, 10_000), ("D1", "S2", NR, 4, 20_000, 0),
                        ("D1", "S3", NR, 4, 20_000, 0)])
    assert got["insured_limit"].round(2).tolist() == [16_666.67, 13_333.33, 5_000.0]
    assert got["insured_limit"][:2].sum() == pytest.approx(30_000)
    assert got["pct"].tolist() == [0.9, 0.9, 0.8]


@pytest.mark.parametrize(("as_of", "outstanding", "want"), [
    ("2026-06-30", 35_000, 80_000),   # notice 2026-06-20 + 30 days: the old 100,000 in force
    ("2026-07-20", 35_000, 35_000),   # reduced to 20,000; 35,000 delivered before: covered
    ("2026-07-20", 10_000, 20_000),   # delivered less than the new limit: the new limit
])
def test_a_reduction_takes_effect_after_the_notice(as_of: str, outstanding: float,
                                                   want: float) -> None:
    """Atradius / FCI GRIF art. 18: a reduction from 100,000 to 20,000 noticed on
    2026-06-20 without an effective date takes effect 30 days later (2026-07-20,
    insurance.notice_days); until then the old limit covers the approved 80,000; after it
    the new 20,000, but deliveries made before the notice (the approved outstanding)
    stay covered up to the old limit: max(20,000, min(100,000, outstanding))."""
    rows = [_row("D1", "S1", status="reduced", granted_amount=20_000.0,
                 previous_granted_amount=100_000.0, decision_date="2026-06-20")]
    got = _cover(rows, [("D1", "S1", NR, 4, 80_000, outstanding)], as_of=as_of)
    assert got["basis"].tolist() == ["insurer_limit"]
    assert got["insured_limit"].tolist() == [want]


def test_a_cancellation_keeps_the_deliveries_made_before_its_notice() -> None:
    """Cancelled (previous 80,000, effective 2026-05-01): 30,000 delivered before the
    notice stay covered (basis insurer_limit, 30,000 x 90 % = 27,000); with nothing
    delivered the pair has no cover at all (none), and no discretionary cover either."""
    rows = [_row("D1", "S1", status="cancelled", previous_granted_amount=80_000.0,
                 decision_date="2026-04-01", effective_date="2026-05-01"),
            _row("D2", "S1", status="cancelled", previous_granted_amount=80_000.0,
                 decision_date="2026-04-01", effective_date="2026-05-01")]
    got = _cover(rows, [("D1", "S1", NR, 4, 50_000, 30_000), ("D2", "S1", NR, 4, 50_000, 0)])
    assert got["basis"].tolist() == ["insurer_limit", "none"]
    assert got["insured_limit"].tolist() == [30_000, 0]
    assert got["insured_amount"].tolist() == pytest.approx([27_000, 0])


def test_a_limit_not_in_force_yet_and_one_without_its_previous_amount() -> None:
    """Granted 60,000 effective 2026-08-01: on 2026-06-30 only discretionary cover (25,000).
    Reduced to 20,000 without the limit before: the new amount applies at once (no cover
    is assumed), whatever the notice."""
    rows = [_row("D1", "S1", granted_amount=60_000.0, decision_date="2026-06-01",
                 effective_date="2026-08-01"),
            _row("D2", "S1", status="reduced", granted_amount=20_000.0,
                 decision_date="2026-06-25")]
    got = _cover(rows, [("D1", "S1", NR, 4, 100_000, 0), ("D2", "S1", NR, 4, 100_000, 50_000)])
    assert got["basis"].tolist() == ["discretionary", "insurer_limit"]
    assert got["insured_limit"].tolist() == [25_000, 20_000]


def test_discretionary_cover_is_one_cap_per_debtor() -> None:
    """Two pairs of one debtor without an insurer limit share its 25,000 discretionary
    cap, pro rata to their limits 30,000 : 20,000 -> 15,000 and 10,000."""
    got = _cover([], [("D1", "S1", NR, 4, 30_000, 0), ("D1", "S2", NR, 4, 20_000, 0)])
    assert got["insured_limit"].tolist() == pytest.approx([15_000, 10_000])


# --- rows the engine refuses ---------------------------------------------------------------


def _two_policies() -> CreditPolicy:
    d = POLICY.to_dict()
    d["insurance"]["policies"]["CI-OTHER"] = {"insurer_id": "INS-2", "products": ["non_recourse"]}
    return CreditPolicy.from_dict(d)


def test_match_rows_refuses_unknown_policies_ambiguity_and_currencies() -> None:
    rows = InsurerRows.from_records([
        _row("D1", "S1", policy_id="CI-NOPE", granted_amount=1.0),
        _row("D2", None, granted_amount=1.0),
        _row("D2", None, insurer_id="INS-2", policy_id="CI-OTHER", granted_amount=1.0),
        _row("D3", "S1", currency="USD", granted_amount=1.0)])
    obj = lambda *v: np.array(v, dtype=object)  # noqa: E731
    pair_row, problems = match_rows(
        rows, obj("D1", "D2", "D3"), obj("S1", "S1", "S1"), obj(*["non_recourse"] * 3),
        obj("EUR", "EUR", "EUR"), np.full(3, np.nan), _two_policies())
    got = sorted((p.row, p.column, p.reason) for p in problems)
    assert got == [(0, "policy_id", "unknown_policy"), (1, "policy_id", "ambiguous_insurer_limit"),
                   (2, "policy_id", "ambiguous_insurer_limit"), (3, "currency", "missing_fx_rate")]
    # with a USD rate in force the USD limit on the EUR pair is matched (converted later)
    rates = FxRates.from_rows([("2026-06-30", "USD", 0.92)], "EUR").at(AS_OF)
    pair_row, problems = match_rows(
        rows, obj("D1", "D2", "D3"), obj("S1", "S1", "S1"), obj(*["non_recourse"] * 3),
        obj("EUR", "EUR", "EUR"), np.full(3, np.nan), _two_policies(), rates)
    assert pair_row[2] == 3 and all(p.row != 3 for p in problems)


def test_policy_refuses_a_policy_on_an_uninsured_product() -> None:
    d = POLICY.to_dict()
    d["insurance"]["policies"]["INS00-WT1"]["products"] = ["recourse"]
    with pytest.raises(PolicyError, match=r"insurance\.policies\.INS00-WT1\.products\[0\]"):
        CreditPolicy.from_dict(d)
    d = POLICY.to_dict()
    d["insurance"]["discretionary_cover_pct"] = 0.0
    with pytest.raises(PolicyError, match="discretionary_cover_pct"):
        CreditPolicy.from_dict(d)
    d = POLICY.to_dict()
    del d["insurance"]["discretionary_cap"]
    with pytest.raises(PolicyError, match=r"insurance\.discretionary_cap"):
        CreditPolicy.from_dict(d)


# --- the engine --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> Engine:
    return load_engine()


def _waiting(engine: Engine) -> Engine:
    d = engine.policy.to_dict()
    d["products"]["non_recourse"]["await_insurer"] = True
    return Engine(engine.pd_model, engine.master_scale, CreditPolicy.from_dict(d),
                  overlay=engine.overlay, model_version=engine.model_version,
                  money_unit=engine.money_unit)


def _example(**limit: Any) -> dict[str, Any]:
    p = copy.deepcopy(EXAMPLE)
    p["exposure"]["insurer_limit"] = None
    p["insurer_limits"] = [limit] if limit else []
    return p


def test_no_insurer_data_gives_no_cover_above_the_discretionary_cap(engine: Engine) -> None:
    """A synthetic book holds no insurer data: no pair is insured above the policy's
    discretionary cover (the old engine reported the whole limit as insured): per debtor
    the insured limits of its pairs, each converted into EUR at its fx_rate (the cap is in
    the policy's currency, issue 16 point 3), add up to at most 25,000, each insured amount
    is 60 % of its insured limit, and grades above 6 and recourse pairs have none; pairs in
    other currencies than EUR get discretionary cover too."""
    frames = generate_portfolio(400, seed=5, as_of=AS_OF)
    frames = {k: v for k, v in frames.items() if k != "insurer_limits"}  # no insurer data
    d = engine.decide(frames, AS_OF, decided_at=STAMP).decisions
    assert set(d["insurer_status"].map(lambda s: s is None)) == {True}
    assert set(d["cover_basis"]) == {"discretionary", "none"}
    in_eur = d["insured_limit"] * d["fx_rate"]
    assert in_eur.groupby(d["debtor_id"]).sum().max() <= 25_000 * (1 + 1e-9)
    np.testing.assert_allclose(d["insured_amount"], 0.60 * d["insured_limit"])
    grade = d["grade"].map(lambda g: 11 if g in (None, "D") else int(g))
    none = (grade > 6) | (d["product"] == "recourse")
    assert (d.loc[none, "insured_limit"] == 0).all()
    foreign = d[(d["currency"] != "EUR") & (d["cover_basis"] == "discretionary")]
    live = foreign[foreign["approved_limit"] > 0]
    assert len(live) and (live["insured_limit"] > 0).all()
    share = d["insured_amount"].sum() / d["approved_limit"].sum()
    assert share < 0.25  # today's 98 % came from the assumption


def test_a_granted_limit_covers_up_to_its_amount_and_the_rest_is_retained(
        engine: Engine) -> None:
    """The example (approved 350,000, grade 6, PD p) with a pair-level limit of 200,000 at
    85 %: insured 200,000 x 85 % = 170,000; retained 150,000 + 15 % x 200,000 = 180,000;
    expected loss with cover = p x 40 % x 180,000."""
    d = engine.decide_one(_example(insurer_id="INS00", policy_id="INS00-WT1",
                                   supplier_id="GR-S-000318", currency="EUR",
                                   granted_amount=200_000.0, cover_pct=0.85, status="granted"),
                          decided_at=STAMP)
    assert d["approved_limit"] == 350_000.0 and d["cover_basis"] == "insurer_limit"
    assert d["insured_limit"] == 200_000.0 and d["insured_amount"] == pytest.approx(170_000)
    assert d["retained_exposure"] == pytest.approx(180_000)
    assert d["expected_loss"] == pytest.approx(d["pd"] * 0.40 * 180_000)
    assert d["insurer_policy_id"] == "INS00-WT1" and d["insurer_status"] == "granted"


def test_a_product_that_waits_for_the_insurer_is_held_at_its_cover(engine: Engine) -> None:
    """await_insurer: the same pair is held at the 200,000 the insurer granted (binding
    insurer_cover, partial), its limit before the hold (350,000) is what to ask for; with
    no limit yet, only the discretionary 25,000; refused by the insurer: nothing."""
    waits = _waiting(engine)
    base = {"insurer_id": "INS00", "policy_id": "INS00-WT1", "currency": "EUR",
            "cover_pct": 0.85}
    d = waits.decide_one(_example(**base, granted_amount=200_000.0, status="granted"),
                         decided_at=STAMP)
    assert (d["approved_limit"], d["decision_type"]) == (200_000.0, "partial")
    assert "insurer_cover" in d["binding_constraints"]
    assert d["limit_before_insurer"] == 350_000.0
    d = waits.decide_one(_example(), decided_at=STAMP)
    assert d["approved_limit"] == 25_000.0 and d["cover_basis"] == "discretionary"
    d = waits.decide_one(_example(**base, status="refused", decision_date="2026-06-01"),
                         decided_at=STAMP)
    assert (d["approved_limit"], d["decision_type"]) == (0.0, "refused")


def test_single_path_equals_batch_with_insurer_limits(engine: Engine) -> None:
    """A debtor-level limit in a payload: the fast path and the batch path decide alike
    (and the input hash records the insurer limit: another amount, another hash)."""
    p = _example(insurer_id="INS00", policy_id="INS00-WT1", currency="EUR",
                 granted_amount=120_000.0, cover_pct=0.75, status="partial",
                 requested_amount=350_000.0, decision_date="2026-05-02")
    one = engine.decide_one(p, decided_at=STAMP)
    assert one == engine.score_payloads([p], decided_at=STAMP)[0]
    assert one["insured_limit"] == 120_000.0
    q = copy.deepcopy(p)
    q["insurer_limits"][0]["granted_amount"] = 130_000.0
    assert engine.decide_one(q, decided_at=STAMP)["input_hash"] != one["input_hash"]
    none = engine.decide_one(_example(), decided_at=STAMP)
    assert none["input_hash"] != one["input_hash"]


def test_bad_insurer_limits_are_error_rows_and_the_rest_is_decided(engine: Engine) -> None:
    """A cover percentage of 1.5 (validation: out_of_range), an unknown insurance policy
    and a limit in CHF on a EUR pair with no CHF rate in force (the engine: unknown_policy,
    missing_fx_rate): each an error row naming the record and field, its debtor rejected
    whole; the others are decided."""
    frames = generate_portfolio(40, seed=3, as_of=AS_OF)
    ex = frames["exposures"]
    eur = ex[ex["currency"] == "EUR"].drop_duplicates("debtor_id")
    (d1, s1), (d2, _), (d3, s3) = eur[["debtor_id", "supplier_id"]].head(3).values.tolist()
    frames["insurer_limits"] = pd.DataFrame([
        _row(d1, s1, granted_amount=10_000.0, cover_pct=1.5),
        _row(d2, None, policy_id="CI-NOPE", granted_amount=10_000.0),
        _row(d3, s3, currency="CHF", granted_amount=10_000.0)])
    batch = engine.decide(frames, AS_OF, decided_at=STAMP)
    err = batch.errors
    got = {(r["debtor_id"], r["column"], r["reason"]) for r in err.to_dict("records")
           if r["table"] == "insurer_limits"}
    assert got == {(d1, "cover_pct", "out_of_range"), (d2, "policy_id", "unknown_policy"),
                   (d3, "currency", "missing_fx_rate")}
    rejected = set(err.loc[err["reason"] == "debtor_rejected", "debtor_id"])
    assert rejected == {d1, d2, d3}
    assert not set(batch.decisions["debtor_id"]) & rejected
    s = batch.summary()
    assert s["pairs_in"] == s["decided"] + s["pairs_rejected"] and s["debtors_rejected"] == 3
    msg = err.loc[(err["table"] == "insurer_limits") & (err["reason"] == "unknown_policy"),
                  "message"].iloc[0]
    assert msg.startswith(f"Debtor {d2!r}: policy_id is 'CI-NOPE'")


def test_a_payload_names_its_bad_insurer_limit_field() -> None:
    p = _example(insurer_id="INS00", policy_id="INS00-WT1", currency="EUR", cover_pct=0.0,
                 status="granted", granted_amount=1.0)
    with pytest.raises(InvalidInputError) as exc:
        parse_payload(p)
    assert exc.value.problems[0]["column"] == "insurer_limits.0.cover_pct"
    p["insurer_limits"][0].update(cover_pct=0.9, granted_amount=None)
    with pytest.raises(InvalidInputError) as exc:
        parse_payload(p)
    assert exc.value.problems[0]["column"] == "insurer_limits.0.granted_amount"
    p["insurer_limits"][0].update(granted_amount=1.0, supplier_id="S-UNKNOWN")
    with pytest.raises(InvalidInputError) as exc:
        parse_payload(p)
    assert exc.value.problems[0]["column"] == "insurer_limits.0.supplier_id"


# --- the request list --------------------------------------------------------------------


def test_request_list_content(engine: Engine) -> None:
    """Four pairs of the example's debtor (approved 350,000 each as asked, capacity
    allowing): fully covered by 400,000 (no request), above a granted 100,000
    (above_granted, ask 350,000), without a limit (no_insurer_limit: discretionary only),
    recourse (not insured: no request)."""
    p = copy.deepcopy(EXAMPLE)
    ex = p.pop("exposure")
    ex["insurer_limit"] = None
    ex["requested_limit"] = 50_000.0
    pairs = []
    for k, product in enumerate(("non_recourse", "non_recourse", "non_recourse", "recourse")):
        e = copy.deepcopy(ex)
        e["supplier_id"] = f"S-{k}"
        e["product"] = product
        e["approved_outstanding"] = 0.0
        pairs.append(e)
    p["exposures"] = pairs
    p["invoices"] = [{**v, "supplier_id": "S-0"} for v in p["invoices"]]
    lim = {"insurer_id": "INS00", "policy_id": "INS00-WT1", "currency": "EUR",
           "cover_pct": 0.9, "status": "granted"}
    p["insurer_limits"] = [{**lim, "supplier_id": "S-0", "granted_amount": 400_000.0},
                           {**lim, "supplier_id": "S-1", "granted_amount": 10_000.0}]
    decisions = engine.decide_payload(p, decided_at=STAMP)
    assert [d["approved_limit"] for d in decisions] == [50_000.0] * 4
    req = insurer_requests(pd.DataFrame(decisions), engine.policy)
    assert req["supplier_id"].tolist() == ["S-1", "S-2"]
    assert req["reason"].tolist() == ["above_granted", "no_insurer_limit"]
    assert req["amount_requested"].tolist() == [50_000.0, 50_000.0]
    assert req["insured_limit"].tolist() == [10_000.0, 25_000.0]
    assert req["insurer_id"].tolist() == ["INS00"] * 2
    assert req["policy_id"].tolist() == ["INS00-WT1"] * 2
    # the service's columns (no frame) hold the same rows, sorted by debtor then supplier
    # whatever the decisions' order
    cols = request_columns(pd.DataFrame(decisions[::-1]), engine.policy)
    assert cols["supplier_id"].tolist() == ["S-1", "S-2"]
    assert cols["reason"].tolist() == ["above_granted", "no_insurer_limit"]
    assert cols["insured_limit"].tolist() == [10_000.0, 25_000.0]


def test_a_new_insurer_answer_marks_its_debtor_changed() -> None:
    """``rerate --changed-since``: an insurer's decision or a reduction taking effect after
    the date re-rates the debtor (its cover changed), as a new record does."""
    from riskengine.batch.plan import changed_debtors

    lim = pd.DataFrame({"debtor_id": ["D1", "D2", "D3"],
                        "decision_date": pd.to_datetime(["2026-05-01", "2026-06-20", None]),
                        "effective_date": pd.to_datetime([None, "2026-07-20", "2026-07-01"])})
    assert changed_debtors({"insurer_limits": lim}, "2026-06-01").tolist() == ["D2", "D3"]


# --- currencies (issue 16 point 3): insurer limits and the discretionary cap converted ----


def _in_gbp(p: dict[str, Any], rate: float = 1.25) -> dict[str, Any]:
    """The example's pair in GBP, with 1 GBP = ``rate`` EUR in force since 2026-01-01."""
    p["exposure"]["currency"] = "GBP"
    p["fx_rates"] = [{"date": "2026-01-01", "currency": "GBP", "rate": rate}]
    return p


def test_a_limit_in_another_currency_is_converted_on_both_paths(engine: Engine) -> None:
    """A debtor-level limit of 100,000 USD at 90 % on the example's EUR pair, 1 USD =
    0.75 EUR in force on the decision date: the pair is insured up to 75,000 EUR (hand
    calculation: 100,000 x 0.75), 67,500 paid on a total loss, retained 350,000 - 67,500
    of the 350,000 approved; the single path answers as the batch path. Rated 1 USD = 0.80
    EUR it covers 80,000 (the rate in force, not a stored conversion)."""
    p = _example(insurer_id="INS00", policy_id="INS00-WT1", currency="USD",
                 granted_amount=100_000.0, cover_pct=0.90, status="granted",
                 decision_date="2026-05-02")
    p["fx_rates"] = [{"date": "2026-01-01", "currency": "USD", "rate": 0.75}]
    one = engine.decide_one(p, decided_at=STAMP)
    assert one == engine.score_payloads([p], decided_at=STAMP)[0]
    assert (one["cover_basis"], one["approved_limit"]) == ("insurer_limit", 350_000.0)
    assert one["insured_limit"] == 75_000.0 and one["insured_amount"] == 67_500.0
    assert one["retained_exposure"] == pytest.approx(350_000.0 - 67_500.0)
    p["fx_rates"].append({"date": "2026-06-01", "currency": "USD", "rate": 0.80})
    assert engine.decide_one(p, decided_at=STAMP)["insured_limit"] == 80_000.0


def test_a_limit_without_a_rate_in_force_is_refused_naming_its_field(engine: Engine) -> None:
    """The USD rate is dated after the decision date: nothing converts the limit, so the
    debtor is refused with a missing_fx_rate row naming the insurer limit's currency (both
    paths: the single path hands the payload to the batch path)."""
    p = _example(insurer_id="INS00", policy_id="INS00-WT1", currency="USD",
                 granted_amount=100_000.0, cover_pct=0.90, status="granted")
    p["fx_rates"] = [{"date": "2026-07-01", "currency": "USD", "rate": 0.75}]
    with pytest.raises(InvalidInputError) as exc:
        engine.decide_one(p, decided_at=STAMP)
    got = [(x["table"], x["column"], x["value"], x["reason"]) for x in exc.value.problems
           if x["table"] == "insurer_limits"]
    assert got == [("insurer_limits", "currency", "USD", "missing_fx_rate")]


def test_a_batch_converts_a_pair_level_limit_in_another_currency(engine: Engine) -> None:
    """A pair-level limit of 40,000 GBP on a EUR pair of a synthetic book (the book's GBP
    rate on the decision date, 1.176471 EUR): insured at most 40,000 x 1.176471 EUR; the
    decisions pass the insurance invariants, which count the pair as converted."""
    from riskengine.batch.insurance import insurance_invariants

    frames = generate_portfolio(60, seed=3, as_of=AS_OF)
    ex = frames["exposures"]
    nr = ex[(ex["currency"] == "EUR")].drop_duplicates("debtor_id")
    lim = pd.DataFrame([_row(d, s, currency="GBP", granted_amount=40_000.0)
                        for d, s in nr[["debtor_id", "supplier_id"]].head(5).values.tolist()])
    frames["insurer_limits"] = lim
    batch = engine.decide(frames, AS_OF, decided_at=STAMP)
    assert not len(batch.errors[batch.errors["table"] == "insurer_limits"])
    d = batch.decisions
    fx = frames["fx_rates"]
    gbp = float(fx.loc[(fx["currency"] == "GBP") & (fx["date"] <= AS_OF), "rate"].iloc[-1])
    key = d.set_index(["debtor_id", "supplier_id"])
    mine = key.loc[list(zip(lim["debtor_id"], lim["supplier_id"], strict=True))]
    on_limit = mine[mine["cover_basis"] == "insurer_limit"]
    assert len(on_limit)
    np.testing.assert_allclose(
        on_limit["insured_limit"],
        np.minimum(on_limit["approved_limit"], 40_000.0 * gbp), rtol=1e-12)
    inv = insurance_invariants(d, lim, POLICY, rates={"GBP": gbp})
    assert inv["pairs_insured_above_min_approved_granted"] == inv["limits_exceeded"] == 0
    assert inv["pairs_converted_cover"] >= len(on_limit)


def test_the_discretionary_cap_is_converted_into_the_pairs_currency(engine: Engine) -> None:
    """The example's pair in GBP (1 GBP = 1.25 EUR), no insurer limit, grade 5 (the
    issue-17 champion): the discretionary cap of 25,000 EUR is 20,000 GBP (hand calculation 25,000 / 1.25), 60 %
    of it insured; the single path answers as the batch path."""
    p = _in_gbp(_example())
    one = engine.decide_one(p, decided_at=STAMP)
    assert one == engine.score_payloads([p], decided_at=STAMP)[0]
    assert (one["currency"], one["grade"], one["cover_basis"]) == ("GBP", "5", "discretionary")
    assert one["insured_limit"] == 20_000.0 and one["insured_amount"] == 12_000.0


def test_a_debtor_limit_over_pairs_in_two_currencies_is_shared_in_its_own() -> None:
    """A debtor-level limit of 30,000 EUR over a EUR pair and a GBP pair approved 20,000
    each (1 GBP = 1.25 EUR): in EUR they ask 20,000 and 25,000, so the limit is shared
    20 : 25 (hand calculation): 13,333.33 EUR and 16,666.67 EUR = 13,333.33 GBP; together
    exactly the limit in EUR."""
    rows = InsurerRows.from_records([_row("D1", None, granted_amount=30_000.0)])
    obj = lambda *v: np.array(v, dtype=object)  # noqa: E731
    cur = obj("EUR", "GBP")
    rates = FxRates.from_rows([("2026-01-01", "GBP", 1.25)], "EUR").at(AS_OF)
    pair_row, problems = match_rows(rows, obj("D1", "D1"), obj("S1", "S2"),
                                    obj("non_recourse", "non_recourse"), cur,
                                    np.full(2, np.nan), POLICY, rates)
    assert problems == [] and pair_row.tolist() == [0, 0]
    pc = pool_caps(rows, pair_row, np.full(2, np.nan), product=np.array([NR, NR]),
                   currency=cur, debtor=np.zeros(2, np.int64), grade=np.array([4, 4]),
                   protected=np.zeros(2), as_of=np.datetime64(AS_OF), policy=POLICY,
                   rates=rates)
    assert pc.factors().tolist() == [1.0, 1.25]
    got = covered(pc, np.array([20_000.0, 20_000.0]), np.zeros(2))
    np.testing.assert_allclose(got, [30_000 * 20 / 45, 30_000 * 25 / 45 / 1.25], rtol=1e-12)
    assert got[0] + got[1] * 1.25 == pytest.approx(30_000.0, rel=1e-12)
