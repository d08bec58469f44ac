"""The decision on one supplier-debtor pair: a frozen, JSON-safe value object.

A :class:`Decision` is what the factor acts on and what the store keeps: the
rating (PD, grade, basis, reasons), the limit (requested, approved, type,
binding constraints, knock-outs), the insurance cover and expected loss, the
advance rate and fee schedule, and the provenance (model, policy, master scale
and overlay versions, the sha256 of the inputs, the decision timestamp).

No sentinels: a debtor that cannot be rated has ``pd = None``, ``grade =
None`` and ``decision_type = "unrated"`` with the reason in ``reason_codes``;
its limit and cover are 0 and its expected loss, advance rate and fees are
``None`` (not a number). :meth:`Decision.to_dict` has a fixed key order (the
field order below), so ``json.dumps(d.to_dict())`` is byte-identical for the
same inputs and versions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

__all__ = ["DECISION_TYPES", "RATING_BASES", "COVER_BASES", "Decision", "DECISION_FIELDS",
           "MONEY_FIELDS"]

#: Decision types: the policy's three plus ``unrated`` (no usable PD).
DECISION_TYPES: tuple[str, ...] = ("full", "partial", "refused", "unrated")
#: How the PD was obtained: the statement model, a tax-return or no-financials prior.
RATING_BASES: tuple[str, ...] = ("statements", "tax_return", "no_financials")

#: The fields of a decision that are amounts of money (in ``currency``, or the reporting
#: currency for ``approved_limit_base``): rounded to cents where they leave the program
#: (riskengine.io.console.money_rounded), never inside the core.
MONEY_FIELDS: frozenset[str] = frozenset({
    "requested_limit", "approved_limit", "insured_limit", "retained_exposure", "expected_loss",
    "expected_loss_uninsured", "debtor_capacity", "approved_outstanding", "current_limit",
    "approved_limit_base", "supplier_cap", "insured_amount", "limit_before_insurer"})
#: Where a pair's cover comes from (riskengine.policy.insurer.COVER_BASES).
COVER_BASES: tuple[str, ...] = ("insurer_limit", "discretionary", "none")
#: The fields of insurer limits as state (issue 16): absent from decisions stored before.
_INSURANCE_FIELDS = ("cover_basis", "insured_amount", "insurer_policy_id", "insurer_status",
                     "limit_before_insurer")

_REASON_KEYS = ("feature", "value", "direction", "text")


def _num(x: Any) -> float | None:
    """A finite float, or None (NaN/None/inf are not numbers in a decision)."""
    if x is None:
        return None
    f = float(x)
    return f if math.isfinite(f) else None


@dataclass(frozen=True, slots=True)
class Decision:
    """The decision on one supplier-debtor pair.

    Attributes
    ----------
    debtor_id, supplier_id : str
    as_of : str
        Decision date ``YYYY-MM-DD`` (records after it were not used).
    pd : float or None
        12-month PD after the adverse/payment overlay, a fraction in (0, 1);
        None when unrated.
    pd_model : float or None
        The PD before the overlay (statement model, or the basis prior).
    grade : str or None
        Master-scale grade ``"1"`` ... ``"10"`` or ``"D"``; None when unrated.
    rating_basis : str
        One of :data:`RATING_BASES`.
    reason_codes : tuple of dict
        Drivers of the rating, most important first, each with ``feature``,
        ``value`` (the debtor's value or None), ``direction`` and ``text`` (written
        by :func:`riskengine.scoring.reasons.reason_text` from the code's fields, which the
        batch outputs keep instead of the text).
    requested_limit, approved_limit : float or None
        Money in ``currency``; approved is 0 when refused or unrated.
    decision_type : str
        One of :data:`DECISION_TYPES`.
    binding_constraints : tuple of str
        Constraints equal to the approved amount before rounding
        (``requested``, ``capacity``, ``ledger_cap``, ``group_cap``,
        ``sector_cap``, ``insurer_cover``).
    knockouts : tuple of str
        Knock-out reasons (``adverse_record``, ``insolvency``,
        ``related_party``, ``grade_default``, ``supplier_default``).
    limit_notes : tuple of str
        Other policy reason codes (``negative_equity``, ``no_financials``,
        ``missing_data``, ``statements_converted``, ``ledger_converted``,
        ``size_not_converted``: the size features had no rate into the model's money
        unit and were left missing, ...).
    product : str
        Product of the policy the pair was decided under.
    insured_limit, retained_exposure : float
        Insurance cover on the approved limit and the exposure the factor keeps.
    expected_loss, expected_loss_uninsured : float or None
        ``PD x LGD x exposure`` with and without cover (exposure = approved limit).
    advance_rate : float or None
        Fraction of an invoice advanced (after dilution).
    service_commission_rate, discount_rate : float or None
        Fee schedule: commission as a fraction of the invoice, yearly discount
        interest on the advance.
    currency : str
    model_version, policy_version, master_scale_version, overlay_version : str
    input_hash : str
        sha256 (hex) of a canonical binary encoding of the pair's inputs and
        ``as_of`` (:data:`riskengine.scoring.hashing.HASH_SCHEME`: floats as 8-byte IEEE
        values, dates as day counts, strings length-prefixed UTF-8, records in a
        fixed order), so 5.0 and 5 hash alike and a JSON round trip changes nothing.
    decided_at : str
        Timestamp given by the caller (ISO 8601); the core never reads the clock.
    group_id : str or None
        The debtor's connected group of clients (CRR art. 4(1)(39)); None without one.
    debtor_capacity : float or None
        The debtor's capacity (grade, net worth, turnover, data basis; statements in
        another currency converted at the rate in force on ``as_of``) in ``currency``:
        one amount for all the debtor's pairs, whatever their currencies, shared among
        them (docs/POLICY.md "The book"); None when unrated.
    current_limit : float or None
        The limit in force on the pair before this decision (``exposures.approved_limit``):
        a first run on an existing book measures its limit actions against it.
    approved_outstanding : float or None
        What the supplier has delivered on the debtor and the factor approved: kept
        first when a capacity or a cap is shared among pairs.
    approved_limit_base : float or None
        ``approved_limit`` in the reporting currency (the policy's ``[book] currency``):
        ``approved_limit x fx_rate``; every total of the book adds these.
    fx_rate : float or None
        Units of the reporting currency per one unit of ``currency``, in force on
        ``as_of`` (:mod:`riskengine.features.fx`); 1 for the reporting currency.
    supplier_grade : str or None
        The supplier's grade after its assessment (its own rating as a debtor moved down
        by the assessment's notches, :mod:`riskengine.policy.supplier`); under recourse it
        prices the pair and caps its limit. None when the supplier is not rated.
    supplier_cap : float or None
        Under recourse with a rated supplier whose grade caps: the supplier's share of the
        debtor-level limit (binding constraint ``supplier`` when it cut); else None.
    cover_basis : str
        Where the cover comes from (:data:`COVER_BASES`): the insurer's limit in force
        (``insurer_limit``), the policy's discretionary cover (``discretionary``), or
        ``none``; no cover is ever assumed (issue 16).
    insured_amount : float
        What the insurer pays on a total loss: the cover percentage x ``insured_limit``
        (``insured_limit`` is the part of the limit under cover).
    insurer_policy_id : str or None
        The credit-insurance policy of the cover, or the one to ask (None: not known).
    insurer_status : str or None
        Status of the insurer limit applied to the pair (``insurer_limits``), None without.
    limit_before_insurer : float or None
        The approved limit before a hold for the insurer (the product's
        ``await_insurer``): what to ask the insurer to cover; the approved limit otherwise.
    """

    debtor_id: str
    supplier_id: str
    as_of: str
    pd: float | None
    pd_model: float | None
    grade: str | None
    rating_basis: str
    reason_codes: tuple[dict[str, Any], ...]
    requested_limit: float | None
    approved_limit: float
    decision_type: str
    binding_constraints: tuple[str, ...]
    knockouts: tuple[str, ...]
    limit_notes: tuple[str, ...]
    product: str
    insured_limit: float
    retained_exposure: float
    expected_loss: float | None
    expected_loss_uninsured: float | None
    advance_rate: float | None
    service_commission_rate: float | None
    discount_rate: float | None
    currency: str
    model_version: str
    policy_version: str
    master_scale_version: str
    overlay_version: str
    input_hash: str
    decided_at: str
    group_id: str | None = None
    debtor_capacity: float | None = None
    approved_outstanding: float | None = None
    current_limit: float | None = None
    approved_limit_base: float | None = None
    fx_rate: float | None = None
    supplier_grade: str | None = None
    supplier_cap: float | None = None
    cover_basis: str = "none"
    insured_amount: float = 0.0
    insurer_policy_id: str | None = None
    insurer_status: str | None = None
    limit_before_insurer: float | None = None

    def __post_init__(self) -> None:
        if self.decision_type not in DECISION_TYPES:
            raise ValueError(f"Decision {self.debtor_id!r}: decision_type "
                             f"{self.decision_type!r} is not one of {DECISION_TYPES}.")
        if self.rating_basis not in RATING_BASES:
            raise ValueError(f"Decision {self.debtor_id!r}: rating_basis "
                             f"{self.rating_basis!r} is not one of {RATING_BASES}.")
        unrated = self.decision_type == "unrated"
        if unrated != (self.pd is None) or unrated != (self.grade is None):
            raise ValueError(f"Decision {self.debtor_id!r}: an unrated decision has neither "
                             "PD nor grade, and a rated one has both.")
        if self.pd is not None and not 0.0 < self.pd <= 1.0:
            raise ValueError(f"Decision {self.debtor_id!r}: pd {self.pd!r} is not in (0, 1].")
        if self.approved_limit < 0 or (unrated and self.approved_limit != 0):
            raise ValueError(f"Decision {self.debtor_id!r}: approved_limit "
                             f"{self.approved_limit!r} is negative or given while unrated.")
        if self.insured_limit > self.approved_limit + 1e-9:
            raise ValueError(f"Decision {self.debtor_id!r}: insured_limit exceeds the limit.")
        if self.insured_amount > self.insured_limit + 1e-9:
            raise ValueError(f"Decision {self.debtor_id!r}: insured_amount exceeds the "
                             "insured limit.")
        if self.cover_basis not in COVER_BASES:
            raise ValueError(f"Decision {self.debtor_id!r}: cover_basis "
                             f"{self.cover_basis!r} is not one of {COVER_BASES}.")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict in field order (lists for tuples, None for no number).

        Examples
        --------
        >>> d = Decision.from_dict(_EXAMPLE)
        >>> list(d.to_dict())[:5]
        ['debtor_id', 'supplier_id', 'as_of', 'pd', 'pd_model']
        >>> Decision.from_dict(d.to_dict()) == d
        True
        """
        out: dict[str, Any] = {}
        isfinite = math.isfinite
        # the field order (a module constant, not fields()), the values in one getter call
        for name, v in zip(DECISION_FIELDS, _get_fields(self), strict=True):
            if type(v) is float:
                v = v if isfinite(v) else None
            elif name == "reason_codes":
                v = [{k: r.get(k) for k in _REASON_KEYS} for r in v]
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, float):
                v = _num(v)
            out[name] = v
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """Rebuild a decision from :meth:`to_dict` output (unknown keys refused)."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        optional = {"group_id", "debtor_capacity", "approved_outstanding", "current_limit",  # added by policy 2026.2
                    "approved_limit_base", "fx_rate", "supplier_grade", "supplier_cap",  # issue 16
                    *_INSURANCE_FIELDS}
        missing = [n for n in names if n not in data and n not in optional]
        if unknown or missing:
            raise ValueError(f"Decision.from_dict: unknown keys {unknown}, missing keys {missing}.")
        kw: dict[str, Any] = {}
        for n in names:
            if n not in data:
                continue
            v = data[n]
            if n == "reason_codes":
                v = tuple({k: r.get(k) for k in _REASON_KEYS} for r in v)
            elif isinstance(v, list):
                v = tuple(v)
            kw[n] = v
        return cls(**kw)


_EXAMPLE: dict[str, Any] = {
    "debtor_id": "D-1", "supplier_id": "S-1", "as_of": "2026-06-30", "pd": 0.01,
    "pd_model": 0.008, "grade": "4", "rating_basis": "statements",
    "reason_codes": [{"feature": "st_roa", "value": -0.02, "direction": "lower",
                      "text": "return on assets lower than typical"}],
    "requested_limit": 25000.0, "approved_limit": 25000.0, "decision_type": "full",
    "binding_constraints": ["requested"], "knockouts": [], "limit_notes": [],
    "product": "non_recourse", "insured_limit": 25000.0, "retained_exposure": 2500.0,
    "expected_loss": 10.0, "expected_loss_uninsured": 100.0, "advance_rate": 0.85,
    "service_commission_rate": 0.02, "discount_rate": 0.1, "currency": "EUR",
    "model_version": "m", "policy_version": "p", "master_scale_version": "s",
    "overlay_version": "o", "input_hash": "0" * 64, "decided_at": "2026-06-30T12:00:00Z",
    "group_id": None, "debtor_capacity": 40000.0, "approved_outstanding": 0.0,
    "current_limit": 25000.0, "approved_limit_base": 25000.0, "fx_rate": 1.0,
    "supplier_grade": None, "supplier_cap": None,
    "cover_basis": "insurer_limit", "insured_amount": 22500.0,
    "insurer_policy_id": "CI-1", "insurer_status": "granted", "limit_before_insurer": 25000.0,
}

#: Field names of :class:`Decision`, in order (the columns of a decisions frame).
DECISION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Decision))
_get_fields = attrgetter(*DECISION_FIELDS)
