"""The store's tables (SQLAlchemy schema, shell layer).

Tables
------
``decisions``
    One row per decision (append-only): ``id, debtor_id, supplier_id, as_of,
    decided_at, pd, grade, approved_limit, decision`` (the whole decision as
    JSON, returned unchanged) ``, model_version, policy_version, input_hash,
    recorded_at``.
``funding_checks``
    One row per funding check of an assigned invoice (append-only): the
    request, the result, the limit used and where it came from.
``limit_register``
    One row per supplier-debtor pair, updated in place
    (:mod:`riskengine.store.register`): the limit in force (``limit_amount``)
    since ``effective_date`` and the one before it (``previous_limit``), the
    pending change (a cut waiting for its notice: ``pending_limit``,
    ``pending_effective_date``), ``notice_days``, ``status`` (``active``,
    ``pending_cut``, ``pending_increase``, ``cancelled``), ``source``
    (``decision:<id>``, ``override:<id>``, ``rerate:<run id>``, ``seed:<run id>``,
    ``manual``), the ``as_of`` of the decision that set it (updates are ordered by
    it), the outstanding reported with it and the part of it protected.
``limit_history``
    Every change of the register (append-only): action (``not_applied`` for a
    decision older than the register's), old and new limit, effective date,
    reason, who, source, as_of, protected outstanding.
``idempotency_keys``
    ``POST /v1/decisions`` answers by ``Idempotency-Key`` (append-only): the
    sha256 of the request body, the response body and the decision ids.
``inputs``
    The payload behind each ``input_hash`` (append-only; issue 7): every
    decision is traceable to its inputs.
``overrides``
    Credit officers' overrides of a decision's grade or limit (append-only):
    original and new grade and limit, notches, direction, reason, officer,
    flagged for second review, versions (rules: :mod:`riskengine.policy.overrides`).
``insurer_limits``
    The insurers' limits on debtors (issue 16), append-only: every state a limit had
    (the columns of :data:`riskengine.contracts.schemas.INSURER_LIMITS`, a debtor-level
    limit with ``supplier_id`` NULL) with its ``source`` (``response:<file>``,
    ``http``, ``rerate:<run>``) and ``recorded_at``; the latest row of a key is the
    limit's state (:mod:`riskengine.store.insurer`).
``insurer_requests``
    The request loop's list (issue 16): per pair, what to ask the insurer for, as the
    latest decision of the pair (a ``rerate`` run, a service decision) left it; replaced
    debtor by debtor.
``adverse_seen``
    The adverse records the store has seen (issue 18, the desk's "new adverse records"):
    one row per record key (debtor, record type, record date, amount, currency) with
    the decision or run that first saw it (``source``), the day it did (``first_seen``:
    that decision's or run's ``as_of``) and ``baseline`` (seen with the debtor's first
    decision: known at onboarding, not news). Rows are inserted, never changed
    (:mod:`riskengine.store.adverse`).
``fx_rates``
    Dated exchange rates for the service (issue 16; the ``fx_rates`` contract): one
    row per day and currency, units of the reporting currency per one unit; a load
    of the same day and currency replaces the rate (:mod:`riskengine.store.fx`).
    Each decision keeps the rate it used (``fx_rate``).

This module is the schema at the head revision; the database gets it through the
migrations (:mod:`riskengine.store.migrations`), which also add the triggers that refuse
``UPDATE`` and ``DELETE`` on the append-only tables (:data:`APPEND_ONLY_TABLES` and
:data:`AUDIT_TABLES`) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from riskengine.policy.overrides import MAX_REASON_LENGTH as _MAX_REASON
from riskengine.policy.overrides import MIN_REASON_LENGTH as _MIN_REASON

__all__ = [
    "APPEND_ONLY_TABLES",
    "AUDIT_TABLES",
    "metadata",
    "decisions",
    "funding_checks",
    "limit_register",
    "limit_history",
    "idempotency_keys",
    "inputs",
    "overrides",
    "insurer_limits",
    "insurer_requests",
    "fx_rates",
    "users",
    "user_sessions",
    "login_throttle",
    "override_reviews",
]

APPEND_ONLY_TABLES: tuple[str, ...] = ("decisions", "funding_checks", "limit_history",
                                        "idempotency_keys", "insurer_limits", "adverse_seen")
"""Tables that are never updated nor deleted from."""

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
    # issue 15: one register for every path
    sa.Column("pending_limit", sa.Float, nullable=True),
    sa.Column("pending_effective_date", sa.Date, nullable=True),
    sa.Column("notice_days", sa.Integer, nullable=True),
    sa.Column("status", sa.String(16), nullable=False, server_default="active"),
    sa.Column("source", sa.String(64), nullable=True),
    sa.Column("as_of", sa.Date, nullable=True),
    sa.Column("outstanding", sa.Float, nullable=True),
    sa.Column("protected_outstanding", sa.Float, nullable=True),
    # the funding terms of the decision that set the row (store.register.TERM_COLUMNS)
    sa.Column("grade", sa.String(8), nullable=True),
    sa.Column("pd", sa.Float, nullable=True),
    sa.Column("product", sa.String(64), nullable=True),
    sa.Column("supplier_grade", sa.String(8), nullable=True),
    sa.Column("advance_rate", sa.Float, nullable=True),
    sa.Column("rating_as_of", sa.Date, nullable=True),
    sa.Column("decided_at", sa.String(40), nullable=True),
    sa.Column("model_version", sa.String(128), nullable=True),
    sa.Column("policy_version", sa.String(64), nullable=True),
    sa.Column("decision_type", sa.String(16), nullable=True),
    sa.Column("group_id", _ID, nullable=True),  # the debtor's connected group
    sa.Column("sector", sa.String(16), nullable=True),  # its NACE section (book caps)
    sa.Column("country", sa.String(8), nullable=True),
    # the grade of the pair's decision before the one that set the row (0008: migration)
    sa.Column("previous_grade", sa.String(8), nullable=True),
    sa.Index("ix_limit_register_debtor", "debtor_id"),
    sa.Index("ix_limit_register_group", "group_id"),
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
    sa.Column("source", sa.String(64), nullable=True),  # issue 15
    sa.Column("as_of", sa.Date, nullable=True),
    sa.Column("protected_outstanding", sa.Float, nullable=True),
    sa.Index("ix_limit_history_pair", "supplier_id", "debtor_id", "id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys", metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("decision_ids", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)


# --- audit tables (issue 7): inputs behind every decision, officers' overrides ------------

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
    sa.Column("reason", sa.String(_MAX_REASON), nullable=False),
    sa.Column("officer", sa.String(128), nullable=False),
    sa.Column("flagged", sa.Boolean, nullable=False),
    sa.Column("flag_reasons", _JSON, nullable=False),
    sa.Column("model_version", sa.String(128), nullable=True),
    sa.Column("policy_version", sa.String(64), nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    # issue 18: applied (at once), pending (waits for an approver: override_reviews)
    sa.Column("status", sa.String(16), nullable=False, server_default="applied"),
    sa.Column("policy_limit", sa.Float, nullable=True),  # the policy's grant at the new grade
    sa.Column("policy_cap", sa.Float, nullable=True),    # the largest limit the policy allows
    sa.Column("terms", _JSON, nullable=True),            # limit, cover, advance, fees re-run
    sa.CheckConstraint(f"length(trim(reason)) >= {_MIN_REASON}", name="ck_overrides_reason"),
    sa.CheckConstraint("length(trim(officer)) >= 1", name="ck_overrides_officer"),
    sa.CheckConstraint("direction IN ('upgrade', 'downgrade', 'limit_only')",
                       name="ck_overrides_direction"),
    sa.Index("ix_overrides_debtor", "debtor_id", "id"),
    sa.Index("ix_overrides_created", "created_at"),
)

fx_rates = sa.Table(
    "fx_rates", metadata,
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("rate", sa.Float, nullable=False),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Column("source", sa.String(128), nullable=True),
    sa.CheckConstraint("rate > 0", name="ck_fx_rates_rate"),
)

AUDIT_TABLES: tuple[str, ...] = ("inputs", "overrides", "override_reviews")
"""Append-only audit tables (issue 7), guarded like :data:`APPEND_ONLY_TABLES`."""



# --- insurer limits as state (issue 16) ----------------------------------------------------

insurer_limits = sa.Table(
    "insurer_limits", metadata,
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
    sa.Index("ix_insurer_limits_debtor", "debtor_id", "id"),
)

insurer_requests = sa.Table(
    "insurer_requests", metadata,
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
    sa.Index("ix_insurer_requests_debtor", "debtor_id"),
)

adverse_seen = sa.Table(
    "adverse_seen", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("debtor_id", _ID, nullable=False),
    sa.Column("record_type", sa.String(64), nullable=False),
    sa.Column("record_date", sa.Date, nullable=False),
    sa.Column("amount", sa.Float, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("first_seen", sa.Date, nullable=False),
    sa.Column("baseline", sa.Boolean, nullable=False),
    sa.UniqueConstraint("debtor_id", "record_type", "record_date", "amount", "currency",
                        name="uq_adverse_seen_record"),
    sa.Index("ix_adverse_seen_first_seen", "first_seen"),
)


# --- issue 18: officers' accounts, sessions, login throttling, four eyes -------------------

users = sa.Table(
    "users", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    sa.CheckConstraint("role IN ('officer', 'approver', 'admin', 'auditor')",
                       name="ck_users_role"),
)

user_sessions = sa.Table(
    "user_sessions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sid_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_name", sa.String(64), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("client", sa.String(64), nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("expires_at", sa.String(40), nullable=False),
    sa.Column("revoked_at", sa.String(40), nullable=True),
    sa.Index("ix_user_sessions_user", "user_name"),
)

login_throttle = sa.Table(
    "login_throttle", metadata,
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_start", sa.String(40), nullable=False),
    sa.Column("locked_until", sa.String(40), nullable=True),
)

override_reviews = sa.Table(
    "override_reviews", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("override_id", sa.Integer, nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("approver", sa.String(64), nullable=False),
    sa.Column("comment", sa.String(2000), nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.CheckConstraint("verdict IN ('approved', 'rejected')", name="ck_override_reviews_verdict"),
    sa.UniqueConstraint("override_id", name="uq_override_reviews_override"),
)
