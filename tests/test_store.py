"""The decision store: append-only decisions and funding checks, the limit register.

Sources: issue 5 §4 ("every decision, funding check and limit change is stored
append-only ... a restart of the service loses nothing that was acknowledged");
docs/POLICY.md §1 (limit changes: a decrease takes effect after its notice period,
deliveries before it stay covered up to the old limit).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.errors import InvalidInputError, StoreError
from riskengine.store import APPEND_ONLY_TABLES, DecisionStore, default_store_url, jsonable
from riskengine.store.idempotency import IdempotentRequest


def _decision(debtor: str = "D-1", supplier: str | None = "S-1", limit: float = 25_000.0,
              **extra: object) -> dict[str, object]:
    return {"debtor_id": debtor, "supplier_id": supplier, "as_of": "2026-06-30",
            "decided_at": "2026-06-30T10:00:00+00:00", "pd": 0.012, "grade": "5",
            "approved_limit": limit, "model_version": "m-1", "policy_version": "2026.1",
            "input_hash": "abc123", "reasons": ["requested"], **extra}


@pytest.fixture
def db_url(store_url: str) -> str:
    """A fresh store on each backend (conftest: a SQLite file, a PostgreSQL database)."""
    return store_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_sqlite_file_store_is_wal_and_full_sync(sqlite_url: str) -> None:
    with DecisionStore(sqlite_url) as store:
        assert store.journal_mode == "wal"
        with store.engine.connect() as conn:
            # 2 = FULL: the WAL is fsynced at every commit
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_sqlite_synchronous_normal_is_an_explicit_option(tmp_path: Path) -> None:
    """``?synchronous=normal`` (docs/SERVICE.md, Durability): WAL kept, PRAGMA synchronous
    1 (NORMAL: no fsync at commit) on every connection, decisions stored as usual; any
    other value, or the option on another database, is one line naming the option."""
    file = f"sqlite:///{tmp_path / 'store.db'}"
    url = f"{file}?synchronous=normal"
    with DecisionStore(url) as store:
        assert store.synchronous == "normal" and store.journal_mode == "wal"
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
        store.record_decisions([_decision(limit=10_000.0)])
    with DecisionStore(f"{file}?synchronous=full") as store:  # the same file, durable
        assert store.latest_decision("D-1")["approved_limit"] == 10_000.0
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    for bad in (f"{file}?synchronous=off",
                "postgresql+psycopg://u@localhost/db?synchronous=normal"):
        with pytest.raises(InvalidInputError, match="synchronous is an option of a SQLite"):
            DecisionStore(bad)


def test_decision_round_trips_unchanged_and_latest_wins(db_url: str) -> None:
    with DecisionStore(db_url) as store:
        first = _decision(limit=10_000.0)
        second = _decision(limit=20_000.0, grade="4")
        ids = store.record_decisions([first, second])
        assert ids == [1, 2]
        got = store.latest_decision("D-1")
        assert got is not None
        assert got.pop("decision_id") == 2
        assert got == second
        assert store.latest_decision("D-1", "S-1")["approved_limit"] == 20_000.0
        assert store.latest_decision("D-1", "S-other") is None
        assert store.latest_decision("nobody") is None
        assert [d["decision_id"] for d in store.decision_history("D-1")] == [2, 1]


def test_columns_hold_versions_and_input_hash(db_url: str) -> None:
    with DecisionStore(db_url) as store:
        store.record_decisions([_decision()])
        with store.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT debtor_id, supplier_id, as_of, pd, grade, approved_limit, "
                "model_version, policy_version, input_hash FROM decisions").one()
    assert tuple(row[:2]) == ("D-1", "S-1") and str(row[2]) == "2026-06-30"  # text on SQLite
    assert tuple(row[3:]) == (0.012, "5", 25_000.0, "m-1", "2026.1", "abc123")


def test_store_survives_close_and_reopen(db_url: str) -> None:
    store = DecisionStore(db_url)
    store.record_decisions([_decision()])
    store.record_funding_check(supplier_id="S-1", debtor_id="D-1", request={"amount": 5.0},
                               result={"approved": 5.0}, limit_used=25_000.0,
                               limit_source="limit_register", approved_outstanding=0.0)
    store.close()
    reopened = DecisionStore(db_url)
    assert reopened.latest_decision("D-1")["grade"] == "5"
    assert reopened.count("funding_checks") == 1
    assert reopened.current_limit("S-1", "D-1", "2026-07-01")["limit"] == 25_000.0
    reopened.close()


_WRITER = textwrap.dedent("""
    import sys, time
    from riskengine.store import DecisionStore
    store = DecisionStore(sys.argv[1])
    ids = store.record_decisions([{"debtor_id": "D-KILL", "grade": "3", "pd": 0.004,
                                   "approved_limit": 1000.0}])
    print("ACK", ids[0], flush=True)
    time.sleep(60)
""")


def test_acknowledged_write_survives_sigkill(db_url: str, tmp_path: Path) -> None:
    """A process that acknowledged a write and is then killed -9 loses nothing."""
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    proc = subprocess.Popen([sys.executable, str(script), db_url], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ACK ")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with DecisionStore(db_url) as store:
        got = store.latest_decision("D-KILL")
    assert got is not None and got["decision_id"] == int(line.split()[1])


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {k} = {k}", "DELETE FROM {t}"])
def test_append_only_tables_refuse_update_and_delete(db_url: str, table: str,
                                                     statement: str) -> None:
    with DecisionStore(db_url) as store:
        store.store_decisions([_decision()], idempotency=IdempotentRequest(
            "key-1", "0" * 64, lambda ids, register: b"{}"), adverse={"D-1": [
                ("D-1", "bounced_cheque", dt.date(2026, 5, 2), 4_200.0, "EUR")]})
        store.record_funding_check(supplier_id="S-1", debtor_id="D-1", request={},
                                   result={}, limit_used=1.0, limit_source="x",
                                   approved_outstanding=0.0)
        store.record_insurer_limits(pd.DataFrame([{  # issue 16: every state kept
            "insurer_id": "INS-1", "policy_id": "P-1", "debtor_id": "D-1", "supplier_id": None,
            "currency": "EUR", "requested_amount": 1.0, "granted_amount": 1.0,
            "cover_pct": 0.9, "status": "granted", "decision_date": None,
            "effective_date": None, "previous_granted_amount": None}]), source="test")
        key = "key" if table == "idempotency_keys" else "id"
        with pytest.raises(sa.exc.IntegrityError, match="append-only"):
            with store.engine.begin() as conn:
                conn.exec_driver_sql(statement.format(t=table, k=key))
        assert store.count(table) >= 1


def test_decision_with_supplier_sets_register_and_history(db_url: str) -> None:
    with DecisionStore(db_url) as store:
        store.record_decisions([_decision(limit=25_000.0)])
        store.record_decisions([_decision(limit=40_000.0)])
        store.record_decisions([_decision(supplier=None, limit=99_000.0)])  # no pair: no change
        hist = store.history("S-1", "D-1")
        assert [(h["action"], h["old_limit"], h["new_limit"]) for h in hist] == [
            ("new", None, 25_000.0), ("increase", 25_000.0, 40_000.0)]
        assert hist[0]["reason"] == "decision 1" and hist[0]["changed_by"] == "engine"
        assert store.current_limit("S-1", "D-1", "2026-06-30")["limit"] == 40_000.0


def test_decrease_waits_for_its_effective_date(db_url: str) -> None:
    """POLICY.md §1: a decrease applies after the notice; until then the old limit holds."""
    with DecisionStore(db_url) as store:
        store.set_limit("S-1", "D-1", 50_000.0, effective_date="2026-01-01",
                        reason="committee 2026-01", changed_by="officer-7")
        change = store.set_limit("S-1", "D-1", 20_000.0, effective_date="2099-01-31",
                                 reason="adverse news, 30-day notice", changed_by="officer-7")
        assert change["action"] == "decrease"
        before = store.current_limit("S-1", "D-1", "2099-01-30")
        after = store.current_limit("S-1", "D-1", "2099-01-31")
        assert (before["limit"], after["limit"]) == (50_000.0, 20_000.0)
        assert before["registered_limit"] == 20_000.0
        cancel = store.set_limit("S-1", "D-1", 0.0, reason="insolvency", changed_by="x")
        assert cancel["action"] == "cancel"
        assert len(store.history(debtor_id="D-1")) == 3


def test_set_limit_refuses_bad_input(db_url: str) -> None:
    with DecisionStore(db_url) as store:
        with pytest.raises(InvalidInputError, match="new limit must be a finite number >= 0"):
            store.set_limit("S-1", "D-1", -1.0, reason="r", changed_by="me")
        with pytest.raises(InvalidInputError, match="reason is empty"):
            store.set_limit("S-1", "D-1", 1.0, reason=" ", changed_by="me")
        with pytest.raises(InvalidInputError, match="debtor_id is missing"):
            store.record_decisions([{"grade": "4"}])
        with pytest.raises(InvalidInputError, match="as_of is not an ISO date"):
            store.record_decisions([_decision(as_of="30/06/2026")])
        assert store.count("decisions") == 0 and store.count("limit_history") == 0


def test_in_memory_store_is_shared_between_threads() -> None:
    import threading

    store = DecisionStore("sqlite://")
    t = threading.Thread(target=store.record_decisions, args=([_decision()],))
    t.start()
    t.join()
    assert store.latest_decision("D-1") is not None
    store.close()


def test_default_url_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RISKENGINE_STORE_URL", f"sqlite:///{tmp_path}/env.db")
    assert default_store_url() == f"sqlite:///{tmp_path}/env.db"
    monkeypatch.delenv("RISKENGINE_STORE_URL")
    monkeypatch.chdir(tmp_path)
    assert default_store_url() == f"sqlite:///{tmp_path / 'riskengine.db'}"


@settings(max_examples=60, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=10))
def test_jsonable_gives_strict_json(value: object) -> None:
    """Whatever goes in, what is stored is strict JSON (NaN/inf become null)."""
    import json

    text = json.dumps(jsonable(value), allow_nan=False)
    assert json.loads(text) == jsonable(value)


def test_a_reader_never_creates_a_store(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "none.db"
    with pytest.raises(InvalidInputError, match=r"No decision store at .*none\.db' \(the file "
                                                r"does not exist\); nothing was created"):
        DecisionStore(f"sqlite:///{path}", create=False)
    assert not (tmp_path / "sub").exists()
    # issue 18: nor does a writer create the missing directory (an error, one line)
    with pytest.raises(StoreError, match=r"the directory .*sub' does not exist"):
        DecisionStore(f"sqlite:///{path}")
    assert not (tmp_path / "sub").exists()
    (tmp_path / "sub").mkdir()
    DecisionStore(f"sqlite:///{path}").close()  # a writer creates the file
    DecisionStore(f"sqlite:///{path}", create=False).close()  # then a reader opens it


def test_latest_decision_in_force_on_a_day(db_url: str) -> None:
    """Issue 13 point 3: a decision dated after the day asked has not taken effect."""
    with DecisionStore(db_url) as store:
        store.record_decisions([_decision(), _decision(as_of="2199-01-01", limit=0.0,
                                                       grade="D")])
        assert store.latest_decision("D-1")["as_of"] == "2199-01-01"
        now = store.latest_decision("D-1", "S-1", in_force_on="2026-07-06")
        assert (now["as_of"], now["grade"], now["decision_id"]) == ("2026-06-30", "5", 1)
        assert store.latest_decision("D-1", in_force_on="2026-06-29") is None
        with pytest.raises(InvalidInputError, match="in_force_on is not an ISO date"):
            store.latest_decision("D-1", in_force_on="06/07/2026")


# --- issue 15: one register, ordered by as_of, cuts with notice ------------------------


def _limit_on(store: DecisionStore, day: str) -> tuple[float, str]:
    entry = store.current_limit("S-1", "D-1", day)
    assert entry is not None
    return entry["limit"], entry["status"]


def test_an_older_decision_posted_later_does_not_reopen_a_cancelled_limit(db_url: str) -> None:
    """Issue 15 point 3: a default (knock-out) cancels at once; a decision as of an
    earlier day posted afterwards is history only (last write won before)."""
    with DecisionStore(db_url) as store:
        store.record_decisions([_decision(limit=50_000.0, as_of="2026-06-30")])
        store.record_decisions([_decision(limit=0.0, as_of="2026-07-10", grade="D",
                                          knockouts=["insolvency"])])
        assert _limit_on(store, "2026-07-10") == (0.0, "cancelled")
        late = store.store_decisions([_decision(limit=50_000.0, as_of="2026-07-01")])
        assert late.register == [{"applied": False, "reason": "older_than_register",
                                  "register_as_of": "2026-07-10",
                                  "history_id": late.register[0]["history_id"]}]
        assert _limit_on(store, "2026-07-20") == (0.0, "cancelled")
        assert store.current_limit("S-1", "D-1", "2026-07-20")["source"] == "decision:2"
        assert [h["action"] for h in store.history("S-1", "D-1")] == [
            "new", "cancel", "not_applied"]
        assert store.count("decisions") == 3  # the late decision is kept as history


def test_a_cut_waits_for_the_policy_notice_and_protects_what_was_delivered(db_url: str
                                                                             ) -> None:
    """policy.toml limits.notice_days = 30: a cut decided on 2026-07-10 takes effect on
    2026-08-09; until then the old 50,000 stands. Protected = min(old limit 50,000,
    outstanding 30,000) = 30,000 (not the old limit)."""
    with DecisionStore(db_url) as store:
        store.record_decisions([_decision(limit=50_000.0)])
        store.record_decisions([_decision(limit=20_000.0, as_of="2026-07-10")],
                               exposures=[{"approved_outstanding": 30_000.0}])
        before = store.current_limit("S-1", "D-1", "2026-08-08")
        assert (before["limit"], before["status"]) == (50_000.0, "pending_cut")
        assert before["pending"] == {"limit": 20_000.0, "effective_date": "2026-08-09"}
        assert (before["notice_days"], before["protected_outstanding"]) == (30, 30_000.0)
        assert _limit_on(store, "2026-08-09") == (20_000.0, "active")
        assert store.current_limit("S-1", "D-1", "2026-08-09")["pending"] is None
        # a newer decision confirming the old limit withdraws the pending cut
        store.record_decisions([_decision(limit=50_000.0, as_of="2026-07-20")])
        assert _limit_on(store, "2026-09-01") == (50_000.0, "active")


def test_an_increase_applies_at_once_and_a_knockout_cut_too(db_url: str) -> None:
    with DecisionStore(db_url) as store:
        store.record_decisions([_decision(limit=20_000.0)])
        store.record_decisions([_decision(limit=60_000.0, as_of="2026-07-01")])
        assert _limit_on(store, "2026-07-01") == (60_000.0, "active")
        store.record_decisions([_decision(limit=10_000.0, as_of="2026-07-02",
                                          knockouts=["adverse_record"])])
        assert _limit_on(store, "2026-07-02") == (10_000.0, "active")
        entries = store.limits_of_debtor("D-1", "2026-07-02")
        assert [(e["supplier_id"], e["limit"], e["source"]) for e in entries] == [
            ("S-1", 10_000.0, "decision:3")]
        assert store.limits_of_debtor("nobody") == []


def test_idempotent_decisions_are_stored_once(db_url: str) -> None:
    with DecisionStore(db_url) as store:
        def render(ids: list[int], register: list[object]) -> bytes:
            return f'{{"ids": {ids}}}'.encode()

        first = store.store_decisions([_decision()], idempotency=IdempotentRequest(
            "k-1", "a" * 64, render))
        again = store.store_decisions([_decision()], idempotency=IdempotentRequest(
            "k-1", "a" * 64, render))
        assert first.answer is None and again.answer is not None
        assert (again.answer.response, again.answer.decision_ids) == (b'{"ids": [1]}', [1])
        assert store.count("decisions") == 1 and store.count("limit_history") == 1


def test_concurrent_register_writers_lose_no_update(db_url: str) -> None:
    """Issue 15 §7: writers at once on overlapping pairs (new pairs too): every acknowledged
    change is in the history, and each pair's register row is its last history row."""
    import threading

    pairs = [(f"S-{i % 2}", f"D-{i % 3}") for i in range(6)]
    acks: list[dict[str, object]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(w: int) -> None:
        with DecisionStore(db_url) as store:  # one engine per writer, as separate processes
            start.wait()
            try:
                for n in range(15):
                    s, d = pairs[(w + n) % len(pairs)]
                    # knockout: cuts take effect at once (no pending change), so each
                    # change's old limit is the one before it
                    acks.append(store.set_limit(s, d, 1_000.0 * (w * 100 + n), knockout=True,
                                                reason=f"writer {w}", changed_by=f"w{w}"))
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with DecisionStore(db_url) as store:
        hist = store.history()
        assert len(hist) == len(acks) == 60
        assert sorted(h["id"] for h in hist) == sorted(int(a["id"]) for a in acks)  # type: ignore[call-overload]
        last = {(h["supplier_id"], h["debtor_id"]): h for h in hist}
        for (s, d), h in last.items():
            assert store.current_limit(s, d)["registered_limit"] == h["new_limit"]
        # each change saw the one before it: old_limit chains along the pair's history
        for (s, d) in last:
            chain = [h for h in hist if (h["supplier_id"], h["debtor_id"]) == (s, d)]
            assert chain[0]["action"] == "new"
            assert all(b["old_limit"] == a["new_limit"] for a, b in zip(chain, chain[1:], strict=False))


def test_in_memory_store_serves_threads_at_once() -> None:
    """The service runs store calls in worker threads; ``sqlite://`` (one shared connection)
    serialises them instead of interleaving two transactions on one connection."""
    import threading

    store = DecisionStore("sqlite://")
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            for n in range(25):
                store.record_decisions([_decision(debtor=f"D-{w}", limit=float(n))])
                store.current_limit("S-1", f"D-{w}")
                with store.connect() as conn:  # as the /ui pages read
                    conn.exec_driver_sql("SELECT count(*) FROM decisions").scalar()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert store.count("decisions") == 100 and store.count("limit_history") == 100
    store.close()


def test_a_snapshot_reads_one_state_and_refuses_writes(db_url: str) -> None:
    """Reads inside ``snapshot()`` share one transaction: a rate stored meanwhile by another
    connection is not seen until the snapshot ends; a write inside is refused. On SQLite
    a reader does not wait for a writer holding the write lock (deferred BEGIN)."""
    import threading

    import pandas as pd

    def rates(day: str, rate: float) -> pd.DataFrame:
        return pd.DataFrame({"date": [pd.Timestamp(day)], "currency": ["USD"], "rate": [rate]})

    store = DecisionStore(db_url)
    other = DecisionStore(db_url)
    try:
        store.load_fx_rates(rates("2026-01-01", 0.9), base="EUR")
        with store.snapshot():
            assert store.fx_rates_on("2026-06-30", "EUR").rows() == [
                ("2026-01-01", "USD", 0.9)]
            # another connection (another thread, as another request would) writes a newer rate
            done = threading.Event()
            threading.Thread(target=lambda: (other.load_fx_rates(
                rates("2026-03-01", 0.95), base="EUR"), done.set())).start()
            assert done.wait(30), "the writer waited for the snapshot's reader"
            assert len(store.fx_table("EUR")) == 1  # still the snapshot's state
            with pytest.raises(RuntimeError, match="inside snapshot"):
                store.load_fx_rates(rates("2026-04-01", 0.97), base="EUR")
        assert store.fx_rates_on("2026-06-30", "EUR").rows() == [("2026-03-01", "USD", 0.95)]
    finally:
        store.close()
        other.close()
