"""The register row carries the funding terms of the decision that set it (issue 15): the
funding check answers from the register alone, whichever path set it (a decision of the
service, an officer's override, a ``rerate`` run).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("limit_register") as t:
        t.add_column(sa.Column("terms", sa.JSON().with_variant(JSONB(), "postgresql"),
                               nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("limit_register") as t:
        t.drop_column("terms")
