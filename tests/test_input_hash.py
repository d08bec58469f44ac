"""The input hash's debtor digests and the sha256 of many slices of one buffer."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from riskengine.scoring import records
from riskengine.synthetic import generate_portfolio

_LENGTHS = [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 70_000]


def _slices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random bytes and slices of them: every length around SHA-256's 64-byte blocks
    and its 55/56-byte padding edge, random lengths, overlaps, empty slices at both ends."""
    rng = np.random.default_rng(3)
    buf = rng.integers(0, 256, 200_000, dtype=np.uint8)
    lens = np.concatenate([_LENGTHS, rng.integers(0, 3000, 500)])
    starts = rng.integers(0, buf.size - lens + 1)
    starts = np.concatenate([starts, [0, buf.size, buf.size - 64]])
    ends = np.concatenate([starts[:lens.size] + lens, [0, buf.size, buf.size]])
    return buf, starts.astype(np.int64), ends.astype(np.int64)


def _want(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[bytes]:
    return [hashlib.sha256(buf[a:b].tobytes()).digest()
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def test_digests_are_the_sha256_of_every_slice() -> None:
    buf, starts, ends = _slices()
    got = records._digests(buf, starts, ends)
    assert got.shape == (starts.size, 32)
    assert [bytes(r) for r in got] == _want(buf, starts, ends)


def test_digests_of_a_non_contiguous_buffer() -> None:
    """A strided view is hashed as the bytes it shows (copied once), not as its memory."""
    buf, starts, ends = _slices()
    wide = np.zeros(2 * buf.size, dtype=np.uint8)
    wide[::2] = buf
    got = records._digests(wide[::2], starts, ends)
    assert [bytes(r) for r in got] == _want(buf, starts, ends)


def test_no_slices() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert records._digests(np.zeros(0, dtype=np.uint8), empty, empty).shape == (0, 32)


def test_debtor_digests_do_not_depend_on_batches_or_row_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Debtors hashed a few at a time (some bigger than a batch alone) and tables in
    shuffled row order give the digests of one whole pass over sorted tables; records
    of debtors not asked for are left out."""
    p = generate_portfolio(300, seed=11)
    ids = pd.Index(sorted(p["debtors"]["debtor_id"].astype("str"))[5:], dtype="str")
    debtors = p["debtors"].set_index(p["debtors"]["debtor_id"].astype("str")).reindex(ids)
    tables = {n: p[n] for n in ("statements", "adverse_records", "invoices")}
    assert len(tables["adverse_records"]["debtor_id"].unique()) < len(ids)  # empty runs too
    whole = records.debtor_digests(debtors, tables, ids)
    monkeypatch.setattr(records, "_DIGEST_BATCH", 1500)
    assert (records.debtor_digests(debtors, tables, ids) == whole).all()
    shuffled = {n: f.sample(frac=1.0, random_state=1) for n, f in tables.items()}
    assert (records.debtor_digests(debtors, shuffled, ids) == whole).all()
    fewer = {n: f[f["debtor_id"].astype("str").isin(ids[:50])] for n, f in tables.items()}
    assert (records.debtor_digests(debtors, fewer, ids)[:50] == whole[:50]).all()
    assert records.debtor_digests(debtors.iloc[:0], tables, ids[:0]).shape == (0, 32)
