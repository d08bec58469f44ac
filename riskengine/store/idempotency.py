"""``Idempotency-Key`` answers of ``POST /v1/decisions`` (shell layer).

A key is stored with the sha256 of the request body, the response body and the
decision ids, in the transaction that stores the decisions: a retry with the
same key and body gets the first answer and stores nothing; the same key with
another body is refused by the service (docs/SERVICE.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskengine.store.tables import idempotency_keys

__all__ = ["IdempotentRequest", "IdempotentAnswer"]

_FIND = sa.select(idempotency_keys).where(idempotency_keys.c.key == sa.bindparam("p_key"))
_INSERT = idempotency_keys.insert()


class IdempotentRequest(NamedTuple):
    """A request under an ``Idempotency-Key``: the key, the sha256 (hex) of its body, and
    ``render(ids, register) -> bytes``, the response body once the decisions are stored."""

    key: str
    request_hash: str
    render: Callable[[list[int], list[dict[str, Any] | None]], bytes]


class IdempotentAnswer(NamedTuple):
    """The stored answer to a key: the body hash it was given for, the response, the ids."""

    request_hash: str
    response: bytes
    decision_ids: list[int]


def find_answer(conn: Connection, key: str) -> IdempotentAnswer | None:
    """The answer stored under ``key``, or None."""
    row = conn.execute(_FIND, {"p_key": key}).mappings().first()
    if row is None:
        return None
    ids = [int(x) for x in str(row["decision_ids"]).split(",") if x]
    return IdempotentAnswer(str(row["request_hash"]), str(row["response"]).encode(), ids)


def insert_answer(conn: Connection, key: str, request_hash: str, response: bytes,
                  ids: list[int], now: str) -> None:
    """Store the answer under ``key`` (a concurrent twin raises IntegrityError)."""
    conn.execute(_INSERT, {"key": key, "request_hash": request_hash,
                           "response": response.decode(), "created_at": now,
                           "decision_ids": ",".join(str(i) for i in ids)})
