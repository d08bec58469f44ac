"""SYNTHETIC exposures: supplier-debtor pairs (sales, terms, limit decision) and related parties."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskengine.synthetic.calibration import (
    _CREDIT_DAYS,
    _CREDIT_DAYS_P,
    _FX,
    _RELATION_OTHER,
    _SUPPLIER_CURRENCIES,
)
from riskengine.synthetic.debtors import _Debtors, _Suppliers
from riskengine.synthetic.frames import _F, _expand, _expit


@dataclass(frozen=True, slots=True)
class _Pairs:
    owner: _F  # debtor index, rows sorted by (debtor, supplier)
    pos: _F  # 0 or 1 within the debtor
    supplier: _F
    currency: _F  # index into _SUPPLIER_CURRENCIES
    annual_sales: _F  # true value, pair currency
    credit_days: _F  # true value
    sales_missing: _F
    days_missing: _F
    requested: _F
    approved_limit: _F


def _make_pairs(d: _Debtors, s: _Suppliers, rng: np.random.Generator) -> _Pairs:
    """1-2 suppliers per debtor, with sales, terms and the factor's limit decision."""
    n, n_s = d.w.size, s.ids.size
    n_pairs = np.minimum(1 + (rng.random(n) < 0.45), n_s)
    owner, pos, _ = _expand(n_pairs)
    p = owner.size
    first = rng.choice(n_s, size=n, p=s.weight)
    other = rng.choice(n_s, size=n, p=s.weight)
    clash = other == first
    other = np.where(clash, (first + 1 + rng.integers(0, max(n_s - 1, 1), size=n)) % n_s, other)
    # rows sorted by (debtor, supplier): the smaller supplier index comes first
    low = np.where(n_pairs == 2, np.minimum(first, other), first)
    supplier = np.where(pos == 0, low[owner], np.maximum(first, other)[owner])
    currency = s.currency[supplier]
    fx = np.array([_FX[c[0]] for c in _SUPPLIER_CURRENCIES])[currency]
    share = np.clip(np.exp(np.log(0.04) + 0.8 * rng.standard_normal(p)), 0.002, 0.5)
    annual_sales = np.round(d.revenue_eur[owner] * share * fx)
    credit_days = _CREDIT_DAYS[rng.choice(_CREDIT_DAYS.size, size=p, p=_CREDIT_DAYS_P)]
    sales_missing = rng.random(p) < 0.03
    days_missing = rng.random(p) < 0.02
    requested = np.round(annual_sales * credit_days / 360.0, -2)  # seed 003: sales x days / 360
    frac = _expit(2.2 - 1.6 * d.w[owner] + 0.5 * rng.standard_normal(p))
    frac = np.where(frac >= 0.75, 1.0, np.where(frac < 0.15, 0.0, frac))  # full / partial / refused
    approved = np.where(frac == 1.0, requested, np.floor(requested * frac / 500.0) * 500.0)
    return _Pairs(
        owner, pos, supplier, currency, annual_sales, credit_days, sales_missing, days_missing,
        requested, approved,
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
