"""Few-row statements of the decision path at the driver level (shell layer).

A stored decision runs a dozen statements of one or two rows each; through SQLAlchemy's
Core each costs about 25 us of Python around a 5 us SQLite call (the cached compiled
statement, bind and result processing, the execution context). The statements here are
SQL text built once per dialect from a table's columns and run with
``Connection.exec_driver_sql`` in the caller's transaction: SQLAlchemy still wraps
driver errors (``IntegrityError``, ``OperationalError``: the service's 503) and invalidates
a lost connection, but compiles and processes nothing.

Values are given and read back as the columns' SQLAlchemy types keep them
(:func:`bind` and :func:`read`): a ``Date`` is ISO text on SQLite and a date on
PostgreSQL, a ``JSON`` column JSON text (``JSONB`` on PostgreSQL), so rows written here
and rows written through SQLAlchemy are the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskengine.store.values import _dumps

__all__ = ["bind", "insert_row", "read", "select_rows", "update_rows"]


def _kind(column: sa.Column[Any]) -> str:
    """How a column's values cross the driver: ``date``, ``json``, ``bool`` or ``plain``."""
    t = column.type
    if isinstance(t, sa.Date):
        return "date"
    if isinstance(t, sa.JSON):
        return "json"
    if isinstance(t, sa.Boolean):
        return "bool"
    return "plain"


def bind(kind: str, value: Any, sqlite: bool) -> Any:
    """A value as the driver takes it for a column of ``kind`` (see :func:`_kind`)."""
    if value is None:
        return None
    if kind == "date":
        return value.isoformat() if sqlite else value
    if kind == "json":
        return _dumps(value)
    return value


def read(kind: str, value: Any, sqlite: bool) -> Any:
    """A value read from the driver as SQLAlchemy's type gives it."""
    if value is None or not sqlite:
        return value
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "json":
        return json.loads(value)
    if kind == "bool":
        return bool(value)
    return value


_SQL: dict[tuple[Any, ...], tuple[str, tuple[str, ...]]] = {}
"""Built statements: (verb, table, dialect, columns...) -> (SQL text, the columns' kinds)."""


def _mark(kind: str, dialect: str) -> str:
    if dialect == "sqlite":
        return "?"
    return "CAST(%s AS JSONB)" if kind == "json" else "%s"  # a JSON text becomes JSONB


def _built(key: tuple[Any, ...], table: sa.Table, columns: Sequence[str],
           build: Any) -> tuple[str, tuple[str, ...]]:
    got = _SQL.get(key)
    if got is None:
        kinds = tuple(_kind(table.c[c]) for c in columns)
        got = _SQL[key] = (build(kinds), kinds)
    return got


def insert_row(conn: Connection, table: sa.Table, row: Mapping[str, Any], *,
           returning: str | None = None) -> int | None:
    """Insert one row (its keys are the columns); with ``returning``, the new row's key
    (SQLite's last row id, PostgreSQL's ``RETURNING``)."""
    dialect, cols = conn.dialect.name, tuple(row)

    def build(kinds: tuple[str, ...]) -> str:
        sql = (f"INSERT INTO {table.name} ({', '.join(cols)}) "
               f"VALUES ({', '.join(_mark(k, dialect) for k in kinds)})")
        return sql + (f" RETURNING {returning}" if returning and dialect != "sqlite" else "")

    sql, kinds = _built(("insert", table.name, dialect, returning, *cols), table, cols, build)
    sqlite = dialect == "sqlite"
    result = conn.exec_driver_sql(sql, tuple(
        bind(k, v, sqlite) for k, v in zip(kinds, row.values(), strict=True)))
    if returning is None:
        return None
    return int(result.lastrowid) if sqlite else int(result.scalar_one())


def update_rows(conn: Connection, table: sa.Table, values: Mapping[str, Any],
           key: Mapping[str, Any]) -> int:
    """``UPDATE table SET values WHERE key`` (equalities); returns the rows updated."""
    dialect, cols, keys = conn.dialect.name, tuple(values), tuple(key)

    def build(kinds: tuple[str, ...]) -> str:
        marks = [_mark(k, dialect) for k in kinds]
        return (f"UPDATE {table.name} SET "
                + ", ".join(f"{c} = {m}" for c, m in zip(cols, marks, strict=False))
                + " WHERE " + " AND ".join(f"{c} = {m}" for c, m in zip(
                    keys, marks[len(cols):], strict=True)))

    sql, kinds = _built(("update", table.name, dialect, cols, keys), table, cols + keys,
                        build)
    sqlite = dialect == "sqlite"
    params = tuple(bind(k, v, sqlite) for k, v in zip(
        kinds, [*values.values(), *key.values()], strict=True))
    return int(conn.exec_driver_sql(sql, params).rowcount or 0)


def select_rows(conn: Connection, table: sa.Table, key: Mapping[str, Any], *,
           columns: Sequence[str] | None = None, for_update: bool = False
           ) -> list[dict[str, Any]]:
    """``SELECT columns FROM table WHERE key`` (equalities; ``for_update``: ``FOR UPDATE``
    on PostgreSQL, SQLite's write transaction holding the database already), rows as
    dicts of the values as SQLAlchemy reads them."""
    dialect, keys = conn.dialect.name, tuple(key)
    cols = tuple(columns) if columns is not None else tuple(c.name for c in table.columns)

    def build(kinds: tuple[str, ...]) -> str:
        mark = "?" if dialect == "sqlite" else "%s"
        sql = (f"SELECT {', '.join(cols)} FROM {table.name} WHERE "
               + " AND ".join(f"{c} = {mark}" for c in keys))
        return sql + (" FOR UPDATE" if for_update and dialect != "sqlite" else "")

    sql, kinds = _built(("select", table.name, dialect, for_update, cols, keys), table,
                        cols, build)
    sqlite = dialect == "sqlite"
    rows = conn.exec_driver_sql(sql, tuple(key.values())).fetchall()
    return [{c: read(k, v, sqlite) for c, k, v in zip(cols, kinds, r, strict=True)}
            for r in rows]
