"""Fuzz the HTTP service from its own OpenAPI document (schemathesis): no 5xx, ever.

Source: issue 5 §3 ("Fuzz the API from its own OpenAPI document (schemathesis)
in the tests: no 5xx for any generated input"). Schemathesis generates both
schema-conforming and schema-violating requests for every operation of
``/openapi.json``; each is sent with a valid bearer token, and the only check
is that the answer is not a server error. The number of examples per
operation is bounded so the file stays well under a minute.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from riskengine.serve.api import create_app
from riskengine.store import DecisionStore

TOKEN = "fuzz-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _engine() -> Any:
    """The real engine (the shipped model and policy)."""
    from riskengine.api import load_engine

    return load_engine()


STORE = DecisionStore("sqlite://")
APP = create_app(_engine(), STORE, [TOKEN])
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
def test_no_server_error_for_any_generated_request(case: Any) -> None:
    case.call_and_validate(headers=AUTH, checks=[not_a_server_error])


def test_the_fuzzed_document_covers_every_route() -> None:
    """The document the fuzzer reads lists every route of the service."""
    paths = set(APP.openapi()["paths"])
    assert paths == {"/health", "/ready", "/v1/decisions", "/v1/invoices/check",
                     "/v1/debtors/{debtor_id}/decision", "/v1/limits/{debtor_id}",
                     "/v1/insurer-requests", "/v1/insurer-responses", "/v1/fx-rates",
                     "/v1/decisions/{decision_id}", "/v1/limit-actions", "/v1/alerts"}


# --- valid payloads with extreme figures reach the engine: still never a 5xx ---------------

import copy  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

from hypothesis import event, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EXAMPLE = json.loads((Path(__file__).resolve().parents[1] / "examples" / "debtor.json")
                     .read_text())
SIGNED = {"gross_profit", "ebitda", "ebit", "net_income", "equity", "retained_earnings"}
AMOUNTS = st.one_of(st.just(0.0), st.floats(0.0, 1e12, allow_nan=False),
                    st.sampled_from([1e-9, 1.0, 1e15]))


@st.composite
def _payloads(draw: st.DrawFn) -> dict[str, Any]:
    """The example payload with its figures, lists and dates drawn anew (all schema-valid:
    the cross-field rules the JSON Schema cannot say are kept)."""
    p = copy.deepcopy(EXAMPLE)
    keep = draw(st.lists(st.booleans(), min_size=3, max_size=3))
    p["statements"] = [s for s, k in zip(p["statements"], keep, strict=True) if k]
    for s in p["statements"]:
        for key in list(s):
            if key in ("period_end", "statement_type", "currency"):
                continue
            value = draw(st.one_of(st.none(), AMOUNTS) if key != "revenue" else AMOUNTS)
            if value is not None and key in SIGNED and draw(st.booleans()):
                value = -value
            s[key] = value
    p["adverse_records"] = draw(st.lists(st.sampled_from(EXAMPLE["adverse_records"]),
                                         max_size=2, unique_by=lambda r: r["record_id"]))
    p["invoices"] = draw(st.lists(st.sampled_from(EXAMPLE["invoices"]), max_size=8,
                                  unique_by=lambda r: r["invoice_id"]))
    for inv in p["invoices"]:
        inv["amount"] = draw(AMOUNTS)
    ex = p["exposure"]
    ex["requested_limit"] = draw(AMOUNTS)
    ex["approved_limit"] = draw(AMOUNTS)
    ex["approved_outstanding"] = draw(AMOUNTS)
    ex["supplier"]["ledger_total"] = draw(AMOUNTS)
    ex["insurer_limit"] = draw(st.one_of(st.none(), AMOUNTS))
    ex["product"] = draw(st.sampled_from(["recourse", "non_recourse", None]))
    ex["relation_type"] = draw(st.sampled_from([None, "subsidiary"]))
    p["as_of"] = draw(st.dates(dt.date(2010, 1, 1), dt.date.today())).isoformat()
    return p


CLIENT = TestClient(APP, raise_server_exceptions=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_payloads())
def test_valid_payloads_with_extreme_figures_never_5xx(payload: dict[str, Any]) -> None:
    r = CLIENT.post("/v1/decisions", json=payload, headers=AUTH)
    event(f"HTTP {r.status_code}")
    assert r.status_code in (201, 422), r.text
    if r.status_code == 200:
        d = r.json()
        assert d["pd"] is None or 0.0 < d["pd"] <= 1.0
        assert d["approved_limit"] is None or d["approved_limit"] >= 0.0
