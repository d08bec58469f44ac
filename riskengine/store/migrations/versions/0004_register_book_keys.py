"""The register row carries its debtor's sector (NACE section) and country (issue 15): a
debtor decided alone is capped against the book's sectors and countries as the register
holds them (:meth:`riskengine.store.DecisionStore.book_rest`). Rows written before this
revision have neither until their pair is decided again (a rerate writes every pair).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = (("sector", sa.String(16)), ("country", sa.String(8)))


def upgrade() -> None:
    with op.batch_alter_table("limit_register") as t:
        for name, kind in _COLUMNS:
            t.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("limit_register") as t:
        for name, _ in _COLUMNS:
            t.drop_column(name)
