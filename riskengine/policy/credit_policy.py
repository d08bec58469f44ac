"""The credit policy as a frozen, validated value object.

A :class:`CreditPolicy` is built from a plain dict (the parsed ``policy.toml``)
by :meth:`CreditPolicy.from_dict`, which refuses a bad policy with a
:class:`~riskengine.errors.PolicyError` naming the dotted key and the value.
:meth:`CreditPolicy.to_dict` gives the dict back (round trip).

Conventions
-----------
- Rates, shares and fractions are fractions (``0.35`` = 35 %), never percents.
- Money amounts carry a currency: the no-financials limits ``capacity.currency``,
  the adverse threshold ``knockouts.currency``, the factor's capital ``book.currency``
  (the reporting currency); the engine converts them into a pair's or a record's
  currency (:mod:`riskengine.features.fx`). The rounding unit is in the pair's currency.
- Per-grade tables have one entry for each grade ``"1"`` (best) ... ``"10"``
  and ``"D"`` (default), keyed by the grade string.
- The module does no I/O; :func:`riskengine.config.load_policy` reads the file.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from riskengine.contracts.schemas import ADVERSE_EVENT_TYPES, CURRENCIES
from riskengine.errors import PolicyError
from riskengine.model.master_scale import GRADES
from riskengine.policy._toml import _check_keys, _fail, _int, _number, _range
from riskengine.policy.sections import BookPolicy, FundingPolicy, InsurancePolicy, SupplierPolicy

__all__ = [
    "GRADES",
    "D_INDEX",
    "GradeTable",
    "LimitsPolicy",
    "CapacityPolicy",
    "KnockoutPolicy",
    "ConcentrationPolicy",
    "BookPolicy",
    "CoverPolicy",
    "ProductPolicy",
    "FeePolicy",
    "EligibilityPolicy",
    "FundingPolicy",
    "InsurancePolicy",
    "SupplierPolicy",
    "CreditPolicy",
]

D_INDEX = len(GRADES)
"""Grade index of the default grade ``"D"`` (11)."""

Order = Literal["nonincreasing", "nondecreasing", "none"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class GradeTable:
    """One number per grade, best grade first.

    Parameters
    ----------
    values : tuple of float
        Eleven values for grades ``"1"`` ... ``"10"``, ``"D"``.

    Examples
    --------
    >>> t = GradeTable.from_dict({g: 1.0 for g in GRADES}, "x")
    >>> t["D"], t.lookup(np.array([1, 11])).tolist()
    (1.0, [1.0, 1.0])
    """

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.values) != len(GRADES):
            raise PolicyError(
                f"credit policy: a grade table needs {len(GRADES)} values, got {len(self.values)}",
                key="",
            )

    @classmethod
    def from_dict(cls, d: Any, key: str) -> GradeTable:
        """Parse ``{"1": v1, ..., "D": vD}``; a missing or unknown grade names its key."""
        d = _check_keys(d, key, set(GRADES), set(GRADES))
        return cls(tuple(_number(d, key, g) for g in GRADES))

    def to_dict(self) -> dict[str, float]:
        """``{"1": v1, ..., "D": vD}``."""
        return dict(zip(GRADES, self.values, strict=True))

    def __getitem__(self, grade: str) -> float:
        return self.values[GRADES.index(grade)]

    def lookup(self, grade_idx: npt.NDArray[np.integer[Any]]) -> FloatArray:
        """Value for each grade index ``1`` ... ``11`` (validated by the caller)."""
        return np.asarray((math.nan, *self.values), dtype=np.float64)[grade_idx]

    def validate(
        self, key: str, *, lo: float = 0.0, hi: float | None = 1.0,
        order: Order = "nonincreasing", zero_at_default: bool = False,
    ) -> None:
        """Check range, monotonicity in the grade and the value at ``"D"``.

        Raises
        ------
        PolicyError
            Naming ``key.<grade>`` and the offending value.
        """
        for g, v in zip(GRADES, self.values, strict=True):
            _range(f"{key}.{g}", v, lo, hi)
        for (g0, v0), (g1, v1) in zip(
            zip(GRADES, self.values, strict=True), zip(GRADES[1:], self.values[1:], strict=True),
            strict=False,
        ):
            if order == "nonincreasing" and v1 > v0:
                raise _fail(f"{key}.{g1}", v1, f"rises above grade {g0}'s {v0!r} as the grade "
                            "worsens (the table must be non-increasing)", "Correct the table.")
            if order == "nondecreasing" and v1 < v0:
                raise _fail(f"{key}.{g1}", v1, f"falls below grade {g0}'s {v0!r} as the grade "
                            "worsens (the table must be non-decreasing)", "Correct the table.")
        if zero_at_default and self.values[-1] != 0.0:
            raise _fail(f"{key}.D", self.values[-1], "must be 0 at the default grade",
                        "Set it to 0: a defaulted debtor gets nothing.")


@dataclass(frozen=True, slots=True)
class LimitsPolicy:
    """Rounding, the notice period and the day basis of the requested limit.

    Parameters
    ----------
    rounding_unit : float
        Approved limits are rounded down to a multiple of this amount (> 0).
    notice_days : int
        Days between the notice of a reduction and its effect (Atradius; FCI GRIF art. 18).
    credit_days_basis : int
        Days in the year of ``requested = annual_sales * credit_days / basis`` (360, seed 003).
    """

    rounding_unit: float
    notice_days: int
    credit_days_basis: int

    KEY = "limits"

    def __post_init__(self) -> None:
        if not self.rounding_unit > 0:
            raise _fail(f"{self.KEY}.rounding_unit", self.rounding_unit, "must be > 0",
                        "Give a positive amount such as 1000.")
        _range(f"{self.KEY}.notice_days", self.notice_days, 0, 366)
        if self.credit_days_basis not in (360, 365):
            raise _fail(f"{self.KEY}.credit_days_basis", self.credit_days_basis,
                        "must be 360 or 365", "Use 360 (seed 003) or 365.")

    @classmethod
    def from_dict(cls, d: Any) -> LimitsPolicy:
        keys = {"rounding_unit", "notice_days", "credit_days_basis"}
        d = _check_keys(d, cls.KEY, keys, keys)
        return cls(_number(d, cls.KEY, "rounding_unit"), _int(d, cls.KEY, "notice_days"),
                   _int(d, cls.KEY, "credit_days_basis"))

    def to_dict(self) -> dict[str, Any]:
        return {"rounding_unit": self.rounding_unit, "notice_days": self.notice_days,
                "credit_days_basis": self.credit_days_basis}


NEGATIVE_EQUITY_RULES = ("zero", "minimum_limit")


def _currency(key: str, value: Any, of: str) -> None:
    """A policy section's currency: an ISO 4217 code of the contracts."""
    if not isinstance(value, str) or value not in CURRENCIES:
        raise _fail(key, value, "not an ISO 4217 code of riskengine.contracts.schemas.CURRENCIES",
                    f'Give the currency of {of}, e.g. currency = "EUR".')


@dataclass(frozen=True, slots=True)
class CapacityPolicy:
    """Debtor capacity by grade: ``min(a_g * TNW, b_g * revenue)`` and its fallbacks.

    Parameters
    ----------
    tnw_fraction : GradeTable
        ``a_g``: share of tangible net worth (non-increasing, 0 at ``D``).
    revenue_fraction : GradeTable
        ``b_g``: share of annual revenue (non-increasing, 0 at ``D``).
    no_financials_limit : GradeTable
        The predetermined minimum limit for a debtor with no financial data
        (seed 003), money, non-increasing, 0 at ``D``.
    tax_return_haircut : float
        Haircut in [0, 1] on capacity computed from tax returns only.
    tax_return_profit_multiple : float
        Tax-return capacity is also capped at this multiple of declared profit.
    negative_equity : {"zero", "minimum_limit"}
        Capacity when tangible net worth <= 0: nothing, or the no-financials limit.
    currency : str
        ISO 4217 code of ``no_financials_limit`` (converted into the pair's currency).
    """

    tnw_fraction: GradeTable
    revenue_fraction: GradeTable
    no_financials_limit: GradeTable
    tax_return_haircut: float
    tax_return_profit_multiple: float
    negative_equity: str
    currency: str = "EUR"

    KEY = "capacity"

    def __post_init__(self) -> None:
        k = self.KEY
        self.tnw_fraction.validate(f"{k}.tnw_fraction", hi=10.0, zero_at_default=True)
        self.revenue_fraction.validate(f"{k}.revenue_fraction", zero_at_default=True)
        self.no_financials_limit.validate(f"{k}.no_financials_limit", hi=None,
                                          zero_at_default=True)
        _range(f"{k}.tax_return_haircut", self.tax_return_haircut, 0.0, 1.0)
        _range(f"{k}.tax_return_profit_multiple", self.tax_return_profit_multiple, 0.0, None)
        if self.negative_equity not in NEGATIVE_EQUITY_RULES:
            raise _fail(f"{k}.negative_equity", self.negative_equity, "unknown rule",
                        f"Use one of {', '.join(NEGATIVE_EQUITY_RULES)}.")
        _currency(f"{k}.currency", self.currency, "no_financials_limit")

    @classmethod
    def from_dict(cls, d: Any) -> CapacityPolicy:
        k = cls.KEY
        keys = {"tnw_fraction", "revenue_fraction", "no_financials_limit",
                "tax_return_haircut", "tax_return_profit_multiple", "negative_equity",
                "currency"}
        d = _check_keys(d, k, keys, keys)
        return cls(
            GradeTable.from_dict(d["tnw_fraction"], f"{k}.tnw_fraction"),
            GradeTable.from_dict(d["revenue_fraction"], f"{k}.revenue_fraction"),
            GradeTable.from_dict(d["no_financials_limit"], f"{k}.no_financials_limit"),
            _number(d, k, "tax_return_haircut"),
            _number(d, k, "tax_return_profit_multiple"),
            str(d["negative_equity"]),
            d["currency"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tnw_fraction": self.tnw_fraction.to_dict(),
            "revenue_fraction": self.revenue_fraction.to_dict(),
            "no_financials_limit": self.no_financials_limit.to_dict(),
            "tax_return_haircut": self.tax_return_haircut,
            "tax_return_profit_multiple": self.tax_return_profit_multiple,
            "negative_equity": self.negative_equity,
            "currency": self.currency,
        }


@dataclass(frozen=True, slots=True)
class KnockoutPolicy:
    """The seed's adverse-record knock-out: serious + recent + significant (seed 003).

    The other knock-outs (insolvency event, related parties, grade ``D``) are
    fixed rules of the engine, not settings: they cannot be switched off.

    Parameters
    ----------
    adverse_event_types : tuple of str
        Serious record types (bounced cheques, payment orders, unpaid bills; auctions
        and seizures).
    adverse_recent_days : int
        A record is recent when ``as_of - event_date <= adverse_recent_days``.
    adverse_min_amount : float
        A record is significant when its amount, converted into ``currency``, is
        strictly above this (absolute threshold) ...
    adverse_count_settled : bool
        Whether records annotated as paid (settled) still knock out.
    currency : str
        ISO 4217 code of ``adverse_min_amount``.
    adverse_min_revenue_share : float
        ... or strictly above this share of the debtor's latest annual revenue
        (relative threshold; 0 switches it off).
    """

    adverse_event_types: tuple[str, ...]
    adverse_recent_days: int
    adverse_min_amount: float
    adverse_count_settled: bool
    currency: str = "EUR"
    adverse_min_revenue_share: float = 0.0

    KEY = "knockouts"

    def __post_init__(self) -> None:
        k = self.KEY
        for i, t in enumerate(self.adverse_event_types):
            if t not in ADVERSE_EVENT_TYPES:
                raise _fail(f"{k}.adverse_event_types[{i}]", t, "unknown event type",
                            f"Use types from {', '.join(ADVERSE_EVENT_TYPES)}.")
        _range(f"{k}.adverse_recent_days", self.adverse_recent_days, 0, None)
        _range(f"{k}.adverse_min_amount", self.adverse_min_amount, 0.0, None)
        _range(f"{k}.adverse_min_revenue_share", self.adverse_min_revenue_share, 0.0, 1.0)
        _currency(f"{k}.currency", self.currency, "adverse_min_amount")

    @classmethod
    def from_dict(cls, d: Any) -> KnockoutPolicy:
        k = cls.KEY
        keys = {"adverse_event_types", "adverse_recent_days", "adverse_min_amount",
                "adverse_count_settled", "currency", "adverse_min_revenue_share"}
        d = _check_keys(d, k, keys, keys)
        types = d["adverse_event_types"]
        if not isinstance(types, list | tuple) or not all(isinstance(t, str) for t in types):
            raise _fail(f"{k}.adverse_event_types", types, "not a list of strings",
                        "Give a list such as [\"bounced_cheque\"].")
        settled = d["adverse_count_settled"]
        if not isinstance(settled, bool):
            raise _fail(f"{k}.adverse_count_settled", settled, "not true/false", "Give a boolean.")
        return cls(tuple(types), _int(d, k, "adverse_recent_days"),
                   _number(d, k, "adverse_min_amount"), settled, d["currency"],
                   _number(d, k, "adverse_min_revenue_share"))

    def to_dict(self) -> dict[str, Any]:
        return {"adverse_event_types": list(self.adverse_event_types),
                "adverse_recent_days": self.adverse_recent_days,
                "adverse_min_amount": self.adverse_min_amount,
                "adverse_count_settled": self.adverse_count_settled,
                "currency": self.currency,
                "adverse_min_revenue_share": self.adverse_min_revenue_share}


@dataclass(frozen=True, slots=True)
class ConcentrationPolicy:
    """Concentration caps of one pair (the book's caps are :class:`BookPolicy`).

    Parameters
    ----------
    ledger_share : GradeTable
        Maximum share of the supplier's ledger on one debtor, by grade.
    """

    ledger_share: GradeTable

    KEY = "concentration"

    def __post_init__(self) -> None:
        self.ledger_share.validate(f"{self.KEY}.ledger_share", zero_at_default=True)

    @classmethod
    def from_dict(cls, d: Any) -> ConcentrationPolicy:
        k = cls.KEY
        for moved in ("group_capital_share", "sector_book_share"):
            if isinstance(d, Mapping) and moved in d:
                raise _fail(f"{k}.{moved}", d[moved], "moved to [book]",
                            f"Write it as book.{moved} (policy 2026.2).")
        d = _check_keys(d, k, {"ledger_share"}, {"ledger_share"})
        return cls(GradeTable.from_dict(d["ledger_share"], f"{k}.ledger_share"))

    def to_dict(self) -> dict[str, Any]:
        return {"ledger_share": self.ledger_share.to_dict()}


@dataclass(frozen=True, slots=True)
class CoverPolicy:
    """Credit insurance of the receivables.

    Parameters
    ----------
    insured_fraction : GradeTable
        The insurer's appetite: share of the limit it insures (1 full, between
        partial, 0 none), non-increasing, 0 at ``D``.
    premium_rate : GradeTable
        Premium as a share of insured turnover, non-decreasing as the grade worsens.
    indemnity : float
        Share of an insured loss the insurer pays, in [0, 1].
    lgd : float
        Loss given default on the uninsured exposure, in [0, 1].
    """

    insured_fraction: GradeTable
    premium_rate: GradeTable
    indemnity: float
    lgd: float

    KEY = "cover"

    def __post_init__(self) -> None:
        k = self.KEY
        self.insured_fraction.validate(f"{k}.insured_fraction", zero_at_default=True)
        self.premium_rate.validate(f"{k}.premium_rate", order="nondecreasing")
        _range(f"{k}.indemnity", self.indemnity, 0.0, 1.0)
        _range(f"{k}.lgd", self.lgd, 0.0, 1.0)

    @classmethod
    def from_dict(cls, d: Any) -> CoverPolicy:
        k = cls.KEY
        keys = {"insured_fraction", "premium_rate", "indemnity", "lgd"}
        d = _check_keys(d, k, keys, keys)
        return cls(GradeTable.from_dict(d["insured_fraction"], f"{k}.insured_fraction"),
                   GradeTable.from_dict(d["premium_rate"], f"{k}.premium_rate"),
                   _number(d, k, "indemnity"), _number(d, k, "lgd"))

    def to_dict(self) -> dict[str, Any]:
        return {"insured_fraction": self.insured_fraction.to_dict(),
                "premium_rate": self.premium_rate.to_dict(),
                "indemnity": self.indemnity, "lgd": self.lgd}


@dataclass(frozen=True, slots=True)
class ProductPolicy:
    """One factoring product.

    Parameters
    ----------
    name : str
        Product name (the key under ``[products]``).
    recourse : bool
        With recourse: the supplier bears the debtor's credit risk and the
        supplier's grade drives advance rate and fees.
    requires_insurance : bool
        The pairs are written under credit insurance: their cover is the insurer's
        limit, or discretionary cover (``[insurance]``); the insurer's appetite
        (``cover.insured_fraction``) nil at the grade refuses them.
    advance_rate : GradeTable
        Share of an approved invoice paid on assignment, non-increasing, 0 at ``D``.
    commission_surcharge : float
        Added to the service commission (non-recourse is dearer, seed 001).
    await_insurer : bool, default False
        An approval waits for the insurer: the limit is held at what is insured
        (binding ``insurer_cover``) until the insurer grants more; False: the pair is
        approved and the part above the cover is retained (optional key, issue 16).
    """

    name: str
    recourse: bool
    requires_insurance: bool
    advance_rate: GradeTable
    commission_surcharge: float
    await_insurer: bool = False

    def __post_init__(self) -> None:
        k = f"products.{self.name}"
        self.advance_rate.validate(f"{k}.advance_rate", zero_at_default=True)
        _range(f"{k}.commission_surcharge", self.commission_surcharge, 0.0, 1.0)

    @classmethod
    def from_dict(cls, name: str, d: Any) -> ProductPolicy:
        k = f"products.{name}"
        keys = {"recourse", "requires_insurance", "advance_rate", "commission_surcharge"}
        d = _check_keys(d, k, keys | {"await_insurer"}, keys)
        for flag in ("recourse", "requires_insurance", "await_insurer"):
            if flag in d and not isinstance(d[flag], bool):
                raise _fail(f"{k}.{flag}", d[flag], "not true/false", "Give a boolean.")
        return cls(name, d["recourse"], d["requires_insurance"],
                   GradeTable.from_dict(d["advance_rate"], f"{k}.advance_rate"),
                   _number(d, k, "commission_surcharge"), d.get("await_insurer", False))

    def to_dict(self) -> dict[str, Any]:
        return {"recourse": self.recourse, "requires_insurance": self.requires_insurance,
                "advance_rate": self.advance_rate.to_dict(),
                "commission_surcharge": self.commission_surcharge,
                "await_insurer": self.await_insurer}


@dataclass(frozen=True, slots=True)
class FeePolicy:
    """Fees by grade (seed 002).

    Parameters
    ----------
    service_commission : GradeTable
        Share of the invoice value, non-decreasing as the grade worsens.
    discount_rate : GradeTable
        Yearly interest on the advance, non-decreasing as the grade worsens.
    day_count : int
        Days-in-year divisor of the discount interest: 360 (act/360) or 365 (act/365).
    """

    service_commission: GradeTable
    discount_rate: GradeTable
    day_count: int

    KEY = "fees"

    def __post_init__(self) -> None:
        k = self.KEY
        self.service_commission.validate(f"{k}.service_commission", order="nondecreasing")
        self.discount_rate.validate(f"{k}.discount_rate", order="nondecreasing")
        if self.day_count not in (360, 365):
            raise _fail(f"{k}.day_count", self.day_count, "must be 360 or 365",
                        "Use 360 (act/360) or 365 (act/365).")

    @classmethod
    def from_dict(cls, d: Any) -> FeePolicy:
        k = cls.KEY
        keys = {"service_commission", "discount_rate", "day_count"}
        d = _check_keys(d, k, keys, keys)
        return cls(GradeTable.from_dict(d["service_commission"], f"{k}.service_commission"),
                   GradeTable.from_dict(d["discount_rate"], f"{k}.discount_rate"),
                   _int(d, k, "day_count"))

    def to_dict(self) -> dict[str, Any]:
        return {"service_commission": self.service_commission.to_dict(),
                "discount_rate": self.discount_rate.to_dict(), "day_count": self.day_count}


@dataclass(frozen=True, slots=True)
class EligibilityPolicy:
    """Which assigned invoices can be funded.

    Parameters
    ----------
    max_invoice_age_days : int
        Invoices older than this (from the invoice date) are ineligible.
    cross_age_days : int
        Age beyond which a debtor's balance counts towards cross-aging.
    cross_age_share : float
        If more than this share of a debtor's balance is older than
        ``cross_age_days``, the whole balance is ineligible.
    """

    max_invoice_age_days: int
    cross_age_days: int
    cross_age_share: float

    KEY = "eligibility"

    def __post_init__(self) -> None:
        k = self.KEY
        _range(f"{k}.max_invoice_age_days", self.max_invoice_age_days, 0, None)
        _range(f"{k}.cross_age_days", self.cross_age_days, 0, None)
        _range(f"{k}.cross_age_share", self.cross_age_share, 0.0, 1.0)

    @classmethod
    def from_dict(cls, d: Any) -> EligibilityPolicy:
        k = cls.KEY
        keys = {"max_invoice_age_days", "cross_age_days", "cross_age_share"}
        d = _check_keys(d, k, keys, keys)
        return cls(_int(d, k, "max_invoice_age_days"), _int(d, k, "cross_age_days"),
                   _number(d, k, "cross_age_share"))

    def to_dict(self) -> dict[str, Any]:
        return {"max_invoice_age_days": self.max_invoice_age_days,
                "cross_age_days": self.cross_age_days, "cross_age_share": self.cross_age_share}


@dataclass(frozen=True, slots=True)
class OverridePolicy:
    """Bounds on a credit officer's override of a decision (EBA GL/2017/16 monitoring).

    Downgrades are free; an upgrade may move the grade at most
    ``max_upgrade_notches`` better than the model's (default 2, committee).
    """

    max_upgrade_notches: int = 2

    KEY = "overrides"

    def __post_init__(self) -> None:
        _range(f"{self.KEY}.max_upgrade_notches", self.max_upgrade_notches, 0, 10)

    @classmethod
    def from_dict(cls, d: Any) -> OverridePolicy:
        k = cls.KEY
        d = _check_keys(d, k, {"max_upgrade_notches"}, set())
        return cls(_int(d, k, "max_upgrade_notches") if "max_upgrade_notches" in d else 2)

    def to_dict(self) -> dict[str, Any]:
        return {"max_upgrade_notches": self.max_upgrade_notches}


_SECTIONS = ("limits", "capacity", "knockouts", "concentration", "book", "cover", "products",
             "fees", "eligibility", "supplier")
_OPTIONAL_SECTIONS = ("overrides", "funding", "insurance")


@dataclass(frozen=True, slots=True)
class CreditPolicy:
    """The whole credit policy, versioned.

    Build it with :meth:`from_dict` (or :func:`riskengine.config.load_policy`).

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> policy = load_policy()
    >>> policy.version
    '2026.3'
    >>> CreditPolicy.from_dict(policy.to_dict()) == policy
    True
    """

    version: str
    limits: LimitsPolicy
    capacity: CapacityPolicy
    knockouts: KnockoutPolicy
    concentration: ConcentrationPolicy
    book: BookPolicy
    cover: CoverPolicy
    products: tuple[ProductPolicy, ...]
    fees: FeePolicy
    eligibility: EligibilityPolicy
    supplier: SupplierPolicy
    description: str = ""
    overrides: OverridePolicy = OverridePolicy()
    funding: FundingPolicy = FundingPolicy()
    insurance: InsurancePolicy = InsurancePolicy()

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not self.version.strip():
            raise _fail("version", self.version, "must be a non-empty string",
                        'Give the policy version, e.g. version = "2026.1".')
        if not self.products:
            raise _fail("products", {}, "no product defined", "Define at least one product.")
        names = [p.name for p in self.products]
        if len(set(names)) != len(names):
            raise _fail("products", names, "duplicate product names", "Rename one.")
        insured = {p.name for p in self.products if p.requires_insurance}
        for ip in self.insurance.policies:
            for i, name in enumerate(ip.products):
                if name not in insured:
                    raise _fail(f"insurance.policies.{ip.policy_id}.products[{i}]", name,
                                "not a product that requires insurance",
                                f"Use one of {', '.join(sorted(insured)) or '(none)'}.")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CreditPolicy:
        """Validate and build a policy from the parsed TOML dict.

        Raises
        ------
        PolicyError
            A missing or unknown key, a wrong type, a value out of range, a
            table that is not monotone in the grade or not 0 at ``D``; the
            error's ``key`` is the dotted path (e.g. ``"cover.indemnity"``).
        """
        d = _check_keys(d, "", {"version", "description", *_SECTIONS, *_OPTIONAL_SECTIONS},
                        {"version", *_SECTIONS})
        products = d["products"]
        if not isinstance(products, Mapping) or not products:
            raise _fail("products", products, "not a table of products",
                        "Define [products.<name>] tables, e.g. [products.non_recourse].")
        if not isinstance(d["version"], str):
            raise _fail("version", d["version"], "must be a string", 'Quote it: version = "2026.1".')
        return cls(
            version=d["version"],
            limits=LimitsPolicy.from_dict(d["limits"]),
            capacity=CapacityPolicy.from_dict(d["capacity"]),
            knockouts=KnockoutPolicy.from_dict(d["knockouts"]),
            concentration=ConcentrationPolicy.from_dict(d["concentration"]),
            book=BookPolicy.from_dict(d["book"]),
            cover=CoverPolicy.from_dict(d["cover"]),
            products=tuple(ProductPolicy.from_dict(str(n), v) for n, v in products.items()),
            fees=FeePolicy.from_dict(d["fees"]),
            eligibility=EligibilityPolicy.from_dict(d["eligibility"]),
            supplier=SupplierPolicy.from_dict(d["supplier"]),
            description=str(d.get("description", "")),
            overrides=OverridePolicy.from_dict(d.get("overrides", {})),
            funding=FundingPolicy.from_dict(d.get("funding", {})),
            insurance=(InsurancePolicy.from_dict(d["insurance"]) if "insurance" in d
                       else InsurancePolicy()),
        )

    def to_dict(self) -> dict[str, Any]:
        """The plain dict :meth:`from_dict` reads (round trip)."""
        out: dict[str, Any] = {"version": self.version}
        if self.description:
            out["description"] = self.description
        out.update({
            "limits": self.limits.to_dict(), "capacity": self.capacity.to_dict(),
            "knockouts": self.knockouts.to_dict(), "concentration": self.concentration.to_dict(),
            "book": self.book.to_dict(), "cover": self.cover.to_dict(),
            "products": {p.name: p.to_dict() for p in self.products},
            "fees": self.fees.to_dict(), "eligibility": self.eligibility.to_dict(),
            "supplier": self.supplier.to_dict(), "overrides": self.overrides.to_dict(),
            "funding": self.funding.to_dict(), "insurance": self.insurance.to_dict(),
        })
        return out

    @property
    def product_names(self) -> tuple[str, ...]:
        """Product names in file order; a product's code is its position."""
        return tuple(p.name for p in self.products)

    def product(self, name: str) -> ProductPolicy:
        """The product called ``name``.

        Raises
        ------
        PolicyError
            No such product in the policy.
        """
        for p in self.products:
            if p.name == name:
                return p
        raise PolicyError(
            f"credit policy {self.version}: no product {name!r}; products are "
            f"{', '.join(self.product_names)}.", key=f"products.{name}",
        )

    def with_factor_capital(self, amount: float | None) -> CreditPolicy:
        """This policy with ``book.factor_capital`` set to ``amount`` (``--factor-capital``);
        None keeps the policy's own.

        Raises
        ------
        PolicyError
            ``amount`` is negative or not finite (key ``book.factor_capital``).
        """
        if amount is None:
            return self
        book = dataclasses.replace(self.book, factor_capital=float(amount))
        return dataclasses.replace(self, book=book)

    def product_table(self, attr: str) -> npt.NDArray[Any]:
        """One attribute of every product as an array indexed by product code."""
        return np.asarray([getattr(p, attr) for p in self.products])

    def advance_rate_matrix(self) -> FloatArray:
        """Advance rate by ``[product code, grade index]`` (column 0 unused)."""
        return np.asarray([(math.nan, *p.advance_rate.values) for p in self.products],
                          dtype=np.float64)
