"""The input hash's canonical encoding of one value (the per-value reference).

A decision's ``input_hash`` is the sha256 of a canonical binary document of
everything that decided it; the layout is described in :mod:`riskengine.scoring.records`
(the batch writer, :func:`riskengine.scoring.records.encode_records`). This module holds
the pieces both paths share: the scheme prefix, the tables of a debtor block and
:func:`encode_value`, which the single-debtor path uses value by value and
tests/test_engine.py checks against the batch writer. Pure: no I/O.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from riskengine.contracts import schemas

__all__ = ["HASH_SCHEME", "DEBTOR_TABLES", "encode_value", "column_kinds"]

#: Prefix of every pair document (the version of this encoding).
HASH_SCHEME = b"riskengine/input-hash/2\n"
_NAN_BYTES = struct.pack("<Q", 0x7FF8000000000000)
_NAT_BYTES = struct.pack("<q", np.iinfo(np.int64).min)
_NULL_STR = b"\xff\xff\xff\xff"
_PACK_D = struct.Struct("<d").pack
_PACK_Q = struct.Struct("<q").pack
_PACK_I = struct.Struct("<I").pack
_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()


def encode_value(v: Any, kind: str) -> bytes:
    """One value's canonical bytes (the per-value twin of :func:`riskengine.scoring.records.encode_records`).

    ``kind`` is a contract column kind (``"category"`` counts as ``"str"``);
    dates are ``datetime.date`` objects.
    """
    if kind in ("float", "int"):
        if v is None:
            return _NAN_BYTES
        f = float(v)
        return _NAN_BYTES if f != f else _PACK_D(f)
    if kind == "date":
        return _NAT_BYTES if v is None else _PACK_Q(v.toordinal() - _EPOCH_ORDINAL)
    if kind == "bool":
        return b"\x01" if v else b"\x00"
    if v is None:
        return _NULL_STR
    e = str(v).encode("utf-8")
    return _PACK_I(len(e)) + e


#: The record tables of a debtor block, in block order (after the debtor record).
DEBTOR_TABLES = ("statements", "adverse_records", "invoices")


def column_kinds(contract: schemas.TableContract) -> dict[str, str]:
    """Encoding kind of each column of a table contract (``"category"`` is ``"str"``)."""
    return {c.name: ("str" if c.kind == "category" else c.kind) for c in contract.columns}
