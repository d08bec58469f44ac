"""Pages of the store's lists: keyset pagination in SQL (shell layer).

The HTTP API's list endpoints (decisions, limit actions, requests to the insurer) read
one page at a time: the rows after a cursor in a fixed order, at most ``limit`` of
them, and a cursor for the next page when there is one. The order is a unique key
(the row id last), so a page never repeats nor skips a row that was there when the
first page was read; rows added later appear at the end of an id-ordered list.

A cursor is opaque to clients: the last row's sort key, as URL-safe base64 of a JSON
list. :func:`decode_cursor` refuses one that does not fit the list's key (a
:class:`~riskengine.errors.InvalidInputError` naming the ``cursor`` field, never its
value).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

from riskengine.errors import InvalidInputError
from riskengine.policy.insurer import REQUEST_COLUMNS
from riskengine.store.database import _Database
from riskengine.store.tables import decisions, insurer_requests, limit_history

__all__ = ["Page", "MAX_PAGE", "decode_cursor", "encode_cursor"]

MAX_PAGE = 500
"""Most rows in one page."""


class Page(NamedTuple):
    """One page of a list: its rows and the cursor of the next page (None: the last)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(key: Sequence[Any]) -> str:
    """The opaque cursor of a sort key."""
    text = json.dumps(list(key), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type]) -> list[Any]:
    """The sort key in ``cursor``, each part of the type in ``kinds``.

    Raises
    ------
    InvalidInputError
        The cursor is not one this list handed out (problem ``column`` ``cursor``).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if (not isinstance(key, list) or len(key) != len(kinds)
            or not all(type(v) is k for v, k in zip(key, kinds, strict=True))):
        raise InvalidInputError("cursor: not a cursor of this list; start again without one",
                                [{"table": "query", "column": "cursor",
                                  "reason": "bad_cursor"}])
    return key


def _page(conn: Any, query: sa.Select[Any], order: Sequence[sa.ColumnElement[Any]],
          kinds: Sequence[type], cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    """Rows of ``query`` after ``cursor`` in ``order``, at most ``limit``; the next cursor."""
    limit = max(1, min(int(limit), MAX_PAGE))
    if cursor:
        after = decode_cursor(cursor, kinds)
        query = query.where(sa.tuple_(*order) > sa.tuple_(*[sa.literal(v) for v in after]))
    rows = list(conn.execute(query.order_by(*order).limit(limit + 1)).mappings())
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor([rows[-1][c.key] for c in order]) if more and rows else None
    return rows, nxt


class _Pages(_Database):
    """The paged lists of :class:`~riskengine.store.DecisionStore`."""

    def decision_by_id(self, decision_id: int) -> dict[str, Any] | None:
        """The stored decision of this id (with ``decision_id``), or None."""
        q = sa.select(decisions.c.id, decisions.c.decision).where(
            decisions.c.id == int(decision_id))
        with self._read() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        out = dict(row.decision)
        out.setdefault("decision_id", int(row.id))
        return out

    def decision_page(self, *, debtor_id: str | None = None, supplier_id: str | None = None,
                      cursor: str | None = None, limit: int = 100) -> Page:
        """Stored decisions in the order they were stored (by id), optionally of one
        debtor or one supplier; each with ``decision_id``."""
        c = decisions.c
        q = sa.select(c.id, c.decision)
        if debtor_id is not None:
            q = q.where(c.debtor_id == str(debtor_id))
        if supplier_id is not None:
            q = q.where(c.supplier_id == str(supplier_id))
        with self._read() as conn:
            rows, nxt = _page(conn, q, [c.id], [int], cursor, limit)
        items = []
        for r in rows:
            d = dict(r["decision"])
            d.setdefault("decision_id", int(r["id"]))
            items.append(d)
        return Page(items, nxt)

    def limit_action_page(self, *, debtor_id: str | None = None,
                          supplier_id: str | None = None, action: str | None = None,
                          cursor: str | None = None, limit: int = 100) -> Page:
        """The limit register's history (every change of a pair's limit: action, old and
        new limit, effective date, reason, who, source) in the order it was recorded."""
        c = limit_history.c
        q = sa.select(c.id, c.supplier_id, c.debtor_id, c.action, c.old_limit, c.new_limit,
                      c.effective_date, c.reason, c.changed_by, c.decision_id, c.changed_at,
                      c.source, c.as_of)
        if debtor_id is not None:
            q = q.where(c.debtor_id == str(debtor_id))
        if supplier_id is not None:
            q = q.where(c.supplier_id == str(supplier_id))
        if action is not None:
            q = q.where(c.action == str(action))
        with self._read() as conn:
            rows, nxt = _page(conn, q, [c.id], [int], cursor, limit)
        items = []
        for r in rows:
            d = dict(r)
            d["action_id"] = d.pop("id")
            for k in ("effective_date", "as_of"):
                d[k] = None if d[k] is None else d[k].isoformat()
            items.append(d)
        return Page(items, nxt)

    def insurer_request_page(self, *, debtor_id: str | None = None,
                             cursor: str | None = None, limit: int = 100) -> Page:
        """The requests to the insurer sorted by debtor and supplier (as
        :meth:`~riskengine.store.DecisionStore.insurer_requests`), one page."""
        c = insurer_requests.c
        q = sa.select(c.id, *[c[n] for n in (*REQUEST_COLUMNS, "as_of", "source",
                                             "recorded_at") if n != "id"])
        if debtor_id is not None:
            q = q.where(c.debtor_id == str(debtor_id))
        with self._read() as conn:
            rows, nxt = _page(conn, q, [c.debtor_id, c.supplier_id, c.id], [str, str, int],
                              cursor, limit)
        items = []
        for r in rows:
            d = {k: v for k, v in dict(r).items() if k != "id"}
            if d["as_of"] is not None:
                d["as_of"] = d["as_of"].isoformat()
            items.append(d)
        return Page(items, nxt)
