"""Insurer limits as state and the request loop (issue 16): ``insurer_limits`` (every
state of an insurer's limit, append-only) and ``insurer_requests`` (what to ask the
insurer for, replaced debtor by debtor).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskengine.store.migrations import baseline

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.String(128)


def upgrade() -> None:
    op.create_table(
        "insurer_limits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("insurer_id", _ID, nullable=False),
        sa.Column("policy_id", _ID, nullable=False),
        sa.Column("debtor_id", _ID, nullable=False),
        sa.Column("supplier_id", _ID, nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("requested_amount", sa.Float, nullable=True),
        sa.Column("granted_amount", sa.Float, nullable=True),
        sa.Column("cover_pct", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decision_date", sa.Date, nullable=True),
        sa.Column("effective_date", sa.Date, nullable=True),
        sa.Column("previous_granted_amount", sa.Float, nullable=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_insurer_limits_debtor", "insurer_limits", ["debtor_id", "id"])
    op.create_table(
        "insurer_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("debtor_id", _ID, nullable=False),
        sa.Column("supplier_id", _ID, nullable=False),
        sa.Column("insurer_id", _ID, nullable=True),
        sa.Column("policy_id", _ID, nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("product", sa.String(64), nullable=True),
        sa.Column("approved_limit", sa.Float, nullable=False),
        sa.Column("insured_limit", sa.Float, nullable=False),
        sa.Column("insured_amount", sa.Float, nullable=False),
        sa.Column("cover_basis", sa.String(16), nullable=False),
        sa.Column("amount_requested", sa.Float, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("as_of", sa.Date, nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_insurer_requests_debtor", "insurer_requests", ["debtor_id"])
    # the history of insurer limits is append-only, as the others
    baseline.guard_tables(op.get_bind(), "insurer_limits")


def downgrade() -> None:
    op.drop_table("insurer_requests")
    op.drop_table("insurer_limits")
