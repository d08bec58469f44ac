"""The supplier's own risk: its assessment, its assessed grade and what they do to a pair.

Seed 003 (DOMAIN.md §3, §6): the supplier, the factor's client, is assessed like a debtor
but more strictly, plus its sector's condition and outlook, goods rather than services,
standardised non-perishable goods rather than fresh food, consignment sales, credit notes
and returns, and whether its debtors are many and spread out. Under recourse the supplier
carries the debtor's risk (seeds 001, 003), so its grade drives the pair; without recourse
it moves the advance rate and what is eligible (dilution).

The rule (policy ``[supplier]``, :class:`~riskengine.policy.sections.SupplierPolicy`), for
1..n pairs or suppliers at once:

1. :func:`assess_suppliers`: each weak factor present adds its notches; the sum is capped
   at ``max_notches``. The factors: ``sector_outlook`` negative, ``goods_or_services``
   services (or mixed), ``perishable`` true, ``standardised_goods`` false,
   ``consignment_share`` above ``consignment_share_limit``, ``credit_note_share`` above
   ``credit_note_share_limit``, the debtors' HHI (:func:`debtor_hhi`) above
   ``debtor_hhi_limit``. A missing value is not assessed: it adds nothing (never a
   guess either way).
2. :func:`assessed_grade`: the supplier's own rating (as a debtor) moved down by the
   notches, at most to grade 10 (a notch is not a default); ``D`` stays ``D``; a
   supplier without a rating stays without one.
3. Recourse: the pair keeps ``recourse_limit_share[assessed grade]`` of its debtor-level
   limit (:func:`riskengine.policy.limits.decide_limits`, binding constraint
   ``supplier``; a share of 0, grades 9 and 10 in the shipped policy, refuses the pair;
   ``D`` is the knock-out ``supplier_default``). The assessed grade also prices it.
4. :func:`supplier_advance_rate`: the product's advance rate at the pricing grade, less
   the dilution reserve, the larger of the debtor's own dilution and the supplier's
   ``credit_note_share`` (DOMAIN.md §4: dilution is deducted from the advance rate), less
   ``non_recourse_advance_per_notch`` per notch where the pricing grade does not carry the
   notches (no recourse, or a supplier without a rating), times the eligible share
   ``1 - consignment_share`` (goods on consignment are not yet sold: not eligible),
   floored at 0.

Pure: no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskengine.contracts.schemas import GOODS_OR_SERVICES, SECTOR_OUTLOOKS
from riskengine.policy import _inputs as inp
from riskengine.policy.credit_policy import D_INDEX, CreditPolicy
from riskengine.policy.pricing import advance_rate
from riskengine.policy.sections import SUPPLIER_NOTCHES

__all__ = [
    "ASSESSMENT_COLUMNS",
    "SUPPLIER_FACTORS",
    "SupplierAssessment",
    "assess_suppliers",
    "assessed_grade",
    "supplier_advance_rate",
    "debtor_hhi",
    "debtor_hhi_arrays",
    "factor_names",
    "vocabulary_codes",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The note of each weak factor (bit ``i`` of :attr:`SupplierAssessment.flags`), in the
#: order of :data:`riskengine.policy.sections.SUPPLIER_NOTCHES`.
SUPPLIER_FACTORS: tuple[str, ...] = (
    "supplier_outlook_negative", "supplier_services", "supplier_mixed", "supplier_perishable",
    "supplier_not_standardised", "supplier_consignment", "supplier_credit_notes",
    "supplier_concentrated")

_TOP = D_INDEX - 1  # grade 10: the worst a notch can make
#: The bit of each weak factor, as a column (one row per factor).
_FACTOR_BITS = (np.uint32(1) << np.arange(len(SUPPLIER_NOTCHES), dtype=np.uint32))[:, None]


@dataclass(frozen=True, slots=True)
class SupplierAssessment:
    """The assessment of 1..n suppliers (or pairs): arrays of one length.

    Attributes
    ----------
    notches : numpy.ndarray of int64
        Notches down, 0 ... ``max_notches``.
    flags : numpy.ndarray of uint32
        Bit ``i`` set when weak factor :data:`SUPPLIER_FACTORS` ``[i]`` counted (present and
        worth at least one notch).
    """

    notches: IntArray
    flags: npt.NDArray[np.uint32]


def factor_names(flags: int) -> tuple[str, ...]:
    """The notes of the weak factors set in ``flags``.

    Examples
    --------
    >>> factor_names(0b101)
    ('supplier_outlook_negative', 'supplier_mixed')
    """
    return tuple(n for i, n in enumerate(SUPPLIER_FACTORS) if int(flags) >> i & 1)


def vocabulary_codes(values: Any, n: int, column: str, allowed: tuple[str, ...],
                     table: str = "suppliers") -> npt.NDArray[np.int8]:
    """Position of each value in ``allowed`` (-1: missing); an unknown value raises
    :class:`~riskengine.errors.InvalidInputError` naming the row and the column.

    Examples
    --------
    >>> vocabulary_codes(["negative", None, "stable"], 3, "sector_outlook",
    ...                  ("positive", "stable", "negative")).tolist()
    [2, -1, 1]
    """
    arr = np.asarray(values, dtype=object)
    arr = np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr.reshape(-1)
    codes, uniques = inp.factorize(arr)
    lookup = np.array([allowed.index(u) if u in allowed else -2 for u in uniques]
                      + [-1], dtype=np.int8)  # the sentinel -1 indexes the trailing -1
    out = lookup[codes]
    if (out == -2).any():
        pos = int(np.flatnonzero(out == -2)[0])
        raise inp.bad_input(table, column, pos, arr[pos], "unknown_category",
                            f"use one of {', '.join(allowed)} (or leave it missing).")
    return out


def _shares(x: Any, n: int, column: str) -> FloatArray:
    arr = inp.floats(x, n, column, "suppliers")
    if (any(v > 1.0 for v in arr.tolist()) if n <= 16 else (arr > 1.0).any()):
        pos = int(np.flatnonzero(arr > 1.0)[0])
        raise inp.bad_input("suppliers", column, pos, float(arr[pos]), "above_maximum",
                            "a share of sales is a fraction in [0, 1].")
    return arr


def _flag(x: Any, n: int) -> FloatArray:
    """A nullable flag as 1.0 / 0.0 / NaN (missing)."""
    if type(x) is np.ndarray and x.dtype == np.float64 and x.ndim == 1 and x.shape[0] == n:
        # already 1.0 / 0.0 / NaN (the suppliers' inputs): NaN missing, any other number
        # true as bool() takes it, without the object array and pandas' isna
        return np.where(np.isnan(x), np.nan, (x != 0.0).astype(np.float64))
    arr = np.asarray(x, dtype=object)
    arr = np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr.reshape(-1)
    missing = np.asarray(pd.isna(arr), dtype=bool)
    out = np.where(missing, np.nan, np.where(missing, False, arr).astype(bool).astype(float))
    return np.asarray(out, dtype=np.float64)


ASSESSMENT_COLUMNS: dict[str, str] = {
    "sector_outlook": "positive / stable / negative (missing: not assessed)",
    "goods_or_services": "goods / services / mixed",
    "perishable": "bool or missing", "standardised_goods": "bool or missing",
    "consignment_share": "share of sales on consignment, [0, 1]",
    "credit_note_share": "credit notes and returns / sales, [0, 1]",
    "debtor_hhi": "HHI of the supplier's exposures over its debtors, [0, 1] (debtor_hhi())",
}
"""Columns :func:`assess_suppliers` reads; every one is optional (absent: not assessed)."""


def assess_suppliers(suppliers: Mapping[str, Any], policy: CreditPolicy) -> SupplierAssessment:
    """Notches and weak factors of 1..n suppliers (or pairs).

    Parameters
    ----------
    suppliers : mapping of column name to array-like (a dict or a DataFrame)
        Columns of :data:`ASSESSMENT_COLUMNS`; scalars apply to every row; ``n`` is the
        length of the array columns (1 when all are scalars).
    policy : CreditPolicy

    Returns
    -------
    SupplierAssessment

    Raises
    ------
    InvalidInputError
        An unknown outlook or goods value, or a share outside [0, 1] (naming the row and
        the column).

    Examples
    --------
    Shipped policy: a negative outlook is 2 notches, services 1, credit notes above 5 %
    of sales 1; 4 notches are capped at ``max_notches`` = 3.

    >>> from riskengine.config import load_policy
    >>> a = assess_suppliers({"sector_outlook": ["negative", "stable", None],
    ...                       "goods_or_services": ["services", "goods", None],
    ...                       "credit_note_share": [0.08, 0.08, 0.02]}, load_policy())
    >>> a.notches.tolist(), [factor_names(f) for f in a.flags.tolist()][1]
    ([3, 1, 0], ('supplier_credit_notes',))
    """
    suppliers = {k: suppliers[k] for k in ASSESSMENT_COLUMNS if k in suppliers}
    n = inp.length(suppliers, (), "suppliers")  # refuses columns of different lengths
    sp = policy.supplier
    outlook = vocabulary_codes(suppliers.get("sector_outlook"), n, "sector_outlook",
                               SECTOR_OUTLOOKS)
    goods = vocabulary_codes(suppliers.get("goods_or_services"), n, "goods_or_services",
                             GOODS_OR_SERVICES)
    perishable = _flag(suppliers.get("perishable"), n)
    standard = _flag(suppliers.get("standardised_goods"), n)
    consignment = _shares(suppliers.get("consignment_share", np.nan), n, "consignment_share")
    credit = _shares(suppliers.get("credit_note_share", np.nan), n, "credit_note_share")
    hhi = _shares(suppliers.get("debtor_hhi", np.nan), n, "debtor_hhi")
    weak = np.array([
        outlook == SECTOR_OUTLOOKS.index("negative"),
        goods == GOODS_OR_SERVICES.index("services"),
        goods == GOODS_OR_SERVICES.index("mixed"),
        perishable == 1.0,
        standard == 0.0,
        consignment > sp.consignment_share_limit,  # NaN > x is False: not assessed
        credit > sp.credit_note_share_limit,
        hhi > sp.debtor_hhi_limit,
    ]).reshape(len(SUPPLIER_NOTCHES), n)
    counts, worth = _notch_counts(tuple(sp.notches))
    counted = weak & worth
    notches = np.minimum((counted * counts).sum(axis=0), sp.max_notches).astype(np.int64)
    flags = np.bitwise_or.reduce(counted * _FACTOR_BITS, axis=0).astype(np.uint32)
    return SupplierAssessment(notches, flags)


@functools.lru_cache(maxsize=16)
def _notch_counts(notches: tuple[int, ...]) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """The policy's notches per weak factor as a column, and where they are worth one
    (read-only; cached by the notches)."""
    counts = np.asarray(notches, dtype=np.int64)[:, None]
    worth = counts > 0
    counts.setflags(write=False)
    worth.setflags(write=False)
    return counts, worth


def assessed_grade(rating: Any, notches: Any) -> IntArray:
    """The supplier's grade index after the assessment: its own rating ``1`` ... ``11``
    (``D``) moved down by ``notches``, at most to ``10``; ``D`` stays ``D``; ``0`` (not
    rated) stays ``0``.

    Examples
    --------
    >>> assessed_grade([4, 9, 10, 11, 0], [2, 3, 1, 1, 2]).tolist()
    [6, 10, 10, 11, 0]
    """
    g = np.asarray(rating, dtype=np.int64).reshape(-1)
    k = np.asarray(notches, dtype=np.int64)
    if k.shape != g.shape:
        k = np.broadcast_to(k, g.shape)
    out: IntArray = np.where((g == 0) | (g == D_INDEX), g, np.minimum(g + k, _TOP))
    return out


def supplier_advance_rate(
    grade: Any, product: Any, policy: CreditPolicy, *, dilution: Any = np.nan,
    credit_note_share: Any = np.nan, consignment_share: Any = np.nan, notches: Any = 0,
    notched: Any = False, approved: Any = None,
) -> FloatArray:
    """The advance rate of pairs, with the supplier's dilution, eligibility and notches.

    Parameters
    ----------
    grade : array-like
        The pricing grade (the supplier's assessed grade under recourse when it is
        rated, else the debtor's; :func:`riskengine.policy.pricing.pricing_grade`).
    product : array-like
    policy : CreditPolicy
    dilution : array-like, optional
        The debtor's own dilution (credit notes and disputes over invoiced amounts).
    credit_note_share, consignment_share : array-like, optional
        The supplier's (NaN: not known, no effect).
    notches : array-like of int, default 0
        The supplier's notches (:func:`assess_suppliers`).
    notched : array-like of bool, default False
        Whether ``grade`` already carries the notches (recourse, supplier rated): then
        they take nothing more off the rate.
    approved : array-like, optional
        The pairs' approved limits: a refused pair (0) is not financed, its rate is 0
        (:func:`riskengine.policy.pricing.advance_rate`). Absent: every row is financed.

    Returns
    -------
    numpy.ndarray
        Fractions in [0, 1].

    Examples
    --------
    Shipped policy, non-recourse grade 5 (85 %): the supplier's credit notes at 6 % of
    sales beat the debtor's 2 % dilution (85 - 6 = 79 %), one notch takes 2.5 points off
    (76.5 %) and 10 % consignment sales leave 90 % eligible: 0.765 x 0.9 = 68.85 %.

    >>> from riskengine.config import load_policy
    >>> supplier_advance_rate(["5"], ["non_recourse"], load_policy(), dilution=[0.02],
    ...                       credit_note_share=[0.06], consignment_share=[0.10],
    ...                       notches=[1]).round(4).tolist()
    [0.6885]

    A refused pair gets no advance:

    >>> supplier_advance_rate(["5", "5"], "non_recourse", load_policy(),
    ...                       approved=[9_000, 0]).round(4).tolist()
    [0.85, 0.0]
    """
    n = max(inp.size(grade), inp.size(product), inp.size(dilution),
            inp.size(credit_note_share), inp.size(consignment_share), inp.size(notches),
            0 if approved is None else inp.size(approved))
    reserve = np.fmax(inp.floats(dilution, n, "dilution", "pricing"),
                      inp.floats(credit_note_share, n, "credit_note_share", "pricing"))
    rate = advance_rate(grade, product, policy, reserve, approved=approved)
    k = np.asarray(notches, dtype=np.int64)
    if k.shape != (n,):
        k = np.broadcast_to(k, (n,))
    off = np.where(inp.flags(notched, n), 0.0, k * policy.supplier.non_recourse_advance_per_notch)
    consignment = inp.floats(consignment_share, n, "consignment_share", "pricing")
    eligible = 1.0 - np.where(np.isnan(consignment), 0.0, consignment)  # finite (floats)
    out: FloatArray = np.clip(rate - off, 0.0, 1.0) * np.clip(eligible, 0.0, 1.0)
    return out


def debtor_hhi(supplier_id: Any, debtor_id: Any, amount: Any) -> pd.Series:
    """Dispersion of each supplier's debtors: the Herfindahl-Hirschman index of its
    exposure amounts over its debtors (DOMAIN.md §4: HHI = sum of squared shares).

    Parameters
    ----------
    supplier_id, debtor_id : array-like
        One row per supplier-debtor pair (a pair given twice is summed).
    amount : array-like
        The pair's exposure (>= 0; NaN counts as 0), in one currency per supplier.

    Returns
    -------
    pandas.Series
        HHI in (0, 1] by supplier id (sorted); NaN for a supplier whose amounts are all 0
        (nothing to spread). :func:`debtor_hhi_arrays` gives the same as two arrays.

    Examples
    --------
    Four equal debtors: 4 x 0.25^2 = 0.25; one debtor: 1.

    >>> debtor_hhi(["S1"] * 4 + ["S2"], ["a", "b", "c", "d", "a"],
    ...            [10.0, 10.0, 10.0, 10.0, 5.0]).round(4).to_dict()
    {'S1': 0.25, 'S2': 1.0}
    """
    suppliers, hhi = debtor_hhi_arrays(supplier_id, debtor_id, amount)
    out = pd.Series(hhi, index=pd.Index(suppliers.astype(object), dtype="str"))
    out.index.name = "supplier_id"
    return out.rename("debtor_hhi")


def debtor_hhi_arrays(supplier_id: Any, debtor_id: Any, amount: Any
                      ) -> tuple[npt.NDArray[np.str_], FloatArray]:
    """:func:`debtor_hhi` as arrays: the distinct supplier ids (sorted) and each one's HHI
    (NaN: all its amounts are 0), without a pandas Series (the service's request path
    reads a few suppliers).

    Examples
    --------
    >>> ids, hhi = debtor_hhi_arrays(["S2", "S1", "S1"], ["a", "a", "b"], [5.0, 10.0, 30.0])
    >>> ids.tolist(), hhi.round(4).tolist()
    (['S1', 'S2'], [0.625, 1.0])
    """
    sup = np.asarray(supplier_id, dtype=object).reshape(-1).astype(str)
    deb = np.asarray(debtor_id, dtype=object).reshape(-1).astype(str)
    x = np.nan_to_num(np.asarray(amount, dtype=np.float64).reshape(-1), nan=0.0)
    if (x < 0).any():
        pos = int(np.flatnonzero(x < 0)[0])
        raise inp.bad_input("exposures", "amount", pos, float(x[pos]),
                            "negative", "an exposure amount cannot be negative.")
    # codes (hash factorize on the arrays: cheap for one request's pairs and for a book)
    sc, suniq = inp.factorize(sup)
    dc, duniq = inp.factorize(deb)
    pc, _ = inp.factorize(sc * max(len(duniq), 1) + dc)
    by_pair = np.bincount(pc, x) if pc.size else np.zeros(0)
    pair_sup = np.zeros(by_pair.shape[0], dtype=np.int64)
    pair_sup[pc] = sc
    total = np.bincount(sc, x, minlength=len(suniq))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = by_pair / total[pair_sup]
    hhi = np.bincount(pair_sup, share * share, minlength=len(suniq))
    ids = np.asarray(suniq, dtype=str).reshape(-1)
    order = np.argsort(ids, kind="stable")
    return ids[order], np.where(total > 0, hhi, np.nan)[order]
