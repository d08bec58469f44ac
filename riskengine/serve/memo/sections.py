"""The memo's sections as plain data: reason codes in words, the ratio table, adverse
records, payment behaviour, concentration and the position in the NACE section."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from riskengine.features.statements import FEATURE_SPECS, statement_panel_features
from riskengine.model.master_scale import GRADES
from riskengine.serve.memo.charts import _dbt_svg, _timeline_svg, sparkline_svg
from riskengine.serve.memo.words import (
    _EVENT_WORDS,
    AMOUNT_ROWS,
    RATIO_ROWS,
    SECTOR_RATIOS,
    _fmt,
    _num,
    fmt_money,
    fmt_pct,
)

_SPEC = {s.name: s for s in FEATURE_SPECS}


def _day(v: Any) -> str | None:
    if v is None:
        return None
    ts = pd.Timestamp(v)
    return None if pd.isna(ts) else ts.date().isoformat()


def _section(nace: Any) -> str | None:
    from riskengine.features.concentration import nace_section

    if nace is None:
        return None
    try:
        return nace_section(str(nace))
    except ValueError:
        return None


#: What each family of statement ratios says, in the words of a credit officer.
_FAMILY_WORDS: dict[str, str] = {
    "profitability": "how profitable the debtor is",
    "leverage": "how much of the debtor is financed by debt",
    "coverage": "how well earnings cover debt and interest",
    "liquidity": "how well short-term assets cover short-term debts",
    "activity": "how fast the debtor turns its assets over and collects its receivables",
    "size": "the debtor's size",
    "growth": "how fast the debtor grows or shrinks",
    "trend": "how the debtor's ratios moved over the last years",
    "composite": "a combined score of the financial statements",
    "quality": "what the statements can be relied on for",
}


def _ratio_why(feature: str) -> str:
    spec = _SPEC.get(feature)
    return "" if spec is None else _FAMILY_WORDS.get(spec.family, "")


def _reasons(engine: Any, d: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The decision's reason codes in words: the text it carries (a decision as handed
    out), or else its fields in words (a row of decisions.parquet: code, feature, ...)."""
    from riskengine.scoring.reasons import reason_text, reason_words

    labels = {t.feature: (t.label or t.feature) for t in engine.overlay.terms}
    out = []
    for rc in d.get("reason_codes") or ():
        feat = str(rc.get("feature", ""))
        if feat in _SPEC:
            why = _ratio_why(feat)
        elif feat in labels:
            why = "from the debtor's adverse records and payment behaviour"
        elif feat == "rating_basis":
            why = ("without usable financial statements the PD is the one set for debtors "
                   "rated on that basis")
        elif feat in ("adv_insolvency", "past_due_amount"):
            why = "default definition of CRR art. 178"
        else:
            why = ""
        text = rc["text"] if "text" in rc else reason_text(rc, reason_words(engine.overlay))
        out.append({"feature": feat, "text": str(text), "why": why})
    return out


def _lowering_reasons(engine: Any, own: pd.DataFrame | None, debtor_id: str,
                      d: Mapping[str, Any], k: int = 3) -> list[dict[str, Any]]:
    """The statement ratios that lower the debtor's PD the most (at most ``k``), in the
    words of the engine's reason codes: each ratio's contribution to the model's score
    against the typical value (:func:`riskengine.model.explain.contributions`, the
    reference substitution the engine's raising reasons come from), negative ones only.

    Adverse records and payments only ever raise the PD (the overlay's weights are
    non-negative), so the ratios are all that lowers it; a debtor not rated on its
    statements has none.
    """
    from riskengine.model.explain import contributions
    from riskengine.scoring.reasons import reason_text, reason_words

    model = getattr(engine, "pd_model", None)
    basis = str(d.get("rating_basis") or "statements")
    if model is None or own is None or debtor_id not in own.index or basis != "statements":
        return []
    names = [str(n) for n in model.feature_names_in_]
    if any(n not in own.columns for n in names):
        return []
    values, logit, _ = contributions(model, own.loc[[debtor_id], names])
    words = reason_words(engine.overlay)
    out = []
    for j in np.argsort(logit[0], kind="stable")[:k]:
        if not logit[0, j] < 0:
            break
        v = float(values[0, j])
        missing = not math.isfinite(v)
        rc = {"code": "statement_model", "feature": names[j], "value": None if missing else v,
              "direction": "missing" if missing else (
                  "higher" if v > float(model.reference_[j]) else "lower"),
              "odds_factor": None}
        out.append({"feature": names[j], "text": reason_text(rc, words),
                    "why": _ratio_why(names[j])})
    return out


def _ratio_table(st: pd.DataFrame, as_of: str, max_years: int = 5) -> dict[str, Any]:
    if st.empty:
        return {"years": [], "rows": [], "amounts": [], "currency": ""}
    pe = st["period_end"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    st = st[pe <= np.datetime64(as_of, "D")].sort_values("period_end", kind="stable")
    if st.empty:
        return {"years": [], "rows": [], "amounts": [], "currency": ""}
    feats = statement_panel_features(st.reset_index(drop=True))
    st = st.reset_index(drop=True).iloc[-max_years:]
    feats = feats.iloc[-max_years:]
    years = [{"year": str(pd.Timestamp(p).year), "period_end": _day(p),
              "type": str(t)} for p, t in zip(st["period_end"], st["statement_type"],
                                              strict=True)]
    rows = []
    for feat, label, kind in RATIO_ROWS:
        vals = feats[feat].to_numpy(dtype=np.float64)
        rows.append({"feature": feat, "label": label,
                     "cells": [_fmt(v, kind) for v in vals],
                     "spark_svg": sparkline_svg(vals.tolist())})
    amounts = []
    for col, label in AMOUNT_ROWS:
        vals = st[col].to_numpy(dtype=np.float64, na_value=np.nan) if col in st else (
            np.full(len(st), np.nan))
        if col == "equity" and "total_assets" in st and "total_liabilities" in st:
            derived = (st["total_assets"].to_numpy(dtype=np.float64, na_value=np.nan)
                       - st["total_liabilities"].to_numpy(dtype=np.float64, na_value=np.nan))
            vals = np.where(np.isnan(vals), derived, vals)
        amounts.append({"label": label, "cells": [_fmt(v, "k") for v in vals],
                        "spark_svg": sparkline_svg(vals.tolist())})
    cur = str(st["currency"].iloc[-1]) if "currency" in st else ""
    return {"years": years, "rows": rows, "amounts": amounts, "currency": cur}


def _adverse(engine: Any, recs: pd.DataFrame, as_of: str, rates: np.ndarray | None = None,
             revenue: float = float("nan"), revenue_cur: str = "") -> dict[str, Any]:
    """The adverse records as the policy reads them: serious, recent, significant (the
    engine's thresholds, :func:`~riskengine.features.adverse.significance_thresholds`,
    through ``rates``; a record in a currency without a rate: significance unknown)."""
    from riskengine.contracts.schemas import (
        ADVERSE_EVENT_TYPES,
        ADVERSE_SEVERITY_TIER,
        CURRENCIES,
    )
    from riskengine.features.significance import knockout_mask, significance_thresholds

    ko = engine.policy.knockouts
    recent_days = int(ko.adverse_recent_days)
    min_amount = float(ko.adverse_min_amount)
    serious_types = set(ko.adverse_event_types)
    events: list[dict[str, Any]] = []
    if not recs.empty:
        ed = recs["event_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        t = np.datetime64(as_of, "D")
        sel = recs[ed <= t].sort_values(["event_date", "record_id"], kind="stable")
        codes = {c: i for i, c in enumerate(CURRENCIES)}
        etypes = [ADVERSE_EVENT_TYPES.index(str(e)) for e in sel["event_type"]]
        curs = [codes.get(str(c), -1) for c in sel["currency"]]
        thr = significance_thresholds(
            etypes, curs, [0] * len(etypes), knockout=knockout_mask(ko.adverse_event_types),
            absolute=min_amount, share=ko.adverse_min_revenue_share, revenue=[revenue],
            revenue_cur=[codes.get(revenue_cur, -1)], rates=rates,
            currency=ko.currency) if len(etypes) else np.zeros(0)
        for r, limit in zip(sel.to_dict("records"), thr.tolist(), strict=True):
            day = _day(r["event_date"]) or ""
            settled_on = _day(r.get("settlement_date"))
            settled = r.get("status") == "settled" and settled_on is not None and (
                settled_on <= as_of)
            age = int((t - np.datetime64(day, "D")).astype(int))
            etype = str(r["event_type"])
            serious = etype in serious_types
            amount = _num(r.get("amount")) or 0.0
            significant = None if limit != limit else bool(amount > limit)  # NaN: no rate
            counts = serious and age <= recent_days and bool(significant) and (
                ko.adverse_count_settled or not settled)
            events.append({
                "record_id": str(r["record_id"]), "event_date": day, "event_type": etype,
                "event": _EVENT_WORDS.get(etype, etype.replace("_", " ")),
                "amount": fmt_money(amount, str(r.get("currency") or "")),
                "status": f"settled {settled_on}" if settled else "open",
                "tier": int(ADVERSE_SEVERITY_TIER.get(etype, 0)),
                "serious": serious, "recent": age <= recent_days,
                "significant": significant, "knockout": bool(counts),
            })
    share = ko.adverse_min_revenue_share
    return {"events": events, "recent_days": recent_days,
            "min_amount": fmt_money(min_amount, ko.currency) + (
                f" or {share:.1%} of the latest revenue" if share > 0 else ""),
            "timeline_svg": _timeline_svg(events, as_of, recent_days) if events else ""}


def _payments(inv: pd.DataFrame, feats: Mapping[str, Any], as_of: str,
              currency: str, max_rows: int = 12) -> dict[str, Any]:
    points: list[dict[str, Any]] = []
    if not inv.empty:
        t = np.datetime64(as_of, "D")

        def days(col: str) -> np.ndarray:
            return inv[col].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")

        issue, due, paid = days("issue_date"), days("due_date"), days("paid_date")
        known = issue <= t
        is_paid = ~np.isnat(paid) & (paid <= t)
        late_paid = np.where(is_paid, (paid - due).astype("timedelta64[D]").astype(float), np.nan)
        open_over = np.where(~is_paid & (due < t), (t - due).astype("timedelta64[D]").astype(
            float), np.nan)
        dbt = np.where(is_paid, np.maximum(late_paid, 0.0), open_over)
        order = np.argsort(due.astype(np.int64), kind="stable")
        amount = inv["amount"].to_numpy(dtype=np.float64)
        ids = inv["invoice_id"].astype("str").to_numpy()
        for i in order:
            if not known[i]:
                continue
            status = "paid" if is_paid[i] else ("open overdue" if due[i] < t else "open")
            points.append({
                "invoice_id": str(ids[i]), "amount": fmt_money(amount[i], currency),
                "issue_date": str(issue[i]), "due_date": str(due[i]),
                "paid_date": str(paid[i]) if is_paid[i] else "",
                "dbt": None if np.isnan(dbt[i]) else float(dbt[i]),
                "dbt_text": "–" if np.isnan(dbt[i]) else f"{dbt[i]:.0f}", "status": status,
            })
    summary = [
        ("Invoices in the look-back", _fmt(feats.get("pay_n_invoices"), "days")),
        ("Mean days beyond terms", _fmt(feats.get("pay_dbt_mean"), "x")),
        ("Amount-weighted days beyond terms", _fmt(feats.get("pay_dbt_wmean"), "x")),
        ("90th percentile days beyond terms", _fmt(feats.get("pay_dbt_p90"), "x")),
        ("Share paid 30+ days late", _fmt(feats.get("pay_share_late_30"), "pct")),
        ("Dilution (credit notes, disputes)", _fmt(feats.get("pay_dilution"), "pct")),
        ("Open balance", fmt_money(feats.get("pay_open_balance"), currency)),
        ("Overdue balance", fmt_money(feats.get("pay_overdue_balance"), currency)),
    ]
    return {"invoices": points[-max_rows:], "n_invoices": len(points),
            "summary": [{"label": a, "value": b} for a, b in summary],
            "dbt_svg": _dbt_svg(points[-40:])}


def _concentration(engine: Any, d: Mapping[str, Any], exposure: Mapping[str, Any],
                   supplier: Mapping[str, Any], debtor: Mapping[str, Any],
                   peers: Mapping[str, pd.DataFrame] | None) -> dict[str, Any]:
    cur = str(d.get("currency") or "")
    ledger = _num(supplier.get("ledger_total"))
    outstanding = (_num(exposure.get("approved_outstanding")) or 0.0) + (
        _num(exposure.get("unapproved_outstanding")) or 0.0)
    approved = _num(d.get("approved_limit"))
    grade = d.get("grade")
    cap = None
    if grade in GRADES:
        cap = float(engine.policy.concentration.ledger_share[str(grade)])
    rows = [
        {"label": "Supplier's receivables ledger", "value": fmt_money(ledger, cur)},
        {"label": "Debtor's outstanding with the supplier", "value": fmt_money(outstanding, cur)},
        {"label": "Outstanding / supplier's ledger",
         "value": fmt_pct(outstanding / ledger) if ledger else "n/a"},
        {"label": "Approved limit / supplier's ledger",
         "value": fmt_pct(approved / ledger) if ledger and approved is not None else "n/a"},
        {"label": "Policy cap on one debtor's ledger share (grade)",
         "value": fmt_pct(cap, 0) if cap is not None else "n/a"},
    ]
    book_rows: list[dict[str, str]] = []
    if peers is not None and "exposures" in peers and not peers["exposures"].empty:
        ex = peers["exposures"]
        ex = ex[(ex["currency"].astype("str") == cur).to_numpy(dtype=bool, na_value=False)]
        lim = ex["approved_limit"].to_numpy(dtype=np.float64, na_value=0.0)
        total = float(lim.sum())
        dids = ex["debtor_id"].astype("str").to_numpy()
        if total > 0:
            in_book = dids == str(d.get("debtor_id"))
            mine = float(lim[in_book].sum())
            book_rows.append({"label": f"Share of the {cur} book (approved limits)",
                              "value": fmt_pct(mine / total, 2) if in_book.any()
                              else "not in this book"})
            deb = peers.get("debtors")
            if deb is not None and not deb.empty:
                info = deb.set_index(deb["debtor_id"].astype("str"))
                info = info[~info.index.duplicated()].reindex(pd.Index(dids, dtype="str"))
                sec = pd.Series(info["nace"].astype(object).to_numpy()).map(
                    lambda v: _section(v) if isinstance(v, str) else None).to_numpy()
                my_sec = _section(debtor.get("nace"))
                if my_sec is not None:
                    book_rows.append({"label": f"Share of the {cur} book in NACE section {my_sec}",
                                      "value": fmt_pct(float(lim[sec == my_sec].sum()) / total,
                                                       1)})
                grp = debtor.get("group_id")
                if grp:
                    g = info["group_id"].astype(object).to_numpy()
                    book_rows.append({"label": f"Share of the {cur} book of its connected group",
                                      "value": fmt_pct(float(lim[g == grp].sum()) / total, 2)})
                cty = debtor.get("country")
                if cty:
                    c = info["country"].astype(object).to_numpy()
                    book_rows.append({"label": f"Share of the {cur} book in {cty}",
                                      "value": fmt_pct(float(lim[c == cty].sum()) / total, 1)})
    return {"rows": rows, "book_rows": book_rows}


def _sector_position(debtor_id: str, section: str | None, as_of: str,
                     own: pd.DataFrame | None,
                     peers: Mapping[str, pd.DataFrame] | None) -> dict[str, Any]:
    from riskengine.features.statements import statement_features

    if peers is None:
        return {"available": False, "note": "sector percentiles need a portfolio of peers; "
                "none was given with this decision", "rows": []}
    if section is None:
        return {"available": False, "note": "the debtor's NACE code has no section",
                "rows": []}
    deb = peers.get("debtors")
    st = peers.get("statements")
    if deb is None or st is None or deb.empty or st.empty:
        return {"available": False, "note": "the peer portfolio has no statements",
                "rows": []}
    codes = deb["nace"].astype("str")
    sec_of = {c: _section(c) for c in codes.unique()}
    same = codes.map(sec_of).to_numpy(dtype=object) == section
    ids = set(deb.loc[same, "debtor_id"].astype("str")) - {debtor_id}
    pst = st[st["debtor_id"].astype("str").isin(ids).to_numpy(dtype=bool)]
    if pst.empty:
        return {"available": False, "note": f"no peer in NACE section {section} has "
                "statements", "rows": []}
    pf = statement_features(pst, as_of)
    rows = []
    for feat in SECTOR_RATIOS:
        label, kind = next((lab, k) for f, lab, k in RATIO_ROWS if f == feat)
        vals = pf[feat].to_numpy(dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        mine = _num(own[feat].iloc[0]) if own is not None and not own.empty else None
        pct: float | None = None
        if mine is not None and vals.size:
            pct = float(((vals < mine).sum() + 0.5 * (vals == mine).sum()) / vals.size * 100)
        direction = _SPEC[feat].direction
        better = None if pct is None or direction == 0 else (
            pct if direction < 0 else 100.0 - pct)
        rows.append({
            "label": label, "value": _fmt(mine, kind), "n_peers": int(vals.size),
            "p25": _fmt(np.percentile(vals, 25), kind) if vals.size else "–",
            "median": _fmt(np.median(vals), kind) if vals.size else "–",
            "p75": _fmt(np.percentile(vals, 75), kind) if vals.size else "–",
            "percentile": None if pct is None else round(pct),
            "better_than": None if better is None else round(better),
        })
    return {"available": True, "note": f"{len(pf)} peers with statements in NACE section "
            f"{section} as of {as_of} (the debtor excluded)", "rows": rows}
