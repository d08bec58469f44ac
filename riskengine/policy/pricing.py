"""Advance rate and fees by grade and product, and the settlement of an invoice.

- Advance rate = the product's rate for the grade less the debtor's dilution
  (credit notes, returns, discounts / sales), floored at 0 (DOMAIN.md §4).
- Fees = service commission x invoice + discount interest x advance x days to
  maturity / day count (seed 002; act/360 by default, ``fees.day_count``).
- For recourse products the supplier's grade drives advance and fees
  (:func:`pricing_grade`).
- A pair without an approved limit (refused) is not financed: its advance rate
  and its fee rates are 0 (:func:`advance_rate` and :func:`fee_rates` given the
  approved limits), so a refused decision shows no advance and no fees.
- :func:`settlement` reproduces seed 001's worked example: invoice 10,000,
  advance 8,500, fee 10 % of the advance = 850, balance to the supplier 650.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from riskengine.policy import _inputs as inp
from riskengine.policy.credit_policy import CreditPolicy

__all__ = ["pricing_grade", "advance_rate", "fee_rates", "Fees", "fees", "Settlement",
           "settlement"]

FloatArray = npt.NDArray[np.float64]


def _out(x: FloatArray) -> Any:
    return float(x) if np.ndim(x) == 0 else x


def pricing_grade(
    debtor_grade: Any, product: Any, policy: CreditPolicy, supplier_grade: Any = None,
) -> npt.NDArray[np.int64]:
    """The grade index that drives pricing: the supplier's for recourse products.

    With recourse the supplier bears the debtor's credit risk (seeds 001,
    003), so the supplier, rated with the same features, drives advance and
    fees; without recourse the debtor's grade does. Without a supplier grade
    the debtor's grade is used.

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> pricing_grade(["2", "2"], ["recourse", "non_recourse"], load_policy(), ["6", "6"]).tolist()
    [6, 2]
    """
    n = max(np.size(debtor_grade), np.size(product))
    g = inp.grades(debtor_grade, n)
    if supplier_grade is None:
        return g
    sg = inp.grades(supplier_grade, n, "supplier_grade")
    recourse = inp.policy_tables(policy).recourse[inp.products(product, n, policy)]
    return np.where(recourse, sg, g)


def _financed(approved: Any, n: int) -> npt.NDArray[np.bool_] | None:
    """Rows with an approved limit above 0 (``None``: no limits given, every row)."""
    if approved is None:
        return None
    lim = inp.floats(approved, n, "approved", "pricing")
    out: npt.NDArray[np.bool_] = lim > 0  # NaN (no decision) is not financed
    return out


def advance_rate(grade: Any, product: Any, policy: CreditPolicy, dilution: Any = 0.0,
                 approved: Any = None) -> Any:
    """Advance rate by grade and product, less dilution, floored at 0.

    Parameters
    ----------
    grade : array-like
        Grade strings or indices (the pricing grade, see :func:`pricing_grade`).
    product : array-like
        Product names or codes.
    policy : CreditPolicy
    dilution : float or array-like, default 0
        Dilution rate, a fraction (credit notes + returns + discounts) / sales.
    approved : float or array-like, optional
        The pairs' approved limits: where it is 0 (a refused pair) nothing is
        advanced, so the rate is 0. Absent: the rate of the grade and product.

    Returns
    -------
    numpy.ndarray
        Fractions in [0, 1].

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> advance_rate(["5", "5", "D"], "recourse", load_policy(), [0.0, 0.03, 0.0]).round(4).tolist()
    [0.85, 0.82, 0.0]
    >>> advance_rate(["5", "5"], "recourse", load_policy(), approved=[25_000, 0]).tolist()
    [0.85, 0.0]
    """
    n = max(inp.size(grade), inp.size(product), inp.size(dilution),
            0 if approved is None else inp.size(approved))
    g = inp.grades(grade, n)
    prod = inp.products(product, n, policy)
    dil = inp.floats(dilution, n, "dilution", "pricing")
    rate = inp.policy_tables(policy).advance_rate[prod, g] - np.where(np.isnan(dil), 0.0, dil)
    out: FloatArray = np.clip(rate, 0.0, 1.0)
    financed = _financed(approved, n)
    if financed is not None:
        out = np.where(financed, out, 0.0)
    return out


def fee_rates(grade: Any, product: Any, policy: CreditPolicy, approved: Any = None
              ) -> tuple[FloatArray, FloatArray]:
    """Service commission rate (with the product's surcharge) and yearly discount rate.

    The rates :func:`fees` charges, per pair: 0 where the approved limit is 0 (a
    refused pair is not financed, so nothing is charged).

    Parameters
    ----------
    grade : array-like
        Pricing grade (strings or indices, see :func:`pricing_grade`).
    product : array-like
        Product names or codes.
    policy : CreditPolicy
    approved : float or array-like, optional
        The pairs' approved limits (absent: every row is financed).

    Returns
    -------
    commission, discount : numpy.ndarray
        Fractions: of the invoice, and a year of the advance.

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> comm, disc = fee_rates(["5", "5"], "non_recourse", load_policy(), approved=[9_000, 0])
    >>> comm.round(4).tolist(), disc.round(4).tolist()
    ([0.0225, 0.0], [0.1, 0.0])
    """
    n = max(inp.size(grade), inp.size(product), 0 if approved is None else inp.size(approved))
    g = inp.grades(grade, n)
    prod = inp.products(product, n, policy)
    tables = inp.policy_tables(policy)
    commission: FloatArray = tables.service_commission[g] + tables.commission_surcharge[prod]
    discount: FloatArray = tables.discount_rate[g]
    financed = _financed(approved, n)
    if financed is not None:
        commission = np.where(financed, commission, 0.0)
        discount = np.where(financed, discount, 0.0)
    return commission, discount


@dataclass(frozen=True, slots=True)
class Fees:
    """Fees on an invoice (money; floats for scalar inputs, else arrays)."""

    service_commission: Any
    discount_interest: Any
    total: Any


def fees(
    invoice: Any, advance: Any, days: Any, grade: Any, policy: CreditPolicy,
    product: Any = None,
) -> Fees:
    """Service commission on the invoice plus discount interest on the advance.

    Parameters
    ----------
    invoice : float or array-like
        Invoice amount, money.
    advance : float or array-like
        Amount advanced, money.
    days : float or array-like
        Days from the advance to maturity (the due date); negative counts as 0.
    grade : array-like
        Pricing grade (strings or indices).
    policy : CreditPolicy
    product : array-like, optional
        Adds the product's ``commission_surcharge`` (non-recourse is dearer, seed 001).

    Returns
    -------
    Fees

    Notes
    -----
    ``discount_interest = discount_rate_g x advance x days / fees.day_count``:
    act/360 with the shipped policy (actual days, 360-day year), act/365 when
    ``day_count = 365``.

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> f = fees(10_000, 8_500, 90, "5", load_policy())
    >>> round(f.service_commission, 2), round(f.discount_interest, 2), round(f.total, 2)
    (175.0, 212.5, 387.5)
    """
    scalar = all(np.ndim(x) == 0 for x in (invoice, advance, days, grade))
    n = max(np.size(invoice), np.size(advance), np.size(days), np.size(grade))
    g = inp.grades(grade, n)
    inv = inp.floats(invoice, n, "invoice", "pricing")
    adv = inp.floats(advance, n, "advance", "pricing")
    d = np.maximum(inp.floats(days, n, "days", "pricing", negative=True), 0.0)
    tables = inp.policy_tables(policy)
    rate = tables.service_commission[g]
    if product is not None:
        rate = rate + tables.commission_surcharge[
            inp.products(product, n, policy)]
    commission = rate * inv
    interest = tables.discount_rate[g] * adv * d / policy.fees.day_count
    total = commission + interest
    if scalar:
        return Fees(float(commission[0]), float(interest[0]), float(total[0]))
    return Fees(commission, interest, total)


@dataclass(frozen=True, slots=True)
class Settlement:
    """The money flows of one factored invoice (floats, or arrays for array inputs)."""

    advance: Any
    fee: Any
    balance: Any


def settlement(invoice: Any, advance_rate: Any, fee_on_advance: Any) -> Settlement:
    """Advance, fee and balance returned to the supplier when the debtor pays.

    ``advance = invoice x advance_rate``; ``fee = fee_on_advance x advance``;
    ``balance = invoice - (advance + fee)``. The balance is not floored: a
    negative balance is money the supplier owes the factor.

    Parameters
    ----------
    invoice : float or array-like
        Invoice amount, money.
    advance_rate : float or array-like
        Fraction of the invoice paid on assignment.
    fee_on_advance : float or array-like
        The factor's fee as a flat fraction of the advance for the invoice's
        whole tenor (seed 001), not a yearly rate.

    Examples
    --------
    Seed 001 (recourse example): invoice Rs 10,000, advance Rs 8,500, factor
    fee 10 % of the advance = Rs 850, balance 10,000 - (8,500 + 850) = Rs 650.

    >>> s = settlement(10_000, 0.85, 0.10)
    >>> round(s.advance, 2), round(s.fee, 2), round(s.balance, 2)
    (8500.0, 850.0, 650.0)
    """
    inv = np.asarray(invoice, dtype=np.float64)
    adv = inv * np.asarray(advance_rate, dtype=np.float64)
    fee = adv * np.asarray(fee_on_advance, dtype=np.float64)
    return Settlement(_out(adv), _out(fee), _out(inv - (adv + fee)))
