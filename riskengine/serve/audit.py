"""Audit and governance: the override report, the portfolio overview, a debtor's audit trail.

- :func:`override_report` — override monitoring per period, as EBA GL/2017/16
  (PD estimation, treatment of defaulted exposures) §5.2.4 and CRR art. 172(3)
  ask: the override rate (overrides / decisions), by direction, the notch
  distribution, by officer, by original grade, and how many were flagged for
  a second review.
- :func:`portfolio_overview` — grade distribution, the migration matrix
  against a previous run (:func:`riskengine.batch.migration.migration_matrix`),
  the top-20 concentrations and the expected-loss totals of a decisions frame.
- :func:`audit_trail` — every decision, override and limit change of a debtor,
  in the order they happened, each with its input hash, model and policy
  versions and who made it.

``portfolio_overview`` is pure; the other two read a
:class:`~riskengine.store.DecisionStore` (passed in, duck-typed).
Every result is JSON-ready (NaN becomes None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from riskengine.batch.migration import debtor_ratings, migration_matrix, pair_rows
from riskengine.model.master_scale import GRADES, UNRATED
from riskengine.policy.overrides import DIRECTIONS, LIMIT_CHANGES
from riskengine.policy.portfolio import hhi, top_concentrations

__all__ = ["override_report", "portfolio_overview", "audit_trail", "migration_heatmap_svg"]

_KIND_ORDER = {"decision": 0, "override": 1, "limit_change": 2}


def _clean(v: Any) -> Any:
    """JSON-ready: NaN/inf -> None, numpy scalars -> Python, containers recursively."""
    if isinstance(v, Mapping):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


# --- override monitoring ------------------------------------------------------------


def override_report(store: Any, since: Any, until: Any) -> dict[str, Any]:
    """Override monitoring figures for one period.

    Parameters
    ----------
    store : DecisionStore
    since, until : date, datetime or ISO text
        The period, both ends inclusive (a date is the whole day, UTC).
        Overrides count by their ``created_at``, decisions by the time the
        store recorded them (``recorded_at``); both are the store's clock.

    Returns
    -------
    dict
        ``period``, ``decisions`` (recorded in the period), ``overrides``,
        ``overridden_decisions`` (distinct decisions overridden), ``rate``
        (overrides / decisions; None without decisions), ``by_direction``
        (upgrade / downgrade / limit_only), ``limit_changes``, ``notches``
        (count per notch, ``"+2"``, ``"-1"``, ``"0"``, upgrades positive),
        ``mean_notches``, ``flagged`` and ``flagged_share``, ``upgrade_share``,
        ``by_officer`` (list, most overrides first), ``by_original_grade``,
        ``by_policy_version``, ``by_status`` (applied, pending, approved, rejected) and
        ``by_approver`` (reviews by approving or rejecting account). Officers and approvers
        are the signed-in accounts (issue 18), never typed names.

    Notes
    -----
    EBA GL/2017/16 §5.2.4 (and the ECB guide to internal models) ask for
    override monitoring: the share of ratings overridden, the direction and
    size of the changes, and who made them.
    """
    rows = store.overrides(since=since, until=until)
    n_dec = int(store.count_decisions(since, until))
    cols = ["officer", "direction", "limit_change", "notches", "flagged", "original_grade",
            "policy_version", "decision_id"]
    f = pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame(columns=cols)
    n = len(f)
    direction = f["direction"].astype("str").value_counts()
    changes = f["limit_change"].astype("str").value_counts()
    notches = f["notches"].astype("int64").value_counts().sort_index()
    flagged = f["flagged"].astype(bool).to_numpy()
    by_officer: list[dict[str, Any]] = []
    if n:
        g = f.assign(
            upgrade=(f["direction"] == "upgrade").astype(int),
            downgrade=(f["direction"] == "downgrade").astype(int),
            limit_only=(f["direction"] == "limit_only").astype(int),
            flag=f["flagged"].astype(bool).astype(int),
            n=1, notch=f["notches"].astype(float),
        ).groupby("officer", sort=True).agg(
            overrides=("n", "sum"), upgrades=("upgrade", "sum"),
            downgrades=("downgrade", "sum"), limit_only=("limit_only", "sum"),
            flagged=("flag", "sum"), mean_notches=("notch", "mean"))
        g = g.sort_values("overrides", ascending=False, kind="stable")
        by_officer = [{"officer": str(k), **{c: (float(v) if c == "mean_notches" else int(v))
                                              for c, v in r.items()}}
                      for k, r in g.iterrows()]
    grades = f["original_grade"].astype(object).where(f["original_grade"].notna(), UNRATED)
    by_grade = grades.astype(str).value_counts()
    versions = f["policy_version"].astype(object).where(f["policy_version"].notna(), "")
    n_upgrades = int(direction.get("upgrade", 0))
    out = {
        "period": {"since": str(since), "until": str(until)},
        "decisions": n_dec,
        "overrides": n,
        "overridden_decisions": int(f["decision_id"].dropna().nunique()),
        "rate": _ratio(n, n_dec),
        "by_direction": {d: int(direction.get(d, 0)) for d in DIRECTIONS},
        "limit_changes": {c: int(changes.get(c, 0)) for c in LIMIT_CHANGES},
        "notches": {(f"+{k}" if k > 0 else str(k)): int(v) for k, v in notches.items()},
        "mean_notches": float(f["notches"].astype(float).mean()) if n else None,
        "flagged": int(flagged.sum()),
        "flagged_share": _ratio(float(flagged.sum()), n),
        "upgrade_share": _ratio(n_upgrades, n),
        "by_officer": by_officer,
        "by_original_grade": {gr: int(by_grade[gr]) for gr in (*GRADES, UNRATED)
                              if gr in by_grade.index},
        "by_policy_version": {str(k): int(v) for k, v in
                              versions.astype(str).value_counts().sort_index().items()},
        "by_status": {str(k): int(v) for k, v in (
            pd.Series([r.get("status", "applied") for r in rows], dtype=object)
            .value_counts().sort_index().items())},
        "by_approver": {str(k): int(v) for k, v in (
            pd.Series([r.get("approver") for r in rows if r.get("approver")], dtype=object)
            .value_counts().sort_index().items())},
    }
    return dict(_clean(out))


# --- portfolio overview -------------------------------------------------------------


def _sum(frame: pd.DataFrame, col: str, rate: np.ndarray | None = None) -> float | None:
    if col not in frame.columns:
        return None
    values = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
    return float(np.nansum(values if rate is None else values * rate))


def _rates(pairs: pd.DataFrame, currency: str | None) -> np.ndarray | None:
    """Each pair's rate into the reporting ``currency``: its decision's ``fx_rate``;
    without one, 1 in ``currency`` and NaN in another (left out of the totals). None
    without a reporting currency (amounts as they are)."""
    if currency is None:
        return None
    n = len(pairs)
    given = pairs["fx_rate"].to_numpy(dtype=np.float64, na_value=np.nan) \
        if "fx_rate" in pairs.columns else np.full(n, np.nan)
    same = pairs["currency"].astype(str).to_numpy() == currency \
        if "currency" in pairs.columns else np.ones(n, dtype=bool)
    out: np.ndarray = np.where(np.isnan(given), np.where(same, 1.0, np.nan), given)
    return out


def portfolio_overview(decisions_frame: pd.DataFrame, previous: pd.DataFrame | None = None,
                       *, debtors: pd.DataFrame | None = None, n_top: int = 20,
                       currency: str | None = None) -> dict[str, Any]:
    """Grade distribution, migrations, top concentrations and expected loss of a book.

    Parameters
    ----------
    decisions_frame : pandas.DataFrame
        One row per supplier-debtor decision (``Engine.decide(...).decisions``,
        a ``rerate`` decisions file, or stored decision dicts as a frame):
        ``debtor_id``, ``supplier_id``, ``grade``, ``pd``, ``approved_limit``
        and, when present, ``insured_limit``, ``retained_exposure``,
        ``expected_loss``, ``expected_loss_uninsured``, ``requested_limit``,
        ``decision_type``, ``currency``.
    previous : pandas.DataFrame, optional
        The previous run's decisions: gives the migration matrix.
    debtors : pandas.DataFrame, optional
        The debtors table (``debtor_id``, ``nace``, ``group_id``, ``country``):
        adds concentrations by connected group, NACE section and country.
    n_top : int, default 20
    currency : str, optional
        The reporting currency (the policy's ``[book] currency``): every total, the
        grade distribution's amounts and the concentrations are in it, each pair's
        amounts times its decision's ``fx_rate`` (a pair without one in another
        currency is left out: ``pairs_without_rate``). None: amounts as they are.

    Returns
    -------
    dict
        ``n_debtors``, ``n_pairs``, ``grade_distribution`` (per grade: debtors,
        share, approved limit, expected loss), ``decision_types``, ``totals``
        (limits, cover, retained, expected loss with and without cover; per
        currency when the book has several), ``hhi``, ``top`` (per dimension a
        list of ``key, amount, share, cumulative_share``), and ``migration``
        (``states_from``, ``states_to``, ``counts``, ``rates`` as lists of rows,
        ``figures``) or None.

    Notes
    -----
    ``totals_currency`` names the currency of the totals; ``totals_by_currency``
    keeps each currency's own amounts apart, unconverted.
    """
    pairs = pair_rows(decisions_frame)
    ratings = debtor_ratings(decisions_frame)
    n_deb = len(ratings)
    counts = ratings["grade"].astype(object).where(ratings["grade"].notna(), UNRATED)
    counts = counts.astype(str).value_counts()
    lim_by = el_by = pd.Series(dtype=float)
    rate = _rates(pairs, currency)
    scale = np.ones(len(pairs)) if rate is None else rate
    if len(pairs):
        g = pairs["grade"].astype(object).where(pairs["grade"].notna(), UNRATED).astype(str)
        lim_by = (pairs["approved_limit"].astype(float) * scale).groupby(g.to_numpy()).sum()
        if "expected_loss" in pairs.columns:
            el_by = (pairs["expected_loss"].astype(float) * scale).groupby(g.to_numpy()).sum()
    dist = [{"grade": gr, "debtors": int(counts.get(gr, 0)),
             "share": _ratio(float(counts.get(gr, 0)), n_deb),
             "approved_limit": float(lim_by.get(gr, 0.0)),
             "expected_loss": float(el_by.get(gr, 0.0))} for gr in (*GRADES, UNRATED)]
    totals = {name: _sum(pairs, col, rate) for name, col in (
        ("requested_limit", "requested_limit"), ("approved_limit", "approved_limit"),
        ("insured_limit", "insured_limit"), ("retained_exposure", "retained_exposure"),
        ("expected_loss", "expected_loss"),
        ("expected_loss_uninsured", "expected_loss_uninsured"))}
    by_cur: dict[str, dict[str, float | None]] = {}
    if "currency" in pairs.columns and len(pairs):
        for cur, grp in pairs.groupby(pairs["currency"].astype(str).to_numpy(), sort=True):
            by_cur[str(cur)] = {k: _sum(grp, k) for k in (
                "approved_limit", "insured_limit", "retained_exposure", "expected_loss",
                "expected_loss_uninsured")}
    limits = np.nan_to_num(pairs["approved_limit"].fillna(0.0).to_numpy(dtype=np.float64)
                           * scale) if len(pairs) else np.zeros(0)
    keys: dict[str, np.ndarray] = {}
    if len(pairs):
        keys["debtor"] = pairs["debtor_id"].astype(str).to_numpy()
        if "supplier_id" in pairs.columns:
            keys["supplier"] = pairs["supplier_id"].astype(str).to_numpy()
        if debtors is not None and len(debtors):
            info = debtors.set_index(debtors["debtor_id"].astype(str))
            info = info[~info.index.duplicated()].reindex(pd.Index(keys["debtor"]))
            if "group_id" in info.columns:
                grp_ids = info["group_id"].astype(object).to_numpy()
                keys["group"] = np.where(pd.isna(grp_ids), keys["debtor"], grp_ids).astype(str)
            if "nace" in info.columns:
                from riskengine.features.concentration import nace_section

                def sec(v: Any) -> str:
                    try:
                        return nace_section(str(v))
                    except ValueError:
                        return "unknown"

                uniq = {v: sec(v) for v in pd.unique(info["nace"].astype(str))}
                keys["sector"] = info["nace"].astype(str).map(uniq).to_numpy(dtype=str)
            if "country" in info.columns:
                keys["country"] = info["country"].astype(str).to_numpy()
    top = {dim: top_concentrations(k, limits, n_top).to_dict("records")
           for dim, k in keys.items()}
    hhis = {dim: hhi(k, limits) for dim, k in keys.items()}
    types = (pairs["decision_type"].astype(str).value_counts().sort_index()
             if "decision_type" in pairs.columns else pd.Series(dtype=int))
    migration = None
    if previous is not None:
        m = migration_matrix(debtor_ratings(previous)["grade"], ratings["grade"])
        migration = {
            "states_from": list(m.counts.index), "states_to": list(m.counts.columns),
            "counts": m.counts.to_numpy().tolist(), "rates": m.rates.to_numpy().tolist(),
            "figures": m.figures(),
        }
    out = {
        "n_debtors": n_deb, "n_pairs": len(pairs), "grade_distribution": dist,
        "decision_types": {str(k): int(v) for k, v in types.items()},
        "totals": totals, "totals_by_currency": by_cur, "hhi": hhis, "top": top,
        "migration": migration, "totals_currency": currency,
        "pairs_without_rate": 0 if rate is None else int(np.isnan(rate).sum()),
    }
    return dict(_clean(out))


def migration_heatmap_svg(migration: Mapping[str, Any], *, cell: int = 26) -> str:
    """An SVG heatmap of :func:`portfolio_overview`'s ``migration`` (row rates, counts in cells).

    Rows are the previous state, columns the current one; the diagonal is
    outlined. Only numbers and state labels are drawn (escaped).
    """
    from markupsafe import escape

    rows = list(migration["states_from"])
    cols = list(migration["states_to"])
    counts = migration["counts"]
    rates = migration["rates"]
    left, top = 34, 30
    w, h = left + cell * len(cols) + 4, top + cell * len(rows) + 4
    out = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
           'aria-label="rating migration matrix" font-family="Arial" font-size="9">',
           f'<text x="{left}" y="10" fill="#52606d">current run →</text>']
    for j, c in enumerate(cols):
        out.append(f'<text x="{left + j * cell + cell / 2}" y="{top - 5}" '
                   f'text-anchor="middle">{escape(c)}</text>')
    for i, r in enumerate(rows):
        y = top + i * cell
        out.append(f'<text x="{left - 4}" y="{y + cell / 2 + 3}" text-anchor="end">'
                   f'{escape(r)}</text>')
        for j, c in enumerate(cols):
            rate = rates[i][j]
            v = 0.0 if rate is None or not math.isfinite(float(rate)) else float(rate)
            shade = int(round(255 - 200 * v))
            fill = f"rgb({shade},{min(255, shade + 20)},255)" if v > 0 else "#f7f9fb"
            stroke = ' stroke="#1f3a5f" stroke-width="1.5"' if r == c else ' stroke="#fff"'
            x = left + j * cell
            out.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}"'
                       f'{stroke}><title>{escape(r)} → {escape(c)}: {int(counts[i][j])}'
                       '</title></rect>')
            if counts[i][j]:
                colour = "#fff" if v > 0.55 else "#1f2933"
                out.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + 3}" '
                           f'text-anchor="middle" fill="{colour}">{int(counts[i][j])}</text>')
    out.append("</svg>")
    return "".join(out)


# --- audit trail --------------------------------------------------------------------


def audit_trail(store: Any, debtor_id: str) -> list[dict[str, Any]]:
    """Every decision, override and limit change of a debtor, oldest first.

    Parameters
    ----------
    store : DecisionStore
    debtor_id : str

    Returns
    -------
    list of dict
        One event each, ordered by the store's timestamp (``at``), then
        decision before override before limit change (a decision and the
        register change it causes share one timestamp), then id. Keys:
        ``at, kind`` (``decision``, ``override``, ``limit_change``), ``id``,
        ``supplier_id``, ``summary``, ``grade``, ``limit``, ``decision_id``,
        ``input_hash``, ``inputs_recorded`` (the inputs are in the store),
        ``model_version``, ``policy_version``, ``officer`` (who: ``engine``
        for decisions, the officer or ``changed_by`` otherwise), ``reason``.
        A limit change carries the versions and input hash of the decision it
        follows from.
    """
    events: list[dict[str, Any]] = []
    by_decision: dict[int, dict[str, Any]] = {}
    known_inputs: dict[str, bool] = {}

    def has_inputs(h: str | None) -> bool:
        if not h:
            return False
        if h not in known_inputs:
            known_inputs[h] = store.inputs_for(h) is not None
        return known_inputs[h]

    for r in store.decision_records(debtor_id):
        dec = r.get("decision") or {}
        by_decision[int(r["id"])] = r
        events.append({
            "at": r["recorded_at"], "kind": "decision", "id": int(r["id"]),
            "supplier_id": r.get("supplier_id"),
            "summary": f"grade {r.get('grade') or 'unrated'}, "
                       f"{dec.get('decision_type', 'decided')}, limit {r.get('approved_limit')}",
            "grade": r.get("grade"), "limit": r.get("approved_limit"),
            "decision_id": int(r["id"]), "as_of": r.get("as_of"),
            "input_hash": r.get("input_hash"), "inputs_recorded": has_inputs(r.get("input_hash")),
            "model_version": r.get("model_version"), "policy_version": r.get("policy_version"),
            "officer": "engine", "reason": None,
        })
    for o in store.overrides(debtor_id):
        events.append({
            "at": o["created_at"], "kind": "override", "id": int(o["id"]),
            "supplier_id": o.get("supplier_id"),
            "summary": f"{o['direction']}: grade {o.get('original_grade')} → "
                       f"{o.get('new_grade')}, limit {o.get('original_limit')} → "
                       f"{o.get('new_limit')}" + (" (flagged)" if o.get("flagged") else ""),
            "grade": o.get("new_grade"), "limit": o.get("new_limit"),
            "decision_id": o.get("decision_id"), "as_of": None,
            "input_hash": o.get("input_hash"), "inputs_recorded": has_inputs(o.get("input_hash")),
            "model_version": o.get("model_version"), "policy_version": o.get("policy_version"),
            "officer": o.get("officer"), "reason": o.get("reason"),
            "status": o.get("status", "applied"), "approver": o.get("approver"),
        })
    for h in store.history(debtor_id=debtor_id, limit=100_000):
        src = by_decision.get(int(h["decision_id"])) if h.get("decision_id") is not None else None
        events.append({
            "at": h["changed_at"], "kind": "limit_change", "id": int(h["id"]),
            "supplier_id": h.get("supplier_id"),
            "summary": f"{h['action']}: {h.get('old_limit')} → {h.get('new_limit')} "
                       f"effective {h.get('effective_date')}",
            "grade": None, "limit": h.get("new_limit"), "decision_id": h.get("decision_id"),
            "as_of": h.get("effective_date"),
            "input_hash": None if src is None else src.get("input_hash"),
            "inputs_recorded": False if src is None else has_inputs(src.get("input_hash")),
            "model_version": None if src is None else src.get("model_version"),
            "policy_version": None if src is None else src.get("policy_version"),
            "officer": h.get("changed_by"), "reason": h.get("reason"),
        })
    events.sort(key=lambda e: (str(e["at"]), _KIND_ORDER[e["kind"]], e["id"]))
    return [dict(_clean(e)) for e in events]
