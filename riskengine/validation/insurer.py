"""The rules of the ``insurer_limits`` table beyond its columns' types (issue 16).

- ``cover_pct`` is a share of the loss in (0, 1] (``out_of_range``): 0 would be a limit
  that covers nothing, above 1 an indemnity above the loss;
- a ``granted``, ``partial`` or ``reduced`` limit names its ``granted_amount``
  (``missing_value``): a granted limit without an amount would be read as none;
- a ``reduced`` or ``cancelled`` limit names its ``decision_date`` (``missing_value``):
  the notice runs from it (:class:`riskengine.policy.sections.InsurancePolicy`).

The date order (``effective_date`` on or after ``decision_date``) is
:data:`riskengine.validation.columns.DATE_ORDER`'s; the duplicate key, with a missing
``supplier_id`` as a value of its own (a debtor-level limit), is :mod:`.keys`'.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts.schemas import ERROR_COLUMNS, INSURER_LIMITS
from riskengine.validation.errors import _Emitter, _Errors, _Labels

__all__ = ["insurer_row_errors", "insurer_response_errors"]

#: Statuses whose limit needs a granted amount, and those that need a decision date.
NEEDS_GRANTED = ("granted", "partial", "reduced")
NEEDS_DECISION_DATE = ("reduced", "cancelled")


def _insurer_checks(frame: pd.DataFrame, present: frozenset[str], emit: _Emitter) -> None:
    """Every rule of the module docstring on the coerced ``insurer_limits`` rows."""
    if "cover_pct" in present:
        pct = frame["cover_pct"].to_numpy(dtype=np.float64, na_value=np.nan)
        bad = (pct <= 0.0) | (pct > 1.0)  # NaN and negatives: the column checks report them
        emit(bad, "cover_pct", "out_of_range",
             lambda s, w, v, x: (f"{s}: cover_pct is {v} {w}; it must be in (0, 1] (the share "
                                 "of an insured loss the insurer pays, 0.9 = 90 %). Correct "
                                 "the insurer limit or remove it."))
    if "status" not in present:
        return
    status = frame["status"].astype(object)
    for column, statuses, why in (
            ("granted_amount", NEEDS_GRANTED, "limit names its amount. Add it or correct "
                                              "the status."),
            ("decision_date", NEEDS_DECISION_DATE, "limit's notice runs from its decision "
                                                    "date. Add it.")):
        if column not in present:
            continue
        missing = (status.isin(statuses) & frame[column].isna()).to_numpy(
            dtype=bool, na_value=False)
        emit(missing, column, "missing_value",
             _missing_sentence(column, why),
             values=[None] * int(missing.sum()),
             extra=status[missing].astype(str).tolist())


def _missing_sentence(column: str, why: str) -> Callable[[str, str, Any, Any], str]:
    def sentence(s: str, w: str, _v: Any, x: Any) -> str:
        return f"{s}: {column} is missing {w}, but the status is {x!r}; a {x} {why}"
    return sentence


def _refused_sentence(column: str, message: str) -> Callable[[str, str, Any, Any], str]:
    return lambda s, w, v, x: f"{s}: {column} is {v!r} {w}: {message}. The debtor is " \
        "rejected whole."


def insurer_row_errors(frame: pd.DataFrame, problems: Sequence[Any]) -> pd.DataFrame:
    """Error rows of the ``insurer_limits`` rows the engine refuses once it knows the credit
    policy and the pairs (:func:`riskengine.policy.insurer.match_rows`: ``unknown_policy``,
    ``ambiguous_insurer_limit``, ``missing_fx_rate``), then one ``debtor_rejected`` row
    per debtor of such a row: it is rejected whole, as a debtor with an invalid record.

    Parameters
    ----------
    frame : pandas.DataFrame
        The validated ``insurer_limits`` rows the problems' positions refer to.
    problems : sequence
        Objects with ``row`` (position), ``column``, ``reason`` and ``message``.
    """
    labels = _Labels(frame, INSURER_LIMITS)
    errs = _Errors(INSURER_LIMITS.name)
    emit = _Emitter(frame, labels, errs, np.ones(len(frame), dtype=bool))
    groups: dict[tuple[str, str, str], list[int]] = {}
    for p in problems:
        groups.setdefault((p.column, p.reason, p.message), []).append(int(p.row))
    for (column, reason, message), at in groups.items():
        mask = np.zeros(len(frame), dtype=bool)
        mask[at] = True
        emit(mask, column, reason, _refused_sentence(column, message))
    found = errs.frame()
    debtors = sorted(set(found["debtor_id"].dropna().astype(str).tolist()))
    rejected = pd.DataFrame({
        "table": "debtors", "record": debtors, "debtor_id": debtors, "column": "debtor_id",
        "value": debtors, "reason": "debtor_rejected",
        "message": [f"Debtor {d!r} is rejected whole: an insurer limit of it is refused (see "
                    "its insurer_limits errors). It is not rated on partial data; correct "
                    "the insurer limit and send the debtor again." for d in debtors]},
        columns=list(ERROR_COLUMNS))
    return pd.concat([found, rejected.astype("str")], ignore_index=True)


def insurer_response_errors(frame: pd.DataFrame, *, declared: Collection[tuple[str, str]],
                            known_debtors: Collection[str],
                            currencies: Mapping[str, Collection[str]],
                            pair_currency: Mapping[tuple[str, str], str],
                            rated: Collection[str] = ()) -> pd.DataFrame:
    """Error rows of insurers' answers (validated ``insurer_limits`` rows) against what the
    register knows: an insurance policy the credit policy does not declare
    (``unknown_policy``), a debtor the register does not know (``unknown_debtor``), a
    pair's limit on a pair the register does not hold (``unknown_supplier``), a limit in
    another currency than a pair it covers (a pair's limit against the pair's, a debtor's
    against every pair of the debtor) when that currency or the pair's has no rate in
    force (``missing_fx_rate``: the engine converts the limit at the rates of the decision
    date, riskengine.policy.insurer).

    Parameters
    ----------
    frame : pandas.DataFrame
        Clean rows of :data:`~riskengine.contracts.schemas.INSURER_LIMITS`.
    declared : collection of (insurer_id, policy_id)
    known_debtors : collection of str
    currencies : mapping of debtor id to its pairs' currencies
    pair_currency : mapping of (supplier_id, debtor_id) to the pair's currency
    rated : collection of str
        The currencies with a rate in force (the reporting currency among them).
    """
    labels = _Labels(frame, INSURER_LIMITS)
    errs = _Errors(INSURER_LIMITS.name)
    emit = _Emitter(frame, labels, errs, np.ones(len(frame), dtype=bool))
    ins = frame["insurer_id"].astype(str).tolist()
    pol = frame["policy_id"].astype(str).tolist()
    deb = frame["debtor_id"].astype(str).tolist()
    sup = frame["supplier_id"].astype(object).where(frame["supplier_id"].notna(), None).tolist()
    cur = frame["currency"].astype(str).tolist()
    known = set(declared)
    unknown_policy = np.array([(i, p) not in known for i, p in zip(ins, pol, strict=True)],
                              dtype=bool)
    emit(unknown_policy, "policy_id", "unknown_policy",
         lambda s, w, v, x: (f"{s}: policy_id is {v!r} {w}: not an insurance policy of the "
                             "credit policy ([insurance.policies]); declare it or correct "
                             "the answer."))
    debtors = set(known_debtors)
    unknown_debtor = np.array([d not in debtors for d in deb], dtype=bool)
    emit(unknown_debtor, "debtor_id", "unknown_debtor",
         lambda s, w, v, x: (f"{s}: the debtor is not in the register (no decision, no "
                             f"limit) {w}; decide it first or correct the answer."))
    no_pair = np.array([s_ is not None and (s_, d) not in pair_currency
                        for s_, d in zip(sup, deb, strict=True)], dtype=bool) & ~unknown_debtor
    emit(no_pair, "supplier_id", "unknown_supplier",
         lambda s, w, v, x: (f"{s}: supplier_id is {v!r} {w}: the register holds no limit of "
                             "this supplier on the debtor; correct the answer or give it "
                             "for the debtor (no supplier_id)."))
    have = set(rated)

    def unconvertible(c: str, pairs: Collection[str]) -> bool:
        return any(k != c and (c not in have or k not in have) for k in pairs)

    wrong = np.array([
        unconvertible(c, [pair_currency[(s_, d)]] if (s_, d) in pair_currency else [])
        if s_ is not None else unconvertible(c, currencies.get(d, ()))
        for s_, d, c in zip(sup, deb, cur, strict=True)], dtype=bool) & ~unknown_debtor
    emit(wrong, "currency", "missing_fx_rate",
         lambda s, w, v, x: (f"{s}: currency is {v!r} {w}, another than a pair it covers, "
                             "and no rate of it or of the pair's currency is in force "
                             "(fx_rates), so the limit cannot be converted; load the rate "
                             "first."))
    return errs.frame()
