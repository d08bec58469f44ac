"""SYNTHETIC exposures: supplier-debtor pairs (sales, terms, limit decision) and related parties."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskengine.contracts.schemas import CURRENCIES
from riskengine.synthetic.calibration import (
    _CREDIT_DAYS,
    _CREDIT_DAYS_P,
    _FX,
    _MIN_PAIR_SALES_EUR,
    _OWN_CURRENCY_SUPPLIER,
    _RELATION_OTHER,
    _SUPPLIER_CURRENCIES,
)
from riskengine.synthetic.debtors import _Debtors, _Suppliers
from riskengine.synthetic.frames import _F, _expand


@dataclass(frozen=True, slots=True)
class _Pairs:
    owner: _F  # debtor index, rows sorted by (debtor, supplier)
    pos: _F  # 0 or 1 within the debtor
    supplier: _F
    currency: _F  # index into _SUPPLIER_CURRENCIES: the supplier's invoicing currency
    annual_sales: _F  # true value, pair currency
    credit_days: _F  # true value
    sales_missing: _F
    days_missing: _F
    requested: _F  # the supplier's request, pair currency (never missing here)


def _supplier_pools(d: _Debtors, s: _Suppliers, rng: np.random.Generator) -> _F:
    """The currency pool each debtor buys from: a code into _SUPPLIER_CURRENCIES, -1 = all.

    A debtor whose local currency some suppliers invoice in buys from them with the
    probability of ``_OWN_CURRENCY_SUPPLIER``; every other debtor buys from the euro
    suppliers (from all suppliers when there is none).
    """
    n = d.w.size
    local = np.asarray(CURRENCIES, dtype=object)[d.currency]
    present = np.bincount(s.currency, minlength=len(_SUPPLIER_CURRENCIES)) > 0
    eur = _SUPPLIER_CURRENCIES.index("EUR")
    pool = np.full(n, eur if present[eur] else -1, dtype=np.int64)
    u = rng.random(n)
    for code, p in _OWN_CURRENCY_SUPPLIER.items():  # three currencies, not debtors
        k = _SUPPLIER_CURRENCIES.index(code)
        if present[k]:
            pool = np.where((local == code) & (u < p), k, pool)
    return pool


def _draw_in_pools(pool: _F, s: _Suppliers, u_first: _F, u_other: _F, u_clash: _F) -> tuple[
        _F, _F]:
    """A first and a different second supplier per debtor, by popularity within its pool.

    A pool of one supplier takes the second supplier from all suppliers.
    """
    n_s = s.ids.size
    first = np.zeros(pool.size, dtype=np.int64)
    other = np.zeros(pool.size, dtype=np.int64)
    for k in np.unique(pool):  # at most five pools
        rows = np.flatnonzero(pool == k)
        members = np.arange(n_s) if k < 0 else np.flatnonzero(s.currency == k)
        cum = np.cumsum(s.weight[members])
        size = members.size

        def pick(u: _F, members: _F = members, cum: _F = cum, size: int = size) -> _F:
            at = np.searchsorted(cum, u * cum[-1], side="right")
            return np.asarray(members[np.minimum(at, size - 1)])

        f, o = pick(u_first[rows]), pick(u_other[rows])
        if size > 1:  # a clash moves to another member of the pool
            shift = 1 + (u_clash[rows] * (size - 1)).astype(np.int64)
            where = np.searchsorted(members, f)
            o = np.where(o == f, members[(where + shift) % size], o)
        elif n_s > 1:
            shift = 1 + (u_clash[rows] * (n_s - 1)).astype(np.int64)
            o = (f + shift) % n_s
        first[rows], other[rows] = f, o
    return first, other


def _make_pairs(d: _Debtors, s: _Suppliers, unit: float, rng: np.random.Generator) -> _Pairs:
    """1-2 suppliers per debtor, with sales, terms and the supplier's limit request.

    ``unit`` is the policy's rounding unit of limits: a request is
    ``annual sales x credit days / 360`` (seed 003) rounded to it, at least one unit.
    """
    n, n_s = d.w.size, s.ids.size
    n_pairs = np.minimum(1 + (rng.random(n) < 0.45), n_s)
    owner, pos, _ = _expand(n_pairs)
    p = owner.size
    pool = _supplier_pools(d, s, rng)
    first, other = _draw_in_pools(pool, s, rng.random(n), rng.random(n), rng.random(n))
    # rows sorted by (debtor, supplier): the smaller supplier index comes first
    low = np.where(n_pairs == 2, np.minimum(first, other), first)
    supplier = np.where(pos == 0, low[owner], np.maximum(first, other)[owner])
    currency = s.currency[supplier]
    fx = np.array([_FX[c] for c in _SUPPLIER_CURRENCIES])[currency]
    share = np.clip(np.exp(np.log(0.04) + 0.8 * rng.standard_normal(p)), 0.002, 0.5)
    sales_eur = d.revenue_eur[owner] * share
    # a pair is factored only above a minimum of sales (below it, jittered up to twice it)
    floor = np.minimum(_MIN_PAIR_SALES_EUR, 0.5 * d.revenue_eur[owner])
    sales_eur = np.where(sales_eur < floor, floor * (1.0 + rng.random(p)), sales_eur)
    annual_sales = np.round(sales_eur * fx)
    credit_days = _CREDIT_DAYS[rng.choice(_CREDIT_DAYS.size, size=p, p=_CREDIT_DAYS_P)]
    sales_missing = rng.random(p) < 0.03
    days_missing = rng.random(p) < 0.02
    # seed 003: requested limit = annual sales x credit days / 360, in whole units
    requested = np.maximum(np.round(annual_sales * credit_days / 360.0 / unit), 1.0) * unit
    return _Pairs(
        owner, pos, supplier, currency, annual_sales, credit_days, sales_missing, days_missing,
        requested,
    )  # fmt: skip


def _make_relations(
    d: _Debtors, n_s: int, pr: _Pairs, rng: np.random.Generator
) -> tuple[_F, _F, _F, _F]:
    """Suppliers' group membership and supplier-debtor related-party links.

    Returns the supplier group index (-1 none) and the relation rows
    (supplier, debtor, relation type index into ``same_group`` + _RELATION_OTHER).
    """
    owner, supplier = pr.owner, pr.supplier
    s_group = np.full(n_s, -1, dtype=np.int64)
    grouped_pairs = np.flatnonzero(d.group[owner] >= 0)
    if grouped_pairs.size:  # ~1% of suppliers join the group of one of their debtors
        shuffled = rng.permutation(grouped_pairs)
        _, first_idx = np.unique(supplier[shuffled], return_index=True)
        chosen = shuffled[np.sort(first_idx)][: max(1, round(0.01 * n_s))]
        _, keep = np.unique(d.group[owner[chosen]], return_index=True)  # one per group
        chosen = chosen[keep]
        s_group[supplier[chosen]] = d.group[owner[chosen]]
    # every debtor of a group a supplier joined is its related party (same_group)
    group_to_supplier = np.full(d.group_ids.size, -1, dtype=np.int64)
    linked = np.flatnonzero(s_group >= 0)
    group_to_supplier[s_group[linked]] = linked
    rel_debtor = np.flatnonzero(d.group >= 0)
    rel_debtor = rel_debtor[group_to_supplier[d.group[rel_debtor]] >= 0]
    rel_supplier = group_to_supplier[d.group[rel_debtor]]
    # other links on ~0.2% of pairs not already related through a group
    other_pairs = np.flatnonzero(rng.random(owner.size) < 0.002)
    debtor_group = d.group[owner[other_pairs]]
    same = (debtor_group >= 0) & (s_group[supplier[other_pairs]] == debtor_group)
    other_pairs = other_pairs[~same]
    o_p = np.array([x[1] for x in _RELATION_OTHER])
    o_type = 1 + rng.choice(len(o_p), size=other_pairs.size, p=o_p)
    rel_d = np.concatenate([rel_debtor, owner[other_pairs]])
    rel_s = np.concatenate([rel_supplier, supplier[other_pairs]])
    rel_t = np.concatenate([np.zeros(rel_debtor.size, dtype=np.int64), o_type])
    order = np.argsort(rel_d * n_s + rel_s)
    return s_group, rel_s[order], rel_d[order], rel_t[order]
