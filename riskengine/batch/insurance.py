"""The insurance invariants of a run's decisions (issue 16; printed by
``benchmarks/bench_insurer.py``, asserted by the tests).

Checked from the decisions and the portfolio's ``insurer_limits`` alone, not through the
engine's own matching (an independent reading of the rule in
:mod:`riskengine.policy.insurer`):

- no pair is insured above its approved limit;
- no pair is insured above the insurer limit that applies to it (its own, else its
  debtor's under the policy), and the pairs under one limit together not above it: the
  bound is the granted amount, or for a ``reduced`` or ``cancelled`` limit the larger of
  the new and the previous amount (the previous one stays in force until the notice has
  run, and on deliveries made before it);
- a pair with discretionary cover is insured at most up to the policy's discretionary
  cap, its debtor's pairs together too;
- what a pair without an insurer limit has insured, as a share of its approved limit
  (before issue 16 the engine reported 98 % on the demo book: the whole limit at the
  grade's appetite, as if every debtor had an insurer limit).

An insurer limit or the discretionary cap in another currency than a pair is compared in
its own currency: the pair's insured limit times the pair's ``fx_rate`` (units of the
reporting currency per unit) over the rate of the limit's currency (the rates of the
decisions' own pairs, the reporting currency's 1, or ``rates``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from riskengine.policy.credit_policy import CreditPolicy

__all__ = ["insurance_invariants"]

_TOL = 1e-6


def insurance_invariants(decisions: pd.DataFrame, insurer_limits: pd.DataFrame | None,
                         policy: CreditPolicy, rates: Mapping[str, float] | None = None
                         ) -> dict[str, Any]:
    """The module's invariants on a run's decision rows (pair rows are kept).

    ``rates``: units of the reporting currency per unit of a currency on the decisions'
    date, for a limit's currency that no pair of the decisions is in (those carry their
    ``fx_rate``).

    Returns
    -------
    dict
        ``pairs``; ``pairs_with_insurer_limit``, ``pairs_without_insurer_limit``;
        ``approved_without_insurer_limit``, ``insured_amount_without_insurer_limit`` (in
        the reporting currency) and ``insured_share_without_limit`` (insured amount /
        approved limit of the pairs without an insurer limit); ``pairs_insured_above_approved``,
        ``pairs_insured_above_min_approved_granted`` (each pair against its limit),
        ``limits_exceeded`` (limits whose pairs together are insured above it),
        ``pairs_above_discretionary_cap``, ``debtors_above_discretionary_cap``;
        ``pairs_converted_cover`` (pairs whose insurer limit or discretionary cap is in
        another currency than the pair).
    """
    d = decisions[decisions["row_type"] == "pair"] if "row_type" in decisions else decisions
    d = d.reset_index(drop=True)
    approved = d["approved_limit"].to_numpy(dtype=np.float64, na_value=0.0)
    insured = d["insured_limit"].to_numpy(dtype=np.float64, na_value=0.0)
    amount = d["insured_amount"].to_numpy(dtype=np.float64, na_value=0.0)
    did = d["debtor_id"].astype(str).to_numpy(dtype=object)
    sid = d["supplier_id"].astype(str).to_numpy(dtype=object)
    pcur = d["currency"].astype(str).to_numpy(dtype=object) if "currency" in d.columns \
        else np.full(len(d), policy.book.currency, dtype=object)
    fx = d["fx_rate"].to_numpy(dtype=np.float64, na_value=np.nan) if "fx_rate" in d.columns \
        else np.ones(len(d))
    known = {policy.book.currency: 1.0, **dict(rates or {})}
    known.update(pd.Series(fx, index=pcur).groupby(level=0).first().dropna().to_dict())

    def factor(target: np.ndarray) -> np.ndarray:
        """Units of ``target``'s currency per unit of each pair's (exactly 1 if the same)."""
        rate = pd.Series(target, dtype=object).map(known).to_numpy(dtype=np.float64,
                                                                   na_value=np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(target == pcur, 1.0, fx / rate)
    bound = np.full(len(d), np.nan)
    limit_key = np.full(len(d), -1, dtype=np.int64)
    exceeded = 0
    converted = np.zeros(len(d), dtype=bool)
    if insurer_limits is not None and len(insurer_limits):
        lim = insurer_limits.reset_index(drop=True)
        g = lim["granted_amount"].to_numpy(dtype=np.float64, na_value=0.0)
        prev = lim["previous_granted_amount"].to_numpy(dtype=np.float64, na_value=0.0) \
            if "previous_granted_amount" in lim.columns else np.zeros(len(lim))
        st = lim["status"].astype(str).to_numpy()
        row_bound = np.where(np.isin(st, ["granted", "partial"]), g,
                             np.where(np.isin(st, ["reduced", "cancelled"]),
                                      np.maximum(g, prev), 0.0))
        covers = {p.policy_id: set(p.products) for p in policy.insurance.policies}
        lsup = lim["supplier_id"]
        pair_level = lsup.notna().to_numpy()
        pk = pd.MultiIndex.from_arrays([lim["debtor_id"].astype(str)[pair_level],
                                        lsup[pair_level].astype(str)])
        at = pk.get_indexer(pd.MultiIndex.from_arrays([did, sid]))
        rows_pair = np.flatnonzero(pair_level)
        limit_key = np.where(at >= 0, rows_pair[np.maximum(at, 0)], -1)
        dk = pd.Index(lim["debtor_id"].astype(str)[~pair_level])
        at = dk.get_indexer(pd.Index(did)) if dk.is_unique else np.full(len(d), -1)
        rows_deb = np.flatnonzero(~pair_level)
        if rows_deb.size:  # no debtor-level limit: nothing to index
            limit_key = np.where((limit_key < 0) & (at >= 0), rows_deb[np.maximum(at, 0)],
                                 limit_key)
        lcur = lim["currency"].astype(str).to_numpy(dtype=object)
        allowed = pd.MultiIndex.from_tuples(
            [(p, prod) for p, prods in covers.items() for prod in prods] or [("", "")])
        pol = lim["policy_id"].astype(str).to_numpy()[np.maximum(limit_key, 0)]
        under = pd.MultiIndex.from_arrays([pol, d["product"].astype(str).to_numpy()]).isin(
            allowed)
        limit_key = np.where(under & (limit_key >= 0), limit_key, -1)
        has = limit_key >= 0
        to_limit = factor(np.where(has, lcur[np.maximum(limit_key, 0)], pcur))
        converted |= has & (to_limit != 1.0)
        bound[has] = row_bound[limit_key[has]] / to_limit[has]  # in the pair's currency
        mine = has & (d["cover_basis"].astype(str).to_numpy() == "insurer_limit")
        per_limit = np.bincount(limit_key[mine], (insured * to_limit)[mine],
                                minlength=len(lim))
        exceeded = int((per_limit > row_bound * (1 + 1e-9) + _TOL).sum())
    has = limit_key >= 0
    basis = d["cover_basis"].astype(str).to_numpy()
    limit_cov = basis == "insurer_limit"
    disc = basis == "discretionary"
    cap = policy.insurance.discretionary_cap
    to_cap = factor(np.full(len(d), policy.insurance.discretionary_currency, dtype=object))
    disc_insured = insured * to_cap  # in the cap's currency
    converted |= disc & (to_cap != 1.0)
    disc_sum = pd.Series(disc_insured[disc]).groupby(did[disc]).sum()
    without = ~has & (d["insurer_status"].isna().to_numpy())
    # money added over pairs: in the reporting currency (each pair's amount x its fx_rate)
    app_without = float((approved * fx)[without].sum())
    amount_without = float((amount * fx)[without].sum())
    return {
        "pairs": int(len(d)),
        "pairs_with_insurer_limit": int(has.sum()),
        "pairs_without_insurer_limit": int(without.sum()),
        "approved_without_insurer_limit": app_without,
        "insured_amount_without_insurer_limit": amount_without,
        "insured_share_without_limit": amount_without / app_without if app_without else 0.0,
        "pairs_insured_above_approved": int((insured > approved * (1 + 1e-9) + _TOL).sum()),
        "pairs_insured_above_min_approved_granted": int(
            (has & limit_cov & (insured > np.minimum(approved, np.where(
                np.isnan(bound), 0.0, bound)) * (1 + 1e-9) + _TOL)).sum()),
        "limits_exceeded": exceeded,
        "pairs_above_discretionary_cap": int(
            (disc & (disc_insured > cap * (1 + 1e-9) + _TOL)).sum()),
        "debtors_above_discretionary_cap": int((disc_sum > cap * (1 + 1e-9) + _TOL).sum()),
        "pairs_converted_cover": int(converted.sum()),
    }
