"""Officers' accounts (issue 18): password hashing, sign-in with throttling, and the
``riskengine users`` command (shell layer).

Passwords are hashed with argon2id by argon2-cffi at the parameters of
:data:`HASH_PARAMETERS` (OWASP Password Storage Cheat Sheet, argon2id "m=19 MiB, t=2,
p=1"; a hash made with other parameters is re-made at the next sign-in). The store
keeps the hash only (:mod:`riskengine.store.users`).

Sign-in throttling (:class:`LoginLimits`): failed sign-ins are counted per account name
(whether the account exists or not, so that a lockout says nothing about existence) and
per client address, each in a window; reaching the limit locks the key for a while and
further attempts answer 429 with ``Retry-After`` without checking the password. The
defaults follow NIST SP 800-63B §5.2.2 (rate limiting: no more than 100 consecutive
failed attempts on one account; ours is far below) and the OWASP Authentication Cheat
Sheet, "Account Lockout" (a threshold, an observation window and a lockout duration):
5 failures per account or 20 per address within 15 minutes lock for 15 minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import sys
from functools import cache
from typing import Any

from riskengine.contracts.accounts import ROLES, USER_NAME_RULE, valid_user_name
from riskengine.errors import RiskEngineError

__all__ = [
    "HASH_PARAMETERS",
    "LoginLimits",
    "LoginResult",
    "MIN_PASSWORD_LENGTH",
    "add_users_arguments",
    "hash_password",
    "sign_in",
    "users_command",
    "valid_user_name",
]

HASH_PARAMETERS: dict[str, int] = {"time_cost": 2, "memory_cost": 19_456, "parallelism": 1}
"""argon2id cost: 2 passes over 19 MiB, one lane (OWASP Password Storage Cheat Sheet's
first argon2id configuration). ``benchmarks/bench_login.py`` prints a sign-in's p50."""

MIN_PASSWORD_LENGTH = 15
"""Shortest password accepted (characters): NIST SP 800-63B-4 §3.1.1.2 asks at least 15
when the password is the only factor."""

@dataclasses.dataclass(frozen=True, slots=True)
class LoginLimits:
    """Failed sign-ins allowed before a lockout (see the module's sources)."""

    account_failures: int = 5
    address_failures: int = 20
    window_s: int = 15 * 60
    lockout_s: int = 15 * 60

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if int(getattr(self, f.name)) < 1:
                raise RiskEngineError(f"login limit {f.name} must be at least 1")


@dataclasses.dataclass(frozen=True, slots=True)
class LoginResult:
    """A sign-in's outcome: ``ok`` (``user``, ``role``), ``bad`` (wrong name or password,
    disabled account: one answer for all) or ``locked`` (``retry_after_s``)."""

    outcome: str
    user: str | None = None
    role: str | None = None
    retry_after_s: int = 0


@cache
def _hasher() -> Any:
    from argon2 import PasswordHasher

    p = HASH_PARAMETERS
    return PasswordHasher(time_cost=p["time_cost"], memory_cost=p["memory_cost"],
                          parallelism=p["parallelism"])


@cache
def _dummy_hash() -> str:
    """A hash no password matches, verified when the account does not exist (the same
    cost as a real check: the time says nothing about existence)."""
    import secrets

    out: str = _hasher().hash(secrets.token_urlsafe(24))
    return out


def hash_password(password: str, user: str = "") -> str:
    """The argon2id hash of a password (RiskEngineError when it is too short)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RiskEngineError(f"user {user}: the password is shorter than "
                              f"{MIN_PASSWORD_LENGTH} characters; use a long passphrase.")
    out: str = _hasher().hash(password)
    return out


def _verify(stored: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


def sign_in(store: Any, name: str, password: str, client: str,
            limits: LoginLimits = LoginLimits()) -> LoginResult:
    """Check a name and password against the store, with throttling.

    Parameters
    ----------
    store : DecisionStore
    name, password : str
        As typed (the name is not echoed anywhere).
    client : str
        The client's address (the throttle's second key).
    limits : LoginLimits

    Returns
    -------
    LoginResult
    """
    import datetime as dt
    import math

    account = ("account", name[:128])
    address = ("address", client[:128])
    locked = store.login_locked_until([account, address])
    if locked is not None:
        wait = (locked - dt.datetime.now(dt.UTC)).total_seconds()
        return LoginResult("locked", retry_after_s=max(1, math.ceil(wait)))
    user = store.user(name) if valid_user_name(name) else None
    ok = _verify(user["password_hash"] if user else _dummy_hash(), password)
    if ok and user is not None and not user["disabled"]:
        store.clear_login_failures(*account)
        if _hasher().check_needs_rehash(user["password_hash"]):
            store.update_user(user["name"], password_hash=_hasher().hash(password))
        return LoginResult("ok", user=str(user["name"]), role=str(user["role"]))
    store.record_login_failure([(*account, limits.account_failures),
                                (*address, limits.address_failures)],
                               window_s=limits.window_s, lockout_s=limits.lockout_s)
    return LoginResult("bad")


# --- the command -----------------------------------------------------------------------


def add_users_arguments(sub: Any) -> None:
    """``riskengine users add|list|disable|set-password`` (its parser)."""
    s = sub.add_parser("users", help="officers' accounts of the web pages (decision store)")
    ops = s.add_subparsers(dest="users_action", required=True, metavar="ACTION")
    a = ops.add_parser("add", help="create an account (password from a prompt or stdin)")
    a.add_argument("name", help="account name: lower-case letters, digits, . _ @ -")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    a = ops.add_parser("list", help="print the accounts (name, role, disabled, created)")
    a.add_argument("--json", action="store_true", help="one JSON array")
    a = ops.add_parser("disable", help="disable an account and end its sessions")
    a.add_argument("name")
    a = ops.add_parser("set-password", help="set a new password and end the sessions")
    a.add_argument("name")
    a.add_argument("--password-stdin", action="store_true")
    for p in ops.choices.values():
        p.add_argument("--store", dest="store_url", default=None,
                       help="SQLAlchemy URL of the decision store (default sqlite file)")


def _password(args: argparse.Namespace) -> str:
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if first != getpass.getpass("again: "):
        raise RiskEngineError(f"user {args.name}: the two passwords differ; nothing changed.")
    return first


def users_command(args: argparse.Namespace) -> int:
    """``riskengine users ...``: returns 0, or raises RiskEngineError (exit 2, one line)."""
    from riskengine.errors import InvalidInputError
    from riskengine.io.console import set_result, stamp_text
    from riskengine.store import DecisionStore

    action = args.users_action
    name = str(getattr(args, "name", "") or "")
    if action != "list" and not valid_user_name(name):
        raise RiskEngineError(f"user name {name!r}: use {USER_NAME_RULE}.")
    password = _password(args) if action in ("add", "set-password") else None
    store = DecisionStore(args.store_url)
    try:
        if action == "add":
            assert password is not None
            store.add_user(name, args.role, hash_password(password, name))
            print(f"user {name} added (role {args.role})")
        elif action == "list":
            rows = [{k: (stamp_text(v) if k.endswith("_at") else v) for k, v in r.items()}
                    for r in store.users()]  # the CLI's one timestamp format (RFC 3339, Z)
            if getattr(args, "json", False):
                set_result(args, rows)  # printed by the command line's --json (riskengine.cli)
            else:
                print("name\trole\tdisabled\tcreated_at")
                for r in rows:
                    print(f"{r['name']}\t{r['role']}\t{str(r['disabled']).lower()}\t"
                          f"{r['created_at']}")
        elif action == "disable":
            store.update_user(name, disabled=True)
            print(f"user {name} disabled; its sessions are ended")
        else:
            assert password is not None
            store.update_user(name, password_hash=hash_password(password, name))
            print(f"user {name}: password changed; its sessions are ended")
    except InvalidInputError as exc:
        raise RiskEngineError(str(exc)) from None
    finally:
        store.close()
    return 0
