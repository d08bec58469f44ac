"""The credit officer's decision memo: one page of HTML per supplier-debtor decision.

Two steps, kept apart so that the web page and the command line share them:

- :func:`memo_context` assembles plain data (strings, numbers, lists, dicts)
  from the engine, the debtor's records and the decision: the decision box,
  the reason codes in plain words, the ratio table with its trend lines, the
  adverse-record timeline, payment behaviour, concentration, the debtor's
  position in its NACE section, the versions and any overrides.
- :func:`render_memo` renders that context with the Jinja2 template
  ``riskengine/templates/memo.html.j2`` (autoescaped: every value from the
  data is escaped). Charts are inline SVG drawn here from numbers only.

:func:`memo_from_store` and :func:`memo_from_payload` are the one-call forms
the web page uses; :func:`report_command` is ``riskengine report``.

Notes
-----
Amounts are in the decision's currency. PDs are shown as percentages with two
decimals (``0.0211`` -> ``2.11 %``). The memo recomputes features from the
inputs as of the decision's ``as_of`` date with the engine given; when that
engine's versions differ from the decision's, the memo says so.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import escape

from riskengine.errors import InvalidInputError
from riskengine.features.statements import FEATURE_SPECS, statement_panel_features
from riskengine.model.master_scale import GRADES

__all__ = [
    "GRADE_WORDS",
    "RATIO_ROWS",
    "SECTOR_RATIOS",
    "CONSTRAINT_WORDS",
    "fmt_pd",
    "fmt_money",
    "fmt_pct",
    "sparkline_svg",
    "memo_context",
    "render_memo",
    "memo_from_payload",
    "memo_from_store",
    "report_command",
]

#: Plain words for each grade (Allianz Trade's 1-10 meanings, DOMAIN.md §4; committee wording).
GRADE_WORDS: dict[str, str] = {
    "1": "exceptional", "2": "excellent", "3": "very good", "4": "good", "5": "average",
    "6": "below average", "7": "weak", "8": "very weak", "9": "at risk of failure",
    "10": "at risk of failure", "D": "default",
}

#: Ratio table rows: feature, label, format (``pct``, ``x``, ``days``).
RATIO_ROWS: tuple[tuple[str, str, str], ...] = (
    ("st_gross_margin", "Gross margin", "pct"),
    ("st_ebitda_margin", "EBITDA margin", "pct"),
    ("st_net_margin", "Net margin", "pct"),
    ("st_roa", "Return on assets", "pct"),
    ("st_revenue_growth_1y", "Revenue growth", "pct"),
    ("st_liabilities_to_assets", "Liabilities / assets", "pct"),
    ("st_liabilities_to_equity", "Liabilities / equity", "x"),
    ("st_interest_coverage", "Interest cover (EBITDA / interest)", "x"),
    ("st_current_ratio", "Current ratio", "x"),
    ("st_quick_ratio", "Quick ratio", "x"),
    ("st_receivable_days", "Receivable days", "days"),
    ("st_inventory_days", "Inventory days", "days"),
    ("st_altman_z2", "Altman Z''", "x"),
)
#: Statement amounts shown above the ratios (thousands of the statement currency).
AMOUNT_ROWS: tuple[tuple[str, str], ...] = (
    ("revenue", "Revenue"), ("ebitda", "EBITDA"), ("net_income", "Net income"),
    ("total_assets", "Total assets"), ("equity", "Equity"),
)
#: Ratios placed against the debtor's NACE section.
SECTOR_RATIOS: tuple[str, ...] = (
    "st_ebitda_margin", "st_roa", "st_liabilities_to_assets", "st_interest_coverage",
    "st_current_ratio", "st_quick_ratio", "st_receivable_days", "st_altman_z2",
)

#: Binding constraints, knock-outs and limit notes in plain words.
CONSTRAINT_WORDS: dict[str, str] = {
    "requested": "the amount the supplier asked for",
    "capacity": "the debtor's capacity (share of its net worth and turnover for the grade)",
    "ledger_cap": "the cap on one debtor's share of the supplier's receivables ledger",
    "group_cap": "the large-exposure cap on the connected group (CRR art. 395)",
    "sector_cap": "the cap on one sector's share of the book",
    "insurer_cover": "the credit insurer's limit on the debtor",
    "adverse_record": "a serious, recent and significant adverse record (seed 003)",
    "insolvency": "an open bankruptcy filing or insolvency declaration",
    "related_party": "supplier and debtor are related parties (intra-group receivables)",
    "grade_default": "the debtor is in default (grade D)",
    "supplier_default": "the supplier is in default",
    "negative_equity": "equity is zero or negative: no capacity from net worth",
    "non_positive_profit": "no declared profit on the tax return",
    "tax_return_haircut": "capacity cut because only tax returns are available",
    "no_financials": "no usable financial statements: the predetermined minimum limit",
    "missing_data": "data needed for the limit is missing",
    "no_insurer_appetite": "the insurer does not cover this grade",
    "below_rounding_unit": "the limit is below the rounding unit",
    "nothing_requested": "nothing was requested",
    "currency_mismatch": "the statements are in another currency than the limit",
    "ledger_currency_mismatch": "the supplier's ledger is in another currency",
    "unrated": "the debtor could not be rated",
}
_DECISION_WORDS = {"full": "approved in full", "partial": "partly approved",
                   "refused": "refused", "unrated": "not rated"}
_EVENT_WORDS = {
    "bounced_cheque": "bounced cheque", "payment_order": "payment order",
    "unpaid_bill_of_exchange": "unpaid bill of exchange",
    "bankruptcy_filing": "bankruptcy filing", "insolvency_declared": "insolvency declared",
    "auction": "auction", "seizure": "seizure",
    "mortgage_prenotation": "mortgage pre-notation (not adverse)",
    "tax_debt": "tax debt", "social_security_debt": "social-security debt",
}
_SPEC = {s.name: s for s in FEATURE_SPECS}
_TIER_COLOUR = ("#9aa5b1", "#e0a526", "#d9822b", "#c23030", "#7a1010")


# --- formatting --------------------------------------------------------------------


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_pd(p: Any) -> str:
    """A PD as a percentage: two decimals, three below 0.1 %.

    Examples
    --------
    >>> fmt_pd(0.02110001), fmt_pd(0.00052), fmt_pd(None)
    ('2.11 %', '0.052 %', 'n/a')
    """
    v = _num(p)
    if v is None:
        return "n/a"
    return f"{v * 100:.3f} %" if v < 0.001 else f"{v * 100:.2f} %"


def fmt_money(x: Any, currency: str = "") -> str:
    """Whole units with thousands separators and the currency.

    Examples
    --------
    >>> fmt_money(350000.0, "EUR"), fmt_money(None)
    ('350,000 EUR', 'n/a')
    """
    v = _num(x)
    if v is None:
        return "n/a"
    return f"{v:,.0f} {currency}".rstrip()


def fmt_pct(x: Any, decimals: int = 1) -> str:
    """A fraction as a percentage.

    Examples
    --------
    >>> fmt_pct(0.79391745), fmt_pct(0.025, 2)
    ('79.4 %', '2.50 %')
    """
    v = _num(x)
    return "n/a" if v is None else f"{v * 100:.{decimals}f} %"


def _fmt(x: Any, kind: str) -> str:
    v = _num(x)
    if v is None:
        return "–"
    if kind == "pct":
        return f"{v * 100:.1f} %"
    if kind == "days":
        return f"{v:.0f}"
    if kind == "k":
        return f"{v / 1000:,.0f}"
    return f"{v:.2f}"


# --- inline SVG charts (numbers only; text is escaped) --------------------------------


def sparkline_svg(values: Sequence[Any], *, width: int = 84, height: int = 20) -> str:
    """A small trend line of the values (missing values break the line).

    Examples
    --------
    >>> sparkline_svg([1.0, 2.0, None, 1.5]).startswith("<svg")
    True
    """
    vals = [_num(v) for v in values]
    ok = [v for v in vals if v is not None]
    head = (f'<svg class="spark" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="trend">')
    if len(ok) < 2:
        return head + "</svg>"
    lo, hi = min(ok), max(ok)
    span = hi - lo or 1.0
    n = len(vals)
    pad = 3.0

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (i / (n - 1))
        y = height - pad - (height - 2 * pad) * ((v - lo) / span)
        return round(x, 1), round(y, 1)

    parts: list[list[tuple[float, float]]] = []
    seg: list[tuple[float, float]] = []
    for i, v in enumerate(vals):
        if v is None:
            if len(seg) > 1:
                parts.append(seg)
            seg = []
            continue
        seg.append(xy(i, v))
    if len(seg) > 1:
        parts.append(seg)
    lines = "".join('<polyline fill="none" stroke="#2b6cb0" stroke-width="1.5" points="'
                    + " ".join(f"{x},{y}" for x, y in s) + '"/>' for s in parts)
    last = next((i, v) for i, v in reversed(list(enumerate(vals))) if v is not None)
    cx, cy = xy(*last)
    return head + lines + f'<circle cx="{cx}" cy="{cy}" r="2" fill="#2b6cb0"/></svg>'


def _dbt_svg(points: list[dict[str, Any]], *, width: int = 480, height: int = 96) -> str:
    """Days beyond terms per invoice (bars, oldest due date first)."""
    head = (f'<svg class="chart" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="days beyond terms per invoice">')
    pts = [p for p in points if p["dbt"] is not None]
    if not pts:
        return head + '<text x="4" y="14" font-size="10">no payment experience</text></svg>'
    top = max(30.0, max(float(p["dbt"]) for p in pts))
    base, left = height - 14, 26
    bw = (width - left - 4) / len(pts)
    out = [head]
    for d in (30.0, 60.0, 90.0):
        if d <= top:
            y = round(base - (base - 6) * d / top, 1)
            out.append(f'<line x1="{left}" x2="{width - 2}" y1="{y}" y2="{y}" '
                       'stroke="#ccd" stroke-dasharray="2,2"/>'
                       f'<text x="2" y="{y + 3}" font-size="8" fill="#667">{d:.0f}d</text>')
    for i, p in enumerate(pts):
        h = max(2.0, (base - 6) * float(p["dbt"]) / top)
        colour = "#c23030" if p["status"] == "open overdue" else (
            "#d9822b" if float(p["dbt"]) > 0 else "#38a169")
        out.append(f'<rect x="{round(left + i * bw + 1, 1)}" y="{round(base - h, 1)}" '
                   f'width="{round(max(bw - 2, 1), 1)}" height="{round(h, 1)}" '
                   f'fill="{colour}"><title>{escape(p["invoice_id"])}: '
                   f'{float(p["dbt"]):.0f} days</title></rect>')
    out.append(f'<line x1="{left}" x2="{width - 2}" y1="{base}" y2="{base}" stroke="#556"/>')
    out.append(f'<text x="{left}" y="{height - 2}" font-size="8" fill="#667">'
               f'{escape(pts[0]["due_date"])}</text>')
    out.append(f'<text x="{width - 2}" y="{height - 2}" font-size="8" fill="#667" '
               f'text-anchor="end">{escape(pts[-1]["due_date"])}</text></svg>')
    return "".join(out)


def _timeline_svg(events: list[dict[str, Any]], as_of: str, recent_days: int, *,
                  width: int = 480, height: int = 44) -> str:
    """Adverse records on a time axis; the knock-out look-back window shaded."""
    end = np.datetime64(as_of, "D")
    dates = [np.datetime64(e["event_date"], "D") for e in events]
    start = min([end - np.timedelta64(6 * 365, "D"), *dates])
    span = max(1, int((end - start).astype(int)))
    left, right = 4, width - 4

    def x(d: np.datetime64) -> float:
        return round(left + (right - left) * int((d - start).astype(int)) / span, 1)

    win = x(max(start, end - np.timedelta64(int(recent_days), "D")))
    out = [f'<svg class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="adverse record timeline">',
           f'<rect x="{win}" y="4" width="{round(right - win, 1)}" height="22" '
           'fill="#fdf0e6"/>',
           f'<line x1="{left}" x2="{right}" y1="15" y2="15" stroke="#556"/>']
    for e, d in zip(events, dates, strict=True):
        out.append(f'<circle cx="{x(d)}" cy="15" r="5" fill="{_TIER_COLOUR[e["tier"]]}">'
                   f'<title>{escape(e["event_date"])} {escape(e["event"])}</title></circle>')
    out.append(f'<text x="{left}" y="{height - 4}" font-size="8" fill="#667">'
               f'{escape(str(start))}</text>')
    out.append(f'<text x="{right}" y="{height - 4}" font-size="8" fill="#667" '
               f'text-anchor="end">{escape(as_of)}</text></svg>')
    return "".join(out)


# --- context assembly --------------------------------------------------------------


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


def _reasons(engine: Any, d: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The decision's reason codes in words: the text it carries (a decision as handed
    out), or else its fields in words (a row of decisions.parquet: code, feature, ...)."""
    from riskengine.scoring.reasons import reason_text, reason_words

    labels = {t.feature: (t.label or t.feature) for t in engine.overlay.terms}
    out = []
    for rc in d.get("reason_codes") or ():
        feat = str(rc.get("feature", ""))
        if feat in _SPEC:
            why = _SPEC[feat].reason
        elif feat in labels:
            why = f"{labels[feat]} (adverse/payment overlay)"
        elif feat == "rating_basis":
            why = "without usable statements the PD is a prior of the rating basis"
        elif feat in ("adv_insolvency", "past_due_amount"):
            why = "default definition of CRR art. 178"
        else:
            why = ""
        text = rc["text"] if "text" in rc else reason_text(rc, reason_words(engine.overlay))
        out.append({"feature": feat, "text": str(text), "why": why})
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


def _adverse(engine: Any, recs: pd.DataFrame, as_of: str) -> dict[str, Any]:
    from riskengine.contracts.schemas import ADVERSE_SEVERITY_TIER

    ko = engine.policy.knockouts
    recent_days = int(ko.adverse_recent_days)
    min_amount = float(ko.adverse_min_amount)
    serious_types = set(ko.adverse_event_types)
    events: list[dict[str, Any]] = []
    if not recs.empty:
        ed = recs["event_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        t = np.datetime64(as_of, "D")
        sel = recs[ed <= t].sort_values(["event_date", "record_id"], kind="stable")
        for r in sel.to_dict("records"):
            day = _day(r["event_date"]) or ""
            settled_on = _day(r.get("settlement_date"))
            settled = r.get("status") == "settled" and settled_on is not None and (
                settled_on <= as_of)
            age = int((t - np.datetime64(day, "D")).astype(int))
            etype = str(r["event_type"])
            serious = etype in serious_types
            amount = _num(r.get("amount")) or 0.0
            counts = serious and age <= recent_days and amount > min_amount and (
                ko.adverse_count_settled or not settled)
            events.append({
                "record_id": str(r["record_id"]), "event_date": day, "event_type": etype,
                "event": _EVENT_WORDS.get(etype, etype.replace("_", " ")),
                "amount": fmt_money(amount, str(r.get("currency") or "")),
                "status": f"settled {settled_on}" if settled else "open",
                "tier": int(ADVERSE_SEVERITY_TIER.get(etype, 0)),
                "serious": serious, "recent": age <= recent_days,
                "significant": amount > min_amount, "knockout": bool(counts),
            })
    return {"events": events, "recent_days": recent_days,
            "min_amount": fmt_money(min_amount),
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
        return {"available": False, "note": "no peer portfolio given: sector percentiles "
                "need a portfolio (riskengine report --portfolio DIR)", "rows": []}
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
    fam = build_features(frames, as_of, families=("adverse", "payments"),
                         lookback_years=engine.lookback_years,
                         significant_amount=float(engine.policy.knockouts.adverse_min_amount))
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
    box = {
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
        "constraints": constraints,
        "ratios": _ratio_table(st, as_of),
        "adverse": _adverse(engine, frames.get("adverse_records", pd.DataFrame()), as_of),
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
            "source": source or kind, "generated_at": generated_at or "",
        },
        "overrides": [_override_row(o) for o in overrides],
        "notes": notes,
    }
    return ctx


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


# --- rendering -----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    """The Jinja2 environment (built once: templates are compiled once per process)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("riskengine", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True)


def render_memo(context: Mapping[str, Any]) -> str:
    """Render a :func:`memo_context` as one self-contained HTML page.

    Every value is HTML-escaped (Jinja2 autoescape) except the ``*_svg``
    charts, which :func:`memo_context` draws from numbers and escaped text.

    Returns
    -------
    str
        The HTML document (inline CSS, inline SVG; no external resource).
    """
    template = _environment().get_template("memo.html.j2")
    return str(template.render(**context))


def memo_from_payload(engine: Any, payload: Any, *, decision: Any = None,
                      peers: Mapping[str, pd.DataFrame] | None = None,
                      generated_at: str | None = None) -> str:
    """The memo of a payload (decided now unless ``decision`` is given), as HTML.

    A payload without ``as_of`` is decided as of today (the shell's clock).
    """
    if decision is None:
        now = _dt.datetime.now(_dt.UTC)
        decision = engine.decide_one(payload, as_of=now.date().isoformat(),
                                     decided_at=now.isoformat(timespec="seconds"),
                                     reference_date=now.date().isoformat())
    return render_memo(memo_context(engine, payload, decision, peers=peers,
                                    source="payload", generated_at=generated_at))


def memo_from_store(engine: Any, store: Any, debtor_id: str, *, supplier_id: str | None = None,
                    peers: Mapping[str, pd.DataFrame] | None = None,
                    generated_at: str | None = None) -> str:
    """The memo of a debtor's latest stored decision, from the store's ``inputs`` table.

    Raises
    ------
    LookupError
        No stored decision for the debtor (and supplier).
    InvalidInputError
        The decision's inputs are not in the store (decided before the
        service recorded inputs): score the debtor again.
    """
    d = store.latest_decision(debtor_id, supplier_id)
    if d is None:
        who = f"debtor {debtor_id!r}" + (f" / supplier {supplier_id!r}" if supplier_id else "")
        raise LookupError(f"no stored decision for {who}; score it first.")
    payload = store.inputs_for(d.get("input_hash") or "")
    if payload is None:
        raise InvalidInputError(
            f"the inputs of decision {d.get('decision_id')} of debtor {debtor_id!r} (input hash "
            f"{str(d.get('input_hash'))[:12]}...) are not in the store; score the debtor again "
            "so that its inputs are recorded.")
    ctx = memo_context(engine, payload, d, peers=peers, overrides=store.overrides(debtor_id),
                       source=f"store, decision {d.get('decision_id')}",
                       generated_at=generated_at)
    return render_memo(ctx)


# --- command line --------------------------------------------------------------------


def report_command(args: Any) -> int:
    """``riskengine report --debtor ID [--supplier ID] [--portfolio DIR | --store URL]
    [--as-of DATE] [--out FILE] [--model-dir DIR] [--policy FILE]``.

    With ``--portfolio`` the debtor is decided from the portfolio (as of
    ``--as-of`` or the manifest's date) and the portfolio gives the sector
    peers; otherwise the latest stored decision and its recorded inputs are
    read from the store (``--store`` or the default store), which must exist
    (a missing SQLite store is refused, not created). Writes the HTML memo to
    ``--out`` (default ``memo-<debtor>.html`` in the working directory, the id
    sanitised by :func:`riskengine.io.outputs.safe_file_stem`) and prints its path.
    """
    from pathlib import Path

    from riskengine.api import load_engine
    from riskengine.contracts.dates import batch_as_of
    from riskengine.io.outputs import safe_file_stem

    debtor = str(args.debtor)
    supplier = getattr(args, "supplier", None)
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    out = Path(getattr(args, "out", None) or f"memo-{safe_file_stem(debtor)}.html")
    portfolio = getattr(args, "portfolio", None)
    store: Any = None if portfolio else _open_store(getattr(args, "store", None)
                                                    or getattr(args, "store_url", None))
    engine = load_engine(model_dir=getattr(args, "model_dir", None),
                         policy_path=getattr(args, "policy", None))
    if portfolio:
        from riskengine.io.portfolio import read_portfolio

        frames, manifest = read_portfolio(portfolio)
        day = batch_as_of(getattr(args, "as_of", None), manifest.get("as_of"),
                          allow_after_extract=getattr(args, "allow_as_of_after_extract", False))
        as_of = day.isoformat()
        sub = _debtor_frames(frames, debtor, None)
        if sub["debtors"].empty:
            raise InvalidInputError(f"debtor {debtor!r} is not in the portfolio "
                                    f"{portfolio}; check the id.")
        ex = sub.get("exposures", pd.DataFrame())
        sids = set(ex["supplier_id"].astype("str")) if len(ex) else set()
        if "suppliers" in sub:
            s = sub["suppliers"]
            sub["suppliers"] = s[s["supplier_id"].astype("str").isin(sids).to_numpy(dtype=bool)]
        batch = engine.decide(sub, as_of, decided_at=now)
        dicts = batch.to_dicts()
        if supplier:
            dicts = [x for x in dicts if x["supplier_id"] == supplier]
        if not dicts:
            msg = "; ".join(str(m) for m in batch.errors["message"].head(3)) if len(
                batch.errors) else "it has no exposure"
            raise InvalidInputError(f"debtor {debtor!r} could not be decided: {msg}")
        src = f"portfolio {portfolio}" + (" (SYNTHETIC)" if manifest.get("synthetic") else "")
        ctx = memo_context(engine, frames, dicts[0], peers=frames, source=src,
                           generated_at=now)
        html = render_memo(ctx)
    else:
        with store:
            try:
                html = memo_from_store(engine, store, debtor, supplier_id=supplier,
                                       generated_at=now)
            except LookupError as exc:
                raise InvalidInputError(str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    print(out)
    return 0


def _open_store(url: str | None) -> Any:
    """The decision store at ``url`` (default store: None), never created here."""
    from riskengine.store import DecisionStore

    try:
        return DecisionStore(url, create=False)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{exc} Give --store with the URL of an existing "
                                "store, or --portfolio DIR.") from None
