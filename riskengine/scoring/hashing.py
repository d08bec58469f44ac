"""The input hash's scheme: its version prefix, the tables of a debtor block, the kinds.

A decision's ``input_hash`` is the sha256 of a canonical binary document of
everything that decided it; the layout is described, and written, in
:mod:`riskengine.scoring.records` (one encoder for one debtor and for a batch).
Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HASH_SCHEME", "DEBTOR_TABLES", "KIND_CODE", "PAIR_EXTRAS", "SUPPLIER_EXTRAS",
           "hash_kind"]

#: Prefix of every pair document (the version of this encoding). 3: the supplier's
#: assessment columns in its record, nullable flags as numbers, and the supplier's
#: rating and debtor dispersion after the pair's terms (:data:`SUPPLIER_EXTRAS`).
HASH_SCHEME = b"riskengine/input-hash/3\n"

#: The record tables of a debtor block, in block order (after the debtor record).
DEBTOR_TABLES = ("statements", "adverse_records", "invoices")

#: Encoding of each contract column kind: 0 float64, 1 date (int64 days), 2 bool (one
#: byte), 3 text (uint32 length + UTF-8).
KIND_CODE = {"float": 0, "int": 0, "date": 1, "bool": 2, "str": 3, "category": 3}

#: The columns of a pair's terms after its exposure and supplier records: (name, kind).
PAIR_EXTRAS = (("relation_type", "str"), ("product", "str"), ("insurer_limit", "float"))

#: What decides a pair beyond its records, known once the supplier is rated (the core
#: appends it to the pair's terms): the grade index of the supplier's own rating (0:
#: not rated; one byte) and the dispersion (HHI) of its debtors (float64, NaN unknown).
SUPPLIER_EXTRAS = (("supplier_rating", "uint8"), ("supplier_debtor_hhi", "float"))


def hash_kind(column: Any) -> str:
    """The kind a contract column is encoded as: its own, except a nullable flag, encoded
    as a number (1, 0, NaN when missing) so that a missing flag differs from false."""
    return "float" if column.kind == "bool" and column.nullable else str(column.kind)
