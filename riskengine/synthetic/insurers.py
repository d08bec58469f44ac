"""SYNTHETIC insurer limits: the partner insurers' answers to the factor's limit requests.

The factor asks its partner insurer for a limit on each debtor; the insurer grants
it in full, in part or not at all, and may later reduce or cancel it with notice
(DOMAIN.md §6; Atradius; Allianz Trade; FCI GRIF art. 18). Here:

- every supplier is placed under the whole-turnover policy of one of the insurers
  of ``calibration._INSURERS`` (its indemnity ``cover_pct``);
- most pairs carry a request (small requests more often go without one: the
  factor keeps them under discretionary cover); a few debtors with two suppliers
  under one policy get one limit for both (``supplier_id`` missing), asked for the
  sum of the two requests;
- the insurer has its own view of the debtor: the latent PD moved by noise, on the
  shipped master scale. It grants ``min(request x appetite, capacity)`` rounded down
  to the policy's unit, where the appetite is the policy's reading of insurer practice
  (``cover.insured_fraction``: full cover to grade 6, half at 7-8, none from 9) and
  the capacity is the policy's own capacity rule at the insurer's grade
  (:func:`riskengine.policy.limits.capacity`): full for good grades, partial or
  refused for weak ones;
- some requests are still unanswered (``requested``: sent; ``pending``: under
  review), with no amount and no dates;
- limits on debtors with a knock-out record or an insolvency were cancelled, and
  some granted limits on weak debtors reduced, on a notice dated before the as-of
  date, effective ``limits.notice_days`` later (at once after an insolvency); the
  limit before is kept (``previous_granted_amount``: deliveries made before the
  notice stay covered up to it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskengine.model.master_scale import grade_index
from riskengine.policy.limits import capacity
from riskengine.synthetic.calibration import (
    _INSURER_NO_REQUEST,
    _INSURER_REDUCED,
    _INSURER_UNANSWERED,
    _INSURER_VIEW_SD,
    _INSURERS,
    _PD_INTERCEPT,
    _PD_SLOPE,
    _SUPPLIER_CURRENCIES,
)
from riskengine.synthetic.exposures import _Pairs
from riskengine.synthetic.frames import _F, _dates, _expit, _ids, _vocab
from riskengine.synthetic.limits import _pair_fx, _Shipped, _View

#: Statuses of an insurer limit (the shared vocabulary of the ``insurer_limits`` table).
STATUSES = ("requested", "pending", "granted", "partial", "refused", "reduced", "cancelled")
_DEBTOR_LEVEL_P = 0.3  # two suppliers under one policy: one limit for both, this often


@dataclass(frozen=True, slots=True)
class _InsurerLimits:
    frame: pd.DataFrame  # the insurer_limits table (shared-decision columns)
    limit: _F  # per pair: the insurer's limit in force for the pair (0 refused/cancelled)
    given: _F  # per pair: bool, the insurer answered (a limit, possibly 0, is in force)


def _make_insurer_limits(w: _F, ids: pd.api.extensions.ExtensionArray,
                         s_ids: pd.api.extensions.ExtensionArray, n_s: int, pr: _Pairs,
                         view: _View, as_of: int, shipped: _Shipped,
                         rng: np.random.Generator) -> _InsurerLimits:
    """The ``insurer_limits`` rows and the limit each pair holds from its insurer."""
    policy = shipped.policy
    unit = policy.limits.rounding_unit
    p = pr.owner.size
    owner = pr.owner
    # each supplier under one insurer's policy
    share = np.array([x[2] for x in _INSURERS])
    ins_of_supplier = rng.choice(len(_INSURERS), size=n_s, p=share / share.sum())
    ins = ins_of_supplier[pr.supplier]
    # which pairs ask: small requests less often (discretionary cover)
    small = pr.requested <= _INSURER_NO_REQUEST[0]
    asks = rng.random(p) >= np.where(small, _INSURER_NO_REQUEST[1], _INSURER_NO_REQUEST[2])
    # one limit for both pairs of a debtor under one policy, in one currency
    n = w.size
    two = np.bincount(owner, minlength=n) == 2
    first = np.flatnonzero((pr.pos == 0) & two[owner])
    pair_up = (asks[first] & asks[first + 1] & (ins[first] == ins[first + 1])
               & (pr.currency[first] == pr.currency[first + 1])
               & (rng.random(first.size) < _DEBTOR_LEVEL_P))
    lead, mate = first[pair_up], first[pair_up] + 1
    asks[mate] = False  # the debtor-level row stands for both
    row_pair = np.flatnonzero(asks)  # the lead pair of each row
    debtor_level = np.zeros(p, dtype=bool)
    debtor_level[lead] = True
    req = pr.requested.copy()
    req[lead] += pr.requested[mate]
    r_owner = owner[row_pair]
    r_req = req[row_pair]
    m = row_pair.size

    # the insurer's own view: the latent PD moved by noise, graded on the master scale
    # (before any insolvency: a limit granted then is cancelled below)
    z = _PD_INTERCEPT + _PD_SLOPE * w[r_owner] + _INSURER_VIEW_SD * rng.standard_normal(m)
    g = grade_index(shipped.scale.pd_to_grade(_expit(z)))
    money = view.money_eur[:, r_owner] * _pair_fx(pr)[row_pair][None, :]
    cap, _ = capacity(g, policy, basis=view.basis[r_owner], tnw=money[0], revenue=money[1],
                      profit=money[2])
    appetite = policy.cover.insured_fraction.lookup(g)
    granted = np.floor(np.minimum(r_req * appetite, cap) / unit + 1e-9) * unit
    granted = np.minimum(granted, r_req)

    # statuses: unanswered, then the insurer's answer, then later reductions and cancellations
    u = rng.random(m)
    unanswered = u < _INSURER_UNANSWERED[0] + _INSURER_UNANSWERED[1]
    status = np.where(granted >= r_req, 2, np.where(granted > 0, 3, 4))
    notice = as_of - rng.integers(policy.limits.notice_days, 240, size=m)
    decided = as_of - rng.integers(0, 540, size=m)
    cancel = ~unanswered & (granted > 0) & (view.knockout | view.insolvency)[r_owner]
    weak = w[r_owner] > _INSURER_REDUCED[0]
    reduce = ~unanswered & ~cancel & (granted > 0) & weak & (rng.random(m) < _INSURER_REDUCED[1])
    cut = np.floor(granted * 0.5 / unit + 1e-9) * unit
    cancel |= reduce & (cut <= 0)
    reduce &= cut > 0
    before = granted.copy()  # the limit before a reduction or cancellation
    granted = np.where(cancel, 0.0, np.where(reduce, cut, granted))
    status = np.where(cancel, 6, np.where(reduce, 5, status))
    status = np.where(unanswered, np.where(u < _INSURER_UNANSWERED[0], 0, 1), status)
    changed = cancel | reduce
    decision_day = np.where(changed, notice, decided)
    immediate = view.insolvency[r_owner]
    effective_day = np.where(changed & ~immediate, decision_day + policy.limits.notice_days,
                             decision_day)
    effective_day = np.minimum(effective_day, as_of)

    # per pair: the limit in force (a debtor-level limit shared pro rata to requests)
    given = np.zeros(p, dtype=bool)
    limit = np.zeros(p)
    given[row_pair] = ~unanswered
    limit[row_pair] = np.where(unanswered, 0.0, granted)
    both = debtor_level[row_pair] & ~unanswered
    lead_rows, mate_rows = row_pair[both], row_pair[both] + 1
    share_lead = pr.requested[lead_rows] / req[lead_rows]
    whole = limit[lead_rows]
    limit[lead_rows] = np.floor(whole * share_lead / unit + 1e-9) * unit
    limit[mate_rows] = whole - limit[lead_rows]
    given[mate_rows] = True

    ins_ids = _ids("INS", len(_INSURERS), 2)
    pol_ids = [x[0] for x in _INSURERS]
    frame = pd.DataFrame({
        "insurer_id": ins_ids.take(ins[row_pair]),
        "policy_id": _vocab(pol_ids, ins[row_pair]),
        "debtor_id": ids.take(r_owner),
        "supplier_id": pd.Series(s_ids.take(pr.supplier[row_pair])).where(
            ~debtor_level[row_pair]).array,
        "currency": _vocab(_SUPPLIER_CURRENCIES, pr.currency[row_pair]),
        "requested_amount": r_req,
        "granted_amount": np.where(unanswered, np.nan, granted),
        "cover_pct": np.array([x[1] for x in _INSURERS])[ins[row_pair]],
        "status": _vocab(STATUSES, status),
        "decision_date": _dates(decision_day, unanswered),
        "effective_date": _dates(effective_day, unanswered),
        "previous_granted_amount": np.where(changed & ~unanswered, before, np.nan),
    })
    return _InsurerLimits(frame, limit, given)
