"""Baseline: the store's tables as they were before migrations, with append-only guards.

Revision ID: 0001
Revises: (none)

Creates what is missing only (``checkfirst``), so a store made by the code of before
issue 15 (tables there, no ``alembic_version``) is recognised: its tables are kept as
they are, the guards are (re)made, and it is stamped at 0001.
"""

from __future__ import annotations

from alembic import op

from riskengine.store.migrations import baseline

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    baseline.metadata.create_all(conn, checkfirst=True)
    ddl: list[str] = []
    if conn.dialect.name == "sqlite":
        ddl = [s for t in baseline.GUARDED_TABLES for s in baseline.sqlite_guards(t)]
    elif conn.dialect.name == "postgresql":
        ddl = [baseline.PG_GUARD_FUNCTION,
               *(s for t in baseline.GUARDED_TABLES for s in baseline.pg_guards(t))]
    for statement in ddl:  # driver-level: no bind markers in DDL text ('%' stays out of it)
        conn.exec_driver_sql(statement)


def downgrade() -> None:
    raise NotImplementedError("0001 is the baseline: below it there is no store to keep")
