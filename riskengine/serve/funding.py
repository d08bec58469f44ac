"""``POST /v1/invoices/check``: a funding check against the pair's current limit (shell).

The limit is the register's in force on the check's day, else the latest stored
decision's; the terms (grade, product, supplier grade, advance rate, rating date) are
those of the decision that set the register, else the latest stored decision in force.
The check is recorded before the answer is sent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException
from fastapi.responses import Response

from riskengine.errors import InvalidInputError
from riskengine.serve.common import problem_details, response_json
from riskengine.serve.problems import problem
from riskengine.store import DecisionStore, jsonable

__all__ = ["check_invoice"]

_JSON_HEADERS = {"content-type": "application/json"}


def _json(value: Any) -> bytes:
    return response_json(value)  # money in cents


def _input_hash(obj: Any) -> str:
    text = json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def check_invoice(req: Any, store: DecisionStore, policy: Any) -> Response:
    from riskengine.policy.funding import fund_invoice

    as_of = req.as_of or dt.datetime.now(dt.UTC).date()  # the decisions' today (UTC)
    registered = store.current_limit(req.supplier_id, req.debtor_id, as_of)
    # the terms of the decision that set the register (a decision of the service, an
    # override, a rerate run), when in force on the check's date; else the latest stored
    # decision in force then (one dated later has not taken effect)
    decision = _register_terms(registered, as_of)
    if decision is None:
        decision = store.latest_decision(req.debtor_id, req.supplier_id, in_force_on=as_of)
    if decision is None:
        decision = store.latest_decision(req.debtor_id, in_force_on=as_of)
    if decision is None:
        raise HTTPException(status_code=404, detail="no decision on this debtor in force on "
                            "as_of: POST /v1/decisions first")
    grade = decision.get("grade")
    if grade is None:
        raise HTTPException(status_code=409, detail="the debtor is unrated: no funding "
                            "against an unrated debtor")
    if registered is not None:
        limit, source = float(registered["limit"]), "limit_register"
    elif decision.get("approved_limit") is not None:
        limit, source = float(decision["approved_limit"]), "latest_decision"
    else:
        raise HTTPException(status_code=409, detail="no approved limit for this pair")
    terms = _decision_terms(decision, policy)
    invoice: dict[str, Any] = {
        "limit": limit, "approved_outstanding": req.approved_outstanding,
        "amount": req.amount, "invoice_date": req.invoice_date.isoformat(),
        "due_date": req.due_date.isoformat(), "as_of": as_of.isoformat(), "grade": str(grade),
        "contras": req.contras, "cross_aged": req.cross_aged, "related": req.related,
        "rating_date": terms["rating_date"],
        **{k: v for k, v in terms.items() if v is not None},
    }
    try:
        result = fund_invoice(policy, **invoice)
    except InvalidInputError as exc:
        return problem(422, problem_details(exc, ("body",), table_in_path=False),
                       instance="/v1/invoices/check")
    request_record = req.model_dump(mode="json")
    answer: dict[str, Any] = {
        "supplier_id": req.supplier_id, "debtor_id": req.debtor_id,
        "invoice_id": req.invoice_id, "as_of": as_of.isoformat(), "grade": str(grade),
        "product": terms["product"], "supplier_grade": terms["supplier_grade"],
        "rating_date": terms["rating_date"], "limit": limit, "limit_source": source,
        "limit_status": None if registered is None else registered["status"],
        "approved_outstanding": req.approved_outstanding,
        **dataclasses.asdict(result),
        "policy_version": str(getattr(policy, "version", "")),
        "decision_id": decision.get("decision_id"),
    }
    answer["reasons"] = list(result.reasons)
    check_id = store.record_funding_check(
        supplier_id=req.supplier_id, debtor_id=req.debtor_id, invoice_id=req.invoice_id,
        request=request_record, result=answer, limit_used=limit, limit_source=source,
        approved_outstanding=req.approved_outstanding, as_of=as_of,
        decision_id=answer["decision_id"], model_version=_opt_str(decision.get("model_version")),
        policy_version=answer["policy_version"], input_hash=_input_hash(request_record))
    answer["check_id"] = check_id
    return Response(_json(answer), headers=_JSON_HEADERS)


def _register_terms(registered: Mapping[str, Any] | None, day: dt.date
                    ) -> dict[str, Any] | None:
    """The funding terms the register row keeps of the decision that set it, when that
    decision is in force on ``day`` (not dated after it), else None."""
    terms = None if registered is None else registered.get("terms")
    if not terms or not terms.get("as_of") or terms["as_of"] > day.isoformat():
        return None
    return dict(terms)


def _decision_terms(decision: Mapping[str, Any], policy: Any) -> dict[str, Any]:
    """The funding terms a stored decision fixes: product, supplier grade, advance rate
    (its dilution included) and the rating's date (``as_of``, else the day of
    ``decided_at``; unknown: None, a stale rating). A decision without a supplier
    grade leaves the debtor's grade pricing (the engine's rule for a supplier not
    rated)."""
    rated = decision.get("as_of") or str(decision.get("decided_at") or "")[:10] or None
    return {"product": decision.get("product") or policy.product_names[0],
            "supplier_grade": _opt_str(decision.get("supplier_grade")),
            "advance_rate": decision.get("advance_rate"), "rating_date": rated}


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)

