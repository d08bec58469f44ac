"""The store's schema at revision 0001 (frozen: never edit; a change is a new revision).

The tables exactly as :mod:`riskengine.store.tables` defined them before the store had
migrations (issue 15), and the append-only guards of both backends: SQLite triggers
(``RAISE(ABORT)``) and PostgreSQL statement triggers calling one plpgsql function that
raises SQLSTATE 23000 (an ``IntegrityError`` for the driver), on ``UPDATE``, ``DELETE``
and ``TRUNCATE``. Revisions import what they need from here, never from ``tables.py``
(which describes the head).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

GUARDED_TABLES: tuple[str, ...] = ("decisions", "funding_checks", "limit_history", "inputs",
                                   "overrides")
"""Append-only tables at this revision (``tables.APPEND_ONLY_TABLES`` + ``AUDIT_TABLES``)."""

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_ID = sa.String(128)

metadata = sa.MetaData()

decisions = sa.Table(
    "decisions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("debtor_id", _ID, nullable=False),
    sa.Column("supplier_id", _ID, nullable=True),
    sa.Column("as_of", sa.Date, nullable=True),
    sa.Column("decided_at", sa.String(40), nullable=True),
    sa.Column("pd", sa.Float, nullable=True),
    sa.Column("grade", sa.String(8), nullable=True),
    sa.Column("approved_limit", sa.Float, nullable=True),
    sa.Column("decision", _JSON, nullable=False),
    sa.Column("model_version", sa.String(128), nullable=True),
    sa.Column("policy_version", sa.String(64), nullable=True),
    sa.Column("input_hash", sa.String(128), nullable=True),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Index("ix_decisions_debtor", "debtor_id", "id"),
    sa.Index("ix_decisions_pair", "supplier_id", "debtor_id", "id"),
)

funding_checks = sa.Table(
    "funding_checks", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("supplier_id", _ID, nullable=False),
    sa.Column("debtor_id", _ID, nullable=False),
    sa.Column("invoice_id", _ID, nullable=True),
    sa.Column("as_of", sa.Date, nullable=True),
    sa.Column("amount", sa.Float, nullable=False),
    sa.Column("limit_used", sa.Float, nullable=False),
    sa.Column("limit_source", sa.String(32), nullable=False),
    sa.Column("approved_outstanding", sa.Float, nullable=False),
    sa.Column("approved", sa.Float, nullable=False),
    sa.Column("request", _JSON, nullable=False),
    sa.Column("result", _JSON, nullable=False),
    sa.Column("decision_id", sa.Integer, nullable=True),
    sa.Column("model_version", sa.String(128), nullable=True),
    sa.Column("policy_version", sa.String(64), nullable=True),
    sa.Column("input_hash", sa.String(128), nullable=True),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Index("ix_funding_pair", "supplier_id", "debtor_id", "id"),
)

limit_register = sa.Table(
    "limit_register", metadata,
    sa.Column("supplier_id", _ID, primary_key=True),
    sa.Column("debtor_id", _ID, primary_key=True),
    sa.Column("limit_amount", sa.Float, nullable=False),
    sa.Column("previous_limit", sa.Float, nullable=False),
    sa.Column("effective_date", sa.Date, nullable=False),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("decision_id", sa.Integer, nullable=True),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

limit_history = sa.Table(
    "limit_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("supplier_id", _ID, nullable=False),
    sa.Column("debtor_id", _ID, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("old_limit", sa.Float, nullable=True),
    sa.Column("new_limit", sa.Float, nullable=False),
    sa.Column("effective_date", sa.Date, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("changed_by", sa.String(128), nullable=False),
    sa.Column("decision_id", sa.Integer, nullable=True),
    sa.Column("changed_at", sa.String(40), nullable=False),
    sa.Index("ix_limit_history_pair", "supplier_id", "debtor_id", "id"),
)


inputs = sa.Table(
    "inputs", metadata,
    sa.Column("input_hash", sa.String(128), primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.String(40), nullable=False),
)

overrides = sa.Table(
    "overrides", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("debtor_id", _ID, nullable=False),
    sa.Column("supplier_id", _ID, nullable=True),
    sa.Column("decision_id", sa.Integer, nullable=True),
    sa.Column("input_hash", sa.String(128), nullable=True),
    sa.Column("original_grade", sa.String(8), nullable=True),
    sa.Column("new_grade", sa.String(8), nullable=True),
    sa.Column("original_limit", sa.Float, nullable=True),
    sa.Column("new_limit", sa.Float, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("notches", sa.Integer, nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("limit_change", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(2000), nullable=False),
    sa.Column("officer", sa.String(128), nullable=False),
    sa.Column("flagged", sa.Boolean, nullable=False),
    sa.Column("flag_reasons", _JSON, nullable=False),
    sa.Column("model_version", sa.String(128), nullable=True),
    sa.Column("policy_version", sa.String(64), nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.CheckConstraint("length(trim(reason)) >= 20", name="ck_overrides_reason"),
    sa.CheckConstraint("length(trim(officer)) >= 1", name="ck_overrides_officer"),
    sa.CheckConstraint("direction IN ('upgrade', 'downgrade', 'limit_only')",
                       name="ck_overrides_direction"),
    sa.Index("ix_overrides_debtor", "debtor_id", "id"),
    sa.Index("ix_overrides_created", "created_at"),
)


def sqlite_guards(table: str) -> list[str]:
    """SQLite triggers refusing ``UPDATE`` and ``DELETE`` on ``table`` (idempotent DDL)."""
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]


PG_GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION riskengine_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
        MESSAGE = TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused';
END
$$
"""


def pg_guards(table: str) -> list[str]:
    """PostgreSQL trigger refusing ``UPDATE``, ``DELETE`` and ``TRUNCATE`` on ``table``
    (statement-level: it fires even when no row matches; idempotent DDL)."""
    name = f"{table}_append_only"
    return [f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"CREATE TRIGGER {name} BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION riskengine_append_only()"]


def guard_tables(conn: Any, *tables: str) -> None:
    """Make ``tables`` append-only on ``conn``'s backend (:func:`sqlite_guards`, or
    :data:`PG_GUARD_FUNCTION` and :func:`pg_guards`; nothing on another backend)."""
    if conn.dialect.name == "sqlite":
        ddl = [s for t in tables for s in sqlite_guards(t)]
    elif conn.dialect.name == "postgresql":
        ddl = [PG_GUARD_FUNCTION, *(s for t in tables for s in pg_guards(t))]
    else:
        ddl = []
    for statement in ddl:
        conn.exec_driver_sql(statement)
