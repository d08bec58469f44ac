"""The input hash: canonical binary records and their digests, for 1..n debtors.

A table's records are held as :class:`_Records` (each column's values in one of a
few typed streams); one compiled kernel (:func:`_pack_runs`) writes the canonical
bytes of runs of records, and :mod:`hashlib` hashes them: the debtor digests
(:func:`block_digests`), the pair parts (:func:`pair_bytes`) and the pair documents
(:func:`_input_hashes`). The batch builds :class:`_Records` from frames
(:func:`column_records`, :func:`record_columns`, :func:`debtor_digests`); the
single-debtor path from one payload (:mod:`riskengine.scoring.payload_hash`); both
call these same functions, with n debtors or with one. Pure: no I/O.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.contracts import schemas
from riskengine.scoring.frames import _positions
from riskengine.scoring.hashing import DEBTOR_TABLES as _DEBTOR_TABLES
from riskengine.scoring.hashing import HASH_SCHEME, KIND_CODE, PAIR_EXTRAS, hash_kind
from riskengine.scoring.inputs import PairBytes

__all__ = ["column_records", "table_columns", "record_columns", "block_digests",
           "debtor_digests", "pair_bytes", "pair_terms", "supplier_extras", "warm_up"]

# --- the input hash: canonical binary records ----------------------------------------
#
# A decision's ``input_hash`` is the sha256 of a canonical *binary* document of
# everything that decided it (the as-of date, the debtor's records, the pair's
# terms). Values are encoded by kind, so a JSON round trip that turns 5.0 into 5
# or a date into a string does not change the hash:
#
# - float / int: IEEE-754 float64, little endian; every NaN (JSON null) as one
#   bit pattern (0x7ff8000000000000);
# - date: int64 days since 1970-01-01, little endian; missing as INT64_MIN;
# - bool: one byte 0/1 (missing as 0);
# - str / category: uint32 byte length + UTF-8 bytes; missing as length 0xffffffff.
#
# A record is its contract columns in contract order. The debtor block is the
# debtor record, then for statements (by period end), adverse records (by record
# id) and invoices (by invoice id, then supplier id) a uint32 count and the
# records without ``debtor_id``; its sha256 is the *debtor digest*. The pair document is
# ``HASH_SCHEME``, the as-of date (10 ASCII bytes), the debtor digest, the
# exposure record, the supplier record, the relation type, the product and the
# insurer limit, then the supplier's own rating and its debtors' dispersion
# (:func:`supplier_extras`, known once the call's debtors are rated). :func:`_pack_runs` writes these bytes (the one encoder: the
# value rules above are written there only), for a batch of debtors or for one.

#: Kernel kind codes (:data:`riskengine.scoring.hashing.KIND_CODE` names the contract
#: kinds'): 0 float64 (NaN made canonical), 1 a raw 8-byte word (dates), 2 one byte,
#: 3 text (uint32 length + UTF-8 bytes), 4 raw bytes (no length).
_RAW = 4


class _Records(NamedTuple):
    """Records of one or more tables (*parts*), each kind's values in one stream.

    Column ``j`` of part ``t`` (``part_cols[t] <= j < part_cols[t + 1]``) of the part's
    record ``r`` is of kind ``cols[0, j]`` (see :data:`_RAW`), read at
    ``c = base[t, kind] + cols[1, j] + r * cols[2, j]`` of its kind's stream: ``num``
    (float64 bits), ``word`` (8-byte words), ``byte``, or for text and raw bytes
    ``size[c]`` bytes (-1: missing text) of ``data`` from ``start[c]`` (the text
    kinds share ``base[t, 3]``). A named tuple (cheap to make for one debtor).
    """

    cols: npt.NDArray[np.int64]       # (3, columns of all parts)
    part_cols: npt.NDArray[np.int64]  # (parts + 1,)
    base: npt.NDArray[np.int64]       # (parts, 4)
    num: npt.NDArray[np.uint64]
    word: npt.NDArray[np.uint64]
    byte: npt.NDArray[np.uint8]
    size: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]
    data: npt.NDArray[np.uint8]       # read-only (one compiled signature)


@dataclass(frozen=True)
class _Runs:
    """Blocks of records: block ``d`` is, for each part ``t`` in turn, a uint32 count
    when ``counted[t]``, then the part's records ``order[run[t, d]:run[t, d + 1]]``."""

    order: npt.NDArray[np.int64]
    run: npt.NDArray[np.int64]        # (parts, blocks + 1)
    counted: npt.NDArray[np.bool_]    # (parts,)


def _readonly(a: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    v = a.view()
    v.flags.writeable = False
    return v


def _pack_runs(buf: Any, ends: Any, lo: int, hi: int, write: bool, cols: Any,
               part_cols: Any, base: Any, num: Any, word: Any, byte: Any, size: Any,
               start: Any, data: Any, order: Any, run: Any,
               counted: Any) -> int:  # pragma: no cover - compiled
    """Kernel of the input hash (compiled by numba, see :func:`_pack_kernel`).

    Lays out blocks ``lo, lo + 1, ...`` (:class:`_Runs`) of the records
    (:class:`_Records`) one after another from ``buf[0]``, each while it fits in
    ``buf``; ``ends[i]`` is the end of block ``lo + i``. Returns the number of blocks
    laid out; when none fits, ``ends[0]`` is the first one's size. With ``write``
    false nothing is written and every block counts (their sizes only). A block's
    size comes first (fixed widths and its text's lengths), then its bytes, written
    at unsigned positions (no negative-index test, so that the compiler merges the
    byte stores of a value into one store).
    """
    nan = np.uint64(0x7FF8000000000000)
    expo = np.uint64(0x7FF0000000000000)
    mant = np.uint64(0x000FFFFFFFFFFFFF)
    null = np.uint64(0xFFFFFFFF)
    one = np.uint64(1)
    four = np.uint64(4)
    eight = np.uint64(8)
    cap = np.uint64(buf.shape[0])
    parts = run.shape[0]
    fixed = np.zeros(parts, dtype=np.uint64)  # a record's bytes but its text's
    texts = np.zeros(cols.shape[1], dtype=np.int64)  # each part's text columns
    n_text = np.zeros(parts + 1, dtype=np.int64)
    for t in range(parts):
        n_text[t + 1] = n_text[t]
        for j in range(part_cols[t], part_cols[t + 1]):
            kind = cols[0, j]
            fixed[t] += eight if kind <= 1 else one if kind == 2 else four if kind == 3 \
                else np.uint64(0)
            if kind >= 3:
                texts[n_text[t + 1]] = j
                n_text[t + 1] += 1
    # the blocks' sizes, and where each part of each block that fits starts
    at = np.uint64(0)
    fit = hi - lo
    pos = np.empty((hi - lo, parts), dtype=np.uint64)
    for d in range(lo, hi):
        begin = at
        for t in range(parts):
            pos[d - lo, t] = at
            a = run[t, d]
            b = run[t, d + 1]
            if counted[t]:
                at += four
            at += fixed[t] * np.uint64(b - a)
            for k in range(a, b):
                r = order[k]
                for i in range(n_text[t], n_text[t + 1]):
                    j = texts[i]
                    s = size[base[t, 3] + cols[1, j] + r * cols[2, j]]
                    if s > 0:
                        at += np.uint64(s)
        if write and at > cap:
            if d == lo:
                ends[0] = at - begin
            fit = d - lo
            break
        ends[d - lo] = at
    if not write:
        return fit
    # their bytes, part after part (fewer memory streams at a time than block after block)
    for t in range(parts):
        for d in range(lo, lo + fit):
            at = pos[d - lo, t]
            a = run[t, d]
            b = run[t, d + 1]
            if counted[t]:
                v = np.uint64(b - a)
                buf[at] = v & 255
                buf[at + one] = (v >> 8) & 255
                buf[at + np.uint64(2)] = (v >> 16) & 255
                buf[at + np.uint64(3)] = (v >> 24) & 255
                at += four
            b_num = base[t, 0]
            b_word = base[t, 1]
            b_byte = base[t, 2]
            b_text = base[t, 3]
            for k in range(a, b):
                r = order[k]
                for j in range(part_cols[t], part_cols[t + 1]):
                    kind = cols[0, j]
                    c = cols[1, j] + r * cols[2, j]
                    if kind <= 1:
                        if kind == 0:
                            v = num[b_num + c]
                            if (v & expo) == expo and (v & mant) != 0:
                                v = nan
                        else:
                            v = word[b_word + c]
                        buf[at] = v & 255
                        buf[at + one] = (v >> 8) & 255
                        buf[at + np.uint64(2)] = (v >> 16) & 255
                        buf[at + np.uint64(3)] = (v >> 24) & 255
                        buf[at + np.uint64(4)] = (v >> 32) & 255
                        buf[at + np.uint64(5)] = (v >> 40) & 255
                        buf[at + np.uint64(6)] = (v >> 48) & 255
                        buf[at + np.uint64(7)] = (v >> 56) & 255
                        at += eight
                    elif kind == 2:
                        buf[at] = byte[b_byte + c]
                        at += one
                    else:
                        s = size[b_text + c]
                        if kind == 3:
                            v = null if s < 0 else np.uint64(s)
                            buf[at] = v & 255
                            buf[at + one] = (v >> 8) & 255
                            buf[at + np.uint64(2)] = (v >> 16) & 255
                            buf[at + np.uint64(3)] = (v >> 24) & 255
                            at += four
                        if s > 0:
                            src = start[b_text + c]
                            for i in range(s):
                                buf[at + np.uint64(i)] = data[src + i]
                            at += np.uint64(s)
    return fit


@functools.cache
def _pack_kernel() -> Any:
    """:func:`_pack_runs` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_pack_runs)


def _pack(buf: npt.NDArray[np.uint8], ends: npt.NDArray[np.int64], lo: int, hi: int,
          write: bool, rec: _Records, runs: _Runs) -> int:
    """One :func:`_pack_runs` call: blocks ``lo..hi-1``, while they fit in ``buf``."""
    out: int = _pack_kernel()(buf, ends, lo, hi, write, rec.cols, rec.part_cols, rec.base,
                              rec.num, rec.word, rec.byte, rec.size, rec.start, rec.data,
                              runs.order, runs.run, runs.counted)
    return out


# --- the batch's records: frames and arrays to _Records --------------------------------


#: A text column's UTF-8 bytes: each row's size (-1: missing) and start, and the data.
_Text = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint8]]


def _text_bytes(values: Any) -> _Text:
    """A text column's UTF-8 bytes (one Arrow cast)."""
    arr = values if isinstance(values, pa.Array) else pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.large_string())
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset:arr.offset + n + 1] \
        if n else np.zeros(1, dtype=np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None and n \
        else np.zeros(0, dtype=np.uint8)
    size = np.diff(offsets)
    if arr.null_count:
        size = np.where(np.asarray(arr.is_null(), dtype=bool), -1, size)
    return size, offsets[:-1], data


def column_records(parts: Sequence[tuple[Sequence[tuple[Any, str]], int]]) -> _Records:
    """The :class:`_Records` of parts given as (columns as (values, contract kind), rows).

    Each column's values are contiguous in its kind's stream (row step 1).
    """
    code = [[KIND_CODE[k] for _, k in columns] for columns, _ in parts]
    base = np.zeros((len(parts), 4), dtype=np.int64)
    total = [0, 0, 0, 0]
    for t, ((_, n), kinds) in enumerate(zip(parts, code, strict=True)):
        base[t] = total
        for k in kinds:
            total[k] += n
    num = np.empty(total[0], dtype=np.float64)
    word = np.empty(total[1], dtype=np.int64)
    byte = np.empty(total[2], dtype=np.uint8)
    size = np.empty(total[3], dtype=np.int64)
    start = np.empty(total[3], dtype=np.int64)
    data: list[npt.NDArray[np.uint8]] = []
    pos: list[int] = []
    at = 0
    for t, ((columns, n), kinds) in enumerate(zip(parts, code, strict=True)):
        seen = [0, 0, 0, 0]
        for (values, _), k in zip(columns, kinds, strict=True):
            c = seen[k]
            seen[k] += n
            pos.append(c)
            c += int(base[t, k])
            if k == 0:
                num[c:c + n] = np.asarray(values, dtype=np.float64)
            elif k == 1:  # NaT is INT64_MIN
                word[c:c + n] = np.asarray(values, dtype="datetime64[D]").view(np.int64)
            elif k == 2:
                byte[c:c + n] = np.asarray(values, dtype=bool)
            else:
                size[c:c + n], st, d = _text_bytes(values)
                start[c:c + n] = st + at
                data.append(d)
                at += d.shape[0]
    flat = [k for kinds in code for k in kinds]
    cols = np.array([flat, pos, [1] * len(flat)], dtype=np.int64).reshape(3, len(flat))
    part_cols = np.cumsum([0, *(len(kinds) for kinds in code)], dtype=np.int64)
    return _Records(cols, part_cols, base, num.view(np.uint64), word.view(np.uint64), byte,
                    size, start,
                    _readonly(np.concatenate(data) if data else np.zeros(0, dtype=np.uint8)))


def _frame_column(frame: pd.DataFrame, name: str, kind: str) -> Any:
    """A frame's column as :func:`column_records` reads it (absent: all missing)."""
    n = len(frame)
    if name not in frame.columns:
        if kind in ("float", "int"):
            return np.full(n, np.nan)
        if kind == "date":
            return np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        if kind == "bool":
            return np.zeros(n, dtype=bool)
        return pd.Series([None] * n, dtype=object)
    s = frame[name]
    if kind in ("float", "int"):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "date":
        return s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    if kind == "bool":
        return s.to_numpy(dtype=bool, na_value=False)
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
        return s.astype("str").array
    return s.array  # (a Series would make pyarrow probe its index for attributes)


def table_columns(frame: pd.DataFrame, contract: schemas.TableContract,
                  drop: tuple[str, ...] = ()) -> list[tuple[Any, str]]:
    """A frame's contract columns, in contract order, as (values, kind) for :func:`column_records`."""
    return [(_frame_column(frame, c.name, hash_kind(c)), hash_kind(c))
            for c in contract.columns if c.name not in drop]


def record_columns(frame: pd.DataFrame, contract: schemas.TableContract,
                   drop: tuple[str, ...] = ()) -> _Records:
    """The records of a frame's contract columns, in contract order (one part)."""
    return column_records([(table_columns(frame, contract, drop), len(frame))])


# --- blocks and their digests (1..n debtors) --------------------------------------------


def block_digests(rec: _Records, runs: _Runs, n: int) -> npt.NDArray[np.uint8]:
    """The sha256 of each of ``n`` blocks of records (:class:`_Runs`).

    The blocks are laid out in batches of at most :data:`_DIGEST_BATCH` bytes (a
    bigger block alone), each in one reused buffer (no fresh pages to fault in,
    hashed while the bytes are still in the cache). The same function for one
    debtor and for a batch.

    Returns
    -------
    ndarray of uint8, shape (n, 32)
    """
    buf = np.empty(min(_DIGEST_BATCH, _BLOCK_GUESS * n), dtype=np.uint8)
    ends = np.empty(n, dtype=np.int64)
    out = []
    lo = 0
    while lo < n:
        k = _pack(buf, ends[lo:], lo, n, True, rec, runs)
        if k == 0:  # the next block does not fit: a bigger buffer
            buf = np.empty(max(int(ends[lo]), min(2 * buf.size, _DIGEST_BATCH)), dtype=np.uint8)
            continue
        out.append(_digests(buf, ends[lo:lo + k]))
        lo += k
    return out[0] if len(out) == 1 else np.concatenate([np.empty((0, 32), np.uint8), *out])


#: Bytes of blocks laid out and hashed at a time by :func:`block_digests` (at most), and
#: the buffer it starts with per block when there are few.
_DIGEST_BATCH = 4 << 20
_BLOCK_GUESS = 4096


def _digests(buf: npt.NDArray[np.uint8], ends: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """sha256 of each of the consecutive slices of ``buf`` from 0 ending at ``ends``,
    shape ``(n, 32)``: :mod:`hashlib`, one call per slice of a memoryview of the
    buffer (no copy of the bytes)."""
    mv = memoryview(np.ascontiguousarray(buf, dtype=np.uint8).data)
    h = hashlib.sha256
    e = ends.tolist()
    joined = b"".join([h(mv[a:b]).digest() for a, b in zip([0, *e], e, strict=False)])
    return np.frombuffer(joined, dtype=np.uint8).reshape(-1, 32)


_SORT_KEY = {"statements": "period_end", "adverse_records": "record_id",
             "invoices": "invoice_id"}


def _sort_codes(frame: pd.DataFrame, name: str) -> npt.NDArray[np.int64]:
    """Integer sort key of a table's records within a debtor (period end, record id...)."""
    key = frame[_SORT_KEY[name]]
    if name == "statements":
        out: npt.NDArray[np.int64] = key.to_numpy(dtype="datetime64[ns]").astype(
            "datetime64[D]").view(np.int64)
        return out
    codes, _ = pd.factorize(key.astype("str"), sort=True)  # code-point order, as sorted()
    if name == "invoices":  # an invoice id may recur under another supplier: then by supplier
        sup, uniques = pd.factorize(frame["supplier_id"].astype("str"), sort=True)
        codes = codes.astype(np.int64) * max(len(uniques), 1) + sup
    return np.asarray(codes, dtype=np.int64)


def _sorted_records(frame: pd.DataFrame, name: str) -> bool:
    """Whether a table's rows are in (debtor id, sort key) order, none missing.

    Then the stable sort of :func:`debtor_digests` keeps every row in place (ids are
    compared as text, as the sorted debtor index orders them). One Arrow pass.
    """
    n = len(frame)
    if n < 2:
        return True
    try:
        d = pa.array(frame["debtor_id"], from_pandas=True)
        k = pa.array(frame[_SORT_KEY[name]], from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    if d.null_count or k.null_count or not (
            pa.types.is_string(d.type) or pa.types.is_large_string(d.type)):
        return False
    if name != "statements" and not (pa.types.is_string(k.type) or
                                     pa.types.is_large_string(k.type)):
        return False
    d0, d1, k0, k1 = d.slice(0, n - 1), d.slice(1), k.slice(0, n - 1), k.slice(1)
    within = pc.less(k0, k1) if name == "invoices" else pc.less_equal(k0, k1)  # ties: by supplier
    ok = pc.or_(pc.less(d0, d1), pc.and_(pc.equal(d0, d1), within))
    return bool(pc.all(ok).as_py())


def debtor_digests(debtors: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
                   ids: pd.Index) -> npt.NDArray[np.uint8]:
    """The debtor digest of every debtor of ``ids`` (see the input-hash notes above).

    The frames' edge: each table's records, sorted by debtor and sort key, and each
    debtor's run of them; then :func:`block_digests`.

    Parameters
    ----------
    debtors : pandas.DataFrame
        One debtors row per id of ``ids``, in that order.
    tables : mapping
        ``statements``, ``adverse_records``, ``invoices`` (validated frames).
    ids : pandas.Index
        Debtor ids (str).

    Returns
    -------
    ndarray of uint8, shape (len(ids), 32)
    """
    n = len(ids)
    each = np.arange(n + 1, dtype=np.int64)
    parts = [(table_columns(debtors, schemas.DEBTORS), n)]
    orders = [each[:n]]
    runs = [each]
    for name in _DEBTOR_TABLES:
        frame = tables[name]
        if len(frame):
            codes = _positions(frame["debtor_id"], ids)
            if _sorted_records(frame, name):  # already in (debtor, key) order
                order = np.flatnonzero(codes >= 0)
            else:
                order = np.lexsort((_sort_codes(frame, name), codes))
                order = order[codes[order] >= 0]
            run = np.searchsorted(codes[order], each)
        else:
            order, run = np.zeros(0, dtype=np.int64), np.zeros(n + 1, dtype=np.int64)
        parts.append((table_columns(frame, schemas.CONTRACTS[name], drop=("debtor_id",)),
                      len(frame)))
        runs.append(run + sum(o.shape[0] for o in orders))
        orders.append(order)
    blocks = _Runs(np.concatenate(orders).astype(np.int64, copy=False),
                   np.stack(runs).astype(np.int64, copy=False),
                   np.array([False, True, True, True]))
    return block_digests(column_records(parts), blocks, n)


# --- the pair parts and the pair documents ----------------------------------------------


def _each(parts: int, m: int) -> _Runs:
    """Runs of ``m`` blocks of one record each, from every one of ``parts`` parts."""
    each = np.arange(m + 1, dtype=np.int64)
    return _Runs(np.tile(each[:m], parts), each + m * np.arange(parts)[:, None],
                 np.zeros(parts, dtype=bool))


def pair_bytes(rec: _Records, runs: _Runs, m: int) -> PairBytes:
    """The bytes of ``m`` blocks (:class:`_Runs`), one after another: :class:`PairBytes`.

    Laid out in a buffer of :data:`_PAIR_GUESS` bytes per block; when they do not
    all fit, their sizes first, then a buffer of that size.
    """
    stop = np.empty(m, dtype=np.int64)
    buf = np.empty(_PAIR_GUESS * m, dtype=np.uint8)
    if _pack(buf, stop, 0, m, True, rec, runs) < m:
        _pack(_NO_BYTES, stop, 0, m, False, rec, runs)  # the sizes
        buf = np.empty(int(stop[-1]), dtype=np.uint8)
        _pack(buf, stop, 0, m, True, rec, runs)
    return PairBytes(buf[:int(stop[-1])] if m else buf,
                     np.concatenate([_NO_ENDS, stop[:-1]])[:m], stop)


#: Bytes per block :func:`pair_bytes` lays out its blocks in at first.
_PAIR_GUESS = 512
_NO_BYTES = np.zeros(0, dtype=np.uint8)
_NO_ENDS = np.zeros(1, dtype=np.int64)


def pair_terms(exposures: pd.DataFrame, suppliers: pd.DataFrame,
               extras: Sequence[Any],
               insurer: tuple[pd.DataFrame, npt.NDArray[np.int64]] | None = None) -> PairBytes:
    """The pair part of each pair document: the exposure record, the supplier record and
    the values of :data:`~riskengine.scoring.hashing.PAIR_EXTRAS` (``extras``, in
    that order), one pair per row of ``exposures`` and ``suppliers``; then, with
    ``insurer`` (the ``insurer_limits`` frame and each pair's row in it, -1 none), the
    record of the insurer limit applied to the pair (its contract columns but
    ``debtor_id``), nothing for a pair without one (so the document of a pair without
    insurer limits is what it was before issue 16; the terms before it are
    self-delimiting, so no two documents are confused)."""
    m = len(exposures)
    columns = [*table_columns(exposures, schemas.EXPOSURES),
               *table_columns(suppliers, schemas.SUPPLIERS),
               *zip(extras, [kind for _, kind in PAIR_EXTRAS], strict=True)]
    if insurer is None or not bool((insurer[1] >= 0).any()):
        return pair_bytes(column_records([(columns, m)]), _each(1, m), m)
    frame, row = insurer
    has = row >= 0
    rec = column_records([(columns, m), (table_columns(frame, schemas.INSURER_LIMITS,
                                                       drop=("debtor_id",)), len(frame))])
    runs = _Runs(np.concatenate([np.arange(m, dtype=np.int64), row[has].astype(np.int64)]),
                 np.stack([np.arange(m + 1, dtype=np.int64),
                           m + np.concatenate([[0], np.cumsum(has)]).astype(np.int64)]),
                 np.zeros(2, dtype=bool))
    return pair_bytes(rec, runs, m)


_CANONICAL_NAN = np.uint64(0x7FF8000000000000)


def supplier_extras(rating: npt.NDArray[np.int64], hhi: npt.NDArray[np.float64]
                    ) -> npt.NDArray[np.uint8]:
    """Each pair's :data:`~riskengine.scoring.hashing.SUPPLIER_EXTRAS`, shape (m, 9): the
    supplier's own grade index (one byte, 0: not rated), then its debtors' HHI (float64,
    little endian, every NaN as one bit pattern), appended to the pair's document."""
    m = rating.shape[0]
    bits = np.asarray(hhi, dtype="<f8").copy().view("<u8")
    bits[np.isnan(np.asarray(hhi, dtype=np.float64))] = _CANONICAL_NAN
    out = np.empty((m, 9), dtype=np.uint8)
    out[:, 0] = rating.astype(np.uint8)
    out[:, 1:] = bits.view(np.uint8).reshape(m, 8)
    return out


def _input_hashes(as_of: str, digest: npt.NDArray[np.uint8], dp: npt.NDArray[np.int64],
                  terms: PairBytes, extras: npt.NDArray[np.uint8]) -> Any:
    """The pairs' ``input_hash`` (hex sha256 of each pair document) as Arrow text.

    A pair's document is a block (:func:`block_digests`) of four raw-bytes parts:
    the scheme and the date, its debtor's digest (row ``dp`` of ``digest``), its
    terms and its supplier's extras (row of ``extras``, :func:`supplier_extras`).
    """
    m = dp.shape[0]
    n = digest.shape[0]
    head = np.frombuffer(HASH_SCHEME + as_of.encode("ascii"), dtype=np.uint8)
    h, d = head.size, 32 * n
    w = extras.shape[1] if extras.ndim == 2 else 0
    t = terms.buf.shape[0]
    rec = _Records(
        np.array([[_RAW] * 4, [0] * 4, [1] * 4], dtype=np.int64), np.arange(5, dtype=np.int64),
        np.array([[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1 + n], [0, 0, 0, 1 + n + m]],
                 dtype=np.int64),
        np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64), _NO_BYTES,
        np.concatenate([[h], np.full(n, 32), terms.stop - terms.start,
                        np.full(m, w)]).astype(np.int64),
        np.concatenate([[0], h + 32 * np.arange(n), h + d + terms.start,
                        h + d + t + w * np.arange(m)]).astype(np.int64),
        _readonly(np.concatenate([head, np.ascontiguousarray(digest).reshape(-1), terms.buf,
                                  np.ascontiguousarray(extras).reshape(-1)])))
    runs = _each(4, m)
    order = runs.order.copy()
    order[:m] = 0
    order[m:2 * m] = dp
    hexed = block_digests(rec, _Runs(order, runs.run, runs.counted), m).tobytes().hex()
    offsets = np.arange(0, 64 * (m + 1), 64, dtype=np.int64)  # 64 hex digits per pair
    return pa.Array.from_buffers(pa.large_string(), m, [None, pa.py_buffer(offsets),
                                                        pa.py_buffer(hexed.encode("ascii"))])


def warm_up() -> None:
    """Compile (or load from the disk cache) the input hash's kernel now."""
    rec = column_records([([(np.zeros(1), "float"), (np.array(["x"], dtype=object), "str"),
                            (np.zeros(1, dtype="datetime64[D]"), "date"),
                            (np.zeros(1, dtype=bool), "bool")], 1)])
    pair_bytes(rec, _each(1, 1), 1)


@functools.lru_cache(maxsize=64)
def _hash_prefix(as_of: str) -> Any:
    """The sha256 state after the scheme and the decision date (cached: copy before use)."""
    return hashlib.sha256(HASH_SCHEME + as_of.encode("ascii"))
