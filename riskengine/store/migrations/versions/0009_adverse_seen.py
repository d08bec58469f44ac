"""The adverse records the store has seen (issue 18, the desk's alerts): one row per
record key (debtor, record type, record date, amount, currency), the decision or run
that first saw it and the day it did, so that the alerts page lists the records new
since a date ("new adverse records"). Stores of before hold none: every record a later
decision or run sees is first seen then (as the debtor's baseline when the register
held no limit of the debtor yet).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adverse_seen",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("debtor_id", sa.String(128), nullable=False),
        sa.Column("record_type", sa.String(64), nullable=False),
        sa.Column("record_date", sa.Date, nullable=False),
        sa.Column("amount", sa.Float, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("first_seen", sa.Date, nullable=False),
        sa.Column("baseline", sa.Boolean, nullable=False),
        sa.UniqueConstraint("debtor_id", "record_type", "record_date", "amount", "currency",
                            name="uq_adverse_seen_record"),
    )
    op.create_index("ix_adverse_seen_first_seen", "adverse_seen", ["first_seen"])


def downgrade() -> None:
    op.drop_index("ix_adverse_seen_first_seen", table_name="adverse_seen")
    op.drop_table("adverse_seen")
