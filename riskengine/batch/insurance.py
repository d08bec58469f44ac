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
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskengine.policy.credit_policy import CreditPolicy

__all__ = ["insurance_invariants"]

_TOL = 1e-6


def insurance_invariants(decisions: pd.DataFrame, insurer_limits: pd.DataFrame | None,
                         policy: CreditPolicy) -> dict[str, Any]:
    """The module's invariants on a run's decision rows (pair rows are kept).

    Returns
    -------
    dict
        ``pairs``; ``pairs_with_insurer_limit``, ``pairs_without_insurer_limit``;
        ``insured_share_without_limit`` (insured amount / approved limit of the pairs
        without an insurer limit); ``pairs_insured_above_approved``,
        ``pairs_insured_above_min_approved_granted`` (each pair against its limit),
        ``limits_exceeded`` (limits whose pairs together are insured above it),
        ``pairs_above_discretionary_cap``, ``debtors_above_discretionary_cap``.
    """
    d = decisions[decisions["row_type"] == "pair"] if "row_type" in decisions else decisions
    d = d.reset_index(drop=True)
    approved = d["approved_limit"].to_numpy(dtype=np.float64, na_value=0.0)
    insured = d["insured_limit"].to_numpy(dtype=np.float64, na_value=0.0)
    amount = d["insured_amount"].to_numpy(dtype=np.float64, na_value=0.0)
    did = d["debtor_id"].astype(str).to_numpy(dtype=object)
    sid = d["supplier_id"].astype(str).to_numpy(dtype=object)
    bound = np.full(len(d), np.nan)
    limit_key = np.full(len(d), -1, dtype=np.int64)
    exceeded = 0
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
        limit_key = np.where((limit_key < 0) & (at >= 0), rows_deb[np.maximum(at, 0)],
                             limit_key)
        allowed = pd.MultiIndex.from_tuples(
            [(p, prod) for p, prods in covers.items() for prod in prods] or [("", "")])
        pol = lim["policy_id"].astype(str).to_numpy()[np.maximum(limit_key, 0)]
        under = pd.MultiIndex.from_arrays([pol, d["product"].astype(str).to_numpy()]).isin(
            allowed)
        limit_key = np.where(under & (limit_key >= 0), limit_key, -1)
        has = limit_key >= 0
        bound[has] = row_bound[limit_key[has]]
        mine = has & (d["cover_basis"].astype(str).to_numpy() == "insurer_limit")
        per_limit = np.bincount(limit_key[mine], insured[mine], minlength=len(lim))
        exceeded = int((per_limit > row_bound * (1 + 1e-9) + _TOL).sum())
    has = limit_key >= 0
    basis = d["cover_basis"].astype(str).to_numpy()
    limit_cov = basis == "insurer_limit"
    disc = basis == "discretionary"
    cap = policy.insurance.discretionary_cap
    disc_sum = pd.Series(insured[disc]).groupby(did[disc]).sum()
    without = ~has & (d["insurer_status"].isna().to_numpy())
    app_without = float(approved[without].sum())
    return {
        "pairs": int(len(d)),
        "pairs_with_insurer_limit": int(has.sum()),
        "pairs_without_insurer_limit": int(without.sum()),
        "approved_without_insurer_limit": app_without,
        "insured_amount_without_insurer_limit": float(amount[without].sum()),
        "insured_share_without_limit": float(amount[without].sum() / app_without)
        if app_without else 0.0,
        "pairs_insured_above_approved": int((insured > approved * (1 + 1e-9) + _TOL).sum()),
        "pairs_insured_above_min_approved_granted": int(
            (has & limit_cov & (insured > np.minimum(approved, np.where(
                np.isnan(bound), 0.0, bound)) * (1 + 1e-9) + _TOL)).sum()),
        "limits_exceeded": exceeded,
        "pairs_above_discretionary_cap": int((disc & (insured > cap + _TOL)).sum()),
        "debtors_above_discretionary_cap": int((disc_sum > cap * (1 + 1e-9) + _TOL).sum()),
    }
