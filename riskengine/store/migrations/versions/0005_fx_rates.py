"""Dated exchange rates for the service (issue 16): the ``fx_rates`` table (the
portfolio's ``fx_rates`` contract), read by the single path when a payload gives no
rates of its own.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("rate", sa.Float, nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("source", sa.String(128), nullable=True),
        sa.CheckConstraint("rate > 0", name="ck_fx_rates_rate"),
    )


def downgrade() -> None:
    op.drop_table("fx_rates")
