"""The Engine: single payload vs batch parity, determinism, overlay, unrated and default paths.

Parity is tested on hundreds of synthetic debtors (riskengine.synthetic), through
JSON round trips that change dtypes (ints for integral floats, dates as strings).
"""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import riskengine
from riskengine.api import load_engine, load_overlay
from riskengine.contracts import schemas
from riskengine.contracts.payload import payload_to_frames
from riskengine.errors import InvalidInputError, ModelArtifactError, PolicyError
from riskengine.features import build_features
from riskengine.features.fx import FxRates
from riskengine.model.flat_trees import FlatScorer, top_reasons
from riskengine.scoring.core import SklearnScorer
from riskengine.scoring.engine import Engine
from riskengine.scoring.inputs import DebtorInputs
from riskengine.scoring.overlay import Overlay, OverlayTerm
from riskengine.synthetic import generate_portfolio, synthetic_manifest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "debtor.json"
AS_OF = "2026-06-30"
STAMP = "2026-06-30T12:00:00+00:00"
#: The synthetic book's rates (its manifest's, dated its as_of): every payload carries
#: them, so that pairs and statements in BGN, RON, GBP and USD are converted.
FX_ROWS = [{"date": AS_OF, "currency": c, "rate": r}
           for c, r in synthetic_manifest(1, 1, AS_OF)["fx_rates"].items()]
FX = FxRates.from_rows(((r["date"], r["currency"], r["rate"]) for r in FX_ROWS), "EUR")


@pytest.fixture(scope="module")
def engine() -> Engine:
    """The engine on the shipped model (models/pd_model.skops, sha256-checked)."""
    return load_engine()


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())


# --- synthetic payloads ------------------------------------------------------------


def _json_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


def _records(frame: pd.DataFrame, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    cols = [c for c in frame.columns if c not in drop]
    return [{c: _json_value(r[c]) for c in cols} for r in frame.to_dict("records")]


#: Insurer limit states the synthetic payloads cycle through (issue 16): status, granted,
#: previous, decision date, effective date (AS_OF is 2026-06-30).
_INSURER_STATES = (
    ("granted", 90_000.0, None, "2026-01-15", None),
    ("partial", 40_000.0, None, "2026-03-01", "2026-03-01"),
    ("reduced", 20_000.0, 150_000.0, "2026-06-20", None),       # notice not over: old limit
    ("cancelled", None, 80_000.0, "2026-04-01", "2026-05-01"),  # in force: deliveries kept
    ("pending", None, None, None, None),
    ("refused", None, None, "2026-05-10", None),
    ("granted", 60_000.0, None, "2026-06-01", "2026-08-01"),    # not in force yet
)


def _insurer_limit(i: int, supplier_id: str | None, currency: str) -> dict[str, Any]:
    status, granted, previous, decided, effective = _INSURER_STATES[(i // 4) % len(
        _INSURER_STATES)]
    return {"insurer_id": "INS00", "policy_id": "INS00-WT1", "supplier_id": supplier_id,
            "currency": currency, "requested_amount": 100_000.0, "granted_amount": granted,
            "cover_pct": 0.85, "status": status, "decision_date": decided,
            "effective_date": effective, "previous_granted_amount": previous}


def synthetic_payloads(n: int, seed: int) -> list[dict[str, Any]]:
    """One payload per synthetic debtor with an exposure: its first supplier's pair.

    Products alternate, every third pair carries an insurer limit, and every
    fifth asks by annual sales x credit days instead of a requested limit; of the
    others, one in four has an insurer limit on the pair and one in four on the debtor
    (:data:`_INSURER_STATES`).
    """
    p = generate_portfolio(n, seed=seed, as_of=AS_OF)
    sup = p["suppliers"].set_index("supplier_id")
    rel = {(r["supplier_id"], r["debtor_id"]): r["relation_type"]
           for r in p["relations"].to_dict("records")}
    first = p["exposures"].drop_duplicates("debtor_id", keep="first")
    by_debtor = {k: g for k, g in p["statements"].groupby("debtor_id")}
    adv = {k: g for k, g in p["adverse_records"].groupby("debtor_id")}
    inv = {k: g for k, g in p["invoices"].groupby(["debtor_id", "supplier_id"])}
    out = []
    for i, ex in enumerate(_records(first)):
        did, sid = ex["debtor_id"], ex["supplier_id"]
        debtor = _records(p["debtors"][p["debtors"]["debtor_id"] == did])[0]
        s = sup.loc[sid]
        exposure = {k: ex[k] for k in ("supplier_id", "currency", "requested_limit",
                                       "annual_sales", "credit_days", "approved_limit",
                                       "approved_outstanding", "unapproved_outstanding")}
        by_sales = exposure["annual_sales"] is not None and exposure["credit_days"] is not None
        if i % 5 == 0 and by_sales:
            exposure["requested_limit"] = None
        elif exposure["requested_limit"] is None and not by_sales:
            exposure["requested_limit"] = exposure["approved_limit"]  # the payload needs a request
        exposure["supplier"] = {"name": s["name"], "country": s["country"], "nace": s["nace"],
                                "group_id": _json_value(s["group_id"]),
                                "ledger_total": float(s["ledger_total"]),
                                # the generator writes the assessment the contract declares
                                **{c: _json_value(s[c]) for c in schemas.SUPPLIER_ASSESSMENT}}
        exposure["product"] = "recourse" if i % 2 else "non_recourse"
        exposure["insurer_limit"] = 250_000.0 if i % 3 == 0 else None
        exposure["relation_type"] = rel.get((sid, did))
        limits = []
        if i % 3 and i % 4 in (1, 2):
            limits.append(_insurer_limit(i, sid if i % 4 == 1 else None, ex["currency"]))
        empty = pd.DataFrame()
        out.append({
            "as_of": AS_OF,
            "debtor": debtor,
            "statements": _records(by_debtor.get(did, empty), ("debtor_id",)),
            "adverse_records": _records(adv.get(did, empty), ("debtor_id",)),
            "invoices": _records(inv.get((did, sid), empty), ("debtor_id",)),
            "exposure": exposure,
            "insurer_limits": limits,
            "fx_rates": FX_ROWS,
        })
    return out


def _ints(obj: Any) -> Any:
    """JSON round trip that writes integral floats as ints (dtype change)."""
    if isinstance(obj, dict):
        return {k: _ints(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_ints(v) for v in obj]
    if isinstance(obj, float) and obj.is_integer():
        return int(obj)
    return obj


@pytest.fixture(scope="module")
def payloads() -> list[dict[str, Any]]:
    return synthetic_payloads(300, seed=7)


@pytest.fixture(scope="module")
def batch_dicts(engine: Engine, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return engine.score_payloads(payloads, decided_at=STAMP)


# --- parity -------------------------------------------------------------------------------


def test_single_equals_batch_on_hundreds_of_debtors(
    engine: Engine, payloads: list[dict[str, Any]], batch_dicts: list[dict[str, Any]]
) -> None:
    """Each payload decided alone (numpy fast path) equals its row of the batch."""
    assert len(payloads) >= 250 and len(batch_dicts) == len(payloads)
    kinds = {d["decision_type"] for d in batch_dicts}
    bases = {d["rating_basis"] for d in batch_dicts}
    assert {"full", "refused"} <= kinds and {"statements", "tax_return"} <= bases
    assert {d["cover_basis"] for d in batch_dicts} == {"insurer_limit", "discretionary", "none"}
    assert {d["insurer_status"] for d in batch_dicts} >= {None, *(s[0] for s in _INSURER_STATES)}
    for p, b in zip(payloads, batch_dicts, strict=True):
        single = engine.decide_one(p, decided_at=STAMP)
        assert single == b, p["debtor"]["debtor_id"]


def test_json_round_trip_changes_dtypes_not_decisions(
    engine: Engine, payloads: list[dict[str, Any]], batch_dicts: list[dict[str, Any]]
) -> None:
    """Integral floats sent as ints, through json text: same decisions, single and batch."""
    sent = [json.loads(json.dumps(_ints(p))) for p in payloads[:120]]
    assert any(isinstance(s["exposure"]["credit_days"], int) for s in sent)
    again = engine.score_payloads(sent, decided_at=STAMP)
    assert again == batch_dicts[:120]
    for s, b in zip(sent[:60], batch_dicts[:60], strict=True):
        assert engine.decide_one(s, decided_at=STAMP) == b


def test_portfolio_frames_decide_like_payloads(
    engine: Engine, payloads: list[dict[str, Any]], batch_dicts: list[dict[str, Any]]
) -> None:
    """The synthetic frames themselves (Int64, arrow strings) give the payloads' decisions."""
    p = generate_portfolio(300, seed=7, as_of=AS_OF)
    first = p["exposures"].drop_duplicates("debtor_id", keep="first")
    keep = pd.MultiIndex.from_frame(first[["debtor_id", "supplier_id"]])
    inv_key = pd.MultiIndex.from_frame(p["invoices"][["debtor_id", "supplier_id"]])
    frames = {**p, "exposures": first.reset_index(drop=True),
              "invoices": p["invoices"][inv_key.isin(keep)].reset_index(drop=True)}
    given = payload_to_frames(payloads)
    frames["pair_terms"] = given["pair_terms"]
    frames["insurer_limits"] = given["insurer_limits"]
    # the payloads give no dispersion of the suppliers' debtors: nor does the book here
    frames["supplier_book"] = given["supplier_book"]
    frames["fx_rates"] = pd.DataFrame(FX_ROWS).astype({"date": "datetime64[ns]"})
    frames["exposures"] = frames["exposures"].assign(requested_limit=[
        q["exposure"]["requested_limit"] if q["exposure"]["requested_limit"] is not None
        else np.nan for q in payloads])
    got = engine.decide(frames, AS_OF, decided_at=STAMP).to_dicts()
    assert sorted(got, key=lambda d: d["debtor_id"]) == sorted(
        batch_dicts, key=lambda d: d["debtor_id"])


def test_flat_trees_equal_the_fitted_model(engine: Engine) -> None:
    """Flattened ensemble: PDs and reason codes equal PDModel + explain on 400 debtors."""
    frames = generate_portfolio(400, seed=3, as_of=AS_OF)
    X = build_features(frames, AS_OF, families=("statements",))[list(engine.feature_names)]
    A = X.to_numpy(dtype=np.float64)
    flat = FlatScorer(engine.pd_model, 3)
    pd_flat, codes_flat = flat(A)
    pd_ref, codes_ref = SklearnScorer(engine.pd_model, 3)(A)
    assert np.array_equal(pd_flat, pd_ref)
    assert codes_flat == codes_ref
    raw = engine.pd_model.decision_function(X)
    assert np.array_equal(flat.trees.decision_function(flat.prepare(A)), raw)


def test_flat_trees_on_thresholds_nan_and_extremes(engine: Engine) -> None:
    """Values exactly on split thresholds, next to them, NaN and extremes: the compiled
    walks' raw scores, the PDs and the reason codes equal the fitted model's."""
    flat = FlatScorer(engine.pd_model, 3)
    trees = flat.trees
    rng = np.random.default_rng(5)
    n, p = 300, len(engine.feature_names)
    A = rng.standard_normal((n, p)) * 3.0
    for r, j in enumerate(trees.used.tolist()):  # exact thresholds, and next to them
        cuts = trees.cuts[r]
        pick = cuts[rng.integers(0, cuts.size, n)]
        A[:, j] = np.where(rng.random(n) < 0.5, pick, np.nextafter(pick, np.inf))
    A[rng.random((n, p)) < 0.15] = np.nan
    A[0, :] = np.nan
    A[1, :] = 1e300
    A[2, :] = -np.inf
    A = flat.prepare(A)
    raw = engine.pd_model.estimator_._raw_predict(A).ravel()
    assert trees.raw_scores(A).tobytes() == raw.tobytes()
    pd_flat, codes_flat = flat(A)
    pd_ref, codes_ref = SklearnScorer(engine.pd_model, 3)(A)
    assert np.array_equal(pd_flat, pd_ref) and codes_flat == codes_ref
    for i in (0, 1, 2, 3):  # one row at a time takes the single-row branches
        one_pd, one_codes = flat(A[i:i + 1])
        assert one_pd[0] == pd_ref[i] and one_codes[0] == codes_ref[i]


def test_single_row_reasons_equal_the_block_path(engine: Engine) -> None:
    """One row at a time gives the block's scores and reason arrays exactly (a row's
    codes do not depend on the other rows): rows on split thresholds, next to them,
    NaN and extremes."""
    flat = FlatScorer(engine.pd_model, 3)
    trees = flat.trees
    rng = np.random.default_rng(11)
    n, p = 200, len(engine.feature_names)
    A = rng.standard_normal((n, p)) * 3.0
    for r, j in enumerate(trees.used.tolist()):
        cuts = trees.cuts[r]
        pick = cuts[rng.integers(0, cuts.size, n)]
        A[:, j] = np.where(rng.random(n) < 0.5, pick, np.nextafter(pick, -np.inf))
    A[rng.random((n, p)) < 0.2] = np.nan
    A[0, :] = np.nan
    A[1, :] = flat.reference  # every feature at its reference: no reason code
    A[2, :] = 1e300
    A = flat.prepare(A)
    k = 3
    scores, rs = top_reasons(trees, A, k)
    assert np.array_equal(scores, trees.decision_function(A))
    assert rs.row.size > 0
    for i in range(n):
        one_score, one = top_reasons(trees, A[i:i + 1], k)
        assert one_score.tobytes() == scores[i:i + 1].tobytes(), i
        sel = rs.row == i
        assert np.array_equal(one.row, np.zeros(int(sel.sum()), np.intp)), i
        assert np.array_equal(one.feature, rs.feature[sel]), i
        assert one.impact.tobytes() == rs.impact[sel].tobytes(), i
        assert one.sub_score.tobytes() == rs.sub_score[sel].tobytes(), i


# --- determinism ----------------------------------------------------------------------------


def test_same_inputs_and_versions_give_byte_identical_decisions(
    engine: Engine, example: dict[str, Any]
) -> None:
    a = json.dumps(engine.decide_one(example, decided_at=STAMP))
    b = json.dumps(engine.decide_one(copy.deepcopy(example), decided_at=STAMP))
    c = json.dumps(engine.score_payloads([example], decided_at=STAMP)[0])
    assert a == b == c
    again = load_engine()
    assert json.dumps(again.decide_one(example, decided_at=STAMP)) == a


def test_input_hash_changes_with_any_input(engine: Engine, example: dict[str, Any]) -> None:
    base = engine.decide_one(example, decided_at=STAMP)["input_hash"]
    changed = copy.deepcopy(example)
    changed["invoices"][0]["amount"] += 0.01
    assert engine.decide_one(changed, decided_at=STAMP)["input_hash"] != base
    later = engine.decide_one(example, as_of=None, decided_at="other")
    assert later["input_hash"] == base  # the timestamp is not an input


# --- the example end to end -------------------------------------------------------------------


def test_example_scores_end_to_end() -> None:
    """riskengine.score on examples/debtor.json: a rated, decided pair."""
    d = riskengine.score(json.loads(EXAMPLE.read_text()))
    assert {"pd", "grade"} <= set(d)
    assert 0 < d["pd"] < 1 and d["grade"] in [str(k) for k in range(1, 11)]
    assert d["decision_type"] in ("full", "partial")
    assert d["requested_limit"] == 350_000.0
    assert d["insured_limit"] <= d["approved_limit"]
    assert len(d["input_hash"]) == 64 and d["decided_at"]
    # the public function is the engine's single-debtor path, nothing else
    direct = riskengine.load_engine().decide_one(
        json.loads(EXAMPLE.read_text()), decided_at=d["decided_at"])
    assert direct == d


def test_score_refuses_a_broken_payload_naming_the_field(example: dict[str, Any]) -> None:
    bad = copy.deepcopy(example)
    bad["statements"][2]["total_assets"] = "11640000"
    with pytest.raises(InvalidInputError, match=r"statements\.2\.total_assets"):
        riskengine.score(bad)


def test_missing_as_of_is_refused_by_the_engine(engine: Engine, example: dict[str, Any]) -> None:
    p = {k: v for k, v in example.items() if k != "as_of"}
    with pytest.raises(InvalidInputError, match="as_of"):
        engine.decide_one(p)


def test_broken_identity_goes_to_validation(engine: Engine, example: dict[str, Any]) -> None:
    """A rule beyond the schema (assets = liabilities + equity) is reported, not scored."""
    bad = copy.deepcopy(example)
    bad["statements"][1]["total_assets"] = 20_000_000.0
    with pytest.raises(InvalidInputError, match="total_assets") as info:
        engine.decide_one(bad)
    assert info.value.problems[0]["reason"] == "identity_broken"


@pytest.mark.parametrize("table, column", [
    (t, c) for t in ("debtors", "statements", "adverse_records", "invoices")
    for c in schemas.CONTRACTS[t].date_columns_not_future])
def test_a_future_record_date_goes_to_validation(engine: Engine, example: dict[str, Any],
                                                 table: str, column: str) -> None:
    """Every date the contracts forbid after the reference date, in a payload, is reported
    by validation (the single path hands the payload over), not scored."""
    bad = copy.deepcopy(example)
    rec = bad["debtor"] if table == "debtors" else bad[table][-1]
    rec[column] = "2026-07-01"  # after the reference date (and the decision date)
    if table == "adverse_records":  # a settlement, if any, after the event
        rec["status"], rec["settlement_date"] = (("settled", rec[column])
                                                 if column == "settlement_date" else ("open", None))
    with pytest.raises(InvalidInputError) as info:
        engine.decide_one(bad, reference_date="2026-06-30")
    assert any(p["reason"] == "future_date" and p["column"] == column
               for p in info.value.problems), info.value.problems


# --- overlay, bases, defaults --------------------------------------------------------------------

_EVENTS = st.sampled_from(schemas.ADVERSE_EVENT_TYPES)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=_EVENTS, days_ago=st.integers(0, 2500), amount=st.floats(0, 5e6),
       settled=st.booleans())
def test_adding_an_adverse_record_never_lowers_the_pd(
    engine: Engine, example: dict[str, Any], event: str, days_ago: int, amount: float,
    settled: bool,
) -> None:
    before = engine.decide_one(example, decided_at=STAMP)
    day = (pd.Timestamp(AS_OF) - pd.Timedelta(days=days_ago)).date().isoformat()
    more = copy.deepcopy(example)
    more["adverse_records"].append({
        "record_id": "NEW-1", "event_type": event, "event_date": day, "amount": amount,
        "currency": "EUR", "status": "settled" if settled else "open",
        "settlement_date": AS_OF if settled else None})
    after = engine.decide_one(more, decided_at=STAMP)
    assert after["pd"] >= before["pd"]
    assert int(after["grade"].replace("D", "11")) >= int(before["grade"].replace("D", "11"))


@given(base=st.lists(st.floats(0, 50), min_size=4, max_size=4),
       extra=st.lists(st.floats(0, 50), min_size=4, max_size=4))
def test_overlay_is_monotone_in_its_features(base: list[float], extra: list[float]) -> None:
    o = Overlay("t", (OverlayTerm("adv_n_tier2", 0.6, "log1p", 20.0),
                      OverlayTerm("adv_weighted_count", 0.4, "log1p", 20.0),
                      OverlayTerm("pay_dbt_mean", 0.25, "linear", 180.0, 30.0),
                      OverlayTerm("adv_knockout", 0.5, "linear", 1.0)))
    lo = np.array([base])
    hi = lo + np.array([extra])
    assert o.contributions(hi).sum() >= o.contributions(lo).sum()


def test_unrated_when_the_model_gives_no_pd(engine: Engine, example: dict[str, Any]) -> None:
    """A NaN PD never becomes a grade: unrated, no limit, no cover, a reason."""
    def nan_scorer(A: np.ndarray) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        return np.full(A.shape[0], np.nan), [[] for _ in range(A.shape[0])]

    batch = engine.decide(payload_to_frames([example]), AS_OF, decided_at=STAMP,
                          scorer=nan_scorer)
    d = batch.to_dicts()[0]
    assert d["decision_type"] == "unrated" and d["pd"] is None and d["grade"] is None
    assert d["approved_limit"] == 0.0 and d["insured_limit"] == 0.0
    assert d["expected_loss"] is None and d["advance_rate"] is None
    assert d["reason_codes"][0]["feature"] == "pd" and "unrated" in d["limit_notes"]


def test_no_financials_basis_gets_the_prior_and_the_minimum_limit(
    engine: Engine, example: dict[str, Any]
) -> None:
    """Seed 003: without financial data, the policy's predetermined minimum limit."""
    p = copy.deepcopy(example)
    p["statements"] = []
    d = engine.decide_one(p, decided_at=STAMP)
    assert d["rating_basis"] == "no_financials"
    assert d["pd_model"] == engine.overlay.no_financials_pd
    assert d["pd"] >= d["pd_model"]  # the overlay only adds
    minimum = engine.policy.capacity.no_financials_limit.lookup(
        np.array([int(d["grade"])]))[0]
    unit = engine.policy.limits.rounding_unit  # the policy rounds every limit down
    assert d["approved_limit"] == math.floor(min(minimum, d["requested_limit"]) / unit) * unit
    assert "no_financials" in d["limit_notes"]
    assert d["reason_codes"][0]["feature"] == "rating_basis"


def test_stale_statements_are_no_financials(engine: Engine, example: dict[str, Any]) -> None:
    d = engine.decide_one(example, as_of=None, decided_at=STAMP)
    assert d["rating_basis"] == "statements"
    late = {**example, "as_of": "2028-06-30"}
    assert engine.decide_one(late, decided_at=STAMP)["rating_basis"] == "no_financials"


def test_open_insolvency_is_grade_d_and_refused(engine: Engine, example: dict[str, Any]) -> None:
    """CRR art. 178 (unlikeliness to pay): PD 1, grade D, knocked out."""
    p = copy.deepcopy(example)
    p["adverse_records"].append({"record_id": "INS-1", "event_type": "insolvency_declared",
                                 "event_date": "2026-05-01", "amount": 0.0, "currency": "EUR",
                                 "status": "open", "settlement_date": None})
    d = engine.decide_one(p, decided_at=STAMP)
    assert d["grade"] == "D" and d["pd"] == 1.0 and d["decision_type"] == "refused"
    assert {"insolvency", "grade_default"} <= set(d["knockouts"])
    assert d["approved_limit"] == 0.0 and d["insured_limit"] == 0.0


def test_ninety_days_past_due_on_a_material_amount_is_default(
    engine: Engine, example: dict[str, Any]
) -> None:
    """91 days past due on 95,300 (> EUR 500 and > 1 % of the open balance) -> D."""
    p = copy.deepcopy(example)
    p["invoices"][6]["paid_date"] = None
    p["invoices"][6]["due_date"] = "2026-03-31"  # 91 days before 2026-06-30
    d = engine.decide_one(p, decided_at=STAMP)
    assert d["grade"] == "D" and d["reason_codes"][0]["feature"] == "past_due_amount"
    p["invoices"][6]["due_date"] = "2026-04-01"  # 90 days: not yet
    assert engine.decide_one(p, decided_at=STAMP)["grade"] != "D"


def test_recourse_and_insurer_limit(engine: Engine, example: dict[str, Any]) -> None:
    """Recourse products are uninsured; an insurer limit covers a non-recourse limit up
    to its amount; it caps the limit only for a product that waits for the insurer."""
    rec = copy.deepcopy(example)
    rec["exposure"]["product"] = "recourse"
    d = engine.decide_one(rec, decided_at=STAMP)
    assert d["product"] == "recourse" and d["insured_limit"] == 0.0
    assert d["cover_basis"] == "none"
    capped = copy.deepcopy(example)
    capped["exposure"]["insurer_limit"] = 120_500.0
    d = engine.decide_one(capped, decided_at=STAMP)
    assert d["approved_limit"] > 120_500.0 and d["insured_limit"] == 120_500.0
    assert d["cover_basis"] == "insurer_limit"
    assert d["insured_amount"] == pytest.approx(0.90 * 120_500.0)  # cover.indemnity
    waits = _await_engine(engine)
    d = waits.decide_one(capped, decided_at=STAMP)
    assert d["approved_limit"] == 120_000.0 and "insurer_cover" in d["binding_constraints"]
    assert d["limit_before_insurer"] > 120_500.0


def _await_engine(engine: Engine) -> Engine:
    """The engine with a policy whose non-recourse product waits for the insurer."""
    from riskengine.policy.credit_policy import CreditPolicy

    d = engine.policy.to_dict()
    d["products"]["non_recourse"]["await_insurer"] = True
    return Engine(engine.pd_model, engine.master_scale, CreditPolicy.from_dict(d),
                  overlay=engine.overlay, model_version=engine.model_version,
                  money_unit=engine.money_unit)


# --- batch bookkeeping ----------------------------------------------------------------------


def test_bad_debtors_become_error_rows_and_counts_reconcile(engine: Engine) -> None:
    frames = generate_portfolio(60, seed=2, as_of=AS_OF)
    st_ = frames["statements"].copy()
    bad_debtor = st_.loc[0, "debtor_id"]
    st_.loc[0, "total_assets"] = -5.0
    frames = {**frames, "statements": st_}
    batch = engine.decide(frames, AS_OF, decided_at=STAMP, fx=FX)
    s = batch.summary()
    assert s["pairs_in"] == s["decided"] + s["pairs_rejected"]
    assert s["debtors_rejected"] == 1 and bad_debtor not in set(batch.decisions["debtor_id"])
    assert (batch.errors["debtor_id"] == bad_debtor).any()
    assert set(batch.errors["reason"]) >= {"negative", "debtor_rejected"}


def test_unknown_product_is_an_error_row(engine: Engine, example: dict[str, Any]) -> None:
    frames = payload_to_frames([example])
    frames["pair_terms"] = frames["pair_terms"].assign(product=["forfaiting"])
    batch = engine.decide(frames, AS_OF)
    assert len(batch.decisions) == 0 and batch.summary()["pairs_rejected"] == 1
    assert batch.errors.iloc[0]["column"] == "product"
    p = copy.deepcopy(example)
    p["exposure"]["product"] = "forfaiting"
    with pytest.raises(InvalidInputError, match="forfaiting"):
        engine.decide_one(p)


def test_inputs_are_not_mutated(engine: Engine) -> None:
    frames = generate_portfolio(20, seed=4, as_of=AS_OF)
    before = {k: v.copy() for k, v in frames.items()}
    engine.decide(frames, AS_OF)
    for k, v in frames.items():
        pd.testing.assert_frame_equal(v, before[k])


# --- artifacts and configuration -------------------------------------------------------------


def test_tampered_artifact_is_refused(tmp_path: Path) -> None:
    src = ROOT / "models"
    for f in src.iterdir():
        shutil.copy(f, tmp_path / f.name)
    art = tmp_path / "pd_model.skops"
    data = bytearray(art.read_bytes())
    data[len(data) // 2] ^= 0xFF
    art.write_bytes(bytes(data))
    with pytest.raises(ModelArtifactError, match="sha256"):
        load_engine(tmp_path)


def test_shipped_overlay_has_non_negative_weights() -> None:
    o = load_overlay()
    assert o.terms and all(t.weight >= 0 for t in o.terms)
    assert o.version and 0 < o.tax_return_pd < o.no_financials_pd < 1


@pytest.mark.parametrize(("change", "key"), [
    ({"terms": {"adv_n_tier2": {"weight": -0.1}}}, "terms.adv_n_tier2.weight"),
    ({"terms": {"adv_nonsense": {"weight": 0.1}}}, "terms.adv_nonsense"),
    ({"basis": {"no_financials_pd": 1.5}}, "no_financials_pd"),
    ({"terms": {"pay_dilution": {"weight": 1.0, "transform": "exp"}}},
     "terms.pay_dilution.transform"),
])
def test_bad_overlay_is_refused_naming_the_key(change: dict[str, Any], key: str) -> None:
    data: dict[str, Any] = {"version": "x", **change}
    with pytest.raises(PolicyError, match=re.escape(f"overlay {key}")) as info:
        Overlay.from_dict(data)
    assert info.value.key == key


def test_debtor_inputs_is_the_core_contract() -> None:
    """The core's inputs name every per-debtor array both paths must fill."""
    names = set(DebtorInputs.__dataclass_fields__)
    assert {"st_X", "overlay_X", "basis", "insolvency", "past_due_default", "digest"} <= names


def test_recourse_pricing_follows_the_supplier_rated_in_the_batch(
    engine: Engine, example: dict[str, Any]
) -> None:
    """Issue 4 §3 (seeds 001, 003): with recourse the supplier bears the debtor's risk, so
    the supplier, rated with the same features, drives advance rate and fees; without a
    rating of the supplier the debtor's grade stays in charge, noted supplier_not_rated."""
    from riskengine.policy.pricing import advance_rate

    debtor = copy.deepcopy(example)
    debtor["exposure"]["product"] = "recourse"
    supplier_id = debtor["exposure"]["supplier_id"]
    # the supplier's own records, as a debtor of another client: a weaker firm
    supplier = copy.deepcopy(example)
    supplier["debtor"]["debtor_id"] = supplier_id
    supplier["debtor"]["name"] = "The supplier itself"
    supplier["debtor"]["group_id"] = None
    for stmt in supplier["statements"]:  # loss-making, negative equity: a weak grade
        ta, rev = stmt["total_assets"], stmt["revenue"]
        stmt["ebitda"] = -0.04 * rev
        stmt["ebit"] = stmt["ebitda"] - stmt["depreciation_amortization"]
        stmt["operating_expenses"] = rev - stmt["ebitda"]
        stmt["net_income"] = stmt["ebit"] - (stmt["interest_expense"] or 0.0)
        stmt["retained_earnings"] = -0.3 * ta
        stmt["equity"] = -0.1 * ta
        stmt["total_liabilities"] = 1.1 * ta
    supplier["exposure"]["supplier_id"] = "OTHER-CLIENT"
    for i, rec in enumerate(supplier["adverse_records"]):
        rec["record_id"] = f"SUP-ADV-{i}"
    for i, inv in enumerate(supplier["invoices"]):
        inv["invoice_id"] = f"SUP-INV-{i}"
        inv["supplier_id"] = "OTHER-CLIENT"
    both = engine.score_payloads([supplier, debtor], decided_at=STAMP)
    alone = engine.score_payloads([debtor], decided_at=STAMP)[0]
    sup_dec, deb_dec = both
    policy = engine.policy
    dilution_free = advance_rate([sup_dec["grade"]], ["recourse"], policy)[0]
    assert "supplier_not_rated" not in deb_dec["limit_notes"]
    assert "supplier_not_rated" in alone["limit_notes"]
    assert deb_dec["grade"] == alone["grade"]  # the debtor's rating itself is unchanged
    assert sup_dec["grade"] != deb_dec["grade"]  # the case distinguishes the two grades
    # the advance rate is the supplier grade's (less the debtor's dilution, <= the table)
    assert deb_dec["advance_rate"] <= dilution_free
    assert deb_dec["advance_rate"] == pytest.approx(
        advance_rate([sup_dec["grade"]], ["recourse"], policy,
                     dilution=dilution_free - deb_dec["advance_rate"])[0])
    assert alone["advance_rate"] != deb_dec["advance_rate"]


def test_related_pairs_by_group_in_any_debtor_order(engine: Engine) -> None:
    """A pair is related when debtor and supplier share a group (or a relation row
    links them); the same pairs whether the debtors are looked up in the decision
    order (the positions already found) or in another order (a lookup of their own)."""
    from riskengine.synthetic import generate_portfolio
    from riskengine.validation import validate_portfolio

    fr = generate_portfolio(120, 5, "2026-06-30")
    deb, sup, ex = fr["debtors"].copy(), fr["suppliers"], fr["exposures"]
    sup_group = dict(zip(sup["supplier_id"], sup["group_id"], strict=True))
    first_sup = ex.drop_duplicates("debtor_id").set_index("debtor_id")["supplier_id"]
    groups = [sup_group[first_sup[d]] if i % 3 == 0 and d in first_sup.index else g
              for i, (d, g) in enumerate(zip(deb["debtor_id"], deb["group_id"], strict=True))]
    deb["group_id"] = pd.Series(groups, dtype=deb["group_id"].dtype)
    clean = validate_portfolio({**fr, "debtors": deb}).frames
    d_group = dict(zip(clean["debtors"]["debtor_id"], clean["debtors"]["group_id"], strict=True))
    linked = set(zip(clean["relations"]["supplier_id"], clean["relations"]["debtor_id"],
                     strict=True))
    ids = pd.Index(clean["debtors"]["debtor_id"].astype("str"))
    for order in (ids, ids[::-1]):
        pairs, _ = engine._pairs_from_frames(clean, None, order,
                                             np.full(len(order), "", dtype=object),
                                             FX.at(AS_OF))
        expect = [(s, d) in linked or (pd.notna(d_group[d]) and d_group[d] == sup_group[s])
                  for s, d in zip(pairs.supplier_id, order[pairs.debtor_pos], strict=True)]
        assert pairs.related.tolist() == expect
        assert sum(expect) > len(linked)  # shared groups do occur


def test_flat_trees_on_raw_infinities_and_nan_thresholds(engine: Engine) -> None:
    """Unprepared rows with infinities and NaN (the compiled walk reads NaN as -inf
    only on nodes whose missing values go left) score as the fitted estimator; an
    ensemble with a NaN split threshold is not flattened."""
    from riskengine.model.flat_trees import FlatTrees, Unsupported

    est = engine.pd_model.estimator_
    trees = FlatScorer(engine.pd_model, 3).trees
    rng = np.random.default_rng(11)
    A = rng.standard_normal((400, trees.n_features)) * 3.0
    A[rng.random(A.shape) < 0.2] = np.nan
    A[rng.random(A.shape) < 0.1] = np.inf
    A[rng.random(A.shape) < 0.1] = -np.inf
    assert trees.raw_scores(A).tobytes() == est._raw_predict(A).ravel().tobytes()
    broken = copy.deepcopy(est)
    nodes = broken._predictors[0][0].nodes
    nodes["num_threshold"][np.flatnonzero(~nodes["is_leaf"].astype(bool))[0]] = np.nan
    with pytest.raises(Unsupported):
        FlatTrees(broken)


def test_a_decision_after_the_reference_date_is_refused(engine: Engine,
                                                        example: dict[str, Any]) -> None:
    """Issue 13 point 3: a payload dated 2199 used to become the debtor's latest decision
    (grade D from invoices aged 170 years); with a reference date it is refused on the
    single, the many and the portfolio path alike, even when every record is fine."""
    late = {**example, "as_of": "2026-07-02"}
    with pytest.raises(InvalidInputError, match="field 'as_of' 2026-07-02 is after the "
                       "reference date 2026-07-01") as err:
        engine.decide_one(late, reference_date="2026-07-01")
    assert (err.value.first["column"], err.value.first["reason"]) == ("as_of", "future_date")
    with pytest.raises(InvalidInputError, match="field '1.as_of' 2026-07-02 is after"):
        engine.score_payloads([example, late], reference_date="2026-07-01")
    frames = payload_to_frames([example])
    with pytest.raises(InvalidInputError, match="as_of 2026-07-02 is after the reference"):
        engine.decide(frames, "2026-07-02", reference_date="2026-07-01")
    with pytest.raises(InvalidInputError, match="as_of 'June 2026' is not a date"):
        engine.decide(frames, "June 2026")
    # on the reference date itself: decided
    assert engine.decide_one(late, reference_date="2026-07-02")["as_of"] == "2026-07-02"


def test_overlay_fit_and_prior_round_trip_and_refusals():
    """A fitted term carries its prior and its estimate with a CI; the layout round-trips."""
    import tomllib

    import tomli_w

    from riskengine.api import load_overlay
    from riskengine.errors import PolicyError
    from riskengine.scoring.overlay import Overlay

    shipped = load_overlay()
    data = shipped.to_dict()
    assert Overlay.from_dict(tomllib.loads(tomli_w.dumps(data))) == shipped
    term = data["terms"]["adv_n_tier2"]
    term["prior_weight"] = term["weight"]
    term["fit"] = {"estimate": 0.8, "ci_low": 0.5, "ci_high": 1.1, "method": "logit",
                   "data": "test", "n_obs": 100, "n_events": 7}
    data["provenance"] = {"method": "test fit"}
    fitted = Overlay.from_dict(tomllib.loads(tomli_w.dumps(data)))
    t = dict(zip(fitted.features, fitted.terms, strict=True))["adv_n_tier2"]
    assert t.prior_weight == 0.6 and t.fit is not None and t.fit.ci_high == 1.1
    assert dict(fitted.provenance) == {"method": "test fit"}
    assert Overlay.from_dict(fitted.to_dict()) == fitted
    term["fit"]["ci_low"] = 0.9          # estimate outside its own interval
    with pytest.raises(PolicyError, match="ci_low <= estimate"):
        Overlay.from_dict(data)
    term["fit"] = {"estimate": 0.8}      # no interval, no method
    with pytest.raises(PolicyError, match="ci_low is missing"):
        Overlay.from_dict(data)
    del term["fit"]
    term["prior_weight"] = -1.0
    with pytest.raises(PolicyError, match="prior_weight"):
        Overlay.from_dict(data)
