"""The input hash's scheme: its version prefix, the tables of a debtor block, the kinds.

A decision's ``input_hash`` is the sha256 of a canonical binary document of
everything that decided it; the layout is described, and written, in
:mod:`riskengine.scoring.records` (one encoder for one debtor and for a batch).
Pure: no I/O.
"""

from __future__ import annotations

__all__ = ["HASH_SCHEME", "DEBTOR_TABLES", "KIND_CODE", "PAIR_EXTRAS"]

#: Prefix of every pair document (the version of this encoding).
HASH_SCHEME = b"riskengine/input-hash/2\n"

#: The record tables of a debtor block, in block order (after the debtor record).
DEBTOR_TABLES = ("statements", "adverse_records", "invoices")

#: Encoding of each contract column kind: 0 float64, 1 date (int64 days), 2 bool (one
#: byte), 3 text (uint32 length + UTF-8).
KIND_CODE = {"float": 0, "int": 0, "date": 1, "bool": 2, "str": 3, "category": 3}

#: The columns of a pair's terms after its exposure and supplier records: (name, kind).
PAIR_EXTRAS = (("relation_type", "str"), ("product", "str"), ("insurer_limit", "float"))
