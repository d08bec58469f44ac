"""Officers' accounts and four eyes (issue 18): ``users`` (local accounts, argon2 hashes),
``user_sessions`` (server-side sessions of the pages), ``login_throttle`` (failed-login
counters and lockouts per account and per client address), ``override_reviews`` (an
approver's verdict on a pending override, append-only) and the overrides' ``status``
and policy figures.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskengine.store.migrations import baseline

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TIME = sa.String(40)
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.CheckConstraint("role IN ('officer', 'approver', 'admin', 'auditor')",
                           name="ck_users_role"),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sid_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
    )
    op.create_index("ix_user_sessions_user", "user_sessions", ["user_name"])
    op.create_table(
        "login_throttle",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_start", _TIME, nullable=False),
        sa.Column("locked_until", _TIME, nullable=True),
    )
    op.create_table(
        "override_reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("override_id", sa.Integer, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("approver", sa.String(64), nullable=False),
        sa.Column("comment", sa.String(2000), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.CheckConstraint("verdict IN ('approved', 'rejected')",
                           name="ck_override_reviews_verdict"),
        sa.UniqueConstraint("override_id", name="uq_override_reviews_override"),
    )
    with op.batch_alter_table("overrides") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False,
                                   server_default="applied"))
        batch.add_column(sa.Column("policy_limit", sa.Float, nullable=True))
        batch.add_column(sa.Column("policy_cap", sa.Float, nullable=True))
        batch.add_column(sa.Column("terms", _JSON, nullable=True))
    conn = op.get_bind()  # the reviews are append-only, as the overrides they judge
    if conn.dialect.name == "sqlite":
        ddl = [*baseline.sqlite_guards("override_reviews"), *baseline.sqlite_guards("overrides")]
    elif conn.dialect.name == "postgresql":
        ddl = [baseline.PG_GUARD_FUNCTION, *baseline.pg_guards("override_reviews")]
    else:
        ddl = []
    for statement in ddl:
        conn.exec_driver_sql(statement)


def downgrade() -> None:
    with op.batch_alter_table("overrides") as batch:
        for name in ("terms", "policy_cap", "policy_limit", "status"):
            batch.drop_column(name)
    for name in ("override_reviews", "login_throttle", "user_sessions", "users"):
        op.drop_table(name)
