"""Figures of a run: counts, grade distribution, PSI, totals, concentration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from riskengine.batch.migration.herfindahl import concentration
from riskengine.batch.migration.matrix import MigrationMatrix, debtor_ratings, pair_rows
from riskengine.batch.migration.reconciliation import Reconciliation
from riskengine.model.master_scale import GRADES, UNRATED
from riskengine.policy.limits import LIMIT_ACTIONS


def _total(frame: pd.DataFrame, column: str, rate: np.ndarray) -> float | None:
    """The column's sum in the reporting currency (each amount times its pair's rate)."""
    if column not in frame.columns:
        return None
    return float(np.nansum(frame[column].to_numpy(dtype=np.float64, na_value=np.nan) * rate))


def _rates(pairs: pd.DataFrame, currency: str | None) -> np.ndarray:
    """Each pair's rate into the reporting currency: its decision's ``fx_rate``; without
    one, 1 in ``currency`` (or in any currency when ``currency`` is None) and NaN in
    another (left out of the totals)."""
    n = len(pairs)
    given = pairs["fx_rate"].to_numpy(dtype=np.float64, na_value=np.nan) \
        if "fx_rate" in pairs.columns else np.full(n, np.nan)
    same = np.ones(n, dtype=bool) if currency is None or "currency" not in pairs.columns \
        else pairs["currency"].astype(str).to_numpy() == currency
    out: np.ndarray = np.where(np.isnan(given), np.where(same, 1.0, np.nan), given)
    return out


def run_summary(
    decisions: pd.DataFrame,
    errors: pd.DataFrame,
    reconciliation: Reconciliation,
    *,
    previous: pd.DataFrame | None = None,
    book: pd.DataFrame | None = None,
    migration: MigrationMatrix | None = None,
    actions: pd.DataFrame | None = None,
    psi_bins: int = 10,
    ratings: pd.DataFrame | None = None,
    decision_rows: int | None = None,
    hhis: Mapping[str, float] | None = None,
    previous_ratings: pd.DataFrame | None = None,
    currency: str | None = None,
) -> dict[str, Any]:
    """Figures of a run: counts, grade distribution, PSI, totals, concentration.

    Parameters
    ----------
    decisions, errors : pandas.DataFrame
        The run's decisions and error rows.
    reconciliation : Reconciliation
        From :func:`reconcile`.
    previous : pandas.DataFrame, optional
        The previous run's decisions: PSI of the debtors' PDs against it
        (quantile bins of the previous PDs), with the 0.10 / 0.25 light of
        :func:`riskengine.model.metrics.psi_light`.
    book : pandas.DataFrame, optional
        Per debtor (``debtor_id``) its ``group_id``, ``sector`` and ``country``
        for the HHI by those dimensions; without it only the HHI by name.
    migration, actions : optional
        The migration matrix and limit actions, summarised.
    psi_bins : int, default 10
    ratings : pandas.DataFrame, optional
        ``debtor_ratings(decisions)`` when the caller already has it (then
        ``decisions`` may hold the pair rows only).
    decision_rows : int, optional
        Rows of the run's decisions (default ``len(decisions)``).
    hhis : mapping of str to float, optional
        ``concentration(decisions, book)`` when the caller already has it (then
        ``book`` is not read).
    previous_ratings : pandas.DataFrame, optional
        ``debtor_ratings(previous)`` when the caller already has it.
    currency : str, optional
        The reporting currency (the policy's ``[book] currency``) the totals are in.

    Returns
    -------
    dict
        JSON-ready (floats, ints, strings, dicts; NaN where undefined).

    Notes
    -----
    Totals and HHIs are over the pair rows, in the reporting currency
    (``totals_currency``): each pair's amounts times its decision's ``fx_rate``, the
    rate in force on the run's date (a pair without a rate in another currency is
    left out and counted in ``pairs_without_rate``). HHIs are of the approved limits
    (the book the factor commits to) in that currency, ``approved_limit_base``.
    """
    pairs = pair_rows(decisions)
    if ratings is None:
        ratings = debtor_ratings(decisions)
    dist = ratings["grade"].fillna(UNRATED).value_counts()
    grades = {g: int(dist.get(g, 0)) for g in (*GRADES, UNRATED)}
    out: dict[str, Any] = {
        "debtors_in": reconciliation.debtors_in,
        "debtors_decided": reconciliation.decided,
        "debtors_errored": reconciliation.errored,
        "debtors_decided_with_errors": reconciliation.partial,
        "reconciled": reconciliation.ok,
        "decision_rows": len(decisions) if decision_rows is None else int(decision_rows),
        "pair_decisions": len(pairs),
        "error_rows": len(errors),
        "grade_distribution": grades,
    }
    if "decision_type" in pairs.columns:
        types = pairs["decision_type"].astype("str").value_counts().sort_index()
        out["decision_types"] = {str(k): int(v) for k, v in types.items()}
    if "reason" in errors.columns and len(errors):
        reasons = errors["reason"].astype("str").value_counts().sort_index()
        out["error_reasons"] = {str(k): int(v) for k, v in reasons.items()}
    rate = _rates(pairs, currency)
    totals = {name: _total(pairs, col, rate) for name, col in (
        ("approved_limit", "approved_limit"),
        ("cover", "insured_limit" if "insured_limit" in pairs.columns else "cover"),
        ("retained_exposure", "retained_exposure"), ("expected_loss", "expected_loss"))}
    out["totals"] = {k: v for k, v in totals.items() if v is not None}
    out["totals_currency"] = currency
    out["pairs_without_rate"] = int(np.isnan(rate).sum())
    out["hhi"] = dict(concentration(pairs, book) if hhis is None else hhis)
    if previous is not None:
        from riskengine.model.metrics import psi, psi_light  # scipy: only when compared

        if previous_ratings is None:
            previous_ratings = debtor_ratings(previous)
        prev_pd = previous_ratings["pd"].to_numpy(dtype=np.float64)
        cur_pd = ratings["pd"].to_numpy(dtype=np.float64)
        ok = np.isfinite(prev_pd).any() and np.isfinite(cur_pd).any()
        value = psi(prev_pd, cur_pd, bins=psi_bins) if ok else float("nan")
        out["psi"] = {"value": value, "light": psi_light(value), "bins": psi_bins,
                      "previous_debtors": int(prev_pd.size)}  # fmt: skip
    if migration is not None:
        out["migration"] = migration.figures()
    if actions is not None:
        counts = actions["action"].value_counts() if len(actions) else pd.Series(dtype=int)
        out["limit_actions"] = {a: int(counts.get(a, 0)) for a in LIMIT_ACTIONS[1:]}
    return out

