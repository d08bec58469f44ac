"""Debtor limit decisions for supplier-debtor pairs, and limit changes.

The decision for one pair (seed 003; DOMAIN.md §2-§4)::

    approved = round_down(min(requested, capacity, ledger headroom,
                              group headroom, sector headroom, insurer cover)
                          x supplier share, unit)

with knock-outs refusing outright. The supplier share applies to recourse pairs whose
supplier is rated: ``[supplier] recourse_limit_share`` of its assessed grade
(:mod:`riskengine.policy.supplier`). Everything is vectorised over numpy arrays;
:func:`decide_limit` is the single-pair wrapper around the same code.

Reason codes
------------
Each row carries a ``uint32`` bitmask of reason codes, bit ``i`` being
``REASONS[i]``; :func:`reason_codes` turns a mask into the tuple of names.
Binding constraints (every one equal to the minimum is set, ties included):
``requested``, ``capacity``, ``ledger_cap``, ``group_cap``, ``sector_cap``,
``insurer_cover``, ``supplier`` (the supplier's share cut the limit: then it alone
binds). Knock-outs: ``adverse_record``, ``insolvency``,
``related_party``, ``grade_default``, ``supplier_default``. Data: ``negative_equity``,
``non_positive_profit``, ``tax_return_haircut``, ``no_financials``,
``missing_data``, ``no_insurer_appetite``, ``below_rounding_unit``,
``nothing_requested``. A knocked-out row carries only its knock-out codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskengine.contracts.schemas import ADVERSE_EVENT_TYPES
from riskengine.features.significance import knockout_mask, significance_thresholds
from riskengine.policy import _inputs as inp
from riskengine.policy.book import allocate, bound
from riskengine.policy.credit_policy import D_INDEX, CreditPolicy

__all__ = [
    "REASONS",
    "DECISIONS",
    "BASES",
    "reason_codes",
    "reason_mask",
    "requested_limit",
    "capacity",
    "adverse_knockout",
    "LimitDecisions",
    "LimitDecision",
    "decide_limits",
    "decide_limit",
    "LIMIT_ACTIONS",
    "KNOCKOUT_REASONS",
    "LimitChanges",
    "limit_change",
    "decision_knockout",
    "decision_codes",
]

FloatArray = npt.NDArray[np.float64]

REASONS: tuple[str, ...] = (
    "requested", "capacity", "ledger_cap", "group_cap", "sector_cap", "insurer_cover",
    "adverse_record", "insolvency", "related_party", "grade_default", "supplier_default",
    "negative_equity", "non_positive_profit", "tax_return_haircut", "no_financials",
    "missing_data", "no_insurer_appetite", "below_rounding_unit", "nothing_requested",
    "country_cap", "supplier",
)
"""Reason code names; bit ``i`` of a reason mask is ``REASONS[i]``."""

_BIT = {name: np.uint32(1 << i) for i, name in enumerate(REASONS)}
KNOCKOUT_REASONS: tuple[str, ...] = (
    "adverse_record", "insolvency", "related_party", "grade_default", "supplier_default",
)
"""Knock-out reason codes: they refuse a pair outright, and a limit reduction that
follows one takes effect at once, without the notice period (:func:`limit_change`)."""

DECISIONS: tuple[str, ...] = ("full", "partial", "refused")
"""Decision names; code ``i`` is ``DECISIONS[i]``."""

BASES: tuple[str, ...] = ("statements", "tax_return", "none")
"""Financial data basis of a debtor; code ``i`` is ``BASES[i]``."""

_EPS = 1e-9

_LIMIT_REASONS = ("requested", "capacity", "ledger_cap", "group_cap", "sector_cap",
                  "insurer_cover", "no_insurer_appetite", "missing_data",
                  "below_rounding_unit", "nothing_requested", "supplier")
_BIT_COLUMNS: dict[tuple[str, ...], npt.NDArray[np.uint32]] = {}


def _mask(conds: npt.NDArray[np.bool_], names: tuple[str, ...]) -> npt.NDArray[np.uint32]:
    """Reason bitmask per column of ``conds`` (one row per name in ``names``)."""
    bits = _BIT_COLUMNS.get(names)
    if bits is None:
        bits = np.asarray([[_BIT[name]] for name in names], dtype=np.uint32)
        _BIT_COLUMNS[names] = bits
    out: npt.NDArray[np.uint32] = np.bitwise_or.reduce(conds * bits, axis=0)
    return out


def reason_codes(mask: int) -> tuple[str, ...]:
    """Names of the reason codes set in ``mask``.

    Examples
    --------
    >>> reason_codes(reason_mask("capacity", "ledger_cap"))
    ('capacity', 'ledger_cap')
    """
    return tuple(name for i, name in enumerate(REASONS) if int(mask) >> i & 1)


def reason_mask(*names: str) -> int:
    """The bitmask of the given reason code names."""
    return int(sum(int(_BIT[n]) for n in names))


def requested_limit(annual_sales: Any, credit_days: Any, days_basis: int = 360) -> Any:
    """Requested debtor limit = annual sales x credit days / days basis (seed 003).

    Parameters
    ----------
    annual_sales : float or array-like
        The supplier's annual credit sales to the debtor, in currency.
    credit_days : float or array-like
        Agreed payment terms in days.
    days_basis : int, default 360
        Days in the year (seed 003 uses 360; ``policy.limits.credit_days_basis``).

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    Seed 003: sales 100,000 on 90-day terms turn over 360 / 90 = 4 times a year.

    >>> requested_limit(100_000, 90)
    25000.0
    """
    out = np.asarray(annual_sales, dtype=np.float64) * np.asarray(credit_days) / days_basis
    return float(out) if out.ndim == 0 else out


def capacity(
    grade: Any, policy: CreditPolicy, *, basis: Any = 0, tnw: Any = np.nan,
    revenue: Any = np.nan, profit: Any = np.nan,
) -> tuple[FloatArray, npt.NDArray[np.uint32]]:
    """Debtor capacity by grade and financial data basis, with reason bits.

    Parameters
    ----------
    grade : array-like
        Grade strings or indices 1 ... 11.
    policy : CreditPolicy
    basis : array-like of int or str, default 0
        ``"statements"`` (0): ``min(a_g x tnw, b_g x revenue)``;
        ``"tax_return"`` (1): ``(1 - haircut) x min(b_g x revenue, m x profit)``;
        ``"none"`` (2): the predetermined minimum limit of the grade.
    tnw, revenue, profit : array-like
        Tangible net worth, annual revenue (turnover), declared annual profit.

    Returns
    -------
    capacity : numpy.ndarray
        Money; 0 where the data are missing (reason ``missing_data``).
    reasons : numpy.ndarray of uint32
        ``negative_equity``, ``non_positive_profit``, ``tax_return_haircut``,
        ``no_financials``, ``missing_data``.

    Notes
    -----
    Negative equity (``tnw <= 0``) gives capacity 0, or the no-financials
    limit when ``capacity.negative_equity = "minimum_limit"``. A tax-return
    debtor with profit <= 0 gets capacity 0. NaN in a field the basis needs
    gives 0 with ``missing_data``: never a silent number.

    Examples
    --------
    DOMAIN.md §4 (D&B): grade with a = 35 %, b = 5 %: TNW 80k, turnover 700k.

    >>> from riskengine.config import load_policy
    >>> cap, _ = capacity(["4"], load_policy(), tnw=[80_000], revenue=[700_000])
    >>> cap.round(2).tolist()
    [28000.0]
    """
    g = inp.grades(grade, np.size(grade))
    n = g.size
    return _capacity(g, _basis(basis, n), inp.floats(tnw, n, "tnw", "pairs", negative=True),
                     inp.floats(revenue, n, "revenue", "pairs"),
                     inp.floats(profit, n, "profit", "pairs", negative=True), policy,
                     np.ones(n))


def _basis(x: Any, n: int) -> npt.NDArray[np.int64]:
    if type(x) is np.ndarray and x.ndim == 1 and 0 < x.shape[0] == n <= 16 \
            and x.dtype == np.int64:
        lst = x.tolist()  # small: checked on Python ints
        if min(lst) >= 0 and max(lst) < len(BASES):
            return x
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        flat = arr.astype(str).reshape(-1)
        codes = np.full(flat.shape, -1, dtype=np.int64)
        for i, b in enumerate(BASES):
            codes[flat == b] = i
        arr = codes.reshape(arr.shape)
    arr = arr.astype(np.int64, copy=False)
    bad = (arr < 0) | (arr >= len(BASES))
    if bad.any():
        pos = int(np.flatnonzero(bad.reshape(-1))[0])
        raise inp.bad_input("pairs", "basis", pos, np.asarray(x).reshape(-1)[pos],
                            "unknown_category", f"use one of {', '.join(BASES)} (or 0, 1, 2).")
    return np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr.reshape(-1)


_CAPACITY_REASONS = ("negative_equity", "non_positive_profit", "tax_return_haircut",
                     "no_financials", "missing_data")


def _capacity(
    g: npt.NDArray[np.int64], basis: npt.NDArray[np.int64], tnw: FloatArray,
    revenue: FloatArray, profit: FloatArray, policy: CreditPolicy, minimum_fx: FloatArray,
) -> tuple[FloatArray, npt.NDArray[np.uint32]]:
    cp = policy.capacity
    tables = inp.policy_tables(policy)
    b_rev = tables.revenue_fraction[g] * revenue
    minimum = tables.no_financials_limit[g] * minimum_fx  # capacity.currency -> the pair's

    st = basis == 0
    neg = st & (tnw <= 0)
    cap_st = np.minimum(tables.tnw_fraction[g] * tnw, b_rev)
    cap_st = np.where(neg, minimum if cp.negative_equity == "minimum_limit" else 0.0, cap_st)
    missing = st & (np.isnan(tnw) | np.isnan(revenue))

    tx = basis == 1
    loss = tx & (profit <= 0)
    cap_tx = (1.0 - cp.tax_return_haircut) * np.minimum(
        b_rev, cp.tax_return_profit_multiple * profit)
    cap_tx = np.where(loss, 0.0, cap_tx)
    missing |= tx & (np.isnan(profit) | np.isnan(revenue))

    out = np.where(st, cap_st, np.where(tx, cap_tx, minimum))
    out = np.where(missing, 0.0, out)
    # the bit of each condition where it holds (one row per condition), or'ed
    reasons = _mask(np.array((neg, loss, tx, basis == 2, missing)), _CAPACITY_REASONS)
    return out, reasons


def adverse_knockout(
    event_type: Any, event_date: Any, amount: Any, status: Any, as_of: Any,
    policy: CreditPolicy, revenue: Any = None,
) -> npt.NDArray[np.bool_]:
    """Whether each adverse record is serious, recent and significant (seed 003).

    Parameters
    ----------
    event_type, event_date, amount, status : array-like
        One entry per adverse record (``adverse_records`` contract columns), the
        amounts in the policy's ``knockouts.currency``.
    as_of : date-like
        Decision date; records dated after it are ignored (point in time).
    policy : CreditPolicy
    revenue : array-like, optional
        The record's debtor's latest annual revenue, in the same currency: a record
        above ``knockouts.adverse_min_revenue_share`` of it is significant too.

    Returns
    -------
    numpy.ndarray of bool
        True for a knock-out record. A debtor is knocked out when any of its
        records is (aggregate with ``groupby(debtor_id).any()``). The engine reads
        the same rule through :func:`riskengine.features.adverse.significance_thresholds`
        (amounts in other currencies converted).

    Examples
    --------
    A seizure of 50,000 knocks out; a bounced cheque of 800 only against a revenue of
    50,000 (1 % is 500).

    >>> from riskengine.config import load_policy
    >>> adverse_knockout(["bounced_cheque", "bounced_cheque", "mortgage_prenotation",
    ...                   "seizure", "bounced_cheque"], ["2024-01-01"] * 5,
    ...                  [5_000, 1_000, 90_000, 50_000, 800], "open", "2025-01-01",
    ...                  load_policy(), revenue=[np.nan, np.nan, 1e6, 1e6, 50_000]).tolist()
    [True, False, False, True, True]
    """
    ko = policy.knockouts
    n = max(np.size(event_type), 1)
    types = np.broadcast_to(np.asarray(event_type).astype(str), (n,))
    when = inp.dates(event_date, n)
    day = inp.dates(as_of, n)
    amt = inp.floats(amount, n, "amount", "adverse_records")
    age = (day - when).astype(np.int64)
    codes = pd.Index(ADVERSE_EVENT_TYPES).get_indexer(types)
    known = codes >= 0
    recent = (age >= 0) & (age <= ko.adverse_recent_days)
    rev = None if revenue is None else inp.floats(revenue, n, "revenue", "adverse_records")
    thr = significance_thresholds(np.where(known, codes, 0), np.zeros(n, dtype=np.int64),
                                  np.arange(n), knockout=knockout_mask(ko.adverse_event_types),
                                  absolute=ko.adverse_min_amount,
                                  share=ko.adverse_min_revenue_share, revenue=rev)
    significant = known & (amt > thr)
    counted = np.ones(n, dtype=bool) if ko.adverse_count_settled else (
        np.broadcast_to(np.asarray(status).astype(str), (n,)) != "settled")
    out: npt.NDArray[np.bool_] = recent & significant & counted
    return out


@dataclass(frozen=True, slots=True)
class LimitDecisions:
    """Limit decisions for many pairs (arrays of equal length).

    Attributes
    ----------
    requested, capacity, concentration_headroom, insurer_cap, approved : numpy.ndarray
        Money. ``concentration_headroom`` and ``insurer_cap`` are ``inf`` where
        no such cap applies (the caller gave no data for it, or the product
        needs no insurance): the constraint is absent, not a number.
    supplier_cap : numpy.ndarray
        The supplier's cap (its share of the debtor-level limit, before rounding);
        ``inf`` where none applies (no recourse, or the supplier is not rated).
    decision : numpy.ndarray of int8
        Code into :data:`DECISIONS` (0 full, 1 partial, 2 refused).
    reasons : numpy.ndarray of uint32
        Reason bitmask (see :data:`REASONS`).
    policy_version : str
    """

    requested: FloatArray
    capacity: FloatArray
    concentration_headroom: FloatArray
    insurer_cap: FloatArray
    approved: FloatArray
    decision: npt.NDArray[np.int8]
    reasons: npt.NDArray[np.uint32]
    policy_version: str
    supplier_cap: FloatArray

    def __len__(self) -> int:
        return int(self.approved.size)

    def decision_names(self) -> npt.NDArray[np.str_]:
        """Decision name per row."""
        return np.asarray(DECISIONS)[self.decision]

    def reason_lists(self) -> list[tuple[str, ...]]:
        """Reason code names per row (a Python loop: for reports, not hot paths)."""
        uniq, inverse = np.unique(self.reasons, return_inverse=True)
        names = [reason_codes(int(m)) for m in uniq]
        return [names[i] for i in inverse.reshape(-1)]

    def to_frame(self) -> pd.DataFrame:
        """One row per pair with decision and reason names."""
        return pd.DataFrame({
            "requested": self.requested, "capacity": self.capacity,
            "concentration_headroom": self.concentration_headroom,
            "insurer_cap": self.insurer_cap, "supplier_cap": self.supplier_cap,
            "approved": self.approved, "decision": self.decision_names(),
            "reasons": [",".join(r) for r in self.reason_lists()],
            "policy_version": self.policy_version,
        })


@dataclass(frozen=True, slots=True)
class LimitDecision:
    """The limit decision for one pair (see :func:`decide_limit`)."""

    requested: float
    capacity: float
    concentration_headroom: float
    insurer_cap: float
    approved: float
    decision: str
    reasons: tuple[str, ...]
    policy_version: str
    supplier_cap: float = float("inf")


PAIR_COLUMNS: dict[str, str] = {
    "grade": "debtor grade, string or index 1-11 (required)",
    "requested": "requested limit, money (required)",
    "product": "product name or code (required)",
    "basis": "financial data basis: statements / tax_return / none (default statements)",
    "tnw": "tangible net worth", "revenue": "annual revenue / turnover",
    "profit": "declared annual profit (tax-return basis)",
    "adverse_knockout": "bool", "insolvency": "bool", "related": "bool",
    "supplier_grade": "supplier's assessed grade (recourse products: its D refuses, its "
                      "[supplier] recourse_limit_share caps)",
    "supplier_rated": "bool: the row's supplier_grade is the supplier's own (default: every "
                      "row); an unrated supplier neither caps nor knocks out",
    "supplier_ledger": "supplier's total ledger incl. this debtor",
    "group_exposure": "factor's exposure to the debtor's group, other pairs",
    "factor_capital": "factor's eligible capital",
    "sector_exposure": "book's limits in the debtor's sector, other pairs",
    "book_total": "book's total limits, other pairs",
    "insurer_limit": "the cover the pair can get (insurer's limit in force, discretionary "
                     "cap, 0 without): the cap of a product that waits for the insurer",
    "insurer_limit_given": "bool: the row waits for the insurer (default: every row when "
                           "insurer_limit is given); a row without it has no insurer cap",
    "debtor": "int code of the pair's debtor: its capacity is shared among its pairs",
    "protected": "approved outstanding of the pair (kept first when capacity is shared)",
    "fx": "units of the reporting currency per one unit of the row's currency (default 1): "
          "a debtor's pairs in several currencies share its capacity in that unit",
    "minimum_fx": "units of the row's currency per one unit of capacity.currency (default 1): "
                  "the no-financials limits converted",
}
"""Columns :func:`decide_limits` reads; the optional ones default to absent."""


def decide_limits(pairs: Mapping[str, Any], policy: CreditPolicy) -> LimitDecisions:
    """Decide debtor limits for many supplier-debtor pairs at once.

    Parameters
    ----------
    pairs : mapping of column name to array-like (a dict or a DataFrame)
        Columns of :data:`PAIR_COLUMNS`; scalars apply to every row. Optional
        columns that are absent switch their rule off (e.g. no
        ``supplier_ledger`` -> no ledger-share cap). NaN in a column a row
        needs refuses that row with ``missing_data``.
    policy : CreditPolicy

    Returns
    -------
    LimitDecisions

    Raises
    ------
    InvalidInputError
        A required column is missing, a grade or product is unknown, or a
        money amount is negative (naming the row, column and value).

    Notes
    -----
    - Debtor capacity: with a ``debtor`` column, the capacity is one amount per
      debtor, shared among the debtor's pairs by :func:`riskengine.policy.book.allocate`
      (approved outstanding ``protected`` first, then pro rata to what each pair
      asks); a pair that keeps less than it asks is bound by ``capacity``. Without
      it each row is a debtor of its own. Pairs in several currencies share it in
      the reporting currency (``fx``: each row's rate into it), then convert back.
    - Ledger cap: ``ledger_share_g x supplier_ledger`` (the ledger includes
      this debtor's balance).
    - Group cap: ``group_capital_share x factor_capital - group_exposure``,
      floored at 0 (CRR art. 395).
    - Sector cap: the largest ``L`` with ``(S + L) / (B + L) <= c``, i.e.
      ``(c B - S) / (1 - c)``, floored at 0, where ``S`` and ``B`` exclude
      this pair.
    - Insurer cover, for products that require insurance: 0 when the
      insurer's appetite at the grade is nil, else ``insurer_limit`` where given
      (a product that waits for the insurer, ``await_insurer``: the cover it can get,
      :mod:`riskengine.policy.insurer`).
    - Rounding is down to ``limits.rounding_unit`` (with a 1e-9 relative
      tolerance against binary round-off). The decision is ``full`` when
      the approval equals the rounded request, ``refused`` at 0, else
      ``partial``.
    - Recourse products also refuse when ``supplier_grade`` is ``D`` (knock-out
      ``supplier_default``), and keep ``supplier.recourse_limit_share`` of the supplier
      grade of the debtor-level limit (after the debtor's capacity is shared): a share
      below 1 binds alone (``supplier``), a share of 0 refuses. Only for rows whose
      ``supplier_rated`` is true.

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> d = decide_limits({"grade": ["4", "D"], "requested": 25_000.0,
    ...                    "product": "recourse", "tnw": 80_000.0, "revenue": 700_000.0},
    ...                   load_policy())
    >>> d.approved.tolist(), d.decision_names().tolist()
    ([25000.0, 0.0], ['full', 'refused'])
    """
    n = inp.length(pairs, ("grade", "requested", "product"), "pairs")
    g = inp.grades(pairs["grade"], n)
    req = inp.floats(pairs["requested"], n, "requested", "pairs")
    prod = inp.products(pairs["product"], n, policy)
    basis = _basis(pairs.get("basis", 0), n)
    tnw = inp.floats(pairs.get("tnw", np.nan), n, "tnw", "pairs", negative=True)
    revenue = inp.floats(pairs.get("revenue", np.nan), n, "revenue", "pairs")
    profit = inp.floats(pairs.get("profit", np.nan), n, "profit", "pairs", negative=True)
    tables = inp.policy_tables(policy)
    minimum_fx = inp.floats(pairs.get("minimum_fx", 1.0), n, "minimum_fx", "pairs")
    cap, reasons = _capacity(g, basis, tnw, revenue, profit, policy, minimum_fx)

    # knock-outs
    ko_conds: list[npt.NDArray[np.bool_]] = []
    ko_names: list[str] = []
    for col, name in (("adverse_knockout", "adverse_record"), ("insolvency", "insolvency"),
                      ("related", "related_party")):
        if col in pairs:
            ko_conds.append(inp.flags(pairs[col], n))
            ko_names.append(name)
    ko_conds.append(g == D_INDEX)
    ko_names.append("grade_default")
    share = None
    if "supplier_grade" in pairs:
        sg = inp.grades(pairs["supplier_grade"], n, "supplier_grade")
        on_supplier = tables.recourse[prod] & inp.flags(pairs.get("supplier_rated", True), n)
        ko_conds.append(on_supplier & (sg == D_INDEX))
        ko_names.append("supplier_default")
        share = np.where(on_supplier, tables.supplier_limit_share[sg], 1.0)
    ko_bits = _mask(np.array(ko_conds), tuple(ko_names))
    if share is None:
        share = np.full(n, 1.0)

    inf = np.full(n, np.inf)
    missing = np.zeros(n, dtype=bool)
    book = policy.book
    ledger = inf
    if "supplier_ledger" in pairs:
        tot = inp.floats(pairs["supplier_ledger"], n, "supplier_ledger", "pairs")
        ledger = tables.ledger_share[g] * tot
        missing |= np.isnan(tot)
    group = inf
    if "group_exposure" in pairs or "factor_capital" in pairs:
        ge = inp.floats(pairs.get("group_exposure", 0.0), n, "group_exposure", "pairs")
        fc = inp.floats(pairs.get("factor_capital", np.nan), n, "factor_capital", "pairs")
        group = np.maximum(book.group_capital_share * fc - ge, 0.0)
        missing |= np.isnan(ge) | np.isnan(fc)
    sector = inf
    if "sector_exposure" in pairs or "book_total" in pairs:
        se = inp.floats(pairs.get("sector_exposure", 0.0), n, "sector_exposure", "pairs")
        bt = inp.floats(pairs.get("book_total", np.nan), n, "book_total", "pairs")
        c = book.sector_book_share
        sector = np.maximum((c * bt - se) / (1.0 - c), 0.0) if c < 1.0 else inf
        missing |= np.isnan(se) | np.isnan(bt)

    needs_cover = tables.requires_insurance[prod]
    no_appetite = needs_cover & (tables.insured_fraction[g] <= 0.0)
    insurer = inf
    if "insurer_limit" in pairs:
        il = inp.floats(pairs["insurer_limit"], n, "insurer_limit", "pairs")
        given = inp.flags(pairs.get("insurer_limit_given", True), n)
        insurer = np.where(needs_cover & given, il, np.inf)
        missing |= needs_cover & given & np.isnan(il)
    insurer = np.where(no_appetite, 0.0, insurer)
    missing |= np.isnan(req)

    headroom = np.minimum(np.minimum(ledger, group), sector)
    knocked = ko_bits != 0
    dead = knocked | missing
    asked = np.minimum(np.minimum(req, headroom), insurer)  # all but the debtor's capacity
    if "debtor" in pairs:  # one capacity per debtor, shared among its pairs
        key = np.asarray(pairs["debtor"], dtype=np.int64)
        k = int(key.max()) + 1 if n else 0
        # in one unit (the reporting currency) when the debtor's pairs are in several
        fx = inp.floats(pairs.get("fx", 1.0), n, "fx", "pairs")
        unit_fx = bool((fx == 1.0).all())
        cap_u, asked_u = (cap, asked) if unit_fx else (cap * fx, asked * fx)
        debtor_cap = np.full(k, np.inf)
        np.minimum.at(debtor_cap, key, np.where(dead, np.inf, cap_u))  # a refused pair's 0 is its own
        protected = inp.floats(pairs.get("protected", 0.0), n, "protected", "pairs")
        best_u = allocate(np.where(dead, 0.0, asked_u), protected if unit_fx else protected * fx,
                          key, debtor_cap)
        cap_bound = bound(np.minimum(asked_u, debtor_cap[key]), best_u) | (
            cap_u <= best_u * (1 + _EPS))
        best = best_u if unit_fx else np.where(best_u == asked_u, asked, best_u / fx)
    else:
        best = np.minimum(asked, cap)
        cap_bound = cap <= best * (1.0 + _EPS)
    # binding constraints: every one within the tolerance of the minimum
    binding = np.array((req, cap, ledger, group, sector, insurer)) <= best * (1.0 + _EPS)
    binding[1] = cap_bound
    # the supplier's share of the debtor-level limit: when it cuts, it alone binds (a share
    # of 0 refuses whatever else bound; a share of a limit already 0 cuts nothing)
    supplier_cap = np.where(share < 1.0, share * np.where(dead, 0.0, best), np.inf)
    cut = share < 1.0
    supplier_binds = cut & ((best > 0) | (share <= 0.0))
    binding &= ~(cut & (best > 0))
    best = np.where(cut, supplier_cap, best)

    unit = policy.limits.rounding_unit
    approved = np.floor(np.where(dead, 0.0, best) / unit + _EPS) * unit
    alive = ~dead
    reasons |= _mask(np.concatenate((binding, np.array((
        no_appetite, missing, alive & (best > 0) & (approved == 0), alive & (req == 0),
        alive & supplier_binds)))), _LIMIT_REASONS)
    reasons = np.where(knocked, ko_bits, reasons).astype(np.uint32)
    decision = decision_codes(approved, req, unit)
    return LimitDecisions(req, cap, headroom, insurer, approved, decision, reasons,
                          policy.version, supplier_cap)


def decision_codes(approved: FloatArray, requested: FloatArray, unit: float
                   ) -> npt.NDArray[np.int8]:
    """The decision of each approved limit (code into :data:`DECISIONS`): ``full`` when it
    equals the request rounded down to ``unit``, ``refused`` at 0, else ``partial``.

    Examples
    --------
    >>> decision_codes(np.array([25_000.0, 10_000.0, 0.0]), np.array([25_400.0] * 3),
    ...                1000.0).tolist()
    [0, 1, 2]
    """
    full_req = np.floor(np.where(np.isnan(requested), 0.0, requested) / unit + _EPS) * unit
    out: npt.NDArray[np.int8] = np.where(approved <= 0, 2, np.where(
        approved >= full_req, 0, 1)).astype(np.int8)
    return out


def decide_limit(policy: CreditPolicy, **pair: Any) -> LimitDecision:
    """Decide the limit of one pair: :func:`decide_limits` on a single row.

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> d = decide_limit(load_policy(), grade="4", requested=40_000, product="recourse",
    ...                  tnw=80_000, revenue=700_000)
    >>> d.approved, d.decision, d.reasons
    (28000.0, 'partial', ('capacity',))
    """
    batch = decide_limits({k: [v] for k, v in pair.items()}, policy)
    return LimitDecision(
        float(batch.requested[0]), float(batch.capacity[0]),
        float(batch.concentration_headroom[0]), float(batch.insurer_cap[0]),
        float(batch.approved[0]), DECISIONS[int(batch.decision[0])],
        reason_codes(int(batch.reasons[0])), batch.policy_version,
        float(batch.supplier_cap[0]),
    )


LIMIT_ACTIONS: tuple[str, ...] = ("unchanged", "increase", "decrease", "cancel")
"""Limit change actions; code ``i`` is ``LIMIT_ACTIONS[i]``."""


@dataclass(frozen=True, slots=True)
class LimitChanges:
    """Limit changes against the previous decision (arrays of equal length).

    Attributes
    ----------
    action : numpy.ndarray of int8
        Code into :data:`LIMIT_ACTIONS`.
    effective_date : numpy.ndarray of datetime64[D]
        Increases at once; decreases and cancellations after the notice
        period, at once on a knock-out event.
    protected : numpy.ndarray
        Approved outstanding kept approved: invoices already assigned stay
        approved up to the old limit (Atradius; FCI GRIF art. 18).
    available_after : numpy.ndarray
        Room for new invoices once the change is effective:
        ``max(new_limit - protected, 0)``.
    """

    action: npt.NDArray[np.int8]
    effective_date: npt.NDArray[np.datetime64]
    protected: FloatArray
    available_after: FloatArray

    def action_names(self) -> npt.NDArray[np.str_]:
        """Action name per row."""
        return np.asarray(LIMIT_ACTIONS)[self.action]


def limit_change(
    previous_limit: Any, new_limit: Any, as_of: Any, knockout: Any, policy: CreditPolicy,
    approved_outstanding: Any = None,
) -> LimitChanges:
    """Compare new limits with the previous ones: action, effective date, protection.

    Parameters
    ----------
    previous_limit, new_limit : array-like
        Money.
    as_of : date-like or array-like
        Date of the notice.
    knockout : array-like of bool
        The change follows a knock-out event (e.g. a bounced cheque, an
        insolvency filing): a reduction takes effect immediately.
    policy : CreditPolicy
        ``limits.notice_days`` is the notice period.
    approved_outstanding : array-like, optional
        Approved outstanding on the debtor; when absent, the previous limit
        (the most that can be protected).

    Returns
    -------
    LimitChanges

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> ch = limit_change([50_000, 50_000, 50_000], [80_000, 20_000, 0], "2026-03-01",
    ...                   [False, False, True], load_policy(), [30_000, 30_000, 30_000])
    >>> ch.action_names().tolist()
    ['increase', 'decrease', 'cancel']
    >>> [str(d) for d in ch.effective_date], ch.protected.tolist()
    (['2026-03-01', '2026-03-31', '2026-03-01'], [30000.0, 30000.0, 30000.0])
    >>> ch.available_after.tolist()
    [50000.0, 0.0, 0.0]
    """
    n = max(np.size(previous_limit), np.size(new_limit))
    prev = inp.floats(previous_limit, n, "previous_limit", "limits")
    new = inp.floats(new_limit, n, "new_limit", "limits")
    ko = inp.flags(knockout, n)
    day = inp.dates(as_of, n)
    outstanding = prev if approved_outstanding is None else inp.floats(
        approved_outstanding, n, "approved_outstanding", "limits")
    # the first that holds: increase 1, cancel 3, decrease 2, else unchanged 0 (nested
    # np.where: np.select costs ~40 us on the service's one pair)
    action = np.where(new > prev, 1, np.where((new < prev) & (new <= 0), 3,
                                              np.where(new < prev, 2, 0))).astype(np.int8)
    reducing = (action >= 2) & ~ko
    effective = day + np.where(reducing, policy.limits.notice_days, 0).astype("timedelta64[D]")
    protected = np.minimum(outstanding, np.maximum(prev, new))
    available = np.maximum(new - protected, 0.0)
    return LimitChanges(action, effective, protected, available)


def decision_knockout(decision: Mapping[str, Any]) -> bool:
    """Whether one decision follows a knock-out event (its limit cut takes effect at once).

    A decision dict (:class:`~riskengine.contracts.decision.Decision`) lists its
    knock-outs in ``knockouts``; each is one of :data:`KNOCKOUT_REASONS`, so a
    non-empty list is a knock-out, as for a batch's list column
    (:func:`riskengine.batch.migration.actions.limit_actions`). An explicit
    boolean ``knockout`` wins.

    Examples
    --------
    >>> decision_knockout({"knockouts": ["insolvency"]}), decision_knockout({"knockouts": []})
    (True, False)
    """
    flag = decision.get("knockout")
    if isinstance(flag, (bool, np.bool_)):
        return bool(flag)
    names = decision.get("knockouts") or ()
    if isinstance(names, str):
        names = names.split(",")
    return any(str(n).strip() in KNOCKOUT_REASONS for n in names)
