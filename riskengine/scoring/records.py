"""The input hash on the batch path: canonical binary records and their digests.

The batch path writes the canonical bytes of all records at once, in one compiled
pass (:func:`encode_records`), and hashes them with :mod:`hashlib`: the debtor
digests (:func:`debtor_digests`), the pair parts (:func:`pair_bytes`) and the pair
documents (:func:`_input_hashes`). The scheme prefix, the tables of a debtor block
and the per-value reference (:func:`~riskengine.scoring.hashing.encode_value`) are in
:mod:`riskengine.scoring.hashing`. Pure: no I/O.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.contracts import schemas
from riskengine.scoring.frames import _positions
from riskengine.scoring.hashing import DEBTOR_TABLES as _DEBTOR_TABLES
from riskengine.scoring.hashing import HASH_SCHEME
from riskengine.scoring.inputs import PairBytes

__all__ = ["column_records", "table_columns", "record_columns", "encode_records",
           "debtor_digests", "pair_bytes"]

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
# insurer limit. The batch path writes these bytes for all records at once, in
# one compiled pass (:func:`encode_records`), and hashes them with :mod:`hashlib`
# (:func:`_digests`); the single-debtor path writes them value by
# value (:func:`~riskengine.scoring.hashing.encode_value`); tests/test_engine.py checks
# both agree.

_NAN_BITS = np.uint64(0x7FF8000000000000)


@dataclass(frozen=True)
class _Records:
    """Canonical bytes of records, column by column, for :func:`encode_records`.

    Row ``r``'s record is, for each column ``j``, the ``width[j]`` low bytes of
    ``value[j, r]`` (little endian) followed, for a text column (``slot[j] >= 0``),
    by ``size[slot[j], r]`` UTF-8 bytes of ``data`` from ``start[slot[j], r]``.
    """

    value: npt.NDArray[np.uint64]   # (columns, rows)
    width: npt.NDArray[np.int64]    # (columns,), at most 8
    slot: npt.NDArray[np.int64]     # (columns,), -1: no UTF-8 bytes
    size: npt.NDArray[np.int64]     # (text columns, rows)
    start: npt.NDArray[np.int64]    # (text columns, rows)
    data: npt.NDArray[np.uint8]

    def sizes(self, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:
        """Bytes of each selected record (``rows`` indexes the rows)."""
        out = np.full(rows.size, int(self.width.sum()), dtype=np.int64)
        for size in self.size:
            out += size[rows]
        return out


#: A text column's UTF-8 bytes: each row's size and start in the data, and the data.
_Text = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint8]]


def _column_bytes(values: Any, kind: str, out: npt.NDArray[np.uint64]
                  ) -> tuple[int, _Text | None]:
    """Write a column's fixed bytes (as integers) into ``out``.

    Returns their width and, for text, each row's UTF-8 size, start and the data.
    """
    if kind in ("float", "int"):
        a = np.asarray(values, dtype=np.float64)
        np.copyto(out, a.view(np.uint64))
        np.copyto(out, _NAN_BITS, where=np.isnan(a))
        return 8, None
    if kind == "date":
        d = np.asarray(values, dtype="datetime64[D]")  # NaT is INT64_MIN
        np.copyto(out.view(np.int64), d.view(np.int64))
        return 8, None
    if kind == "bool":
        np.copyto(out, np.asarray(values, dtype=bool), casting="unsafe")
        return 1, None
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
        valid = ~np.asarray(arr.is_null(), dtype=bool)
        size = np.where(valid, size, 0)
        np.copyto(out.view(np.int64), np.where(valid, size, 0xFFFFFFFF))
    else:
        np.copyto(out.view(np.int64), size)
    return 4, (size, offsets[:-1], data)


def column_records(columns: Sequence[tuple[Any, str]], n: int) -> _Records:
    """The :class:`_Records` of ``n`` rows of columns given as (values, kind)."""
    value = np.empty((len(columns), n), dtype=np.uint64)
    width: list[int] = []
    slot: list[int] = []
    sizes: list[npt.NDArray[np.int64]] = []
    starts: list[npt.NDArray[np.int64]] = []
    data: list[npt.NDArray[np.uint8]] = []
    base = 0
    for j, (values, kind) in enumerate(columns):
        w, text = _column_bytes(values, kind, value[j])
        width.append(w)
        slot.append(-1 if text is None else len(sizes))
        if text is not None:
            sizes.append(text[0])
            starts.append(text[1] + base)
            data.append(text[2])
            base += text[2].shape[0]
    return _Records(value, np.asarray(width, dtype=np.int64), np.asarray(slot, dtype=np.int64),
                    np.asarray(sizes, dtype=np.int64).reshape(len(sizes), n),
                    np.asarray(starts, dtype=np.int64).reshape(len(starts), n),
                    np.concatenate(data) if data else np.zeros(1, dtype=np.uint8))


def _frame_column(frame: pd.DataFrame, name: str, kind: str) -> Any:
    """A frame's column as :func:`_column_bytes` reads it (absent: all missing)."""
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
    return [(_frame_column(frame, c.name, _kind(c)), _kind(c))
            for c in contract.columns if c.name not in drop]


def record_columns(frame: pd.DataFrame, contract: schemas.TableContract,
                   drop: tuple[str, ...] = ()) -> _Records:
    """The canonical bytes of a frame's contract columns, in contract order."""
    return column_records(table_columns(frame, contract, drop), len(frame))


def _kind(c: schemas.Column) -> str:
    return "str" if c.kind == "category" else c.kind


def encode_records(buf: npt.NDArray[np.uint8], dest: npt.NDArray[np.int64],
                   rec: _Records, rows: npt.NDArray[np.intp]) -> None:
    """Write records ``rows`` of ``rec`` into ``buf``, record k starting at ``dest[k]``.

    One compiled pass over the records (:func:`_pack_records`), reading each
    column's values where :func:`column_records` wrote them.
    """
    if rows.size == 0 or rec.width.size == 0:
        return
    _pack_kernel()(buf, np.ascontiguousarray(dest, dtype=np.int64),
                   np.ascontiguousarray(rows, dtype=np.int64), np.ascontiguousarray(rec.value),
                   rec.width, rec.slot, rec.size, rec.start, rec.data)


def _pack_records(buf: Any, dest: Any, rows: Any, value: Any, width: Any, slot: Any,
                  size: Any, start: Any, data: Any) -> None:  # pragma: no cover - compiled
    """Kernel of :func:`encode_records` (compiled by numba, see :func:`_pack_kernel`).

    Record ``k`` (row ``r = rows[k]``) is, for each column ``j``, the ``width[j]`` low
    bytes of ``value[j, r]``, little endian, followed when ``slot[j] >= 0`` by
    ``size[slot[j], r]`` bytes of ``data`` from ``start[slot[j], r]``. The bytes are
    written at unsigned positions (no negative-index test, so that the compiler
    merges the byte stores of a value into one store).
    """
    one = np.uint64(1)
    for k in range(rows.shape[0]):
        r = rows[k]
        at = np.uint64(dest[k])
        for j in range(value.shape[0]):
            v = value[j, r]
            w = width[j]
            if w == 8:
                buf[at] = v & 255
                buf[at + one] = (v >> 8) & 255
                buf[at + np.uint64(2)] = (v >> 16) & 255
                buf[at + np.uint64(3)] = (v >> 24) & 255
                buf[at + np.uint64(4)] = (v >> 32) & 255
                buf[at + np.uint64(5)] = (v >> 40) & 255
                buf[at + np.uint64(6)] = (v >> 48) & 255
                buf[at + np.uint64(7)] = (v >> 56) & 255
            elif w == 4:
                buf[at] = v & 255
                buf[at + one] = (v >> 8) & 255
                buf[at + np.uint64(2)] = (v >> 16) & 255
                buf[at + np.uint64(3)] = (v >> 24) & 255
            else:
                for b in range(w):
                    buf[at + np.uint64(b)] = (v >> np.uint64(8 * b)) & 255
            at += np.uint64(w)
            s = slot[j]
            if s >= 0:
                src = np.uint64(start[s, r])
                for _ in range(size[s, r]):
                    buf[at] = data[src]
                    at += one
                    src += one


@functools.cache
def _pack_kernel() -> Any:
    """:func:`_pack_records` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_pack_records)


def _digests(buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64],
             ends: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """sha256 of each ``buf[starts[i]:ends[i]]``, shape ``(n, 32)``: :mod:`hashlib`, one
    call per slice of a memoryview of the buffer (no copy of the bytes)."""
    mv = memoryview(np.ascontiguousarray(buf, dtype=np.uint8).data)
    h = hashlib.sha256
    joined = b"".join([h(mv[a:b]).digest() for a, b in zip(starts.tolist(), ends.tolist(),
                                                            strict=True)])
    return np.frombuffer(joined, dtype=np.uint8).reshape(-1, 32)


def _hash(doc: bytes) -> str:
    return hashlib.sha256(doc).hexdigest()


def _input_hashes(as_of: str, digest: npt.NDArray[np.uint8], dp: npt.NDArray[np.int64],
                  terms: PairBytes) -> Any:
    """The pairs' ``input_hash`` (hex sha256 of each pair document) as Arrow text.

    The documents (scheme and date, the debtor digest, the pair's terms) are laid
    out in one buffer (:func:`encode_records`) and hashed slice by slice.
    """
    m = dp.shape[0]
    head = np.frombuffer(HASH_SCHEME + as_of.encode("ascii"), dtype=np.uint8)
    w = head.size + 32
    fixed = np.zeros((m, -(-w // 8) * 8), dtype=np.uint8)  # head and digest, as 8-byte words
    fixed[:, :head.size] = head
    fixed[:, head.size:w] = digest[dp]
    words = fixed.shape[1] // 8
    size = (terms.stop - terms.start).astype(np.int64)
    rec = _Records(
        np.concatenate([fixed.view("<u8").T, np.zeros((1, m), dtype=np.uint64)]),
        np.array([8] * (words - 1) + [w - 8 * (words - 1), 0], dtype=np.int64),
        np.array([-1] * words + [0], dtype=np.int64), size.reshape(1, m),
        terms.start.astype(np.int64).reshape(1, m), terms.buf)
    lens = w + size
    start = np.cumsum(lens) - lens
    buf = np.empty(int(lens.sum()), dtype=np.uint8)
    encode_records(buf, start, rec, np.arange(m))
    hexed = _digests(buf, start, start + lens).tobytes().hex().encode("ascii")  # 64 per pair
    offsets = np.arange(0, 64 * (m + 1), 64, dtype=np.int64)
    return pa.Array.from_buffers(pa.large_string(), m,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(hexed)])


@functools.lru_cache(maxsize=64)
def _hash_prefix(as_of: str) -> Any:
    """The sha256 state after the scheme and the decision date (cached: copy before use)."""
    return hashlib.sha256(HASH_SCHEME + as_of.encode("ascii"))


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
    dcols = record_columns(debtors, schemas.DEBTORS)
    deb_rows = np.arange(n)
    deb_len = dcols.sizes(deb_rows)
    parts = []
    block_len = deb_len.copy()
    for name in _DEBTOR_TABLES:
        frame = tables[name]
        if len(frame):
            codes = _positions(frame["debtor_id"], ids)
            if _sorted_records(frame, name):  # already in (debtor, key) order
                order = np.flatnonzero(codes >= 0)
            else:
                order = np.lexsort((_sort_codes(frame, name), codes))
                order = order[codes[order] >= 0]
            sc = codes[order]
        else:
            order = sc = np.empty(0, dtype=np.intp)
        cols = record_columns(frame, schemas.CONTRACTS[name], drop=("debtor_id",))
        lens = cols.sizes(order)
        tbytes = np.bincount(sc, weights=lens, minlength=n).astype(np.int64)
        count = np.bincount(sc, minlength=n)
        parts.append((order, sc, cols, lens, tbytes, count))
        block_len += 4 + tbytes
    block_start = np.cumsum(block_len) - block_len
    block_end = block_start + block_len
    # debtors in batches of about _DIGEST_BATCH bytes, each laid out in one reused buffer
    # (no fresh pages to fault in, hashed while the bytes are still in the cache)
    cuts = np.unique(np.concatenate([[0], np.searchsorted(
        block_end, _DIGEST_BATCH * np.arange(1, int(block_end[-1]) // _DIGEST_BATCH + 1)
        if n else np.zeros(0, dtype=np.int64), side="right"), [n]]))
    writes = []
    off = block_start + deb_len
    for order, sc, cols, lens, tbytes, count in parts:
        # the records of a debtor, one run of ``order``, follow its count
        run_start = np.cumsum(tbytes) - tbytes
        excl = np.cumsum(lens) - lens
        writes.append((off, count.astype("<u4").view(np.uint8).reshape(-1, 4),
                       (off + 4 - run_start)[sc] + excl, cols, order, np.searchsorted(sc, cuts)))
        off = off + 4 + tbytes
    out = np.empty((n, 32), dtype=np.uint8)
    sizes = block_end[cuts[1:] - 1] - block_start[cuts[:-1]]
    buf = np.empty(int(sizes.max()) if sizes.size else 0, dtype=np.uint8)
    for j, (a, b) in enumerate(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True)):
        base = block_start[a]
        encode_records(buf, block_start[a:b] - base, dcols, deb_rows[a:b])
        for count_at, count_bytes, dest, cols, order, run in writes:
            for i in range(4):
                buf[count_at[a:b] - base + i] = count_bytes[a:b, i]
            encode_records(buf, dest[run[j]:run[j + 1]] - base, cols, order[run[j]:run[j + 1]])
        out[a:b] = _digests(buf, block_start[a:b] - base, block_end[a:b] - base)
    return out


#: Bytes of debtor blocks laid out and hashed at a time by :func:`debtor_digests`.
_DIGEST_BATCH = 4 << 20


def pair_bytes(rec: _Records) -> PairBytes:
    """Concatenate the records of per-pair columns into :class:`PairBytes`."""
    rows = np.arange(rec.value.shape[1])
    lens = rec.sizes(rows)
    start = np.cumsum(lens) - lens
    buf = np.empty(int(lens.sum()), dtype=np.uint8)
    encode_records(buf, start, rec, rows)
    return PairBytes(buf, start, start + lens)
