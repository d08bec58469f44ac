"""Officers' accounts in the store (issue 18): users, server-side sessions, login throttle.

The store keeps what the service needs to know who is signed in: a user's role, password
hash (made by :mod:`riskengine.serve.accounts`, argon2id: the store never sees a
password), disabled flag; each page session (the SHA-256 of its random id, never the
id itself; its user, CSRF token, expiry, revocation); and the failed-login counters
per account name and per client address with their lockouts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from riskengine.contracts.accounts import ROLES
from riskengine.errors import InvalidInputError
from riskengine.store.database import _Database
from riskengine.store.tables import login_throttle, user_sessions, users
from riskengine.store.values import _now

__all__ = ["ROLES"]


def _bad_user(name: str, column: str, message: str) -> InvalidInputError:
    return InvalidInputError(
        f"user {name}: {message}",
        [{"table": "users", "record": name, "debtor_id": None, "column": column,
          "value": None, "reason": "invalid_value", "message": message}])


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="microseconds")


class _Accounts(_Database):
    """Users, sessions and the login throttle."""

    # -- users ---------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str) -> dict[str, Any]:
        """Create an account (InvalidInputError naming the user when it exists or the
        role is unknown)."""
        if role not in ROLES:
            raise _bad_user(name, "role", f"role {role!r} is not one of {', '.join(ROLES)}")
        now = _now()
        with self._write() as conn:
            if conn.execute(sa.select(users.c.name).where(users.c.name == name)).first():
                raise _bad_user(name, "name", "an account of this name exists already")
            conn.execute(users.insert(), {"name": name, "role": role,
                                          "password_hash": password_hash, "disabled": False,
                                          "created_at": now, "updated_at": now})
        return {"name": name, "role": role, "disabled": False, "created_at": now}

    def user(self, name: str) -> dict[str, Any] | None:
        """An account (with its ``password_hash``), or None."""
        with self._read() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["disabled"] = bool(out["disabled"])
        return out

    def users(self) -> list[dict[str, Any]]:
        """Every account, by name, without password hashes."""
        c = users.c
        with self._read() as conn:
            rows = conn.execute(sa.select(c.name, c.role, c.disabled, c.created_at,
                                          c.updated_at).order_by(c.name)).mappings().all()
        return [{**dict(r), "disabled": bool(r["disabled"])} for r in rows]

    def update_user(self, name: str, *, password_hash: str | None = None,
                    disabled: bool | None = None) -> None:
        """Change a password hash or the disabled flag; disabling (or a new password)
        also revokes the account's open sessions."""
        values: dict[str, Any] = {"updated_at": _now()}
        if password_hash is not None:
            values["password_hash"] = password_hash
        if disabled is not None:
            values["disabled"] = bool(disabled)
        with self._write() as conn:
            n = conn.execute(users.update().where(users.c.name == name).values(**values))
            if not n.rowcount:
                raise _bad_user(name, "name", "no account of this name")
            conn.execute(user_sessions.update().where(
                (user_sessions.c.user_name == name) & user_sessions.c.revoked_at.is_(None)
            ).values(revoked_at=values["updated_at"]))

    # -- sessions ------------------------------------------------------------------------

    def open_session(self, user_name: str, sid_hash: str, csrf: str, *, ttl_s: int,
                     client: str | None = None) -> str:
        """Record a new page session; returns its expiry (UTC, ISO)."""
        now = dt.datetime.now(dt.UTC)
        expires = _iso(now + dt.timedelta(seconds=int(ttl_s)))
        with self._write() as conn:
            conn.execute(user_sessions.insert(), {
                "sid_hash": sid_hash, "user_name": user_name, "csrf": csrf,
                "client": None if client is None else str(client)[:64],
                "created_at": _iso(now), "expires_at": expires, "revoked_at": None})
        return expires

    def session(self, sid_hash: str) -> dict[str, Any] | None:
        """A live session (not revoked, not expired, of an enabled account) with the
        account's ``role``; None otherwise."""
        s, u = user_sessions.c, users.c
        now = _now()
        q = (sa.select(s.user_name, s.csrf, s.created_at, s.expires_at, u.role)
             .select_from(user_sessions.join(users, users.c.name == s.user_name))
             .where(s.sid_hash == sid_hash, s.revoked_at.is_(None), s.expires_at > now,
                    u.disabled.is_(False)))
        with self._read() as conn:
            row = conn.execute(q).mappings().first()
        return None if row is None else dict(row)

    def revoke_session(self, sid_hash: str) -> bool:
        """End a session at once (logout); True when one was open."""
        with self._write() as conn:
            n = conn.execute(user_sessions.update().where(
                (user_sessions.c.sid_hash == sid_hash) & user_sessions.c.revoked_at.is_(None)
            ).values(revoked_at=_now()))
        return bool(n.rowcount)

    # -- login throttle ------------------------------------------------------------------

    def login_locked_until(self, keys: Sequence[tuple[str, str]]) -> dt.datetime | None:
        """The latest lockout in force on any of ``keys`` (``(kind, key)``), or None."""
        t = login_throttle.c
        now = _now()
        with self._read() as conn:
            rows = conn.execute(sa.select(t.locked_until).where(
                sa.tuple_(t.kind, t.key).in_([tuple(k) for k in keys]),
                t.locked_until > now)).scalars().all()
        return max((dt.datetime.fromisoformat(r) for r in rows), default=None)

    def record_login_failure(self, keys: Sequence[tuple[str, str, int]], *, window_s: int,
                             lockout_s: int) -> dt.datetime | None:
        """Count one failed login on each ``(kind, key, limit)``: a counter older than
        ``window_s`` starts again; reaching ``limit`` failures locks the key for
        ``lockout_s`` (and starts a new count). Returns the latest lockout set, or None."""
        t = login_throttle.c
        now = dt.datetime.now(dt.UTC)
        start_after = _iso(now - dt.timedelta(seconds=window_s))
        locked: dt.datetime | None = None
        with self._write() as conn:
            for kind, key, limit in keys:
                row = conn.execute(sa.select(t.failures, t.window_start).where(
                    t.kind == kind, t.key == key)).first()
                if row is None:
                    conn.execute(login_throttle.insert(), {
                        "kind": kind, "key": key, "failures": 0, "window_start": _iso(now),
                        "locked_until": None})
                    failures, fresh = 1, True
                else:
                    fresh = row.window_start <= start_after
                    failures = 1 if fresh else int(row.failures) + 1
                values: dict[str, Any] = {"failures": failures}
                if fresh:
                    values["window_start"] = _iso(now)
                if failures >= limit:
                    until = now + dt.timedelta(seconds=lockout_s)
                    values.update(failures=0, window_start=_iso(now), locked_until=_iso(until))
                    locked = until if locked is None else max(locked, until)
                conn.execute(login_throttle.update().where(
                    t.kind == kind, t.key == key).values(**values))
        return locked

    def clear_login_failures(self, kind: str, key: str) -> None:
        """Forget an account's failed logins (after a successful one)."""
        t = login_throttle.c
        with self._write() as conn:
            conn.execute(login_throttle.update().where(t.kind == kind, t.key == key)
                         .values(failures=0))
