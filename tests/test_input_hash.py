"""The input hash's sha256 of many slices of one buffer (riskengine.engine._digests)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from riskengine import engine

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


def test_openssl_path_is_hashlib_on_every_slice() -> None:
    if engine._openssl_sha256() is None:
        pytest.skip("no libcrypto SHA256 here: _digests uses hashlib")
    buf, starts, ends = _slices()
    got = engine._digests(buf, starts, ends)
    assert got.shape == (starts.size, 32)
    assert [bytes(r) for r in got] == _want(buf, starts, ends)


def test_hashlib_path_when_openssl_cannot_be_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "_openssl_sha256", lambda: None)
    buf, starts, ends = _slices()
    assert [bytes(r) for r in engine._digests(buf, starts, ends)] == _want(buf, starts, ends)


def test_no_slices() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert engine._digests(np.zeros(0, dtype=np.uint8), empty, empty).shape == (0, 32)
