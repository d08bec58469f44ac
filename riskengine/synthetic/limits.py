"""SYNTHETIC limits in force: the factor's view of each debtor and the limits its policy made.

A real book's approved limits were decided by the factor's own policy; a book whose
limits were drawn at random would see half of them cancelled by the first re-rate.
So the generator decides the limits in force with the shipped policy's own array
function (:func:`riskengine.policy.limits.decide_limits`), on:

- the grade of the debtor at its last review: its latent PD on the shipped master
  scale (``D`` with an open insolvency record);
- its latest financials and rating basis as the engine reads them
  (:func:`riskengine.scoring.financials.latest_financials` and
  :func:`~riskengine.scoring.financials.financial_inputs` on the generated
  statements), converted into the pair's currency at the as-of rates;
- the policy's adverse-record knock-out (:func:`riskengine.policy.limits.adverse_knockout`),
  related parties, the supplier's ledger and the insurer's answer
  (:mod:`riskengine.synthetic.insurers`);
- the debtor's capacity shared among its pairs in one currency, as the engine shares it.

The shipped configuration (policy, master scale, the overlay's statement age) is
package data, read once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskengine.contracts.schemas import INSOLVENCY_EVENT_TYPES
from riskengine.model.master_scale import MasterScale, grade_index
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.policy.limits import adverse_knockout, decide_limits
from riskengine.scoring.financials import financial_inputs, latest_financials
from riskengine.synthetic.calibration import _FX, _PD_INTERCEPT, _PD_SLOPE, _SUPPLIER_CURRENCIES
from riskengine.synthetic.debtors import _Debtors
from riskengine.synthetic.exposures import _Pairs
from riskengine.synthetic.frames import _F, _expit

#: The product every generated pair is decided under (the engine's default product).
PRODUCT = "non_recourse"
_LOOKBACK_DAYS = 1461  # an insolvency record counts for four years (the adverse look-back)


@dataclass(frozen=True, slots=True)
class _Shipped:
    policy: CreditPolicy
    scale: MasterScale
    max_statement_age_days: int


@functools.cache
def _shipped() -> _Shipped:
    """The shipped policy, master scale and statement age (package data, read once)."""
    from riskengine.config import load_master_scale, load_policy, read_config_toml
    from riskengine.scoring.overlay import Overlay

    overlay = Overlay.from_dict(read_config_toml("overlay.toml", None, "overlay"))
    return _Shipped(load_policy(), load_master_scale(), int(overlay.max_statement_age_days))


@dataclass(frozen=True, slots=True)
class _View:
    """The factor's view of each debtor at its last review (arrays by debtor)."""

    grade: _F  # grade index 1 ... 11 (11 = D)
    basis: _F  # code into riskengine.scoring.financials.BASES (the policy's basis codes)
    money_eur: _F  # (3, n): tangible net worth, revenue, net income, in EUR
    knockout: _F  # bool: a serious, recent, significant adverse record (the policy's test)
    insolvency: _F  # bool: an open insolvency record in the look-back


def _debtor_view(d: _Debtors, statements: pd.DataFrame, adverse: pd.DataFrame,
                 adverse_owner: _F, as_of: int, shipped: _Shipped) -> _View:
    n = d.w.size
    day = str(np.datetime64(int(as_of), "D"))
    fin = latest_financials(statements, day, pd.Index(d.ids, dtype="str"))
    money, basis = financial_inputs(fin["latest"], shipped.max_statement_age_days)
    money_eur = money / d.fx[None, :]
    policy = shipped.policy
    ko_rows = np.zeros(0, dtype=bool)
    if len(adverse):  # (adverse_knockout wants at least one record)
        ko_rows = adverse_knockout(adverse["event_type"].to_numpy(dtype=object),
                                   adverse["event_date"].to_numpy(dtype="datetime64[ns]"),
                                   adverse["amount"].to_numpy(dtype=np.float64),
                                   adverse["status"].to_numpy(dtype=object), day, policy)
    knockout = np.bincount(adverse_owner, weights=ko_rows, minlength=n) > 0
    age = as_of - adverse["event_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    open_insolvency = (adverse["event_type"].isin(INSOLVENCY_EVENT_TYPES).to_numpy()
                       & (adverse["status"] == "open").to_numpy()
                       & (age >= 0) & (age <= _LOOKBACK_DAYS))
    insolvency = np.bincount(adverse_owner, weights=open_insolvency, minlength=n) > 0
    latent = _expit(_PD_INTERCEPT + _PD_SLOPE * d.w)
    grade = grade_index(shipped.scale.pd_to_grade(latent, insolvency))
    return _View(grade, basis, money_eur, knockout, insolvency)


def _pair_fx(pr: _Pairs) -> _F:
    """Units of each pair's currency per EUR (the as-of rates)."""
    out: _F = np.array([_FX[c] for c in _SUPPLIER_CURRENCIES])[pr.currency]
    return out


def _awaits_insurer(policy: CreditPolicy) -> bool:
    """Whether the demo's product waits for the insurer's limit (``await_insurer``)."""
    return any(p.name == PRODUCT and p.await_insurer for p in policy.products)


def _limits_in_force(view: _View, pr: _Pairs, related: _F, ledger: _F, insurer_limit: _F,
                     insurer_given: _F, policy: CreditPolicy) -> _F:
    """The approved limit of every pair: the policy's limit rule on the factor's view.

    ``ledger`` is each pair's supplier ledger and ``insurer_limit`` the insurer's
    granted amount (``insurer_given`` False: no answer), in the pair's currency; it
    caps the limit only when the product waits for the insurer (``await_insurer``).
    """
    owner = pr.owner
    money = view.money_eur[:, owner] * _pair_fx(pr)[None, :]
    res = decide_limits({
        "grade": view.grade[owner], "requested": pr.requested, "product": PRODUCT,
        "basis": view.basis[owner], "tnw": money[0], "revenue": money[1], "profit": money[2],
        "adverse_knockout": view.knockout[owner], "insolvency": view.insolvency[owner],
        "related": related, "supplier_ledger": ledger,
        # the insurer's answer caps a limit only where the product waits for it
        # (``await_insurer``), as the engine decides: otherwise the rest is retained
        "insurer_limit": np.where(insurer_given, insurer_limit, 0.0),
        "insurer_limit_given": insurer_given & _awaits_insurer(policy),
        # one capacity per debtor and currency, shared among its pairs (as the engine)
        "debtor": owner * len(_SUPPLIER_CURRENCIES) + pr.currency,
    }, policy)
    approved: _F = res.approved
    return approved
