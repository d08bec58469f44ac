"""Statements at the driver (riskengine/store/driver.py): the rows they write and read are
the rows SQLAlchemy's Core writes and reads, on SQLite and PostgreSQL; driver errors come
out as SQLAlchemy's; a first statement runs inside the connection's transaction.

Expected values are the inputs themselves (a round trip) and the Core's reading of the
same row.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from riskengine.store import DecisionStore
from riskengine.store.driver import Prepared, insert_row, select_rows, update_rows
from riskengine.store.tables import adverse_seen, decisions, inputs, limit_register


def _register_row(**extra: object) -> dict[str, object]:
    return {"supplier_id": "S-1", "debtor_id": "D-1", "limit_amount": 50_000.0,
            "previous_limit": 0.0, "effective_date": dt.date(2026, 6, 30), "currency": "EUR",
            "decision_id": 7, "updated_at": "2026-06-30T10:00:00+00:00", "pending_limit": None,
            "pending_effective_date": None, "notice_days": 30, "status": "active",
            "source": "decision:7", "as_of": dt.date(2026, 6, 30), **extra}


def test_rows_written_at_the_driver_read_back_as_the_core_reads_them(store_url: str) -> None:
    """A decision (a JSON column, a date) and a register row written here read back the
    same through the Core and through :func:`select_rows` and :class:`Prepared`; an
    update changes the one row named by its key."""
    store = DecisionStore(store_url)
    try:
        decision = {"debtor_id": "D-1", "grade": "5", "reasons": ["requested"], "pd": 0.012}
        with store._write() as conn:
            new_id = insert_row(conn, decisions, {
                "debtor_id": "D-1", "supplier_id": "S-1", "as_of": dt.date(2026, 6, 30),
                "pd": 0.012, "decision": decision, "recorded_at": "now"}, returning="id")
            insert_row(conn, limit_register, _register_row())
            assert update_rows(conn, limit_register, {"limit_amount": 40_000.0,
                                                      "pending_effective_date": None},
                               {"supplier_id": "S-1", "debtor_id": "D-1"}) == 1
        with store.connect() as conn:
            core = conn.execute(sa.select(decisions.c.as_of, decisions.c.decision)
                                .where(decisions.c.id == new_id)).one()
            assert (core.as_of, core.decision) == (dt.date(2026, 6, 30), decision)
            got = select_rows(conn, limit_register, {"supplier_id": "S-1", "debtor_id": "D-1"})
            by_core = conn.execute(sa.select(limit_register)).mappings().one()
            assert got == [dict(by_core)]
            assert got[0]["limit_amount"] == 40_000.0
            assert got[0]["effective_date"] == dt.date(2026, 6, 30)
            day = Prepared(sa.select(decisions.c.as_of, decisions.c.grade).where(
                decisions.c.as_of <= sa.bindparam("p_day", type_=sa.Date)))
            assert day.rows(conn, {"p_day": dt.date(2026, 6, 30)}) == [
                (dt.date(2026, 6, 30), None)]
            assert day.rows(conn, {"p_day": dt.date(2026, 6, 29)}) == []
    finally:
        store.close()


def test_a_driver_error_is_sqlalchemys_and_nothing_is_kept(store_url: str) -> None:
    """A second row under one primary key is an IntegrityError (what the idempotency and
    the service's error handling catch), and its transaction keeps nothing."""
    store = DecisionStore(store_url)
    try:
        row = {"input_hash": "h-1", "payload": "{}", "recorded_at": "now"}
        with pytest.raises(sa.exc.IntegrityError), store._write() as conn:
            insert_row(conn, inputs, row)
            insert_row(conn, inputs, row)
        assert store.count("inputs") == 0
    finally:
        store.close()


def test_a_first_statement_runs_in_the_connections_transaction(store_url: str) -> None:
    """A read at the driver as the first statement of a connection begins its transaction
    (a snapshot's reads see one state); a write's rows are kept only with its commit."""
    store = DecisionStore(store_url)
    try:
        with store.connect() as conn:
            assert not conn.in_transaction()
            select_rows(conn, adverse_seen, {"debtor_id": "D-1"}, columns=("id",))
            assert conn.in_transaction()
        with pytest.raises(RuntimeError, match="rolled back"), store._write() as conn:
            insert_row(conn, inputs, {"input_hash": "h-2", "payload": "{}",
                                      "recorded_at": "now"})
            raise RuntimeError("rolled back")
        assert store.count("inputs") == 0
    finally:
        store.close()


def test_a_prepared_statement_keeps_its_own_values_and_needs_the_others() -> None:
    """A value the statement holds (a LIMIT) is bound from the statement; a parameter
    without a value must be given (KeyError naming it, never a silent NULL)."""
    store = DecisionStore("sqlite://")
    try:
        with store._write() as conn:
            for k in range(4):
                insert_row(conn, decisions, {"debtor_id": "D-1", "decision": {"k": k},
                                             "recorded_at": "now"}, returning="id")
        q = Prepared(sa.select(decisions.c.decision).where(
            decisions.c.debtor_id == sa.bindparam("p_debtor")).order_by(decisions.c.id)
            .limit(2))
        with store.connect() as conn:
            assert q.rows(conn, {"p_debtor": "D-1"}) == [({"k": 0},), ({"k": 1},)]
            with pytest.raises(KeyError, match="p_debtor"):
                q.rows(conn, {})
    finally:
        store.close()
