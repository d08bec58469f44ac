"""SYNTHETIC financial statements: fiscal years, revenue paths, line items with exact identities."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts.schemas import LINE_ITEMS, STATEMENT_TYPES
from riskengine.synthetic.calibration import _EBITDA_MARGIN_BASE, _FORMS, _SECTORS
from riskengine.synthetic.debtors import _Debtors
from riskengine.synthetic.frames import (
    _F,
    _choice_rows,
    _dates,
    _expand,
    _expit,
    _frame,
    _Gather,
    _month_end_days,
)

# --- statements ------------------------------------------------------------------------

_BALANCE_ITEMS = (
    "cash", "receivables", "inventory", "current_assets", "total_assets", "current_liabilities",
    "long_term_debt", "total_liabilities", "equity", "retained_earnings", "market_value",
)  # fmt: skip


def _make_statements(d: _Debtors, as_of: int, rng: np.random.Generator) -> pd.DataFrame:
    n = d.w.size
    w = d.w
    # how many fiscal years: mostly 3, fewer for young firms
    k_draw = rng.choice(6, size=n, p=[0.02, 0.03, 0.05, 0.65, 0.15, 0.10])
    fy_month = np.where(rng.random(n) < 0.06, 6, 12)
    cutoff = as_of - 120  # accounts are filed some months after year end
    year = (np.datetime64(int(cutoff), "D").astype("datetime64[Y]").astype(np.int64)) + 1970
    latest_end = _month_end_days(np.full(n, year), fy_month)
    latest_year = np.where(latest_end <= cutoff, year, year - 1)
    stale = rng.random(n) < 0.10 + 0.08 * (w > 1.0)
    latest_year = latest_year - stale
    latest_end = _month_end_days(latest_year, fy_month)
    # every period_end falls after incorporation (b years back is at most 366 b days)
    possible = np.where(latest_end > d.inc_day, (latest_end - d.inc_day - 1) // 366 + 1, 0)
    k = np.minimum(k_draw, possible)
    owner, pos, _ = _expand(k)
    back = k[owner] - 1 - pos  # fiscal years before the latest: rows run oldest first
    m = owner.size
    wd = w[owner]

    period_end = _month_end_days(latest_year[owner] - back, fy_month[owner])

    # revenue path: latest revenue, back-cast with debtor trend + yearly noise. The
    # cumulative growth is summed newest first, i.e. over the reversed arrays.
    trend = 0.04 - 0.04 * w + 0.05 * rng.standard_normal(n)
    growth = trend[owner] + (0.08 + 0.04 * np.abs(wd)) * rng.standard_normal(m)
    step_rev = np.where(back == 0, 0.0, growth)[::-1]
    cum_rev = np.cumsum(step_rev)
    latest_rows = np.flatnonzero(back[::-1] == 0)
    base = np.zeros(n)
    base[owner[::-1][latest_rows]] = cum_rev[latest_rows]
    cum = (cum_rev - base[owner[::-1]])[::-1]
    del step_rev, cum_rev, growth
    fx = d.fx[owner]
    rev = d.revenue_eur[owner] * np.exp(-cum) * fx
    del cum

    type_p = np.array([f[3] for f in _FORMS.values()])[d.form]
    st_type = _choice_rows(rng, type_p)[owner]
    return _statement_frame(d, owner, period_end, st_type, wd, rev, fx, rng)


def _statement_frame(d: _Debtors, owner: _F, period_end: _F, st_type: _F, wd: _F, rev: _F,
                     fx: _F, rng: np.random.Generator) -> pd.DataFrame:
    """The statements frame of the rows ``owner`` (debtor index, oldest first by debtor):
    their line items (:func:`_line_items`, weakness ``wd`` and revenue ``rev`` by row), a
    tax return without a balance sheet. Shared by a book and a history's fiscal years."""
    block = _line_items(d, owner, wd, rev, fx, rng)
    items = (*LINE_ITEMS, "market_value")
    balance = [items.index(i) for i in _BALANCE_ITEMS]
    tax_return = st_type == STATEMENT_TYPES.index("tax_return")
    for row in balance:  # a tax return carries no balance sheet
        block[row, tax_return] = np.nan
    floats = pd.DataFrame(block.T, columns=list(items), copy=False)
    cols: dict[str, Any] = {
        "debtor_id": _Gather(d.ids, owner),
        "period_end": _dates(period_end),
        "statement_type": st_type,
        "currency": d.currency[owner],
    }
    return _frame("statements", cols, base=floats)


def _line_items(d: _Debtors, owner: _F, wd: _F, rev: _F, fx: _F, rng: np.random.Generator) -> _F:
    """The (line item x row) float block of the statements, identities exact.

    Rows of the block follow ``LINE_ITEMS`` then ``market_value``; every
    amount is a whole currency unit and derived items are differences of
    rounded items, so the identities of the :mod:`riskengine.synthetic`
    docstring hold exactly.
    """
    n, m = d.w.size, owner.size
    items = (*LINE_ITEMS, "market_value")
    block = np.empty((len(items), m))
    it = {name: block[i] for i, name in enumerate(items)}

    sec = d.sector[owner]
    params = list(_SECTORS.values())
    ta_ratio = np.array([p[4] for p in params])[sec]
    firm = rng.standard_normal((6, n))  # debtor-level persistent noise
    noise = rng.standard_normal((4, m))
    f0 = firm[0][owner]
    gm = np.array([p[3] for p in params])[sec] + 0.06 * f0 - 0.03 * wd + 0.02 * noise[0]
    np.clip(gm, -0.05, 0.9, out=gm)
    em = _EBITDA_MARGIN_BASE - 0.05 * wd + 0.04 * firm[1][owner] + 0.03 * noise[1]
    em = np.clip(em, -0.5, gm - 0.02)

    revenue = it["revenue"]
    revenue[:] = np.maximum(np.round(rev), 1.0)
    it["cost_of_sales"][:] = np.round(revenue * (1.0 - gm))
    it["gross_profit"][:] = revenue - it["cost_of_sales"]
    it["operating_expenses"][:] = it["cost_of_sales"] + np.round(revenue * (gm - em))
    it["ebitda"][:] = revenue - it["operating_expenses"]
    del gm, em

    ta = rev * ta_ratio * np.exp(0.35 * firm[2][owner] + 0.08 * noise[2])
    ca_share = np.clip(np.array([p[5] for p in params])[sec] + 0.12 * firm[3][owner], 0.05, 0.98)
    parts = rng.gamma(np.array([p[6] for p in params])[sec])
    parts[:, 0] *= np.exp(-0.3 * wd)  # weak firms hold less cash
    parts /= parts.sum(axis=1, keepdims=True)
    ca = ta * ca_share
    for j, name in enumerate(("cash", "receivables", "inventory")):
        it[name][:] = np.round(ca * parts[:, j])
    current_assets = it["current_assets"]
    current_assets[:] = it["cash"] + it["receivables"] + it["inventory"]
    current_assets += np.maximum(np.round(ca * parts[:, 3]), 1.0)  # other current assets
    del parts, ca
    it["total_assets"][:] = current_assets + np.round(ta * (1.0 - ca_share))
    del ca_share

    lev = 1.15 * _expit(-0.1 + 0.9 * wd + 0.45 * firm[4][owner] + 0.1 * noise[3])
    tl = ta * lev
    del lev, ta
    cl_share = np.clip(0.55 + 0.15 * firm[5][owner], 0.2, 0.95)
    ltd_share = 0.4 + 0.55 * _expit(f0)
    it["current_liabilities"][:] = np.round(tl * cl_share)
    tl *= 1.0 - cl_share
    del cl_share
    it["long_term_debt"][:] = np.round(tl * ltd_share)
    total_liabilities = it["total_liabilities"]
    total_liabilities[:] = it["current_liabilities"] + it["long_term_debt"]
    total_liabilities += np.round(tl * (1.0 - ltd_share))  # other long-term liabilities
    del tl, ltd_share
    it["equity"][:] = it["total_assets"] - total_liabilities
    capital_share = 0.03 + 0.22 * rng.random(n)
    capital = np.round(capital_share[owner] * d.revenue_eur[owner] * fx * ta_ratio)
    it["retained_earnings"][:] = it["equity"] - capital
    del capital

    dep_rate = (0.05 + 0.09 * rng.random(n))[owner]
    it["depreciation_amortization"][:] = np.round((it["total_assets"] - current_assets) * dep_rate)
    it["ebit"][:] = it["ebitda"] - it["depreciation_amortization"]
    rate = 0.045 + 0.015 * np.maximum(wd, 0.0) + 0.02 * rng.random(m)
    it["interest_expense"][:] = np.round(
        (it["long_term_debt"] + 0.4 * it["current_liabilities"]) * rate
    )
    pre_tax = it["ebit"] - it["interest_expense"]
    it["net_income"][:] = np.round(pre_tax - 0.22 * np.maximum(pre_tax, 0.0))
    del pre_tax, rate

    listed = d.listed[owner]
    pb = np.exp(0.2 + 0.4 * rng.standard_normal(m))
    equity = it["equity"]
    it["market_value"][:] = np.where(
        listed, np.round(np.where(equity > 0, equity * pb, it["total_assets"] * 0.03)), np.nan
    )
    return block
