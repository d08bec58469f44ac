"""Decision: a frozen, JSON-safe value object with stable key order and no sentinels."""

from __future__ import annotations

import json
import math
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from riskengine.contracts.decision import _EXAMPLE, DECISION_FIELDS, Decision


def _d(**change: Any) -> dict[str, Any]:
    return {**_EXAMPLE, **change}


def test_round_trip_and_key_order() -> None:
    d = Decision.from_dict(_EXAMPLE)
    out = d.to_dict()
    assert list(out) == list(DECISION_FIELDS)
    assert Decision.from_dict(out) == d
    assert json.dumps(out) == json.dumps(Decision.from_dict(json.loads(json.dumps(out))).to_dict())


def test_to_dict_is_json_safe() -> None:
    d = Decision.from_dict(_d(expected_loss=math.nan, advance_rate=math.inf))
    out = d.to_dict()
    assert out["expected_loss"] is None and out["advance_rate"] is None
    json.dumps(out, allow_nan=False)


def test_frozen() -> None:
    d = Decision.from_dict(_EXAMPLE)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'pd'"):
        d.pd = 0.5  # type: ignore[misc]


def test_unrated_has_no_pd_no_grade_and_no_limit() -> None:
    ok = Decision.from_dict(_d(pd=None, grade=None, decision_type="unrated", approved_limit=0.0,
                               insured_limit=0.0, insured_amount=0.0))
    assert ok.to_dict()["pd"] is None
    with pytest.raises(ValueError, match="unrated decision has neither"):
        Decision.from_dict(_d(pd=None, grade="4"))
    with pytest.raises(ValueError, match="unrated decision has neither"):
        Decision.from_dict(_d(pd=0.01, grade="4", decision_type="unrated"))
    with pytest.raises(ValueError, match="approved_limit"):
        Decision.from_dict(_d(pd=None, grade=None, decision_type="unrated",
                              approved_limit=5000.0, insured_limit=0.0, insured_amount=0.0))


@pytest.mark.parametrize(("change", "message"), [
    ({"pd": 1.5}, "not in"),
    ({"pd": float("nan")}, "not in"),
    ({"decision_type": "maybe"}, "decision_type"),
    ({"rating_basis": "gut_feeling"}, "rating_basis"),
    ({"insured_limit": 30_000.0}, "insured_limit exceeds"),
    ({"approved_limit": -1.0, "insured_limit": 0.0, "insured_amount": 0.0}, "approved_limit"),
    ({"insured_amount": 25_000.01}, "insured_amount exceeds"),  # issue 16: <= insured limit
    ({"cover_basis": "assumed"}, "cover_basis"),
])
def test_invariants(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Decision.from_dict(_d(**change))


def test_from_dict_refuses_unknown_and_missing_keys() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        Decision.from_dict(_d(colour="red"))
    partial = {k: v for k, v in _EXAMPLE.items() if k != "grade"}
    with pytest.raises(ValueError, match="missing keys"):
        Decision.from_dict(partial)
