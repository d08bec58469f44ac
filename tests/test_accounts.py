"""Officers' accounts (issue 18 point 1): the ``riskengine users`` command, argon2id hashes,
server-side sessions in the store and the sign-in throttle.

Sources: issue 18 (local users with passwords hashed by a well-kept library; ``riskengine
users add NAME --role officer|approver|admin|auditor``; logins throttled and locked out;
logout ends the session on the server); the lead's decisions for this part (password from
a prompt without echo or ``--password-stdin``; ``users list``, ``users disable``, ``users
set-password``; sessions expire server-side); NIST SP 800-63B-4 §3.1.1.2 (15 characters at
least for a single-factor password); OWASP Password Storage Cheat Sheet (argon2id m=19 MiB,
t=2, p=1).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from riskengine.cli import main
from riskengine.serve.accounts import (
    HASH_PARAMETERS,
    LoginLimits,
    hash_password,
    sign_in,
    valid_user_name,
)
from riskengine.store import DecisionStore

PASSWORD = "correct horse battery staple"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def _users(url: str, *args: str, stdin: str | None = None,
           monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    if stdin is not None and monkeypatch is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["users", *args, "--store", url])


def test_users_add_list_disable_and_set_password(url: str, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert _users(url, "add", "maria.p", "--role", "officer", "--password-stdin",
                  stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 0
    assert "user maria.p added (role officer)" in capsys.readouterr().out
    prompts = iter(["another long passphrase", "another long passphrase"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(prompts))  # no echo
    assert _users(url, "add", "ana.k", "--role", "approver") == 0
    capsys.readouterr()
    assert _users(url, "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["role"], r["disabled"]) for r in rows] == [
        ("ana.k", "approver", False), ("maria.p", "officer", False)]
    assert all("password_hash" not in r for r in rows)
    store = DecisionStore(url)
    try:
        stored = store.user("maria.p")
        assert stored is not None and stored["password_hash"].startswith(
            f"$argon2id$v=19$m={HASH_PARAMETERS['memory_cost']},"
            f"t={HASH_PARAMETERS['time_cost']},p={HASH_PARAMETERS['parallelism']}$")
        assert PASSWORD not in stored["password_hash"]
        store.open_session("maria.p", "k" * 64, "csrf", ttl_s=3600)
        assert store.session("k" * 64) is not None
        assert _users(url, "set-password", "maria.p", "--password-stdin",
                      stdin="a brand new passphrase\n", monkeypatch=monkeypatch) == 0
        assert store.session("k" * 64) is None  # a new password ends the sessions
        assert sign_in(store, "maria.p", PASSWORD, "10.0.0.1").outcome == "bad"
        assert sign_in(store, "maria.p", "a brand new passphrase", "10.0.0.1").outcome == "ok"
        assert _users(url, "disable", "maria.p") == 0
        assert sign_in(store, "maria.p", "a brand new passphrase", "10.0.0.2").outcome == "bad"
    finally:
        store.close()


@pytest.mark.parametrize("args,stdin,message", [
    (["add", "Maria P", "--role", "officer", "--password-stdin"], PASSWORD,
     "user name 'Maria P': use 1 to 64 lower-case letters"),
    (["add", "bob", "--role", "officer", "--password-stdin"], "short",
     "user bob: the password is shorter than 15 characters"),
    (["disable", "nobody"], None, "user nobody: no account of this name"),
])
def test_users_errors_are_one_line_with_exit_2(url: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str],
                                               args: list[str], stdin: str | None,
                                               message: str) -> None:
    assert _users(url, *args, stdin=None if stdin is None else stdin + "\n",
                  monkeypatch=monkeypatch) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert "short\n" not in err and PASSWORD not in err


def test_a_second_account_of_one_name_and_differing_prompts_are_refused(
        url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _users(url, "add", "ana.k", "--role", "approver", "--password-stdin",
                  stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 0
    assert _users(url, "add", "ana.k", "--role", "officer", "--password-stdin",
                  stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 2
    assert "user ana.k: an account of this name exists already" in capsys.readouterr().err
    prompts = iter(["first long passphrase", "second long passphrase"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(prompts))
    assert _users(url, "set-password", "ana.k") == 2
    assert "the two passwords differ; nothing changed" in capsys.readouterr().err


def test_user_names() -> None:
    assert valid_user_name("maria.p") and valid_user_name("a.k@bank-1")
    assert not valid_user_name("") and not valid_user_name("Maria")
    assert not valid_user_name(".x") and not valid_user_name("x" * 65)


def test_sessions_expire_and_are_revoked_on_the_server(url: str) -> None:
    store = DecisionStore(url)
    try:
        store.add_user("maria.p", "officer", "not-a-real-hash")
        store.open_session("maria.p", "a" * 64, "c", ttl_s=-1)  # already expired
        store.open_session("maria.p", "b" * 64, "c", ttl_s=3600)
        assert store.session("a" * 64) is None
        live = store.session("b" * 64)
        assert live is not None and (live["user_name"], live["role"]) == ("maria.p", "officer")
        assert store.revoke_session("b" * 64) is True and store.session("b" * 64) is None
        assert store.revoke_session("b" * 64) is False
    finally:
        store.close()


def test_a_lockout_ends_after_its_time_and_a_success_clears_the_count(url: str) -> None:
    import time

    store = DecisionStore(url)
    try:
        store.add_user("maria.p", "officer", hash_password(PASSWORD))
        limits = LoginLimits(account_failures=2, address_failures=100, lockout_s=1)
        assert sign_in(store, "maria.p", "wrong", "h", limits).outcome == "bad"
        assert sign_in(store, "maria.p", PASSWORD, "h", limits).outcome == "ok"  # cleared
        assert sign_in(store, "maria.p", "wrong", "h", limits).outcome == "bad"
        assert sign_in(store, "maria.p", "wrong", "h", limits).outcome == "bad"  # locks
        locked = sign_in(store, "maria.p", PASSWORD, "h", limits)
        assert locked.outcome == "locked" and locked.retry_after_s == 1
        time.sleep(1.1)
        assert sign_in(store, "maria.p", PASSWORD, "h", limits).outcome == "ok"
    finally:
        store.close()


def test_a_hash_of_other_parameters_is_made_again_at_sign_in(url: str) -> None:
    from argon2 import PasswordHasher

    store = DecisionStore(url)
    try:
        store.add_user("maria.p", "officer",
                       PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
                       .hash(PASSWORD))
        assert sign_in(store, "maria.p", PASSWORD, "h").outcome == "ok"
        assert f"m={HASH_PARAMETERS['memory_cost']}," in store.user("maria.p")["password_hash"]
    finally:
        store.close()


def test_accounts_sessions_throttle_and_reviews_on_both_backends(store_url: str) -> None:
    """The store's side of issue 18 on SQLite and PostgreSQL: sessions of enabled accounts
    only, the throttle's lockout on (kind, key) pairs, one review per pending override
    (append-only) and an approval moving the register."""
    import datetime as dt

    import sqlalchemy as sa

    from riskengine.errors import InvalidInputError

    store = DecisionStore(store_url)
    try:
        store.add_user("maria.p", "officer", "h1")
        store.add_user("ana.k", "approver", "h2")
        store.open_session("maria.p", "s" * 64, "c", ttl_s=60)
        assert store.session("s" * 64)["role"] == "officer"
        store.update_user("maria.p", disabled=True)
        assert store.session("s" * 64) is None
        keys = [("account", "maria.p", 2), ("address", "10.0.0.9", 50)]
        assert store.record_login_failure(keys, window_s=60, lockout_s=60) is None
        until = store.record_login_failure(keys, window_s=60, lockout_s=60)
        assert until is not None
        assert store.login_locked_until([("account", "maria.p")]) == until
        assert store.login_locked_until([("address", "10.0.0.9"), ("account", "x")]) is None
        store.record_decisions([{
            "debtor_id": "D-1", "supplier_id": "S-1", "as_of": "2026-06-30", "grade": "6",
            "pd": 0.02, "approved_limit": 100_000.0, "currency": "EUR"}])
        row = store.record_override(
            debtor_id="D-1", supplier_id="S-1", reason="A reason long enough to keep here",
            officer="maria.p", direction="limit_only", notches=0, flagged=True,
            original_limit=100_000.0, new_limit=150_000.0, limit_change="increase",
            status="pending", update_register=True, policy_limit=100_000.0,
            policy_cap=200_000.0, terms={"approved_limit": 150_000.0})
        assert row["register_change"] is None  # pending: the register does not move
        review = store.review_override(row["id"], verdict="approved", approver="ana.k")
        assert review["register_change"]["new_limit"] == 150_000.0
        assert store.current_limit("S-1", "D-1", dt.date.today())["limit"] == 150_000.0
        with pytest.raises(InvalidInputError, match="not pending"):
            store.review_override(row["id"], verdict="rejected", approver="ana.k")
        with pytest.raises(sa.exc.DBAPIError, match="override_reviews is append-only"):
            with store.engine.begin() as conn:
                conn.exec_driver_sql("UPDATE override_reviews SET verdict = 'rejected'")
        assert store.overrides("D-1")[0]["status"] == "approved"
    finally:
        store.close()
