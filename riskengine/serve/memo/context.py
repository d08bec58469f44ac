"""The memo's context: everything it shows, as plain data, from the engine, the debtor's
records and the decision (:func:`memo_context`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from riskengine.errors import InvalidInputError
from riskengine.model.master_scale import GRADES
from riskengine.serve.memo.sections import (
    _adverse,
    _concentration,
    _day,
    _lowering_reasons,
    _payments,
    _ratio_table,
    _reasons,
    _section,
    _sector_position,
)
from riskengine.serve.memo.words import (
    _DECISION_WORDS,
    CONSTRAINT_WORDS,
    GRADE_WORDS,
    _num,
    fmt_money,
    fmt_pct,
    fmt_pd,
)

#: Where a decision's cover comes from (issue 16), in words.
_COVER_WORDS = {"insurer_limit": "the insurer's limit on the debtor",
                "discretionary": "the policy's discretionary cover",
                "none": "no cover"}


def _decision_dict(decision: Any) -> dict[str, Any]:
    if isinstance(decision, Mapping):
        return dict(decision)
    to_dict = getattr(decision, "to_dict", None)
    if callable(to_dict):
        out: dict[str, Any] = to_dict()
        return out
    raise InvalidInputError(f"memo: decision of type {type(decision).__name__} is neither a "
                            "Decision nor a dict; pass the engine's decision.")


def _is_frames(obj: Any) -> bool:
    return isinstance(obj, Mapping) and "debtors" in obj and isinstance(
        obj["debtors"], pd.DataFrame)


def _debtor_frames(frames: Mapping[str, pd.DataFrame], debtor_id: str,
                   supplier_id: str | None) -> dict[str, pd.DataFrame]:
    """The debtor's rows of every table (its pair's supplier only)."""
    out: dict[str, pd.DataFrame] = {}
    for name, f in frames.items():
        if not isinstance(f, pd.DataFrame):
            continue
        if "debtor_id" in f.columns:
            keep = f["debtor_id"].astype("str") == debtor_id
            out[name] = f[keep.to_numpy(dtype=bool, na_value=False)]
        else:
            out[name] = f
    if supplier_id is not None and "suppliers" in out:
        s = out["suppliers"]
        out["suppliers"] = s[(s["supplier_id"].astype("str") == supplier_id).to_numpy(
            dtype=bool, na_value=False)]
    return out


def _first(frame: pd.DataFrame | None, **eq: str) -> dict[str, Any]:
    if frame is None or frame.empty:
        return {}
    mask = np.ones(len(frame), dtype=bool)
    for col, val in eq.items():
        if col in frame.columns:
            mask &= (frame[col].astype("str") == val).to_numpy(dtype=bool, na_value=False)
    sel = frame[mask]
    if sel.empty:
        return {}
    row = sel.iloc[0].to_dict()
    return {k: (None if (not isinstance(v, (list, tuple, dict, np.ndarray)) and pd.isna(v))
                else v) for k, v in row.items()}


def memo_context(engine: Any, payload_or_frames: Any, decision: Any, *,
                 peers: Mapping[str, pd.DataFrame] | None = None,
                 overrides: Sequence[Mapping[str, Any]] = (),
                 source: str | None = None, generated_at: str | None = None
                 ) -> dict[str, Any]:
    """Everything the memo shows, as plain data (no HTML except inline SVG charts).

    Parameters
    ----------
    engine : Engine
        Gives the policy (knock-out thresholds, ledger caps), the master scale
        (grade bands) and the overlay labels.
    payload_or_frames : dict, DebtorPayload or mapping of DataFrames
        The debtor's payload (``examples/debtor.json`` form), or portfolio
        frames holding the debtor (other debtors' rows are ignored, except as
        sector peers when ``peers`` is not given).
    decision : Decision or dict
        The decision the memo explains (one supplier-debtor pair).
    peers : mapping of DataFrames, optional
        A portfolio for the sector percentiles and book concentration; default
        the frames given, none for a payload.
    overrides : sequence of dict
        Stored overrides of the debtor (:meth:`DecisionStore.overrides`).
    source : str, optional
        Where the inputs came from (shown under provenance).
    generated_at : str, optional
        Timestamp shown on the memo (the caller's clock; default none).

    Returns
    -------
    dict
        Keys ``debtor, supplier, decision, reasons, constraints, ratios,
        adverse, payments, concentration, sector, provenance, overrides,
        notes``; JSON-safe except that ``*_svg`` values are SVG markup.

    Raises
    ------
    InvalidInputError
        The payload is invalid, or the frames do not hold the decision's debtor.
    """
    from riskengine.contracts.payload import DebtorPayload, payload_to_frames
    from riskengine.features import build_features
    from riskengine.features.statements import statement_features

    d = _decision_dict(decision)
    debtor_id = str(d.get("debtor_id") or "")
    supplier_id = None if d.get("supplier_id") is None else str(d["supplier_id"])
    as_of = str(d.get("as_of") or "")
    if not debtor_id or not as_of:
        raise InvalidInputError("memo: the decision has no debtor_id or as_of; pass a "
                                "decision made by the engine.")
    if _is_frames(payload_or_frames):
        frames = _debtor_frames(payload_or_frames, debtor_id, supplier_id)
        if peers is None:
            peers = payload_or_frames
        kind = "portfolio"
    elif isinstance(payload_or_frames, (Mapping, DebtorPayload)):
        frames = payload_to_frames([payload_or_frames if isinstance(
            payload_or_frames, DebtorPayload) else dict(payload_or_frames)])
        kind = "payload"
    else:
        raise InvalidInputError(f"memo: inputs of type {type(payload_or_frames).__name__} are "
                                "neither a payload nor portfolio frames.")
    deb = _first(frames.get("debtors"), debtor_id=debtor_id)
    if not deb:
        raise InvalidInputError(f"memo: debtor {debtor_id!r} is not in the inputs given; "
                                "pass the payload or portfolio the decision was made on.")
    sup = _first(frames.get("suppliers"), supplier_id=supplier_id or "")
    exposure = _first(frames.get("exposures"), debtor_id=debtor_id,
                      supplier_id=supplier_id or "")
    cur = str(d.get("currency") or "")
    grade = d.get("grade")
    notes: list[str] = []
    ev = getattr(engine, "versions", {})
    for key in ("model_version", "policy_version", "master_scale_version", "overlay_version"):
        if d.get(key) and ev.get(key) and d[key] != ev[key]:
            notes.append(f"The decision was made with {key.replace('_', ' ')} {d[key]}; this "
                         f"memo's figures use {ev[key]}.")

    # features of the debtor as of the decision date
    feats: dict[str, Any] = {}
    ko = engine.policy.knockouts
    rates = _memo_rates(engine, frames, d, as_of)
    fam = build_features(frames, as_of, families=("adverse", "payments"),
                         lookback_years=engine.lookback_years,
                         significant_amount=float(ko.adverse_min_amount),
                         knockout_types=ko.adverse_event_types,
                         revenue_share=ko.adverse_min_revenue_share, rates=rates,
                         threshold_currency=ko.currency)
    if debtor_id in fam.index:
        feats = {k: _num(v) for k, v in fam.loc[debtor_id].items()}
    st = frames.get("statements", pd.DataFrame())
    own = statement_features(st, as_of) if not st.empty else None

    band = None
    ms = engine.master_scale
    if grade in GRADES and grade != "D":
        k = int(grade)
        lo = 0.0 if k == 1 else ms.upper_bounds[k - 2]
        band = f"({fmt_pd(lo) if lo else '0 %'}, {fmt_pd(ms.upper_bounds[k - 1])}]"
    dtype = str(d.get("decision_type") or "")
    box: dict[str, Any] = {
        "grade": "unrated" if grade is None else str(grade),
        "grade_words": GRADE_WORDS.get(str(grade), "not rated"),
        "grade_band": band,
        "pd": _num(d.get("pd")), "pd_text": fmt_pd(d.get("pd")),
        "pd_model_text": fmt_pd(d.get("pd_model")),
        "rating_basis": str(d.get("rating_basis") or "").replace("_", " "),
        "decision_type": dtype, "decision_words": _DECISION_WORDS.get(dtype, dtype),
        "requested": fmt_money(d.get("requested_limit"), cur),
        "approved": fmt_money(d.get("approved_limit"), cur),
        "approved_limit": _num(d.get("approved_limit")),
        "binding": [CONSTRAINT_WORDS.get(b, b) for b in d.get("binding_constraints") or ()],
        "cover": fmt_money(d.get("insured_limit"), cur),
        "cover_basis": _COVER_WORDS.get(str(d.get("cover_basis") or "none"), "no cover"),
        "insured_amount": fmt_money(d.get("insured_amount"), cur),
        "retained": fmt_money(d.get("retained_exposure"), cur),
        "expected_loss": fmt_money(d.get("expected_loss"), cur),
        "expected_loss_uninsured": fmt_money(d.get("expected_loss_uninsured"), cur),
        "advance_rate": fmt_pct(d.get("advance_rate")),
        "commission": fmt_pct(d.get("service_commission_rate"), 2),
        "discount_rate": fmt_pct(d.get("discount_rate"), 2),
        "product": str(d.get("product") or "").replace("_", " "),
        "current_limit": fmt_money(exposure.get("approved_limit"), cur),
        "outstanding": fmt_money(exposure.get("approved_outstanding"), cur),
    }
    # a refused pair gets no limit: no advance and no fees are shown for it
    approved = _num(d.get("approved_limit"))
    box["refused"] = dtype in ("refused", "unrated") or not (approved or 0.0) > 0
    # a decision below the limit in force is a cut the officer must see (notice applies)
    held = _num(d.get("current_limit"))
    if held is None:
        held = _num(exposure.get("approved_limit"))
    box["decrease"] = None if held is None or approved is None or not approved < held else {
        "from": fmt_money(held, cur), "to": fmt_money(approved, cur),
        "by": fmt_money(held - approved, cur),
        "share": fmt_pct((held - approved) / held) if held > 0 else ""}
    constraints = {
        "knockouts": [{"code": k, "text": CONSTRAINT_WORDS.get(k, k)}
                      for k in d.get("knockouts") or ()],
        "notes": [{"code": k, "text": CONSTRAINT_WORDS.get(k, k)}
                  for k in d.get("limit_notes") or ()],
    }
    section = _section(deb.get("nace"))
    ctx: dict[str, Any] = {
        "debtor": {
            "debtor_id": debtor_id, "name": str(deb.get("name") or ""),
            "country": str(deb.get("country") or ""), "nace": str(deb.get("nace") or ""),
            "section": section or "", "legal_form": str(deb.get("legal_form") or "").replace(
                "_", " "),
            "incorporation_date": _day(deb.get("incorporation_date")) or "",
            "group_id": str(deb.get("group_id") or ""),
        },
        "supplier": {"supplier_id": supplier_id or "", "name": str(sup.get("name") or ""),
                     "nace": str(sup.get("nace") or ""), "country": str(sup.get("country") or "")},
        "decision": box,
        "reasons": _reasons(engine, d),
        "reasons_lower": _lowering_reasons(engine, own, debtor_id, d),
        "constraints": constraints,
        "ratios": _ratio_table(st, as_of),
        "adverse": _adverse(engine, frames.get("adverse_records", pd.DataFrame()), as_of,
                            rates, *_latest_revenue(st, as_of)),
        "payments": _payments(frames.get("invoices", pd.DataFrame()), feats, as_of, cur),
        "concentration": _concentration(engine, d, exposure, sup, deb, peers),
        "sector": _sector_position(debtor_id, section, as_of, own, peers),
        "provenance": {
            "as_of": as_of, "decided_at": str(d.get("decided_at") or ""),
            "model_version": str(d.get("model_version") or ""),
            "policy_version": str(d.get("policy_version") or ""),
            "master_scale_version": str(d.get("master_scale_version") or ""),
            "overlay_version": str(d.get("overlay_version") or ""),
            "input_hash": str(d.get("input_hash") or ""),
            "decision_id": "" if d.get("decision_id") is None else str(d["decision_id"]),
            "source": source or {"payload": "the debtor's records as submitted",
                                 "portfolio": "the portfolio's records"}[kind],
            "generated_at": generated_at or "",
        },
        "overrides": [_override_row(o) for o in overrides],
        "override_in_force": _override_in_force(overrides, d),
        "notes": notes,
    }
    return ctx


def _override_in_force(overrides: Sequence[Mapping[str, Any]], d: Mapping[str, Any]
                       ) -> dict[str, Any] | None:
    """The latest override of this decision in force (applied at once, or approved by a
    second account): the memo's header shows its grade, limit, author and approver."""
    did = d.get("decision_id")
    mine = [o for o in overrides if o.get("decision_id") in (None, did)
            and o.get("status", "applied") in ("applied", "approved")]
    if not mine:
        return None
    o = max(mine, key=lambda x: int(x.get("id") or 0))
    cur = str(o.get("currency") or d.get("currency") or "")
    terms = o.get("terms") or {}
    return {"grade": str(o.get("new_grade") or d.get("grade") or ""),
            "limit": fmt_money(o.get("new_limit"), cur), "officer": str(o.get("officer") or ""),
            "approver": str(o.get("approver") or ""), "status": str(o.get("status")),
            "advance": terms.get("advance_rate"), "insured": fmt_money(
                terms.get("insured_limit"), cur) if terms.get("insured_limit") is not None
            else None}


def _memo_rates(engine: Any, frames: Mapping[str, pd.DataFrame], d: Mapping[str, Any],
                as_of: str) -> np.ndarray:
    """The rates the memo reads adverse amounts with: the inputs' ``fx_rates`` in force on
    ``as_of``, else the decision's own rate of its currency (others: none, NaN)."""
    from riskengine.contracts.schemas import CURRENCIES
    from riskengine.features.fx import CURRENCY_CODE, FxRates

    base = engine.policy.book.currency
    table = frames.get("fx_rates")
    if table is not None and len(table):
        out: np.ndarray = FxRates.from_frame(table, base).at(as_of)
        return out
    out = np.full(len(CURRENCIES), np.nan)
    out[CURRENCY_CODE[base]] = 1.0
    cur, rate = d.get("currency"), _num(d.get("fx_rate"))
    if cur in CURRENCY_CODE and rate is not None:
        out[CURRENCY_CODE[cur]] = rate
    return out


def _latest_revenue(st: pd.DataFrame, as_of: str) -> tuple[float, str]:
    """Revenue and currency of the latest statement up to ``as_of`` (NaN, "" without)."""
    if st is None or st.empty:
        return float("nan"), ""
    pe = st["period_end"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    sel = st[pe <= np.datetime64(as_of, "D")]
    if sel.empty:
        return float("nan"), ""
    last = sel.sort_values("period_end", kind="stable").iloc[-1]
    rev = _num(last.get("revenue"))
    return (float("nan") if rev is None else rev), str(last.get("currency") or "")


def _override_row(o: Mapping[str, Any]) -> dict[str, Any]:
    cur = str(o.get("currency") or "")
    return {
        "id": o.get("id"), "created_at": str(o.get("created_at") or "")[:19].replace("T", " "),
        "officer": str(o.get("officer") or ""), "direction": str(o.get("direction") or ""),
        "grade": f"{o.get('original_grade') or '–'} → {o.get('new_grade') or '–'}",
        "limit": f"{fmt_money(o.get('original_limit'), cur)} → "
                 f"{fmt_money(o.get('new_limit'), cur)}",
        "notches": o.get("notches"), "reason": str(o.get("reason") or ""),
        "flagged": bool(o.get("flagged")),
    }
