"""``adverse_seen`` becomes append-only, as the other evidence tables (issue 18).

The alerts page's "new adverse records" rests on when a record was first seen: a row
changed or removed afterwards would move or hide an alert an officer must answer for.
The store only ever inserts into it (``INSERT ... ON CONFLICT DO NOTHING``, which fires
no update trigger on either backend); from this revision the database refuses
``UPDATE`` and ``DELETE`` (and ``TRUNCATE`` on PostgreSQL) with the same guards as the
decisions and the limit history.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

from riskengine.store.migrations import baseline

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    baseline.guard_tables(op.get_bind(), "adverse_seen")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for operation in ("update", "delete"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS adverse_seen_no_{operation}")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS adverse_seen_append_only ON adverse_seen")
