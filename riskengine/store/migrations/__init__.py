"""Schema migrations of the store (Alembic, run in process: no ``env.py``, no ini file).

Revisions live in ``versions/`` (``0001_baseline.py``: the tables of before issue 15 and
the append-only guards of both backends). :func:`upgrade` brings a database to the head
revision in one transaction; :class:`~riskengine.store.DecisionStore` calls it when it
opens a store, so every store is at head before its first read or write. A store made
before migrations existed (tables, no ``alembic_version``) is recognised by the baseline
(which creates only what is missing) and stamped at 0001.

Concurrent openers are serialised: on PostgreSQL by a transaction-scoped advisory lock
taken before the version is read, on SQLite by the store's ``BEGIN IMMEDIATE``. The
second opener finds the head already there and changes nothing.

Adding a revision: copy ``versions/0001_baseline.py`` to ``versions/0002_<what>.py``,
set ``revision = "0002"`` and ``down_revision = "0001"``, write ``upgrade()`` with
``alembic.op`` (``op.add_column``, ``op.create_index``...; on SQLite use
``with op.batch_alter_table(name) as batch:`` for changes SQLite cannot ``ALTER``),
and change :mod:`riskengine.store.tables` to the new head.
``tests/test_store_migrations.py`` checks that head equals ``tables.py``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

__all__ = ["LOCATION", "current_revision", "head_revision", "upgrade"]

LOCATION = str(Path(__file__).resolve().parent)
"""The script directory (``script_location``): this package, revisions in ``versions/``."""

_ADVISORY_LOCK = 0x7269736B  # 'risk': one key for every riskengine store's migrations


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory(LOCATION)


def head_revision() -> str:
    """The head revision of the shipped migrations (e.g. ``'0001'``)."""
    head = _script().get_current_head()
    assert head is not None, "riskengine/store/migrations/versions holds no revision"
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision a database is stamped at (None: no ``alembic_version`` yet)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> list[str]:
    """Bring the store's schema to the head revision, in one transaction.

    Returns
    -------
    list of str
        The revisions applied, oldest first (empty when already at head).
    """
    script = _script()
    applied: list[str] = []

    def steps(rev: str, _ctx: MigrationContext) -> list[object]:
        todo = script._upgrade_revs("head", rev)  # what alembic's command.upgrade runs
        applied.extend(str(s.revision.revision) for s in todo)
        return list(todo)

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})")
        ctx = MigrationContext.configure(conn, opts={"script": script, "fn": steps})
        if ctx.get_current_revision() == head_revision():
            return applied
        with Operations.context(ctx):
            ctx.run_migrations()
    return applied
