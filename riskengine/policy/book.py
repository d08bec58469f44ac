"""Sharing a cap among the pairs under it: one debtor's capacity, one group's, sector's or
country's room in the book (DOMAIN.md §6; docs/POLICY.md "The book").

The rule, the same for every cap, written down and deterministic (the order of the
rows never matters):

1. if the pairs under one cap together ask for no more than the cap, each keeps its
   amount;
2. otherwise the approved outstanding comes first: each pair keeps what it has
   already delivered and is approved (at most its amount); when that alone exceeds
   the cap, the cap is shared pro rata to it;
3. the rest of the cap is shared pro rata to what each pair asks beyond its
   protected amount.

A pair that keeps less than it asked is *bound* by that cap. Amounts are not rounded
here; the caller rounds down to the policy's unit, which keeps every total under its
cap. Pure numpy: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskengine.features.concentration import nace_section
from riskengine.policy.credit_policy import BookPolicy

__all__ = ["allocate", "BookCaps", "book_caps", "BOOK_CAPS", "BookRest", "book_sector", "cap_alone", "caps_on"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_EPS = 1e-9

BOOK_CAPS: tuple[str, ...] = ("group_cap", "sector_cap", "country_cap")
"""The book's caps, in the order :func:`book_caps` applies them."""


def allocate(amount: FloatArray, protected: FloatArray, key: IntArray,
             cap: FloatArray) -> FloatArray:
    """Share each key's cap among its rows (the module's rule).

    Parameters
    ----------
    amount : numpy.ndarray
        What each row asks (>= 0; NaN counts as 0).
    protected : numpy.ndarray
        Approved outstanding of each row (kept first; clipped to ``[0, amount]``).
    key : numpy.ndarray of int
        Code ``0 ... k-1`` of the cap each row falls under.
    cap : numpy.ndarray
        The ``k`` caps (``inf``: no cap).

    Returns
    -------
    numpy.ndarray
        Each row's share: ``<= amount``, and the shares of one key add up to at
        most its cap.

    Examples
    --------
    A debtor of capacity 34,000 asked 34,000 by two suppliers, one of which has
    10,000 outstanding: that one keeps its 10,000 first, the remaining 24,000 are
    shared 24,000 : 34,000.

    >>> out = allocate(np.array([34_000.0, 34_000.0]), np.array([10_000.0, 0.0]),
    ...                np.array([0, 0]), np.array([34_000.0]))
    >>> out.round(2).tolist()
    [19931.03, 14068.97]
    """
    a = np.where(np.isnan(amount), 0.0, np.maximum(amount, 0.0))
    k = cap.shape[0]
    total = np.bincount(key, a, minlength=k)
    over = total > cap * (1.0 + _EPS)
    if not over.any():
        return a
    prot = np.clip(np.where(np.isnan(protected), 0.0, protected), 0.0, a)
    p_tot = np.bincount(key, prot, minlength=k)
    c, p, rest = cap[key], p_tot[key], (total - p_tot)[key]
    with np.errstate(divide="ignore", invalid="ignore"):
        kept = np.where(p > c, prot * (c / p), prot)  # step 2
        extra = np.where(p < c, (c - p) * ((a - prot) / rest), 0.0)  # step 3 (rest > 0 here)
    share = np.minimum(kept + np.where(np.isfinite(extra), extra, 0.0), a)
    out: FloatArray = np.where(over[key], share, a)
    return out


def bound(before: FloatArray, after: FloatArray) -> npt.NDArray[np.bool_]:
    """Rows a cap cut: they keep less than they asked."""
    out: npt.NDArray[np.bool_] = after < before * (1.0 - _EPS)
    return out


@dataclass(frozen=True, slots=True)
class BookCaps:
    """The book's caps on every pair (arrays of the pairs' length).

    Attributes
    ----------
    approved : numpy.ndarray
        The amounts after the group, sector and country caps (not rounded).
    bound : dict of str to numpy.ndarray of bool
        Per cap of :data:`BOOK_CAPS`, the pairs it cut.
    caps : dict of str to float
        The group cap (money) and the sector and country caps (money, measured on
        the book before those caps).
    """

    approved: FloatArray
    bound: dict[str, npt.NDArray[np.bool_]]
    caps: dict[str, float]


def _allocate_free(amount: FloatArray, protected: FloatArray, key: IntArray, cap: FloatArray,
                   fixed: npt.NDArray[np.bool_]) -> FloatArray:
    """:func:`allocate` among the rows that are not ``fixed``: a fixed row (a pair of the
    book outside a partial run) keeps its amount and uses up its share of the cap."""
    if not fixed.any():
        return allocate(amount, protected, key, cap)
    used = np.bincount(key[fixed], amount[fixed], minlength=cap.shape[0])
    free = ~fixed
    out = amount.copy()
    out[free] = allocate(amount[free], protected[free], key[free], np.maximum(cap - used, 0.0))
    return out


def _codes(values: Any) -> tuple[IntArray, int]:
    """Codes 0 ... k-1 of the values (integer codes as they are) and k."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64), int(arr.max()) + 1 if arr.size else 0
    if isinstance(values, list) and all(type(v) is str for v in values):  # a few pairs alone
        uniq, codes = np.unique(np.asarray(values, dtype=str), return_inverse=True)
        return codes.astype(np.int64), len(uniq)
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
    return codes.astype(np.int64), len(uniques)


def book_caps(pairs: Mapping[str, Any], policy: BookPolicy) -> BookCaps:
    """The group, sector and country caps over the whole book, in that order.

    Parameters
    ----------
    pairs : mapping of column to array-like
        ``approved`` (each pair's amount after its debtor's capacity; 0 when
        refused), ``protected`` (approved outstanding), ``group`` (the debtor's
        connected group; a debtor without one passes its own id, a group of one),
        ``sector`` (NACE section) and ``country``, all in the book's currency;
        optional ``fixed`` (bool): pairs that keep their amount and count in the totals
        (the rest of the book in a partial run).
    policy : BookPolicy

    Returns
    -------
    BookCaps

    Notes
    -----
    The group cap is ``group_capital_share x factor_capital`` (CRR art. 395). A
    sector's and a country's caps are their share of the book's total *before* the
    sector and country caps: a fixed measure, so that cutting one sector does not
    move another's cap (a share of the final book would shrink with every cut). A book
    smaller than ``share_base_min`` is measured as that amount.

    Examples
    --------
    Three members of one group asking 250,000 each against a capital of 1,000,000
    share the group's 250,000 (the sector cap switched off: in a book of three pairs in
    three sectors, each sector would be a third of the book).

    >>> import dataclasses
    >>> from riskengine.config import load_policy
    >>> book = load_policy().with_factor_capital(1_000_000).book
    >>> book = dataclasses.replace(book, sector_book_share=1.0)
    >>> r = book_caps({"approved": [250_000.0] * 3, "protected": [0.0] * 3,
    ...                "group": ["G1"] * 3, "sector": ["C", "G", "F"],
    ...                "country": ["GR"] * 3}, book)
    >>> r.approved.round(2).tolist(), r.bound["group_cap"].tolist()
    ([83333.33, 83333.33, 83333.33], [True, True, True])
    """
    amount = np.asarray(pairs["approved"], dtype=np.float64)
    protected = np.asarray(pairs["protected"], dtype=np.float64)
    n = amount.shape[0]
    out = np.where(np.isnan(amount), 0.0, amount)
    fixed = np.asarray(pairs.get("fixed", np.zeros(n, dtype=bool)), dtype=bool)
    hit: dict[str, npt.NDArray[np.bool_]] = {}
    caps: dict[str, float] = {}
    share = policy.group_capital_share
    capital = policy.factor_capital
    if share < 1.0 and capital is not None and n:
        key, k = _codes(pairs["group"])
        cap = share * capital
        after = _allocate_free(out, protected, key, np.full(k, cap), fixed)
        hit["group_cap"], out = bound(out, after), after
        caps["group_cap"] = cap
    book = max(float(out.sum()), policy.share_base_min)
    for name, column, c in (("sector_cap", "sector", policy.sector_book_share),
                            ("country_cap", "country", policy.country_book_share)):
        if c >= 1.0 or not n:
            continue
        key, k = _codes(pairs[column])
        after = _allocate_free(out, protected, key, np.full(k, c * book), fixed)
        hit[name], out = bound(out, after), after
        caps[name] = c * book
    for name in BOOK_CAPS:
        hit.setdefault(name, np.zeros(n, dtype=bool))
    return BookCaps(out, hit, caps)


@dataclass(frozen=True)
class BookRest:
    """The rest of the book that the pairs of a debtor decided alone are capped against.

    Rows of limits in force, in the book's currency, of every *other* debtor's pairs,
    summed by connected group, NACE section and country (the service reads them from the
    limit register, :meth:`riskengine.store.DecisionStore.book_rest`). ``group`` is the
    group's id, or None for the pairs of debtors outside the decided debtors' groups
    (their groups' caps are not at stake; they count in the sector, country and book
    totals).

    ``sector`` and ``country`` are those of the decided debtors (one per debtor of the
    call, in its order): the register keeps them for the rest.
    """

    group: tuple[str | None, ...]
    sector: tuple[str, ...]
    country: tuple[str, ...]
    amount: tuple[float, ...]
    debtor_sector: tuple[str, ...] = ()
    debtor_country: tuple[str, ...] = ()

    def with_debtors(self, nace: Any, country: Any) -> BookRest:
        """The rest with the decided debtors' sectors (from their NACE codes,
        :func:`book_sector`) and countries, one per debtor of the call in its order."""
        return replace(self, debtor_sector=tuple(book_sector(str(x)) for x in nace),
                       debtor_country=tuple(str(x) for x in country))


def caps_on(policy: BookPolicy) -> bool:
    """Whether the policy caps the book at all (a group cap with a capital, or a sector or
    country share below 1)."""
    return (policy.group_capital_share < 1.0 and policy.factor_capital is not None) or \
        policy.sector_book_share < 1.0 or policy.country_book_share < 1.0


def book_sector(nace: str) -> str:
    """The sector a pair counts in for the book's sector cap: its debtor's NACE section
    (an unknown code is a sector of its own, ``?<code>``)."""
    try:
        return nace_section(nace)
    except ValueError:
        return f"?{nace}"


def cap_alone(approved: FloatArray, protected: FloatArray, group: Any, sector: Any,
              country: Any, rest: BookRest, policy: BookPolicy) -> BookCaps:
    """:func:`book_caps` of a few pairs decided alone against the rest of the book.

    The rest's rows are ``fixed`` (they keep their limits and use up their share of
    each cap), so the pairs get what the batch's whole-book pass would leave them when
    the rest of the book is what the register holds: the same rule, the same function.

    Parameters
    ----------
    approved, protected : numpy.ndarray
        The pairs' amounts after their debtor's capacity, and their approved
        outstanding, in the book's currency.
    group, sector, country : array-like
        Each pair's connected group (a debtor without one passes its own id), NACE
        section and country.
    rest : BookRest
    policy : BookPolicy

    Returns
    -------
    BookCaps
        Of the pairs only (the rest's rows are dropped).

    Examples
    --------
    A group member asks 200,000 while the group's other members hold 150,000 of a
    25 % x 1,000,000 cap: it keeps 100,000 (hand calculation: 250,000 - 150,000).

    >>> import dataclasses
    >>> from riskengine.config import load_policy
    >>> book = dataclasses.replace(load_policy().with_factor_capital(1_000_000).book,
    ...                            sector_book_share=1.0)
    >>> rest = BookRest(("G1",), ("C",), ("GR",), (150_000.0,))
    >>> r = cap_alone(np.array([200_000.0]), np.zeros(1), ["G1"], ["C"], ["GR"], rest, book)
    >>> r.approved.tolist(), r.bound["group_cap"].tolist()
    ([100000.0], [True])
    """
    m = np.asarray(approved).shape[0]
    k = len(rest.amount)
    rest_group = [g if g is not None else f"\x00rest{i}" for i, g in enumerate(rest.group)]
    caps = book_caps({
        "approved": np.concatenate((np.asarray(approved, dtype=np.float64),
                                    np.asarray(rest.amount, dtype=np.float64))),
        "protected": np.concatenate((np.asarray(protected, dtype=np.float64), np.zeros(k))),
        "group": [*(str(g) for g in group), *rest_group],
        "sector": [*(str(s) for s in sector), *rest.sector],
        "country": [*(str(c) for c in country), *rest.country],
        "fixed": np.concatenate((np.zeros(m, dtype=bool), np.ones(k, dtype=bool))),
    }, policy)
    return BookCaps(caps.approved[:m], {name: hit[:m] for name, hit in caps.bound.items()},
                    caps.caps)
