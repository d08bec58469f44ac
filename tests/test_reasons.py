"""Reason codes as data: the batch table keeps fields, one function puts them into words.

The batch decision table (:meth:`Engine.decide_table`, the rows of
``decisions.parquet``) carries each reason code as ``code, feature, value,
direction, odds_factor`` and no text; :func:`riskengine.scoring.reasons.public_reasons`
(the renderer every decision handed out goes through) must turn those fields into
exactly the reason codes of the same debtor decided alone.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from riskengine.api import load_engine
from riskengine.contracts.payload import payload_to_frames
from riskengine.scoring.engine import Engine
from riskengine.scoring.reasons import (
    REASON_CODES,
    REASON_FIELDS,
    ReasonWords,
    public_reasons,
    reason_text,
    reason_words,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "debtor.json"
AS_OF = "2026-06-30"
STAMP = "2026-06-30T12:00:00+00:00"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return load_engine()


def _variants() -> list[dict[str, Any]]:
    """The example debtor and five twins, one per kind of reason code: statements
    (model drivers and overlay terms), no statements, tax returns only, an open
    insolvency, 91 days past due on a material amount."""
    base = json.loads(EXAMPLE.read_text())
    out = []
    for k in range(5):
        p = copy.deepcopy(base)
        p["debtor"]["debtor_id"] = f"D-{k}"
        p["debtor"]["tax_id"] = f"EL{k:09d}"
        for rec in p["invoices"] + p["adverse_records"]:  # record ids unique in the batch
            key = "invoice_id" if "invoice_id" in rec else "record_id"
            rec[key] = f"{rec[key]}-{k}"
        out.append(p)
    out[1]["statements"] = []
    out[2]["statements"][-1]["statement_type"] = "tax_return"
    out[3]["adverse_records"].append({
        "record_id": "INS-1", "event_type": "insolvency_declared", "event_date": "2026-05-01",
        "amount": 0.0, "currency": "EUR", "status": "open", "settlement_date": None})
    out[4]["invoices"][6]["paid_date"] = None
    out[4]["invoices"][6]["due_date"] = "2026-03-31"
    return out


def test_batch_fields_render_to_the_single_decision_reasons(engine: Engine) -> None:
    variants = _variants()
    table = engine.decide_table(payload_to_frames(variants), AS_OF, decided_at=STAMP).table
    rows = {r["debtor_id"]: r for r in table.to_pylist()}
    words = reason_words(engine.overlay)
    seen = set()
    for p in variants:
        single = engine.decide_one(p, decided_at=STAMP)
        stored = rows[p["debtor"]["debtor_id"]]["reason_codes"]
        assert stored and all(tuple(r) == REASON_FIELDS for r in stored)  # fields, no text
        assert list(public_reasons(stored, words)) == single["reason_codes"]
        assert all(set(r) == {"feature", "value", "direction", "text"}
                   for r in single["reason_codes"])  # the public JSON keeps its keys
        seen |= {r["code"] for r in stored}
    assert seen == set(REASON_CODES) - {"no_valid_pd"}
    odds = [r["odds_factor"] for p in rows.values() for r in p["reason_codes"]
            if r["code"] == "overlay"]
    assert odds and all(f > 1.0 for f in odds)  # an overlay term only raises the odds


def test_unrated_reason_renders_like_the_decision(engine: Engine) -> None:
    """No valid PD: the code ``no_valid_pd`` in the table, its text in the decision."""
    def nan_scorer(A: np.ndarray) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        return np.full(A.shape[0], np.nan), [[] for _ in range(A.shape[0])]

    frames = payload_to_frames(_variants()[:1])
    table = engine.decide_table(frames, AS_OF, decided_at=STAMP, scorer=nan_scorer).table
    stored = table.to_pylist()[0]["reason_codes"]
    assert stored[0] == {"code": "no_valid_pd", "feature": "pd", "value": None,
                         "direction": "missing", "odds_factor": None}
    d = engine.decide(frames, AS_OF, decided_at=STAMP, scorer=nan_scorer).to_dicts()[0]
    assert d["reason_codes"] == list(public_reasons(stored, reason_words(engine.overlay)))
    assert d["reason_codes"][0]["text"] == ("the PD model returned no valid PD; "
                                            "the debtor is unrated")


def test_texts_of_the_example_debtor(engine: Engine) -> None:
    """Golden texts (the shipped overlay.toml: tier-2 weight 0.6 on log1p(1 record),
    odds x exp(0.6 ln 2) = x1.52; no-financials prior 0.05; 90 days past due)."""
    words = reason_words(engine.overlay)
    assert reason_text({"code": "overlay", "feature": "adv_n_tier2", "value": 1.0,
                        "direction": "higher", "odds_factor": 2 ** 0.6}, words) == (
        "bounced cheques, payment orders or unpaid bills on the register: 1, "
        "odds of default x1.52")
    assert reason_text({"code": "basis_no_financials", "feature": "rating_basis", "value": None,
                        "direction": "missing", "odds_factor": None}, words) == (
        "no usable financial statements (no_financials): PD prior 0.05 before the overlay")
    assert reason_text({"code": "past_due_default", "feature": "past_due_amount",
                        "value": 95300.0, "direction": "higher", "odds_factor": None},
                       words).startswith("more than 90 days past due on a material amount")
    assert reason_text({"code": "statement_model", "feature": "st_interest_cover",
                        "value": None, "direction": "missing", "odds_factor": None},
                       words) == "interest cover: not available"


def test_unknown_code_is_refused_naming_it() -> None:
    words = ReasonWords((), 90, ())
    with pytest.raises(ValueError, match="reason code 'gut_feeling' .*feature 'st_roa'"):
        reason_text({"code": "gut_feeling", "feature": "st_roa", "value": 1.0,
                     "direction": "higher", "odds_factor": None}, words)


def test_memo_of_a_table_row_writes_the_decision_texts(engine: Engine) -> None:
    """A row of the batch table (fields, no text) in the memo: the single decision's texts."""
    from riskengine.serve.memo.context import memo_context

    p = _variants()[0]
    row = engine.decide_table(payload_to_frames([p]), AS_OF, decided_at=STAMP).table.to_pylist()[0]
    single = engine.decide_one(p, decided_at=STAMP)
    ctx = memo_context(engine, p, row, generated_at=STAMP)
    assert [r["text"] for r in ctx["reasons"]] == [r["text"] for r in single["reason_codes"]]
