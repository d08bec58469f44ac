"""The input hash: the canonical bytes of records, debtor digests, pair documents.

One encoder (:func:`riskengine.scoring.records._pack_runs`) writes the bytes for a
batch and for one payload. The reference below (:func:`_canonical`, a naive
per-value writer kept only as a test oracle) is the encoding as documented in
:mod:`riskengine.scoring.records`: float64 little endian with one NaN, int64 days
with NaT as INT64_MIN, one byte per bool, uint32 length + UTF-8 with 0xffffffff
for a missing text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskengine.api import load_engine
from riskengine.contracts import schemas
from riskengine.contracts.payload import DebtorPayload
from riskengine.scoring import payload_hash, records
from riskengine.scoring.hashing import HASH_SCHEME
from riskengine.scoring.inputs import PairBytes
from riskengine.synthetic import generate_portfolio

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "debtor.json"
_LENGTHS = [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 70_000]


def _canonical(v: Any, kind: str) -> bytes:
    """One value's canonical bytes, value by value (the test oracle)."""
    if kind in ("float", "int"):
        f = float("nan") if v is None else float(v)
        return struct.pack("<Q", 0x7FF8000000000000) if f != f else struct.pack("<d", f)
    if kind == "date":
        return struct.pack("<q", -(1 << 63) if v is None else
                           v.toordinal() - dt.date(1970, 1, 1).toordinal())
    if kind == "bool":
        return b"\x01" if v else b"\x00"
    if v is None:
        return b"\xff\xff\xff\xff"
    e = str(v).encode("utf-8")
    return struct.pack("<I", len(e)) + e


def _rows_bytes(columns: list[tuple[Any, str]], n: int, order: np.ndarray) -> list[bytes]:
    """Records ``order`` (any order, repeats) of batch columns, one block each."""
    rec = records.column_records([(columns, n)])
    runs = records._Runs(order.astype(np.int64), np.arange(order.size + 1)[None, :],
                         np.zeros(1, dtype=bool))
    pb = records.pair_bytes(rec, runs, order.size)
    return [pb.buf[a:b].tobytes() for a, b in zip(pb.start, pb.stop, strict=True)]


# --- the encoder --------------------------------------------------------------------------


def test_batch_columns_are_written_as_the_canonical_bytes() -> None:
    """Edge values: signed zeros, NaN (JSON null), infinities, subnormals, integral
    floats; NaT; missing, empty, escaped and non-ASCII strings."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(500) * 10.0 ** rng.integers(-20, 20, 500),
                        [0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1e16, 5e-324]])
    every = np.arange(x.size)
    assert _rows_bytes([(x, "float")], x.size, every) == [_canonical(v, "float") for v in x]
    d = np.array(["1970-01-01", "2026-06-30", "NaT", "1899-12-31"], dtype="datetime64[D]")
    py = [None if np.isnat(v) else v.astype(object) for v in d]
    assert _rows_bytes([(d, "date")], 4, np.arange(4)) == [_canonical(v, "date") for v in py]
    strs = ["GR-D-1", "", None, 'quote " and \\ slash', "Ελληνικά ü", "tab\tnew\nline"]
    for values in (pd.Series(strs, dtype="str"), np.array(strs, dtype=object)):
        assert _rows_bytes([(values, "str")], 6, np.arange(6)) == [
            _canonical(v, "str") for v in strs]
    b = np.array([True, False])
    assert _rows_bytes([(b, "bool")], 2, np.arange(2)) == [b"\x01", b"\x00"]
    assert _canonical(None, "str") != _canonical("", "str")
    assert _canonical(5, "int") == _canonical(5.0, "float")


@pytest.mark.parametrize("guess", [512, 8])
def test_records_of_many_columns_in_any_row_order(guess: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole records (every kind, missing values, rows picked out of order and twice),
    laid out at once or, when the first buffer is too small, after their sizes."""
    monkeypatch.setattr(records, "_PAIR_GUESS", guess)
    rng = np.random.default_rng(1)
    n = 40
    strs = ["", None, "Ελληνικά ü", "x" * 300, "GR-D-1"]
    columns: list[tuple[Any, str]] = [
        (pd.Series([strs[i % 5] for i in range(n)], dtype="str"), "str"),
        (np.where(rng.random(n) < 0.2, np.nan, rng.standard_normal(n)), "float"),
        (np.array(["2026-06-30", "NaT"] * (n // 2), dtype="datetime64[D]"), "date"),
        (rng.random(n) < 0.5, "bool"),
        (np.array([strs[(i + 2) % 5] for i in range(n)], dtype=object), "category"),
    ]
    py = [[None if v is None or (isinstance(v, float) and v != v) else v
           for v in (values.tolist() if kind != "date" else
                     [None if np.isnat(d) else d.astype(object) for d in values])]
          for values, kind in columns]
    order = np.concatenate([rng.permutation(n), [3, 3]])
    assert _rows_bytes(columns, n, order) == [
        b"".join(_canonical(py[j][r], kind) for j, (_, kind) in enumerate(columns))
        for r in order.tolist()]


def test_payload_records_are_written_as_the_canonical_bytes() -> None:
    """The single path's records (one payload's dicts, laid out by
    :mod:`riskengine.scoring.payload_hash`): signed zeros, NaN, None, ints for floats,
    infinities, subnormals, missing dates, empty and non-ASCII strings, booleans."""
    floats = [0.0, -0.0, float("nan"), None, 7, float("inf"), 5e-324, 1e16, 12.5]
    strs = ["", None, "Ελληνικά ü", 'q " \\', "x"]
    dates = [None, dt.date(1970, 1, 1), dt.date(1899, 12, 31), dt.date(2026, 6, 30)]
    tables, want = [], []
    for table in ("debtors", "statements", "adverse_records", "invoices", "exposures"):
        cols = [(c.name, c.kind) for c in schemas.CONTRACTS[table].columns]
        rows = [{name: (floats[(i + j) % 9] if kind in ("float", "int")
                        else dates[(i + j) % 4] if kind == "date"
                        else bool((i + j) % 2) if kind == "bool"
                        else strs[(i + j) % 5]) for j, (name, kind) in enumerate(cols)}
                for i in range(3)]
        tables.append((payload_hash._layout(tuple(cols)), rows))
        want.append([b"".join(_canonical(r[name], kind) for name, kind in cols) for r in rows])
    rec = payload_hash._records(tables)
    for t, rows in enumerate(want):  # each table's records, one block each
        run = np.zeros((len(tables), len(rows) + 1), dtype=np.int64)
        run[t] = np.arange(len(rows) + 1)
        pb = records.pair_bytes(rec, records._Runs(np.arange(len(rows)), run,
                                                   np.zeros(len(tables), dtype=bool)), len(rows))
        assert [pb.buf[a:b].tobytes() for a, b in zip(pb.start, pb.stop, strict=True)] == rows


def test_input_hashes_are_the_sha256_of_each_pair_document() -> None:
    """:func:`records._input_hashes` (odd lengths, empty terms) against hashlib."""
    rng = np.random.default_rng(2)
    digest = rng.integers(0, 256, (5, 32), dtype=np.uint8)
    dp = np.array([4, 0, 0, 2, 1, 3, 4])
    parts = [rng.integers(0, 256, k, dtype=np.uint8).tobytes()
             for k in (0, 1, 55, 56, 64, 119, 900)]
    stop = np.cumsum([len(b) for b in parts])
    terms = PairBytes(np.frombuffer(b"".join(parts), dtype=np.uint8),
                      stop - [len(b) for b in parts], stop)
    extras = records.supplier_extras(np.array([0, 1, 4, 11, 0, 10, 2]),
                                     np.array([np.nan, 0.25, 1.0, np.nan, 0.0, 0.5, 0.125]))
    got = records._input_hashes("2026-06-30", digest, dp, terms, extras).to_pylist()
    assert got == [hashlib.sha256(HASH_SCHEME + b"2026-06-30" + digest[d].tobytes() + b
                                  + e.tobytes()).hexdigest()
                   for d, b, e in zip(dp.tolist(), parts, extras, strict=True)]


def test_supplier_extras_are_one_grade_byte_and_a_canonical_float() -> None:
    """The supplier's rating (a byte) and its debtors' HHI (float64 little endian; every
    NaN one bit pattern, as the records' floats)."""
    odd_nan = np.array([0x7FF8000000000001], dtype=np.uint64).view(np.float64)
    got = records.supplier_extras(np.array([3, 0]), np.array([0.25, odd_nan[0]]))
    assert got[0].tobytes() == b"\x03" + struct.pack("<d", 0.25)
    assert got[1].tobytes() == b"\x00" + struct.pack("<Q", 0x7FF8000000000000)


# --- digests --------------------------------------------------------------------------


def _slices() -> tuple[np.ndarray, np.ndarray]:
    """Random bytes cut into consecutive slices: every length around SHA-256's 64-byte
    blocks and its 55/56-byte padding edge, random lengths, empty ones at both ends."""
    rng = np.random.default_rng(3)
    lens = np.concatenate([[0], _LENGTHS, rng.integers(0, 3000, 500), [0]])
    buf = rng.integers(0, 256, int(lens.sum()) + 100, dtype=np.uint8)
    return buf, np.cumsum(lens).astype(np.int64)


def _want(buf: np.ndarray, ends: np.ndarray) -> list[bytes]:
    e = ends.tolist()
    return [hashlib.sha256(buf[a:b].tobytes()).digest() for a, b in zip([0, *e], e, strict=False)]


def test_digests_are_the_sha256_of_every_slice() -> None:
    buf, ends = _slices()
    got = records._digests(buf, ends)
    assert got.shape == (ends.size, 32)
    assert [bytes(r) for r in got] == _want(buf, ends)


def test_digests_of_a_non_contiguous_buffer() -> None:
    """A strided view is hashed as the bytes it shows (copied once), not as its memory."""
    buf, ends = _slices()
    wide = np.zeros(2 * buf.size, dtype=np.uint8)
    wide[::2] = buf
    assert [bytes(r) for r in records._digests(wide[::2], ends)] == _want(buf, ends)


def test_no_slices() -> None:
    assert records._digests(np.zeros(0, dtype=np.uint8),
                            np.zeros(0, dtype=np.int64)).shape == (0, 32)


@pytest.fixture(scope="module")
def portfolio() -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.Index]:
    p = generate_portfolio(300, seed=11)
    ids = pd.Index(sorted(p["debtors"]["debtor_id"].astype("str"))[5:], dtype="str")
    debtors = p["debtors"].set_index(p["debtors"]["debtor_id"].astype("str")).reindex(ids)
    return debtors, {n: p[n] for n in ("statements", "adverse_records", "invoices")}, ids


def test_debtor_digests_do_not_depend_on_batches_or_row_order(
        portfolio: tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.Index],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Debtors hashed a few at a time (some bigger than a batch alone, the buffer
    growing from a small guess) and tables in shuffled row order give the digests of
    one whole pass over sorted tables; records of debtors not asked for are left out."""
    debtors, tables, ids = portfolio
    assert len(tables["adverse_records"]["debtor_id"].unique()) < len(ids)  # empty runs too
    whole = records.debtor_digests(debtors, tables, ids)
    monkeypatch.setattr(records, "_DIGEST_BATCH", 1500)
    monkeypatch.setattr(records, "_BLOCK_GUESS", 16)
    assert (records.debtor_digests(debtors, tables, ids) == whole).all()
    monkeypatch.undo()
    shuffled = {n: f.sample(frac=1.0, random_state=1) for n, f in tables.items()}
    assert (records.debtor_digests(debtors, shuffled, ids) == whole).all()
    fewer = {n: f[f["debtor_id"].astype("str").isin(ids[:50])] for n, f in tables.items()}
    assert (records.debtor_digests(debtors, fewer, ids)[:50] == whole[:50]).all()
    assert records.debtor_digests(debtors.iloc[:0], tables, ids[:0]).shape == (0, 32)


def test_a_debtor_alone_has_its_digest_in_the_batch(
        portfolio: tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.Index]) -> None:
    """The same function with one debtor and with n: each debtor hashed alone (n = 1)
    gets its row of the batch's digests."""
    debtors, tables, ids = portfolio
    whole = records.debtor_digests(debtors, tables, ids)
    assert len(np.unique(whole, axis=0)) == len(ids)
    for i in (0, 1, 17, 120, len(ids) - 1):
        one = records.debtor_digests(debtors.iloc[[i]], tables, ids[[i]])
        assert one.shape == (1, 32) and (one[0] == whole[i]).all(), ids[i]


def test_the_example_payload_keeps_its_recorded_input_hash() -> None:
    """Stored decisions carry the input hash and later runs compare it: the example's
    hash, recorded before issue 14 gave both paths one encoder, is unchanged on the
    single path, in a batch of payloads and on the Arrow path of a batch."""
    # recorded at scheme 3 (issue 16: the supplier's assessment columns in its record, the
    # supplier's rating and debtor dispersion after the terms; scheme 2 gave 84f6451d...)
    recorded = "cc60223f01dcd75d712bbcf5b88cbe77bf4cb0774019aa19ae3a4f86f38d4fb5"
    engine = load_engine()
    payload = json.loads(EXAMPLE.read_text())
    assert engine.decide_one(payload)["input_hash"] == recorded
    assert engine.score_payloads([payload])[0]["input_hash"] == recorded
    p = DebtorPayload.model_validate(payload)
    digest, terms = payload_hash.payload_hashes(p, [p.pairs[0].product or ""])
    extras = records.supplier_extras(np.zeros(1, dtype=np.int64), np.full(1, np.nan))
    assert records._input_hashes("2026-06-30", digest, np.zeros(1, dtype=np.int64),
                                 terms, extras).to_pylist() == [recorded]
