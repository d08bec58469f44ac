"""The register row carries the funding terms of the decision that set it (issue 15): the
funding check answers from the register alone, whichever path set it (a decision of the
service, an officer's override, a ``rerate`` run).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (("grade", sa.String(8)), ("pd", sa.Float), ("product", sa.String(64)),
            ("supplier_grade", sa.String(8)), ("advance_rate", sa.Float),
            ("rating_as_of", sa.Date), ("decided_at", sa.String(40)),
            ("model_version", sa.String(128)), ("policy_version", sa.String(64)),
            ("decision_type", sa.String(16)), ("group_id", sa.String(128)))


def upgrade() -> None:
    with op.batch_alter_table("limit_register") as t:
        for name, kind in _COLUMNS:
            t.add_column(sa.Column(name, kind, nullable=True))
    op.create_index("ix_limit_register_group", "limit_register", ["group_id"])


def downgrade() -> None:
    op.drop_index("ix_limit_register_group", "limit_register")
    with op.batch_alter_table("limit_register") as t:
        for name, _ in _COLUMNS:
            t.drop_column(name)
