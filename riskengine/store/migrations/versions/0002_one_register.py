"""One register for every path (issue 15): the register's pending change, notice, status,
source and as-of; the history's source, as-of and protected outstanding; the
``Idempotency-Key`` answers.

Revision ID: 0002
Revises: 0001

The register's ``limit_amount`` now means the limit *in force*: a row of before, whose
change was still waiting for its ``effective_date``, becomes a pending change (the
limit before it in force until then).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskengine.store.migrations import baseline

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("limit_register") as t:
        t.add_column(sa.Column("pending_limit", sa.Float, nullable=True))
        t.add_column(sa.Column("pending_effective_date", sa.Date, nullable=True))
        t.add_column(sa.Column("notice_days", sa.Integer, nullable=True))
        t.add_column(sa.Column("status", sa.String(16), nullable=False,
                               server_default="active"))
        t.add_column(sa.Column("source", sa.String(64), nullable=True))
        t.add_column(sa.Column("as_of", sa.Date, nullable=True))
        t.add_column(sa.Column("outstanding", sa.Float, nullable=True))
        t.add_column(sa.Column("protected_outstanding", sa.Float, nullable=True))
    op.create_index("ix_limit_register_debtor", "limit_register", ["debtor_id"])
    # plain ADD COLUMN: the append-only guards of the history stay in place
    for name, kind in (("source", sa.String(64)), ("as_of", sa.Date),
                       ("protected_outstanding", sa.Float)):
        op.add_column("limit_history", sa.Column(name, kind, nullable=True))
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("decision_ids", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    conn = op.get_bind()
    # a change of before still waiting for its date: pending, the limit before it in force
    op.execute(sa.text(
        "UPDATE limit_register SET pending_limit = limit_amount, "
        "pending_effective_date = effective_date, limit_amount = previous_limit, "
        "status = CASE WHEN limit_amount < previous_limit THEN 'pending_cut' "
        "ELSE 'pending_increase' END WHERE effective_date > CURRENT_DATE"))
    op.execute(sa.text("UPDATE limit_register SET status = 'cancelled' "
                       "WHERE pending_limit IS NULL AND limit_amount <= 0"))
    baseline.guard_tables(conn, "idempotency_keys")


def downgrade() -> None:
    raise NotImplementedError("0002: the register's rows cannot go back to one meaning")
