"""SYNTHETIC supplier assessment: what the factor notes about a client beyond its accounts.

Seed 003 assesses the supplier like a debtor, more strictly, plus (DOMAIN.md §3, §6):
its sector's condition and outlook, goods versus services (goods are safer),
perishable goods (fresh food and fish are risky) versus standardised, packaged,
non-perishable ones (packaging, detergents, building materials are ideal),
consignment sales, and credit notes and returns. The columns (shared decisions of
issue 16, all nullable in the ``suppliers`` contract):

- ``sector_outlook`` in {positive, stable, negative}: drawn by sector
  (``calibration._SUPPLIER_SECTORS``);
- ``goods_or_services`` in {goods, services, mixed}: by sector;
- ``perishable``, ``standardised_goods``: by NACE class (fresh food, fish and
  bakery perishable; packaging, detergents, plastics, concrete and building
  materials standardised); never for a services supplier;
- ``consignment_share`` (0..1): most suppliers sell nothing on consignment, goods
  sellers sometimes a share;
- ``credit_note_share`` (0..1): the supplier's credit notes and returns over its
  invoiced sales in the generated invoices (the book's own figure), drawn for a
  supplier without invoices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from riskengine.synthetic.calibration import (
    _CONSIGNMENT,
    _PERISHABLE_NACE,
    _SECTOR_NAMES,
    _STANDARDISED_NACE,
    _SUPPLIER_SECTORS,
)
from riskengine.synthetic.debtors import _Suppliers
from riskengine.synthetic.frames import _F, _choice_rows, _str

#: The columns, in the order of the shared decisions.
ASSESSMENT_COLUMNS = ("sector_outlook", "goods_or_services", "perishable",
                      "standardised_goods", "consignment_share", "credit_note_share")
_OUTLOOKS = ("positive", "stable", "negative")
_KINDS = ("goods", "services", "mixed")


def _supplier_assessment(s: _Suppliers, invoiced: _F, credit_notes: _F,
                         rng: np.random.Generator) -> dict[str, Any]:
    """The assessment columns of every supplier (arrays in supplier order).

    ``invoiced`` and ``credit_notes`` are each supplier's invoice amounts and
    credit notes in the generated invoices.
    """
    n_s = s.ids.size
    params = [_SUPPLIER_SECTORS[name] for name in _SECTOR_NAMES]
    outlook_p = np.array([p[0] for p in params])[s.sector]
    kind_p = np.array([p[1] for p in params])[s.sector]
    outlook = _choice_rows(rng, outlook_p)
    kind = _choice_rows(rng, kind_p)
    services = kind == _KINDS.index("services")
    nace = np.asarray(s.nace, dtype=object)
    perishable = np.isin(nace, _PERISHABLE_NACE) & ~services
    standardised = np.isin(nace, _STANDARDISED_NACE) & ~services
    sells_consigned = ~services & (rng.random(n_s) < _CONSIGNMENT[0])
    consignment = np.where(sells_consigned, np.round(rng.beta(*_CONSIGNMENT[1:], size=n_s), 4),
                           0.0)
    drawn = rng.beta(1.5, 60.0, size=n_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(invoiced > 0, credit_notes / invoiced, drawn)
    return {
        "sector_outlook": _str(_OUTLOOKS, outlook),
        "goods_or_services": _str(_KINDS, kind),
        "perishable": perishable,
        "standardised_goods": standardised,
        "consignment_share": consignment,
        "credit_note_share": np.round(np.clip(share, 0.0, 1.0), 6),
    }
