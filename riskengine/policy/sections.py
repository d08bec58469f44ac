"""Policy sections of the book, of funding checks (issue 15), of the supplier and of credit
insurance (issue 16): ``[book]`` (the factor's capital and the book's caps), ``[funding]``
(the oldest rating an invoice may be funded on), ``[supplier]`` (the supplier's assessment
and what it does to a pair's limit and advance, :mod:`riskengine.policy.supplier`) and
``[insurance]`` (the factor's insurance policies, the insurer's notice, discretionary
cover)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from riskengine.contracts.ids import is_identifier
from riskengine.model.master_scale import GRADES
from riskengine.policy._toml import _check_keys, _fail, _int, _number, _range

__all__ = ["BookPolicy", "FundingPolicy", "InsurancePolicy", "InsurerPolicy", "SupplierPolicy",
           "SUPPLIER_NOTCHES"]


@dataclass(frozen=True, slots=True)
class BookPolicy:
    """Caps on the whole book: connected groups against the factor's capital, sectors and
    countries against the book (DOMAIN.md §6).

    Parameters
    ----------
    factor_capital : float or None
        The factor's eligible capital (CRR art. 4(1)(71)), in ``currency``. Required
        while ``group_capital_share`` < 1 (the group cap needs it).
    currency : str
        ISO 4217 code of ``factor_capital`` and of the book's totals.
    group_capital_share : float
        Maximum exposure to a connected group of clients (CRR art. 4(1)(39)) as a share
        of ``factor_capital``; a debtor without a group is a group of its own (CRR art.
        395(1): 25 %). 1 switches the cap off.
    sector_book_share, country_book_share : float
        Maximum share of the book's approved limits in one NACE section / one
        country (the factor's committee figures). 1 switches the cap off.
    share_base_min : float
        The smallest book, in ``currency``, that the sector and country shares are
        measured against: a book smaller than this (a new factor's, or a service whose
        register holds a few pairs) is measured as if it were this large, so that its
        first pairs are not cut to a quarter of themselves. 0: the book's own total.
    """

    factor_capital: float | None
    currency: str
    group_capital_share: float
    sector_book_share: float
    country_book_share: float
    share_base_min: float = 0.0

    KEY = "book"

    def __post_init__(self) -> None:
        k = self.KEY
        for name in ("group_capital_share", "sector_book_share", "country_book_share"):
            _range(f"{k}.{name}", getattr(self, name), 0.0, 1.0)
        _range(f"{k}.share_base_min", self.share_base_min, 0.0, None)
        if self.factor_capital is not None:
            _range(f"{k}.factor_capital", self.factor_capital, 0.0, None)
        elif self.group_capital_share < 1.0:
            raise _fail(f"{k}.factor_capital", None, "missing while book.group_capital_share "
                        f"= {self.group_capital_share} caps connected groups",
                        "Set the factor's eligible capital (or --factor-capital), or set "
                        "group_capital_share = 1 to switch the group cap off.")
        if not (isinstance(self.currency, str) and len(self.currency) == 3
                and self.currency.isupper()):
            raise _fail(f"{k}.currency", self.currency, "not an ISO 4217 code",
                        'Give the currency of factor_capital, e.g. currency = "EUR".')

    @classmethod
    def from_dict(cls, d: Any) -> BookPolicy:
        k = cls.KEY
        shares = {"group_capital_share", "sector_book_share", "country_book_share"}
        d = _check_keys(d, k, {"factor_capital", "currency", "share_base_min", *shares},
                        {"currency", *shares})
        capital = _number(d, k, "factor_capital") if "factor_capital" in d else None
        base = _number(d, k, "share_base_min") if "share_base_min" in d else 0.0
        return cls(capital, d["currency"], _number(d, k, "group_capital_share"),
                   _number(d, k, "sector_book_share"), _number(d, k, "country_book_share"),
                   share_base_min=base)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"currency": self.currency,
                               "group_capital_share": self.group_capital_share,
                               "sector_book_share": self.sector_book_share,
                               "country_book_share": self.country_book_share,
                               "share_base_min": self.share_base_min}
        if self.factor_capital is not None:
            out["factor_capital"] = self.factor_capital
        return out


@dataclass(frozen=True, slots=True)
class FundingPolicy:
    """Funding checks: the oldest rating an invoice may be funded on.

    ``max_rating_age_months`` (default 12): a rating older than this many months
    on the day of the check makes the invoice unfundable (``rating_stale``);
    CRR art. 173(1)(b) asks for at least annual re-rating.
    """

    max_rating_age_months: int = 12

    KEY = "funding"

    def __post_init__(self) -> None:
        _range(f"{self.KEY}.max_rating_age_months", self.max_rating_age_months, 1, 120)

    @classmethod
    def from_dict(cls, d: Any) -> FundingPolicy:
        k = cls.KEY
        d = _check_keys(d, k, {"max_rating_age_months"}, set())
        return cls(_int(d, k, "max_rating_age_months") if "max_rating_age_months" in d else 12)

    def to_dict(self) -> dict[str, Any]:
        return {"max_rating_age_months": self.max_rating_age_months}


@dataclass(frozen=True, slots=True)
class InsurerPolicy:
    """One credit-insurance policy of the factor: the insurer and the products it covers.

    Parameters
    ----------
    policy_id, insurer_id : str
        Identifiers (:mod:`riskengine.contracts.ids`) as the ``insurer_limits`` rows name them.
    products : tuple of str
        The products of the credit policy whose pairs it covers (each must require
        insurance).
    """

    policy_id: str
    insurer_id: str
    products: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"insurer_id": self.insurer_id, "products": list(self.products)}


@dataclass(frozen=True, slots=True)
class InsurancePolicy:
    """Credit insurance as state (issue 16; DOMAIN.md §6): the factor's insurance policies,
    the insurer's notice, and the cover without an assessed limit.

    Parameters
    ----------
    notice_days : int
        Days from an insurer's notice of a reduction or cancellation to its effect when
        the row gives no ``effective_date`` (Atradius; FCI GRIF art. 18: usually 30).
    discretionary_cap : float
        Largest limit per debtor the factor may insure without an assessed limit
        (Atradius discretionary limit; Allianz Trade Simplicity automatic cover), in
        ``discretionary_currency``; shared by the debtor's pairs, converted into each
        pair's currency at the rate in force on the decision date.
        0 switches discretionary cover off.
    discretionary_currency : str
        ISO 4217 code of ``discretionary_cap``.
    discretionary_cover_pct : float
        Share of a loss the insurer pays on discretionary cover, in (0, 1] (Allianz
        Trade Simplicity: 60 % automatic against up to 90 % on an assessed limit).
    discretionary_max_grade : int
        Worst grade index (1 ... 10) with discretionary cover; 0: none.
    policies : tuple of InsurerPolicy
        The factor's credit-insurance policies (``[insurance.policies.<policy_id>]``).
        An ``insurer_limits`` row under another policy is refused (``unknown_policy``).
    """

    notice_days: int = 30
    discretionary_cap: float = 0.0
    discretionary_currency: str = "EUR"
    discretionary_cover_pct: float = 0.60
    discretionary_max_grade: int = 0
    policies: tuple[InsurerPolicy, ...] = ()

    KEY = "insurance"

    def __post_init__(self) -> None:
        k = self.KEY
        _range(f"{k}.notice_days", self.notice_days, 0, 366)
        _range(f"{k}.discretionary_cap", self.discretionary_cap, 0.0, None)
        if not 0.0 < self.discretionary_cover_pct <= 1.0:
            raise _fail(f"{k}.discretionary_cover_pct", self.discretionary_cover_pct,
                        "outside (0, 1]", "Give the share of a loss paid, e.g. 0.60.")
        _range(f"{k}.discretionary_max_grade", self.discretionary_max_grade, 0, 10)
        if not (isinstance(self.discretionary_currency, str)
                and len(self.discretionary_currency) == 3
                and self.discretionary_currency.isupper()):
            raise _fail(f"{k}.discretionary_currency", self.discretionary_currency,
                        "not an ISO 4217 code", 'Give the cap\'s currency, e.g. "EUR".')

    @classmethod
    def from_dict(cls, d: Any) -> InsurancePolicy:
        k = cls.KEY
        keys = {"notice_days", "discretionary_cap", "discretionary_currency",
                "discretionary_cover_pct", "discretionary_max_grade", "policies"}
        d = _check_keys(d, k, keys, keys - {"policies"})
        grade = d["discretionary_max_grade"]
        if grade not in GRADES[:-1] and grade != "none":
            raise _fail(f"{k}.discretionary_max_grade", grade, "not a grade",
                        'Give a grade "1" ... "10" (or "none": no discretionary cover).')
        pols = d.get("policies", {})
        if not isinstance(pols, Mapping):
            raise _fail(f"{k}.policies", pols, "not a table",
                        "Write [insurance.policies.<policy_id>] tables.")
        policies = []
        for pid, body in pols.items():
            pk = f"{k}.policies.{pid}"
            if not is_identifier(pid):
                raise _fail(pk, pid, "not an identifier", "Give the policy's id.")
            body = _check_keys(body, pk, {"insurer_id", "products"}, {"insurer_id", "products"})
            ins, prods = body["insurer_id"], body["products"]
            if not is_identifier(ins):
                raise _fail(f"{pk}.insurer_id", ins, "not an identifier",
                            "Give the insurer's id.")
            if not isinstance(prods, list | tuple) or not prods or not all(
                    isinstance(p, str) for p in prods):
                raise _fail(f"{pk}.products", prods, "not a list of product names",
                            'Give e.g. ["non_recourse"].')
            policies.append(InsurerPolicy(str(pid), ins, tuple(prods)))
        return cls(_int(d, k, "notice_days"), _number(d, k, "discretionary_cap"),
                   d["discretionary_currency"], _number(d, k, "discretionary_cover_pct"),
                   0 if grade == "none" else GRADES.index(grade) + 1, tuple(policies))

    def to_dict(self) -> dict[str, Any]:
        g = self.discretionary_max_grade
        return {"notice_days": self.notice_days, "discretionary_cap": self.discretionary_cap,
                "discretionary_currency": self.discretionary_currency,
                "discretionary_cover_pct": self.discretionary_cover_pct,
                "discretionary_max_grade": GRADES[g - 1] if g else "none",
                "policies": {p.policy_id: p.to_dict() for p in self.policies}}

    def policy_of(self, insurer_id: str, policy_id: str) -> InsurerPolicy | None:
        """The declared policy ``policy_id`` of ``insurer_id``, or None."""
        for p in self.policies:
            if p.policy_id == policy_id and p.insurer_id == insurer_id:
                return p
        return None


#: The weak factors of a supplier's assessment (seed 003), each with its ``<name>_notches``
#: key in ``[supplier]``, in the order of their notes
#: (:data:`riskengine.policy.supplier.SUPPLIER_FACTORS`).
SUPPLIER_NOTCHES: tuple[str, ...] = (
    "negative_outlook", "services", "mixed", "perishable", "non_standardised",
    "consignment", "credit_note", "debtor_hhi")

_SUPPLIER_SHARES = ("consignment_share_limit", "credit_note_share_limit", "debtor_hhi_limit",
                    "non_recourse_advance_per_notch")


@dataclass(frozen=True, slots=True)
class SupplierPolicy:
    """The supplier's own risk (seed 003; DOMAIN.md §3, §6): its assessment and its effect.

    Parameters
    ----------
    notches : tuple of int
        Notches each weak factor of :data:`SUPPLIER_NOTCHES` moves the supplier's grade
        down (0 ... 10 each): a negative sector outlook, services, a mix of goods and
        services, perishable goods, goods that are not standardised, consignment sales
        above ``consignment_share_limit``, credit notes and returns above
        ``credit_note_share_limit``, debtors more concentrated than ``debtor_hhi_limit``.
    consignment_share_limit, credit_note_share_limit : float
        Shares of sales in [0, 1] above which the factor counts.
    debtor_hhi_limit : float
        Herfindahl-Hirschman index of the supplier's exposures over its debtors, in
        [0, 1], above which its debtors are too few or too concentrated.
    max_notches : int
        The most notches the assessment moves a grade (0 ... 10).
    non_recourse_advance_per_notch : float
        Without recourse the supplier's grade does not price the pair: each notch takes
        this much off the advance rate instead (a fraction).
    recourse_limit_share : tuple of float
        By the supplier's assessed grade ``"1"`` ... ``"10"``, ``"D"``: the share of the
        debtor-level limit a recourse pair keeps (1: no cap; 0: refused, binding
        constraint ``supplier``); non-increasing, 0 at ``D``.
    """

    notches: tuple[int, ...]
    consignment_share_limit: float
    credit_note_share_limit: float
    debtor_hhi_limit: float
    max_notches: int
    non_recourse_advance_per_notch: float
    recourse_limit_share: tuple[float, ...]

    KEY = "supplier"

    def __post_init__(self) -> None:
        k = self.KEY
        if len(self.notches) != len(SUPPLIER_NOTCHES):
            raise _fail(f"{k}.notches", self.notches, f"needs {len(SUPPLIER_NOTCHES)} values",
                        "Give one per factor.")
        for name, n in zip(SUPPLIER_NOTCHES, self.notches, strict=True):
            _range(f"{k}.{name}_notches", n, 0, 10)
        for name in _SUPPLIER_SHARES:
            _range(f"{k}.{name}", getattr(self, name), 0.0, 1.0)
        _range(f"{k}.max_notches", self.max_notches, 0, 10)
        shares = self.recourse_limit_share
        if len(shares) != len(GRADES):
            raise _fail(f"{k}.recourse_limit_share", shares, f"needs {len(GRADES)} grades",
                        "Give one share per grade.")
        for i, (g, v) in enumerate(zip(GRADES, shares, strict=True)):
            _range(f"{k}.recourse_limit_share.{g}", v, 0.0, 1.0)
            if i and v > shares[i - 1]:
                raise _fail(f"{k}.recourse_limit_share.{g}", v, f"rises above grade "
                            f"{GRADES[i - 1]}'s {shares[i - 1]!r} as the grade worsens (the "
                            "table must be non-increasing)", "Correct the table.")
        if shares[-1] != 0.0:
            raise _fail(f"{k}.recourse_limit_share.D", shares[-1], "must be 0 at the default "
                        "grade", "Set it to 0: a supplier in default refuses recourse pairs.")

    @classmethod
    def from_dict(cls, d: Any) -> SupplierPolicy:
        k = cls.KEY
        counts = {f"{n}_notches" for n in SUPPLIER_NOTCHES}
        keys = {*counts, *_SUPPLIER_SHARES, "max_notches", "recourse_limit_share"}
        d = _check_keys(d, k, keys, keys)
        table = _check_keys(d["recourse_limit_share"], f"{k}.recourse_limit_share",
                            set(GRADES), set(GRADES))
        return cls(notches=tuple(_int(d, k, f"{n}_notches") for n in SUPPLIER_NOTCHES),
                   consignment_share_limit=_number(d, k, "consignment_share_limit"),
                   credit_note_share_limit=_number(d, k, "credit_note_share_limit"),
                   debtor_hhi_limit=_number(d, k, "debtor_hhi_limit"),
                   max_notches=_int(d, k, "max_notches"),
                   non_recourse_advance_per_notch=_number(d, k,
                                                          "non_recourse_advance_per_notch"),
                   recourse_limit_share=tuple(_number(table, f"{k}.recourse_limit_share", g)
                                              for g in GRADES))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"{n}_notches": c
                               for n, c in zip(SUPPLIER_NOTCHES, self.notches, strict=True)}
        out.update({s: getattr(self, s) for s in _SUPPLIER_SHARES})
        out["max_notches"] = self.max_notches
        out["recourse_limit_share"] = dict(zip(GRADES, self.recourse_limit_share, strict=True))
        return out

    def notch(self, name: str) -> int:
        """The notches of one factor of :data:`SUPPLIER_NOTCHES`."""
        return self.notches[SUPPLIER_NOTCHES.index(name)]
