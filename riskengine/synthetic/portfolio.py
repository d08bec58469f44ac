"""The SYNTHETIC portfolio: the contract tables together, and the manifest that labels them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts.dates import as_of_day
from riskengine.contracts.schemas import CONTRACTS, REFERENCE_TABLES
from riskengine.synthetic.adverse import _make_adverse
from riskengine.synthetic.assessment import ASSESSMENT_COLUMNS, _supplier_assessment
from riskengine.synthetic.calibration import (
    _COUNTRIES,
    _FX,
    _RELATION_OTHER,
    _SUPPLIER_CURRENCIES,
)
from riskengine.synthetic.debtors import (
    _check_n,
    _Debtors,
    _draw_suppliers,
    _latent,
    _make_debtors,
    _Suppliers,
)
from riskengine.synthetic.exposures import _make_pairs, _make_relations, _Pairs
from riskengine.synthetic.frames import (
    _F,
    _codes,
    _conform,
    _dates,
    _frame,
    _Gather,
    _ids,
    _nullable_int,
    _optional_take,
    _rngs,
    _str,
    _width,
)
from riskengine.synthetic.fx import _make_fx_rates, as_of_rates
from riskengine.synthetic.insurers import _make_insurer_limits
from riskengine.synthetic.invoices import _Invoices, _make_invoices
from riskengine.synthetic.limits import _debtor_view, _limits_in_force, _Shipped, _shipped, _View
from riskengine.synthetic.statements import _make_statements

__all__ = ["DEFAULT_AS_OF", "GENERATOR_VERSION", "generate_portfolio", "synthetic_manifest"]

#: As-of date of the bundled demo portfolio.
DEFAULT_AS_OF = "2026-06-30"
#: Bumped whenever the same seed would produce different frames. 2 (issue 16): the
#: loss-making share calibrated, currencies by country, requests in whole units, limits
#: in force made by the shipped policy, insurer limits, FX rates, supplier assessment.
GENERATOR_VERSION = 2
#: The tables the generator makes beyond the seven of issue 1 (written into a portfolio
#: only when the contracts declare them).
EXTRA_TABLES = ("fx_rates", "insurer_limits")


@dataclass(frozen=True, slots=True)
class _Sales:
    """What the trade between suppliers and debtors leaves before any limit is decided."""

    pairs: _Pairs
    invoices: pd.DataFrame  # the invoices table
    balance: _F  # per pair: open invoices net of credit notes
    ledger: _F  # per supplier: the receivables ledger, its currency
    s_group: _F  # per supplier: group index, -1 none
    relations: tuple[_F, _F, _F]  # relation rows: supplier, debtor, type
    related: _F  # per pair: bool, a related party
    invoiced: _F  # per supplier: invoice amounts
    credit_notes: _F  # per supplier: credit notes


def _make_sales(d: _Debtors, s: _Suppliers, as_of: int, unit: float,
                rngs: dict[str, np.random.Generator]) -> _Sales:
    """Pairs, invoices, balances, ledgers and related parties (the invoices' arrays are
    freed here, before the statements are made: the peak memory of a big book)."""
    pr = _make_pairs(d, s, unit, rngs["exposures"])
    inv = _make_invoices(d, pr, as_of, rngs["invoices"])
    return _sales_of(d, s, pr, inv, rngs["exposures"])


def _sales_of(d: _Debtors, s: _Suppliers, pr: _Pairs, inv: _Invoices,
              rng_e: np.random.Generator) -> _Sales:
    """The sales of :func:`_make_sales` from given pairs and invoices (a history's
    invoices: :mod:`riskengine.synthetic.history`); ``rng_e`` continues the pairs' stream."""
    n_s = s.ids.size
    p, m = pr.owner.size, inv.pair.size
    # balances: open invoices net of credit notes (split at the approved limit later)
    open_net = np.where(inv.open, np.maximum(inv.amount - inv.credit_note, 0.0), 0.0)
    balance = np.bincount(inv.pair, weights=open_net, minlength=p)
    del open_net
    # suppliers' ledgers exceed their exposures (they also sell outside the portfolio)
    s_balance = np.bincount(pr.supplier, weights=np.round(balance, 2), minlength=n_s)
    s_fx = np.array([_FX[c] for c in _SUPPLIER_CURRENCIES])[s.currency]
    ledger = np.where(
        s_balance > 0, s_balance * (1.15 + 0.85 * rng_e.random(n_s)), s.fallback_ledger_eur * s_fx
    )
    s_group, rel_s, rel_d, rel_t = _make_relations(d, n_s, pr, rng_e)
    # related pairs: a relation row (a supplier in the debtor's group has one)
    related = np.zeros(p, dtype=bool)
    if rel_s.size:
        related = np.isin(pr.owner * n_s + pr.supplier, rel_d * n_s + rel_s)
    inv_supplier = pr.supplier[inv.pair]
    invoiced = np.bincount(inv_supplier, weights=inv.amount, minlength=n_s)
    noted = np.bincount(inv_supplier, weights=inv.credit_note, minlength=n_s)
    currency_codes = _codes("invoices", "currency", list(_SUPPLIER_CURRENCIES))
    invoices = _frame(
        "invoices",
        {
            "invoice_id": _Gather(_ids("I", m, _width(m)), None),
            "supplier_id": _Gather(s.ids, inv_supplier),
            "debtor_id": _Gather(d.ids, pr.owner[inv.pair]),
            "amount": inv.amount,
            "currency": currency_codes[pr.currency[inv.pair]],
            "issue_date": _dates(inv.issue_day),
            "due_date": _dates(inv.due_day),
            "paid_date": _dates(inv.paid_day, inv.open),
            "credit_note_amount": inv.credit_note,
            "disputed_amount": inv.disputed,
        },
    )
    return _Sales(pr, invoices, balance, np.round(ledger, 2), s_group, (rel_s, rel_d, rel_t),
                  related, invoiced, noted)


def _make_book(d: _Debtors, s: _Suppliers, sales: _Sales, view: _View, as_of: int,
               rngs: dict[str, np.random.Generator]) -> dict[str, pd.DataFrame]:
    """Insurer limits, the limits in force and the tables that carry them (exposures,
    suppliers with their assessment, relations)."""
    shipped = _shipped()
    pr = sales.pairs
    n_s = s.ids.size
    ins = _make_insurer_limits(d.w, d.ids, s.ids, n_s, pr, view, as_of, shipped,
                               rngs["insurers"])
    approved = _limits_in_force(view, pr, sales.related, sales.ledger[pr.supplier], ins.limit,
                                ins.given, shipped.policy)
    approved_out = np.round(np.minimum(sales.balance, approved), 2)
    unapproved_out = np.round(np.maximum(sales.balance - approved_out, 0.0), 2)

    currency_codes = _codes("suppliers", "currency", list(_SUPPLIER_CURRENCIES))
    rel_names = ["same_group"] + [x[0] for x in _RELATION_OTHER]
    rel_s, rel_d, rel_t = sales.relations
    assessment = _supplier_assessment(s, sales.invoiced, sales.credit_notes,
                                      rngs["assessment"])
    declared = CONTRACTS["suppliers"].names
    suppliers = _frame(
        "suppliers",
        {
            "supplier_id": s.ids,
            "name": s.name.array,
            "country": _str(list(_COUNTRIES), s.country),
            "nace": _str(s.nace),
            "group_id": _optional_take(d.group_ids, sales.s_group),
            "ledger_total": sales.ledger,
            "currency": currency_codes[s.currency],
            **{k: _declared(k, v) for k, v in assessment.items() if k in declared},
        },
    )
    for k in ASSESSMENT_COLUMNS:  # not (yet) in the contract: kept after its columns
        if k not in declared:
            suppliers[k] = assessment[k]
    return {
        "suppliers": suppliers,
        "exposures": _frame(
            "exposures",
            {
                "supplier_id": _Gather(s.ids, pr.supplier),
                "debtor_id": _Gather(d.ids, pr.owner),
                "currency": currency_codes[pr.currency],
                "requested_limit": np.where(
                    pr.sales_missing | pr.days_missing, np.nan, pr.requested
                ),
                "approved_limit": approved,
                "approved_outstanding": approved_out,
                "unapproved_outstanding": unapproved_out,
                "annual_sales": np.where(pr.sales_missing, np.nan, pr.annual_sales),
                "credit_days": _nullable_int(pr.credit_days, pr.days_missing),
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
        "insurer_limits": ins.frame,
    }


def _declared(column: str, values: Any) -> Any:
    """A suppliers column for ``_frame``: category columns as codes into the contract's list."""
    col = CONTRACTS["suppliers"].column(column)
    if col.kind != "category":
        return values
    codes = pd.Categorical(np.asarray(values, dtype=object), categories=list(col.allowed)).codes
    if (codes < 0).any():  # pragma: no cover - a programming error, caught by the tests
        raise AssertionError(f"suppliers.{column}: a value outside {col.allowed}")
    return codes.astype(np.int64)


# --- public entry point ------------------------------------------------------------------


def _base_book(n_debtors: int, seed: int, as_of: Any, n_suppliers: int | None
               ) -> tuple[int, dict[str, np.random.Generator], _Debtors, _Suppliers, _Shipped]:
    """What every generated book starts from (the plain one and a history): the as-of day,
    the seeded streams, the debtors, the suppliers and the shipped engine's settings."""
    _check_n(n_debtors, "n_debtors")
    n_s = max(2, n_debtors // 40) if n_suppliers is None else n_suppliers
    _check_n(n_s, "n_suppliers")
    day = as_of_day(as_of)
    rngs = _rngs(seed)
    lat = _latent(n_debtors, rngs["latent"])
    debtors = _make_debtors(n_debtors, lat, day, rngs["debtors"])
    return day, rngs, debtors, _draw_suppliers(n_s, rngs["suppliers"]), _shipped()


def _generate_all(n_debtors: int, seed: int, as_of: Any, n_suppliers: int | None
                  ) -> dict[str, pd.DataFrame]:
    """Every table the generator makes, whether or not the contracts declare it.

    The seven contract tables of issue 1 (``suppliers`` with the assessment columns,
    after the contract's own when the contract lacks them), ``fx_rates`` and
    ``insurer_limits`` (the columns of issue 16's shared decisions).
    """
    day, rngs, debtors, suppliers, shipped = _base_book(n_debtors, seed, as_of, n_suppliers)
    sales = _make_sales(debtors, suppliers, day, shipped.policy.limits.rounding_unit, rngs)
    statements = _make_statements(debtors, day, rngs["statements"])
    adverse, adverse_owner = _make_adverse(debtors, day, rngs["adverse"])
    view = _debtor_view(debtors, statements, adverse, adverse_owner, day, shipped)
    return _assemble(debtors, suppliers, sales, statements, adverse, view, day, rngs)


def _assemble(d: _Debtors, s: _Suppliers, sales: _Sales, statements: pd.DataFrame,
              adverse: pd.DataFrame, view: _View, day: int,
              rngs: dict[str, np.random.Generator],
              outcomes: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The tables of a book from its records and the factor's view (a history adds its
    ``outcomes``)."""
    book = _make_book(d, s, sales, view, day, rngs)
    made = {
        "debtors": d.frame,
        "suppliers": book["suppliers"],
        "statements": statements,
        "adverse_records": adverse,
        "invoices": sales.invoices,
        "exposures": book["exposures"],
        "relations": book["relations"],
        "fx_rates": _make_fx_rates(day, rngs["fx"]),
        "insurer_limits": book["insurer_limits"],
    }
    if outcomes is not None:
        made["outcomes"] = outcomes
    return made


def _declared_tables(made: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables the contracts declare, in contract order, each in its contract columns."""
    out: dict[str, pd.DataFrame] = {}
    for name in (*CONTRACTS, *REFERENCE_TABLES):  # fx_rates: a reference table
        if name not in made:
            continue
        frame = made[name]
        if name in EXTRA_TABLES or len(frame.columns) != len(CONTRACTS[name].columns):
            frame = _conform(name, frame)
        out[name] = frame
    return out


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
        One table per contract of :data:`riskengine.contracts.schemas.CONTRACTS`
        that the generator makes, in contract order: ``debtors, suppliers,
        statements, adverse_records, invoices, exposures, relations``, and
        ``insurer_limits`` when the contracts declare it, then ``fx_rates`` (a
        reference table, :data:`~riskengine.contracts.schemas.REFERENCE_TABLES`); each
        with exactly the contract columns (the suppliers' assessment columns when
        the contract has them), in contract order, with the dtypes of
        :func:`contract_dtypes` and a RangeIndex.

    Notes
    -----
    Everything is synthetic; see the docstring of :mod:`riskengine.synthetic`
    for the generating process and the statement conventions. The latent PD of
    each debtor is :func:`latent_pd` ``(n_debtors, seed)``. Sizes per debtor on average:
    about 3.1 statements, 0.25 adverse records (14% of debtors have at least
    one), 6.5 invoices, 1.45 supplier pairs. The limits in force are decided by
    the shipped credit policy (read once from the package's ``policy.toml``).

    Examples
    --------
    >>> frames = generate_portfolio(50, seed=7)
    >>> [name for name in frames][:7]  # doctest: +NORMALIZE_WHITESPACE
    ['debtors', 'suppliers', 'statements', 'adverse_records', 'invoices',
     'exposures', 'relations']
    >>> len(frames["debtors"])
    50
    """
    return _declared_tables(_generate_all(n_debtors, seed, as_of, n_suppliers))


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
        # (the as-of rows of the generated fx_rates table)
        "fx_rates": as_of_rates(),
    }
