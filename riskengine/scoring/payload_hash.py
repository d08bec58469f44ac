"""The input hash of one payload: its one-debtor records for the batch's hash functions.

The single-debtor path hashes a parsed payload with the functions the batch uses
(:func:`riskengine.scoring.records.block_digests`,
:func:`~riskengine.scoring.records.pair_bytes`); this module is only their edge for
payload objects. It lays the payload's records, sorted as the batch sorts them
(statements by period end, adverse records by record id, invoices by invoice id),
and its pairs' terms into the typed streams of
:class:`riskengine.scoring.records._Records`: one array per kind for all the
records (a few ``np.array`` calls, no pandas). Pure: no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from riskengine.contracts import schemas
from riskengine.contracts.payload import DebtorPayload
from riskengine.scoring.hashing import KIND_CODE, PAIR_EXTRAS, hash_kind
from riskengine.scoring.inputs import PairBytes
from riskengine.scoring.records import _readonly, _Records, _Runs, block_digests, pair_bytes

__all__ = ["payload_hashes"]

_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
_NAT = -(1 << 63)  # a missing date: numpy's NaT
_flat = chain.from_iterable


@dataclass(frozen=True, eq=False)
class _Layout:
    """How a record dict is laid out: the kernel's columns (kind, place in the kind's
    row, row step) and one getter per kind giving a record's values of that kind."""

    cols: npt.NDArray[np.int64]
    get: tuple[Callable[[Mapping[str, Any]], tuple[Any, ...]], ...]


def _getter(names: list[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:
        name = names[0]
        return lambda r: (r[name],)
    if not names:
        return lambda r: ()
    return itemgetter(*names)


@functools.cache
def _layout(columns: tuple[tuple[str, str], ...]) -> _Layout:
    """The :class:`_Layout` of records of ``columns`` ((name, contract kind), in order):
    each kind's values of a record are one row of that kind's stream."""
    code = [KIND_CODE[k] for _, k in columns]
    names: list[list[str]] = [[], [], [], []]
    pos = []
    for (name, _), k in zip(columns, code, strict=True):
        pos.append(len(names[k]))
        names[k].append(name)
    step = [len(names[k]) for k in code]
    cols = np.array([code, pos, step], dtype=np.int64).reshape(3, len(code))
    return _Layout(cols, tuple(_getter(n) for n in names))


@functools.cache
def _table_layout(table: str, drop: tuple[str, ...] = ()) -> _Layout:
    return _layout(tuple((c.name, hash_kind(c)) for c in schemas.CONTRACTS[table].columns
                         if c.name not in drop))


@functools.cache
def _cols(layouts: tuple[_Layout, ...]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The columns of parts of these layouts, and each part's first column."""
    return (np.concatenate([lay.cols for lay in layouts], axis=1),
            np.cumsum([0, *(lay.cols.shape[1] for lay in layouts)], dtype=np.int64))


@functools.lru_cache(maxsize=1024)
def _base(layouts: tuple[_Layout, ...], rows: tuple[int, ...]) -> npt.NDArray[np.int64]:
    """Where each part's values start in each kind's stream (``rows`` records of each
    layout, one after another); cached, never written."""
    each = np.array([np.bincount(lay.cols[0], minlength=4) for lay in layouts]).reshape(-1, 4)
    cells = each * np.array(rows, dtype=np.int64)[:, None]
    out: npt.NDArray[np.int64] = (cells.cumsum(axis=0) - cells).astype(np.int64)
    return out


def _records(tables: Sequence[tuple[_Layout, Sequence[Mapping[str, Any]]]]) -> _Records:
    """The records of each (layout, record dicts), as the parts of one :class:`_Records`:
    each kind's values of all of them in one stream, record after record."""
    num: list[Any] = []
    day: list[Any] = []
    flag: list[Any] = []
    text: list[Any] = []
    layouts = tuple(lay for lay, _ in tables)
    base = _base(layouts, tuple(len(rows) for _, rows in tables))
    for lay, rows in tables:  # record after record, each kind's values in turn
        g_num, g_day, g_flag, g_text = lay.get
        num.extend(_flat(map(g_num, rows)))
        day.extend(_flat(map(g_day, rows)))
        flag.extend(_flat(map(g_flag, rows)))
        text.extend(_flat(map(g_text, rows)))
    given = [s for s in text if s is not None]
    joined = "".join(given)
    utf8 = joined.encode("utf-8")
    if len(utf8) == len(joined):  # ASCII: a string's UTF-8 bytes are its characters
        size = np.array([-1 if s is None else len(s) for s in text], dtype=np.int64)
    else:
        size = np.array([-1 if s is None else len(s.encode("utf-8")) for s in text],
                        dtype=np.int64)
    given_size = np.maximum(size, 0)
    cols, part_cols = _cols(layouts)
    return _Records(
        cols, part_cols, base,
        np.array(num, dtype=np.float64).view(np.uint64),  # None: NaN
        np.array([_NAT if d is None else d.toordinal() - _EPOCH_ORDINAL for d in day],
                 dtype=np.int64).view(np.uint64),
        np.array(flag, dtype=bool).view(np.uint8),  # None: 0
        size, given_size.cumsum() - given_size,
        _readonly(np.frombuffer(utf8, dtype=np.uint8)))


_TERMS = (*((c.name, hash_kind(c)) for c in schemas.EXPOSURES.columns),
          *((c.name, hash_kind(c)) for c in schemas.SUPPLIERS.columns), *PAIR_EXTRAS)
#: The parts of a payload's records that follow a count: the debtor block's tables, and
#: none in the pair's terms.
_COUNTED = np.array([False, True, True, True, False])
_UNCOUNTED = np.zeros(5, dtype=bool)
#: Invoices' order: by invoice id (unique with one exposure), then supplier id.
_BY_ID = itemgetter("invoice_id")
_BY_ID_SUPPLIER = itemgetter("invoice_id", "supplier_id")


def payload_hashes(p: DebtorPayload, products: Sequence[str],
                   insurer: tuple[Sequence[Mapping[str, Any]], npt.NDArray[np.int64]]
                   | None = None) -> tuple[npt.NDArray[np.uint8], PairBytes]:
    """The debtor digest of a payload, shape (1, 32), and its pairs' terms.

    The digest is :func:`block_digests` of one block: the debtor record, then the
    sorted statements, adverse records and invoices (by invoice id, then supplier
    id), each after its count; the terms are :func:`pair_bytes` of one record per
    pair (:attr:`DebtorPayload.pairs`, in order): the exposure record, the supplier
    record, the relation type, the product (``products``: the exposure's, or the
    engine's default) and the insurer limit; then, with ``insurer`` (the payload's
    insurer limit records and each pair's position among them, -1 none), the record
    of the insurer limit applied to the pair, as :func:`~riskengine.scoring.records.pair_terms`.
    """
    drop = ("debtor_id",)
    did = p.debtor.debtor_id
    # the supplier record's supplier_id and currency: the pair's
    terms = [{**ex.supplier.__dict__, **ex.__dict__, "debtor_id": did, "product": product}
             for ex, product in zip(p.pairs, products, strict=True)]
    tables: list[tuple[_Layout, Sequence[Mapping[str, Any]]]] = [
        (_table_layout("debtors"), [p.debtor.__dict__]),
        (_table_layout("statements", drop),
         sorted((s.__dict__ for s in p.statements), key=itemgetter("period_end"))),
        (_table_layout("adverse_records", drop),
         sorted((a.__dict__ for a in p.adverse_records), key=itemgetter("record_id"))),
        (_table_layout("invoices", drop), _invoices(p)),
        (_layout(_TERMS), terms)]
    m = len(terms)
    has = None if insurer is None else insurer[1] >= 0
    if has is not None and has.any():
        assert insurer is not None
        tables.append((_table_layout("insurer_limits", drop), insurer[0]))
    rec = _records(tables)
    block, pair = _runs(len(p.statements), len(p.adverse_records), len(p.invoices), m)
    if has is not None and has.any():
        assert insurer is not None
        parts = len(tables)
        order = np.concatenate([pair.order, insurer[1][has]]).astype(np.int64)
        run = np.zeros((parts, m + 1), dtype=np.int64)
        run[4] = pair.run[4]
        run[5] = len(pair.order) + np.concatenate([[0], np.cumsum(has)])
        block = _Runs(order, np.vstack([block.run, [[len(pair.order)] * 2]]), np.append(
            block.counted, False))
        pair = _Runs(order, run, np.zeros(parts, dtype=bool))
    return block_digests(rec, block, 1), pair_bytes(rec, pair, m)


def _invoices(p: DebtorPayload) -> list[Mapping[str, Any]]:
    """The invoice records in the batch's order: by invoice id, then supplier id (with
    ``exposures`` every invoice names its supplier; with one ``exposure`` it is its)."""
    if p.exposure is None:
        return sorted((v.__dict__ for v in p.invoices), key=_BY_ID_SUPPLIER)
    sid = p.exposure.supplier_id
    return sorted(({**v.__dict__, "supplier_id": sid} for v in p.invoices), key=_BY_ID)


@functools.lru_cache(maxsize=1024)
def _runs(statements: int, adverse: int, invoices: int, pairs: int) -> tuple[_Runs, _Runs]:
    """The runs of the debtor block and of the pairs' terms in a payload's records (the
    debtor record, the statements, adverse records and invoices, then one terms record
    per pair); cached, never written."""
    n = [1, statements, adverse, invoices, pairs]
    order = np.array([i for k in n for i in range(k)], dtype=np.int64)
    end = [*accumulate(n)]
    total = end[-1]
    first = total - pairs  # the first terms record
    block = [(e - k, e) for k, e in zip(n[:-1], end[:-1], strict=True)]
    pair_run = np.zeros((5, pairs + 1), dtype=np.int64)
    pair_run[4] = np.arange(first, total + 1)  # one terms record per pair block
    return (_Runs(order, np.array([*block, (total, total)], dtype=np.int64), _COUNTED),
            _Runs(order, pair_run, _UNCOUNTED))
