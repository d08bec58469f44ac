"""The register row keeps the grade of the decision before the one that set it (issue 18,
the book on the desk): the portfolio pages filter the book by migration (upgrade,
downgrade, unchanged, new) and the alerts page lists downgrades, both read in SQL from the
register alone. Rows written before this revision have none until their pair is decided
again (they read as ``new``).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("limit_register") as t:
        t.add_column(sa.Column("previous_grade", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("limit_register") as t:
        t.drop_column("previous_grade")
