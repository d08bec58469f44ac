"""The store's schema goes through Alembic migrations (issue 15 point 7).

Sources: issue 15 §7 ("schema changes go through Alembic migrations"); the brief of the
PostgreSQL part (a store created by the code of before migrations is recognised and
stamped at the baseline; the append-only guarantee holds on both backends).
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from riskengine.store import DecisionStore
from riskengine.store.migrations import baseline, current_revision, head_revision, upgrade
from riskengine.store.tables import metadata


def test_a_new_store_is_at_head_and_its_schema_is_tables_py(store_url: str) -> None:
    """The head revision builds exactly riskengine/store/tables.py (a change of tables.py
    without its revision fails here)."""
    with DecisionStore(store_url) as store, store.engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def _legacy_store(url: str) -> sa.Engine:
    """A store as the code of before migrations made it: ``create_all`` of the tables and,
    on SQLite, the append-only triggers; no ``alembic_version``."""
    engine = sa.create_engine(url)
    baseline.metadata.create_all(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for table in baseline.GUARDED_TABLES:
                for ddl in baseline.sqlite_guards(table):
                    conn.exec_driver_sql(ddl)
        conn.execute(baseline.decisions.insert(), {
            "debtor_id": "D-OLD", "supplier_id": "S-1", "grade": "4", "approved_limit": 1e4,
            "decision": {"debtor_id": "D-OLD", "grade": "4"}, "recorded_at": "2026-01-01"})
        conn.execute(baseline.limit_register.insert(), {
            "supplier_id": "S-1", "debtor_id": "D-OLD", "limit_amount": 1e4,
            "previous_limit": 0.0, "effective_date": dt.date(2026, 1, 1),
            "updated_at": "2026-01-01"})
    return engine


def test_a_store_made_before_migrations_is_stamped_at_the_baseline(store_url: str) -> None:
    engine = _legacy_store(store_url)
    with engine.connect() as conn:
        assert current_revision(conn) is None
    applied = upgrade(engine)
    assert applied[0] == "0001"
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert conn.execute(sa.select(sa.func.count()).select_from(
            baseline.decisions)).scalar_one() == 1  # its rows are kept
    with pytest.raises(sa.exc.IntegrityError, match="append-only"):  # guarded on both
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM decisions")
    engine.dispose()
    with DecisionStore(store_url) as store:  # and the store works on it
        assert store.latest_decision("D-OLD")["grade"] == "4"
        store.set_limit("S-1", "D-OLD", 5e3, reason="committee", changed_by="officer")
        assert store.current_limit("S-1", "D-OLD")["registered_limit"] == 5e3
        assert store.count("decisions") == 1
        assert upgrade(store.engine) == []  # at head: nothing to do


def test_two_processes_opening_a_new_store_at_once_both_succeed(store_url: str) -> None:
    """Two services starting together: one migrates, the other waits and finds the head."""
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def open_store() -> None:
        try:
            start.wait()
            DecisionStore(store_url).close()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with DecisionStore(store_url) as store, store.engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
