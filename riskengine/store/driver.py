"""Few-row statements of the decision path at the driver level (shell layer).

A stored decision runs a dozen statements of one or two rows each; through SQLAlchemy's
Core each costs about 25 us of Python around a 5 us SQLite call (the cached compiled
statement, bind and result processing, the execution context, the result's column
metadata: 30 columns of the register read by name). The statements here are SQL text
built once per dialect (from a table's columns, or a Core statement compiled once:
:class:`Prepared`) and run on the DBAPI cursor of the caller's SQLAlchemy connection,
inside its transaction (:func:`_run`): driver errors are raised as SQLAlchemy's
(``IntegrityError``; ``OperationalError``, the service's 503) and a lost connection is
invalidated, as ``Connection.execute`` does, but nothing is compiled or processed per
call.

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

__all__ = ["Prepared", "bind", "insert_row", "read", "select_rows", "update_rows"]


def bind(kind: str, value: Any, sqlite: bool) -> Any:
    """A value as the driver takes it for a column of ``kind`` (see :func:`_kind_of`)."""
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
        kinds = tuple(_kind_of(table.c[c].type) for c in columns)
        got = _SQL[key] = (build(kinds), kinds)
    return got


class _Done:
    """What a statement run at the driver left: its rows, last row id and row count."""

    __slots__ = ("rows", "lastrowid", "rowcount")

    def __init__(self, rows: list[Any], lastrowid: Any, rowcount: int) -> None:
        self.rows, self.lastrowid, self.rowcount = rows, lastrowid, rowcount


def _run(conn: Connection, sql: str, params: Any) -> _Done:
    """Run ``sql`` on the DBAPI cursor of ``conn`` inside its transaction (begun first, as
    SQLAlchemy would on a first statement: ``BEGIN`` / ``BEGIN IMMEDIATE`` on SQLite, the
    isolation level on PostgreSQL). A driver error is raised as SQLAlchemy's
    (``IntegrityError``, ``OperationalError``...), the connection invalidated when it
    was lost, as ``Connection.execute`` does."""
    if not conn.in_transaction():
        conn.begin()
    raw: Any = conn.connection.dbapi_connection
    cur = raw.cursor()
    try:
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description is not None else []
        return _Done(rows, getattr(cur, "lastrowid", None), cur.rowcount)
    except Exception as exc:
        base = conn.dialect.loaded_dbapi.Error
        if not isinstance(exc, base):
            raise
        lost = bool(conn.dialect.is_disconnect(exc, raw, cur))
        if lost:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(sql, params, exc, base, connection_invalidated=lost,
                                         dialect=conn.dialect) from exc
    finally:
        cur.close()


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
    done = _run(conn, sql, tuple(
        bind(k, v, sqlite) for k, v in zip(kinds, row.values(), strict=True)))
    if returning is None:
        return None
    return int(done.lastrowid) if sqlite else int(done.rows[0][0])


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
    return int(_run(conn, sql, params).rowcount or 0)


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
    rows = _run(conn, sql, tuple(key.values())).rows
    return [{c: read(k, v, sqlite) for c, k, v in zip(cols, kinds, r, strict=True)}
            for r in rows]


class Prepared:
    """A SQLAlchemy select (or text) with named parameters, compiled once per dialect and
    run at the driver: rows as tuples of the values as SQLAlchemy reads them (the selected
    columns' types; a text statement's values as the driver gives them)."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._by_dialect: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any],
                                          dict[str, str], tuple[str, ...]]] = {}

    def _compiled(self, conn: Connection) -> tuple[str, tuple[str, ...] | None,
                                                   dict[str, Any], dict[str, str],
                                                   tuple[str, ...]]:
        name = conn.dialect.name
        got = self._by_dialect.get(name)
        if got is None:
            compiled = self.statement.compile(dialect=conn.dialect)
            order = tuple(compiled.positiontup) if compiled.positional else None
            kinds = {k: _kind_of(b.type) for k, b in compiled.binds.items()}
            cols = getattr(self.statement, "selected_columns", None)
            result = tuple(_kind_of(c.type) for c in cols) if cols is not None else ()
            if all(k == "plain" for k in result):
                result = ()  # read as the driver gives them
            defaults = {k: b.effective_value for k, b in compiled.binds.items()
                        if not b.required}  # e.g. a LIMIT's value; the others must be given
            got = (compiled.string, order, defaults, kinds, result)
            self._by_dialect[name] = got
        return got

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The statement's rows with ``params`` (by bind name)."""
        sql, order, defaults, kinds, result = self._compiled(conn)
        sqlite = conn.dialect.name == "sqlite"
        given = {**defaults, **params}
        for k, kind in kinds.items():  # each value bound once, however often it appears
            if kind != "plain" and k in given:
                given[k] = bind(kind, given[k], sqlite)
        values: Any = tuple([given[k] for k in order]) if order is not None else given
        rows = _run(conn, sql, values).rows
        if not sqlite or not result:
            return rows
        return [tuple(read(k, v, True) for k, v in zip(result, r, strict=True)) for r in rows]


def _kind_of(t: Any) -> str:
    """How values of a SQLAlchemy type cross the driver (:func:`bind`, :func:`read`):
    ``date``, ``json``, ``bool`` or ``plain``."""
    if isinstance(t, sa.Date):
        return "date"
    if isinstance(t, sa.JSON):
        return "json"
    if isinstance(t, sa.Boolean):
        return "bool"
    return "plain"
