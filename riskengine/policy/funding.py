"""The funding check for assigned invoices: what is approved, advanced and charged.

For each assigned invoice (seed 003; DOMAIN.md §2 and §4)::

    eligible amount = invoice - contras    if eligible, else 0
    available       = max(limit - approved outstanding, 0)
    approved        = min(eligible amount, available)        # funded
    unapproved      = invoice - approved                     # over-limit + ineligible: unfunded
    advance         = advance rate x approved                # paid now
    fees            = commission x invoice + discount rate x advance x days to due / day count
    balance         = invoice - contras - advance - fees     # paid to the supplier on collection

An invoice is ineligible when older than ``eligibility.max_invoice_age_days``
from its invoice date, when the debtor is cross-aged (more than
``cross_age_share`` of its balance over ``cross_age_days``), when supplier and
debtor are related (the invoice is not accepted at all), or when the debtor is
in default, or when the rating is older than ``funding.max_rating_age_months``
on the day of the check (``rating_stale``, CRR art. 173(1)(b)). With a
``debtor`` key, invoices of one debtor in one call share the available limit
in row order (first come, first funded), so the sum funded never exceeds the
limit.

Reason codes: a ``uint32`` bitmask per row, bit ``i`` = ``FUNDING_REASONS[i]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from riskengine.policy import _inputs as inp
from riskengine.policy.credit_policy import D_INDEX, CreditPolicy
from riskengine.policy.pricing import advance_rate, pricing_grade

__all__ = [
    "FUNDING_REASONS",
    "funding_reason_codes",
    "cross_aged",
    "rating_stale",
    "FundingBatch",
    "FundingResult",
    "fund_invoices",
    "fund_invoice",
]

FloatArray = npt.NDArray[np.float64]

FUNDING_REASONS: tuple[str, ...] = (
    "invoice_aged", "cross_aged", "related_party", "grade_default", "contra_deducted",
    "over_limit", "no_limit_available", "rating_stale",
)
"""Funding reason names; bit ``i`` of a funding reason mask is ``FUNDING_REASONS[i]``."""

_BIT = {name: np.uint32(1 << i) for i, name in enumerate(FUNDING_REASONS)}
_INELIGIBLE = ("invoice_aged", "cross_aged", "related_party", "grade_default", "rating_stale")


def funding_reason_codes(mask: int) -> tuple[str, ...]:
    """Names of the funding reason codes set in ``mask``."""
    return tuple(name for i, name in enumerate(FUNDING_REASONS) if int(mask) >> i & 1)


def cross_aged(balance_over: Any, balance_total: Any, policy: CreditPolicy) -> Any:
    """Whether a debtor is cross-aged: over ``cross_age_share`` of its balance is old.

    Parameters
    ----------
    balance_over : float or array-like
        The debtor's balance older than ``eligibility.cross_age_days``.
    balance_total : float or array-like
        The debtor's whole balance; 0 means not cross-aged.

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> cross_aged([5_000, 15_000], [100_000, 100_000], load_policy()).tolist()
    [False, True]
    """
    over = np.asarray(balance_over, dtype=np.float64)
    total = np.asarray(balance_total, dtype=np.float64)
    share = np.divide(over, total, out=np.zeros(np.broadcast(over, total).shape),
                      where=total > 0)
    out = share > policy.eligibility.cross_age_share
    return bool(out) if out.ndim == 0 else out


@dataclass(frozen=True, slots=True)
class FundingBatch:
    """Funding check results per invoice (arrays of equal length, money unless stated).

    Attributes
    ----------
    eligible : numpy.ndarray of bool
        Eligible for funding.
    eligible_amount : numpy.ndarray
        Invoice less contras when eligible, else 0.
    approved : numpy.ndarray
        Approved and funded part (<= eligible amount <= invoice).
    unapproved : numpy.ndarray
        ``invoice - approved``: unfunded (seed 003), split into
    over_limit : numpy.ndarray
        eligible but above the available limit, and
    ineligible : numpy.ndarray
        ineligible or deducted as contra.
    advance_rate, advance : numpy.ndarray
        Rate (fraction) and amount paid to the supplier now.
    service_commission, discount_interest, fees : numpy.ndarray
        Fees (see :func:`riskengine.policy.pricing.fees`).
    balance_on_collection : numpy.ndarray
        Paid to the supplier when the debtor pays; 0 for a related-party
        invoice, which is not accepted.
    days_to_maturity : numpy.ndarray of int64
        Days from ``as_of`` to the due date, floored at 0.
    reasons : numpy.ndarray of uint32
        Bitmask over :data:`FUNDING_REASONS`.
    """

    eligible: npt.NDArray[np.bool_]
    eligible_amount: FloatArray
    approved: FloatArray
    unapproved: FloatArray
    over_limit: FloatArray
    ineligible: FloatArray
    advance_rate: FloatArray
    advance: FloatArray
    service_commission: FloatArray
    discount_interest: FloatArray
    fees: FloatArray
    balance_on_collection: FloatArray
    days_to_maturity: npt.NDArray[np.int64]
    reasons: npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class FundingResult:
    """The funding check of one invoice (see :func:`fund_invoice`)."""

    eligible: bool
    eligible_amount: float
    approved: float
    unapproved: float
    over_limit: float
    ineligible: float
    advance_rate: float
    advance: float
    service_commission: float
    discount_interest: float
    fees: float
    balance_on_collection: float
    days_to_maturity: int
    reasons: tuple[str, ...]


INVOICE_COLUMNS: dict[str, str] = {
    "limit": "approved debtor limit (required)",
    "approved_outstanding": "approved outstanding before these invoices (required)",
    "amount": "invoice amount (required)",
    "invoice_date": "invoice (issue) date (required)",
    "due_date": "due date (required)",
    "as_of": "date of the check (required)",
    "grade": "debtor grade (required)",
    "product": "product name or code (required)",
    "cross_aged": "bool, debtor cross-aged", "contras": "what the supplier owes the debtor",
    "related": "bool, supplier and debtor related", "dilution": "dilution rate, fraction",
    "supplier_grade": "supplier grade (drives pricing under recourse)",
    "advance_rate": "the decision's advance rate (after its dilution); absent: the policy's "
                    "by pricing grade less dilution",
    "rating_date": "date of the rating (the decision's as_of): older than "
                   "funding.max_rating_age_months on as_of, or unknown -> rating_stale",
    "debtor": "debtor key: invoices of one debtor share the limit in row order",
}
"""Columns :func:`fund_invoices` reads."""

_REQUIRED = ("limit", "approved_outstanding", "amount", "invoice_date", "due_date", "as_of",
             "grade", "product")


def _prior_in_group(keys: npt.NDArray[Any], values: FloatArray) -> FloatArray:
    """Sum of ``values`` on earlier rows with the same key (row order kept)."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    v = values[order]
    cum = np.cumsum(v) - v
    start = np.ones(k.size, dtype=bool)
    start[1:] = k[1:] != k[:-1]
    base = np.maximum.accumulate(np.where(start, np.arange(k.size), 0))
    prior_sorted = cum - cum[base]
    prior = np.empty_like(prior_sorted)
    prior[order] = prior_sorted
    return prior


def rating_stale(rating_date: Any, as_of: Any, policy: CreditPolicy) -> Any:
    """Whether a rating is too old to fund on: ``as_of`` is later than the rating date plus
    ``funding.max_rating_age_months`` calendar months (the same day of the month, or the
    month's last day when it has no such day). A rating of unknown date (None, NaT)
    is stale: it is not known to be current.

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> rating_stale(["2025-06-30", "2025-06-30"], ["2026-06-30", "2026-07-01"],
    ...              load_policy()).tolist()
    [False, True]
    """
    n = max(inp.size(rating_date), inp.size(as_of))
    rated = inp.dates(rating_date, n)
    day = inp.dates(as_of, n)
    month = rated.astype("datetime64[M]")
    target = month + np.timedelta64(policy.funding.max_rating_age_months, "M")
    last_day = (target + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")
    limit_day = np.minimum(target.astype("datetime64[D]") + (rated - month.astype(
        "datetime64[D]")), last_day)
    out: npt.NDArray[np.bool_] = np.isnat(rated) | (day > limit_day)
    return out


def fund_invoices(invoices: Mapping[str, Any], policy: CreditPolicy) -> FundingBatch:
    """Funding check for many assigned invoices at once.

    Parameters
    ----------
    invoices : mapping of column name to array-like (a dict or a DataFrame)
        Columns of :data:`INVOICE_COLUMNS`; scalars apply to every row.
    policy : CreditPolicy

    Returns
    -------
    FundingBatch

    Raises
    ------
    InvalidInputError
        A missing column, a negative amount, an unknown grade or product, a
        due date before the invoice date, or an invoice dated after ``as_of``.

    Notes
    -----
    Without a ``debtor`` column each row is checked on its own against its
    ``limit - approved_outstanding``. With it, rows of one debtor share that
    room in row order; give them the same limit and outstanding. The service
    commission is charged on the whole invoice when it is accepted
    (administration and collection of the assigned ledger), the discount
    interest only on the advance.

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> b = fund_invoices({"limit": 25_000, "approved_outstanding": 20_000,
    ...     "amount": [4_000, 4_000], "invoice_date": "2026-01-10", "due_date": "2026-04-10",
    ...     "as_of": "2026-01-15", "grade": "5", "product": "recourse",
    ...     "debtor": ["A", "A"]}, load_policy())
    >>> b.approved.tolist(), b.unapproved.tolist(), b.advance.tolist()
    ([4000.0, 1000.0], [0.0, 3000.0], [3400.0, 850.0])
    """
    n = inp.length(invoices, _REQUIRED, "invoices")
    limit = inp.floats(invoices["limit"], n, "limit", "invoices")
    outstanding = inp.floats(invoices["approved_outstanding"], n, "approved_outstanding",
                             "invoices")
    amount = inp.floats(invoices["amount"], n, "amount", "invoices")
    issued = inp.dates(invoices["invoice_date"], n)
    due = inp.dates(invoices["due_date"], n)
    day = inp.dates(invoices["as_of"], n)
    for bad, col, msg in (
        (due < issued, "due_date", "is before the invoice date; correct the invoice."),
        (issued > day, "invoice_date", "is after as_of: an invoice cannot be funded before "
                                       "it exists; check the dates."),
        (np.isnan(limit) | np.isnan(outstanding) | np.isnan(amount), "amount",
         "limit, approved_outstanding and amount must be numbers, not NaN."),
    ):
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise inp.bad_input("invoices", col, pos, str(invoices[col] if np.ndim(
                invoices[col]) == 0 else np.asarray(invoices[col]).reshape(-1)[pos]),
                "date_order" if col != "amount" else "missing_value", msg)
    g = inp.grades(invoices["grade"], n)
    prod = inp.products(invoices["product"], n, policy, "invoices")
    contras = np.nan_to_num(inp.floats(invoices.get("contras", 0.0), n, "contras", "invoices"))
    related = inp.flags(invoices.get("related", False), n)
    crossed = inp.flags(invoices.get("cross_aged", False), n)

    el = policy.eligibility
    age = (day - issued).astype(np.int64)
    stale = (rating_stale(invoices["rating_date"], day, policy) if "rating_date" in invoices
             else np.zeros(n, dtype=bool))
    reasons = np.zeros(n, dtype=np.uint32)
    for cond, name in ((age > el.max_invoice_age_days, "invoice_aged"),
                       (stale, "rating_stale"),
                       (crossed, "cross_aged"), (related, "related_party"),
                       (g == D_INDEX, "grade_default"), (contras > 0, "contra_deducted")):
        reasons |= np.where(cond, _BIT[name], 0).astype(np.uint32)
    eligible = (reasons & np.uint32(sum(int(_BIT[c]) for c in _INELIGIBLE))) == 0
    eligible_amount = np.where(eligible, np.maximum(amount - contras, 0.0), 0.0)

    available = np.maximum(limit - outstanding, 0.0)
    if "debtor" in invoices:
        keys = np.broadcast_to(np.asarray(invoices["debtor"]), (n,))
        prior = _prior_in_group(keys, eligible_amount)
        approved = np.clip(available - prior, 0.0, eligible_amount)
    else:
        approved = np.minimum(eligible_amount, available)
    over = eligible_amount - approved
    reasons |= np.where(over > 0, _BIT["over_limit"], 0).astype(np.uint32)
    reasons |= np.where(eligible & (available <= 0), _BIT["no_limit_available"],
                        0).astype(np.uint32)

    sg = invoices.get("supplier_grade")
    pg = pricing_grade(g, prod, policy, None if sg is None else sg)
    if "advance_rate" in invoices:  # the decision's own rate (its dilution included)
        rate = np.clip(np.nan_to_num(inp.floats(invoices["advance_rate"], n, "advance_rate",
                                                "invoices")), 0.0, 1.0)
        rate = np.where(g == D_INDEX, 0.0, rate)
    else:
        rate = advance_rate(pg, prod, policy, invoices.get("dilution", 0.0))
    advance = rate * approved
    days = np.maximum((due - day).astype(np.int64), 0)
    commission_rate = (policy.fees.service_commission.lookup(pg)
                       + policy.product_table("commission_surcharge")[prod])
    commission = np.where(related, 0.0, commission_rate * amount)
    interest = policy.fees.discount_rate.lookup(pg) * advance * days / policy.fees.day_count
    total_fees = commission + interest
    balance = np.where(related, 0.0, amount - contras - advance - total_fees)
    return FundingBatch(eligible, eligible_amount, approved, amount - approved, over,
                        amount - eligible_amount, rate, advance, commission, interest,
                        total_fees, balance, days, reasons)


def fund_invoice(policy: CreditPolicy, **invoice: Any) -> FundingResult:
    """Funding check of one invoice: :func:`fund_invoices` on a single row.

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> r = fund_invoice(load_policy(), limit=25_000, approved_outstanding=0, amount=10_000,
    ...                  invoice_date="2026-01-01", due_date="2026-03-02", as_of="2026-01-01",
    ...                  grade="5", product="recourse")
    >>> r.approved, r.advance, r.days_to_maturity, round(r.fees, 2), round(r.balance_on_collection, 2)
    (10000.0, 8500.0, 60, 316.67, 1183.33)
    """
    b = fund_invoices({k: [v] for k, v in invoice.items()}, policy)
    return FundingResult(
        bool(b.eligible[0]), float(b.eligible_amount[0]), float(b.approved[0]),
        float(b.unapproved[0]), float(b.over_limit[0]), float(b.ineligible[0]),
        float(b.advance_rate[0]), float(b.advance[0]), float(b.service_commission[0]),
        float(b.discount_interest[0]), float(b.fees[0]), float(b.balance_on_collection[0]),
        int(b.days_to_maturity[0]), funding_reason_codes(int(b.reasons[0])),
    )
