"""The SYNTHETIC portfolio: the seven contract tables together, and the manifest that labels them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts.dates import as_of_day
from riskengine.contracts.schemas import CONTRACTS
from riskengine.synthetic.adverse import _make_adverse
from riskengine.synthetic.calibration import _COUNTRIES, _FX, _RELATION_OTHER, _SUPPLIER_CURRENCIES
from riskengine.synthetic.debtors import (
    _check_n,
    _Debtors,
    _draw_suppliers,
    _latent,
    _make_debtors,
    _Suppliers,
)
from riskengine.synthetic.exposures import _make_pairs, _make_relations
from riskengine.synthetic.frames import (
    _codes,
    _dates,
    _frame,
    _Gather,
    _ids,
    _nullable_int,
    _optional_take,
    _rngs,
    _str,
    _width,
    contract_dtypes,
)
from riskengine.synthetic.invoices import _make_invoices
from riskengine.synthetic.statements import _make_statements

__all__ = ["DEFAULT_AS_OF", "GENERATOR_VERSION", "generate_portfolio", "synthetic_manifest"]

#: As-of date of the bundled demo portfolio.
DEFAULT_AS_OF = "2026-06-30"
#: Bumped whenever the same seed would produce different frames.
GENERATOR_VERSION = 1


def _make_trade(
    d: _Debtors, s: _Suppliers, as_of: int, rng_e: np.random.Generator, rng_i: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """Exposures, invoices, suppliers and relations (they share balances and links)."""
    n_s = s.ids.size
    pr = _make_pairs(d, s, rng_e)
    inv = _make_invoices(d, pr, as_of, rng_i)
    p, m = pr.owner.size, inv.pair.size
    # balances: open invoices net of credit notes, split at the approved limit
    open_net = np.where(inv.open, np.maximum(inv.amount - inv.credit_note, 0.0), 0.0)
    balance = np.bincount(inv.pair, weights=open_net, minlength=p)
    del open_net
    approved_out = np.round(np.minimum(balance, pr.approved_limit), 2)
    unapproved_out = np.round(np.maximum(balance - approved_out, 0.0), 2)
    # suppliers' ledgers exceed their exposures (they also sell outside the portfolio)
    s_balance = np.bincount(pr.supplier, weights=approved_out + unapproved_out, minlength=n_s)
    s_fx = np.array([_FX[c[0]] for c in _SUPPLIER_CURRENCIES])[s.currency]
    ledger = np.where(
        s_balance > 0, s_balance * (1.15 + 0.85 * rng_e.random(n_s)), s.fallback_ledger_eur * s_fx
    )
    s_group, rel_s, rel_d, rel_t = _make_relations(d, n_s, pr, rng_e)

    currency_codes = _codes("suppliers", "currency", [c[0] for c in _SUPPLIER_CURRENCIES])
    rel_names = ["same_group"] + [x[0] for x in _RELATION_OTHER]
    inv_supplier = pr.supplier[inv.pair]
    inv_owner = pr.owner[inv.pair]
    return {
        "suppliers": _frame(
            "suppliers",
            {
                "supplier_id": s.ids,
                "name": s.name.array,
                "country": _str(list(_COUNTRIES), s.country),
                "nace": _str(s.nace),
                "group_id": _optional_take(d.group_ids, s_group),
                "ledger_total": np.round(ledger, 2),
                "currency": currency_codes[s.currency],
            },
        ),
        "exposures": _frame(
            "exposures",
            {
                "supplier_id": _Gather(s.ids, pr.supplier),
                "debtor_id": _Gather(d.ids, pr.owner),
                "currency": currency_codes[pr.currency],
                "requested_limit": np.where(
                    pr.sales_missing | pr.days_missing, np.nan, pr.requested
                ),
                "approved_limit": pr.approved_limit,
                "approved_outstanding": approved_out,
                "unapproved_outstanding": unapproved_out,
                "annual_sales": np.where(pr.sales_missing, np.nan, pr.annual_sales),
                "credit_days": _nullable_int(pr.credit_days, pr.days_missing),
            },
        ),
        "invoices": _frame(
            "invoices",
            {
                "invoice_id": _Gather(_ids("I", m, _width(m)), None),
                "supplier_id": _Gather(s.ids, inv_supplier),
                "debtor_id": _Gather(d.ids, inv_owner),
                "amount": inv.amount,
                "currency": currency_codes[pr.currency[inv.pair]],
                "issue_date": _dates(inv.issue_day),
                "due_date": _dates(inv.due_day),
                "paid_date": _dates(inv.paid_day, inv.open),
                "credit_note_amount": inv.credit_note,
                "disputed_amount": inv.disputed,
            },
        ),
        "relations": _frame(
            "relations",
            {
                "supplier_id": _Gather(s.ids, rel_s),
                "debtor_id": _Gather(d.ids, rel_d),
                "relation_type": _codes("relations", "relation_type", rel_names)[rel_t],
            },
        ),
    }


# --- public entry point ------------------------------------------------------------------


def generate_portfolio(
    n_debtors: int,
    seed: int = 42,
    as_of: Any = DEFAULT_AS_OF,
    *,
    n_suppliers: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Generate a seeded SYNTHETIC portfolio following the data contracts.

    Parameters
    ----------
    n_debtors : int
        Number of debtors (>= 1). One million generates in seconds.
    seed : int
        Seed of every random draw; same arguments → identical frames.
    as_of : str or date-like
        Portfolio date: no record is dated after it (default ``2026-06-30``).
    n_suppliers : int, optional
        Number of suppliers (the factor's clients); default
        ``max(2, n_debtors // 40)``.

    Returns
    -------
    dict of str to pandas.DataFrame
        The tables of :data:`riskengine.contracts.schemas.CONTRACTS` (``debtors,
        suppliers, statements, adverse_records, invoices, exposures, relations``, and
        ``insurer_limits`` empty: a synthetic book holds no insurer data), each with exactly the contract columns, in contract
        order, with the dtypes of :func:`contract_dtypes` and a RangeIndex.

    Notes
    -----
    Everything is synthetic; see the docstring of :mod:`riskengine.synthetic`
    for the generating process and the statement conventions. The latent PD of
    each debtor is :func:`latent_pd` ``(n_debtors, seed)``. Sizes per debtor on average:
    about 3.1 statements, 0.25 adverse records (14% of debtors have at least
    one), 6.5 invoices, 1.45 supplier pairs.

    Examples
    --------
    >>> frames = generate_portfolio(50, seed=7)
    >>> sorted(frames)  # doctest: +NORMALIZE_WHITESPACE
    ['adverse_records', 'debtors', 'exposures', 'insurer_limits', 'invoices', 'relations',
     'statements', 'suppliers']
    >>> len(frames["debtors"])
    50
    """
    _check_n(n_debtors, "n_debtors")
    n_s = max(2, n_debtors // 40) if n_suppliers is None else n_suppliers
    _check_n(n_s, "n_suppliers")
    day = as_of_day(as_of)
    rngs = _rngs(seed)
    lat = _latent(n_debtors, rngs["latent"])
    debtors = _make_debtors(n_debtors, lat, day, rngs["debtors"])
    suppliers = _draw_suppliers(n_s, rngs["suppliers"])
    trade = _make_trade(debtors, suppliers, day, rngs["exposures"], rngs["invoices"])
    frames = {
        "debtors": debtors.frame,
        "suppliers": trade["suppliers"],
        "statements": _make_statements(debtors, day, rngs["statements"]),
        "adverse_records": _make_adverse(debtors, day, rngs["adverse"]),
        "invoices": trade["invoices"],
        "exposures": trade["exposures"],
        "relations": trade["relations"],
    }
    frames["insurer_limits"] = pd.DataFrame(
        {c: pd.Series([], dtype=d) for c, d in contract_dtypes("insurer_limits").items()})
    return {name: frames[name] for name in CONTRACTS}


def synthetic_manifest(n_debtors: int, seed: int, as_of: Any = DEFAULT_AS_OF) -> dict[str, Any]:
    """The manifest that labels a generated portfolio as synthetic.

    ``riskengine.io.portfolio.write_portfolio`` adds ``tables`` (rows per
    table) and ``format`` when it writes the files.

    Examples
    --------
    >>> synthetic_manifest(10, 1, "2026-06-30")["synthetic"]
    True
    """
    day = as_of_day(as_of)
    return {
        "synthetic": True,
        "generator": "riskengine.synthetic",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "n_debtors": int(n_debtors),
        "as_of": str(np.datetime64(day, "D")),
        "created_by": "riskengine demo-data",
        # Book-level figures (concentration shares, HHI) need one unit: amounts are
        # converted to the reporting currency with these rates (units of EUR per one
        # unit of the currency; the synthetic rates used to generate the amounts).
        "reporting_currency": "EUR",
        "fx_rates": {c: round(1.0 / r, 10) for c, r in sorted(_FX.items())},
    }
