"""A payload with several exposures: one per supplier, decided together (issue 15 point 6).

Sources: issue 15 point 6 (a payload may carry ``exposures`` besides ``exposure``; its
decision covers every pair with one shared debtor capacity); docs/POLICY.md "The book"
rule 1 (the capacity is shared pro rata to what each pair asks beyond its approved
outstanding, then rounded down to ``limits.rounding_unit``, 1,000 in the shipped
policy); docs/SERVICE.md (the answer's shape mirrors the request).
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest

from riskengine.cli import main
from riskengine.contracts.payload import (
    MAX_EXPOSURES,
    by_payload,
    parse_payload,
    payload_to_frames,
)
from riskengine.errors import InvalidInputError
from riskengine.serve.api import create_app
from riskengine.store import DecisionStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "examples" / "debtor.json").read_text())
KW = {"decided_at": "2026-06-30T00:00:00Z", "reference_date": "2026-06-30"}
TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def engine() -> Any:
    from riskengine.api import load_engine

    return load_engine()


def several(k: int, *, requested: float | None = None) -> dict[str, Any]:
    """The example's debtor with ``k`` suppliers: the example's exposure under supplier
    ids S-0 ... (the first is the example's own), its invoices spread over them."""
    p = copy.deepcopy(EXAMPLE)
    ex = p.pop("exposure")
    sids = [ex["supplier_id"], *(f"GR-S-90000{i}" for i in range(1, k))]
    p["exposures"] = []
    for i, sid in enumerate(sids):
        e = copy.deepcopy(ex)
        e["supplier_id"] = sid
        e["requested_limit"] = e["requested_limit"] * (i + 1) if requested is None \
            else requested
        p["exposures"].append(e)
    for i, inv in enumerate(p["invoices"]):
        inv["supplier_id"] = sids[i % k]
    return p


def other_debtor() -> dict[str, Any]:
    """The example under another debtor and supplier (one payload per debtor, invoice ids
    unique per supplier)."""
    p = copy.deepcopy(EXAMPLE)
    p["debtor"]["debtor_id"] = "GR-D-000002"
    p["exposure"]["supplier_id"] = "GR-S-000002"
    return p


# --- validation --------------------------------------------------------------------------


def _refused(payload: dict[str, Any]) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as err:
        parse_payload(payload)
    return err.value


def test_neither_exposure_nor_exposures_is_refused_naming_the_field() -> None:
    p = copy.deepcopy(EXAMPLE)
    del p["exposure"]
    err = _refused(p)
    assert err.problems[0]["column"] == "exposure"
    assert "field 'exposure': missing" in str(err)


def test_both_exposure_and_exposures_are_refused_naming_the_field() -> None:
    p = several(2)
    p["exposure"] = copy.deepcopy(EXAMPLE["exposure"])
    err = _refused(p)
    assert err.problems[0]["column"] == "exposures"
    assert "not both" in str(err)


def test_two_exposures_of_one_supplier_are_refused_naming_the_second() -> None:
    p = several(3)
    p["exposures"][2]["supplier_id"] = p["exposures"][0]["supplier_id"]
    err = _refused(p)
    assert err.problems[0]["column"] == "exposures.2.supplier_id"
    assert "duplicate supplier" in str(err)


def test_too_many_or_no_exposures_are_refused() -> None:
    p = several(1)
    p["exposures"] = [copy.deepcopy(p["exposures"][0]) for _ in range(MAX_EXPOSURES + 1)]
    for i, e in enumerate(p["exposures"]):
        e["supplier_id"] = f"S-{i}"
    for inv in p["invoices"]:
        inv["supplier_id"] = "S-0"
    err = _refused(p)
    assert err.problems[0]["column"] == "exposures"
    assert err.problems[0]["reason"] == "too_long"
    p["exposures"] = []
    assert _refused(p).problems[0]["reason"] == "too_short"


@pytest.mark.parametrize("supplier", [None, "GR-S-NOT-A-PAIR"])
def test_an_invoice_must_name_one_of_the_payloads_suppliers(supplier: str | None) -> None:
    p = several(2)
    p["invoices"][3]["supplier_id"] = supplier
    err = _refused(p)
    assert err.problems[0]["column"] == "invoices.3.supplier_id"


def test_one_invoice_id_under_two_suppliers_is_two_invoices_and_a_repeat_is_refused() -> None:
    """The invoices contract is keyed by (supplier_id, invoice_id)."""
    p = several(2)
    p["invoices"][1]["invoice_id"] = p["invoices"][0]["invoice_id"]  # other supplier: fine
    assert len(payload_to_frames([p])["invoices"]) == len(p["invoices"])
    p["invoices"][2]["invoice_id"] = p["invoices"][0]["invoice_id"]  # same supplier
    assert _refused(p).problems[0]["column"] == "invoices.2.invoice_id"


def test_frames_of_a_payload_with_exposures() -> None:
    p = several(3)
    frames = payload_to_frames([p])
    sids = [e["supplier_id"] for e in p["exposures"]]
    assert frames["exposures"]["supplier_id"].tolist() == sids
    assert frames["suppliers"]["supplier_id"].tolist() == sids
    assert frames["invoices"]["supplier_id"].tolist() == [
        inv["supplier_id"] for inv in p["invoices"]]


def test_by_payload_mirrors_the_request() -> None:
    flat = ["a", "b", "c", "d"]
    assert by_payload([EXAMPLE, several(3)], flat) == ["a", ["b", "c", "d"]]
    assert by_payload([several(1)], ["x"]) == [["x"]]
    with pytest.raises(ValueError, match="3 decisions for 4 pairs"):
        by_payload([EXAMPLE, several(3)], flat[:3])


# --- decisions ---------------------------------------------------------------------------


def test_two_suppliers_asking_the_full_capacity_share_it(engine: Any) -> None:
    """The example debtor's capacity C (one supplier alone: ``debtor_capacity``); two
    suppliers each asking C with nothing outstanding get C/2 each, rounded down to 1,000
    (docs/POLICY.md "The book" rule 1: pro rata to the requests), bound by capacity."""
    capacity = engine.decide_one(EXAMPLE, **KW)["debtor_capacity"]
    assert capacity > 0
    p = several(2, requested=capacity)
    for e in p["exposures"]:
        e["approved_outstanding"] = 0.0
    got = engine.decide_payload(p, **KW)
    assert [d["supplier_id"] for d in got] == [e["supplier_id"] for e in p["exposures"]]
    half = math.floor(capacity / 2 / 1000) * 1000
    assert [d["approved_limit"] for d in got] == [half, half]
    assert sum(d["approved_limit"] for d in got) <= capacity
    for d in got:
        assert d["debtor_capacity"] == capacity
        assert "capacity" in d["binding_constraints"]


@pytest.mark.parametrize("k", [1, 3])
def test_single_path_equals_batch_path(engine: Any, k: int) -> None:
    p = several(k)
    single = engine.decide_payload(p, **KW)
    batch = engine.score_payloads([p], **KW)
    assert len(single) == k and single == batch
    assert len({d["input_hash"] for d in single}) == k  # one document per pair


def test_three_suppliers_never_exceed_the_capacity(engine: Any) -> None:
    got = engine.decide_payload(several(3, requested=10_000_000.0), **KW)
    assert sum(d["approved_limit"] for d in got) <= got[0]["debtor_capacity"]


def test_the_example_keeps_its_input_hash_on_every_path(engine: Any) -> None:
    """tests/test_input_hash.py records the example's hash (scheme 3, issue 16)."""
    recorded = "cc60223f01dcd75d712bbcf5b88cbe77bf4cb0774019aa19ae3a4f86f38d4fb5"
    assert [d["input_hash"] for d in engine.decide_payload(EXAMPLE, **KW)] == [recorded]
    assert engine.decide_one(EXAMPLE, **KW)["input_hash"] == recorded


def test_the_pair_of_a_one_exposure_list_is_the_single_exposures_decision(engine: Any
                                                                         ) -> None:
    """``exposures: [e]`` and ``exposure: e`` are the same pair and inputs."""
    assert engine.decide_payload(several(1), **KW) == [engine.decide_one(EXAMPLE, **KW)]


def test_decide_one_refuses_several_pairs_naming_the_field(engine: Any) -> None:
    with pytest.raises(InvalidInputError, match="'exposures'.*decide_payload"):
        engine.decide_one(several(2), **KW)


# --- interfaces --------------------------------------------------------------------------


def test_http_answers_a_list_for_exposures_and_stores_every_pair(engine: Any) -> None:
    store = DecisionStore("sqlite://")
    c = TestClient(create_app(engine, store, [TOKEN]), raise_server_exceptions=False)
    p = several(3)
    r = c.post("/v1/decisions", json=p, headers=AUTH)
    assert r.status_code == 201, r.text
    body = r.json()
    assert isinstance(body, list)
    assert [d["supplier_id"] for d in body] == [e["supplier_id"] for e in p["exposures"]]
    assert all(d["register"]["applied"] for d in body)
    assert r.headers["x-decision-id"] == "1,2,3"
    assert store.count("decisions") == 3
    limits = c.get("/v1/limits/GR-D-004711", headers=AUTH).json()["limits"]
    assert sorted(e["supplier_id"] for e in limits) == sorted(d["supplier_id"] for d in body)
    # an array: one entry per payload, a decision or the list of a payload's pairs
    r = c.post("/v1/decisions", json=[other_debtor(), several(2)], headers=AUTH)
    assert r.status_code == 201, r.text
    first, second = r.json()
    assert first["debtor_id"] == "GR-D-000002"
    assert [d["debtor_id"] for d in second] == ["GR-D-004711"] * 2
    assert store.count("decisions") == 6
    store.close()


def test_http_refuses_a_duplicate_supplier_without_storing(engine: Any) -> None:
    store = DecisionStore("sqlite://")
    c = TestClient(create_app(engine, store, [TOKEN]), raise_server_exceptions=False)
    p = several(2)
    p["exposures"][1]["supplier_id"] = p["exposures"][0]["supplier_id"]
    r = c.post("/v1/decisions", json=p, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "exposures", 1, "supplier_id"]
    assert p["exposures"][0]["supplier_id"] not in r.text
    assert store.count("decisions") == 0
    store.close()


def test_score_command_prints_a_list_for_exposures(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "several.json"
    file.write_text(json.dumps(several(3)))
    assert main(["score", str(file)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [d["supplier_id"] for d in out] == [e["supplier_id"]
                                               for e in several(3)["exposures"]]
    file.write_text(json.dumps([other_debtor(), several(2)]))
    assert main(["score", str(file)]) == 0
    one, two = json.loads(capsys.readouterr().out)
    assert isinstance(one, dict) and len(two) == 2
