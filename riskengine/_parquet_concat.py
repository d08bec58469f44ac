"""Concatenate Parquet files of one schema into one file without decoding them.

The batch job's workers each encode their chunk's decisions as a small Parquet
file (its checkpoint); the driver then builds ``decisions.parquet`` by copying
the chunks' column-chunk bytes one after the other and writing one footer that
lists every chunk's row groups. No page is decoded or re-encoded, so the driver
does almost no work per chunk, and the result is the file that one
:class:`pyarrow.parquet.ParquetWriter` writing the same tables one after the
other gives, byte for byte (``tests/test_parquet_concat.py``).

A Parquet file is ``PAR1``, the column chunks, the footer (a ``FileMetaData``
struct in Thrift's compact protocol), the footer's length (uint32, little
endian) and ``PAR1``. Column-chunk offsets in the footer are absolute, so each
appended file's row groups have their offsets shifted by where its bytes land;
everything else of a row group is kept as it is. The module holds a small
reader and writer of the compact protocol (Apache Thrift's
``thrift-compact-protocol`` specification) that keep every field, known or not,
so a footer read and written again is the same bytes.

Only plaintext files (``PAR1``, no encryption) of identical schemas, written
by the same writer with the same options, are accepted.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["ParquetConcatError", "ParquetConcat", "concat_files", "read_footer",
           "encode_struct", "decode_struct"]

MAGIC = b"PAR1"

# compact protocol type ids
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY = 1, 2, 3, 4, 5, 6, 7, 8
_LIST, _SET, _MAP, _STRUCT = 9, 10, 11, 12
_INTS = (_BYTE, _I16, _I32, _I64)

# field ids of parquet.thrift used here
_FMD_NUM_ROWS, _FMD_ROW_GROUPS, _FMD_ENCRYPTION = 3, 4, 8
_RG_COLUMNS, _RG_FILE_OFFSET, _RG_ORDINAL = 1, 5, 7
_CC_FILE_PATH, _CC_FILE_OFFSET, _CC_META = 1, 2, 3
_CC_OFFSET_INDEX, _CC_COLUMN_INDEX, _CC_CRYPTO, _CC_ENCRYPTED_META = 4, 6, 8, 9
# ColumnMetaData: data_page_offset, index_page_offset, dictionary_page_offset,
# bloom_filter_offset
_CMD_OFFSETS = (9, 10, 11, 14)
_CC_OFFSETS = (_CC_FILE_OFFSET, _CC_OFFSET_INDEX, _CC_COLUMN_INDEX)

#: A struct: its fields in the order they were read, each ``[field id, type, value]``.
Struct = list[list[Any]]


class ParquetConcatError(ValueError):
    """A file cannot be appended (not Parquet, encrypted, another schema or writer)."""


# --------------------------------------------------------------------------- codec


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = out = 0
        while True:
            b = self.byte()
            out |= (b & 0x7F) << shift
            if b < 0x80:
                return out
            shift += 7

    def zigzag(self) -> int:
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def value(self, t: int) -> Any:
        if t == _BYTE:
            b = self.byte()
            return b - 256 if b > 127 else b
        if t in _INTS:
            return self.zigzag()
        if t == _DOUBLE:
            self.pos += 8
            return struct.unpack_from("<d", self.data, self.pos - 8)[0]
        if t == _BINARY:
            n = self.varint()
            self.pos += n
            return bytes(self.data[self.pos - n:self.pos])
        if t in (_LIST, _SET):
            head = self.byte()
            size, et = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            # a bool element is one byte; it is kept as read
            items = [self.byte() if et in (_TRUE, _FALSE) else self.value(et)
                     for _ in range(size)]
            return (et, items)
        if t == _MAP:
            size = self.varint()
            if size == 0:
                return (0, 0, [])
            kv = self.byte()
            kt, vt = kv >> 4, kv & 0x0F
            pairs = [(self.value(kt), self.value(vt)) for _ in range(size)]
            return (kt, vt, pairs)
        if t == _STRUCT:
            return self.struct()
        raise ParquetConcatError(f"unknown Thrift compact type {t} at byte {self.pos}")

    def struct(self) -> Struct:
        fields: Struct = []
        last = 0
        while True:
            head = self.byte()
            if head == 0:
                return fields
            t, delta = head & 0x0F, head >> 4
            fid = last + delta if delta else self.zigzag()
            val = (t == _TRUE) if t in (_TRUE, _FALSE) else self.value(t)
            fields.append([fid, t, val])
            last = fid


def _varint(out: bytearray, v: int) -> None:
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _zigzag(out: bytearray, v: int) -> None:
    _varint(out, (v << 1) ^ (v >> 63))


def _write_value(out: bytearray, t: int, v: Any) -> None:
    if t == _BYTE:
        out.append(v & 0xFF)
    elif t in _INTS:
        _zigzag(out, v)
    elif t == _DOUBLE:
        out += struct.pack("<d", v)
    elif t == _BINARY:
        _varint(out, len(v))
        out += v
    elif t in (_LIST, _SET):
        et, items = v
        if len(items) < 15:
            out.append(len(items) << 4 | et)
        else:
            out.append(0xF0 | et)
            _varint(out, len(items))
        for item in items:
            if et in (_TRUE, _FALSE):
                out.append(item)
            else:
                _write_value(out, et, item)
    elif t == _MAP:
        kt, vt, pairs = v
        _varint(out, len(pairs))
        if pairs:
            out.append(kt << 4 | vt)
            for a, b in pairs:
                _write_value(out, kt, a)
                _write_value(out, vt, b)
    elif t == _STRUCT:
        _write_struct(out, v)
    else:
        raise ParquetConcatError(f"unknown Thrift compact type {t}")


def _write_struct(out: bytearray, fields: Struct) -> None:
    last = 0
    for fid, t, val in fields:
        if t in (_TRUE, _FALSE):
            t = _TRUE if val else _FALSE
        delta = fid - last
        if 0 < delta <= 15:
            out.append(delta << 4 | t)
        else:
            out.append(t)
            _zigzag(out, fid)
        if t not in (_TRUE, _FALSE):
            _write_value(out, t, val)
        last = fid
    out.append(0)


def decode_struct(data: bytes) -> Struct:
    """A compact-protocol struct read from ``data`` (all of it)."""
    r = _Reader(data)
    try:
        fields = r.struct()
    except IndexError as exc:
        raise ParquetConcatError("truncated Thrift struct") from exc
    if r.pos != len(data):
        raise ParquetConcatError(f"{len(data) - r.pos} bytes after the Thrift struct")
    return fields


def encode_struct(fields: Struct) -> bytes:
    """The compact-protocol bytes of a struct (the inverse of :func:`decode_struct`)."""
    out = bytearray()
    _write_struct(out, fields)
    return bytes(out)


# --------------------------------------------------------------------------- files


def _field(fields: Struct, fid: int) -> list[Any] | None:
    for f in fields:
        if f[0] == fid:
            return f
    return None


@dataclass(frozen=True, slots=True)
class Footer:
    """A Parquet file's footer: its ``FileMetaData`` and where the column chunks end."""

    meta: Struct
    data_end: int  # the column chunks are bytes [4, data_end) of the file


def read_footer(data: bytes, name: str = "file") -> Footer:
    """Read and check the footer of a plaintext Parquet file's bytes.

    Raises
    ------
    ParquetConcatError
        Not a Parquet file, an encrypted one, or a footer that cannot be read
        (``name`` says which file in the message).
    """
    size = len(data)
    if size < 12 or data[:4] != MAGIC or data[-4:] != MAGIC:
        raise ParquetConcatError(f"{name}: not a plaintext Parquet file")
    n = struct.unpack_from("<I", data, size - 8)[0]
    if n > size - 12:
        raise ParquetConcatError(f"{name}: footer length {n} exceeds the file")
    meta = decode_struct(data[size - 8 - n:size - 8])
    if _field(meta, _FMD_ENCRYPTION) is not None:
        raise ParquetConcatError(f"{name}: encrypted Parquet files are not supported")
    return Footer(meta, size - 8 - n)


def _moved(offset: int, delta: int) -> int:
    """An absolute offset moved by ``delta``; 0 (what writers put in an offset they do
    not set, e.g. the deprecated ``ColumnChunk.file_offset``) stays 0: no column
    chunk starts at byte 0, which holds the magic."""
    return offset + delta if offset > 0 else offset


def _shift_row_group(rg: Struct, delta: int, ordinal: int) -> Struct:
    """A copy of a row group with its offsets moved by ``delta`` bytes."""
    out: Struct = []
    for fid, t, val in rg:
        if fid == _RG_COLUMNS:
            et, chunks = val
            val = (et, [_shift_chunk(c, delta) for c in chunks])
        elif fid == _RG_FILE_OFFSET:
            val = _moved(val, delta)
        elif fid == _RG_ORDINAL:
            val = ordinal
        out.append([fid, t, val])
    return out


def _shift_chunk(cc: Struct, delta: int) -> Struct:
    out: Struct = []
    for fid, t, val in cc:
        if fid in (_CC_FILE_PATH, _CC_CRYPTO, _CC_ENCRYPTED_META):
            raise ParquetConcatError("column chunks in other files or encrypted are not "
                                     "supported")
        if fid in _CC_OFFSETS:
            val = _moved(val, delta)
        elif fid == _CC_META:
            val = [[f, ft, _moved(v, delta) if f in _CMD_OFFSETS else v] for f, ft, v in val]
        out.append([fid, t, val])
    return out


def _without_row_groups(meta: Struct) -> Struct:
    """A footer's fields other than the row count and the row groups (the schema,
    writer, key-value metadata, column orders...)."""
    return [f for f in meta if f[0] not in (_FMD_NUM_ROWS, _FMD_ROW_GROUPS)]


class ParquetConcat:
    """Write one Parquet file from whole Parquet files of the same schema, in order.

    Parameters
    ----------
    out : BinaryIO
        An open binary file, positioned at its start.
    template : bytes
        A Parquet file (e.g. an empty one) of the schema and writer options of the
        files to append: the output's footer is its footer with their row groups.

    Examples
    --------
    >>> import io, tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> d = Path(tempfile.mkdtemp())
    >>> t = pa.table({"x": [1, 2, 3]})
    >>> pq.write_table(t.slice(0, 2), d / "a.parquet")
    >>> pq.write_table(t.slice(2), d / "b.parquet")
    >>> empty = io.BytesIO()
    >>> pq.write_table(t.slice(0, 0), empty)
    >>> with open(d / "ab.parquet", "wb") as fh:
    ...     cat = ParquetConcat(fh, empty.getvalue())
    ...     _ = cat.append(d / "a.parquet")
    ...     _ = cat.append(d / "b.parquet")
    ...     cat.close()
    >>> pq.read_table(d / "ab.parquet")["x"].to_pylist()
    [1, 2, 3]
    """

    def __init__(self, out: BinaryIO, template: bytes) -> None:
        self.out = out
        self.base = _without_row_groups(read_footer(template, "template").meta)
        self.row_groups: list[Struct] = []
        self.num_rows = 0
        self.pos = len(MAGIC)
        out.write(MAGIC)

    def append(self, path: str | os.PathLike[str]) -> int:
        """Append a whole file's row groups; returns the rows added.

        Raises
        ------
        ParquetConcatError
            The file's schema, writer or options (its footer without the row
            groups) differ from the template's.
        """
        with open(path, "rb") as fh:
            data = fh.read()
        footer = read_footer(data, str(path))
        if _without_row_groups(footer.meta) != self.base:
            raise ParquetConcatError(f"{path}: another schema, writer or metadata than the "
                                     "file being written")
        delta = self.pos - len(MAGIC)
        groups = _field(footer.meta, _FMD_ROW_GROUPS)
        rows = _field(footer.meta, _FMD_NUM_ROWS)
        for rg in groups[2][1] if groups is not None else []:
            self.row_groups.append(_shift_row_group(rg, delta, len(self.row_groups)))
        n = int(rows[2]) if rows is not None else 0
        self.num_rows += n
        self.out.write(memoryview(data)[len(MAGIC):footer.data_end])
        self.pos += footer.data_end - len(MAGIC)
        return n

    def close(self) -> None:
        """Write the footer (the file is complete; the caller closes and syncs it)."""
        meta = sorted(self.base + self._counts(), key=lambda f: f[0])
        data = encode_struct(meta)
        self.out.write(data)
        self.out.write(struct.pack("<I", len(data)))
        self.out.write(MAGIC)

    def _counts(self) -> Struct:
        return [[_FMD_NUM_ROWS, _I64, self.num_rows],
                [_FMD_ROW_GROUPS, _LIST, (_STRUCT, self.row_groups)]]


def concat_files(files: list[Path], template: bytes, out: Path) -> int:
    """Write ``out`` as the concatenation of ``files`` (see :class:`ParquetConcat`);
    returns its rows."""
    with open(out, "wb") as fh:
        cat = ParquetConcat(fh, template)
        for f in files:
            cat.append(f)
        cat.close()
        return cat.num_rows
